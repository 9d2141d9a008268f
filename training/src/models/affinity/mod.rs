//! Item affinity: item-item similarity, implicit matrix factorisation, popularity and buy-again.
//!
//! Purchases are implicit feedback. One collaborative component is chosen by validation among item-kNN (cosine
//! with shrinkage, top-k neighbours per item), EASE (closed form, dense inverse for up to
//! [`AffinityParams::max_dense_items`] items) and ALS (confidence 1 + α·count), or none; it is blended with a
//! buy-again score (repurchasable items, by how due they are on the customer's own cycle, or by how often the
//! customer bought them, [`BuyAgainScore`], chosen by validation) and popularity
//! (per segment when the customer has one, overall otherwise):
//!
//! score(item) = w_cf · cf(item) / max cf + w_buy_again · buy_again(item) + w_popularity · popularity(item)
//!
//! The model and the weights are picked by NDCG@10 on a validation window carved from the end of the training
//! period ([`fit_affinity`]), cheapest model first: when no item-kNN blend beats buy-again and popularity, EASE
//! and ALS are not fitted ([`AffinityParams::validation_skip_dominated`]). The choice is then refitted on
//! everything before the as-of day. Items a customer already bought
//! are excluded unless they are repurchasable.
//!
//! ```
//! use tagcenter_training::models::affinity::{AffinityParams, Interactions, fit_affinity};
//! // Two customers buy milk (0) weekly; customer 0 also bought a TV (1) once.
//! let events = [(0, 0, 0, 1.0), (0, 0, 7, 1.0), (0, 0, 14, 1.0), (1, 0, 2, 1.0), (1, 0, 9, 1.0), (0, 1, 3, 1.0)];
//! let train = Interactions::from_events(2, 3, &events).unwrap();
//! // No shrinkage of repeat shares: with one TV buyer the catalogue prior would otherwise decide.
//! let params = AffinityParams { repurchase_prior_buyers: 0.0, ..AffinityParams::default() };
//! let model = fit_affinity(&train, &[], 21, &params).unwrap();
//! let recs = model.recommend(&[(0, 0, 1.0), (0, 7, 1.0), (0, 14, 1.0), (1, 3, 1.0)], None, 21, 2);
//! assert_eq!(recs[0].0, 0); // milk is due again; the TV is never offered again
//! assert!(recs.iter().all(|r| r.0 != 1));
//! ```

mod als;
mod buy_again;
mod interactions;
mod similarity;
#[cfg(test)]
mod tests;

use std::time::Instant;

use rand::SeedableRng;
use rand::seq::SliceRandom;
use rand_chacha::ChaCha8Rng;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};
use tagcenter::bundle::RecReason;

use crate::eval::ranking::{ideal_dcg, ndcg_at_k_sorted};

pub use buy_again::BuyAgainScore;
pub use interactions::{Event, Interactions, ItemHistory, summarize_history};
pub use similarity::{ItemGraph, Neighbour};

use als::{AlsConfig, fit_als, fold_in, regularized_gram};
use buy_again::{RepurchaseStats, repurchase_stats};
use similarity::{Dense, EaseShape, cosine_neighbours, ease_columns, gram, weighted_gram};

/// What can go wrong fitting the affinity model.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum AffinityError {
    /// An event names a user outside `0..n_users`.
    #[error("event user {user} is out of range (n_users = {n_users})")]
    UserOutOfRange {
        /// The user index.
        user: u32,
        /// The number of users.
        n_users: usize,
    },
    /// An event names an item outside `0..n_items`.
    #[error("event item {item} is out of range (n_items = {n_items})")]
    ItemOutOfRange {
        /// The item index.
        item: u32,
        /// The number of items.
        n_items: usize,
    },
    /// An event's quantity is NaN or infinite.
    #[error("event (user {user}, item {item}) has a non-finite quantity")]
    BadQuantity {
        /// The user index.
        user: u32,
        /// The item index.
        item: u32,
    },
    /// A hyper-parameter is out of its range.
    #[error("affinity parameter `{name}` {requirement}")]
    InvalidParam {
        /// The field of [`AffinityParams`].
        name: &'static str,
        /// What it must satisfy.
        requirement: &'static str,
    },
    /// The catalogue is too large for the dense item × item matrices.
    #[error("{n_items} items exceed max_dense_items = {max} (dense co-occurrence and EASE need n² memory)")]
    TooManyItems {
        /// Items in the data.
        n_items: usize,
        /// The configured maximum.
        max: usize,
    },
    /// The segment slice is neither empty nor one per user.
    #[error("{segments} segments given for {n_users} users (pass one per user, or none)")]
    SegmentsLength {
        /// Length of the slice.
        segments: usize,
        /// Users in the data.
        n_users: usize,
    },
    /// The EASE system matrix lost positive definiteness (λ too small for the data's scale).
    #[error("EASE matrix is not positive definite at pivot {index}; raise the lambda grid")]
    NotPositiveDefinite {
        /// The failing pivot.
        index: usize,
    },
}

