//! P3 (CDNOW): the day of each buyer's first holdout purchase. Two predictor families compete in 5-fold
//! cross-validation on the train buyers: the [`CellTable`] over BG/NBD's truncated median and the gap rule,
//! and the [`RenewalModel`] (a per-buyer distribution of the day). One predictor is chosen (see
//! [`choose_timing`]) and refitted on all train buyers.

use std::path::Path;
use std::time::Instant;

use rayon::prelude::*;

use super::cdnow::{HOLDOUT_WEEKS, cutoff_day, purchase_days, rfm};
use super::classify::{mean_se, stratified_folds};
use super::data::Table;
use super::timing_cells::{CellConfig, CellKey, CellTable, HIT_WINDOW, timing_scores};
use super::{BenchmarkError, Goal, Line, Protocol, line, timed_fit};
use crate::models::timing::renewal::{GapSummary, RenewalConfig, RenewalModel, best_day};
use crate::models::timing::{BgNbdFitParams, fit_bgnbd, median};

/// Last day of the window (days after the cutoff); predictions lie in 1..=WINDOW_DAYS.
const WINDOW_DAYS: usize = 273;

/// A P3 customer: calibration purchase days, split and target (days after the cutoff).
struct Buyer {
    days: Vec<i32>,
    train: bool,
    target: f64,
}

/// One P3 predictor configuration.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Candidate {
    Cells(CellConfig),
    Renewal(RenewalConfig),
}

/// Hit weights (λ, days of absolute error per ±14-day hit) tried by both families.
const HIT_WEIGHTS: [f64; 8] = [0.0, 2.0, 4.0, 6.0, 8.0, 12.0, 16.0, 24.0];

/// The cell-table shapes tried on P3 (each with every hit weight).
fn cell_grid() -> Vec<CellConfig> {
    let mut grid = Vec::new();
    for bgnbd_bins in [1, 4, 8, 12, 16] {
        for use_gap_rule in [false, true] {
            for hit_weight in HIT_WEIGHTS {
                grid.push(CellConfig { bgnbd_bins, use_gap_rule, hit_weight });
            }
        }
    }
    grid
}

/// The renewal-mixture shapes tried on P3, with λ = 0 (every hit weight is decided from the same fit).
fn renewal_grid() -> Vec<RenewalConfig> {
    let mut grid = Vec::new();
    for shrink in [2.0, 4.0, 8.0, 16.0] {
        for (weight_max, weight_half) in [(0.5, 1.0), (0.6, 2.0), (0.8, 2.0), (0.6, 4.0), (0.7, 4.0)] {
            for recency_bins in [1, 4, 8] {
                grid.push(RenewalConfig {
                    shrink,
                    weight_max,
                    weight_half,
                    recency_bins,
                    hit_weight: 0.0,
                    hit_half_width: HIT_WINDOW,
                });
            }
        }
    }
    grid
}

/// How a P3 configuration is named in the method column.
fn describe(c: Candidate) -> String {
    match c {
        Candidate::Cells(c) => format!(
            "cell table: {} BG/NBD-median bins{}, hit weight {}",
            c.bgnbd_bins,
            if c.use_gap_rule { " × gap-rule bins" } else { "" },
            c.hit_weight
        ),
        Candidate::Renewal(c) => format!(
            "renewal mixture: log-normal gaps (shrink {}), weight ≤ {} (half at {} gaps), {} recency bins, hit \
             weight {}",
            c.shrink, c.weight_max, c.weight_half, c.recency_bins, c.hit_weight
        ),
    }
}

