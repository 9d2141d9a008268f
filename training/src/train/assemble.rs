//! Assembling the model bundle: the final models' per-customer outputs, the identity map, profiles, tag
//! catalog, item catalogue and backtest metrics, as the plain structs of `tagcenter::bundle`.

use std::collections::BTreeMap;

use rayon::prelude::*;
use sha2::{Digest, Sha256};
use tagcenter::bundle::{
    BundleContents, BundleHeader, ChurnOutputs, ColumnValues, Customers, FORMAT_VERSION, FeatureSpec, Items, Metric,
    ModelBundle, ProfileColumnData, ReasonCode, RecReason, Recommendations, TagInfo,
};
use tagcenter::domain::TagType;

use super::{Backtest, FinalModels, TrainOutcome, TrainParams};
use crate::features::Encoding;
use crate::models::timing::timing_outputs;
use crate::unify::Unified;
use crate::unify::output::tag_catalog;
use crate::unify::profile::{ProfileColumn, ProfileTable, Values};

/// Fingerprint of the data a bundle was trained on: sources' row counts and date ranges, customers, keys.
pub fn data_fingerprint(unified: &Unified) -> String {
    let mut hasher = Sha256::new();
    for q in &unified.quality {
        hasher.update(q.source.as_bytes());
        hasher.update(q.rows_read.to_le_bytes());
        hasher.update(q.rows_kept.to_le_bytes());
        hasher.update(q.first_timestamp.as_deref().unwrap_or("").as_bytes());
        hasher.update(q.last_timestamp.as_deref().unwrap_or("").as_bytes());
    }
    hasher.update((unified.identity.customers() as u64).to_le_bytes());
    hasher.update((unified.store.keys.len() as u64).to_le_bytes());
    hasher.update((unified.store.lines.len() as u64).to_le_bytes());
    hasher.finalize().iter().take(8).map(|b| format!("{b:02x}")).collect()
}

/// The bundle's compact columns, consuming the profile's (each wide column is freed once converted).
fn profile_columns(columns: Vec<ProfileColumn>) -> Vec<ProfileColumnData> {
    columns
        .into_iter()
        .map(|c| {
            let values = match &c.values {
                Values::Number(v) => ColumnValues::Number(v.iter().map(|x| *x as f32).collect()),
                Values::Flag(v) => ColumnValues::Flag(v.iter().map(|b| b.map_or(2, u8::from)).collect()),
                Values::Category { levels, codes } => ColumnValues::Category {
                    levels: levels.clone(),
                    codes: codes.iter().map(|c| c.unwrap_or(u32::MAX)).collect(),
                },
                Values::Text(v) => {
                    let mut levels: Vec<String> = v.iter().flatten().cloned().collect();
                    levels.sort_unstable();
                    levels.dedup();
                    let codes = v
                        .iter()
                        .map(|t| t.as_ref().and_then(|t| levels.binary_search(t).ok()).map_or(u32::MAX, |i| i as u32))
                        .collect();
                    ColumnValues::Category { levels, codes }
                }
                Values::Date(v) => ColumnValues::Date(v.iter().map(|d| d.unwrap_or(i32::MIN)).collect()),
            };
            let tag_type = if matches!(c.values, Values::Text(_)) { TagType::Category } else { c.tag_type };
            ProfileColumnData { name: c.name.clone(), tag_type, values }
        })
        .collect()
}

fn metrics(backtest: &Backtest) -> Vec<Metric> {
    let m = |model: &str, name: &str, value: f64, baseline: f64| Metric {
        model: model.to_owned(),
        name: name.to_owned(),
        value,
        baseline: Some(baseline),
    };
    let c = &backtest.churn;
    let a = &backtest.churn_active_180d;
    let t = &backtest.timing;
    let r = &backtest.recommendations;
    vec![
        m("churn", "roc_auc", c.model.roc_auc, c.baseline.roc_auc),
        m("churn", "pr_auc", c.model.pr_auc, c.baseline.pr_auc),
        m("churn", "log_loss", c.model.log_loss, c.baseline.log_loss),
        m("churn", "lift_top_decile", c.model.lift_top_decile, c.baseline.lift_top_decile),
        m("churn", "roc_auc_active_180d", a.model.roc_auc, a.baseline.roc_auc),
        m("timing", "mae_days", t.model.mae_days, t.baseline.mae_days),
        m("timing", "within_7d", t.model.within_7d, t.baseline.within_7d),
        m("timing", "within_14d", t.model.within_14d, t.baseline.within_14d),
        m("recommendations", "precision_at_10", r.model.precision, r.baseline.precision),
        m("recommendations", "recall_at_10", r.model.recall, r.baseline.recall),
        m("recommendations", "ndcg_at_10", r.model.ndcg, r.baseline.ndcg),
        m("recommendations", "hit_rate_at_10", r.model.hit_rate, r.baseline.hit_rate),
        m("recommendations", "coverage_at_10", r.model.coverage, r.baseline.coverage),
    ]
}

