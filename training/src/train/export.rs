//! CSV exports for CRM teams and the retailer's own checks: the at-risk list, per-customer predictions
//! (churn score, next purchase date, top items), identity clusters (source, source key, unified ID) and
//! canonical tags. Column and source names are options, so a retailer's requested layout (such as the
//! hand-over's `OUTPUT_FORMAT.md`) is a matter of flags, not code.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use super::FinalModels;
use crate::unify::Unified;
use crate::unify::behaviour::day_number;
use crate::unify::csv_chunks::{self, Field, Rows};
use crate::unify::profile::{Origin, ProfileColumn, Values};

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

/// Writes a day number (days since 1970-01-01) as chrono writes the date (`2024-07-01`), nothing when out
/// of chrono's range; four-digit years without going through `Display`.
fn push_date(field: &mut Field<'_>, day: i32) {
    use chrono::Datelike;
    let Some(date) = chrono::NaiveDate::from_num_days_from_ce_opt(day + 719_163) else { return };
    let year = date.year();
    if !(0..=9999).contains(&year) {
        let _ = write!(field, "{date}");
        return;
    }
    let (month, day) = (date.month(), date.day());
    let digit = |n: u32| b'0' + (n % 10) as u8;
    let year = year as u32;
    let text = [
        digit(year / 1000),
        digit(year / 100),
        digit(year / 10),
        digit(year),
        b'-',
        digit(month / 10),
        digit(month),
        b'-',
        digit(day / 10),
        digit(day),
    ];
    // ASCII digits and dashes.
    field.push(std::str::from_utf8(&text).unwrap_or_default());
}

/// Maps `csv_chunks` I/O errors to export errors on `path`.
fn write_file(
    path: PathBuf,
    header: &[&str],
    rows: usize,
    format: impl Fn(usize, &mut Rows) + Sync,
) -> Result<(), ExportError> {
    csv_chunks::write_file(&path, header, rows, format).map_err(|e| ExportError { message: e.to_string(), path })
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
    let store = &unified.store;
    let ids: Vec<&str> = identity.customer_ids.iter().map(|c| c.as_str()).collect();
    let source_names: Vec<&str> =
        store.sources.iter().map(|s| options.source_names.get(s).map_or(s.as_str(), String::as_str)).collect();

    write_file(
        dir.join("identity_clusters.csv"),
        &["source", "source_record_key", options.customer_column.as_str()],
        store.records.len(),
        |r, rows| {
            let key = store.records.resolve(r as u32);
            let source = store.source_of(r as u32);
            let local = key.strip_prefix(source).and_then(|k| k.strip_prefix(':')).unwrap_or(key);
            rows.field(source_names[usize::from(store.record_source[r])]);
            rows.field(local);
            rows.field(ids[identity.customer_of_record[r] as usize]);
            rows.end();
        },
    )?;

    let items = &store.items;
    write_file(
        dir.join("predictions.csv"),
        &[
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
        ],
        ids.len(),
        |c, rows| {
            let p = models.churn_probability[c];
            if p.is_nan() && !options.all_customers {
                return;
            }
            let timing = &models.timing_predictions[c];
            let band = if p.is_nan() {
                ""
            } else if p >= 0.6 {
                "high"
            } else if p >= 0.3 {
                "medium"
            } else {
                "low"
            };
            rows.field(ids[c]);
            rows.field_with(|f| {
                if !p.is_nan() {
                    let _ = write!(f, "{p:.4}");
                }
            });
            rows.field_with(|f| {
                if let Some(day) = timing.next_purchase_day {
                    push_date(f, day);
                }
            });
            rows.field_with(|f| {
                for (i, r) in models.recommendations[c].iter().take(options.top_items).enumerate() {
                    if i > 0 {
                        f.push(&options.item_separator);
                    }
                    f.push(items.resolve(r.0));
                }
            });
            rows.field(band);
            rows.field_fmt(format_args!("{:.4}", timing.p_alive));
            rows.field_fmt(format_args!("{:.3}", timing.expected_90d));
            rows.field_fmt(format_args!("{:?}", timing.urgency));
            rows.field_with(|f| push_date(f, timing.window_start));
            rows.field_with(|f| push_date(f, timing.window_end));
            rows.end();
        },
    )?;

    let names = models.schema.names();
    let values = super::value_at_risk(unified, models, options.horizon_days);
    let mut at_risk: Vec<(usize, f64)> = (0..ids.len())
        .filter(|&c| models.churn_probability[c] >= options.at_risk_threshold && values[c] > 0.0)
        .map(|c| (c, values[c]))
        .collect();
    at_risk.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
    let today = day_number(models.as_of);
    let recency = match models.profiles.column("recency_days").map(|col| &col.values) {
        Some(Values::Number(v)) => Some(v),
        _ => None,
    };
    write_file(
        dir.join("at_risk.csv"),
        &[
            options.customer_column.as_str(),
            "churn_probability",
            "value_at_risk",
            "reasons",
            "last_purchase",
            "urgency",
        ],
        at_risk.len(),
        |i, rows| {
            let (c, value) = at_risk[i];
            rows.field(ids[c]);
            rows.field_fmt(format_args!("{:.4}", models.churn_probability[c]));
            rows.field_fmt(format_args!("{value:.2}"));
            rows.field_with(|f| {
                for (i, (feature, v)) in models.churn_reasons[c].iter().enumerate() {
                    if i > 0 {
                        f.push("; ");
                    }
                    let _ = write!(f, "{} (+{v:.2})", names[*feature]);
                }
            });
            rows.field_with(|f| {
                if let Some(v) = recency.filter(|v| !v[c].is_nan()) {
                    push_date(f, today - v[c] as i32);
                }
            });
            rows.field_fmt(format_args!("{:?}", models.timing_predictions[c].urgency));
            rows.end();
        },
    )?;

    // Rows are (dictionary column, customer) pairs, column-major; `Values::text` without its String.
    let columns: Vec<&ProfileColumn> =
        models.profiles.columns.iter().filter(|c| c.origin == Origin::Dictionary).collect();
    let n = ids.len();
    write_file(
        dir.join("tags.csv"),
        &[options.customer_column.as_str(), "tag", "value"],
        columns.len() * n,
        |i, rows| {
            let (column, c) = (columns[i / n], i % n);
            let tag = |rows: &mut Rows, fill: &dyn Fn(&mut Field<'_>)| {
                rows.field(ids[c]);
                rows.field(&column.name);
                rows.field_with(fill);
                rows.end();
            };
            match &column.values {
                Values::Flag(v) if v[c] == Some(true) => tag(rows, &|_| {}),
                Values::Flag(_) => {}
                Values::Number(v) => {
                    let x = v[c];
                    if !x.is_nan() {
                        if x.fract() == 0.0 && x.abs() < 1e15 {
                            tag(rows, &|f| {
                                let _ = write!(f, "{x:.0}");
                            });
                        } else {
                            tag(rows, &|f| {
                                let _ = write!(f, "{x:.4}");
                            });
                        }
                    }
                }
                Values::Category { levels, codes } => {
                    if let Some(code) = codes[c] {
                        tag(rows, &|f| f.push(&levels[code as usize]));
                    }
                }
                Values::Text(v) => {
                    if let Some(text) = &v[c] {
                        tag(rows, &|f| f.push(text));
                    }
                }
                Values::Date(v) => {
                    if let Some(day) =
                        v[c].filter(|d| chrono::NaiveDate::from_num_days_from_ce_opt(d + 719_163).is_some())
                    {
                        tag(rows, &|f| push_date(f, day));
                    }
                }
            }
        },
    )
}
