//! Churn risk: a probability that the customer buys nothing in the horizon, from point-in-time features.
//!
//! Two candidates are fitted on the training rows and compared on a held-out validation share: logistic
//! regression on standardized features with the L2 strength chosen on validation (fitted by Newton's
//! method; linfa-logistic reaches the same optimum, checked in a test, but is far slower), and a
//! random forest (fitted by smartcore, regression trees on the 0/1 label, so the leaf means are
//! probabilities; scored from our own flat copy of its trees, see `flat_forest.rs`), and
//! the mean of the two models' log-odds. The one with the best validation ROC AUC is kept; its scores are
//! calibrated on validation with Platt scaling. Reason codes come from the logistic model either way: each feature's contribution to the
//! log-odds (coefficient × standardized value), so a CRM user sees which tags push the risk up.

mod flat_forest;
mod logistic;
mod platt;

use rand::SeedableRng;
use rand::seq::SliceRandom;
use rand_chacha::ChaCha8Rng;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use flat_forest::FlatForest;
pub use logistic::LogisticScorer;
pub use platt::{Platt, sigmoid};

use crate::eval::classification::roc_auc;
use crate::features::FeatureMatrix;

/// Why a churn model could not be fitted.
#[derive(Debug, thiserror::Error)]
pub enum ChurnError {
    /// Parameters out of range.
    #[error("invalid churn parameters: {0}")]
    Params(String),
    /// The labels hold a single class.
    #[error("churn labels hold a single class ({0} rows): nothing to learn")]
    OneClass(usize),
    /// linfa failed.
    #[error("logistic regression failed: {0}")]
    Logistic(String),
    /// smartcore failed.
    #[error("random forest failed: {0}")]
    Forest(String),
}

/// Hyper-parameters of the churn candidates.
#[derive(Debug, Clone, PartialEq)]
pub struct ChurnParams {
    /// L2 strengths tried for the logistic regression (chosen on validation).
    pub alphas: Vec<f64>,
    /// Iteration cap of the logistic fit.
    pub max_iterations: u64,
    /// Share of training rows held out for validation and calibration.
    pub validation_share: f64,
    /// At most this many rows are held out (ROC AUC and Platt scaling are stable long before).
    pub max_validation_rows: usize,
    /// At most this many rows fit the logistic regression (a stratified-enough random sample above it).
    pub max_logistic_rows: usize,
    /// Whether the random forest is tried.
    pub forest: bool,
    /// Trees in the forest.
    pub forest_trees: usize,
    /// The forest is grown as this many independent parts (seeds `seed`, `seed + 1`, …) fitted in
    /// parallel and averaged: smartcore grows one forest's trees one after another.
    pub forest_parts: usize,
    /// Depth of each tree.
    pub forest_depth: u16,
    /// Minimum rows in a leaf.
    pub forest_min_leaf: usize,
    /// At most this many rows fit the forest.
    pub max_forest_rows: usize,
    /// Seed of every random choice.
    pub seed: u64,
}

impl Default for ChurnParams {
    fn default() -> Self {
        Self {
            alphas: vec![0.01, 0.1, 1.0, 10.0, 100.0],
            max_iterations: 200,
            validation_share: 0.2,
            max_validation_rows: 200_000,
            max_logistic_rows: 100_000,
            forest: true,
            forest_trees: 40,
            forest_parts: 4,
            forest_depth: 8,
            forest_min_leaf: 20,
            max_forest_rows: 30_000,
            seed: 42,
        }
    }
}

impl ChurnParams {
    fn check(&self) -> Result<(), ChurnError> {
        if self.alphas.is_empty() || self.alphas.iter().any(|a| !a.is_finite() || *a < 0.0) {
            return Err(ChurnError::Params("alphas must be a non-empty list of non-negative numbers".into()));
        }
        if !(0.05..=0.5).contains(&self.validation_share) {
            return Err(ChurnError::Params("validation_share must lie in [0.05, 0.5]".into()));
        }
        if self.forest && (self.forest_trees == 0 || self.forest_depth == 0 || self.forest_parts == 0) {
            return Err(ChurnError::Params("forest_trees, forest_depth and forest_parts must be positive".into()));
        }
        if self.max_validation_rows == 0 {
            return Err(ChurnError::Params("max_validation_rows must be positive".into()));
        }
        Ok(())
    }
}