/// Every source record and every linking identity key → customer, sorted by key (one entry per key).
fn identity_keys(unified: &Unified) -> Vec<(String, u32)> {
    let identity = &unified.identity;
    let mut keys: Vec<(String, u32)> = unified
        .store
        .records
        .iter()
        .enumerate()
        .map(|(r, key)| (key.to_owned(), identity.customer_of_record[r]))
        .collect();
    for &(r, k) in &unified.store.edges {
        if identity.key_status[k as usize].links() {
            keys.push((unified.store.keys.resolve(k).to_owned(), identity.customer_of_record[r as usize]));
        }
    }
    keys.par_sort_unstable();
    keys.dedup_by(|a, b| a.0 == b.0);
    keys
}

/// The items sorted by ID, and the map from the store's item indices to their positions.
fn items(unified: &Unified, repurchasable: &[bool]) -> (Items, Vec<u32>) {
    let store_items = &unified.store.items;
    let mut order: Vec<u32> = (0..store_items.len() as u32).collect();
    order.sort_unstable_by(|a, b| store_items.resolve(*a).cmp(store_items.resolve(*b)));
    let mut remap = vec![0u32; order.len()];
    for (new, &old) in order.iter().enumerate() {
        remap[old as usize] = new as u32;
    }
    let items = Items {
        ids: order.iter().map(|&i| store_items.resolve(i).to_owned()).collect(),
        names: order
            .iter()
            .map(|&i| unified.catalog.name.get(i as usize).cloned().flatten().unwrap_or_default())
            .collect(),
        category: order.iter().map(|&i| unified.store.item_category[i as usize].unwrap_or(u16::MAX)).collect(),
        category_names: unified.dictionary.categories.canonical.clone(),
        repurchasable: order.iter().map(|&i| repurchasable.get(i as usize).copied().unwrap_or(false)).collect(),
    };
    (items, remap)
}

/// The churn outputs: probabilities, three reason codes per customer, and the value at risk (probability ×
/// expected 90-day purchases × average order value, `aov`).
fn churn_outputs(models: &FinalModels, aov: &[f64], params: &TrainParams) -> ChurnOutputs {
    let n = models.churn_probability.len();
    let mut reasons = Vec::with_capacity(n * 3);
    for c in 0..n {
        let mut row = models.churn_reasons[c].clone();
        row.resize(3, (0, 0.0));
        reasons.extend(row.into_iter().map(|(f, v)| ReasonCode { feature: f as u16, contribution: v as f32 }));
    }
    let value_at_risk = (0..n)
        .map(|c| {
            let p = models.churn_probability[c];
            let expected =
                models.timing_predictions[c].expected_90d.max(1.0) * if aov[c].is_nan() { 0.0 } else { aov[c] };
            (p * expected) as f32
        })
        .collect();
    ChurnOutputs {
        model: models.churn.choice.as_str().to_owned(),
        features: models.schema.names(),
        probability: models.churn_probability.iter().map(|p| *p as f32).collect(),
        reasons,
        band_thresholds: [0.3, 0.6],
        value_at_risk,
        horizon_days: params.horizon_days,
    }
}

/// The recommendations (CSR, consuming `lists`), item neighbours and popularity lists, with items remapped.
fn recommendations(models: &FinalModels, lists: Vec<Vec<(u32, f32, RecReason)>>, remap: &[u32]) -> Recommendations {
    let mut recs = Recommendations { offsets: vec![0], ..Recommendations::default() };
    let total: usize = lists.iter().map(Vec::len).sum();
    recs.items.reserve_exact(total);
    recs.scores.reserve_exact(total);
    recs.reasons.reserve_exact(total);
    recs.offsets.reserve_exact(lists.len());
    for list in lists {
        for (item, score, reason) in list {
            recs.items.push(remap[item as usize]);
            recs.scores.push(score);
            recs.reasons.push(reason);
        }
        recs.offsets.push(recs.items.len() as u32);
    }
    let mut order = vec![0u32; remap.len()];
    for (old, &new) in remap.iter().enumerate() {
        order[new as usize] = old as u32;
    }
    recs.neighbour_offsets.push(0);
    let affinity = &models.affinity;
    for &old in &order {
        for nb in affinity.similar(old, 20) {
            recs.neighbour_items.push(remap[nb.item as usize]);
            recs.neighbour_scores.push(nb.score);
        }
        recs.neighbour_offsets.push(recs.neighbour_items.len() as u32);
    }
    let mut popular: Vec<u32> = (0..affinity.popularity.len() as u32).collect();
    popular
        .sort_by(|a, b| affinity.popularity[*b as usize].total_cmp(&affinity.popularity[*a as usize]).then(a.cmp(b)));
    popular.truncate(200);
    recs.popular = popular.iter().map(|&i| remap[i as usize]).collect();
    recs.segment_popular = affinity
        .segment_popularity
        .iter()
        .map(|scores| {
            let mut items: Vec<u32> = (0..scores.len() as u32).filter(|&i| scores[i as usize] > 0.0).collect();
            items.sort_by(|a, b| scores[*b as usize].total_cmp(&scores[*a as usize]).then(a.cmp(b)));
            items.truncate(100);
            items.into_iter().map(|i| remap[i as usize]).collect()
        })
        .collect();
    recs.customer_segment = models.segments.clone();
    recs
}

