//! The real-data issue's targets: where a line must do more than beat the reference figure (a margin above
//! it, e.g. P2 master ROC AUC > 0.780 against the reference's 0.7750), the table shows the target and
//! whether it is met, so a line that beats the reference but not the target is not read as done.

use super::Protocol;

/// A bound a line's figure must meet.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Target {
    /// Strictly above.
    Above(f64),
    /// Strictly below.
    Below(f64),
    /// At least (where the reference sits within its own noise).
    AtLeast(f64),
}

impl Target {
    /// Whether `value` meets the bound.
    pub fn met_by(self, value: f64) -> bool {
        match self {
            Self::Above(t) => value > t,
            Self::Below(t) => value < t,
            Self::AtLeast(t) => value >= t,
        }
    }

    /// The bound as the issue writes it (`> 0.780`, `< 58.0`).
    pub fn describe(self) -> String {
        let (sign, t) = match self {
            Self::Above(t) => (">", t),
            Self::Below(t) => ("<", t),
            Self::AtLeast(t) => ("≥", t),
        };
        if t.abs() < 1.0 { format!("{sign} {t:.3}") } else { format!("{sign} {t:.1}") }
    }
}

/// The targets table, line by line (P1's tolerances are the lines' own goals).
const TARGETS: [(Protocol, &str, &str, Target); 13] = [
    (Protocol::P2, "master", "roc_auc", Target::Above(0.780)),
    (Protocol::P2, "master", "log_loss", Target::Below(0.485)),
    (Protocol::P2, "sample", "roc_auc", Target::Above(0.790)),
    (Protocol::P3, "master", "mae_days", Target::Below(58.0)),
    (Protocol::P3, "master", "share_within_14d", Target::Above(0.20)),
    (Protocol::P4, "random", "ndcg@10", Target::Above(0.450)),
    (Protocol::P4, "random", "recall@10", Target::Above(0.245)),
    (Protocol::P4, "temporal", "ndcg@10", Target::AtLeast(0.176)),
    (Protocol::P5, "rec", "recall@10", Target::Above(0.385)),
    (Protocol::P5, "rec", "ndcg@10", Target::Above(0.300)),
    (Protocol::P5, "churn", "roc_auc", Target::AtLeast(0.52)),
    (Protocol::P6, "telco", "roc_auc", Target::Above(0.845)),
    (Protocol::P6, "telco", "log_loss", Target::Below(0.418)),
];

/// The target for a (protocol, case, metric) line, if it sets one.
pub fn target_for(protocol: Protocol, case: &str, metric: &str) -> Option<Target> {
    TARGETS.iter().find(|t| t.0 == protocol && t.1 == case && t.2 == metric).map(|t| t.3)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets_are_found_by_line_and_judge_their_bound() {
        let auc = target_for(Protocol::P2, "master", "roc_auc").unwrap();
        assert!(!auc.met_by(0.7789) && auc.met_by(0.7801));
        assert_eq!(auc.describe(), "> 0.780");
        assert_eq!(target_for(Protocol::P3, "master", "mae_days").unwrap().describe(), "< 58.0");
        let churn = target_for(Protocol::P5, "churn", "roc_auc").unwrap();
        assert!(churn.met_by(0.52) && !churn.met_by(0.5199));
        assert!(target_for(Protocol::P5, "churn", "pr_auc").is_none());
        assert!(target_for(Protocol::P6, "telco", "log_loss").unwrap().met_by(0.4112));
    }
}
