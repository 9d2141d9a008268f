//! A realistic multi-island retail demo data generator.
//!
//! [`generate`] writes the files a retailer would hand over (web order lines, till lines, CRM contacts,
//! service tickets, product master, stores, tag glossary) for a population of simulated persons, in the
//! formats `datasets/demo/tagcenter.toml` reads, with the defects the hand-over lists, plus ground truth
//! in `truth/` (which record belongs to which person, true attributes, purchases in the 92 days after the
//! reference date, exact defect counts). Each person follows a BG/NBD-like purchase process driven by a
//! persona, so churn, next-purchase timing and next items carry real signal. Output is deterministic for a
//! seed and streamed, so a million customers fit in a few hundred megabytes of memory.

mod behaviour;
mod calendar;
mod catalog;
mod contact;
mod crm;
mod defects;
mod people;
mod sampling;
mod stores;
mod tickets;
mod transactions;
mod truth;
mod world;
mod writers;

#[cfg(test)]
mod tests;

use std::fs::{self, File};
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

pub use defects::{DefectCounts, PerFile, UnitErrors};

use defects::Rates;
use world::World;
use writers::{MonthlySink, Outputs, Sink};

/// First day of the exported history (2023-01-01), as days since 1970-01-01.
pub const HISTORY_START: i32 = calendar::days_from_civil(2023, 1, 1);
/// The reference date (2024-07-01): history ends the day before.
pub const REFERENCE_DAY: i32 = calendar::days_from_civil(2024, 7, 1);
/// Length of the prediction window after the reference date, in days.
pub const FUTURE_WINDOW_DAYS: i32 = 92;
/// First day after the future window (2024-10-01).
pub const FUTURE_END: i32 = REFERENCE_DAY + FUTURE_WINDOW_DAYS;
/// Day the web shop switched its timestamps from `+08:00` to UTC (2024-01-15).
pub const UTC_SWITCH_DAY: i32 = calendar::days_from_civil(2024, 1, 15);
/// Months in the history (2023-01 .. 2024-06): one part of the web export each.
const HISTORY_MONTHS: usize = 18;
/// Largest supported population (identifier spaces are 8 digits wide).
pub const MAX_CUSTOMERS: usize = 40_000_000;

const TAGCENTER_TOML: &str = include_str!("../../../datasets/demo/tagcenter.toml");
const TAG_DICTIONARY_TOML: &str = include_str!("../../../datasets/demo/tag_dictionary.toml");
const TAG_DICTIONARY_CSV: &str = include_str!("../../../datasets/demo/tag_dictionary.csv");
const TAG_VALUE_MAP_CSV: &str = include_str!("../../../datasets/demo/tag_value_map.csv");

/// Parameters of a demo run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DemoParams {
    /// Number of simulated persons.
    pub customers: usize,
    /// Random seed; the same seed gives byte-identical files.
    pub seed: u64,
    /// Inject the hand-over's defects (otherwise clean, uniformly formatted files).
    pub defects: bool,
}

impl Default for DemoParams {
    fn default() -> Self {
        Self { customers: 20_000, seed: 42, defects: true }
    }
}

/// What a run wrote.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DemoSummary {
    /// Number of simulated persons.
    pub persons: usize,
    /// Every file written and its number of lines after the leading header (repeated headers, duplicates
    /// and broken lines included; 0 for the TOML config copies).
    pub files: Vec<(PathBuf, u64)>,
    /// Exact defect counts (also in `truth/defects.json`).
    pub defects: DefectCounts,
}