/// The tag catalog of the profile columns, then the columns themselves in the bundle's compact form.
fn tags_and_profile(columns: Vec<ProfileColumn>, unified: &Unified) -> (Vec<TagInfo>, Vec<ProfileColumnData>) {
    let catalog_view = ProfileTable { customer_ids: Vec::new(), columns };
    let tags = tag_catalog(&catalog_view, &unified.dictionary)
        .into_iter()
        .map(|e| TagInfo {
            name: e.tag,
            tag_type: e.tag_type.parse().unwrap_or(TagType::Category),
            description: e.description,
            owner: e.owner,
            coverage: e.coverage as f32,
            aliases: e.aliases,
            values: e.values,
        })
        .collect();
    (tags, profile_columns(catalog_view.columns))
}

/// Builds the bundle. The per-customer recommendations and profile columns are moved out of
/// `outcome.models` into it (converted and freed list by list and column by column, so a million customers'
/// outputs never exist twice): write the exports before assembling. Independent parts are built in parallel.
pub fn assemble(unified: &Unified, outcome: &mut TrainOutcome, params: &TrainParams, seed: u64) -> ModelBundle {
    let recommendation_lists = std::mem::take(&mut outcome.models.recommendations);
    let profile_table_columns = std::mem::take(&mut outcome.models.profiles.columns);
    let models = &outcome.models;
    let n = unified.identity.customers();
    let aov = match profile_table_columns.iter().find(|c| c.name == "avg_order_value").map(|c| &c.values) {
        Some(Values::Number(v)) => v.clone(),
        _ => vec![f64::NAN; n],
    };
    let (items, remap) = items(unified, &models.affinity.repurchasable);
    let categories = items.category_names.clone();

    let (mut keys, mut ids, mut churn, mut recs, mut profile, mut timing) = (None, None, None, None, None, None);
    rayon::scope(|s| {
        s.spawn(|_| keys = Some(identity_keys(unified)));
        s.spawn(|_| ids = Some(unified.identity.customer_ids.iter().map(|c| c.to_string()).collect::<Vec<_>>()));
        s.spawn(|_| churn = Some(churn_outputs(models, &aov, params)));
        s.spawn(|_| recs = Some(recommendations(models, recommendation_lists, &remap)));
        s.spawn(|_| profile = Some(tags_and_profile(profile_table_columns, unified)));
        s.spawn(|_| timing = Some(timing_outputs(&models.timing_predictions)));
    });
    let built = "every part is built inside the scope";
    let (keys, ids, churn, timing) = (keys.expect(built), ids.expect(built), churn.expect(built), timing.expect(built));
    let mut recs = recs.expect(built);
    recs.segments = categories;
    let (tags, profile) = profile.expect(built);

    let fingerprint = outcome.data_fingerprint.clone();
    let mut notes = BTreeMap::new();
    notes.insert("seed".to_owned(), seed.to_string());
    notes.insert("customers".to_owned(), n.to_string());
    notes.insert("churn_model".to_owned(), models.churn.choice.as_str().to_owned());
    notes.insert("timing_predictor".to_owned(), format!("{:?}", models.timing.predictor));
    notes.insert("affinity".to_owned(), format!("{:?}", models.affinity.choice));
    for t in &outcome.timings {
        notes.insert(format!("seconds_{}", t.stage), format!("{:.2}", t.seconds));
    }
    let header = BundleHeader {
        format_version: FORMAT_VERSION,
        crate_version: env!("CARGO_PKG_VERSION").to_owned(),
        model_version: format!("{}.{fingerprint}", models.as_of),
        created_at: chrono::Utc::now().to_rfc3339(),
        as_of: models.as_of.to_string(),
        data_fingerprint: fingerprint,
        dictionary_version: unified.dictionary.version.clone(),
        feature_schema: models
            .schema
            .columns
            .iter()
            .map(|c| FeatureSpec {
                name: c.name.clone(),
                encoding: match &c.encoding {
                    Encoding::Numeric { log1p: true, .. } => "log1p".to_owned(),
                    Encoding::Numeric { .. } => "numeric".to_owned(),
                    Encoding::Missing => "missing_indicator".to_owned(),
                    Encoding::Flag => "flag".to_owned(),
                    Encoding::OneHot { level } => format!("one_hot:{level}"),
                    Encoding::Extra { .. } => "bgnbd".to_owned(),
                },
            })
            .collect(),
        metrics: metrics(&outcome.backtest),
        notes,
    };
    let contents = BundleContents {
        customers: Customers { ids, keys, profile },
        items,
        tags,
        churn,
        timing,
        recommendations: recs,
    };
    ModelBundle { header, contents }
}