/// Hyper-parameters of [`fit_affinity`]; every field has a documented default and [`AffinityParams::validate`]
/// checks them all in one place.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AffinityParams {
    /// Neighbours kept per item for [`AffinityModel::similar`] (default 50).
    pub similar_k: usize,
    /// Item-kNN neighbourhood sizes tried in validation (default [50, 100, 200]; P4 picked 200).
    pub knn_k_grid: Vec<usize>,
    /// Cosine shrinkage: s = c_ij / (sqrt(n_i n_j) + shrinkage) (default 10; damps pairs seen by few users).
    pub shrinkage: f64,
    /// EASE λ values tried in validation (default [100, 500, 2000]; P4 and P5 picked 500). Empty disables EASE.
    pub ease_lambda_grid: Vec<f64>,
    /// EASE ridge growing with the item's popularity: item i's penalty is λ + this × G[i][i] (default 0, plain
    /// EASE; p / (1 − p) is the dropout-denoising form with dropout p, which damps popular items' weights).
    pub ease_item_penalty: f64,
    /// EASE Gram user weighting: each user's pairs count |u|^(−2·power), |u| the user's distinct items (default
    /// 0, the plain Gram). λ and the ridge's popularity term are read on the weighted Gram's scale (λ is
    /// multiplied by the ratio of the weighted to the plain Gram's mean diagonal), so the λ grid keeps its meaning.
    #[serde(default)]
    pub ease_user_weight_power: f64,
    /// EASE popularity rescaling: target item j's weights are multiplied by (buyers_j + 1)^power (default 0;
    /// below 0 damps popular targets).
    #[serde(default)]
    pub ease_popularity_power: f64,
    /// Half-life in days of a history item's vote in the collaborative score, by the days since its last purchase
    /// at the as-of day; 0 = every item votes fully (default).
    #[serde(default)]
    pub history_half_life_days: f64,
    /// EASE weights kept per target item (default 200; the catalogue size keeps all).
    pub ease_keep: usize,
    /// Largest catalogue for the dense item × item matrices (default 5,000: 200 MB for the Gram).
    pub max_dense_items: usize,
    /// ALS latent factors; 0 leaves ALS out (default 32).
    pub als_factors: usize,
    /// ALS L2 regularisation λ (default 10; the P4/P5 reference optimum sat at the largest value tried, 10).
    pub als_regularization: f64,
    /// ALS confidence slope: confidence = 1 + α·count (default 1).
    pub als_alpha: f64,
    /// ALS sweeps (default 15).
    pub als_iterations: usize,
    /// Conjugate-gradient steps per row and sweep, warm-started (default 3, as in `implicit`); 0 solves each
    /// row exactly by Cholesky, about 5× slower on a retail catalogue.
    pub als_cg_steps: usize,
    /// Repeat share at or above which an item is repurchasable (default 0.10).
    pub repurchase_threshold: f64,
    /// Pseudo-buyers shrinking an item's repeat share toward the catalogue's (default 3: a durable with 20
    /// one-time buyers stays below 0.10 even when most of the catalogue is re-bought).
    pub repurchase_prior_buyers: f64,
    /// Log-space width σ of the due curve before the due date; 2σ after it (default 0.5).
    pub due_width: f64,
    /// Cycle used when no item in the data was bought twice (default 30 days).
    pub default_cycle_days: f32,
    /// Buy-again scores tried in validation, with the blend without a collaborative model; the best one is then
    /// used for the collaborative blends (default [`BuyAgainScore::default_grid`]: the cycle score and twelve
    /// frequency scores). Empty = the cycle score only.
    #[serde(default = "BuyAgainScore::default_grid")]
    pub buy_again_grid: Vec<BuyAgainScore>,
    /// Pseudo-users shrinking a segment's item shares toward the overall shares (default 50).
    pub segment_shrinkage: f64,
    /// Length of the validation window at the end of the training period (default 91 days, a quarter: as long
    /// as the training job's outcome horizon, so validation scores lists over the span they are used for; with
    /// 28 days the choice favoured items due within the month and lost to plain frequency over the quarter).
    pub validation_days: i32,
    /// Validation users sampled at most (seeded; default 20,000).
    pub validation_max_users: usize,
    /// Users the validation candidates are fitted on at most: the validation users plus a seeded sample of the
    /// others (default 200,000). Model choice needs item statistics, which a sample estimates well, and ALS
    /// costs time in proportion to the users; the chosen model is then refitted on everyone.
    pub validation_fit_max_users: usize,
    /// Step of the blend-weight simplex grid (default 0.1: 66 weight triples).
    pub blend_step: f64,
    /// Candidates per source (collaborative, popularity) scored per user (default 200).
    pub candidate_pool: usize,
    /// Popularity counts events (rows) rather than distinct buyers (default false).
    pub popularity_counts_events: bool,
    /// Half-life in days of a purchase's weight in popularity, from the data's last day; 0 = no decay (default).
    pub popularity_half_life_days: f64,
    /// Cost-aware validation: when no item-kNN size improves on buy-again and popularity at any blend weight (its
    /// best blend's NDCG is no higher than the blend without a collaborative model), the costlier collaborative
    /// candidates (EASE, ALS) are not fitted (default true). kNN is the cheapest of them and reads the same co-purchase signal; on retail data where buy-again
    /// dominates this skips the items × items inverse and the ALS sweeps.
    #[serde(default = "yes")]
    pub validation_skip_dominated: bool,
    /// Seed of every random draw (default 42).
    pub seed: u64,
}

fn yes() -> bool {
    true
}

impl Default for AffinityParams {
    fn default() -> Self {
        Self {
            similar_k: 50,
            knn_k_grid: vec![50, 100, 200],
            shrinkage: 10.0,
            ease_lambda_grid: vec![100.0, 500.0, 2000.0],
            ease_item_penalty: 0.0,
            ease_user_weight_power: 0.0,
            ease_popularity_power: 0.0,
            history_half_life_days: 0.0,
            ease_keep: 200,
            max_dense_items: 5_000,
            als_factors: 32,
            als_regularization: 10.0,
            als_alpha: 1.0,
            als_iterations: 15,
            als_cg_steps: 3,
            repurchase_threshold: 0.10,
            repurchase_prior_buyers: 3.0,
            due_width: 0.5,
            default_cycle_days: 30.0,
            buy_again_grid: BuyAgainScore::default_grid(),
            segment_shrinkage: 50.0,
            validation_days: 91,
            validation_max_users: 20_000,
            validation_fit_max_users: 200_000,
            blend_step: 0.1,
            candidate_pool: 200,
            popularity_counts_events: false,
            popularity_half_life_days: 0.0,
            validation_skip_dominated: true,
            seed: 42,
        }
    }
}

impl AffinityParams {
    /// Checks every field; the fit functions call this first.
    pub fn validate(&self) -> Result<(), AffinityError> {
        let check = |ok: bool, name: &'static str, requirement: &'static str| {
            if ok { Ok(()) } else { Err(AffinityError::InvalidParam { name, requirement }) }
        };
        check(self.similar_k >= 1, "similar_k", "must be at least 1")?;
        check(self.knn_k_grid.iter().all(|&k| k >= 1), "knn_k_grid", "entries must be at least 1")?;
        check(self.shrinkage.is_finite() && self.shrinkage >= 0.0, "shrinkage", "must be finite and >= 0")?;
        check(self.ease_lambda_grid.iter().all(|l| l.is_finite() && *l > 0.0), "ease_lambda_grid", "must be > 0")?;
        check(
            self.ease_item_penalty.is_finite() && self.ease_item_penalty >= 0.0,
            "ease_item_penalty",
            "must be finite and >= 0",
        )?;
        check(
            self.ease_user_weight_power.is_finite() && self.ease_user_weight_power >= 0.0,
            "ease_user_weight_power",
            "must be finite and >= 0",
        )?;
        check(self.ease_popularity_power.is_finite(), "ease_popularity_power", "must be finite")?;
        check(
            self.history_half_life_days.is_finite() && self.history_half_life_days >= 0.0,
            "history_half_life_days",
            "must be finite and >= 0",
        )?;
        check(self.ease_keep >= 1, "ease_keep", "must be at least 1")?;
        check(self.max_dense_items >= 1, "max_dense_items", "must be at least 1")?;
        check(
            self.als_regularization.is_finite() && self.als_regularization > 0.0,
            "als_regularization",
            "must be finite and > 0",
        )?;
        check(self.als_alpha.is_finite() && self.als_alpha >= 0.0, "als_alpha", "must be finite and >= 0")?;
        check(self.als_factors == 0 || self.als_iterations >= 1, "als_iterations", "must be at least 1")?;
        check((0.0..=1.0).contains(&self.repurchase_threshold), "repurchase_threshold", "must be in [0, 1]")?;
        check(self.repurchase_prior_buyers >= 0.0, "repurchase_prior_buyers", "must be >= 0")?;
        check(self.due_width.is_finite() && self.due_width > 0.0, "due_width", "must be finite and > 0")?;
        check(self.default_cycle_days >= 1.0, "default_cycle_days", "must be at least 1 day")?;
        check(
            self.buy_again_grid.iter().all(BuyAgainScore::is_valid),
            "buy_again_grid",
            "needs half-lives >= 0 and due shares in [0, 1]",
        )?;
        check(self.segment_shrinkage >= 0.0, "segment_shrinkage", "must be >= 0")?;
        check(self.validation_days >= 1, "validation_days", "must be at least 1")?;
        check(self.validation_max_users >= 1, "validation_max_users", "must be at least 1")?;
        check(
            self.validation_fit_max_users >= self.validation_max_users,
            "validation_fit_max_users",
            "must be at least validation_max_users",
        )?;
        check(
            self.blend_step > 0.0 && self.blend_step <= 1.0 && (1.0 / self.blend_step).fract().abs() < 1e-9,
            "blend_step",
            "must be in (0, 1] and divide 1",
        )?;
        check(
            self.popularity_half_life_days.is_finite() && self.popularity_half_life_days >= 0.0,
            "popularity_half_life_days",
            "must be finite and >= 0",
        )?;
        check(self.candidate_pool >= 1, "candidate_pool", "must be at least 1")
    }
}

