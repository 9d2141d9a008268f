//! Churn lines shared by P2, P5 and P6: a standardized logistic regression whose feature set and L2
//! strength are chosen by log loss on a stratified validation share of the train rows, refitted on all of
//! them, and scored on the test rows with the protocols' metrics.

mod newton;

use std::time::Instant;

use rand::SeedableRng;
use rand::seq::SliceRandom;
use rand_chacha::ChaCha8Rng;

use super::{BenchmarkError, Goal, Line, Protocol, line};
use crate::eval::classification::{average_precision, log_loss, roc_auc};
use crate::features::FeatureMatrix;
use crate::models::churn::{LogisticScorer, sigmoid};
use newton::Design;

/// L2 strengths tried (linfa's penalty ½·α·‖w‖² on standardized features; α = 1 is scikit-learn's C = 1).
pub const ALPHAS: [f64; 6] = [0.01, 0.1, 1.0, 3.0, 10.0, 30.0];

/// A validation-chosen, refitted logistic regression.
#[derive(Debug, Clone)]
pub struct Chosen {
    /// Index of the chosen candidate feature set.
    pub candidate: usize,
    /// The L2 strength.
    pub alpha: f64,
    /// The refitted model.
    pub scorer: LogisticScorer,
    /// Seconds of the refit.
    pub fit_seconds: f64,
    /// Seconds of the validation search.
    pub selection_seconds: f64,
}

/// A stratified random holdout of `share` of the rows: (fit rows, validation rows), both sorted.
pub fn stratified_holdout(y: &[bool], share: f64, seed: u64) -> (Vec<usize>, Vec<usize>) {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let (mut fit, mut valid) = (Vec::new(), Vec::new());
    for class in [false, true] {
        let mut rows: Vec<usize> = (0..y.len()).filter(|&i| y[i] == class).collect();
        rows.shuffle(&mut rng);
        let n_valid = (rows.len() as f64 * share).round() as usize;
        valid.extend_from_slice(&rows[..n_valid]);
        fit.extend_from_slice(&rows[n_valid..]);
    }
    fit.sort_unstable();
    valid.sort_unstable();
    (fit, valid)
}

/// Chooses among `candidates` (feature matrices over the same train rows) and [`ALPHAS`] by validation log
/// loss on a stratified 20 % of the rows, then refits the choice on all rows.
pub fn choose_logistic(candidates: &[FeatureMatrix], y: &[bool], seed: u64) -> Result<Chosen, BenchmarkError> {
    let started = Instant::now();
    let (fit_rows, valid_rows) = stratified_holdout(y, 0.2, seed);
    let y_fit: Vec<bool> = fit_rows.iter().map(|&i| y[i]).collect();
    let y_valid: Vec<bool> = valid_rows.iter().map(|&i| y[i]).collect();
    let mut best: Option<(f64, usize, f64, LogisticScorer)> = None;
    for (c, x) in candidates.iter().enumerate() {
        let (x_fit, x_valid) = (x.select(&fit_rows), x.select(&valid_rows));
        let design = Design::new(&x_fit, &y_fit)?;
        for alpha in ALPHAS {
            let scorer = design.scorer(&design.fit(alpha, None)?);
            let p: Vec<f64> = scorer.logits(&x_valid).into_iter().map(sigmoid).collect();
            let loss = log_loss(&y_valid, &p);
            tracing::debug!(candidate = c, alpha, loss, auc = roc_auc(&y_valid, &p), "logistic validation");
            if best.as_ref().is_none_or(|b| loss < b.0) {
                best = Some((loss, c, alpha, scorer));
            }
        }
    }
    let (_, candidate, alpha, validation_fit) =
        best.ok_or_else(|| BenchmarkError::Inconsistent("no logistic candidate".into()))?;
    let selection_seconds = started.elapsed().as_secs_f64();
    let started = Instant::now();
    let scorer = refit(&candidates[candidate], y, alpha, std::slice::from_ref(&validation_fit))?;
    Ok(Chosen { candidate, alpha, scorer, fit_seconds: started.elapsed().as_secs_f64(), selection_seconds })
}

