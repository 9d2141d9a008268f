//! Unify: read every island, clean it, resolve identities, map tags onto the dictionary and compute
//! behavioural tags, giving one profile per customer.
//!
//! The flow: catalog sources → other sources (in parallel, each into a [`SourceBatch`]) → [`Store`] →
//! [`identity::resolve`] → profile columns (identity, behaviour, dictionary tags) → outputs.

pub mod behaviour;
pub mod csv_chunks;
pub mod dictionary;
pub mod fuzzy;
pub mod identity;
pub mod identity_tags;
pub mod output;
pub mod profile;
pub mod store;
pub mod tags;

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::time::Instant;

use chrono::{FixedOffset, NaiveDate};
use rayon::prelude::*;
use serde::Serialize;

use crate::sources::batch::SourceBatch;
use crate::sources::catalog::Catalog;
use crate::sources::config::{ConfigError, SourceConfig, SourceKind};
use crate::sources::parse::{ReadContext, SourceError, read_catalog, read_source};
use crate::sources::quality::SourceQuality;
use dictionary::{DictionaryError, TagDictionary};
use identity::{Identity, IdentityInput, IdentityParams};
use output::OutputError;
use profile::ProfileTable;
use store::Store;

/// Why unify stopped.
#[derive(Debug, thiserror::Error)]
pub enum UnifyError {
    /// The source config is invalid.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// The tag dictionary is invalid.
    #[error(transparent)]
    Dictionary(#[from] DictionaryError),
    /// A catalog source failed (transactions cannot be mapped without it).
    #[error("catalog source failed: {0}")]
    Catalog(SourceError),
    /// No source yielded a usable row.
    #[error("nothing usable is left: every source failed or was quarantined entirely ({0})")]
    NothingUsable(String),
    /// An identity pattern did not compile.
    #[error("identity.blocked_values: {0}")]
    Pattern(#[from] regex::Error),
    /// An output could not be written.
    #[error(transparent)]
    Output(#[from] OutputError),
    /// The output folder could not be created.
    #[error("cannot create output folder {path}: {source}")]
    OutputDir {
        /// The folder.
        path: PathBuf,
        /// The error.
        source: std::io::Error,
    },
}

/// A source that could not be read at all; the others go on.
#[derive(Debug, Clone, Serialize)]
pub struct FailedSource {
    /// Source name.
    pub source: String,
    /// The error, with file and field.
    pub error: String,
}

/// Everything read and linked, before profiles are computed for a date.
pub struct Unified {
    /// The source config.
    pub config: SourceConfig,
    /// The tag dictionary.
    pub dictionary: TagDictionary,
    /// The product catalog.
    pub catalog: Catalog,
    /// Everything read, on global indices.
    pub store: Store,
    /// Resolved identities.
    pub identity: Identity,
    /// Quality report per source.
    pub quality: Vec<SourceQuality>,
    /// Sources that failed entirely.
    pub failed: Vec<FailedSource>,
    /// Unmapped tags and values: (source, tag, value, problem, count), most frequent first.
    pub unmapped: Vec<(String, String, String, String, u64)>,
    /// Seconds per stage.
    pub timings: Vec<(String, f64)>,
    /// Peak resident memory once identities were linked (before profiles), MiB.
    pub peak_after_link_mib: Option<f64>,
    /// Inputs of the profile tables that do not depend on the as-of date, computed on first use.
    profile_inputs: ProfileInputs,
}

/// What every profile date shares: each record's first dated fact and the resolution order of the tag
/// facts. Computed once per unify run (the training builds three point-in-time views), each with the
/// store's sizes it was made from: a store grown since (a caller adding facts) gets fresh inputs.
#[derive(Debug, Default)]
struct ProfileInputs {
    first_seen: std::sync::OnceLock<(StoreSizes, Vec<Option<i64>>)>,
    fact_order: std::sync::OnceLock<(StoreSizes, Vec<u32>)>,
}

/// Lines, tag facts and tickets in the store.
type StoreSizes = (usize, usize, usize);

/// The value `cell` holds when it was made for a store of `sizes` (made now if the cell is empty), else a
/// fresh one from `make`.
fn shared_or_fresh<T: Clone>(
    cell: &std::sync::OnceLock<(StoreSizes, T)>,
    sizes: StoreSizes,
    make: impl Fn() -> T,
) -> std::borrow::Cow<'_, T> {
    let (made_for, value) = cell.get_or_init(|| (sizes, make()));
    if *made_for == sizes { std::borrow::Cow::Borrowed(value) } else { std::borrow::Cow::Owned(make()) }
}

/// Told (source, bytes done, bytes total) while files are read.
pub type BytesHook = Box<dyn Fn(&str, u64, u64) + Sync>;

/// Progress reporting hooks (the binary draws bars; tests pass [`Progress::silent`]).
pub struct Progress {
    /// Called while files are read.
    pub on_bytes: BytesHook,
    /// Called when a stage starts.
    pub on_stage: Box<dyn Fn(&str) + Sync>,
}

impl Progress {
    /// No output.
    pub fn silent() -> Self {
        Self { on_bytes: Box::new(|_, _, _| {}), on_stage: Box::new(|_| {}) }
    }
}

/// Reads, cleans and links every source of a config. Quarantine files go to `quarantine_dir`.
pub fn unify(config: SourceConfig, quarantine_dir: &Path, progress: &Progress) -> Result<Unified, UnifyError> {
    let mut timings = Vec::new();
    let started = Instant::now();
    let dictionary = TagDictionary::load(&config.dictionary_path())?;
    std::fs::create_dir_all(quarantine_dir)
        .map_err(|source| UnifyError::OutputDir { path: quarantine_dir.to_owned(), source })?;

    (progress.on_stage)("reading catalog");
    let mut catalog = Catalog::default();
    let mut quality = Vec::new();
    let empty = Catalog::default();
    for spec in config.sources.iter().filter(|s| s.kind == SourceKind::Catalog) {
        let ctx = ReadContext {
            config: &config,
            dictionary: &dictionary,
            catalog: &empty,
            quarantine_dir,
            on_progress: &*progress.on_bytes,
        };
        quality.push(read_catalog(&ctx, spec, &mut catalog).map_err(UnifyError::Catalog)?);
    }

    (progress.on_stage)("reading sources");
    let ctx = ReadContext {
        config: &config,
        dictionary: &dictionary,
        catalog: &catalog,
        quarantine_dir,
        on_progress: &*progress.on_bytes,
    };
    let specs: Vec<_> = config.sources.iter().filter(|s| s.kind != SourceKind::Catalog).collect();
    let results: Vec<Result<SourceBatch, SourceError>> = specs.par_iter().map(|spec| read_source(&ctx, spec)).collect();
    timings.push(("read_and_clean".to_owned(), started.elapsed().as_secs_f64()));

    let stage = Instant::now();
    let mut store = Store::new(config.sources.iter().map(|s| s.name.clone()).collect(), &catalog);
    store.reserve_lines(results.iter().map(|r| r.as_ref().map_or(0, |b| b.lines.len())).sum());
    let mut failed = Vec::new();
    let mut unmapped: HashMap<(String, String, String, &'static str), u64> = HashMap::new();
    for (spec, result) in specs.iter().zip(results) {
        match result {
            Ok(mut batch) => {
                quality.push(std::mem::take(&mut batch.quality));
                for ((tag, value, problem), n) in batch.unmapped.drain() {
                    *unmapped.entry((batch.source.clone(), tag, value, problem)).or_default() += n;
                }
                store.add(batch);
            }
            Err(e) => failed.push(FailedSource { source: spec.name.clone(), error: e.to_string() }),
        }
    }
    let usable: u64 = quality.iter().filter(|q| q.kind != "catalog").map(|q| q.rows_kept).sum();
    if usable == 0 {
        let why = if failed.is_empty() {
            "no rows were kept".to_owned()
        } else {
            failed.iter().map(|f| f.error.clone()).collect::<Vec<_>>().join("; ")
        };
        return Err(UnifyError::NothingUsable(why));
    }
    let mut unmapped: Vec<(String, String, String, String, u64)> =
        unmapped.into_iter().map(|((s, t, v, p), n)| (s, t, v, p.to_owned(), n)).collect();
    unmapped.sort_unstable_by(|a, b| b.4.cmp(&a.4).then_with(|| (&a.0, &a.1, &a.2).cmp(&(&b.0, &b.1, &b.2))));
    timings.push(("merge".to_owned(), stage.elapsed().as_secs_f64()));

    (progress.on_stage)("resolving identities");
    let stage = Instant::now();
    let params = IdentityParams::from_config(&config.identity)?;
    let input = IdentityInput {
        records: &store.records,
        anonymous: &store.anonymous,
        record_source: &store.record_source,
        keys: &store.keys,
        edges: &store.edges,
    };
    let identity = identity::resolve(input, &params);
    store.sort_lines_by_customer(&identity.customer_of_record);
    timings.push(("identity".to_owned(), stage.elapsed().as_secs_f64()));
    let peak_after_link_mib = crate::memory::peak_rss_mib();

    Ok(Unified {
        config,
        dictionary,
        catalog,
        store,
        identity,
        quality,
        failed,
        unmapped,
        timings,
        peak_after_link_mib,
        profile_inputs: ProfileInputs::default(),
    })
}

impl Unified {
    /// The project's time zone.
    pub fn timezone(&self) -> FixedOffset {
        self.config.timezone()
    }

    /// Frees the store's transaction lines, tag facts and tickets, and the profile inputs made from them
    /// (profiles can no longer be computed afterwards).
    pub fn release_transactions(&mut self) {
        self.store.release_transactions();
        self.profile_inputs = ProfileInputs::default();
    }

    /// The profile table as of `as_of`: identity columns, behavioural tags and dictionary tags (the four
    /// groups and the customer IDs are computed side by side; the column order does not depend on it).
    pub fn profiles(&self, as_of: NaiveDate) -> ProfileTable {
        let identity = &self.identity;
        let tz = self.timezone();
        let as_of_ts = behaviour::day_start_ts(as_of, &tz);
        let started = Instant::now();
        let sizes = (self.store.lines.len(), self.store.facts.len(), self.store.tickets.len());
        let identity_columns = || {
            let first_seen =
                shared_or_fresh(&self.profile_inputs.first_seen, sizes, || identity_tags::first_seen(&self.store));
            identity_tags::identity_columns(&self.store, identity, &first_seen, as_of_ts)
        };
        let behaviour_columns =
            || behaviour::behaviour_columns(&self.store, identity, &self.dictionary.categories.canonical, as_of, tz);
        let ticket_columns = || {
            if self.store.tickets.is_empty() {
                return Vec::new();
            }
            let kinds: Vec<String> =
                self.dictionary.find("ticket_kind").map(|t| self.dictionary.tag(t).values.clone()).unwrap_or_default();
            behaviour::ticket_columns(&self.store, identity, &kinds, as_of, tz)
        };
        let dictionary_columns = || {
            let fact_order =
                shared_or_fresh(&self.profile_inputs.fact_order, sizes, || tags::fact_order(&self.store, identity));
            tags::dictionary_columns(&self.store, identity, &self.dictionary, as_of_ts, &fact_order)
        };
        let customer_ids = || identity.customer_ids.iter().map(|c| c.to_string()).collect::<Vec<_>>();
        let ((mut columns, tickets), (behaviour, (dictionary, customer_ids))) = rayon::join(
            || rayon::join(identity_columns, ticket_columns),
            || rayon::join(behaviour_columns, || rayon::join(dictionary_columns, customer_ids)),
        );
        columns.extend(behaviour);
        columns.extend(tickets);
        columns.extend(dictionary);
        tracing::debug!(%as_of, total_seconds = started.elapsed().as_secs_f64(), "profiles");
        ProfileTable { customer_ids, columns }
    }
}

/// The JSON quality report of a unify run.
#[derive(Debug, Serialize)]
pub struct UnifyReport {
    /// Project name.
    pub project: String,
    /// As-of date of the profiles.
    pub as_of: NaiveDate,
    /// Tag dictionary version.
    pub dictionary_version: String,
    /// Per-source quality.
    pub sources: Vec<SourceQuality>,
    /// Sources that failed entirely.
    pub failed_sources: Vec<FailedSource>,
    /// Identity resolution summary.
    pub identity: IdentitySummary,
    /// Unmapped tag values: distinct spellings and rows.
    pub unmapped_spellings: usize,
    /// Rows with unmapped tag values.
    pub unmapped_rows: u64,
    /// Seconds per stage.
    pub timings: BTreeMap<String, f64>,
    /// Source rows read per second of wall time (all stages).
    pub rows_per_second: f64,
    /// Peak resident memory of the process, MiB.
    pub peak_rss_mib: Option<f64>,
    /// Peak resident memory when reading, cleaning and linking were done, MiB.
    pub peak_rss_after_link_mib: Option<f64>,
}

/// Identity figures for the report.
#[derive(Debug, Serialize)]
pub struct IdentitySummary {
    /// Source records.
    pub records: usize,
    /// Unified customers.
    pub customers: usize,
    /// Customers with records in more than one source.
    pub multi_source_customers: usize,
    /// Identity keys.
    pub keys: usize,
    /// Keys blocked, by status.
    pub blocked_keys: BTreeMap<String, usize>,
    /// Fuzzy links, by rule.
    pub fuzzy_links: BTreeMap<String, usize>,
}

impl Unified {
    /// The summary of identity resolution.
    pub fn identity_summary(&self) -> IdentitySummary {
        let identity = &self.identity;
        let mut blocked = BTreeMap::new();
        for s in identity.key_status.iter().filter(|s| !s.links()) {
            *blocked.entry(s.as_str().to_owned()).or_default() += 1;
        }
        let mut fuzzy = BTreeMap::new();
        for l in &identity.fuzzy_links {
            *fuzzy.entry(l.rule.as_str().to_owned()).or_default() += 1;
        }
        let multi = (0..identity.customers() as u32)
            .filter(|&c| {
                let records = identity.records_of(c);
                records
                    .iter()
                    .any(|&r| self.store.record_source[r as usize] != self.store.record_source[records[0] as usize])
            })
            .count();
        IdentitySummary {
            records: self.store.records.len(),
            customers: identity.customers(),
            multi_source_customers: multi,
            keys: self.store.keys.len(),
            blocked_keys: blocked,
            fuzzy_links: fuzzy,
        }
    }

    /// Writes every output into `out` and returns the report.
    pub fn write_outputs(
        &self,
        profiles: &ProfileTable,
        as_of: NaiveDate,
        out: &Path,
    ) -> Result<UnifyReport, UnifyError> {
        std::fs::create_dir_all(out).map_err(|source| UnifyError::OutputDir { path: out.to_owned(), source })?;
        let stage = Instant::now();
        // The profile table (parquet) and the identity tables (CSV) are independent: written side by side.
        let (profiles_written, identity_written) = rayon::join(
            || output::write_profiles(profiles, &out.join("profiles.parquet")),
            || output::write_identity(&self.store, &self.identity, out),
        );
        profiles_written?;
        identity_written?;
        output::write_json(&output::tag_catalog(profiles, &self.dictionary), &out.join("tag_catalog.json"))?;
        output::write_unmapped(&self.unmapped, &out.join("unmapped_tags.csv"))?;
        let report = self.report(as_of, Some(("write_outputs", stage.elapsed().as_secs_f64())));
        output::write_json(&report, &out.join("quality_report.json"))?;
        let summary = summary_text(&report);
        std::fs::write(out.join("quality_summary.txt"), &summary)
            .map_err(|source| OutputError::Io { path: out.join("quality_summary.txt"), source })?;
        Ok(report)
    }

    /// The quality report as of `as_of`, with the stage timings so far (plus `extra`, if any).
    pub fn report(&self, as_of: NaiveDate, extra: Option<(&str, f64)>) -> UnifyReport {
        let mut timings = self.timings.clone();
        timings.extend(extra.map(|(stage, seconds)| (stage.to_owned(), seconds)));
        UnifyReport {
            project: self.config.project.name.clone(),
            as_of,
            dictionary_version: self.dictionary.version.clone(),
            sources: self.quality.clone(),
            failed_sources: self.failed.clone(),
            identity: self.identity_summary(),
            unmapped_spellings: self.unmapped.len(),
            unmapped_rows: self.unmapped.iter().map(|u| u.4).sum(),
            rows_per_second: {
                let rows: u64 = self.quality.iter().map(|q| q.rows_read).sum();
                let secs: f64 = timings.iter().map(|t| t.1).sum();
                if secs > 0.0 { rows as f64 / secs } else { 0.0 }
            },
            timings: timings.into_iter().collect(),
            peak_rss_mib: crate::memory::peak_rss_mib(),
            peak_rss_after_link_mib: self.peak_after_link_mib,
        }
    }
}

/// The short human summary of a report.
pub fn summary_text(report: &UnifyReport) -> String {
    let mut s =
        format!("{} — profiles as of {} (dictionary {})\n\n", report.project, report.as_of, report.dictionary_version);
    for q in &report.sources {
        s.push_str(&q.summary());
        s.push('\n');
    }
    for f in &report.failed_sources {
        s.push_str(&format!("FAILED {}: {}\n", f.source, f.error));
    }
    let id = &report.identity;
    s.push_str(&format!(
        "\nidentity: {} records → {} customers ({} seen in more than one island); {} keys, blocked {:?}, fuzzy links {:?}\n",
        id.records, id.customers, id.multi_source_customers, id.keys, id.blocked_keys, id.fuzzy_links
    ));
    s.push_str(&format!(
        "tags: {} unmapped spellings on {} values (see unmapped_tags.csv)\n",
        report.unmapped_spellings, report.unmapped_rows
    ));
    let rows: u64 = report.sources.iter().map(|q| q.rows_read).sum();
    let secs: f64 = report.timings.values().sum();
    s.push_str(&format!(
        "time: {secs:.1} s for {rows} rows ({:.0} rows/s){}\n",
        report.rows_per_second,
        report.peak_rss_mib.map_or(String::new(), |m| format!(", peak memory {m:.0} MiB"))
    ));
    s
}
