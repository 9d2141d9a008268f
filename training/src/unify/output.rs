//! Writing what unify produced: profiles (Parquet), the identity map and graph (CSV), the tag catalog and
//! the quality report (JSON), and the unmapped tag values (CSV).

use std::collections::HashMap;
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use polars::prelude::*;
use rayon::prelude::*;
use serde::Serialize;

use super::csv_chunks::{self, Rows};

use super::dictionary::TagDictionary;
use super::identity::Identity;
use super::profile::{Origin, ProfileTable, Values};
use super::store::Store;

/// An output that could not be written.
#[derive(Debug, thiserror::Error)]
pub enum OutputError {
    /// An I/O error on a file.
    #[error("cannot write {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The error.
        source: std::io::Error,
    },
    /// polars could not build or write a frame.
    #[error("cannot write {path}: {message}")]
    Polars {
        /// The file.
        path: PathBuf,
        /// polars' message.
        message: String,
    },
}

fn io_error(path: &Path) -> impl Fn(std::io::Error) -> OutputError + '_ {
    move |source| OutputError::Io { path: path.to_owned(), source }
}

/// Converts rows `range` of the profile table into a polars frame: one row per customer, every tag typed.
pub fn profile_frame(profiles: &ProfileTable, range: std::ops::Range<usize>) -> PolarsResult<DataFrame> {
    let height = range.len();
    // Columns are converted independently: in parallel, in table order.
    let tags: Vec<Column> = profiles
        .columns
        .par_iter()
        .map(|c| -> PolarsResult<Column> {
            let name: PlSmallStr = c.name.as_str().into();
            Ok(match &c.values {
                Values::Flag(v) => Column::new(name, &v[range.clone()]),
                Values::Number(v) => {
                    let values: Float64Chunked = v[range.clone()].iter().map(|x| (!x.is_nan()).then_some(*x)).collect();
                    values.with_name(name).into_column()
                }
                Values::Text(v) => Column::new(name, &v[range.clone()]),
                Values::Category { levels, codes } => {
                    let text: Vec<Option<&str>> =
                        codes[range.clone()].iter().map(|c| c.map(|c| levels[c as usize].as_str())).collect();
                    Column::new(name, text)
                }
                Values::Date(v) => Column::new(name, &v[range.clone()]).cast(&DataType::Date)?,
            })
        })
        .collect::<PolarsResult<_>>()?;
    let mut columns = Vec::with_capacity(tags.len() + 1);
    columns.push(Column::new("customer_id".into(), &profiles.customer_ids[range.clone()]));
    columns.extend(tags);
    DataFrame::new(height, columns)
}

/// Rows per Parquet row group (and per frame built in memory at once).
const ROW_GROUP: usize = 262_144;

/// Writes `profiles.parquet`, one row group at a time so the frame never holds the whole table twice.
pub fn write_profiles(profiles: &ProfileTable, path: &Path) -> Result<(), OutputError> {
    let polars_error = |e: PolarsError| OutputError::Polars { path: path.to_owned(), message: e.to_string() };
    let n = profiles.customer_ids.len();
    let first = profile_frame(profiles, 0..n.min(ROW_GROUP)).map_err(polars_error)?;
    let file = File::create(path).map_err(io_error(path))?;
    let mut writer = ParquetWriter::new(BufWriter::new(file)).batched(first.schema()).map_err(polars_error)?;
    writer.write_batch(&first).map_err(polars_error)?;
    drop(first);
    let mut start = ROW_GROUP;
    while start < n {
        let frame = profile_frame(profiles, start..n.min(start + ROW_GROUP)).map_err(polars_error)?;
        writer.write_batch(&frame).map_err(polars_error)?;
        start += ROW_GROUP;
    }
    writer.finish().map_err(polars_error)?;
    Ok(())
}

/// Writes a CSV file with [`csv_chunks::write_file`] (rows formatted in parallel chunks).
fn write_csv(
    path: &Path,
    header: &[&str],
    rows: usize,
    format: impl Fn(usize, &mut Rows) + Sync,
) -> Result<(), OutputError> {
    csv_chunks::write_file(path, header, rows, format).map_err(io_error(path))
}