/// The collaborative component.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub enum CfModel {
    /// None: buy-again and popularity only.
    None,
    /// Item-kNN with `k` neighbours per target item.
    Knn {
        /// Neighbours per item.
        k: usize,
    },
    /// EASE with ridge `lambda`.
    Ease {
        /// The λ.
        lambda: f64,
    },
    /// ALS with the params' factors, regularisation and α.
    Als,
}

/// The chosen component and blend weights (they sum to 1).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct BlendChoice {
    /// The collaborative model.
    pub model: CfModel,
    /// Weight of the collaborative score (normalised by the user's maximum).
    pub w_cf: f64,
    /// Weight of the buy-again score.
    pub w_buy_again: f64,
    /// Weight of (segment) popularity (normalised by the maximum).
    pub w_popularity: f64,
    /// How the buy-again score is computed.
    #[serde(default)]
    pub buy_again: BuyAgainScore,
}

impl BlendChoice {
    /// Used when there is nothing to validate on: kNN k = 100 with a little buy-again and popularity.
    pub fn fallback() -> Self {
        Self {
            model: CfModel::Knn { k: 100 },
            w_cf: 0.6,
            w_buy_again: 0.3,
            w_popularity: 0.1,
            buy_again: BuyAgainScore::Cycle,
        }
    }
}

/// One row of the validation table: a model and its best weights.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct ValidationRow {
    /// The model and its best blend.
    pub choice: BlendChoice,
    /// Mean validation NDCG@10 of that blend.
    pub ndcg: f64,
    /// Mean validation NDCG@10 of the model alone (w_cf = 1; popularity alone for `CfModel::None`).
    pub ndcg_alone: f64,
    /// Seconds to fit the model on the validation-train part.
    pub fit_seconds: f64,
}

/// The fitted affinity model: plain data for the bundle.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AffinityModel {
    /// Number of items.
    pub n_items: usize,
    /// The component and weights in use.
    pub choice: BlendChoice,
    /// Cosine neighbours per item, most similar first (for [`AffinityModel::similar`]).
    pub neighbours: ItemGraph,
    /// Scoring graph for kNN/EASE, source item → (target item, weight); empty otherwise.
    pub scoring: ItemGraph,
    /// ALS factors per item (0 when ALS is not in use).
    pub n_factors: usize,
    /// ALS item factors, row-major `n_items × n_factors` (empty unless ALS).
    pub item_factors: Vec<f64>,
    /// YᵀY + λI of the item factors, for folding a user in (empty unless ALS).
    pub factor_gram: Vec<f64>,
    /// ALS confidence slope α.
    pub als_alpha: f64,
    /// Distinct buyers per item / the maximum.
    pub popularity: Vec<f32>,
    /// Per segment: shrunk buyer shares / the maximum.
    pub segment_popularity: Vec<Vec<f32>>,
    /// Items by descending popularity, overall and per segment.
    pub popularity_order: PopularityOrder,
    /// Whether customers buy the item again.
    pub repurchasable: Vec<bool>,
    /// Shrunk share of buyers who bought the item on 2+ days.
    pub repeat_share: Vec<f32>,
    /// Typical repurchase cycle in days.
    pub cycle_days: Vec<f32>,
    /// Log-space width of the due curve.
    pub due_width: f64,
    /// Candidates per source scored per user.
    pub candidate_pool: usize,
    /// Half-life in days of a history item's collaborative vote (0 = none; see [`AffinityParams`]).
    #[serde(default)]
    pub history_half_life_days: f64,
    /// Validation table (one row per model tried; empty when not validated).
    pub validation: Vec<ValidationRow>,
}

/// One customer's recommendations: (item, blended score, main reason), best first.
pub type Recommendations = Vec<(u32, f32, RecReason)>;

/// Parts that do not depend on the collaborative model.
struct Shared {
    popularity: Vec<f32>,
    segment_popularity: Vec<Vec<f32>>,
    popularity_order: PopularityOrder,
    repurchase: RepurchaseStats,
}

fn check_inputs(train: &Interactions, segments: &[u16], params: &AffinityParams) -> Result<(), AffinityError> {
    params.validate()?;
    if !segments.is_empty() && segments.len() != train.n_users {
        return Err(AffinityError::SegmentsLength { segments: segments.len(), n_users: train.n_users });
    }
    if train.n_items > params.max_dense_items {
        return Err(AffinityError::TooManyItems { n_items: train.n_items, max: params.max_dense_items });
    }
    Ok(())
}

/// Calls `add(item, weight)` once per item bought by `user`, in item order: weight 1 per buyer, or the number of
/// events with [`AffinityParams::popularity_counts_events`], each purchase weighted by `decay[end − day]`
/// (1 beyond the table; a buyer counts by the last purchase).
fn popularity_weights(
    train: &Interactions,
    user: usize,
    end: i32,
    params: &AffinityParams,
    decay: &[f64],
    mut add: impl FnMut(u32, f64),
) {
    let decay = |day: i32| decay.get(end.saturating_sub(day) as usize).copied().unwrap_or(1.0);
    let (items, days) = train.user_item_days(user);
    let mut start = 0;
    while start < items.len() {
        // Events of an item come by day: the last one decides a buyer's weight (or they add up).
        let item = items[start];
        let end = start + items[start..].iter().take_while(|&&i| i == item).count();
        let weight = if params.popularity_counts_events {
            days[start..end].iter().fold(0.0, |sum, &d| sum + decay(d))
        } else {
            decay(days[end - 1])
        };
        add(item, weight);
        start = end;
    }
}

fn fit_shared(train: &Interactions, segments: &[u16], params: &AffinityParams) -> Shared {
    let n = train.n_items;
    // Recency weights 0.5^(age / half-life) by age in days from the day after the data's last event.
    let h = params.popularity_half_life_days;
    let (end, decay) = if h > 0.0 {
        let (first, last) = train.day_range().unwrap_or((i32::MAX, i32::MIN));
        let span = if first <= last { (last - first + 1) as usize } else { 0 };
        (last.saturating_add(1), (0..=span).map(|age| 0.5f64.powf(age as f64 / h)).collect())
    } else {
        (0, Vec::new())
    };
    let mut buyers = vec![0.0f64; n];
    let n_segments = segments.iter().filter(|&&s| s != u16::MAX).map(|&s| usize::from(s) + 1).max().unwrap_or(0);
    let mut seg_buyers = vec![vec![0.0f64; n]; n_segments];
    let mut seg_users = vec![0.0f64; n_segments];
    let mut active = 0.0f64;
    for u in 0..train.n_users {
        if train.user_items(u).is_empty() {
            continue;
        }
        active += 1.0;
        let seg = segments.get(u).copied().filter(|&s| s != u16::MAX).map(usize::from);
        if let Some(s) = seg {
            seg_users[s] += 1.0;
        }
        popularity_weights(train, u, end, params, &decay, |i, w| {
            buyers[i as usize] += w;
            if let Some(s) = seg {
                seg_buyers[s][i as usize] += w;
            }
        });
    }
    let overall_share: Vec<f64> = buyers.iter().map(|b| if active > 0.0 { b / active } else { 0.0 }).collect();
    let m = params.segment_shrinkage;
    let segment_popularity: Vec<Vec<f32>> = (0..n_segments)
        .map(|s| {
            let shares: Vec<f64> =
                (0..n).map(|i| (seg_buyers[s][i] + m * overall_share[i]) / (seg_users[s] + m).max(1e-12)).collect();
            normalise(&shares)
        })
        .collect();
    let popularity = normalise(&buyers);
    Shared {
        popularity_order: PopularityOrder::of(&popularity, &segment_popularity),
        popularity,
        segment_popularity,
        repurchase: repurchase_stats(
            train,
            params.repurchase_prior_buyers,
            params.repurchase_threshold,
            params.default_cycle_days,
        ),
    }
}

