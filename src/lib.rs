//! tagcenter turns a retailer's scattered customer data ("tag islands") into one profile per customer and
//! serves the decisions built on it: churn risk, recommendations and promotion timing.
//!
//! This crate holds what both sides share and what the server needs: the domain types (customer IDs,
//! source-qualified keys, tag types). It never links polars, linfa or smartcore: the offline pipeline
//! that unifies sources and trains models lives in the `tagcenter-training` crate under `training/`.

pub mod bundle;
pub mod domain;
pub mod inference;
pub mod server;
