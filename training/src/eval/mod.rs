//! Evaluation: measuring what the pipeline produced against ground truth.

pub mod identity;