fn normalise(values: &[f64]) -> Vec<f32> {
    let max = values.iter().copied().fold(0.0f64, f64::max);
    values.iter().map(|&v| if max > 0.0 { (v / max) as f32 } else { 0.0 }).collect()
}

/// Items by descending popularity (ties to the lower index), overall and per segment: each user's popularity
/// candidates are the first open items of one of these lists.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct PopularityOrder {
    /// By overall popularity.
    pub overall: Vec<u32>,
    /// By each segment's popularity.
    pub segments: Vec<Vec<u32>>,
}

impl PopularityOrder {
    fn of(popularity: &[f32], segment_popularity: &[Vec<f32>]) -> Self {
        let sorted = |scores: &[f32]| {
            let mut order: Vec<u32> = (0..scores.len() as u32).collect();
            order.sort_unstable_by(|a, b| scores[*b as usize].total_cmp(&scores[*a as usize]).then(a.cmp(b)));
            order
        };
        Self { overall: sorted(popularity), segments: segment_popularity.iter().map(|s| sorted(s)).collect() }
    }
}

/// A fitted collaborative scorer.
enum Scorer {
    None,
    Graph(ItemGraph),
    Factors { f: usize, items: Vec<f64>, gram: Vec<f64>, alpha: f64 },
}

fn als_config(params: &AffinityParams) -> AlsConfig {
    AlsConfig {
        factors: params.als_factors,
        regularization: params.als_regularization,
        alpha: params.als_alpha,
        iterations: params.als_iterations,
        cg_steps: params.als_cg_steps,
        seed: params.seed,
    }
}

fn count_rows(train: &Interactions) -> Vec<Vec<(u32, f32)>> {
    (0..train.n_users).map(|u| train.user_history(u).iter().map(|h| (h.item, h.events as f32)).collect()).collect()
}

fn fit_scorer(
    model: CfModel,
    train: &Interactions,
    g: &Dense,
    params: &AffinityParams,
) -> Result<Scorer, AffinityError> {
    Ok(match model {
        CfModel::None => Scorer::None,
        CfModel::Knn { k } => {
            Scorer::Graph(ItemGraph::from_rows(cosine_neighbours(g, k, params.shrinkage)).transpose())
        }
        CfModel::Ease { lambda } => {
            let shape =
                EaseShape { item_penalty: params.ease_item_penalty, popularity_power: params.ease_popularity_power };
            let buyers: Vec<f64> = (0..g.n).map(|i| g.at(i, i)).collect();
            let columns = if params.ease_user_weight_power > 0.0 {
                let w = weighted_gram(&train.distinct_rows(), train.n_items, params.ease_user_weight_power);
                let mean_diag = |m: &Dense| (0..m.n).map(|i| m.at(i, i)).sum::<f64>() / m.n.max(1) as f64;
                let plain = mean_diag(g);
                let ratio = if plain > 0.0 { mean_diag(&w) / plain } else { 1.0 };
                ease_columns(&w, lambda * ratio, shape, &buyers, params.ease_keep)?
            } else {
                ease_columns(g, lambda, shape, &buyers, params.ease_keep)?
            };
            Scorer::Graph(ItemGraph::from_rows(columns).transpose())
        }
        CfModel::Als => {
            let cfg = als_config(params);
            let fitted = fit_als(&count_rows(train), train.n_items, &cfg);
            let gram = regularized_gram(&fitted.items, cfg.factors, cfg.regularization);
            Scorer::Factors { f: cfg.factors, items: fitted.items, gram, alpha: cfg.alpha }
        }
    })
}

/// One candidate item of one user, with its component scores.
#[derive(Debug, Clone, Copy)]
struct Candidate {
    item: u32,
    cf: f32,
    buy_again: f32,
    popularity: f32,
}

/// Borrowed view of everything needed to score a user (shared by validation and [`AffinityModel::recommend`]).
struct UserScorer<'a> {
    n_items: usize,
    scorer: ScorerRef<'a>,
    popularity: &'a [f32],
    segment_popularity: &'a [Vec<f32>],
    popularity_order: &'a PopularityOrder,
    repurchasable: &'a [bool],
    cycle_days: &'a [f32],
    due_width: f64,
    buy_again: BuyAgainScore,
    pool: usize,
    history_half_life: f64,
}

enum ScorerRef<'a> {
    None,
    Graph(&'a ItemGraph),
    Factors { f: usize, items: &'a [f64], gram: &'a [f64], alpha: f64 },
}

impl<'a> ScorerRef<'a> {
    fn of(s: &'a Scorer) -> Self {
        match s {
            Scorer::None => Self::None,
            Scorer::Graph(g) => Self::Graph(g),
            Scorer::Factors { f, items, gram, alpha } => Self::Factors { f: *f, items, gram, alpha: *alpha },
        }
    }
}

