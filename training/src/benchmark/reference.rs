//! The reference figures: `results.json` (protocol → method → metric → value) and `results_meta.json`,
//! and the choice of the best reference method for a line. Methods tuned on the test set
//! (`*_best_on_test`) and published parameters (`*_paper_params`) are never the reference to beat.

use std::path::Path;

use serde_json::Value;

use super::BenchmarkError;

/// A reference number with the method that reached it.
#[derive(Debug, Clone, PartialEq)]
pub struct ReferenceFigure {
    /// The method key (e.g. `random/ease_valselected`).
    pub method: String,
    /// The metric's value.
    pub value: f64,
    /// The method's single-threaded fit time in seconds, when recorded.
    pub fit_seconds: Option<f64>,
}

/// The loaded reference results.
#[derive(Debug, Clone)]
pub struct Reference {
    results: Value,
}

fn read_json(path: &Path) -> Result<Value, BenchmarkError> {
    let text =
        std::fs::read_to_string(path).map_err(|source| BenchmarkError::Io { path: path.to_path_buf(), source })?;
    serde_json::from_str(&text).map_err(|source| BenchmarkError::Json { path: path.to_path_buf(), source })
}

impl Reference {
    /// Reads `results.json` from the reference folder.
    pub fn load(dir: &Path) -> Result<Self, BenchmarkError> {
        Ok(Self { results: read_json(&dir.join("results.json"))? })
    }

    fn figure(method: &str, entry: &Value, metric: &str) -> Option<ReferenceFigure> {
        let value = entry.get(metric)?.as_f64()?;
        let fit_seconds = entry.get("fit_time_s").and_then(Value::as_f64);
        Some(ReferenceFigure { method: method.to_owned(), value, fit_seconds })
    }

    /// One method's figure.
    pub fn method(&self, protocol: &str, method: &str, metric: &str) -> Option<ReferenceFigure> {
        Self::figure(method, self.results.get(protocol)?.get(method)?, metric)
    }

    /// The best figure among the protocol's methods whose key starts with `prefix` (higher is better when
    /// `higher`), leaving out methods tuned on the test set and published parameters.
    pub fn best(&self, protocol: &str, prefix: &str, metric: &str, higher: bool) -> Option<ReferenceFigure> {
        let methods = self.results.get(protocol)?.as_object()?;
        methods
            .iter()
            .filter(|(k, _)| k.starts_with(prefix) && !k.ends_with("_best_on_test") && !k.contains("paper"))
            .filter_map(|(k, v)| Self::figure(k, v, metric))
            .filter(|f| f.value.is_finite())
            .reduce(|a, b| {
                let b_better = if higher { b.value > a.value } else { b.value < a.value };
                if b_better { b } else { a }
            })
    }
}
