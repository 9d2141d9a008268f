//! The renewal mixture: a distribution of a customer's first purchase day in a window after a cutoff, and
//! the day that minimises the expected error under it.
//!
//! - **Renewal part.** The customer's gaps between purchase days are log-normal, with the mean and spread of
//!   the customer's own log-gaps shrunk towards the fitting customers' pooled ones (`shrink` pseudo-gaps).
//!   Having already waited `since_last` days, the next purchase falls on day t of the window with
//!   probability ∝ F(since_last + t + ½) − F(since_last + t − ½), renormalised over the window (the model
//!   describes customers who do buy in it).
//! - **Population part.** The empirical distribution of the first purchase day among the fitting customers
//!   of the same recency bin (quantiles of `since_last`) and purchase-count class (1, 2–3, 4+ days),
//!   smoothed towards all fitting customers' with [`SMOOTHING`] pseudo-customers.
//! - **Mixture.** The renewal part's weight grows with the customer's evidence: w = w_max · n / (n + n_half)
//!   for n own gaps (0 for a one-time buyer).
//! - **Decision.** The day v of the window minimising E|y − v| − λ · P(|y − v| ≤ h): λ = 0 is the mixture's
//!   median (the MAE-optimal day); a larger λ moves towards the densest (2h + 1)-day window.
//!
//! A periodic buyer gets a sharp renewal part at their cycle; a buyer whose gaps are irregular gets a wide
//! one and leans on the population. Days count from the cutoff: day 1 is the first day after it.

use serde::{Deserialize, Serialize};

/// Pseudo-customers of the all-customers distribution added to each population cell.
const SMOOTHING: f64 = 50.0;

/// Smallest log-gap spread (a customer with identical gaps would otherwise get a point mass).
const MIN_SPREAD: f64 = 0.15;

/// The shape of a renewal mixture and its decision.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct RenewalConfig {
    /// Pseudo-gaps of the pooled log-gap mean and spread in each customer's own.
    pub shrink: f64,
    /// Largest weight of the renewal part, in [0, 1].
    pub weight_max: f64,
    /// Own gaps at which the renewal weight is half of `weight_max` (> 0).
    pub weight_half: f64,
    /// Quantile bins of `since_last` in the population part (1 = no split).
    pub recency_bins: usize,
    /// Weight λ of a hit, in days of absolute error (0: the median, best for MAE).
    pub hit_weight: f64,
    /// Half-width h in days of a hit, |y − v| ≤ h.
    pub hit_half_width: f64,
}

impl Default for RenewalConfig {
    /// The shape chosen by cross-validation on CDNOW's P3 train buyers, deciding by MAE.
    fn default() -> Self {
        Self { shrink: 4.0, weight_max: 0.6, weight_half: 4.0, recency_bins: 4, hit_weight: 0.0, hit_half_width: 14.0 }
    }
}

/// What the model knows of a customer at the cutoff: a summary of the purchase days on or before it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct GapSummary {
    /// Days from the last purchase to the cutoff (0: bought on the cutoff day).
    pub since_last: f64,
    /// Number of gaps between consecutive distinct purchase days.
    pub gaps: usize,
    /// Mean of ln(gap in days) (gaps under a day count as one); 0 without gaps.
    pub log_gap_mean: f64,
    /// Variance of ln(gap in days); 0 without gaps.
    pub log_gap_var: f64,
}

impl GapSummary {
    /// From distinct, ascending purchase days on or before `cutoff` (non-empty).
    pub fn new(days: &[i32], cutoff: i32) -> Self {
        let logs = || days.windows(2).map(|w| f64::from((w[1] - w[0]).max(1)).ln());
        let gaps = days.len().saturating_sub(1);
        let n = gaps.max(1) as f64;
        let log_gap_mean = logs().sum::<f64>() / n;
        let log_gap_var = logs().map(|g| (g - log_gap_mean).powi(2)).sum::<f64>() / n;
        Self { since_last: f64::from(cutoff - days[days.len() - 1]), gaps, log_gap_mean, log_gap_var }
    }

    /// 0 for one purchase day, 1 for 2–3, 2 for more.
    fn count_class(&self) -> usize {
        match self.gaps {
            0 => 0,
            1 | 2 => 1,
            _ => 2,
        }
    }
}

/// A fitted renewal mixture.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RenewalModel {
    /// The shape and decision.
    pub config: RenewalConfig,
    /// Days of the window: predictions lie in 1..=window_days.
    pub window_days: usize,
    /// Pooled mean and standard deviation of the fitting customers' log-gaps.
    pub pooled: (f64, f64),
    /// Upper edges of the recency bins, `recency_bins − 1` of them.
    pub edges: Vec<f64>,
    /// Smoothed first-purchase-day distribution (day 1 first) of each (recency bin, count class) cell.
    pub cells: Vec<Vec<f64>>,
}

