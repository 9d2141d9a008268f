//! Timing metrics: error in days of the predicted next purchase.
//!
//! A backtest predicts, per customer, the next purchase day from data before a cutoff and compares it
//! with the first purchase on or after the cutoff within the scoring horizon (the demo and the hand-over
//! use 92 days). The date error is scored among customers who did buy and received a date; how often a
//! buyer was left without a date, and a non-buyer given one, is reported beside it. The baseline is the
//! constant `cutoff + median days-to-next-purchase` measured on the training window.
//!
//! ```
//! use tagcenter_training::eval::timing::timing_metrics;
//! let predicted = [Some(105), None, Some(130), Some(100)];
//! let actual = [Some(100), Some(120), None, Some(100)];
//! let m = timing_metrics(&predicted, &actual).expect("same length");
//! assert_eq!((m.scored, m.mae_days), (2, 2.5));
//! assert_eq!(m.false_empty_rate, 1.0 / 3.0);
//! ```

use serde::{Deserialize, Serialize};

/// Errors of the timing metrics.
#[derive(Debug, thiserror::Error)]
pub enum TimingEvalError {
    /// Predictions and truth are not parallel.
    #[error("{predicted} predictions but {actual} actual dates")]
    LengthMismatch {
        /// Number of predictions.
        predicted: usize,
        /// Number of actual dates.
        actual: usize,
    },
}

/// Next-purchase-date scores. Rates whose denominator is zero are NaN.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct TimingMetrics {
    /// Customers evaluated.
    pub customers: usize,
    /// Customers who bought in the horizon (actual date present).
    pub buyers: usize,
    /// Buyers who also received a predicted date: the population of the error metrics.
    pub scored: usize,
    /// Mean absolute error in days over `scored`.
    pub mae_days: f64,
    /// Median absolute error in days over `scored`.
    pub median_ae_days: f64,
    /// Share of `scored` within ±7 days.
    pub within_7d: f64,
    /// Share of `scored` within ±14 days.
    pub within_14d: f64,
    /// Share of buyers who received a date (`scored / buyers`).
    pub coverage: f64,
    /// Share of buyers left without a date (`1 − coverage`): "said they would not come back, but did".
    pub false_empty_rate: f64,
    /// Share of non-buyers given a date: "said they would come back, but did not".
    pub false_date_rate: f64,
}

fn ratio(numerator: usize, denominator: usize) -> f64 {
    if denominator == 0 { f64::NAN } else { numerator as f64 / denominator as f64 }
}

/// Scores predicted next purchase days against the actual first purchase day on or after the cutoff
/// (`None` = no purchase in the horizon), customer by customer.
pub fn timing_metrics(predicted: &[Option<i32>], actual: &[Option<i32>]) -> Result<TimingMetrics, TimingEvalError> {
    if predicted.len() != actual.len() {
        return Err(TimingEvalError::LengthMismatch { predicted: predicted.len(), actual: actual.len() });
    }
    let mut errors: Vec<u32> = Vec::new();
    let (mut buyers, mut non_buyers, mut false_dates) = (0usize, 0usize, 0usize);
    for (p, a) in predicted.iter().zip(actual) {
        match (p, a) {
            (Some(p), Some(a)) => {
                buyers += 1;
                errors.push(p.abs_diff(*a));
            }
            (None, Some(_)) => buyers += 1,
            (Some(_), None) => {
                non_buyers += 1;
                false_dates += 1;
            }
            (None, None) => non_buyers += 1,
        }
    }
    errors.sort_unstable();
    let scored = errors.len();
    let mae_days =
        if scored == 0 { f64::NAN } else { errors.iter().map(|e| f64::from(*e)).sum::<f64>() / scored as f64 };
    let median_ae_days = match scored {
        0 => f64::NAN,
        n if n % 2 == 1 => f64::from(errors[n / 2]),
        n => 0.5 * (f64::from(errors[n / 2 - 1]) + f64::from(errors[n / 2])),
    };
    Ok(TimingMetrics {
        customers: predicted.len(),
        buyers,
        scored,
        mae_days,
        median_ae_days,
        within_7d: ratio(errors.iter().filter(|e| **e <= 7).count(), scored),
        within_14d: ratio(errors.iter().filter(|e| **e <= 14).count(), scored),
        coverage: ratio(scored, buyers),
        false_empty_rate: ratio(buyers - scored, buyers),
        false_date_rate: ratio(false_dates, non_buyers),
    })
}

