//! Top-10 protocols: P4 (MovieLens-100k, random and temporal splits) and P5 (Groceries, with churn). The
//! affinity model's collaborative component, blend weights and variant (P4: EASE's ridge, Gram weighting, weight
//! rescaling and recency half-lives, searched in stages by `p4_search`; P5: how popularity counts) are chosen
//! with [`select_blend_folds_cached`] on the protocol's validation split (P4: plus more splits by the same rule,
//! averaged), then refitted on the full train part.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::Path;
use std::time::Instant;

use super::data::Table;
use super::{BenchmarkError, Goal, Line, Protocol, line, timed_fit};
use crate::eval::ranking::{RankingMetrics, ranking_metrics};
use crate::models::affinity::{
    AffinityParams, BlendChoice, CfModel, Event, Interactions, ScorerCache, ValidationFold, fit_with_choice,
    select_blend_folds_cached,
};

fn describe(choice: &BlendChoice) -> String {
    let model = match choice.model {
        CfModel::None => "none".to_owned(),
        CfModel::Knn { k } => format!("item-kNN k={k}"),
        CfModel::Ease { lambda } => format!("EASE λ={lambda}"),
        CfModel::Als => "ALS".to_owned(),
    };
    format!(
        "{model} ×{:.1} + buy-again ×{:.1} + popularity ×{:.1}",
        choice.w_cf, choice.w_buy_again, choice.w_popularity
    )
}

fn truth_lists(pairs: &[(u32, u32)]) -> Vec<(u32, Vec<u32>)> {
    let mut by_user: BTreeMap<u32, Vec<u32>> = BTreeMap::new();
    for &(u, i) in pairs {
        by_user.entry(u).or_default().push(i);
    }
    by_user
        .into_iter()
        .map(|(u, mut items)| {
            items.sort_unstable();
            items.dedup();
            (u, items)
        })
        .collect()
}

/// A named param variant, its best validation NDCG@10 and blend.
type Validated = (String, AffinityParams, f64, BlendChoice);

