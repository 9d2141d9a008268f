//! Classification metrics for churn, defined as in `shared/reference/PROTOCOLS.md` (positive class =
//! churner): ROC AUC, PR AUC (average precision), log loss (probabilities clipped to [1e-15, 1 − 1e-15]),
//! accuracy at 0.5, top-decile lift (ties broken by row order), plus the curves the report plots.

use serde::Serialize;

/// The scalar metrics of one scored set.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct ClassificationMetrics {
    /// Rows scored.
    pub n: usize,
    /// Share of positives.
    pub positive_rate: f64,
    /// Area under the ROC curve (ties count one half).
    pub roc_auc: f64,
    /// Average precision.
    pub pr_auc: f64,
    /// Mean negative log-likelihood.
    pub log_loss: f64,
    /// Accuracy with `p >= 0.5` as positive.
    pub accuracy: f64,
    /// Share of positives among the top 10 % by score over the positive rate.
    pub lift_top_decile: f64,
    /// Mean squared error of the probabilities.
    pub brier: f64,
}

/// Ranks with ties averaged (1-based), as `scipy.stats.rankdata`.
fn average_ranks(scores: &[f64]) -> Vec<f64> {
    let mut order: Vec<usize> = (0..scores.len()).collect();
    order.sort_by(|&a, &b| scores[a].total_cmp(&scores[b]));
    let mut ranks = vec![0.0; scores.len()];
    let mut i = 0;
    while i < order.len() {
        let mut j = i;
        while j + 1 < order.len() && scores[order[j + 1]] == scores[order[i]] {
            j += 1;
        }
        let rank = (i + j) as f64 / 2.0 + 1.0;
        for &k in &order[i..=j] {
            ranks[k] = rank;
        }
        i = j + 1;
    }
    ranks
}

/// ROC AUC by the Mann–Whitney statistic; 0.5 when one class is absent.
pub fn roc_auc(labels: &[bool], scores: &[f64]) -> f64 {
    let positives = labels.iter().filter(|&&l| l).count() as f64;
    let negatives = labels.len() as f64 - positives;
    if positives == 0.0 || negatives == 0.0 {
        return 0.5;
    }
    let ranks = average_ranks(scores);
    let rank_sum: f64 = ranks.iter().zip(labels).filter(|(_, l)| **l).map(|(r, _)| r).sum();
    (rank_sum - positives * (positives + 1.0) / 2.0) / (positives * negatives)
}

/// Cumulative (true positives, false positives) at each distinct score threshold, highest score first:
/// tied scores form one step.
fn threshold_steps(labels: &[bool], scores: &[f64]) -> Vec<(f64, f64)> {
    let mut order: Vec<usize> = (0..scores.len()).collect();
    order.sort_by(|&a, &b| scores[b].total_cmp(&scores[a]));
    let mut steps = Vec::new();
    let (mut tp, mut fp) = (0.0, 0.0);
    let mut i = 0;
    while i < order.len() {
        let mut j = i;
        while j < order.len() && scores[order[j]] == scores[order[i]] {
            if labels[order[j]] {
                tp += 1.0
            } else {
                fp += 1.0
            }
            j += 1;
        }
        steps.push((tp, fp));
        i = j;
    }
    steps
}

/// Average precision: Σ (Rₙ − Rₙ₋₁) Pₙ over distinct score thresholds, highest first (scikit-learn's
/// `average_precision_score`).
pub fn average_precision(labels: &[bool], scores: &[f64]) -> f64 {
    let positives = labels.iter().filter(|&&l| l).count() as f64;
    if positives == 0.0 {
        return 0.0;
    }
    let mut last_recall = 0.0;
    threshold_steps(labels, scores)
        .into_iter()
        .map(|(tp, fp)| {
            let recall = tp / positives;
            let gain = (recall - last_recall) * tp / (tp + fp);
            last_recall = recall;
            gain
        })
        .sum()
}

/// Mean log loss with clipping.
pub fn log_loss(labels: &[bool], probabilities: &[f64]) -> f64 {
    if labels.is_empty() {
        return 0.0;
    }
    let total: f64 = labels
        .iter()
        .zip(probabilities)
        .map(|(&l, &p)| {
            let p = p.clamp(1e-15, 1.0 - 1e-15);
            if l { -p.ln() } else { -(1.0 - p).ln() }
        })
        .sum();
    total / labels.len() as f64
}

/// Share of positives among the ⌈0.1·n⌉ highest scores (stable: ties keep row order) over the positive rate.
pub fn lift_top_decile(labels: &[bool], scores: &[f64]) -> f64 {
    let n = labels.len();
    let positives = labels.iter().filter(|&&l| l).count();
    if n == 0 || positives == 0 {
        return 0.0;
    }
    let mut order: Vec<usize> = (0..n).collect();
    order.sort_by(|&a, &b| scores[b].total_cmp(&scores[a]));
    let top = n.div_ceil(10);
    let hits = order[..top].iter().filter(|&&i| labels[i]).count();
    (hits as f64 / top as f64) / (positives as f64 / n as f64)
}

/// All scalar metrics.
pub fn classification_metrics(labels: &[bool], probabilities: &[f64]) -> ClassificationMetrics {
    let n = labels.len();
    let positives = labels.iter().filter(|&&l| l).count();
    let correct = labels.iter().zip(probabilities).filter(|(l, p)| **l == (**p >= 0.5)).count();
    let brier = if n == 0 {
        0.0
    } else {
        labels.iter().zip(probabilities).map(|(&l, &p)| (p - f64::from(u8::from(l))).powi(2)).sum::<f64>() / n as f64
    };
    ClassificationMetrics {
        n,
        positive_rate: if n == 0 { 0.0 } else { positives as f64 / n as f64 },
        roc_auc: roc_auc(labels, probabilities),
        pr_auc: average_precision(labels, probabilities),
        log_loss: log_loss(labels, probabilities),
        accuracy: if n == 0 { 0.0 } else { correct as f64 / n as f64 },
        lift_top_decile: lift_top_decile(labels, probabilities),
        brier,
    }
}