/// The fit of `x` with L2 strength `alpha` on all rows, started from the mean of `fold_fits` (fits of the
/// same choice on parts of the rows, made during selection): a warm start that only shortens Newton's
/// way to the same optimum.
fn refit(
    x: &FeatureMatrix,
    y: &[bool],
    alpha: f64,
    fold_fits: &[LogisticScorer],
) -> Result<LogisticScorer, BenchmarkError> {
    let design = Design::new(x, y)?;
    let mut start = vec![0.0; x.n_cols() + 1];
    for fold_fit in fold_fits {
        for (s, b) in start.iter_mut().zip(design.coefficients_of(fold_fit)) {
            *s += b / fold_fits.len() as f64;
        }
    }
    Ok(design.scorer(&design.fit(alpha, Some(&start))?))
}

/// L2 strengths tried by [`choose_logistic_cv`]: [`ALPHAS`] extended to stronger shrinkage, which
/// cross-validation favours for the larger CDNOW feature sets.
pub const WIDE_ALPHAS: [f64; 8] = [0.01, 0.1, 1.0, 3.0, 10.0, 30.0, 100.0, 300.0];

/// What a cross-validated choice minimises.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Criterion {
    /// The mean out-of-fold log loss (lower is better; a proper score).
    LogLoss,
}

/// Fold number (0..k) of each row: every class is shuffled with `seed` and dealt round-robin, so each fold
/// keeps the class shares.
pub fn stratified_folds(y: &[bool], k: usize, seed: u64) -> Vec<usize> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut fold = vec![0; y.len()];
    for class in [false, true] {
        let mut rows: Vec<usize> = (0..y.len()).filter(|&i| y[i] == class).collect();
        rows.shuffle(&mut rng);
        for (n, i) in rows.into_iter().enumerate() {
            fold[i] = n % k.max(1);
        }
    }
    fold
}

/// Chooses among `candidates` (feature matrices over the same train rows) and [`WIDE_ALPHAS`] by `criterion`
/// averaged over `k` stratified folds of the train rows (each fold is validation once, fitted on the
/// others), then refits the choice on all rows. Less noisy than one validation share on small data.
pub fn choose_logistic_cv(
    candidates: &[FeatureMatrix],
    y: &[bool],
    k: usize,
    criterion: Criterion,
    seed: u64,
) -> Result<Chosen, BenchmarkError> {
    let started = Instant::now();
    let fold = stratified_folds(y, k, seed);
    let splits: Vec<(Vec<usize>, Vec<usize>)> = (0..k)
        .map(|f| ((0..y.len()).filter(|&i| fold[i] != f).collect(), (0..y.len()).filter(|&i| fold[i] == f).collect()))
        .collect();
    // Each fold's design is standardized once and fitted along the L2 path from the strongest penalty
    // down, every fit warm-started from the previous one.
    let mut path: Vec<usize> = (0..WIDE_ALPHAS.len()).collect();
    path.sort_by(|&a, &b| WIDE_ALPHAS[b].total_cmp(&WIDE_ALPHAS[a]));
    let mut best: Option<(f64, usize, f64, Vec<LogisticScorer>)> = None;
    for (c, x) in candidates.iter().enumerate() {
        let (mut loss, mut auc) = ([0.0; WIDE_ALPHAS.len()], [0.0; WIDE_ALPHAS.len()]);
        let mut fold_fits: Vec<Vec<LogisticScorer>> = vec![Vec::with_capacity(k); WIDE_ALPHAS.len()];
        for (fit, valid) in &splits {
            let y_fit: Vec<bool> = fit.iter().map(|&i| y[i]).collect();
            let y_valid: Vec<bool> = valid.iter().map(|&i| y[i]).collect();
            let (x_fit, x_valid) = (x.select(fit), x.select(valid));
            let design = Design::new(&x_fit, &y_fit)?;
            let mut start: Option<Vec<f64>> = None;
            for &a in &path {
                let beta = design.fit(WIDE_ALPHAS[a], start.as_deref())?;
                let scorer = design.scorer(&beta);
                let p: Vec<f64> = scorer.logits(&x_valid).into_iter().map(sigmoid).collect();
                loss[a] += log_loss(&y_valid, &p) / k as f64;
                auc[a] += roc_auc(&y_valid, &p) / k as f64;
                fold_fits[a].push(scorer);
                start = Some(beta);
            }
        }
        for (a, fits) in fold_fits.into_iter().enumerate() {
            let (alpha, loss, auc) = (WIDE_ALPHAS[a], loss[a], auc[a]);
            tracing::debug!(candidate = c, alpha, loss, auc, "logistic cross-validation");
            let value = match criterion {
                Criterion::LogLoss => loss,
            };
            if best.as_ref().is_none_or(|b| value < b.0) {
                best = Some((value, c, alpha, fits));
            }
        }
    }
    let (_, candidate, alpha, fold_fits) =
        best.ok_or_else(|| BenchmarkError::Inconsistent("no logistic candidate".into()))?;
    let selection_seconds = started.elapsed().as_secs_f64();
    let started = Instant::now();
    let scorer = refit(&candidates[candidate], y, alpha, &fold_fits)?;
    Ok(Chosen { candidate, alpha, scorer, fit_seconds: started.elapsed().as_secs_f64(), selection_seconds })
}

