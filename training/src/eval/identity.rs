//! Pairwise precision, recall and F1 of identity clusters against a truth file
//! (`source,record_key,person_id`), the measure the hand-over's retailer scores with: every pair of
//! records put together is a predicted link; a record absent from our output counts as a singleton.

use rustc_hash::FxHashMap as HashMap;
use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::unify::Unified;

/// A truth file that could not be read.
#[derive(Debug, thiserror::Error)]
pub enum TruthError {
    /// I/O or CSV error.
    #[error("cannot read identity truth {path}: {message}")]
    Read {
        /// The file.
        path: PathBuf,
        /// What failed.
        message: String,
    },
    /// The header lacks a column.
    #[error("identity truth {path}: missing column `{column}` (need source, record_key, person_id)")]
    MissingColumn {
        /// The file.
        path: PathBuf,
        /// The column.
        column: &'static str,
    },
}

/// Pairwise scores.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct PairwiseScores {
    /// Records scored.
    pub records: usize,
    /// Pairs we linked.
    pub predicted_pairs: u64,
    /// Pairs truly the same person.
    pub true_pairs: u64,
    /// Pairs both.
    pub correct_pairs: u64,
    /// correct / predicted.
    pub precision: f64,
    /// correct / true.
    pub recall: f64,
    /// Harmonic mean.
    pub f1: f64,
}

fn pairs(n: u64) -> u64 {
    n * n.saturating_sub(1) / 2
}

/// Scores assignments `(predicted cluster, true cluster)`, one per record.
pub fn pairwise(assignments: &[(u64, u64)]) -> PairwiseScores {
    let mut predicted: HashMap<u64, u64> = HashMap::default();
    let mut truth: HashMap<u64, u64> = HashMap::default();
    let mut both: HashMap<(u64, u64), u64> = HashMap::default();
    for &(p, t) in assignments {
        *predicted.entry(p).or_default() += 1;
        *truth.entry(t).or_default() += 1;
        *both.entry((p, t)).or_default() += 1;
    }
    let predicted_pairs: u64 = predicted.values().map(|&n| pairs(n)).sum();
    let true_pairs: u64 = truth.values().map(|&n| pairs(n)).sum();
    let correct_pairs: u64 = both.values().map(|&n| pairs(n)).sum();
    let ratio = |a: u64, b: u64| if b == 0 { 1.0 } else { a as f64 / b as f64 };
    let precision = ratio(correct_pairs, predicted_pairs);
    let recall = ratio(correct_pairs, true_pairs);
    let f1 = if precision + recall == 0.0 { 0.0 } else { 2.0 * precision * recall / (precision + recall) };
    PairwiseScores { records: assignments.len(), predicted_pairs, true_pairs, correct_pairs, precision, recall, f1 }
}

/// Scores a unify run against a truth file.
pub fn score_identity(unified: &Unified, truth_path: &Path) -> Result<PairwiseScores, TruthError> {
    let read_error = |e: csv::Error| TruthError::Read { path: truth_path.to_owned(), message: e.to_string() };
    let mut reader = csv::Reader::from_path(truth_path).map_err(read_error)?;
    let headers = reader.headers().map_err(read_error)?.clone();
    let column = |name: &'static str| {
        headers
            .iter()
            .position(|h| h == name)
            .ok_or(TruthError::MissingColumn { path: truth_path.to_owned(), column: name })
    };
    let (source, key, person) = (column("source")?, column("record_key")?, column("person_id")?);
    let mut persons: HashMap<String, u64> = HashMap::default();
    let mut assignments = Vec::new();
    let singleton_base = u64::from(u32::MAX) + 1;
    for (i, row) in reader.records().enumerate() {
        let row = row.map_err(read_error)?;
        let qualified = format!("{}:{}", &row[source], row[key].trim());
        let n = persons.len() as u64;
        let t = *persons.entry(row[person].to_owned()).or_insert(n);
        let p = match unified.store.records.get(&qualified) {
            Some(r) => u64::from(unified.identity.customer_of_record[r as usize]),
            None => singleton_base + i as u64,
        };
        assignments.push((p, t));
    }
    Ok(pairwise(&assignments))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pairwise_scores_match_a_hand_count() {
        // Truth: {a,b,c} {d}. Predicted: {a,b} {c,d}.
        let s = pairwise(&[(1, 10), (1, 10), (2, 10), (2, 20)]);
        assert_eq!((s.predicted_pairs, s.true_pairs, s.correct_pairs), (2, 3, 1));
        assert!((s.precision - 0.5).abs() < 1e-12);
        assert!((s.recall - 1.0 / 3.0).abs() < 1e-12);
        assert!((s.f1 - 0.4).abs() < 1e-12);
    }

    #[test]
    fn all_singletons_have_no_pairs() {
        let s = pairwise(&[(1, 1), (2, 2)]);
        assert_eq!((s.precision, s.recall), (1.0, 1.0));
    }
}