/// Errors of the demo generator.
#[derive(Debug, thiserror::Error)]
pub enum DemoError {
    /// Writing a file failed.
    #[error("demo data I/O error: {0}")]
    Io(#[from] std::io::Error),
    /// Serializing the defect counts failed.
    #[error("demo data JSON error: {0}")]
    Json(#[from] serde_json::Error),
    /// The parameters are outside what the generator supports.
    #[error("invalid demo parameters: {0}")]
    InvalidParams(String),
}

fn write_static(path: PathBuf, text: &str, rows: u64) -> Result<(PathBuf, u64), DemoError> {
    fs::write(&path, text)?;
    Ok((path, rows))
}

fn csv_rows(text: &str) -> u64 {
    text.lines().filter(|l| !l.is_empty()).count().saturating_sub(1) as u64
}

/// Generates the demo retailer's files into `out_dir` (created if missing) and the ground truth into
/// `out_dir/truth/`.
pub fn generate(params: &DemoParams, out_dir: &Path) -> Result<DemoSummary, DemoError> {
    if params.customers > MAX_CUSTOMERS {
        return Err(DemoError::InvalidParams(format!(
            "customers = {} exceeds the supported maximum of {MAX_CUSTOMERS}",
            params.customers
        )));
    }
    let truth_dir = out_dir.join("truth");
    let tmp_dir = out_dir.join(".demo-parts");
    fs::create_dir_all(&truth_dir)?;
    fs::create_dir_all(&tmp_dir)?;
    let rates = if params.defects { Rates::standard() } else { Rates::none() };

    let mut counts = DefectCounts::default();
    let mut rng = ChaCha8Rng::seed_from_u64(params.seed);
    let catalog = catalog::Catalog::generate(&mut rng, &rates, &mut counts);
    let stores = stores::stores(&rates);
    let mut files = Vec::new();

    let path = out_dir.join("products.csv");
    let mut w = BufWriter::new(File::create(&path)?);
    let rows = catalog.write_csv(&mut w)?;
    w.flush()?;
    files.push((path, rows));
    let path = out_dir.join("stores.csv");
    let mut w = BufWriter::new(File::create(&path)?);
    let rows = stores::write_stores(&stores, &mut w)?;
    w.flush()?;
    files.push((path, rows));
    files.push(write_static(out_dir.join("tag_dictionary.csv"), TAG_DICTIONARY_CSV, csv_rows(TAG_DICTIONARY_CSV))?);
    files.push(write_static(out_dir.join("tag_value_map.csv"), TAG_VALUE_MAP_CSV, csv_rows(TAG_VALUE_MAP_CSV))?);
    files.push(write_static(out_dir.join("tagcenter.toml"), TAGCENTER_TOML, 0)?);
    files.push(write_static(out_dir.join("tag_dictionary.toml"), TAG_DICTIONARY_TOML, 0)?);

    let mut out = Outputs {
        web: MonthlySink::create(out_dir.join("online_orders.csv"), writers::WEB_HEADER, &tmp_dir, HISTORY_MONTHS)?,
        pos: MonthlySink::create(out_dir.join("pos_transactions.csv"), writers::POS_HEADER, &tmp_dir, HISTORY_MONTHS)?,
        crm: Sink::create(out_dir.join("crm_contacts.csv"), crm::HEADER)?,
        tickets: Sink::create(out_dir.join("service_tickets.jsonl"), "")?,
        identity: Sink::create(truth_dir.join("identity.csv"), truth::IDENTITY_HEADER)?,
        persons: Sink::create(truth_dir.join("persons.csv"), truth::PERSONS_HEADER)?,
        future: Sink::create(truth_dir.join("future_purchases.csv"), truth::FUTURE_HEADER)?,
    };
    let mut world = World::new(catalog, stores, rates);
    world.counts = counts;
    for index in 0..params.customers as u64 {
        let mut rng = ChaCha8Rng::seed_from_u64(params.seed);
        rng.set_stream(index + 1);
        let mut person = people::generate(index, &mut rng, &mut world);
        let mut log = behaviour::simulate(&mut person, &mut rng, &mut world, &mut out)?;
        crm::write_contacts(&person, &mut rng, &mut world, &mut out, &mut log)?;
        tickets::write_tickets(&person, &mut rng, &mut world, &mut out, &mut log)?;
        truth::finish_person(&person, &log, &mut world, &mut out)?;
    }

    let Outputs { web, pos, crm, tickets, identity, persons, future } = out;
    let (path, rows, repeated) = web.finish(world.rates.monthly_headers)?;
    world.counts.repeated_headers.web = repeated;
    files.push((path, rows));
    let (path, rows, _) = pos.finish(false)?;
    files.push((path, rows));
    for sink in [crm, tickets, identity, persons, future] {
        files.push(sink.finish()?);
    }
    fs::remove_dir_all(&tmp_dir)?;

    let defects = world.counts;
    let path = truth_dir.join("defects.json");
    fs::write(&path, serde_json::to_string_pretty(&defects)? + "\n")?;
    files.push((path, 0));
    Ok(DemoSummary { persons: params.customers, files, defects })
}
