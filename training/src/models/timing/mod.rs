//! Promotion timing: purchase cycles, BG/NBD, next purchase date, send window and urgency.
//!
//! [`fit_timing`] learns, from each customer's purchase days before an as-of day, a BG/NBD model (P(alive),
//! expected purchases), the global and per-segment purchase cycles, and which next-purchase-date rule
//! ([`NextDatePredictor`]) has the lowest MAE on a validation window carved from the end of the training
//! period. [`TimingModel::predict`] then answers, per customer, what a marketer needs: the predicted next
//! purchase day (empty when the customer probably will not buy within the horizon), when to send the offer
//! and how urgent it is ([`Urgency`](tagcenter::bundle::Urgency)).
//!
//! ```
//! use tagcenter_training::models::timing::{History, TimingParams, fit_timing};
//! let days: Vec<Vec<i32>> = (0..200).map(|i| (0..6).map(|k| 100 + (i % 7) + k * (20 + i % 11)).collect()).collect();
//! let histories: Vec<History> = days.iter().map(|d| History { purchase_days: d }).collect();
//! let segments = vec![0u16; histories.len()];
//! let model = fit_timing(&histories, &segments, 260, &TimingParams::default()).expect("fit");
//! let prediction = model.predict(&histories[0], 0, 260);
//! assert!(prediction.window_start >= 260 && prediction.window_end >= prediction.window_start);
//! ```

mod bgnbd;
mod cycle;
mod model;
mod optim;
pub mod renewal;
mod special;

pub use bgnbd::{BgNbdFit, BgNbdFitParams, BgNbdParams, Rfm, fit_bgnbd};
pub(crate) use cycle::median;
pub use model::{
    History, NextDatePredictor, PredictorScore, TimingModel, TimingPrediction, fit_timing, fit_timing_unvalidated,
    timing_outputs,
};
pub use tagcenter::bundle::Urgency;

use renewal::RenewalConfig;
use serde::{Deserialize, Serialize};

/// Errors of the timing model.
#[derive(Debug, thiserror::Error)]
pub enum TimingError {
    /// A setting is out of range.
    #[error("invalid timing parameters: {0}")]
    InvalidParams(String),
    /// No customer to fit on.
    #[error("no customer with a purchase to fit the timing model on")]
    NoData,
    /// A BG/NBD summary is malformed.
    #[error("customer {index}: invalid BG/NBD summary {summary:?} (need whole x ≥ 0 and 0 ≤ t_x ≤ T)")]
    InvalidSummary {
        /// Position in the input.
        index: usize,
        /// The summary.
        summary: Rfm,
    },
    /// A purchase history is malformed.
    #[error("customer {index}: {reason}")]
    InvalidHistory {
        /// Position in the input.
        index: usize,
        /// What is wrong.
        reason: &'static str,
    },
    /// Inputs that must be parallel differ in length.
    #[error("{histories} histories but {segments} segments")]
    LengthMismatch {
        /// Number of histories.
        histories: usize,
        /// Number of segment labels.
        segments: usize,
    },
    /// A quantity that must be finite is not.
    #[error("not finite: {0}")]
    NotFinite(String),
}