/// Which candidate was kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ChurnChoice {
    /// Logistic regression.
    Logistic,
    /// Random forest.
    Forest,
    /// The mean of the logistic regression's and the forest's log-odds.
    Blend,
}

impl ChurnChoice {
    /// Name for reports and bundles.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Logistic => "logistic",
            Self::Forest => "random_forest",
            Self::Blend => "logistic_forest_blend",
        }
    }
}

/// A fitted churn model.
pub struct ChurnModel {
    /// The logistic regression (always fitted: it gives the reason codes).
    pub logistic: LogisticScorer,
    /// The forest (its parts averaged), when fitted: read out of smartcore once, for fast scoring.
    forest: Option<FlatForest>,
    /// The kept candidate.
    pub choice: ChurnChoice,
    /// Calibration of the kept candidate's scores.
    pub calibration: Platt,
    /// Validation ROC AUC of each candidate tried.
    pub validation_auc: Vec<(String, f64)>,
    /// The L2 strength chosen.
    pub alpha: f64,
}

impl std::fmt::Debug for ChurnModel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ChurnModel")
            .field("choice", &self.choice)
            .field("alpha", &self.alpha)
            .field("validation_auc", &self.validation_auc)
            .finish_non_exhaustive()
    }
}

fn sample(indices: &mut Vec<usize>, max: usize, rng: &mut ChaCha8Rng) {
    if indices.len() > max {
        indices.shuffle(rng);
        indices.truncate(max);
        indices.sort_unstable();
    }
}

/// Fits the forest on `rows` (its parts in parallel with smartcore), reads it into a [`FlatForest`] and
/// returns its validation ROC AUC with it.
fn fit_forest(
    x: &FeatureMatrix,
    y: &[bool],
    rows: &[usize],
    x_valid: &FeatureMatrix,
    y_valid: &[bool],
    params: &ChurnParams,
) -> Result<(f64, FlatForest, Vec<f64>), ChurnError> {
    let x_forest = x.select(rows).to_dense();
    let y_forest: Vec<f64> = rows.iter().map(|&i| f64::from(u8::from(y[i]))).collect();
    let parts = params.forest_parts.min(params.forest_trees);
    let fitted = (0..parts)
        .into_par_iter()
        .map(|part| {
            // Trees split as evenly as the parts allow (40 trees in 4 parts: 10 each).
            let trees = params.forest_trees / parts + usize::from(part < params.forest_trees % parts);
            let forest_params =
                smartcore::ensemble::random_forest_regressor::RandomForestRegressorParameters::default()
                    .with_n_trees(trees)
                    .with_max_depth(params.forest_depth)
                    .with_min_samples_leaf(params.forest_min_leaf)
                    .with_seed(params.seed.wrapping_add(part as u64));
            flat_forest::SmartcoreForest::fit(&x_forest, &y_forest, forest_params)
                .map_err(|e| ChurnError::Forest(e.to_string()))
        })
        .collect::<Result<Vec<_>, ChurnError>>()?;
    let fitted = FlatForest::from_smartcore(&fitted)?;
    let scores = fitted.predict(x_valid)?;
    Ok((roc_auc(y_valid, &scores), fitted, scores))
}

/// The forest's mean leaf value (a churn share) on the log-odds scale.
fn forest_logit(p: f64) -> f64 {
    platt::logit(p.clamp(1e-4, 1.0 - 1e-4))
}

/// Mean of the logistic log-odds and the forest's (from its leaf shares).
fn blend_logits(logistic: &[f64], forest: &[f64]) -> Vec<f64> {
    logistic.iter().zip(forest).map(|(l, &f)| 0.5 * (l + forest_logit(f))).collect()
}