/// The actual target of one customer: their first purchase day in `[cutoff, cutoff + horizon_days)`, from
/// ascending purchase days.
pub fn first_purchase_in_horizon(purchase_days: &[i32], cutoff: i32, horizon_days: u32) -> Option<i32> {
    let first = *purchase_days.get(purchase_days.partition_point(|d| *d < cutoff))?;
    (i64::from(first) < i64::from(cutoff) + i64::from(horizon_days)).then_some(first)
}

/// Median days from `cutoff` to the actual next purchase among buyers (`None` without buyers): measured
/// on a window inside the training period, it sets the constant baseline.
pub fn median_days_to_next_purchase(actual: &[Option<i32>], cutoff: i32) -> Option<f64> {
    let mut waits: Vec<i64> = actual.iter().flatten().map(|d| i64::from(*d) - i64::from(cutoff)).collect();
    if waits.is_empty() {
        return None;
    }
    waits.sort_unstable();
    let n = waits.len();
    Some(if n % 2 == 1 { waits[n / 2] as f64 } else { 0.5 * (waits[n / 2 - 1] + waits[n / 2]) as f64 })
}

/// The constant baseline: `cutoff + round(median_wait_days)` for every customer who gets a date
/// (`customers` predictions, all present).
pub fn constant_baseline(cutoff: i32, median_wait_days: f64, customers: usize) -> Vec<Option<i32>> {
    let day = cutoff.saturating_add(median_wait_days.round() as i32);
    vec![Some(day); customers]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metrics_score_only_buyers_with_a_date_and_count_the_misses() {
        let predicted = [Some(10), Some(20), Some(30), None, Some(50), None, Some(100)];
        let actual = [Some(10), Some(28), Some(45), Some(40), None, None, Some(80)];
        let m = timing_metrics(&predicted, &actual).expect("metrics");
        assert_eq!((m.customers, m.buyers, m.scored), (7, 5, 4));
        // Errors 0, 8, 15, 20.
        assert_eq!(m.mae_days, 43.0 / 4.0);
        assert_eq!(m.median_ae_days, 11.5);
        assert_eq!(m.within_7d, 0.25);
        assert_eq!(m.within_14d, 0.5);
        assert_eq!(m.coverage, 0.8);
        assert!((m.false_empty_rate - 0.2).abs() < 1e-15);
        assert_eq!(m.false_date_rate, 0.5);
    }

    #[test]
    fn empty_populations_give_nan_not_a_panic() {
        let m = timing_metrics(&[], &[]).expect("metrics");
        assert!(m.mae_days.is_nan() && m.coverage.is_nan() && m.false_date_rate.is_nan());
        let m = timing_metrics(&[None], &[Some(3)]).expect("metrics");
        assert_eq!((m.coverage, m.false_empty_rate), (0.0, 1.0));
        assert!(m.mae_days.is_nan());
    }

    #[test]
    fn mismatched_lengths_are_an_error() {
        assert!(matches!(
            timing_metrics(&[None], &[]),
            Err(TimingEvalError::LengthMismatch { predicted: 1, actual: 0 })
        ));
    }

    #[test]
    fn targets_and_the_constant_baseline() {
        let days = [1, 5, 100, 150];
        assert_eq!(first_purchase_in_horizon(&days, 6, 92), None);
        assert_eq!(first_purchase_in_horizon(&days, 9, 92), Some(100));
        assert_eq!(first_purchase_in_horizon(&days, 5, 92), Some(5));
        assert_eq!(first_purchase_in_horizon(&days, 151, 92), None);
        let actual = [Some(110), None, Some(104), Some(130), Some(101)];
        assert_eq!(median_days_to_next_purchase(&actual, 100), Some(7.0));
        assert_eq!(median_days_to_next_purchase(&[None], 100), None);
        let baseline = constant_baseline(100, 7.0, 5);
        let m = timing_metrics(&baseline, &actual).expect("metrics");
        // Errors 3, 3, 23, 6.
        assert_eq!(m.mae_days, 35.0 / 4.0);
        assert_eq!(m.false_date_rate, 1.0);
    }
}