/// Settings of the timing model; [`TimingParams::validate`] is the one place they are checked.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct TimingParams {
    /// Days per BG/NBD time unit (default 7: weeks, as in FHL 2005; the fit is better conditioned than in
    /// days).
    pub unit_days: f64,
    /// Horizon in days: the next purchase date is predicted within `[as_of, as_of + horizon_days)`, the
    /// "will they come back" decision is about this window, and the validation window is the last
    /// `horizon_days` of the training period (default 92, the demo's and the hand-over's scoring window).
    pub horizon_days: u32,
    /// Strength of the shrinkage of a customer's median gap toward their segment's cycle, in pseudo-gaps
    /// (default 2: a customer with two gaps is weighted half-half, in log-days).
    pub cycle_shrinkage: f64,
    /// Strength of the shrinkage of a segment's cycle toward the global cycle, in pseudo-customers
    /// (default 20).
    pub segment_shrinkage: f64,
    /// Minimum BG/NBD probability of at least one purchase within the horizon,
    /// `1 − P(no purchase in horizon)`, for a next purchase date to be predicted; below it the date is left
    /// empty and the customer is `Lapsed` (default 0.5: predict a date when a return is more likely than
    /// not, which minimises the number of wrong "will come back" / "will not" calls).
    pub min_return_probability: f64,
    /// The send window opens this many days before the predicted next purchase (default 7).
    pub lead_days: u32,
    /// The send window closes this many days after the predicted next purchase (default 3).
    pub lag_days: u32,
    /// A customer is overdue (`WinBack`) when the days since their last purchase exceed this multiple of
    /// their cycle (default 1.5).
    pub overdue_factor: f64,
    /// Length in days of the send window of `WinBack`, `Lapsed` and `Unknown` customers, starting on the
    /// as-of day (default 14).
    pub send_now_days: u32,
    /// Fewest validation buyers needed to choose the predictor by validation; with fewer,
    /// `default_predictor` is used (default 30).
    pub min_validation_buyers: usize,
    /// The predictor used when validation is impossible (default BG/NBD median).
    pub default_predictor: NextDatePredictor,
    /// BG/NBD optimiser settings.
    pub bgnbd: BgNbdFitParams,
    /// Shape of the renewal mixture ([`NextDatePredictor::Renewal`]).
    pub renewal: RenewalConfig,
}

impl Default for TimingParams {
    fn default() -> Self {
        Self {
            unit_days: 7.0,
            horizon_days: 92,
            cycle_shrinkage: 2.0,
            segment_shrinkage: 20.0,
            min_return_probability: 0.5,
            lead_days: 7,
            lag_days: 3,
            overdue_factor: 1.5,
            send_now_days: 14,
            min_validation_buyers: 30,
            default_predictor: NextDatePredictor::BgNbdMedian,
            bgnbd: BgNbdFitParams::default(),
            renewal: RenewalConfig::default(),
        }
    }
}

impl TimingParams {
    /// Checks every setting.
    pub fn validate(&self) -> Result<(), TimingError> {
        let bad = |what: String| Err(TimingError::InvalidParams(what));
        if !(self.unit_days.is_finite() && self.unit_days > 0.0) {
            return bad(format!("unit_days = {} must be finite and positive", self.unit_days));
        }
        if self.horizon_days == 0 || self.horizon_days > 3650 {
            return bad(format!("horizon_days = {} must be in 1..=3650", self.horizon_days));
        }
        for (name, v) in [("cycle_shrinkage", self.cycle_shrinkage), ("segment_shrinkage", self.segment_shrinkage)] {
            if !(v.is_finite() && v >= 0.0) {
                return bad(format!("{name} = {v} must be finite and ≥ 0"));
            }
        }
        if !(0.0..=1.0).contains(&self.min_return_probability) {
            return bad(format!("min_return_probability = {} must be in [0, 1]", self.min_return_probability));
        }
        if !(self.overdue_factor.is_finite() && self.overdue_factor > 0.0) {
            return bad(format!("overdue_factor = {} must be finite and positive", self.overdue_factor));
        }
        if self.send_now_days == 0 {
            return bad("send_now_days must be ≥ 1".into());
        }
        if self.lead_days > 3650 || self.lag_days > 3650 {
            return bad("lead_days and lag_days must be at most 3650".into());
        }
        if let NextDatePredictor::Blend { bgnbd_weight } = self.default_predictor {
            if !(0.0..=1.0).contains(&bgnbd_weight) {
                return bad(format!("blend weight {bgnbd_weight} must be in [0, 1]"));
            }
        }
        let r = &self.renewal;
        let finite_non_negative = |v: f64| v.is_finite() && v >= 0.0;
        if !(finite_non_negative(r.shrink)
            && finite_non_negative(r.hit_weight)
            && finite_non_negative(r.hit_half_width))
        {
            return bad("renewal shrink, hit_weight and hit_half_width must be finite and ≥ 0".into());
        }
        if !((0.0..=1.0).contains(&r.weight_max) && r.weight_half.is_finite() && r.weight_half > 0.0) {
            return bad(format!(
                "renewal weight_max = {} must be in [0, 1] and weight_half = {} positive",
                r.weight_max, r.weight_half
            ));
        }
        if !(1..=64).contains(&r.recency_bins) {
            return bad(format!("renewal recency_bins = {} must be in 1..=64", r.recency_bins));
        }
        self.bgnbd.validate()
    }
}

#[cfg(test)]
mod tests;
