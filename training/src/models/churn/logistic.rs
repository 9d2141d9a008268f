//! Logistic regression on standardized features, fitted with linfa-logistic, kept as plain numbers.

use linfa::prelude::*;
use linfa_logistic::LogisticRegression;
use ndarray::Array1;
use serde::{Deserialize, Serialize};

use super::ChurnError;
use crate::features::FeatureMatrix;

/// A fitted logistic regression: standardization and coefficients; the positive class is churn.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LogisticScorer {
    /// Feature means on the training rows.
    pub means: Vec<f64>,
    /// Feature standard deviations (1 where constant).
    pub stds: Vec<f64>,
    /// Coefficients on standardized features.
    pub coefficients: Vec<f64>,
    /// Intercept.
    pub intercept: f64,
}

impl LogisticScorer {
    /// Fits with L2 strength `alpha`.
    pub fn fit(x: &FeatureMatrix, y: &[bool], alpha: f64, max_iterations: u64) -> Result<Self, ChurnError> {
        let w = x.n_cols();
        let n = x.n_rows.max(1) as f64;
        let mut means = vec![0.0; w];
        for i in 0..x.n_rows {
            for (m, v) in means.iter_mut().zip(x.row(i)) {
                *m += v / n;
            }
        }
        let mut stds = vec![0.0; w];
        for i in 0..x.n_rows {
            for ((s, v), m) in stds.iter_mut().zip(x.row(i)).zip(&means) {
                *s += (v - m).powi(2) / n;
            }
        }
        for s in &mut stds {
            *s = if *s > 1e-12 { s.sqrt() } else { 1.0 };
        }
        let mut z = x.clone();
        standardize(&mut z, &means, &stds);
        let dataset = Dataset::new(z.to_ndarray(), Array1::from(y.to_vec()));
        let fitted = LogisticRegression::default()
            .alpha(alpha)
            .max_iterations(max_iterations)
            .fit(&dataset)
            .map_err(|e| ChurnError::Logistic(e.to_string()))?;
        // linfa calls the larger class "positive"; make churn (true) the positive class.
        let sign = if fitted.labels().pos.class { 1.0 } else { -1.0 };
        Ok(Self {
            means,
            stds,
            coefficients: fitted.params().iter().map(|c| sign * c).collect(),
            intercept: sign * fitted.intercept(),
        })
    }

    /// Log-odds of churn of each row.
    pub fn logits(&self, x: &FeatureMatrix) -> Vec<f64> {
        (0..x.n_rows).map(|i| self.logit(x.row(i))).collect()
    }

    /// Log-odds of one row.
    pub fn logit(&self, row: &[f64]) -> f64 {
        self.intercept
            + row
                .iter()
                .zip(&self.means)
                .zip(&self.stds)
                .zip(&self.coefficients)
                .map(|(((v, m), s), c)| c * (v - m) / s)
                .sum::<f64>()
    }

    /// The `k` largest positive contributions (feature index, coefficient × standardized value).
    pub fn top_contributions(&self, row: &[f64], k: usize) -> Vec<(usize, f64)> {
        let mut contributions: Vec<(usize, f64)> = row
            .iter()
            .zip(&self.means)
            .zip(&self.stds)
            .zip(&self.coefficients)
            .map(|(((v, m), s), c)| c * (v - m) / s)
            .enumerate()
            .filter(|(_, c)| *c > 0.0)
            .collect();
        contributions.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
        contributions.truncate(k);
        contributions
    }
}

fn standardize(x: &mut FeatureMatrix, means: &[f64], stds: &[f64]) {
    let w = x.n_cols();
    for (j, v) in x.data.iter_mut().enumerate() {
        let c = j % w;
        *v = (*v - means[c]) / stds[c];
    }
}