/// Cross-validated figures of one (feature set, L2 strength) pair.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CvScore {
    /// Index of the candidate feature set.
    pub candidate: usize,
    /// The L2 strength.
    pub alpha: f64,
    /// Mean out-of-fold ROC AUC over every fold of every repeat.
    pub auc: f64,
    /// Standard error of that mean (fold-to-fold spread / √folds).
    pub auc_se: f64,
    /// Mean out-of-fold log loss.
    pub loss: f64,
}

/// Mean and standard error of the mean.
pub fn mean_se(values: &[f64]) -> (f64, f64) {
    let n = values.len().max(1) as f64;
    let mean = values.iter().sum::<f64>() / n;
    let var = values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (n - 1.0).max(1.0);
    (mean, (var / n).sqrt())
}

/// The (fit rows, validation rows) of `repeats` × `k` stratified folds (repeat r uses seed + r).
pub fn repeated_splits(y: &[bool], k: usize, repeats: usize, seed: u64) -> Vec<(Vec<usize>, Vec<usize>)> {
    let mut splits = Vec::new();
    for r in 0..repeats as u64 {
        let fold = stratified_folds(y, k, seed.wrapping_add(r));
        for f in 0..k {
            splits.push((
                (0..y.len()).filter(|&i| fold[i] != f).collect(),
                (0..y.len()).filter(|&i| fold[i] == f).collect(),
            ));
        }
    }
    splits
}

/// Every (candidate, α ∈ `alphas`) pair scored on `splits` (from [`repeated_splits`]).
pub fn cv_logistic_scores(
    candidates: &[FeatureMatrix],
    y: &[bool],
    alphas: &[f64],
    splits: &[(Vec<usize>, Vec<usize>)],
) -> Result<Vec<CvScore>, BenchmarkError> {
    let mut out = Vec::new();
    for (c, x) in candidates.iter().enumerate() {
        for &alpha in alphas {
            let (mut aucs, mut loss) = (Vec::new(), 0.0);
            for (fit, valid) in splits {
                let y_fit: Vec<bool> = fit.iter().map(|&i| y[i]).collect();
                let y_valid: Vec<bool> = valid.iter().map(|&i| y[i]).collect();
                let scorer = newton_logistic(&x.select(fit), &y_fit, alpha)?;
                let p: Vec<f64> = scorer.logits(&x.select(valid)).into_iter().map(sigmoid).collect();
                aucs.push(roc_auc(&y_valid, &p));
                loss += log_loss(&y_valid, &p) / splits.len() as f64;
            }
            let (auc, auc_se) = mean_se(&aucs);
            tracing::debug!(candidate = c, alpha, auc, auc_se, loss, "logistic cross-validation");
            out.push(CvScore { candidate: c, alpha, auc, auc_se, loss });
        }
    }
    Ok(out)
}