/// Validates every param variant (each with its own model and blend grid) on the folds and returns the best
/// (ties keep the earlier variant), or `None` when there is none.
fn best_variant(
    folds: &[ValidationFold<'_>],
    variants: Vec<(String, AffinityParams)>,
    cache: &mut ScorerCache,
) -> Result<Option<Validated>, BenchmarkError> {
    let mut best: Option<Validated> = None;
    for (name, params) in variants {
        let (choice, rows) = select_blend_folds_cached(folds, &[], &params, cache)?;
        let ndcg = rows.iter().map(|r| r.ndcg).fold(f64::NEG_INFINITY, f64::max);
        tracing::debug!(variant = name, ndcg, choice = describe(&choice), "benchmark validation");
        if best.as_ref().is_none_or(|b| ndcg > b.2) {
            best = Some((name, params, ndcg, choice));
        }
    }
    Ok(best)
}

/// Chooses on the validation split among the param variants (each with its own model and blend grid), refits the
/// best on train, recommends 10 to each truth user, and scores.
fn select_fit_score(
    folds: &[ValidationFold<'_>],
    train: &Interactions,
    truth: &[(u32, Vec<u32>)],
    as_of: i32,
    variants: &[(&str, AffinityParams)],
) -> Result<(RankingMetrics, String, f64, f64), BenchmarkError> {
    let started = Instant::now();
    let variants = variants.iter().map(|(n, p)| ((*n).to_owned(), p.clone())).collect();
    let best = best_variant(folds, variants, &mut ScorerCache::default())?;
    fit_score(train, truth, as_of, best, started.elapsed().as_secs_f64())
}

/// Refits the chosen variant on train, recommends 10 to each truth user, and scores.
fn fit_score(
    train: &Interactions,
    truth: &[(u32, Vec<u32>)],
    as_of: i32,
    best: Option<Validated>,
    selection_seconds: f64,
) -> Result<(RankingMetrics, String, f64, f64), BenchmarkError> {
    let (name, params, _, choice) = best.ok_or_else(|| BenchmarkError::Inconsistent("no affinity variant".into()))?;
    let params = &params;
    let (model, fit_seconds) = timed_fit(|| fit_with_choice(train, &[], params, choice))?;
    let recs: Vec<Vec<u32>> = truth
        .iter()
        .map(|(u, _)| {
            let history: Vec<(u32, i32, f32)> = train.user_events(*u as usize).collect();
            model.recommend(&history, None, as_of, 10).into_iter().map(|r| r.0).collect()
        })
        .collect();
    let t: Vec<Vec<u32>> = truth.iter().map(|(_, t)| t.clone()).collect();
    let metrics = ranking_metrics(&recs, &t, 10, train.active_items())?;
    let method = if name.is_empty() { describe(&choice) } else { format!("{}; {name}", describe(&choice)) };
    Ok((metrics, method, fit_seconds, selection_seconds))
}

fn ranking_lines(protocol: Protocol, case: &str, m: &RankingMetrics, method: &str, fit: f64, select: f64) -> Vec<Line> {
    vec![
        line(protocol, case, "ndcg@10", Goal::Higher, m.ndcg, method, fit, select),
        line(protocol, case, "recall@10", Goal::Higher, m.recall, method, fit, select),
        line(protocol, case, "precision@10", Goal::Higher, m.precision, method, fit, select),
    ]
}

const ML_USERS: usize = 943;
const ML_ITEMS: usize = 1682;

/// MovieLens rows as events: ids − 1, day = timestamp / 86,400.
fn movielens_events(path: &Path) -> Result<Vec<Event>, BenchmarkError> {
    let t = Table::read(path)?;
    let (u, i, ts) = (t.col("user_id")?, t.col("item_id")?, t.col("timestamp")?);
    (0..t.rows.len())
        .map(|r| Ok(((t.int(r, u)? - 1) as u32, (t.int(r, i)? - 1) as u32, (t.int(r, ts)? / 86_400) as i32, 1.0)))
        .collect()
}

fn movielens_truth(path: &Path) -> Result<Vec<(u32, Vec<u32>)>, BenchmarkError> {
    let t = Table::read(path)?;
    let (u, i) = (t.col("user_id")?, t.col("item_id")?);
    let pairs = (0..t.rows.len())
        .map(|r| Ok(((t.int(r, u)? - 1) as u32, (t.int(r, i)? - 1) as u32)))
        .collect::<Result<Vec<_>, BenchmarkError>>()?;
    Ok(truth_lists(&pairs))
}

fn fold<'a>(train: &'a Interactions, as_of_day: i32, truth: &'a [(u32, Vec<u32>)]) -> ValidationFold<'a> {
    ValidationFold { train, as_of_day, truth }
}

/// A validation fold's fit part, as-of day and truth.
type OwnedFold = (Interactions, i32, Vec<(u32, Vec<u32>)>);

/// MovieLens rows as (user index, item index, timestamp).
fn movielens_rows(path: &Path) -> Result<Vec<(u32, u32, i64)>, BenchmarkError> {
    let t = Table::read(path)?;
    let (u, i, ts) = (t.col("user_id")?, t.col("item_id")?, t.col("timestamp")?);
    (0..t.rows.len()).map(|r| Ok(((t.int(r, u)? - 1) as u32, (t.int(r, i)? - 1) as u32, t.int(r, ts)?))).collect()
}

/// A validation fold from rows split into fit (`true`) and held-out rows: truth = each user's held-out items not
/// among their fit items, for users with both.
fn movielens_fold(rows: &[(u32, u32, i64)], in_fit: impl Fn(usize) -> bool) -> Result<OwnedFold, BenchmarkError> {
    let event = |r: &(u32, u32, i64)| (r.0, r.1, (r.2 / 86_400) as i32, 1.0);
    let fit: Vec<Event> = (0..rows.len()).filter(|&r| in_fit(r)).map(|r| event(&rows[r])).collect();
    let as_of = fit.iter().map(|e| e.2).max().unwrap_or(0) + 1;
    let train = Interactions::from_events(ML_USERS, ML_ITEMS, &fit)?;
    let held: Vec<(u32, u32)> = (0..rows.len())
        .filter(|&r| !in_fit(r))
        .map(|r| (rows[r].0, rows[r].1))
        .filter(|&(u, i)| {
            let items = train.user_items(u as usize);
            !items.is_empty() && items.binary_search(&i).is_err()
        })
        .collect();
    Ok((train, as_of, truth_lists(&held)))
}

/// The random rule: a seeded permutation of the rows, the first 20 % held out.
fn random_fold(rows: &[(u32, u32, i64)], seed: u64) -> Result<OwnedFold, BenchmarkError> {
    use rand::SeedableRng;
    use rand::seq::SliceRandom;
    let mut perm: Vec<usize> = (0..rows.len()).collect();
    perm.shuffle(&mut rand_chacha::ChaCha8Rng::seed_from_u64(seed));
    let mut held = vec![false; rows.len()];
    perm.iter().take(rows.len() / 5).for_each(|&r| held[r] = true);
    movielens_fold(rows, |r| !held[r])
}

/// The temporal rule: cutoff = the 80th percentile of the timestamps (linear interpolation); fit = earlier rows.
fn temporal_fold(rows: &[(u32, u32, i64)]) -> Result<OwnedFold, BenchmarkError> {
    let mut ts: Vec<f64> = rows.iter().map(|r| r.2 as f64).collect();
    ts.sort_by(f64::total_cmp);
    let pos = 0.8 * (ts.len().saturating_sub(1)) as f64;
    let (lo, frac) = (pos.floor() as usize, pos.fract());
    let cutoff = ts.get(lo).copied().unwrap_or(0.0)
        + frac * (ts.get(lo + 1).copied().unwrap_or(0.0) - ts.get(lo).copied().unwrap_or(0.0));
    movielens_fold(rows, |r| (rows[r].2 as f64) < cutoff)
}

/// Runs P4 on the random and the temporal split.
pub fn p4(dir: &Path) -> Result<Vec<Line>, BenchmarkError> {
    let params = AffinityParams {
        shrinkage: 0.0,
        knn_k_grid: vec![200],
        ease_lambda_grid: vec![100.0, 200.0, 300.0, 500.0, 1000.0],
        ease_keep: ML_ITEMS,
        candidate_pool: ML_ITEMS,
        als_factors: 0,
        ..AffinityParams::default()
    };
    let mut lines = Vec::new();
    for case in ["random", "temporal"] {
        let d = dir.join(case);
        let train_events = movielens_events(&d.join("train.csv"))?;
        let as_of = train_events.iter().map(|e| e.2).max().unwrap_or(0) + 1;
        let train = Interactions::from_events(ML_USERS, ML_ITEMS, &train_events)?;
        let truth = movielens_truth(&d.join("truth.csv"))?;
        let v_events = movielens_events(&d.join("validation").join("train.csv"))?;
        let v_as_of = v_events.iter().map(|e| e.2).max().unwrap_or(0) + 1;
        let v_train = Interactions::from_events(ML_USERS, ML_ITEMS, &v_events)?;
        let v_truth = movielens_truth(&d.join("validation").join("truth.csv"))?;
        // Besides the protocol's validation split, more splits by the same rule (random: two more seeded 80/20
        // draws of the train rows; temporal: the 80th-percentile rule once more, inside the validation-train
        // rows), averaged: the candidates differ by less than one split's noise.
        let rows = movielens_rows(&d.join("train.csv"))?;
        let extra: Vec<OwnedFold> = if case == "random" {
            (1..=2u64).map(|k| random_fold(&rows, 42 + k)).collect::<Result<_, _>>()?
        } else {
            let v_rows = movielens_rows(&d.join("validation").join("train.csv"))?;
            vec![temporal_fold(&v_rows)?]
        };
        let mut folds = vec![fold(&v_train, v_as_of, &v_truth)];
        folds.extend(extra.iter().map(|(t, a, tr)| fold(t, *a, tr)));
        let started = Instant::now();
        let best = p4_search(&folds, &params)?;
        let (m, method, fit, select) = fit_score(&train, &truth, as_of, best, started.elapsed().as_secs_f64())?;
        lines.extend(ranking_lines(Protocol::P4, case, &m, &method, fit, select));
    }
    Ok(lines)
}

/// Names the EASE shape and scoring knobs of a P4 variant (empty for plain EASE).
fn p4_name(p: &AffinityParams) -> String {
    let mut parts = Vec::new();
    if p.ease_item_penalty > 0.0 {
        parts.push(format!("EASE ridge λ + {}·G_ii", p.ease_item_penalty));
    }
    if p.ease_user_weight_power > 0.0 {
        parts.push(format!("Gram users weighted by their items^-{}", 2.0 * p.ease_user_weight_power));
    }
    if p.ease_popularity_power != 0.0 {
        parts.push(format!("weights × (buyers+1)^{}", p.ease_popularity_power));
    }
    if p.history_half_life_days > 0.0 {
        parts.push(format!("history half-life {} d", p.history_half_life_days));
    }
    if p.popularity_half_life_days > 0.0 {
        parts.push(format!("popularity half-life {} d", p.popularity_half_life_days));
    }
    parts.join(", ")
}

/// P4's validation search, staged to keep the number of EASE inverses small (each is an items × items inverse
/// per fold): (1) the ridge's popularity term κ and the Gram's user weighting over the λ grid (item-kNN and
/// the popularity blend are tried once, beside the first variant); (2) λ refined around the chosen one, then at
/// that λ the popularity rescaling of EASE's weights; (3) recency: history votes and popularity weighted by half-lives. Each stage keeps the
/// earlier choice unless a variant beats it on the fold-averaged validation NDCG@10.
fn p4_search(folds: &[ValidationFold<'_>], params: &AffinityParams) -> Result<Option<Validated>, BenchmarkError> {
    let named = |p: AffinityParams| (p4_name(&p), p);
    let mut stage1 = Vec::new();
    for user_weight in [0.0, 0.25] {
        for penalty in [1.0, 2.0, 3.0] {
            let first = stage1.is_empty();
            stage1.push(named(AffinityParams {
                ease_item_penalty: penalty,
                ease_user_weight_power: user_weight,
                knn_k_grid: if first { params.knn_k_grid.clone() } else { Vec::new() },
                ..params.clone()
            }));
        }
    }
    let cache = &mut ScorerCache::default();
    let Some(mut best) = best_variant(folds, stage1, cache)? else { return Ok(None) };
    let at_best = |p: AffinityParams, lambda: Option<f64>| {
        named(AffinityParams {
            ease_lambda_grid: lambda.map_or_else(|| p.ease_lambda_grid.clone(), |l| vec![l]),
            knn_k_grid: Vec::new(),
            ..p
        })
    };
    let lambda_of = |b: &Validated| match b.3.model {
        CfModel::Ease { lambda } => Some(lambda),
        _ => None,
    };
    // λ refined around the chosen one (between and beyond the grid's points).
    if let Some(l) = lambda_of(&best) {
        let p = AffinityParams { ease_lambda_grid: vec![0.5 * l, 0.7 * l, 1.4 * l], ..best.1.clone() };
        if let Some(b) = best_variant(folds, vec![at_best(p, None)], cache)?.filter(|b| b.2 > best.2) {
            best = b;
        }
    }
    let lambda = lambda_of(&best);
    let stage2: Vec<_> = [-0.1, -0.2]
        .iter()
        .map(|&power| at_best(AffinityParams { ease_popularity_power: power, ..best.1.clone() }, lambda))
        .collect();
    if let Some(b) = best_variant(folds, stage2, cache)?.filter(|b| b.2 > best.2) {
        best = b;
    }
    let mut stage3 = Vec::new();
    for history in [0.0, 10.0, 30.0, 100.0] {
        for popularity in [0.0, 30.0] {
            if history > 0.0 || popularity > 0.0 {
                let p = AffinityParams {
                    history_half_life_days: history,
                    popularity_half_life_days: popularity,
                    ..best.1.clone()
                };
                stage3.push(at_best(p, lambda));
            }
        }
    }
    if let Some(b) = best_variant(folds, stage3, cache)?.filter(|b| b.2 > best.2) {
        best = b;
    }
    Ok(Some(best))
}

/// Groceries rows (`Member_number,Date,itemDescription`) as (member, item name, day).
fn groceries_rows(path: &Path) -> Result<Vec<(i64, String, i32)>, BenchmarkError> {
    let t = Table::read(path)?;
    let (m, d, i) = (t.col("Member_number")?, t.col("Date")?, t.col("itemDescription")?);
    (0..t.rows.len()).map(|r| Ok((t.int(r, m)?, t.text(r, i).to_owned(), t.day(r, d, "%d-%m-%Y")?))).collect()
}

fn groceries_truth(
    path: &Path,
    members: &HashMap<i64, u32>,
    items: &HashMap<String, u32>,
) -> Result<Vec<(u32, Vec<u32>)>, BenchmarkError> {
    let t = Table::read(path)?;
    let (m, i) = (t.col("Member_number")?, t.col("itemDescription")?);
    let mut pairs = Vec::new();
    for r in 0..t.rows.len() {
        let member = t.int(r, m)?;
        let (Some(&u), Some(&item)) = (members.get(&member), items.get(t.text(r, i))) else {
            return Err(BenchmarkError::Inconsistent(format!("P5: truth row {member}/{} unknown", t.text(r, i))));
        };
        pairs.push((u, item));
    }
    Ok(truth_lists(&pairs))
}

/// Runs P5: the repurchase-aware top-10 (bought items stay recommendable) and churn.
pub fn p5(dir: &Path, seed: u64) -> Result<Vec<Line>, BenchmarkError> {
    let train_rows = groceries_rows(&dir.join("train.csv"))?;
    let test_rows = groceries_rows(&dir.join("test.csv"))?;
    let v_rows = groceries_rows(&dir.join("validation").join("train.csv"))?;
    let item_names: BTreeSet<&str> = train_rows.iter().chain(&test_rows).map(|r| r.1.as_str()).collect();
    let items: HashMap<String, u32> = item_names.iter().enumerate().map(|(i, s)| ((*s).to_owned(), i as u32)).collect();
    let member_ids: BTreeSet<i64> = train_rows.iter().chain(&test_rows).map(|r| r.0).collect();
    let members: HashMap<i64, u32> = member_ids.iter().enumerate().map(|(i, &m)| (m, i as u32)).collect();
    let events = |rows: &[(i64, String, i32)]| -> Vec<Event> {
        rows.iter().filter_map(|(m, i, d)| Some((*members.get(m)?, *items.get(i)?, *d, 1.0))).collect()
    };
    let (n_users, n_items) = (members.len(), items.len());
    let train = Interactions::from_events(n_users, n_items, &events(&train_rows))?;
    let v_train = Interactions::from_events(n_users, n_items, &events(&v_rows))?;
    let cutoff = train_rows.iter().map(|r| r.2).max().unwrap_or(0);
    let v_cutoff = v_rows.iter().map(|r| r.2).max().unwrap_or(0);
    let truth = groceries_truth(&dir.join("truth_rec.csv"), &members, &items)?;
    let v_truth = groceries_truth(&dir.join("validation").join("truth_rec.csv"), &members, &items)?;
    let params = AffinityParams {
        // Every item stays recommendable to its buyers (the protocol never excludes bought items).
        repurchase_threshold: 0.0,
        knn_k_grid: vec![20, 50, 167],
        ease_lambda_grid: vec![100.0, 500.0, 2000.0],
        ease_keep: n_items,
        candidate_pool: n_items,
        als_factors: 0,
        ..AffinityParams::default()
    };
    // Popularity by buyers or by rows, with purchases weighted by recency (half-life in days; 0 = none).
    let mut variants: Vec<(String, AffinityParams)> = Vec::new();
    for events in [false, true] {
        for half_life in [0.0, 30.0, 60.0, 90.0, 180.0] {
            let name = format!(
                "popularity by {}{}",
                if events { "rows" } else { "buyers" },
                if half_life > 0.0 { format!(", half-life {half_life} d") } else { String::new() }
            );
            let p = AffinityParams {
                popularity_counts_events: events,
                popularity_half_life_days: half_life,
                ..params.clone()
            };
            variants.push((name, p));
        }
    }
    let variants: Vec<(&str, AffinityParams)> = variants.iter().map(|(n, p)| (n.as_str(), p.clone())).collect();
    let (m, method, fit, select) =
        select_fit_score(&[fold(&v_train, v_cutoff + 1, &v_truth)], &train, &truth, cutoff + 1, &variants)?;
    let mut lines = ranking_lines(Protocol::P5, "rec", &m, &method, fit, select);
    lines.extend(super::groceries_churn::p5_churn(
        dir,
        seed,
        cutoff,
        test_rows.iter().map(|r| r.2).max().unwrap_or(cutoff),
    )?);
    Ok(lines)
}