impl UserScorer<'_> {
    /// Candidates (top `pool` by collaborative score, top `pool` by popularity, every due repurchasable item)
    /// with component scores; excluded items (bought, not repurchasable) are left out. The flag says whether
    /// segment popularity was used. Works in the thread's [`Scratch`], so a user costs in proportion to their
    /// history's neighbours and the pool, not to the catalogue (except with ALS, whose scores are dense).
    /// `k` is the length of the lists that will be ranked from them.
    fn candidates(
        &self,
        history: &[ItemHistory],
        segment: Option<u16>,
        as_of: i32,
        k: usize,
    ) -> (Vec<Candidate>, bool) {
        SCRATCH.with(|scratch| self.candidates_in(&mut scratch.borrow_mut(), history, segment, as_of, k))
    }

    fn candidates_in(
        &self,
        scratch: &mut Scratch,
        history: &[ItemHistory],
        segment: Option<u16>,
        as_of: i32,
        k: usize,
    ) -> (Vec<Candidate>, bool) {
        let n = self.n_items;
        scratch.fit(n);
        let Scratch { cf, state, touched } = scratch;
        let history: Vec<&ItemHistory> = history.iter().filter(|h| (h.item as usize) < n).collect();
        // Buy-again scores of the repurchasable history (sorted by item, like the history).
        let mut buy_again: Vec<(u32, f32)> = Vec::new();
        for h in &history {
            let i = h.item as usize;
            state[i] |= HISTORY;
            if self.repurchasable[i] {
                buy_again.push((h.item, self.buy_again.score(h, self.cycle_days[i], as_of, self.due_width)));
            } else {
                state[i] |= EXCLUDED;
            }
        }
        match &self.scorer {
            ScorerRef::None => {}
            ScorerRef::Graph(g) => {
                for h in &history {
                    let vote = if self.history_half_life > 0.0 {
                        0.5f32.powf((as_of.saturating_sub(h.last_day).max(0) as f64 / self.history_half_life) as f32)
                    } else {
                        1.0
                    };
                    for e in g.row(h.item) {
                        let i = e.item as usize;
                        if state[i] & TOUCHED == 0 {
                            state[i] |= TOUCHED;
                            touched.push(e.item);
                        }
                        cf[i] += e.score * vote;
                    }
                }
            }
            ScorerRef::Factors { f, items, gram, alpha } => {
                if !history.is_empty() {
                    let mut x = vec![0.0f64; *f];
                    fold_in(gram, items, *f, *alpha, history.iter().map(|h| (h.item, h.events as f32)), &mut x);
                    for (i, y) in items.chunks_exact(*f).enumerate().take(n) {
                        cf[i] = als::dot(y, &x) as f32;
                        state[i] |= TOUCHED;
                        touched.push(i as u32);
                    }
                }
            }
        }
        let open = |i: u32| state[i as usize] & EXCLUDED == 0;
        let max_cf = touched.iter().filter(|&&i| open(i)).map(|&i| cf[i as usize]).fold(0.0f32, f32::max);
        let scale = if max_cf > 0.0 { 1.0 / max_cf } else { 0.0 };
        let seg_pop = segment.and_then(|s| self.segment_popularity.get(usize::from(s)));
        let popularity: &[f32] = seg_pop.map_or(self.popularity, Vec::as_slice);
        // Top `pool` open items by collaborative score (items never touched score 0 and need no ranking).
        let mut chosen: Vec<u32> =
            touched.iter().copied().filter(|&i| open(i) && cf[i as usize] * scale > 0.0).collect();
        let better = |a: &u32, b: &u32| cf[*b as usize].total_cmp(&cf[*a as usize]).then(a.cmp(b));
        if chosen.len() > self.pool {
            chosen.select_nth_unstable_by(self.pool - 1, better);
            chosen.truncate(self.pool);
        }
        // Top `pool` open items by popularity, from the precomputed order, and the open history.
        let order = match (seg_pop, segment) {
            (Some(_), Some(s)) => &self.popularity_order.segments[usize::from(s)],
            _ => &self.popularity_order.overall,
        };
        // Without a collaborative scorer, items outside the history score by popularity alone, in this order
        // for any blend: the first `k` of them (and any tying the k-th within float rounding) are all a
        // top-k list can use. With a scorer, a pooled item may carry a collaborative score: keep the pool.
        let no_scorer = matches!(self.scorer, ScorerRef::None);
        let (mut taken, mut outside_history, mut kth) = (0usize, 0usize, f32::INFINITY);
        for &i in order {
            if taken == self.pool {
                break;
            }
            if !open(i) {
                continue;
            }
            if no_scorer && state[i as usize] & HISTORY == 0 {
                let p = popularity[i as usize];
                if outside_history >= k && p < kth * (1.0 - 1e-6) {
                    break;
                }
                outside_history += 1;
                kth = p;
            }
            chosen.push(i);
            taken += 1;
        }
        chosen.extend(history.iter().map(|h| h.item).filter(|&i| open(i)));
        chosen.sort_unstable();
        chosen.dedup();
        let out = chosen
            .iter()
            .map(|&item| {
                let i = item as usize;
                let cf_score = if state[i] & TOUCHED != 0 { cf[i] * scale } else { 0.0 };
                let ba = buy_again.binary_search_by_key(&item, |b| b.0).map_or(0.0, |k| buy_again[k].1);
                Candidate { item, cf: cf_score, buy_again: ba, popularity: popularity[i] }
            })
            .collect();
        // Leave the scratch clean for the thread's next user.
        for &i in touched.iter() {
            cf[i as usize] = 0.0;
            state[i as usize] = 0;
        }
        touched.clear();
        history.iter().for_each(|h| state[h.item as usize] = 0);
        (out, seg_pop.is_some())
    }
}

impl UserScorer<'_> {
    /// Replaces the buy-again scores of `cands` (made from `history` at `as_of`) by those of `score`.
    fn rescore(&self, cands: &mut [Candidate], history: &[ItemHistory], as_of: i32, score: BuyAgainScore) {
        for c in cands.iter_mut() {
            let i = c.item as usize;
            if !self.repurchasable[i] {
                continue;
            }
            if let Ok(k) = history.binary_search_by_key(&c.item, |h| h.item) {
                c.buy_again = score.score(&history[k], self.cycle_days[i], as_of, self.due_width);
            }
        }
    }
}

/// Validation users whose NDCGs one task sums.
const VALIDATION_CHUNK_USERS: usize = 512;

/// `Scratch::state` bit: the item was bought and is not repurchasable.
const EXCLUDED: u8 = 1;
/// `Scratch::state` bit: the item has a collaborative score.
const TOUCHED: u8 = 2;
/// `Scratch::state` bit: the item is in the user's history.
const HISTORY: u8 = 4;

/// Item-indexed working arrays of one thread's candidate generation; all zero between users.
#[derive(Default)]
struct Scratch {
    cf: Vec<f32>,
    state: Vec<u8>,
    touched: Vec<u32>,
}

impl Scratch {
    fn fit(&mut self, n_items: usize) {
        if self.cf.len() < n_items {
            self.cf.resize(n_items, 0.0);
            self.state.resize(n_items, 0);
        }
    }
}

thread_local! {
    static SCRATCH: std::cell::RefCell<Scratch> = std::cell::RefCell::default();
}

/// Blends candidates with `w` and returns the top `k` with reasons; ties go to the lower item index, and a
/// tiny popularity term orders items the blend cannot tell apart.
fn rank(candidates: &[Candidate], w: &BlendChoice, k: usize, in_segment: bool) -> Vec<(u32, f32, RecReason)> {
    let better = |a: &(f32, &Candidate), b: &(f32, &Candidate)| b.0.total_cmp(&a.0).then(a.1.item.cmp(&b.1.item));
    let scored = top_k(candidates.iter().map(|c| (blend_score(c, w), c)), k, better);
    let popular = if in_segment { RecReason::PopularInSegment } else { RecReason::Popular };
    scored
        .into_iter()
        .map(|(s, c)| {
            let parts = [
                (w.w_buy_again * f64::from(c.buy_again), RecReason::BoughtBeforeAndDue),
                (w.w_cf * f64::from(c.cf), RecReason::SimilarTo),
                (w.w_popularity * f64::from(c.popularity), popular),
            ];
            let reason = parts.iter().fold((0.0, popular), |best, p| if p.0 > best.0 { *p } else { best }).1;
            (c.item, s, reason)
        })
        .collect()
}

/// A candidate's blended score under `w`; a tiny popularity term orders items the blend cannot tell apart.
fn blend_score(c: &Candidate, w: &BlendChoice) -> f32 {
    (w.w_cf * f64::from(c.cf) + w.w_buy_again * f64::from(c.buy_again) + w.w_popularity * f64::from(c.popularity))
        as f32
        + 1e-6 * c.popularity
}

/// The items of `rank(candidates, w, k, _)` in the same order, into `out` (score, item): no reasons and no
/// allocation, for the validation's inner loop, which ranks every user once per weight triple.
fn top_items(candidates: &[Candidate], w: &BlendChoice, k: usize, out: &mut Vec<(f32, u32)>) {
    let better = |a: &(f32, u32), b: &(f32, u32)| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1));
    top_k_into(candidates.iter().map(|c| (blend_score(c, w), c.item)), k, better, out);
}

/// The sum of a candidate's component scores: a cheap guess at how well it ranks under any blend.
fn strength(c: &Candidate) -> f32 {
    c.cf + c.buy_again + c.popularity
}

