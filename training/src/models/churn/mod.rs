//! Churn risk: logistic regression and tree ensembles on point-in-time features, calibration, reasons.