/// Out-of-fold predictions of every configuration of both families on the train buyers (5 folds).
fn timing_cv(keys: &[CellKey], histories: &[GapSummary], targets: &[f64], seed: u64) -> Vec<(Candidate, Vec<f64>)> {
    let n = keys.len();
    let fold = stratified_folds(&vec![false; n], 5, seed);
    let fit_part = |f: usize| -> Vec<usize> { (0..n).filter(|&i| fold[i] != f).collect() };
    let mut out: Vec<(Candidate, Vec<f64>)> = cell_grid()
        .into_par_iter()
        .map(|config| {
            let mut predictions = vec![0.0; n];
            for f in 0..5 {
                let fit = fit_part(f);
                let fit_keys: Vec<CellKey> = fit.iter().map(|&i| keys[i]).collect();
                let ys: Vec<f64> = fit.iter().map(|&i| targets[i]).collect();
                let table = CellTable::fit(config, &fit_keys, &ys);
                for i in (0..n).filter(|&i| fold[i] == f) {
                    predictions[i] = table.predict(&keys[i]).clamp(1.0, WINDOW_DAYS as f64);
                }
            }
            (Candidate::Cells(config), predictions)
        })
        .collect();
    for config in renewal_grid() {
        // One fit per fold and shape; every hit weight decides from the same distributions.
        let mut predictions = vec![vec![0.0; n]; HIT_WEIGHTS.len()];
        for f in 0..5 {
            let fit = fit_part(f);
            let fit_histories: Vec<GapSummary> = fit.iter().map(|&i| histories[i]).collect();
            let ys: Vec<f64> = fit.iter().map(|&i| targets[i]).collect();
            let model = RenewalModel::fit(config, WINDOW_DAYS, &fit_histories, &ys);
            let held: Vec<usize> = (0..n).filter(|&i| fold[i] == f).collect();
            let days: Vec<Vec<f64>> = held
                .par_iter()
                .map(|&i| {
                    let p = model.distribution(&histories[i]);
                    HIT_WEIGHTS.iter().map(|&lambda| best_day(&p, lambda, HIT_WINDOW)).collect()
                })
                .collect();
            for (&i, d) in held.iter().zip(&days) {
                for (h, &day) in d.iter().enumerate() {
                    predictions[h][i] = day;
                }
            }
        }
        for (h, p) in predictions.into_iter().enumerate() {
            out.push((Candidate::Renewal(RenewalConfig { hit_weight: HIT_WEIGHTS[h], ..config }), p));
        }
    }
    out
}

/// Runs P3 on master and sample: the predictor family, shape and hit weight are chosen by 5-fold
/// cross-validation on the train buyers (see [`choose_timing`]), then refitted on all of them.
pub fn p3(dir: &Path, seed: u64) -> Result<Vec<Line>, BenchmarkError> {
    let cutoff = cutoff_day()?;
    let mut lines = Vec::new();
    for case in ["master", "sample"] {
        let calibration = Table::read(&dir.join(case).join("calibration.csv"))?;
        let days = purchase_days(&calibration)?;
        let truth = Table::read(&dir.join(case).join("truth.csv"))?;
        let (tid, tsplit, ttarget) = (truth.col("customer_id")?, truth.col("split")?, truth.col("target_days")?);
        let mut buyers = Vec::new();
        for r in 0..truth.rows.len() {
            let id = truth.int(r, tid)?;
            let d = days.get(&id).ok_or_else(|| {
                BenchmarkError::Inconsistent(format!("P3: customer {id} has no calibration purchase"))
            })?;
            buyers.push(Buyer {
                days: d.clone(),
                train: truth.text(r, tsplit) == "train",
                target: truth.num(r, ttarget)?,
            });
        }
        let started = Instant::now();
        // BG/NBD on every customer's calibration summary (calibration data only; no holdout information).
        let all: Vec<_> = days.values().map(|d| rfm(d, cutoff)).collect();
        let bgnbd = fit_bgnbd(&all, &BgNbdFitParams::default())?.params;
        let mut pooled: Vec<f64> =
            buyers.iter().filter(|b| b.train).flat_map(|b| b.days.windows(2).map(|w| f64::from(w[1] - w[0]))).collect();
        let population_gap = median(&mut pooled);
        let key = |b: &Buyer| -> CellKey {
            let mut gaps: Vec<f64> = b.days.windows(2).map(|w| f64::from(w[1] - w[0])).collect();
            let g = if gaps.is_empty() { population_gap } else { median(&mut gaps).max(1.0) };
            let since_last = f64::from(cutoff - b.days[b.days.len() - 1]);
            let k = (since_last / g).floor() + 1.0;
            CellKey {
                bgnbd_days: 7.0 * bgnbd.median_wait_within(&rfm(&b.days, cutoff), HOLDOUT_WEEKS),
                gap_rule_days: (k * g - since_last).clamp(1.0, WINDOW_DAYS as f64),
                gaps: gaps.len(),
            }
        };
        let (train, test): (Vec<&Buyer>, Vec<&Buyer>) = buyers.iter().partition(|b| b.train);
        let train_keys: Vec<CellKey> = train.iter().map(|b| key(b)).collect();
        let train_y: Vec<f64> = train.iter().map(|b| b.target).collect();
        let keys_seconds = started.elapsed().as_secs_f64();
        let histories =
            |set: &[&Buyer]| -> Vec<GapSummary> { set.iter().map(|b| GapSummary::new(&b.days, cutoff)).collect() };
        let selection = Instant::now();
        let scored = timing_cv(&train_keys, &histories(&train), &train_y, seed);
        for (choice, predictions) in &scored {
            let (mae, median_ae, share) = timing_scores(predictions, &train_y);
            tracing::debug!(case, ?choice, mae, median_ae, share, "P3 cross-validation");
        }
        let chosen = choose_timing(&scored, &train_y).unwrap_or(Candidate::Cells(CellConfig {
            bgnbd_bins: 1,
            use_gap_rule: false,
            hit_weight: 0.0,
        }));
        let selection_seconds = selection.elapsed().as_secs_f64();
        // The fit time is what the chosen predictor needs: BG/NBD and the keys for a cell table, the
        // buyers' histories for a renewal mixture.
        let (predictions, fit_seconds) = match chosen {
            Candidate::Cells(config) => {
                let refit = Instant::now();
                let table = CellTable::fit(config, &train_keys, &train_y);
                let seconds = keys_seconds + refit.elapsed().as_secs_f64();
                (test.iter().map(|b| table.predict(&key(b))).collect::<Vec<f64>>(), seconds)
            }
            Candidate::Renewal(config) => {
                let fit =
                    || Ok::<_, BenchmarkError>(RenewalModel::fit(config, WINDOW_DAYS, &histories(&train), &train_y));
                let (model, seconds) = timed_fit(fit)?;
                (histories(&test).iter().map(|h| model.predict(h)).collect(), seconds)
            }
        };
        let predictions: Vec<f64> = predictions.iter().map(|p| p.clamp(1.0, WINDOW_DAYS as f64)).collect();
        let targets: Vec<f64> = test.iter().map(|b| b.target).collect();
        let (mae, median_ae, share) = timing_scores(&predictions, &targets);
        let method = describe(chosen);
        for (metric, goal, value) in [
            ("mae_days", Goal::Lower, mae),
            ("median_ae_days", Goal::Lower, median_ae),
            ("share_within_14d", Goal::Higher, share),
        ] {
            lines.push(line(Protocol::P3, case, metric, goal, value, &method, fit_seconds, selection_seconds));
        }
    }
    Ok(lines)
}

