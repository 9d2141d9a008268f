//! Ranking metrics for recommendations: precision, recall, NDCG and hit rate at k, catalog coverage.
//!
//! Definitions follow `reference/PROTOCOLS.md` "Common rules" so our numbers compare with the Python
//! reference: precision@k = hits/k; recall@k = hits/|truth| (not min(|truth|, k)); NDCG@k with binary gains,
//! discount 1/log2(rank + 1) and the ideal DCG over min(|truth|, k) hits; hit-rate@k = share of users with at
//! least one hit; coverage@k = distinct items recommended to all evaluated users / items with at least one
//! training interaction. Means are over evaluated users (users with a non-empty truth).
//!
//! ```
//! use tagcenter_training::eval::ranking::ranking_metrics;
//! let recs = vec![vec![3, 1, 2]];
//! let truth = vec![vec![1]];
//! let m = ranking_metrics(&recs, &truth, 3, 10).unwrap();
//! assert!((m.ndcg - 1.0 / 3f64.log2()).abs() < 1e-12);
//! ```

use std::collections::HashSet;

use serde::Serialize;

/// Inputs the metrics cannot score.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RankingError {
    /// The recommendation and truth lists are not one per user.
    #[error("{recs} recommendation lists but {truth} truth lists: they must be one per user, same order")]
    LengthMismatch {
        /// Number of recommendation lists.
        recs: usize,
        /// Number of truth lists.
        truth: usize,
    },
    /// k must be at least 1.
    #[error("k must be at least 1")]
    ZeroK,
}

/// Top-k metrics averaged over evaluated users.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct RankingMetrics {
    /// The cut-off k.
    pub k: usize,
    /// Users with a non-empty truth (the ones averaged over).
    pub users: usize,
    /// Mean hits/k.
    pub precision: f64,
    /// Mean hits/|truth|.
    pub recall: f64,
    /// Mean NDCG@k (binary gains).
    pub ndcg: f64,
    /// Standard error of the NDCG mean (sample standard deviation / sqrt(users)).
    pub ndcg_se: f64,
    /// Share of users with at least one hit.
    pub hit_rate: f64,
    /// Distinct recommended items / catalog items with at least one training interaction.
    pub coverage: f64,
}

/// The number of items of `recs[..k]` that are in `truth`.
pub fn hits_at_k(recs: &[u32], truth: &HashSet<u32>, k: usize) -> usize {
    recs.iter().take(k).filter(|i| truth.contains(i)).count()
}

/// NDCG@k of one ranked list with binary gains: DCG = Σ 1/log2(rank + 1) over hits (rank from 1), divided by the
/// ideal DCG of min(|truth|, k) hits. Zero when the truth is empty.
pub fn ndcg_at_k(recs: &[u32], truth: &HashSet<u32>, k: usize) -> f64 {
    let ideal = ideal_dcg(truth.len(), k);
    if ideal == 0.0 {
        return 0.0;
    }
    let dcg: f64 = recs.iter().take(k).enumerate().filter(|(_, i)| truth.contains(i)).map(|(r, _)| discount(r)).sum();
    dcg / ideal
}

/// The ideal DCG@k of a truth of `truth_len` distinct items (the denominator of [`ndcg_at_k`]).
pub fn ideal_dcg(truth_len: usize, k: usize) -> f64 {
    (0..truth_len.min(k)).map(discount).sum()
}

/// [`ndcg_at_k`] against a truth given as sorted distinct items with its [`ideal_dcg`] computed once: the
/// same figure without hashing, for loops that score one user's truth many times.
pub fn ndcg_at_k_sorted(recs: impl Iterator<Item = u32>, truth: &[u32], ideal: f64, k: usize) -> f64 {
    if ideal == 0.0 {
        return 0.0;
    }
    let dcg: f64 =
        recs.take(k).enumerate().filter(|(_, i)| truth.binary_search(i).is_ok()).map(|(r, _)| discount(r)).sum();
    dcg / ideal
}

/// 1/log2(position + 2) for a 0-based position.
fn discount(position: usize) -> f64 {
    1.0 / ((position + 2) as f64).log2()
}

/// Scores one recommendation list per user against one truth list per user (same order). Users with an empty
/// truth are skipped; `n_catalog_items` is the coverage denominator (items with ≥ 1 training interaction).
pub fn ranking_metrics(
    recs: &[Vec<u32>],
    truth: &[Vec<u32>],
    k: usize,
    n_catalog_items: usize,
) -> Result<RankingMetrics, RankingError> {
    if recs.len() != truth.len() {
        return Err(RankingError::LengthMismatch { recs: recs.len(), truth: truth.len() });
    }
    if k == 0 {
        return Err(RankingError::ZeroK);
    }
    let (mut users, mut precision, mut recall, mut ndcg, mut ndcg_sq, mut hit_users) = (0usize, 0.0, 0.0, 0.0, 0.0, 0);
    let mut recommended: HashSet<u32> = HashSet::new();
    for (r, t) in recs.iter().zip(truth) {
        let t: HashSet<u32> = t.iter().copied().collect();
        if t.is_empty() {
            continue;
        }
        users += 1;
        recommended.extend(r.iter().take(k).copied());
        let hits = hits_at_k(r, &t, k);
        precision += hits as f64 / k as f64;
        recall += hits as f64 / t.len() as f64;
        let n = ndcg_at_k(r, &t, k);
        ndcg += n;
        ndcg_sq += n * n;
        hit_users += usize::from(hits > 0);
    }
    let mean = |x: f64| if users == 0 { 0.0 } else { x / users as f64 };
    let ndcg_mean = mean(ndcg);
    let ndcg_se = if users > 1 {
        let var = (ndcg_sq - users as f64 * ndcg_mean * ndcg_mean) / (users - 1) as f64;
        (var.max(0.0) / users as f64).sqrt()
    } else {
        0.0
    };
    let coverage = if n_catalog_items == 0 { 0.0 } else { recommended.len() as f64 / n_catalog_items as f64 };
    Ok(RankingMetrics {
        k,
        users,
        precision: mean(precision),
        recall: mean(recall),
        ndcg: ndcg_mean,
        ndcg_se,
        hit_rate: mean(hit_users as f64),
        coverage,
    })
}