/// The ROC AUC, PR AUC and log-loss lines of one scored test set.
pub fn churn_lines(
    protocol: Protocol,
    case: &str,
    method: &str,
    labels: &[bool],
    probabilities: &[f64],
    fit_seconds: f64,
    selection_seconds: f64,
) -> Vec<Line> {
    [
        ("roc_auc", Goal::Higher, roc_auc(labels, probabilities)),
        ("pr_auc", Goal::Higher, average_precision(labels, probabilities)),
        ("log_loss", Goal::Lower, log_loss(labels, probabilities)),
    ]
    .into_iter()
    .map(|(metric, goal, value)| line(protocol, case, metric, goal, value, method, fit_seconds, selection_seconds))
    .collect()
}

/// A dense matrix from named columns of equal length.
pub fn matrix(columns: Vec<(String, Vec<f64>)>) -> FeatureMatrix {
    let n_rows = columns.first().map_or(0, |c| c.1.len());
    let mut data = Vec::with_capacity(n_rows * columns.len());
    for i in 0..n_rows {
        data.extend(columns.iter().map(|c| c.1[i]));
    }
    FeatureMatrix { names: columns.into_iter().map(|c| c.0).collect(), n_rows, data }
}

/// Logistic regression by Newton's method from zero (the optimum of [`LogisticScorer::fit_newton`]).
pub fn newton_logistic(x: &FeatureMatrix, y: &[bool], alpha: f64) -> Result<LogisticScorer, BenchmarkError> {
    let design = Design::new(x, y)?;
    Ok(design.scorer(&design.fit(alpha, None)?))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn synthetic() -> (FeatureMatrix, Vec<bool>) {
        use rand::Rng;
        let mut rng = ChaCha8Rng::seed_from_u64(7);
        let mut columns = vec![("a".to_owned(), Vec::new()), ("b".to_owned(), Vec::new())];
        let mut y = Vec::new();
        for _ in 0..2_000 {
            let (a, b): (f64, f64) = (rng.gen_range(-2.0..2.0), rng.gen_range(0.0..10.0));
            y.push(rng.gen_bool(sigmoid(1.5 * a - 0.2 * b + 0.5)));
            columns[0].1.push(a);
            columns[1].1.push(b);
        }
        (matrix(columns), y)
    }

    #[test]
    fn newton_and_linfa_fit_the_same_logistic_regression() {
        let (x, y) = synthetic();
        let newton = newton_logistic(&x, &y, 1.0).unwrap();
        let linfa = LogisticScorer::fit(&x, &y, 1.0, 1_000).unwrap();
        for (a, b) in newton.coefficients.iter().zip(&linfa.coefficients) {
            assert!((a - b).abs() < 1e-3, "{newton:?} vs {linfa:?}");
        }
        assert!((newton.intercept - linfa.intercept).abs() < 1e-3);
        assert!(newton.coefficients[0] > 0.0 && newton.coefficients[1] < 0.0);
    }

    #[test]
    fn the_stratified_holdout_keeps_the_class_shares() {
        let y: Vec<bool> = (0..1_000).map(|i| i % 4 == 0).collect();
        let (fit, valid) = stratified_holdout(&y, 0.2, 1);
        assert_eq!(fit.len() + valid.len(), 1_000);
        assert_eq!(valid.iter().filter(|&&i| y[i]).count(), 50);
    }
}
