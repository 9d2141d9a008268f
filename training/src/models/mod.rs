//! The models: each fits on point-in-time data and returns plain structs for the bundle.

pub mod affinity;
pub mod churn;
pub mod timing;
