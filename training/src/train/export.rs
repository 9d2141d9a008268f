//! CSV exports for CRM teams and the retailer's own checks: the at-risk list, per-customer predictions
//! (churn score, next purchase date, top items), identity clusters (source, source key, unified ID) and
//! canonical tags. Column and source names are options, so a retailer's requested layout (such as the
//! hand-over's `OUTPUT_FORMAT.md`) is a matter of flags, not code.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::BufWriter;
use std::path::{Path, PathBuf};

use super::FinalModels;
use crate::unify::Unified;
use crate::unify::behaviour::day_number;
use crate::unify::profile::{Origin, Values};

/// An export that could not be written.
#[derive(Debug, thiserror::Error)]
#[error("cannot write export {path}: {message}")]
pub struct ExportError {
    /// The file.
    pub path: PathBuf,
    /// What failed.
    pub message: String,
}

/// Export options.
#[derive(Debug, Clone)]
pub struct ExportOptions {
    /// Source names as the retailer calls them (`web` → `online`).
    pub source_names: BTreeMap<String, String>,
    /// Name of the customer ID column.
    pub customer_column: String,
    /// Items per customer in `predictions.csv`.
    pub top_items: usize,
    /// Separator between recommended items.
    pub item_separator: String,
    /// Customers at or above this churn probability are on the at-risk list.
    pub at_risk_threshold: f64,
    /// Also write customers without any purchase to `predictions.csv`.
    pub all_customers: bool,
    /// Churn horizon in days (for the value at risk).
    pub horizon_days: u32,
}

impl Default for ExportOptions {
    fn default() -> Self {
        Self {
            source_names: BTreeMap::new(),
            customer_column: "customer_id".to_owned(),
            top_items: 10,
            item_separator: "|".to_owned(),
            at_risk_threshold: 0.5,
            all_customers: false,
            horizon_days: 92,
        }
    }
}

fn date_text(day: i32) -> String {
    chrono::NaiveDate::from_num_days_from_ce_opt(day + 719_163).map(|d| d.to_string()).unwrap_or_default()
}

struct Writer {
    inner: csv::Writer<BufWriter<File>>,
    path: PathBuf,
}

impl Writer {
    fn create(path: PathBuf) -> Result<Self, ExportError> {
        let file = File::create(&path).map_err(|e| ExportError { path: path.clone(), message: e.to_string() })?;
        Ok(Self { inner: csv::Writer::from_writer(BufWriter::with_capacity(1 << 20, file)), path })
    }

    fn row<I: IntoIterator<Item = T>, T: AsRef<[u8]>>(&mut self, fields: I) -> Result<(), ExportError> {
        self.inner.write_record(fields).map_err(|e| ExportError { path: self.path.clone(), message: e.to_string() })
    }

    fn finish(mut self) -> Result<(), ExportError> {
        self.inner.flush().map_err(|e| ExportError { path: self.path.clone(), message: e.to_string() })
    }
}

/// Writes `identity_clusters.csv`, `predictions.csv`, `at_risk.csv` and `tags.csv` into `dir`.
pub fn write_exports(
    unified: &Unified,
    models: &FinalModels,
    options: &ExportOptions,
    dir: &Path,
) -> Result<(), ExportError> {
    std::fs::create_dir_all(dir).map_err(|e| ExportError { path: dir.to_owned(), message: e.to_string() })?;
    let identity = &unified.identity;
    let ids: Vec<&str> = identity.customer_ids.iter().map(|c| c.as_str()).collect();
    let source_name = |s: &str| options.source_names.get(s).cloned().unwrap_or_else(|| s.to_owned());

    let mut w = Writer::create(dir.join("identity_clusters.csv"))?;
    w.row(["source", "source_record_key", options.customer_column.as_str()])?;
    for (r, key) in unified.store.records.iter().enumerate() {
        let source = unified.store.source_of(r as u32);
        let local = key.strip_prefix(source).and_then(|k| k.strip_prefix(':')).unwrap_or(key);
        w.row([source_name(source).as_str(), local, ids[identity.customer_of_record[r] as usize]])?;
    }
    w.finish()?;

    let items = &unified.store.items;
    let mut w = Writer::create(dir.join("predictions.csv"))?;
    w.row([
        options.customer_column.as_str(),
        "churn_score",
        "next_purchase_date",
        "recommendations",
        "risk_band",
        "p_alive",
        "expected_purchases_90d",
        "urgency",
        "window_start",
        "window_end",
    ])?;
    for (c, id) in ids.iter().enumerate() {
        let p = models.churn_probability[c];
        if p.is_nan() && !options.all_customers {
            continue;
        }
        let timing = &models.timing_predictions[c];
        let recs: Vec<&str> =
            models.recommendations[c].iter().take(options.top_items).map(|r| items.resolve(r.0)).collect();
        let band = if p.is_nan() {
            ""
        } else if p >= 0.6 {
            "high"
        } else if p >= 0.3 {
            "medium"
        } else {
            "low"
        };
        w.row([
            id.to_string(),
            if p.is_nan() { String::new() } else { format!("{p:.4}") },
            timing.next_purchase_day.map(date_text).unwrap_or_default(),
            recs.join(&options.item_separator),
            band.to_owned(),
            format!("{:.4}", timing.p_alive),
            format!("{:.3}", timing.expected_90d),
            format!("{:?}", timing.urgency),
            date_text(timing.window_start),
            date_text(timing.window_end),
        ])?;
    }
    w.finish()?;

    let names = models.schema.names();
    let values = super::value_at_risk(unified, models, options.horizon_days);
    let mut at_risk: Vec<(usize, f64)> = (0..ids.len())
        .filter(|&c| models.churn_probability[c] >= options.at_risk_threshold && values[c] > 0.0)
        .map(|c| (c, values[c]))
        .collect();
    at_risk.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
    let mut w = Writer::create(dir.join("at_risk.csv"))?;
    w.row([
        options.customer_column.as_str(),
        "churn_probability",
        "value_at_risk",
        "reasons",
        "last_purchase",
        "urgency",
    ])?;
    let today = day_number(models.as_of);
    for (c, value) in at_risk {
        let reasons: Vec<String> =
            models.churn_reasons[c].iter().map(|(f, v)| format!("{} (+{v:.2})", names[*f])).collect();
        let last = match models.profiles.column("recency_days").map(|col| &col.values) {
            Some(Values::Number(v)) if !v[c].is_nan() => date_text(today - v[c] as i32),
            _ => String::new(),
        };
        w.row([
            ids[c].to_string(),
            format!("{:.4}", models.churn_probability[c]),
            format!("{value:.2}"),
            reasons.join("; "),
            last,
            format!("{:?}", models.timing_predictions[c].urgency),
        ])?;
    }
    w.finish()?;

    let mut w = Writer::create(dir.join("tags.csv"))?;
    w.row([options.customer_column.as_str(), "tag", "value"])?;
    for column in models.profiles.columns.iter().filter(|c| c.origin == Origin::Dictionary) {
        for (c, id) in ids.iter().enumerate() {
            let value = match &column.values {
                Values::Flag(v) if v[c] == Some(true) => Some(String::new()),
                Values::Flag(_) => None,
                other => other.text(c),
            };
            if let Some(value) = value {
                w.row([id, column.name.as_str(), value.as_str()])?;
            }
        }
    }
    w.finish()
}
