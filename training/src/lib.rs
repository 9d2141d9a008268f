//! The offline side of tagcenter: unify a retailer's customer-data islands into one profile per customer
//! (sources → clean → identities → tags → behaviour), generate demo data, and (in later stages) train and
//! evaluate models. polars, linfa and smartcore live here, never in the server crate.

pub mod benchmark;
pub mod demo;
pub mod eval;
pub mod features;
pub mod grouped_sort;
pub mod interner;
pub mod memory;
pub mod models;
pub mod sources;
pub mod train;
pub mod unify;
