//! P3's timing predictor: a lookup table of predicted days learnt from the train buyers. Each buyer falls
//! in a cell of two calibration-only quantities: the quantile bin of BG/NBD's median wait truncated to the
//! window, and the bin of the gap rule's roll-forward day (split by whether the customer has a gap of
//! their own). Each cell predicts the day `v` minimising `Σ |y − v| − λ · #{|y − v| ≤ 14}` over its train
//! buyers: λ = 0 gives the cell's median (MAE-optimal), larger λ pulls the prediction towards the densest
//! 29-day window (±14-day hits). Sparse cells use their BG/NBD bin's pooled value.

/// Days of the ±window of the hit share.
pub const HIT_WINDOW: f64 = 14.0;

/// Fewest train buyers a cell needs to have its own value.
const MIN_CELL: usize = 25;

/// Shifts (days) of the gap rule's day a cell may choose.
const GAP_SHIFTS: [f64; 7] = [-9.0, -6.0, -3.0, 0.0, 3.0, 6.0, 9.0];

/// Scales of BG/NBD's median a cell may choose.
const BGNBD_SCALES: [f64; 9] = [0.6, 0.7, 0.8, 0.9, 1.0, 1.1, 1.2, 1.3, 1.4];

/// What a cell predicts.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum CellRule {
    /// One day for every buyer of the cell.
    Constant(f64),
    /// The gap rule's day plus a shift.
    GapRule(f64),
    /// BG/NBD's median times a scale.
    Bgnbd(f64),
}

impl CellRule {
    /// The rule's day for a buyer, clipped to the window.
    pub fn apply(self, k: &CellKey) -> f64 {
        match self {
            Self::Constant(v) => v,
            Self::GapRule(shift) => (k.gap_rule_days + shift).clamp(1.0, 273.0),
            Self::Bgnbd(scale) => (k.bgnbd_days * scale).clamp(1.0, 273.0),
        }
    }
}

/// What a buyer's cell is made of.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CellKey {
    /// BG/NBD's truncated median wait, days.
    pub bgnbd_days: f64,
    /// The gap rule's predicted day.
    pub gap_rule_days: f64,
    /// Number of the customer's own gaps (0: the population gap was used).
    pub gaps: usize,
}

/// The shape of a cell table and its hit weight.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CellConfig {
    /// Quantile bins of the BG/NBD median (1 = no split).
    pub bgnbd_bins: usize,
    /// Whether cells also split by the number of own gaps (0, 1–2, ≥ 3) and may use the gap rule.
    pub use_gap_rule: bool,
    /// Weight λ of a hit, in days of absolute error.
    pub hit_weight: f64,
}

/// A fitted cell table.
#[derive(Debug, Clone, PartialEq)]
pub struct CellTable {
    config: CellConfig,
    /// Upper edges of the BG/NBD bins (quantiles of the train buyers), `bgnbd_bins − 1` of them.
    edges: Vec<f64>,
    /// Rule of each BG/NBD bin (all its buyers pooled).
    pooled: Vec<CellRule>,
    /// Rule of each cell, `None` when sparse.
    cells: Vec<Option<CellRule>>,
}

fn gap_bins(config: &CellConfig) -> usize {
    if config.use_gap_rule { 3 } else { 1 }
}

/// The rule minimising `Σ |y − v| − λ · #{|y − v| ≤ 14}` over a cell's buyers: the best constant day, or
/// (when `with_rules`) the gap rule shifted or BG/NBD's median scaled, whichever is lower.
fn cell_rule(keys: &[CellKey], targets: &[f64], hit_weight: f64, with_rules: bool) -> CellRule {
    let objective = |rule: CellRule| -> f64 {
        keys.iter()
            .zip(targets)
            .map(|(k, y)| {
                let e = (rule.apply(k) - y).abs();
                e - if e <= HIT_WINDOW { hit_weight } else { 0.0 }
            })
            .sum()
    };
    let mut best = CellRule::Constant(cell_value(targets, hit_weight));
    let mut best_value = objective(best);
    if with_rules {
        let rules =
            GAP_SHIFTS.iter().map(|s| CellRule::GapRule(*s)).chain(BGNBD_SCALES.iter().map(|m| CellRule::Bgnbd(*m)));
        for rule in rules {
            let value = objective(rule);
            if value < best_value {
                (best, best_value) = (rule, value);
            }
        }
    }
    best
}

fn bin(edges: &[f64], v: f64) -> usize {
    edges.iter().take_while(|e| v > **e).count()
}

/// The day in 1..=273 minimising `Σ |y − v| − λ · #{|y − v| ≤ 14}` (ties: the earliest day).
pub fn cell_value(targets: &[f64], hit_weight: f64) -> f64 {
    let mut best = (f64::INFINITY, 1.0);
    for day in 1..=273 {
        let v = f64::from(day);
        let (mut loss, mut hits) = (0.0, 0.0);
        for y in targets {
            let e = (y - v).abs();
            loss += e;
            if e <= HIT_WINDOW {
                hits += 1.0;
            }
        }
        let objective = loss - hit_weight * hits;
        if objective < best.0 {
            best = (objective, v);
        }
    }
    best.1
}