/// Fits the candidates (logistic regression, forest, their blend) and keeps the best on validation.
pub fn fit_churn(x: &FeatureMatrix, y: &[bool], params: &ChurnParams) -> Result<ChurnModel, ChurnError> {
    params.check()?;
    let positives = y.iter().filter(|&&l| l).count();
    if positives == 0 || positives == y.len() {
        return Err(ChurnError::OneClass(y.len()));
    }
    let mut rng = ChaCha8Rng::seed_from_u64(params.seed);
    let mut order: Vec<usize> = (0..y.len()).collect();
    order.shuffle(&mut rng);
    let n_valid =
        (((y.len() as f64) * params.validation_share).round().max(1.0) as usize).min(params.max_validation_rows);
    let mut valid: Vec<usize> = order[..n_valid].to_vec();
    let mut train: Vec<usize> = order[n_valid..].to_vec();
    valid.sort_unstable();
    train.sort_unstable();
    let x_valid = x.select(&valid);
    let y_valid: Vec<bool> = valid.iter().map(|&i| y[i]).collect();

    let mut logistic_rows = train.clone();
    sample(&mut logistic_rows, params.max_logistic_rows, &mut rng);
    let x_train = x.select(&logistic_rows);
    let y_train: Vec<bool> = logistic_rows.iter().map(|&i| y[i]).collect();
    let mut forest_rows = train.clone();
    if params.forest {
        sample(&mut forest_rows, params.max_forest_rows, &mut rng);
    }
    // The logistic regularisation path and the forest are independent fits: run them side by side.
    let (logistic_fits, forest_fit) = rayon::join(
        || {
            LogisticScorer::fit_path(&x_train, &y_train, &params.alphas).map(|path| {
                path.into_iter()
                    .map(|(alpha, scorer)| (roc_auc(&y_valid, &scorer.logits(&x_valid)), alpha, scorer))
                    .collect::<Vec<(f64, f64, LogisticScorer)>>()
            })
        },
        || params.forest.then(|| fit_forest(x, y, &forest_rows, &x_valid, &y_valid, params)),
    );
    let mut best: Option<(f64, f64, LogisticScorer)> = None;
    let mut validation_auc = Vec::new();
    for (auc, alpha, scorer) in logistic_fits? {
        validation_auc.push((format!("logistic(alpha={alpha})"), auc));
        if best.as_ref().is_none_or(|b| auc > b.0) {
            best = Some((auc, alpha, scorer));
        }
    }
    let (logistic_auc, alpha, logistic) = best.ok_or_else(|| ChurnError::Logistic("no alpha tried".into()))?;

    let mut forest = None;
    let mut choice = ChurnChoice::Logistic;
    if let Some(fit) = forest_fit {
        let (forest_auc, fitted, forest_scores) = fit?;
        validation_auc.push(("random_forest".to_owned(), forest_auc));
        // The two models err differently (smooth log-odds against axis-aligned steps): their mean often
        // ranks better than either.
        let blend = blend_logits(&logistic.logits(&x_valid), &forest_scores);
        let blend_auc = roc_auc(&y_valid, &blend);
        validation_auc.push(("logistic_forest_blend".to_owned(), blend_auc));
        let best = logistic_auc.max(forest_auc).max(blend_auc);
        choice = if best == logistic_auc {
            ChurnChoice::Logistic
        } else if best == forest_auc {
            ChurnChoice::Forest
        } else {
            ChurnChoice::Blend
        };
        forest = Some(fitted);
    }
    let mut model = ChurnModel { logistic, forest, choice, calibration: Platt::identity(), validation_auc, alpha };
    let raw = model.raw_scores(&x_valid)?;
    model.calibration = Platt::fit(&raw, &y_valid);
    Ok(model)
}

impl ChurnModel {
    /// Uncalibrated scores on the log-odds scale.
    fn raw_scores(&self, x: &FeatureMatrix) -> Result<Vec<f64>, ChurnError> {
        match (self.choice, &self.forest) {
            (ChurnChoice::Forest, Some(forest)) => Ok(forest.predict(x)?.into_iter().map(forest_logit).collect()),
            (ChurnChoice::Blend, Some(forest)) => Ok(blend_logits(&self.logistic.logits(x), &forest.predict(x)?)),
            _ => Ok(self.logistic.logits(x)),
        }
    }

    /// Calibrated churn probabilities.
    pub fn predict(&self, x: &FeatureMatrix) -> Result<Vec<f64>, ChurnError> {
        Ok(self.raw_scores(x)?.into_iter().map(|s| self.calibration.probability(s)).collect())
    }

