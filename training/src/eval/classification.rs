//! Classification metrics for churn: ROC AUC, PR AUC, log loss, calibration, lift.
