//! Inference over a loaded model bundle: everything the HTTP service computes, with no knowledge of HTTP.
//!
//! [`Model`] wraps a [`ModelBundle`](crate::bundle::ModelBundle), checks once at load that every index and
//! length in it is consistent (so lookups afterwards cannot go out of bounds), and prepares the lookups the
//! service needs: customer key → customer index (binary search on the sorted keys), keys per customer, and
//! the at-risk ranking. [`recommend`] filters and tops up recommendations and scores baskets from item
//! neighbours; [`at_risk`] ranks customers by value at risk behind an opaque cursor; [`synthetic`] builds
//! realistic-shaped bundles of any size for tests and benchmarks.

pub mod at_risk;
mod model;
pub mod recommend;
pub mod synthetic;

pub use model::{
    ChurnView, CustomerIdx, ItemIdx, Model, ModelError, ProfileView, RiskBand, TagValue, TimingView, day_to_date,
};

use crate::domain::KeyError;

/// Why a question about a loaded model cannot be answered.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum InferenceError {
    /// The customer key is neither a customer ID nor a well-formed `namespace:value` key.
    #[error("malformed customer key: {0}")]
    BadKey(#[from] KeyError),
    /// No customer has this key.
    #[error("unknown customer {0:?}")]
    UnknownCustomer(String),
    /// No item has this ID.
    #[error("unknown item {0:?}")]
    UnknownItem(String),
    /// No category has this name.
    #[error("unknown category {0:?}")]
    UnknownCategory(String),
    /// No profile tag has this name.
    #[error("unknown tag {0:?}")]
    UnknownTag(String),
    /// A tag filter that does not fit the tag's type.
    #[error("bad tag filter: {0}")]
    BadTagFilter(String),
    /// The cursor is not one this service issued.
    #[error("malformed cursor")]
    BadCursor,
    /// The cursor was issued for another model version; start again without a cursor.
    #[error("cursor belongs to another model version; restart the listing without a cursor")]
    StaleCursor,
}
