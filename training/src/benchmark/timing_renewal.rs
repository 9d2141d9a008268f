//! P3's renewal-mixture timing predictor: a distribution of each buyer's first holdout purchase day over the
//! window, and the day that minimises the expected error under it.
//!
//! - **Renewal part.** The buyer's gaps between purchase days are log-normal, with the mean and spread of
//!   the buyer's own log-gaps shrunk towards the train buyers' pooled ones (`shrink` pseudo-gaps). Having
//!   already waited `since_last` days, the next purchase falls on day t of the window with probability
//!   ∝ F(since_last + t + ½) − F(since_last + t − ½), renormalised over the window (every scored buyer buys
//!   in it).
//! - **Population part.** The empirical distribution of the target among the train buyers of the same
//!   recency bin (quantiles of `since_last`) and purchase-count class (1, 2–3, 4+ days), smoothed towards
//!   all train buyers' with [`SMOOTHING`] pseudo-buyers.
//! - **Mixture.** The renewal part's weight grows with the buyer's evidence: w = w_max · n / (n + n_half)
//!   for n own gaps (0 for a one-time buyer).
//! - **Decision.** The day v in 1..=273 minimising E|y − v| − λ · P(|y − v| ≤ 14): λ = 0 is the mixture's
//!   median (the MAE-optimal day); a larger λ moves towards the densest 29-day window.
//!
//! The gap rule's periodicity is in the renewal part, BG/NBD-like recency and frequency effects in the
//! population part; unlike the gap rule, a buyer whose gaps are irregular gets a wide renewal part and
//! leans on the population.

use super::timing_cells::HIT_WINDOW;

/// Last day of the window (days after the cutoff); predictions lie in 1..=WINDOW_DAYS.
pub const WINDOW_DAYS: usize = 273;

/// Pseudo-buyers of the all-buyers distribution added to each population cell.
const SMOOTHING: f64 = 50.0;

/// Smallest log-gap spread (a buyer with identical gaps would otherwise get a point mass).
const MIN_SPREAD: f64 = 0.15;

/// The shape of a renewal mixture and its hit weight.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RenewalConfig {
    /// Pseudo-gaps of the pooled log-gap mean and spread in each buyer's own.
    pub shrink: f64,
    /// Largest weight of the renewal part.
    pub weight_max: f64,
    /// Own gaps at which the renewal weight is half of `weight_max`.
    pub weight_half: f64,
    /// Quantile bins of `since_last` in the population part (1 = no split).
    pub recency_bins: usize,
    /// Weight λ of a ±14-day hit, in days of absolute error.
    pub hit_weight: f64,
}

/// What the predictor knows of a buyer: calibration data only.
#[derive(Debug, Clone, PartialEq)]
pub struct BuyerHistory {
    /// Days from the last calibration purchase to the cutoff (0: bought on the cutoff day).
    pub since_last: f64,
    /// ln of each gap in days between consecutive distinct purchase days (gaps under a day count as one).
    pub log_gaps: Vec<f64>,
}

impl BuyerHistory {
    /// From distinct, ascending purchase days (non-empty) and the cutoff day.
    pub fn new(days: &[i32], cutoff: i32) -> Self {
        Self {
            since_last: f64::from(cutoff - days[days.len() - 1]),
            log_gaps: days.windows(2).map(|w| f64::from((w[1] - w[0]).max(1)).ln()).collect(),
        }
    }

    /// 0 for one purchase day, 1 for 2–3, 2 for more.
    fn count_class(&self) -> usize {
        match self.log_gaps.len() {
            0 => 0,
            1 | 2 => 1,
            _ => 2,
        }
    }
}

/// A fitted renewal mixture.
#[derive(Debug, Clone, PartialEq)]
pub struct RenewalModel {
    config: RenewalConfig,
    /// Pooled mean and standard deviation of the train buyers' log-gaps.
    pooled: (f64, f64),
    /// Upper edges of the recency bins, `recency_bins − 1` of them.
    edges: Vec<f64>,
    /// Smoothed target distribution (day 1 first) of each (recency bin, count class) cell.
    cells: Vec<Vec<f64>>,
}

