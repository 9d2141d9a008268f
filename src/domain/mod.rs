//! Domain types shared by the offline pipeline and the server: identifiers that can only be built valid,
//! and the vocabulary of tag types.

mod customer;
mod tag;

pub use customer::{CustomerId, KeyError, SourceKey};
pub use tag::{TagType, TagTypeError};
