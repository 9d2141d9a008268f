//! Evaluation: measuring what the pipeline produced against ground truth or a temporal holdout.

pub mod classification;
pub mod identity;
pub mod ranking;
pub mod timing;