impl RenewalModel {
    /// Fits on train buyers' histories and targets (days in 1..=273; same length, non-empty).
    pub fn fit(config: RenewalConfig, buyers: &[BuyerHistory], targets: &[f64]) -> Self {
        let mut recency: Vec<f64> = buyers.iter().map(|b| b.since_last).collect();
        recency.sort_by(f64::total_cmp);
        let n = recency.len();
        let bins = config.recency_bins.max(1);
        let edges: Vec<f64> = (1..bins).map(|q| recency[(q * n / bins).min(n.saturating_sub(1))]).collect();
        let log_gaps = || buyers.iter().flat_map(|b| b.log_gaps.iter().copied());
        let count = log_gaps().count().max(1) as f64;
        let mean = log_gaps().sum::<f64>() / count;
        let var = log_gaps().map(|g| (g - mean).powi(2)).sum::<f64>() / count;
        let mut model = Self { config, pooled: (mean, var.sqrt()), edges, cells: Vec::new() };
        // Target counts per cell (day 1 first), then each smoothed towards all buyers' distribution.
        let mut counts = vec![vec![0.0; WINDOW_DAYS]; bins * 3];
        for (b, y) in buyers.iter().zip(targets) {
            counts[model.cell(b)][(y.round() as usize).clamp(1, WINDOW_DAYS) - 1] += 1.0;
        }
        let all: Vec<f64> = (0..WINDOW_DAYS).map(|d| counts.iter().map(|c| c[d]).sum::<f64>()).collect();
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

    fn cell(&self, b: &BuyerHistory) -> usize {
        let bin = self.edges.iter().take_while(|e| b.since_last > **e).count();
        bin * 3 + b.count_class()
    }

    /// The buyer's distribution of the first holdout purchase day (day 1 first, sums to 1).
    pub fn distribution(&self, b: &BuyerHistory) -> Vec<f64> {
        let population = &self.cells[self.cell(b)];
        let n = b.log_gaps.len() as f64;
        if n == 0.0 {
            return population.clone();
        }
        let k = self.config.shrink;
        let own_mean = b.log_gaps.iter().sum::<f64>() / n;
        let own_var = b.log_gaps.iter().map(|g| (g - own_mean).powi(2)).sum::<f64>() / n;
        let (pooled_mean, pooled_sd) = self.pooled;
        let mu = (n * own_mean + k * pooled_mean) / (n + k);
        let sd = ((n * own_var + k * pooled_sd * pooled_sd) / (n + k)).sqrt().max(MIN_SPREAD);
        let cdf =
            |x: f64| if x <= 0.0 { 0.0 } else { 0.5 * libm::erfc(-(x.ln() - mu) / (sd * std::f64::consts::SQRT_2)) };
        let mut renewal: Vec<f64> = (1..=WINDOW_DAYS)
            .map(|t| {
                let t = t as f64 + b.since_last;
                cdf(t + 0.5) - cdf(t - 0.5)
            })
            .collect();
        let mass: f64 = renewal.iter().sum();
        if mass <= 1e-12 {
            return population.clone();
        }
        renewal.iter_mut().for_each(|p| *p /= mass);
        let w = self.config.weight_max * n / (n + self.config.weight_half);
        renewal.iter().zip(population).map(|(r, p)| w * r + (1.0 - w) * p).collect()
    }

    /// The predicted day of a buyer (see the module documentation).
    pub fn predict(&self, b: &BuyerHistory) -> f64 {
        best_day(&self.distribution(b), self.config.hit_weight)
    }
}

/// The day v in 1..=len minimising E|y − v| − λ · P(|y − v| ≤ 14) under the distribution `p` of y (day 1
/// first), ties to the earliest day.
pub fn best_day(p: &[f64], hit_weight: f64) -> f64 {
    // Prefix sums of P(y ≤ d) and E[y; y ≤ d] give every day's expected error in O(1).
    let (mut mass, mut moment) = (vec![0.0; p.len() + 1], vec![0.0; p.len() + 1]);
    for (d, &q) in p.iter().enumerate() {
        mass[d + 1] = mass[d] + q;
        moment[d + 1] = moment[d] + q * (d + 1) as f64;
    }
    let (total, total_moment) = (mass[p.len()], moment[p.len()]);
    let window = HIT_WINDOW as usize;
    let mut best = (f64::INFINITY, 1.0);
    for v in 1..=p.len() {
        let x = v as f64;
        let (below, below_moment) = (mass[v], moment[v]);
        let error = x * below - below_moment + (total_moment - below_moment) - x * (total - below);
        let hits = mass[(v + window).min(p.len())] - mass[v.saturating_sub(window + 1)];
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

    fn config(hit_weight: f64) -> RenewalConfig {
        RenewalConfig { shrink: 2.0, weight_max: 0.8, weight_half: 1.0, recency_bins: 2, hit_weight }
    }

    #[test]
    fn best_day_is_the_median_without_hits_and_the_dense_window_with_them() {
        // Mass 0.4 on day 10, 0.6 spread evenly over days 100..=159.
        let mut p = vec![0.0; WINDOW_DAYS];
        p[9] = 0.4;
        (99..159).for_each(|d| p[d] = 0.01);
        // The median is in the spread part: P(y ≤ 109) = 0.4 + 0.10 = 0.5, so 109 and 110 tie (earliest wins).
        assert_eq!(best_day(&p, 0.0), 109.0);
        // A heavy hit weight takes the point mass's window (0.4 against at most 0.29 elsewhere).
        let v = best_day(&p, 1_000.0);
        assert!((v - 10.0).abs() <= 14.0, "{v}");
    }

    #[test]
    fn best_day_error_matches_a_direct_sum() {
        let p: Vec<f64> = (1..=WINDOW_DAYS).map(|d| ((d * 37) % 11) as f64 + 1.0).collect();
        let total: f64 = p.iter().sum();
        let p: Vec<f64> = p.iter().map(|q| q / total).collect();
        let direct = |v: f64, lambda: f64| -> f64 {
            p.iter()
                .enumerate()
                .map(|(d, q)| {
                    let e = ((d + 1) as f64 - v).abs();
                    q * (e - if e <= HIT_WINDOW { lambda } else { 0.0 })
                })
                .sum()
        };
        for lambda in [0.0, 8.0, 40.0] {
            let v = best_day(&p, lambda);
            let best = (1..=WINDOW_DAYS).map(|d| direct(d as f64, lambda)).fold(f64::INFINITY, f64::min);
            assert!((direct(v, lambda) - best).abs() < 1e-9, "λ {lambda}: day {v}");
        }
    }

    #[test]
    fn a_regular_buyer_is_predicted_at_their_cycle_and_a_one_time_buyer_by_the_population() {
        // Train: regular 30-day buyers who last bought 10 days before the cutoff buy again on day 20;
        // one-time buyers buy on day 150.
        let regular = BuyerHistory::new(&[-100, -70, -40, -10], 0);
        let once = BuyerHistory::new(&[-50], 0);
        let mut buyers = vec![regular.clone(); 40];
        buyers.extend(vec![once.clone(); 40]);
        let targets: Vec<f64> = (0..80).map(|i| if i < 40 { 20.0 } else { 150.0 }).collect();
        let model = RenewalModel::fit(config(8.0), &buyers, &targets);
        assert!((model.predict(&regular) - 20.0).abs() <= 3.0, "{}", model.predict(&regular));
        assert!((model.predict(&once) - 150.0).abs() <= 3.0, "{}", model.predict(&once));
        let p = model.distribution(&regular);
        assert!((p.iter().sum::<f64>() - 1.0).abs() < 1e-9);
        // A regular buyer who waited past their cycle is due soon, not a whole cycle later.
        let late = BuyerHistory::new(&[-125, -95, -65, -35], 0);
        assert!(model.predict(&late) < 40.0, "{}", model.predict(&late));
    }
}