impl RenewalModel {
    /// Fits on customers' summaries at the cutoff and their first purchase day in the window (targets in
    /// 1..=window_days, rounded and clamped; same length as `customers`, non-empty).
    pub fn fit(config: RenewalConfig, window_days: usize, customers: &[GapSummary], targets: &[f64]) -> Self {
        let window_days = window_days.max(1);
        let mut recency: Vec<f64> = customers.iter().map(|c| c.since_last).collect();
        recency.sort_by(f64::total_cmp);
        let n = recency.len();
        let bins = config.recency_bins.max(1);
        // Without customers there are no quantiles: one bin, and every cell is empty.
        let edges: Vec<f64> =
            if n == 0 { Vec::new() } else { (1..bins).map(|q| recency[(q * n / bins).min(n - 1)]).collect() };
        // Pooled over every gap: the customers' means and variances weighted by their gap counts.
        let count = customers.iter().map(|c| c.gaps).sum::<usize>().max(1) as f64;
        let mean = customers.iter().map(|c| c.gaps as f64 * c.log_gap_mean).sum::<f64>() / count;
        let var =
            customers.iter().map(|c| c.gaps as f64 * (c.log_gap_var + (c.log_gap_mean - mean).powi(2))).sum::<f64>()
                / count;
        let mut model = Self { config, window_days, pooled: (mean, var.sqrt()), edges, cells: Vec::new() };
        // Target counts per cell (day 1 first), then each smoothed towards all customers' distribution.
        let mut counts = vec![vec![0.0; window_days]; bins * 3];
        for (c, y) in customers.iter().zip(targets) {
            let day = if y.is_finite() { (y.round().max(1.0) as usize).min(window_days) } else { 1 };
            counts[model.cell(c)][day - 1] += 1.0;
        }
        let all: Vec<f64> = (0..window_days).map(|d| counts.iter().map(|c| c[d]).sum::<f64>()).collect();
        let total = all.iter().sum::<f64>().max(1.0);
        model.cells = counts
            .iter()
            .map(|c| {
                let size = c.iter().sum::<f64>();
                c.iter().zip(&all).map(|(c, a)| (c + SMOOTHING * a / total) / (size + SMOOTHING)).collect()
            })
            .collect();
        model
    }

    fn cell(&self, c: &GapSummary) -> usize {
        let bin = self.edges.iter().take_while(|e| c.since_last > **e).count();
        // bin ≤ edges.len() = recency_bins − 1 and the class ≤ 2: always one of the recency_bins × 3 cells.
        bin * 3 + c.count_class()
    }

    /// The customer's distribution of the first purchase day in the window (day 1 first, sums to 1).
    pub fn distribution(&self, c: &GapSummary) -> Vec<f64> {
        let population = &self.cells[self.cell(c)];
        let n = c.gaps as f64;
        if n == 0.0 {
            return population.clone();
        }
        let k = self.config.shrink;
        let (pooled_mean, pooled_sd) = self.pooled;
        let mu = (n * c.log_gap_mean + k * pooled_mean) / (n + k);
        let sd = ((n * c.log_gap_var + k * pooled_sd * pooled_sd) / (n + k)).sqrt().max(MIN_SPREAD);
        let cdf = |x: f64| {
            if x <= 0.0 { 0.0 } else { 0.5 * libm::erfc(-(x.ln() - mu) / (sd * std::f64::consts::SQRT_2)) }
        };
        // F at the day boundaries since_last + ½, + 1½, …: each day's mass is a difference of neighbours.
        let bounds: Vec<f64> = (0..=self.window_days).map(|t| cdf(c.since_last + t as f64 + 0.5)).collect();
        let mut renewal: Vec<f64> = bounds.windows(2).map(|b| b[1] - b[0]).collect();
        let mass: f64 = renewal.iter().sum();
        if mass <= 1e-12 {
            return population.clone();
        }
        renewal.iter_mut().for_each(|p| *p /= mass);
        let w = self.config.weight_max * n / (n + self.config.weight_half);
        renewal.iter().zip(population).map(|(r, p)| w * r + (1.0 - w) * p).collect()
    }

    /// The predicted day of the window (1-based) for a customer (see the module documentation).
    pub fn predict(&self, c: &GapSummary) -> f64 {
        best_day(&self.distribution(c), self.config.hit_weight, self.config.hit_half_width)
    }
}

/// The day v in 1..=len minimising E|y − v| − λ · P(|y − v| ≤ h) under the distribution `p` of y (day 1
/// first), ties to the earliest day.
pub fn best_day(p: &[f64], hit_weight: f64, hit_half_width: f64) -> f64 {
    // Prefix sums of P(y ≤ d) and E[y; y ≤ d] give every day's expected error in O(1).
    let (mut mass, mut moment) = (vec![0.0; p.len() + 1], vec![0.0; p.len() + 1]);
    for (d, &q) in p.iter().enumerate() {
        mass[d + 1] = mass[d] + q;
        moment[d + 1] = moment[d] + q * (d + 1) as f64;
    }
    let (total, total_moment) = (mass[p.len()], moment[p.len()]);
    let h = hit_half_width.max(0.0).floor() as usize;
    let mut best = (f64::INFINITY, 1.0);
    for v in 1..=p.len() {
        let x = v as f64;
        let (below, below_moment) = (mass[v], moment[v]);
        let error = x * below - below_moment + (total_moment - below_moment) - x * (total - below);
        let hits = mass[(v + h).min(p.len())] - mass[v.saturating_sub(h + 1)];
        let objective = error - hit_weight * hits;
        if objective < best.0 {
            best = (objective, x);
        }
    }
    best.1
}