/// Points of the ROC curve (false positive rate, true positive rate), from (0,0) to (1,1).
pub fn roc_curve(labels: &[bool], scores: &[f64]) -> Vec<(f64, f64)> {
    let positives = labels.iter().filter(|&&l| l).count().max(1) as f64;
    let negatives = (labels.len() - labels.iter().filter(|&&l| l).count()).max(1) as f64;
    std::iter::once((0.0, 0.0))
        .chain(threshold_steps(labels, scores).into_iter().map(|(tp, fp)| (fp / negatives, tp / positives)))
        .collect()
}

/// Gains curve: share of positives captured (y) when targeting the top share of rows (x), in 100 steps.
pub fn gains_curve(labels: &[bool], scores: &[f64]) -> Vec<(f64, f64)> {
    let n = labels.len();
    let positives = labels.iter().filter(|&&l| l).count().max(1) as f64;
    let mut order: Vec<usize> = (0..n).collect();
    order.sort_by(|&a, &b| scores[b].total_cmp(&scores[a]));
    let mut cumulative = Vec::with_capacity(n + 1);
    cumulative.push(0usize);
    for &i in &order {
        cumulative.push(cumulative.last().copied().unwrap_or(0) + usize::from(labels[i]));
    }
    (0..=100)
        .map(|step| {
            let rows = (n * step).div_ceil(100).min(n);
            (step as f64 / 100.0, cumulative[rows] as f64 / positives)
        })
        .collect()
}

/// One bin of a calibration plot.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct CalibrationBin {
    /// Mean predicted probability.
    pub predicted: f64,
    /// Observed positive rate.
    pub observed: f64,
    /// Rows in the bin.
    pub count: usize,
}

/// Calibration in `bins` equal-width probability bins (empty bins left out).
pub fn calibration_bins(labels: &[bool], probabilities: &[f64], bins: usize) -> Vec<CalibrationBin> {
    let mut sums = vec![(0.0, 0.0, 0usize); bins];
    for (&l, &p) in labels.iter().zip(probabilities) {
        let b = ((p * bins as f64) as usize).min(bins - 1);
        sums[b].0 += p;
        sums[b].1 += f64::from(u8::from(l));
        sums[b].2 += 1;
    }
    sums.into_iter()
        .filter(|s| s.2 > 0)
        .map(|(p, o, n)| CalibrationBin { predicted: p / n as f64, observed: o / n as f64, count: n })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    // Expected values counted by hand (pairs for the AUC, thresholds for the average precision).
    const LABELS: [bool; 8] = [true, false, true, true, false, false, true, false];
    const SCORES: [f64; 8] = [0.9, 0.8, 0.7, 0.6, 0.55, 0.3, 0.3, 0.1];

    #[test]
    fn roc_auc_counts_ordered_pairs() {
        // 11.5 of 16 positive–negative pairs ordered right (the 0.3 tie counts half).
        assert!((roc_auc(&LABELS, &SCORES) - 0.71875).abs() < 1e-12);
        assert_eq!(roc_auc(&[true, true], &[0.1, 0.2]), 0.5);
    }

    #[test]
    fn average_precision_matches_a_hand_count() {
        // Recall steps of 1/4 at precisions 1, 2/3, 3/4 and 4/7 (the tied 0.3 scores form one threshold).
        let expected = 0.25 * (1.0 + 2.0 / 3.0 + 3.0 / 4.0 + 4.0 / 7.0);
        assert!((average_precision(&LABELS, &SCORES) - expected).abs() < 1e-12);
    }

    #[test]
    fn log_loss_clips_and_averages() {
        // log_loss([1,0], [0.8, 0.3]) = (−ln .8 − ln .7)/2
        let expected = (-(0.8f64).ln() - (0.7f64).ln()) / 2.0;
        assert!((log_loss(&[true, false], &[0.8, 0.3]) - expected).abs() < 1e-12);
        assert!(log_loss(&[true], &[0.0]).is_finite());
    }

    #[test]
    fn lift_counts_the_top_decile() {
        // 10 rows, 2 positives; the top row is positive: (1/1) / 0.2 = 5.
        let labels = [true, false, false, false, false, false, false, false, false, true];
        let scores = [0.9, 0.8, 0.7, 0.6, 0.5, 0.4, 0.3, 0.2, 0.1, 0.0];
        assert!((lift_top_decile(&labels, &scores) - 5.0).abs() < 1e-12);
    }

    #[test]
    fn curves_start_and_end_at_the_corners() {
        let roc = roc_curve(&LABELS, &SCORES);
        assert_eq!(roc.first(), Some(&(0.0, 0.0)));
        assert_eq!(roc.last(), Some(&(1.0, 1.0)));
        let gains = gains_curve(&LABELS, &SCORES);
        assert_eq!(gains.first(), Some(&(0.0, 0.0)));
        assert_eq!(gains.last(), Some(&(1.0, 1.0)));
        let bins = calibration_bins(&LABELS, &SCORES, 10);
        assert_eq!(bins.iter().map(|b| b.count).sum::<usize>(), 8);
    }
}