/// The `k` best items by `scores`, best first; ties go to the lower item index (the protocols' stable sort).
/// Items in `exclude` are never returned.
pub fn top_k_by_score(scores: &[f32], k: usize, exclude: &HashSet<u32>) -> Vec<u32> {
    let mut order: Vec<u32> = (0..scores.len() as u32).filter(|i| !exclude.contains(i)).collect();
    let better = |a: &u32, b: &u32| scores[*b as usize].total_cmp(&scores[*a as usize]).then(a.cmp(b));
    if order.len() > k && k > 0 {
        order.select_nth_unstable_by(k - 1, better);
        order.truncate(k);
    }
    order.sort_unstable_by(better);
    order.truncate(k);
    order
}

/// The popularity baseline: per user, the `k` items with the highest `item_popularity` (e.g. distinct training
/// users per item) that are not in that user's `exclude` list (pass empty lists to exclude nothing).
pub fn popularity_recommendations(item_popularity: &[f32], exclude: &[Vec<u32>], k: usize) -> Vec<Vec<u32>> {
    exclude
        .iter()
        .map(|ex| {
            let ex: HashSet<u32> = ex.iter().copied().collect();
            top_k_by_score(item_popularity, k, &ex)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(items: &[u32]) -> HashSet<u32> {
        items.iter().copied().collect()
    }

    #[test]
    fn ndcg_of_a_perfect_list_is_one() {
        assert!((ndcg_at_k(&[1, 2, 3], &set(&[1, 2]), 10) - 1.0).abs() < 1e-12);
    }

    #[test]
    fn ndcg_matches_a_hand_computation() {
        // Hits at ranks 2 and 4; truth of 3 items: IDCG = 1 + 1/log2 3 + 1/2.
        let dcg = 1.0 / 3f64.log2() + 1.0 / 5f64.log2();
        let idcg = 1.0 + 1.0 / 3f64.log2() + 0.5;
        assert!((ndcg_at_k(&[9, 1, 8, 2], &set(&[1, 2, 3]), 10) - dcg / idcg).abs() < 1e-12);
    }

    #[test]
    fn ideal_dcg_is_capped_at_k_hits() {
        // 12 truth items, all 10 recommendations hit: NDCG = 1, recall = 10/12.
        let recs: Vec<u32> = (0..10).collect();
        let truth: Vec<u32> = (0..12).collect();
        let m = ranking_metrics(&[recs], &[truth], 10, 20).unwrap();
        assert!((m.ndcg - 1.0).abs() < 1e-12);
        assert!((m.recall - 10.0 / 12.0).abs() < 1e-12);
        assert!((m.precision - 1.0).abs() < 1e-12);
    }

    #[test]
    fn metrics_average_over_users_with_a_truth() {
        let recs = vec![vec![1, 2, 3, 4, 5, 6, 7, 8, 9, 10], vec![11, 12, 13, 14, 15, 16, 17, 18, 19, 20], vec![1]];
        let truth = vec![vec![2, 30], vec![40], vec![]];
        let m = ranking_metrics(&recs, &truth, 10, 40).unwrap();
        assert_eq!(m.users, 2);
        assert!((m.precision - (0.1 + 0.0) / 2.0).abs() < 1e-12);
        assert!((m.recall - (0.5 + 0.0) / 2.0).abs() < 1e-12);
        assert!((m.hit_rate - 0.5).abs() < 1e-12);
        let user0 = (1.0 / 3f64.log2()) / (1.0 + 1.0 / 3f64.log2());
        assert!((m.ndcg - user0 / 2.0).abs() < 1e-12);
        // Items 1..=20 recommended to evaluated users; the third user's list is not counted.
        assert!((m.coverage - 20.0 / 40.0).abs() < 1e-12);
    }

    #[test]
    fn mismatched_lists_are_an_error() {
        assert_eq!(ranking_metrics(&[vec![1]], &[], 10, 1), Err(RankingError::LengthMismatch { recs: 1, truth: 0 }));
        assert_eq!(ranking_metrics(&[], &[], 0, 1), Err(RankingError::ZeroK));
    }

    #[test]
    fn top_k_breaks_ties_by_lower_index_and_skips_excluded() {
        let scores = [1.0, 3.0, 3.0, 2.0, 3.0];
        assert_eq!(top_k_by_score(&scores, 3, &set(&[2])), vec![1, 4, 3]);
        assert_eq!(top_k_by_score(&scores, 10, &HashSet::new()), vec![1, 2, 4, 3, 0]);
    }

    #[test]
    fn popularity_baseline_excludes_each_users_history() {
        let recs = popularity_recommendations(&[5.0, 9.0, 7.0], &[vec![1], vec![]], 2);
        assert_eq!(recs, vec![vec![2, 0], vec![1, 2]]);
    }
}