/// The chosen P3 configuration. MAE comes first: the candidates whose per-buyer absolute errors exceed the
/// lowest-MAE candidate's by at most one standard error of the paired mean difference are
/// indistinguishable from it on MAE; among them the highest ±14-day hit share wins (ties: lower MAE).
fn choose_timing<C: Copy>(scored: &[(C, Vec<f64>)], targets: &[f64]) -> Option<C> {
    let best =
        scored.iter().min_by(|a, b| timing_scores(&a.1, targets).0.total_cmp(&timing_scores(&b.1, targets).0))?;
    let errors = |p: &[f64]| -> Vec<f64> { p.iter().zip(targets).map(|(p, y)| (p - y).abs()).collect() };
    let best_errors = errors(&best.1);
    let admissible = scored.iter().filter(|(_, p)| {
        let diff: Vec<f64> = errors(p).iter().zip(&best_errors).map(|(a, b)| a - b).collect();
        let (mean, se) = mean_se(&diff);
        mean <= se
    });
    admissible
        .map(|(c, p)| (c, timing_scores(p, targets)))
        .max_by(|a, b| a.1.2.total_cmp(&b.1.2).then(b.1.0.total_cmp(&a.1.0)))
        .map(|s| *s.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timing_choice_trades_noise_level_mae_for_hits() {
        let targets = vec![100.0; 200];
        // Best MAE (20) without hits; MAE 20.5 with half hits; MAE 50 with three quarters hits.
        let best: Vec<f64> = (0..200).map(|i| if i % 2 == 0 { 80.0 } else { 120.0 }).collect();
        let close: Vec<f64> = (0..200).map(|i| if i % 2 == 0 { 100.0 } else { 141.0 }).collect();
        let far: Vec<f64> = (0..200).map(|i| if i % 4 == 0 { 300.0 } else { 100.0 }).collect();
        let scored = vec![(0, best), (1, close), (2, far)];
        assert_eq!(choose_timing(&scored, &targets), Some(1));
        assert_eq!(choose_timing(&scored[..1], &targets), Some(0));
        assert_eq!(choose_timing::<u8>(&[], &targets), None);
    }
}