/// The `k` best of `items` under `better` (a total order, `Less` = ranks first), best first: one pass keeping a
/// sorted buffer of `k`, so most items cost one comparison (the validation ranks every user once per weight
/// triple, where a full selection dominated the fit).
fn top_k<T: Copy>(items: impl Iterator<Item = T>, k: usize, better: impl Fn(&T, &T) -> std::cmp::Ordering) -> Vec<T> {
    let mut top = Vec::with_capacity(k + 1);
    top_k_into(items, k, better, &mut top);
    top
}

/// [`top_k`] into a reused buffer (cleared first).
fn top_k_into<T: Copy>(
    items: impl Iterator<Item = T>,
    k: usize,
    better: impl Fn(&T, &T) -> std::cmp::Ordering,
    top: &mut Vec<T>,
) {
    top.clear();
    if k == 0 {
        return;
    }
    for x in items {
        if top.len() == k && better(&x, &top[k - 1]).is_ge() {
            continue;
        }
        let at = top.partition_point(|y| better(y, &x).is_lt());
        top.insert(at, x);
        top.truncate(k);
    }
}

/// The weight triples (w_cf, w_buy_again, w_popularity) on the simplex with the params' step, w_cf = 1 first
/// (so ties keep the plainer blend); only w_cf = 0 when there is no collaborative model.
fn weight_grid(model: CfModel, step: f64, buy_again: BuyAgainScore) -> Vec<BlendChoice> {
    let n = (1.0 / step).round() as usize;
    let mut out = Vec::new();
    for a in (0..=n).rev() {
        if model == CfModel::None && a > 0 {
            continue;
        }
        for b in 0..=n - a {
            let (w_cf, w_buy_again) = (a as f64 / n as f64, b as f64 / n as f64);
            let w_popularity = (1.0 - w_cf - w_buy_again).max(0.0);
            out.push(BlendChoice { model, w_cf, w_buy_again, w_popularity, buy_again });
        }
    }
    out
}

/// The models tried in validation, simplest first (ties keep the earlier one).
fn model_grid(params: &AffinityParams, n_items: usize) -> Vec<CfModel> {
    let mut out = vec![CfModel::None];
    out.extend(params.knn_k_grid.iter().map(|&k| CfModel::Knn { k }));
    if n_items <= params.max_dense_items {
        out.extend(params.ease_lambda_grid.iter().map(|&lambda| CfModel::Ease { lambda }));
    }
    if params.als_factors > 0 {
        out.push(CfModel::Als);
    }
    out
}

/// Scores every model of the grid and every weight triple on `truth` (per user: the items to find, bought in
/// the validation window) with `train` as history, and returns the best choice (highest mean NDCG@10) and one
/// row per model. Use this directly when the validation split is made elsewhere (e.g. a random split).
pub fn select_blend(
    train: &Interactions,
    segments: &[u16],
    as_of_day: i32,
    truth: &[(u32, Vec<u32>)],
    params: &AffinityParams,
) -> Result<(BlendChoice, Vec<ValidationRow>), AffinityError> {
    select_blend_folds(&[ValidationFold { train, as_of_day, truth }], segments, params)
}

/// One validation split: the history to fit on and recommend from, its as-of day, and the items to find.
#[derive(Debug, Clone, Copy)]
pub struct ValidationFold<'a> {
    /// The fit part.
    pub train: &'a Interactions,
    /// The as-of day of the recommendations.
    pub as_of_day: i32,
    /// Per user, the items to find.
    pub truth: &'a [(u32, Vec<u32>)],
}