    /// The `k` features pushing row `i`'s risk up most: (feature index, log-odds contribution > 0).
    pub fn reasons(&self, x: &FeatureMatrix, i: usize, k: usize) -> Vec<(usize, f64)> {
        self.logistic.top_contributions(x.row(i), k)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Churn driven by recency, with noise; a second feature is pure noise.
    fn synthetic(n: usize, seed: u64) -> (FeatureMatrix, Vec<bool>) {
        use rand::Rng;
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let mut data = Vec::with_capacity(n * 2);
        let mut y = Vec::with_capacity(n);
        for _ in 0..n {
            let recency: f64 = rng.gen_range(0.0..200.0);
            let noise: f64 = rng.gen_range(-1.0..1.0);
            let p = 1.0 / (1.0 + (-(recency - 100.0) / 25.0).exp());
            y.push(rng.gen_bool(p));
            data.push(recency);
            data.push(noise);
        }
        (FeatureMatrix { names: vec!["recency_days".into(), "noise".into()], n_rows: n, data }, y)
    }

    #[test]
    fn the_model_learns_recency_and_names_it_as_the_reason() {
        let (x, y) = synthetic(3_000, 1);
        let params = ChurnParams { forest_trees: 10, ..ChurnParams::default() };
        let model = fit_churn(&x, &y, &params).unwrap();
        let (x_test, y_test) = synthetic(2_000, 2);
        let p = model.predict(&x_test).unwrap();
        assert!(roc_auc(&y_test, &p) > 0.85, "{model:?}");
        assert!(p.iter().all(|p| (0.0..=1.0).contains(p)));
        let old = (0..x_test.n_rows).find(|&i| x_test.row(i)[0] > 180.0).unwrap();
        assert_eq!(model.reasons(&x_test, old, 1)[0].0, 0, "recency pushes an old customer's risk up");
        let mean_p = p.iter().sum::<f64>() / p.len() as f64;
        let rate = y_test.iter().filter(|&&l| l).count() as f64 / y_test.len() as f64;
        assert!((mean_p - rate).abs() < 0.05, "calibrated: mean {mean_p} vs rate {rate}");
    }

    #[test]
    fn newton_and_linfa_reach_the_same_logistic_regression() {
        let (x, y) = synthetic(2_000, 4);
        let newton = LogisticScorer::fit_newton(&x, &y, 1.0).unwrap();
        let linfa = LogisticScorer::fit(&x, &y, 1.0, 500).unwrap();
        for (a, b) in newton.coefficients.iter().zip(&linfa.coefficients) {
            assert!((a - b).abs() < 1e-2, "{newton:?} vs {linfa:?}");
        }
        assert!((newton.intercept - linfa.intercept).abs() < 1e-2, "{newton:?} vs {linfa:?}");
    }

    #[test]
    fn the_warm_started_path_reaches_each_alphas_own_optimum() {
        let (x, y) = synthetic(2_000, 5);
        let alphas = [0.1, 100.0, 3.0];
        let path = LogisticScorer::fit_path(&x, &y, &alphas).unwrap();
        assert_eq!(path.iter().map(|p| p.0).collect::<Vec<_>>(), alphas);
        for (alpha, scorer) in path {
            let alone = LogisticScorer::fit_newton(&x, &y, alpha).unwrap();
            for (a, b) in scorer.coefficients.iter().zip(&alone.coefficients) {
                assert!((a - b).abs() < 1e-7, "alpha {alpha}: {scorer:?} vs {alone:?}");
            }
            assert!((scorer.intercept - alone.intercept).abs() < 1e-7);
        }
    }

    #[test]
    fn one_class_labels_are_refused() {
        let (x, _) = synthetic(50, 3);
        assert!(matches!(fit_churn(&x, &[false; 50], &ChurnParams::default()), Err(ChurnError::OneClass(50))));
        let bad = ChurnParams { alphas: vec![], ..ChurnParams::default() };
        assert!(matches!(fit_churn(&x, &[true; 50], &bad), Err(ChurnError::Params(_))));
    }
}