#[cfg(test)]
mod tests {
    use super::*;

    const WINDOW: usize = 273;

    fn config(hit_weight: f64) -> RenewalConfig {
        RenewalConfig {
            shrink: 2.0,
            weight_max: 0.8,
            weight_half: 1.0,
            recency_bins: 2,
            hit_weight,
            hit_half_width: 14.0,
        }
    }

    #[test]
    fn best_day_is_the_median_without_hits_and_the_dense_window_with_them() {
        // Mass 0.4 on day 10, 0.6 spread evenly over days 100..=159.
        let mut p = vec![0.0; WINDOW];
        p[9] = 0.4;
        (99..159).for_each(|d| p[d] = 0.01);
        // The median is in the spread part: P(y ≤ 109) = 0.4 + 0.10 = 0.5, so 109 and 110 tie (earliest wins).
        assert_eq!(best_day(&p, 0.0, 14.0), 109.0);
        // A heavy hit weight takes the point mass's window (0.4 against at most 0.29 elsewhere).
        let v = best_day(&p, 1_000.0, 14.0);
        assert!((v - 10.0).abs() <= 14.0, "{v}");
    }

    #[test]
    fn best_day_error_matches_a_direct_sum() {
        let p: Vec<f64> = (1..=WINDOW).map(|d| ((d * 37) % 11) as f64 + 1.0).collect();
        let total: f64 = p.iter().sum();
        let p: Vec<f64> = p.iter().map(|q| q / total).collect();
        let direct = |v: f64, lambda: f64| -> f64 {
            p.iter()
                .enumerate()
                .map(|(d, q)| {
                    let e = ((d + 1) as f64 - v).abs();
                    q * (e - if e <= 14.0 { lambda } else { 0.0 })
                })
                .sum()
        };
        for lambda in [0.0, 8.0, 40.0] {
            let v = best_day(&p, lambda, 14.0);
            let best = (1..=WINDOW).map(|d| direct(d as f64, lambda)).fold(f64::INFINITY, f64::min);
            assert!((direct(v, lambda) - best).abs() < 1e-9, "λ {lambda}: day {v}");
        }
    }

    #[test]
    fn a_mixture_fitted_on_no_customers_still_predicts_a_day_of_the_window() {
        let model = RenewalModel::fit(config(0.0), 30, &[], &[]);
        let day = model.predict(&GapSummary::new(&[-40, -20], 0));
        assert!((1.0..=30.0).contains(&day), "{day}");
    }

    #[test]
    fn summaries_pool_to_the_statistics_of_all_gaps() {
        let a = GapSummary::new(&[0, 10, 30], 40);
        let b = GapSummary::new(&[5, 45], 50);
        assert_eq!((a.since_last, a.gaps, b.gaps), (10.0, 2, 1));
        let logs = [10f64.ln(), 20f64.ln(), 40f64.ln()];
        let mean = logs.iter().sum::<f64>() / 3.0;
        let var = logs.iter().map(|g| (g - mean).powi(2)).sum::<f64>() / 3.0;
        let model = RenewalModel::fit(config(0.0), WINDOW, &[a, b], &[5.0, 7.0]);
        assert!((model.pooled.0 - mean).abs() < 1e-12 && (model.pooled.1 - var.sqrt()).abs() < 1e-12);
    }

    #[test]
    fn a_regular_buyer_is_predicted_at_their_cycle_and_a_one_time_buyer_by_the_population() {
        // Fitting: regular 30-day buyers who last bought 10 days before the cutoff buy again on day 20;
        // one-time buyers buy on day 150.
        let regular = GapSummary::new(&[-100, -70, -40, -10], 0);
        let once = GapSummary::new(&[-50], 0);
        let mut customers = vec![regular; 40];
        customers.extend(vec![once; 40]);
        let targets: Vec<f64> = (0..80).map(|i| if i < 40 { 20.0 } else { 150.0 }).collect();
        let model = RenewalModel::fit(config(8.0), WINDOW, &customers, &targets);
        assert!((model.predict(&regular) - 20.0).abs() <= 3.0, "{}", model.predict(&regular));
        assert!((model.predict(&once) - 150.0).abs() <= 3.0, "{}", model.predict(&once));
        let p = model.distribution(&regular);
        assert!((p.iter().sum::<f64>() - 1.0).abs() < 1e-9);
        // A regular buyer who waited past their cycle is due soon, not a whole cycle later.
        let late = GapSummary::new(&[-125, -95, -65, -35], 0);
        assert!(model.predict(&late) < 40.0, "{}", model.predict(&late));
    }
}