/// [`select_blend`] over several validation splits: each model and weight triple is scored by its mean
/// validation NDCG@10 averaged over the folds (each fold's users weigh equally within it), which damps the
/// noise of one split when candidates are close. Rows report the fold-averaged figures and fit times summed.
pub fn select_blend_folds(
    folds: &[ValidationFold<'_>],
    segments: &[u16],
    params: &AffinityParams,
) -> Result<(BlendChoice, Vec<ValidationRow>), AffinityError> {
    select_blend_folds_cached(folds, segments, params, &mut ScorerCache::default())
}

/// Fitted validation scorers kept between calls of [`select_blend_folds_cached`] on the same folds, so param
/// variants that differ only in how candidates are scored (popularity, history half-life, blend) do not refit
/// the collaborative model. Holds the most recent fits, a few per fold; one cache belongs to one list of folds.
#[derive(Default)]
pub struct ScorerCache {
    entries: Vec<(String, Scorer)>,
}

impl ScorerCache {
    /// Fits kept at most per fold (the oldest is dropped first).
    const PER_FOLD: usize = 2;

    /// What a fitted scorer depends on besides the fold's data.
    fn key(fold: usize, model: CfModel, p: &AffinityParams) -> String {
        format!(
            "{fold}/{model:?}/{}/{}/{}/{}/{}/{}/{}/{}/{}/{}/{}",
            p.shrinkage,
            p.ease_item_penalty,
            p.ease_user_weight_power,
            p.ease_popularity_power,
            p.ease_keep,
            p.als_factors,
            p.als_regularization,
            p.als_alpha,
            p.als_iterations,
            p.als_cg_steps,
            p.seed
        )
    }
}

/// [`select_blend_folds`] reusing (and filling) `cache` for the collaborative fits.
pub fn select_blend_folds_cached(
    folds: &[ValidationFold<'_>],
    segments: &[u16],
    params: &AffinityParams,
    cache: &mut ScorerCache,
) -> Result<(BlendChoice, Vec<ValidationRow>), AffinityError> {
    let Some(first) = folds.first() else { return Ok((BlendChoice::fallback(), Vec::new())) };
    let started = Instant::now();
    let mut prepared = Vec::with_capacity(folds.len());
    for fold in folds {
        let train = fold.train;
        check_inputs(train, segments, params)?;
        let (shared, g) =
            rayon::join(|| fit_shared(train, segments, params), || gram(&train.distinct_rows(), train.n_items));
        let mut users: Vec<&(u32, Vec<u32>)> =
            fold.truth.iter().filter(|(u, t)| (*u as usize) < train.n_users && !t.is_empty()).collect();
        if users.len() > params.validation_max_users {
            users.shuffle(&mut ChaCha8Rng::seed_from_u64(params.seed));
            users.truncate(params.validation_max_users);
        }
        let histories: Vec<Vec<ItemHistory>> = users.iter().map(|(u, _)| train.user_history(*u as usize)).collect();
        // Per user: the truth as a sorted set, and its ideal DCG@10.
        let truths: Vec<(Vec<u32>, f64)> = users
            .iter()
            .map(|(_, t)| {
                let mut t = t.clone();
                t.sort_unstable();
                t.dedup();
                let ideal = ideal_dcg(t.len(), 10);
                (t, ideal)
            })
            .collect();
        prepared.push((fold, shared, g, users, histories, truths));
    }
    tracing::debug!(seconds = started.elapsed().as_secs_f64(), "affinity validation prepared");
    let mut rows = Vec::new();
    let mut best: Option<(f64, BlendChoice)> = None;
    let models = model_grid(params, first.train.n_items);
    let last_knn = models.iter().rposition(|m| matches!(m, CfModel::Knn { .. }));
    for (m, model) in models.into_iter().enumerate() {
        // Cost-aware stop: past the kNN sizes, skip the costlier models when no kNN row beat the plain blend (the
        // first row, `CfModel::None`).
        let plain_ndcg = rows.first().map_or(f64::INFINITY, |r: &ValidationRow| r.ndcg);
        if params.validation_skip_dominated
            && last_knn.is_some_and(|l| m > l)
            && rows.iter().all(|r| r.ndcg <= plain_ndcg)
        {
            tracing::debug!(?model, "affinity validation: skipped (item-kNN adds nothing to buy-again and popularity)");
            continue;
        }
        // Staged: the buy-again scores are compared in the blend without a collaborative model (the first row);
        // the collaborative blends use the winner.
        let variants: Vec<BuyAgainScore> = match rows.first() {
            Some(r) => vec![r.choice.buy_again],
            None if params.buy_again_grid.is_empty() => vec![BuyAgainScore::Cycle],
            None => {
                // Counting lines is counting days when no validation user bought an item twice on one day.
                let lines_differ = prepared.iter().any(|p| p.4.iter().flatten().any(|h| h.events != h.distinct_days));
                let mut grid = params.buy_again_grid.clone();
                grid.retain(|v| lines_differ || !matches!(v, BuyAgainScore::Frequency { lines: true, .. }));
                grid
            }
        };
        let per_variant = weight_grid(model, params.blend_step, BuyAgainScore::Cycle).len();
        let grid: Vec<BlendChoice> = variants.iter().flat_map(|&v| weight_grid(model, params.blend_step, v)).collect();
        let mut means = vec![0.0f64; grid.len()];
        let mut fit_seconds = 0.0;
        for (f, (fold, shared, g, users, histories, truths)) in prepared.iter().enumerate() {
            let started = Instant::now();
            let key = ScorerCache::key(f, model, params);
            let at = match cache.entries.iter().position(|e| e.0 == key) {
                Some(at) => Some(at),
                None if model == CfModel::None => None,
                None => {
                    let scorer = fit_scorer(model, fold.train, g, params)?;
                    if cache.entries.len() >= ScorerCache::PER_FOLD * folds.len() {
                        cache.entries.remove(0);
                    }
                    cache.entries.push((key, scorer));
                    Some(cache.entries.len() - 1)
                }
            };
            let scorer = at.map_or(&Scorer::None, |at| &cache.entries[at].1);
            fit_seconds += started.elapsed().as_secs_f64();
            let view = user_scorer(shared, ScorerRef::of(scorer), fold.train.n_items, params);
            // Users are summed in fixed chunks, then the chunks in order: the means (and so the choice) do
            // not depend on how rayon splits the work.
            let indices: Vec<usize> = (0..users.len()).collect();
            let chunk_sums: Vec<Vec<f64>> = indices
                .par_chunks(VALIDATION_CHUNK_USERS)
                .map(|chunk| {
                    let mut sum = vec![0.0; grid.len()];
                    let mut ranked = Vec::with_capacity(11);
                    for &idx in chunk {
                        let segment = segments.get(users[idx].0 as usize).copied().filter(|&s| s != u16::MAX);
                        let (mut cands, _) = view.candidates(&histories[idx], segment, fold.as_of_day, 10);
                        for (b, block) in grid.chunks(per_variant).enumerate() {
                            view.rescore(&mut cands, &histories[idx], fold.as_of_day, block[0].buy_again);
                            // Likely winners first, so the k-th score rises early and most candidates cost one
                            // comparison (the ranking itself does not depend on the order).
                            cands.sort_unstable_by(|a, b| strength(b).total_cmp(&strength(a)));
                            for (j, w) in block.iter().enumerate() {
                                top_items(&cands, w, 10, &mut ranked);
                                let (truth, ideal) = &truths[idx];
                                sum[b * per_variant + j] +=
                                    ndcg_at_k_sorted(ranked.iter().map(|r| r.1), truth, *ideal, 10);
                            }
                        }
                    }
                    sum
                })
                .collect();
            let mut sums = vec![0.0; grid.len()];
            for chunk in chunk_sums {
                sums.iter_mut().zip(chunk).for_each(|(s, v)| *s += v);
            }
            let n_users = users.len().max(1) as f64;
            means.iter_mut().zip(&sums).for_each(|(m, s)| *m += s / n_users / folds.len() as f64);
        }
        let (mut best_i, mut best_v) = (0, f64::NEG_INFINITY);
        for (i, &v) in means.iter().enumerate() {
            if v > best_v {
                (best_i, best_v) = (i, v);
            }
        }
        // The first triple is the model alone (w_cf = 1), or popularity alone for `None`.
        let row = ValidationRow { choice: grid[best_i], ndcg: best_v, ndcg_alone: means[0], fit_seconds };
        tracing::debug!(?row, "affinity validation");
        if best.is_none_or(|(v, _)| row.ndcg > v) {
            best = Some((row.ndcg, row.choice));
        }
        rows.push(row);
    }
    // A blend that gives the collaborative model no weight needs no collaborative model.
    let plain = |c: BlendChoice| if c.w_cf == 0.0 { BlendChoice { model: CfModel::None, ..c } } else { c };
    Ok((best.map_or_else(BlendChoice::fallback, |b| plain(b.1)), rows))
}

fn user_scorer<'a>(
    shared: &'a Shared,
    scorer: ScorerRef<'a>,
    n_items: usize,
    params: &AffinityParams,
) -> UserScorer<'a> {
    UserScorer {
        n_items,
        scorer,
        popularity: &shared.popularity,
        segment_popularity: &shared.segment_popularity,
        popularity_order: &shared.popularity_order,
        repurchasable: &shared.repurchase.repurchasable,
        cycle_days: &shared.repurchase.cycle_days,
        due_width: params.due_width,
        buy_again: BuyAgainScore::Cycle,
        pool: params.candidate_pool,
        history_half_life: params.history_half_life_days,
    }
}

/// Validation truth carved by time: per user with history before `cutoff`, the distinct items bought in
/// `[cutoff, end)`, leaving out items they cannot be recommended (bought before and not repurchasable).
fn time_split_truth(all: &Interactions, cutoff: i32, end: i32, params: &AffinityParams) -> Vec<(u32, Vec<u32>)> {
    let inner = all.before(cutoff);
    let window = all.between(cutoff, end);
    let stats = repurchase_stats(
        &inner,
        params.repurchase_prior_buyers,
        params.repurchase_threshold,
        params.default_cycle_days,
    );
    (0..all.n_users)
        .filter_map(|u| {
            let before = inner.user_items(u);
            if before.is_empty() {
                return None;
            }
            let mut items: Vec<u32> = window
                .user_items(u)
                .iter()
                .copied()
                .filter(|&i| stats.repurchasable[i as usize] || before.binary_search(&i).is_err())
                .collect();
            items.dedup();
            (!items.is_empty()).then_some((u as u32, items))
        })
        .collect()
}

/// `data` restricted to the validation users and a seeded sample of the other users with events, `max` users in
/// all (`data` itself when it has no more than that).
fn sample_users(data: &Interactions, truth: &[(u32, Vec<u32>)], max: usize, rng: &mut ChaCha8Rng) -> Interactions {
    let mut others: Vec<u32> = (0..data.n_users as u32).filter(|&u| !data.user_items(u as usize).is_empty()).collect();
    if others.len() <= max {
        return data.clone();
    }
    let mut keep = vec![false; data.n_users];
    truth.iter().for_each(|(u, _)| keep[*u as usize] = true);
    others.retain(|&u| !keep[u as usize]);
    others.shuffle(rng);
    others.iter().take(max.saturating_sub(truth.len())).for_each(|&u| keep[u as usize] = true);
    data.only_users(&keep)
}