/// Writes `identity_map.csv` (every source record → customer), `identity_keys.csv` (every identity key
/// with its status and customer), `identity_edges.csv` (which key joins which record, for explanations)
/// and `fuzzy_links.csv`.
pub fn write_identity(store: &Store, identity: &Identity, dir: &Path) -> Result<(), OutputError> {
    let customer_of = |r: u32| identity.customer_ids[identity.customer_of_record[r as usize] as usize].as_str();
    write_csv(
        &dir.join("identity_map.csv"),
        &["customer_id", "source", "record_key", "anonymous"],
        store.records.len(),
        |r, rows| {
            let key = store.records.resolve(r as u32);
            let source = store.source_of(r as u32);
            let local = key.strip_prefix(source).and_then(|k| k.strip_prefix(':')).unwrap_or(key);
            rows.record([customer_of(r as u32), source, local, if store.anonymous[r] { "true" } else { "false" }]);
        },
    )?;

    // A key's customer: the customer of its records when the key links.
    let mut key_customer: Vec<Option<u32>> = vec![None; store.keys.len()];
    for &(r, k) in &store.edges {
        if identity.key_status[k as usize].links() {
            key_customer[k as usize] = Some(identity.customer_of_record[r as usize]);
        }
    }
    write_csv(
        &dir.join("identity_keys.csv"),
        &["key", "kind", "status", "identified_records", "anonymous_records", "customer_id"],
        store.keys.len(),
        |k, rows| {
            let (identified, anonymous) = identity.key_counts[k];
            rows.field(store.keys.resolve(k as u32));
            rows.field(store.key_kinds[k].namespace());
            rows.field(identity.key_status[k].as_str());
            rows.field_fmt(format_args!("{identified}"));
            rows.field_fmt(format_args!("{anonymous}"));
            rows.field(key_customer[k].map_or("", |c| identity.customer_ids[c as usize].as_str()));
            rows.end();
        },
    )?;

    let mut edges = store.edges.clone();
    edges.par_sort_unstable_by_key(|&(r, k)| (identity.customer_of_record[r as usize], r, k));
    write_csv(
        &dir.join("identity_edges.csv"),
        &["customer_id", "record", "key", "key_status"],
        edges.len(),
        |i, rows| {
            let (r, k) = edges[i];
            rows.record([
                customer_of(r),
                store.records.resolve(r),
                store.keys.resolve(k),
                identity.key_status[k as usize].as_str(),
            ]);
        },
    )?;

    let links = &identity.fuzzy_links;
    write_csv(&dir.join("fuzzy_links.csv"), &["rule", "from_key", "to_key", "customer_id"], links.len(), |i, rows| {
        let link = &links[i];
        rows.record([
            link.rule.as_str(),
            store.keys.resolve(link.from_key),
            store.keys.resolve(link.to_key),
            key_customer[link.from_key as usize].map_or("", |c| identity.customer_ids[c as usize].as_str()),
        ]);
    })
}

/// One entry of the tag catalog.
#[derive(Debug, Clone, Serialize)]
pub struct CatalogEntry {
    /// Tag name.
    pub tag: String,
    /// Type.
    #[serde(rename = "type")]
    pub tag_type: String,
    /// Meaning.
    pub description: String,
    /// Owner.
    pub owner: String,
    /// Where its values come from.
    pub origin: Origin,
    /// Share of customers with a value.
    pub coverage: f64,
    /// Aliases (dictionary tags).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub aliases: Vec<String>,
    /// Canonical values (category and flag tags).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub values: Vec<String>,
}

/// The tag catalog: every profile column, and dictionary tags nobody stated (coverage 0).
pub fn tag_catalog(profiles: &ProfileTable, dict: &TagDictionary) -> Vec<CatalogEntry> {
    let by_name: HashMap<&str, usize> = dict.tags.iter().enumerate().map(|(i, t)| (t.name.as_str(), i)).collect();
    let mut entries: Vec<CatalogEntry> = profiles
        .columns
        .iter()
        .map(|c| {
            let def = by_name.get(c.name.as_str()).filter(|_| c.origin == Origin::Dictionary).map(|&i| &dict.tags[i]);
            CatalogEntry {
                tag: c.name.clone(),
                tag_type: c.tag_type.to_string(),
                description: c.description.clone(),
                owner: c.owner.clone(),
                origin: c.origin,
                coverage: c.coverage(),
                aliases: def.map(|d| d.aliases.clone()).unwrap_or_default(),
                values: def.map(|d| d.values.clone()).unwrap_or_default(),
            }
        })
        .collect();
    for def in &dict.tags {
        if !profiles.columns.iter().any(|c| c.name == def.name) {
            entries.push(CatalogEntry {
                tag: def.name.clone(),
                tag_type: def.tag_type.to_string(),
                description: def.description.clone(),
                owner: def.owner.clone(),
                origin: Origin::Dictionary,
                coverage: 0.0,
                aliases: def.aliases.clone(),
                values: def.values.clone(),
            });
        }
    }
    entries
}

/// Writes any serializable value as pretty JSON.
pub fn write_json<T: Serialize>(value: &T, path: &Path) -> Result<(), OutputError> {
    let file = File::create(path).map_err(io_error(path))?;
    let mut w = BufWriter::new(file);
    serde_json::to_writer_pretty(&mut w, value)
        .map_err(|e| OutputError::Io { path: path.to_owned(), source: std::io::Error::other(e) })?;
    w.write_all(b"\n").map_err(io_error(path))?;
    w.flush().map_err(io_error(path))
}

/// Writes `unmapped_tags.csv`: source, raw tag, raw value, problem, count (most frequent first).
pub fn write_unmapped(rows: &[(String, String, String, String, u64)], path: &Path) -> Result<(), OutputError> {
    write_csv(path, &["source", "raw_tag", "raw_value", "problem", "count"], rows.len(), |i, out| {
        let (source, tag, value, problem, count) = &rows[i];
        out.field(source);
        out.field(tag);
        out.field(value);
        out.field(problem);
        out.field_fmt(format_args!("{count}"));
        out.end();
    })
}