impl CellTable {
    /// Fits the table on train buyers' keys and targets (non-empty, same length).
    pub fn fit(config: CellConfig, keys: &[CellKey], targets: &[f64]) -> Self {
        let mut sorted: Vec<f64> = keys.iter().map(|k| k.bgnbd_days).collect();
        sorted.sort_by(f64::total_cmp);
        let n = sorted.len();
        let edges: Vec<f64> =
            (1..config.bgnbd_bins).map(|q| sorted[(q * n / config.bgnbd_bins).min(n.saturating_sub(1))]).collect();
        let mut table = Self { config, edges, pooled: Vec::new(), cells: Vec::new() };
        let n_bins = table.edges.len() + 1;
        let width = gap_bins(&config);
        let mut by_bin: Vec<(Vec<CellKey>, Vec<f64>)> = vec![(Vec::new(), Vec::new()); n_bins];
        let mut by_cell: Vec<(Vec<CellKey>, Vec<f64>)> = vec![(Vec::new(), Vec::new()); n_bins * width];
        for (k, y) in keys.iter().zip(targets) {
            let (b, c) = table.locate(k);
            by_bin[b].0.push(*k);
            by_bin[b].1.push(*y);
            by_cell[c].0.push(*k);
            by_cell[c].1.push(*y);
        }
        let rules = config.use_gap_rule;
        table.pooled = by_bin.iter().map(|(k, t)| cell_rule(k, t, config.hit_weight, rules)).collect();
        table.cells = by_cell
            .iter()
            .map(|(k, t)| (t.len() >= MIN_CELL || width == 1).then(|| cell_rule(k, t, config.hit_weight, rules)))
            .collect();
        table
    }

    /// (BG/NBD bin, cell index) of a key.
    fn locate(&self, k: &CellKey) -> (usize, usize) {
        let b = bin(&self.edges, k.bgnbd_days);
        let g = if self.config.use_gap_rule { k.gaps.min(3).div_ceil(2) } else { 0 };
        (b, b * gap_bins(&self.config) + g)
    }

    /// The predicted day of a buyer.
    pub fn predict(&self, k: &CellKey) -> f64 {
        let (b, c) = self.locate(k);
        self.cells[c].unwrap_or(self.pooled[b]).apply(k)
    }
}

/// MAE, median absolute error and ±14-day hit share of predictions.
pub fn timing_scores(predictions: &[f64], targets: &[f64]) -> (f64, f64, f64) {
    let mut errors: Vec<f64> = predictions.iter().zip(targets).map(|(p, y)| (p - y).abs()).collect();
    let n = errors.len().max(1) as f64;
    let mae = errors.iter().sum::<f64>() / n;
    let share = errors.iter().filter(|e| **e <= HIT_WINDOW).count() as f64 / n;
    errors.sort_by(f64::total_cmp);
    let m = errors.len();
    let median = if m == 0 {
        f64::NAN
    } else if m % 2 == 1 {
        errors[m / 2]
    } else {
        0.5 * (errors[m / 2 - 1] + errors[m / 2])
    };
    (mae, median, share)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cell_value_is_the_median_without_hit_weight_and_the_mode_window_with_it() {
        let targets = [1.0, 2.0, 3.0, 4.0, 100.0, 150.0, 200.0];
        assert_eq!(cell_value(&targets, 0.0), 4.0);
        let spread = [5.0, 6.0, 7.0, 120.0, 160.0, 200.0, 240.0];
        assert!(cell_value(&spread, 0.0) >= 120.0);
        assert!(cell_value(&spread, 200.0) <= 21.0);
    }

    #[test]
    fn sparse_cells_fall_back_to_their_bin() {
        let keys: Vec<CellKey> = (0..60)
            .map(|i| CellKey { bgnbd_days: f64::from(i), gap_rule_days: 10.0, gaps: usize::from(i == 0) })
            .collect();
        let targets: Vec<f64> = (0..60).map(|i| f64::from(i) + 1.0).collect();
        let config = CellConfig { bgnbd_bins: 2, use_gap_rule: true, hit_weight: 0.0 };
        let table = CellTable::fit(config, &keys, &targets);
        let lonely = CellKey { bgnbd_days: 0.0, gap_rule_days: 10.0, gaps: 1 };
        let (b, c) = table.locate(&lonely);
        assert!(table.cells[c].is_none());
        assert_eq!(table.predict(&lonely), table.pooled[b].apply(&lonely));
        let crowd = CellKey { gaps: 0, ..lonely };
        assert!(table.predict(&CellKey { bgnbd_days: 59.0, ..crowd }) > table.predict(&crowd));
        assert_eq!(timing_scores(&[1.0, 20.0], &[1.0, 1.0]), (9.5, 9.5, 0.5));
    }
}