/// Fits the affinity model on the events before `as_of_day`: picks the model and blend weights by NDCG@10 on
/// the last `validation_days` before `as_of_day` (fitted on what precedes them), then refits the choice on
/// everything before `as_of_day`. `segments` is one `u16` per user (`u16::MAX` = none), or empty.
pub fn fit_affinity(
    train: &Interactions,
    segments: &[u16],
    as_of_day: i32,
    params: &AffinityParams,
) -> Result<AffinityModel, AffinityError> {
    check_inputs(train, segments, params)?;
    let started = Instant::now();
    let train = train.before(as_of_day);
    let cutoff = as_of_day - params.validation_days;
    let mut truth = time_split_truth(&train, cutoff, as_of_day, params);
    let split_seconds = started.elapsed().as_secs_f64();
    let (choice, rows) = if truth.is_empty() {
        (BlendChoice::fallback(), Vec::new())
    } else {
        let mut rng = ChaCha8Rng::seed_from_u64(params.seed);
        if truth.len() > params.validation_max_users {
            truth.shuffle(&mut rng);
            truth.truncate(params.validation_max_users);
            truth.sort_unstable_by_key(|t| t.0);
        }
        let fit_part = sample_users(&train.before(cutoff), &truth, params.validation_fit_max_users, &mut rng);
        tracing::debug!(seconds = started.elapsed().as_secs_f64() - split_seconds, "affinity validation sample");
        select_blend(&fit_part, segments, cutoff, &truth, params)?
    };
    let validated = started.elapsed().as_secs_f64();
    let mut model = fit_with_choice(&train, segments, params, choice)?;
    model.validation = rows;
    tracing::debug!(
        split_seconds,
        validation_seconds = validated - split_seconds,
        final_fit_seconds = started.elapsed().as_secs_f64() - validated,
        "affinity fit"
    );
    Ok(model)
}

/// The similar-items graph and the collaborative scorer of `choice`, from the co-occurrence Gram.
fn fit_graphs(
    train: &Interactions,
    params: &AffinityParams,
    choice: BlendChoice,
) -> Result<(ItemGraph, Scorer), AffinityError> {
    let g = gram(&train.distinct_rows(), train.n_items);
    Ok(match choice.model {
        // One cosine pass serves both the similar-items lists and the kNN scorer.
        CfModel::Knn { k } => {
            let rows = cosine_neighbours(&g, k.max(params.similar_k), params.shrinkage);
            let truncated = |n: usize| rows.iter().map(|r| r[..n.min(r.len())].to_vec()).collect();
            let scorer = ItemGraph::from_rows(truncated(k));
            // Cosine similarity is symmetric: when no item lost a neighbour to `k`, the graph is its own transpose.
            let scorer = if k + 1 >= g.n { scorer } else { scorer.transpose() };
            (ItemGraph::from_rows(truncated(params.similar_k)), Scorer::Graph(scorer))
        }
        model => (
            ItemGraph::from_rows(cosine_neighbours(&g, params.similar_k, params.shrinkage)),
            fit_scorer(model, train, &g, params)?,
        ),
    })
}

/// Fits one given model and blend on all of `train` (no validation).
pub fn fit_with_choice(
    train: &Interactions,
    segments: &[u16],
    params: &AffinityParams,
    choice: BlendChoice,
) -> Result<AffinityModel, AffinityError> {
    check_inputs(train, segments, params)?;
    // The popularity and repurchase pass and the item-item part are independent: side by side.
    let (shared, graphs) = rayon::join(|| fit_shared(train, segments, params), || fit_graphs(train, params, choice));
    let (neighbours, scorer) = graphs?;
    let (scoring, n_factors, item_factors, factor_gram) = match scorer {
        Scorer::None => (ItemGraph::default(), 0, Vec::new(), Vec::new()),
        Scorer::Graph(g) => (g, 0, Vec::new(), Vec::new()),
        Scorer::Factors { f, items, gram, .. } => (ItemGraph::default(), f, items, gram),
    };
    Ok(AffinityModel {
        n_items: train.n_items,
        choice,
        neighbours,
        scoring,
        n_factors,
        item_factors,
        factor_gram,
        als_alpha: params.als_alpha,
        popularity: shared.popularity,
        segment_popularity: shared.segment_popularity,
        popularity_order: shared.popularity_order,
        repurchasable: shared.repurchase.repurchasable,
        repeat_share: shared.repurchase.repeat_share,
        cycle_days: shared.repurchase.cycle_days,
        due_width: params.due_width,
        candidate_pool: params.candidate_pool,
        history_half_life_days: params.history_half_life_days,
        validation: Vec::new(),
    })
}

impl AffinityModel {
    fn view(&self) -> UserScorer<'_> {
        let scorer = match self.choice.model {
            CfModel::None => ScorerRef::None,
            CfModel::Knn { .. } | CfModel::Ease { .. } => ScorerRef::Graph(&self.scoring),
            CfModel::Als => ScorerRef::Factors {
                f: self.n_factors,
                items: &self.item_factors,
                gram: &self.factor_gram,
                alpha: self.als_alpha,
            },
        };
        UserScorer {
            n_items: self.n_items,
            scorer,
            popularity: &self.popularity,
            segment_popularity: &self.segment_popularity,
            popularity_order: &self.popularity_order,
            repurchasable: &self.repurchasable,
            cycle_days: &self.cycle_days,
            due_width: self.due_width,
            buy_again: self.choice.buy_again,
            pool: self.candidate_pool,
            history_half_life: self.history_half_life_days,
        }
    }

    /// The top `k` items for a customer with purchase history `(item, day, quantity)` at `as_of_day`, best
    /// first, with blended scores and the reason that contributed most. Bought items that are not repurchasable
    /// are excluded; a customer without history gets (segment) popularity.
    pub fn recommend(
        &self,
        user_history: &[(u32, i32, f32)],
        segment: Option<u16>,
        as_of_day: i32,
        k: usize,
    ) -> Vec<(u32, f32, RecReason)> {
        let history = summarize_history(user_history);
        let (cands, in_segment) = self.view().candidates(&history, segment, as_of_day, k);
        rank(&cands, &self.choice, k, in_segment)
    }

    /// [`AffinityModel::recommend`] for every user of `data` in parallel (`segments` one per user, or empty).
    /// Users without history get their segment's list, ranked once per segment.
    pub fn recommend_all(
        &self,
        data: &Interactions,
        segments: &[u16],
        as_of_day: i32,
        k: usize,
    ) -> Vec<Recommendations> {
        let view = self.view();
        let segment_of = |u: usize| segments.get(u).copied().filter(|&s| s != u16::MAX);
        let mut cold: Vec<Option<u16>> =
            (0..data.n_users).filter(|&u| data.user_items(u).is_empty()).map(segment_of).collect();
        cold.sort_unstable();
        cold.dedup();
        let cold_lists: Vec<(Option<u16>, Recommendations)> = cold
            .into_iter()
            .map(|segment| {
                let (cands, in_segment) = view.candidates(&[], segment, as_of_day, k);
                (segment, rank(&cands, &self.choice, k, in_segment))
            })
            .collect();
        (0..data.n_users)
            .into_par_iter()
            .map(|u| {
                let segment = segment_of(u);
                if data.user_items(u).is_empty() {
                    if let Ok(at) = cold_lists.binary_search_by(|c| c.0.cmp(&segment)) {
                        return cold_lists[at].1.clone();
                    }
                }
                let (cands, in_segment) = view.candidates(&data.user_history(u), segment, as_of_day, k);
                rank(&cands, &self.choice, k, in_segment)
            })
            .collect()
    }

    /// Up to `k` items most similar to `item` (cosine with shrinkage), most similar first.
    pub fn similar(&self, item: u32, k: usize) -> &[Neighbour] {
        let row = self.neighbours.row(item);
        &row[..k.min(row.len())]
    }
}
