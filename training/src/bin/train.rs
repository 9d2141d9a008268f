//! `tagcenter-train`: the offline command line. Thin: parses arguments and calls the library.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

use anyhow::{Context, Result, bail};
use chrono::NaiveDate;
use clap::{Parser, Subcommand};
use indicatif::{MultiProgress, ProgressBar, ProgressStyle};
use tagcenter_training::demo::{DemoParams, generate};
use tagcenter_training::eval::identity::score_identity;
use tagcenter_training::sources::config::SourceConfig;
use tagcenter_training::train::assemble::assemble;
use tagcenter_training::train::export::{ExportOptions, write_exports};
use tagcenter_training::train::report::write_report;
use tagcenter_training::train::{StageClock, StageTiming, TrainParams, train};
use tagcenter_training::unify::profile::ProfileTable;
use tagcenter_training::unify::{Progress, Unified, unify};

#[derive(Parser)]
#[command(
    name = "tagcenter-train",
    version,
    about = "Unify customer-data islands, train and evaluate tagcenter's models"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the whole product on generated demo data: generate, unify, train, backtest, write the bundle.
    Demo {
        /// Demo customers to generate.
        #[arg(long, default_value_t = 20_000)]
        customers: usize,
        /// Random seed.
        #[arg(long, default_value_t = 42)]
        seed: u64,
        /// Working folder (data/, unified/, report/, exports/).
        #[arg(long, default_value = "out/demo")]
        out: PathBuf,
        /// Where the bundle goes (`<version>.tcb` and `latest.tcb`).
        #[arg(long, default_value = "models")]
        models: PathBuf,
        /// After training, serve the bundle on this address (e.g. 127.0.0.1:8080) until Ctrl-C.
        #[arg(long)]
        serve: Option<String>,
    },
    /// Unify a config's sources, train and backtest the models, and write a versioned bundle.
    Train {
        #[command(flatten)]
        source: SourceArgs,
        /// Output folder (unified/, report/, exports/).
        #[arg(long)]
        out: PathBuf,
        /// Where the bundle goes (`<version>.tcb` and `latest.tcb`).
        #[arg(long, default_value = "models")]
        models: PathBuf,
        /// Churn and scoring horizon in days.
        #[arg(long, default_value_t = 92)]
        horizon: u32,
        /// Random seed.
        #[arg(long, default_value_t = 42)]
        seed: u64,
        #[command(flatten)]
        export: ExportArgs,
    },
    /// Write a demo retailer's export folder (with its source config, tag dictionary and truth/).
    Generate {
        /// Customers to generate.
        #[arg(long, default_value_t = 20_000)]
        customers: usize,
        /// Random seed.
        #[arg(long, default_value_t = 42)]
        seed: u64,
        /// Leave out the injected defects.
        #[arg(long)]
        no_defects: bool,
        /// Output folder.
        #[arg(long)]
        out: PathBuf,
    },
    /// Read, clean and link every source of a config into unified profiles.
    Unify {
        #[command(flatten)]
        source: SourceArgs,
        /// Output folder.
        #[arg(long)]
        out: PathBuf,
        /// Compute behavioural tags as of this date (default: the config's reference date).
        #[arg(long)]
        as_of: Option<NaiveDate>,
        /// Identity truth (source,record_key,person_id) to score the clusters against.
        #[arg(long)]
        truth: Option<PathBuf>,
    },
    /// Explain a unified customer: its records and the keys that joined them.
    Explain {
        /// A unify output folder.
        #[arg(long)]
        out: PathBuf,
        /// A customer ID, a source record (`web:10342`) or an identity key (`email:ann@qq.com`).
        key: String,
    },
    /// Benchmark unify on generated data of the given sizes: rows/s, wall time, seconds per stage up to
    /// linking (read+clean, merge, identity), peak memory after linking and at the end.
    BenchUnify {
        /// Sizes in customers.
        #[arg(long, value_delimiter = ',', default_values_t = [100_000usize, 1_000_000])]
        customers: Vec<usize>,
        /// Where generated data and outputs are kept (reused when present).
        #[arg(long, default_value = "out/bench")]
        work: PathBuf,
    },
    /// Run the reference protocols (P1–P6) on real data and print our figures beside the reference's.
    Benchmark {
        /// Protocols to run, comma-separated (P1,P2,…,P6).
        #[arg(long, value_delimiter = ',', default_values_t = ["P1".to_owned(), "P6".to_owned()])]
        protocol: Vec<String>,
        /// The reference folder (results.json, splits/).
        #[arg(long, default_value = "../shared/reference")]
        reference: PathBuf,
        /// The raw data sets folder (checked to exist; the protocols read their split files).
        #[arg(long)]
        datasets: Option<PathBuf>,
        /// Also write the markdown table here.
        #[arg(long)]
        out: Option<PathBuf>,
    },
}

/// Which retailer data to read.
#[derive(clap::Args, Debug, Clone)]
struct SourceArgs {
    /// The source config (TOML).
    #[arg(long)]
    config: PathBuf,
    /// Folder holding the source files (default: the config's folder).
    #[arg(long)]
    data: Option<PathBuf>,
}

/// How the CSV exports are laid out.
#[derive(clap::Args, Debug, Clone)]
struct ExportArgs {
    /// Rename a source in identity_clusters.csv, e.g. `web=online` (repeatable).
    #[arg(long = "rename-source", value_parser = parse_pair)]
    rename_source: Vec<(String, String)>,
    /// Name of the customer ID column.
    #[arg(long, default_value = "customer_id")]
    customer_column: String,
    /// Items per customer in predictions.csv.
    #[arg(long, default_value_t = 10)]
    top_items: usize,
    /// Churn probability from which a customer is on the at-risk list.
    #[arg(long, default_value_t = 0.5)]
    at_risk_threshold: f64,
    /// Also list customers without purchases in predictions.csv.
    #[arg(long)]
    all_customers: bool,
}

fn parse_pair(text: &str) -> std::result::Result<(String, String), String> {
    text.split_once('=')
        .map(|(a, b)| (a.trim().to_owned(), b.trim().to_owned()))
        .filter(|(a, b)| !a.is_empty() && !b.is_empty())
        .ok_or_else(|| format!("expected NAME=NEW_NAME, got {text:?}"))
}

impl ExportArgs {
    fn options(&self) -> ExportOptions {
        ExportOptions {
            source_names: self.rename_source.iter().cloned().collect(),
            customer_column: self.customer_column.clone(),
            top_items: self.top_items,
            at_risk_threshold: self.at_risk_threshold,
            all_customers: self.all_customers,
            ..ExportOptions::default()
        }
    }
}

impl Default for ExportArgs {
    fn default() -> Self {
        Self {
            rename_source: Vec::new(),
            customer_column: "customer_id".to_owned(),
            top_items: 10,
            at_risk_threshold: 0.5,
            all_customers: false,
        }
    }
}

fn main() -> ExitCode {
    tagcenter_training::memory::return_large_allocations_to_the_system();
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .with_writer(std::io::stderr)
        .init();
    match run(Cli::parse()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn run(cli: Cli) -> Result<()> {
    match cli.command {
        Command::Demo { customers, seed, out, models, serve } => {
            let data = out.join("data");
            generate_into(&data, customers, seed, true)?;
            let truth = data.join("truth/identity.csv");
            let export = ExportArgs::default();
            let settings = TrainSettings { horizon: 92, seed, export: &export, truth: Some(&truth) };
            let unified = link_and_train(&data.join("tagcenter.toml"), None, &out, &models, &settings)?;
            let sample = unified.store.records.iter().find(|k| k.starts_with("web:")).map(str::to_owned);
            drop(unified);
            match serve {
                Some(bind) => serve_demo(&models.join("latest.tcb"), &bind, sample.as_deref()),
                None => Ok(()),
            }
        }
        Command::Train { source, out, models, horizon, seed, export } => {
            let settings = TrainSettings { horizon, seed, export: &export, truth: None };
            link_and_train(&source.config, source.data.as_deref(), &out, &models, &settings).map(drop_in_background)
        }
        Command::Generate { customers, seed, no_defects, out } => generate_into(&out, customers, seed, !no_defects),
        Command::Unify { source, out, as_of, truth } => {
            run_unify(&source.config, source.data.as_deref(), &out, as_of, truth.as_deref()).map(drop)
        }
        Command::Explain { out, key } => explain(&out, &key),
        Command::BenchUnify { customers, work } => bench_unify(&customers, &work),
        Command::Benchmark { protocol, reference, datasets, out } => {
            benchmark(&protocol, &reference, datasets.as_deref(), out.as_deref())
        }
    }
}

fn generate_into(out: &Path, customers: usize, seed: u64, defects: bool) -> Result<()> {
    let started = Instant::now();
    let summary = generate(&DemoParams { customers, seed, defects }, out)
        .with_context(|| format!("generating demo data into {}", out.display()))?;
    eprintln!(
        "generated {} persons into {} in {:.1} s",
        summary.persons,
        out.display(),
        started.elapsed().as_secs_f64()
    );
    for (path, rows) in &summary.files {
        eprintln!(
            "  {:<28} {rows:>10} rows",
            path.file_name().map_or_else(|| path.display().to_string(), |n| n.to_string_lossy().into_owned())
        );
    }
    Ok(())
}

fn progress_hooks() -> Progress {
    let multi = MultiProgress::new();
    let style = ProgressStyle::with_template("{prefix:>10} [{bar:30}] {bytes:>9}/{total_bytes:9} {bytes_per_sec}")
        .unwrap_or_else(|_| ProgressStyle::default_bar())
        .progress_chars("=> ");
    let bars = std::sync::Mutex::new(std::collections::HashMap::<String, ProgressBar>::new());
    let stage_multi = multi.clone();
    Progress {
        on_bytes: Box::new(move |source, done, total| {
            let Ok(mut bars) = bars.lock() else { return };
            let bar = bars.entry(source.to_owned()).or_insert_with(|| {
                let bar = multi.add(ProgressBar::new(total));
                bar.set_style(style.clone());
                bar.set_prefix(source.to_owned());
                bar
            });
            bar.set_length(total.max(done));
            bar.set_position(done);
        }),
        on_stage: Box::new(move |stage| {
            let _ = stage_multi.println(format!("· {stage}"));
        }),
    }
}

/// Reads, cleans and links a config's sources (quarantine files go under `out`).
fn unify_sources(config_path: &Path, data: Option<&Path>, out: &Path) -> Result<Unified> {
    let config = SourceConfig::load(config_path, data)?;
    Ok(unify(config, &out.join("quarantine"), &progress_hooks())?)
}

/// What writing a unify run's outputs printed.
struct UnifyOutputs {
    summary: String,
    identity_scores: Option<String>,
}

/// Writes a unify run's outputs for `profiles` (and the identity scores against `truth`), returning what to
/// print; safe to run beside other writers.
fn write_unify_outputs(
    unified: &Unified,
    profiles: &ProfileTable,
    as_of: NaiveDate,
    out: &Path,
    truth: Option<&Path>,
) -> Result<UnifyOutputs> {
    let report = unified.write_outputs(profiles, as_of, out)?;
    let identity_scores = match truth {
        Some(truth) => {
            let scores = score_identity(unified, truth)?;
            std::fs::write(out.join("identity_scores.json"), serde_json::to_string_pretty(&scores)?)?;
            Some(format!(
                "identity vs truth: pairwise precision {:.4}, recall {:.4}, F1 {:.4} over {} records ({} true pairs)",
                scores.precision, scores.recall, scores.f1, scores.records, scores.true_pairs
            ))
        }
        None => None,
    };
    Ok(UnifyOutputs { summary: tagcenter_training::unify::summary_text(&report), identity_scores })
}

impl UnifyOutputs {
    fn print(&self, out: &Path) {
        println!("{}", self.summary);
        if let Some(scores) = &self.identity_scores {
            println!("{scores}");
        }
        println!("outputs in {}", out.display());
    }
}

/// The `unify` command: link, compute profiles as of `as_of` (default: the reference date), write outputs.
fn run_unify(
    config_path: &Path,
    data: Option<&Path>,
    out: &Path,
    as_of: Option<NaiveDate>,
    truth: Option<&Path>,
) -> Result<Unified> {
    let mut unified = unify_sources(config_path, data, out)?;
    let as_of = as_of.unwrap_or(unified.config.project.reference_date);
    let started = Instant::now();
    let profiles = unified.profiles(as_of);
    unified.timings.push(("profiles".to_owned(), started.elapsed().as_secs_f64()));
    write_unify_outputs(&unified, &profiles, as_of, out, truth)?.print(out);
    Ok(unified)
}

/// Links a config's sources, trains, and writes the bundle, report, exports and the unify outputs (whose
/// profile table is the training's own as of the reference date, so it is computed once). Returns the
/// unified data (the demo serves a sample key from it).
fn link_and_train(
    config_path: &Path,
    data: Option<&Path>,
    out: &Path,
    models: &Path,
    settings: &TrainSettings<'_>,
) -> Result<Unified> {
    let mut unified = unify_sources(config_path, data, &out.join("unified"))?;
    let report = unified.report(unified.config.project.reference_date, None);
    let identity = &report.identity;
    eprintln!(
        "· linked {} records into {} customers ({} rows read); training",
        identity.records,
        identity.customers,
        report.sources.iter().map(|q| q.rows_read).sum::<u64>()
    );
    run_train(&mut unified, out, models, settings)?;
    Ok(unified)
}

/// Training options from the command line.
struct TrainSettings<'a> {
    horizon: u32,
    seed: u64,
    export: &'a ExportArgs,
    truth: Option<&'a Path>,
}

/// Trains on `unified` and writes everything; releases the store's transaction lines once the exports and
/// unify outputs are written (the bundle needs none of them), which lowers the run's peak memory.
fn run_train(unified: &mut Unified, out: &Path, models: &Path, settings: &TrainSettings<'_>) -> Result<()> {
    let TrainSettings { horizon, seed, export, truth } = *settings;
    let started = Instant::now();
    let mut params = TrainParams { horizon_days: horizon, ..TrainParams::default() };
    params.churn.seed = seed;
    params.affinity.seed = seed;
    params.release_transactions = true;
    let mut outcome = train(unified, &params, &|stage| eprintln!("· {stage}"))?;
    let mut clock = StageClock::start();
    let mut lap = |stage: &str, timings: &mut Vec<StageTiming>| clock.lap(stage, timings);
    // The unify outputs and the exports are independent writers: run side by side. The bundle is
    // assembled after them, so its copy of the per-customer outputs is not alive beside their buffers.
    let unified_out = out.join("unified");
    let as_of = unified.config.project.reference_date;
    let (unify_outputs, unify_seconds, exports_seconds) = std::thread::scope(|scope| -> Result<_> {
        let unify_outputs = scope.spawn(|| {
            let started = Instant::now();
            write_unify_outputs(unified, &outcome.models.profiles, as_of, &unified_out, truth)
                .map(|o| (o, started.elapsed().as_secs_f64()))
        });
        let started = Instant::now();
        let options = ExportOptions { horizon_days: horizon, ..export.options() };
        write_exports(unified, &outcome.models, &options, &out.join("exports"))?;
        write_report(&outcome.backtest, &format!("{} — backtest", unified.config.project.name), &out.join("report"))?;
        let exports_seconds = started.elapsed().as_secs_f64();
        let (unify_outputs, unify_seconds) =
            unify_outputs.join().map_err(|_| anyhow::anyhow!("the unify writer panicked"))??;
        Ok((unify_outputs, unify_seconds, exports_seconds))
    })?;
    lap("unify_outputs_and_exports", &mut outcome.timings);
    let unified: &Unified = unified;
    let bundle = assemble(unified, &mut outcome, &params, seed);
    lap("assemble_bundle", &mut outcome.timings);
    let path = models.join(format!("{}.tcb", bundle.header.model_version));
    let latest = models.join("latest.tcb");
    bundle.write(&path)?;
    point_latest_at(&path, &latest)?;
    lap("write_bundle", &mut outcome.timings);
    unify_outputs.print(&unified_out);
    for (stage, seconds) in [("  exports_and_report", exports_seconds), ("  unify_outputs", unify_seconds)] {
        outcome.timings.push(StageTiming { stage: stage.to_owned(), seconds, peak_rss_mib: f64::NAN });
    }
    let b = &outcome.backtest;
    println!("backtest: features as of {}, outcomes in [{}, {})", b.cutoff, b.cutoff, b.end);
    println!("{:<34} {:>10} {:>10}", "metric", "model", "baseline");
    for m in &bundle.header.metrics {
        println!(
            "{:<34} {:>10.4} {:>10.4}",
            format!("{} {}", m.model, m.name),
            m.value,
            m.baseline.unwrap_or(f64::NAN)
        );
    }
    println!(
        "churn: {} ({:?}); timing: {}; affinity: {}",
        b.churn_choice, b.churn_validation, b.timing_predictor, b.affinity_choice
    );
    for t in &outcome.timings {
        eprintln!("  {:<28} {:>7.1} s   peak {:>6.0} MiB", t.stage, t.seconds, t.peak_rss_mib);
    }
    println!(
        "bundle {} ({} customers) written to {} and {}/latest.tcb in {:.1} s; report in {}; exports in {}{}",
        bundle.header.model_version,
        bundle.contents.customers.ids.len(),
        path.display(),
        models.display(),
        started.elapsed().as_secs_f64(),
        out.join("report").display(),
        out.join("exports").display(),
        tagcenter_training::memory::peak_rss_mib().map_or(String::new(), |m| format!("; peak memory {m:.0} MiB")),
    );
    drop_in_background((outcome, bundle));
    Ok(())
}

/// Makes `latest` the bundle at `path`: a hard link renamed into place (atomic for a server reloading it,
/// and no second copy of a bundle that can reach gigabytes), or a copy where linking is not possible.
fn point_latest_at(path: &Path, latest: &Path) -> Result<()> {
    let staged = latest.with_extension("linking");
    let _ = std::fs::remove_file(&staged);
    if std::fs::hard_link(path, &staged).is_err() {
        std::fs::copy(path, &staged).with_context(|| format!("copying {} to {}", path.display(), staged.display()))?;
    }
    std::fs::rename(&staged, latest).with_context(|| format!("renaming {} to {}", staged.display(), latest.display()))
}

/// Frees `value` on a detached thread. Freeing millions of small allocations takes seconds at the end of a
/// large run; the process can exit (or serve) meanwhile, and the operating system reclaims the rest.
fn drop_in_background<T: Send + 'static>(value: T) {
    std::thread::spawn(move || drop(value));
}

/// Serves a bundle with one demo API key holding every scope, printing how to call it.
fn serve_demo(bundle: &Path, bind: &str, sample_key: Option<&str>) -> Result<()> {
    use tagcenter::server::auth::{Scope, hash_key};
    use tagcenter::server::config::{KeyConfig, ServerConfig};
    let key = format!("demo-{:016x}", rand::random::<u64>());
    let mut config = ServerConfig::defaults()?;
    config.bind = bind.to_owned();
    config.bundle = Some(bundle.to_owned());
    config.keys = vec![KeyConfig {
        name: "demo".to_owned(),
        sha256: hash_key(&key),
        scopes: vec![Scope::Storefront, Scope::Crm, Scope::Admin],
    }];
    config.validate()?;
    let host = bind.rsplit_once(':').map_or("127.0.0.1", |(h, _)| h).to_owned();
    let customer = sample_key.unwrap_or("web:1").to_owned();
    tagcenter::server::serve_blocking(config, move |port| {
        let base = format!("http://{host}:{port}");
        println!("\nserving {} on {base} (Ctrl-C stops). Demo API key (all scopes): {key}", bundle.display());
        println!("  curl -H 'X-Api-Key: {key}' {base}/v1/customers/{customer}/recommendations?k=5");
        println!("  curl -H 'X-Api-Key: {key}' {base}/v1/customers/{customer}/churn");
        println!("  curl -H 'X-Api-Key: {key}' {base}/v1/customers/{customer}/promotion-timing");
        println!("  curl -H 'X-Api-Key: {key}' '{base}/v1/at-risk?limit=5'");
        println!("  open {base}/docs for the API reference");
    })?;
    Ok(())
}

fn explain(out: &Path, key: &str) -> Result<()> {
    let edges_path = out.join("identity_edges.csv");
    let map_path = out.join("identity_map.csv");
    let customer = find_customer(&map_path, &edges_path, key)?;
    println!("customer {customer}");
    let mut reader = csv::Reader::from_path(&map_path).with_context(|| format!("reading {}", map_path.display()))?;
    println!("records:");
    for row in reader.records() {
        let row = row?;
        if &row[0] == customer.as_str() {
            println!("  {}:{}{}", &row[1], &row[2], if &row[3] == "true" { " (anonymous)" } else { "" });
        }
    }
    println!("keys (records holding each; a key held by two or more records joined them):");
    let mut reader =
        csv::Reader::from_path(&edges_path).with_context(|| format!("reading {}", edges_path.display()))?;
    let mut by_key: std::collections::BTreeMap<String, (String, Vec<String>)> = Default::default();
    for row in reader.records() {
        let row = row?;
        if &row[0] == customer.as_str() {
            by_key
                .entry(row[2].to_owned())
                .or_insert_with(|| (row[3].to_owned(), Vec::new()))
                .1
                .push(row[1].to_owned());
        }
    }
    for (key, (status, records)) in by_key {
        println!("  {key} [{status}] ← {}", records.join(", "));
    }
    let fuzzy_path = out.join("fuzzy_links.csv");
    if let Ok(mut reader) = csv::Reader::from_path(&fuzzy_path) {
        for row in reader.records() {
            let row = row?;
            if &row[3] == customer.as_str() {
                println!("fuzzy link ({}): {} ~ {}", &row[0], &row[1], &row[2]);
            }
        }
    }
    Ok(())
}

fn find_customer(map_path: &Path, edges_path: &Path, key: &str) -> Result<String> {
    if tagcenter::domain::CustomerId::parse(key).is_some() {
        return Ok(key.to_owned());
    }
    let mut reader = csv::Reader::from_path(map_path).with_context(|| format!("reading {}", map_path.display()))?;
    for row in reader.records() {
        let row = row?;
        if format!("{}:{}", &row[1], &row[2]) == key {
            return Ok(row[0].to_owned());
        }
    }
    let mut reader = csv::Reader::from_path(edges_path).with_context(|| format!("reading {}", edges_path.display()))?;
    for row in reader.records() {
        let row = row?;
        if &row[2] == key {
            return Ok(row[0].to_owned());
        }
    }
    bail!("{key} is neither a customer ID, a source record nor an identity key in {}", map_path.display())
}

fn bench_unify(sizes: &[usize], work: &Path) -> Result<()> {
    let exe = std::env::current_exe()?;
    println!(
        "{:>10} {:>12} {:>8} {:>10} {:>8} {:>8} {:>8} {:>8} {:>10} {:>10} {:>9} {:>9}",
        "customers",
        "source rows",
        "wall s",
        "rows/s",
        "read s",
        "merge s",
        "ident s",
        "link s",
        "link MiB",
        "peak MiB",
        "ident F1",
        "customers"
    );
    for &n in sizes {
        let data = work.join(format!("data-{n}"));
        if !data.join("truth/identity.csv").exists() {
            generate_into(&data, n, 42, true)?;
        }
        let out = work.join(format!("unified-{n}"));
        let started = Instant::now();
        let status = std::process::Command::new(&exe)
            .args(["unify", "--config"])
            .arg(data.join("tagcenter.toml"))
            .arg("--out")
            .arg(&out)
            .arg("--truth")
            .arg(data.join("truth/identity.csv"))
            .stdout(std::process::Stdio::null())
            .status()?;
        let wall = started.elapsed().as_secs_f64();
        if !status.success() {
            bail!("unify of {} failed", data.display());
        }
        let report: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(out.join("quality_report.json"))?)?;
        let scores: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(out.join("identity_scores.json"))?)?;
        let rows: u64 =
            report["sources"].as_array().map_or(0, |s| s.iter().map(|q| q["rows_read"].as_u64().unwrap_or(0)).sum());
        let stage = |name: &str| report["timings"][name].as_f64().unwrap_or(f64::NAN);
        let (read, merge, identity) = (stage("read_and_clean"), stage("merge"), stage("identity"));
        println!(
            "{n:>10} {rows:>12} {wall:>8.1} {:>10.0} {read:>8.1} {merge:>8.1} {identity:>8.1} {:>8.1} {:>10.0} {:>10.0} {:>9.4} {:>9}",
            rows as f64 / wall,
            read + merge + identity,
            report["peak_rss_after_link_mib"].as_f64().unwrap_or(f64::NAN),
            report["peak_rss_mib"].as_f64().unwrap_or(f64::NAN),
            scores["f1"].as_f64().unwrap_or(f64::NAN),
            report["identity"]["customers"]
        );
    }
    Ok(())
}

fn benchmark(protocols: &[String], reference: &Path, datasets: Option<&Path>, out: Option<&Path>) -> Result<()> {
    use tagcenter_training::benchmark::{BenchmarkParams, Protocol, markdown_table, run_benchmark};
    if let Some(datasets) = datasets.filter(|d| !d.is_dir()) {
        bail!("data sets folder {} does not exist", datasets.display());
    }
    let protocols = protocols.iter().map(|p| p.parse::<Protocol>()).collect::<Result<Vec<_>, _>>()?;
    let lines = run_benchmark(&BenchmarkParams::new(reference, protocols))
        .with_context(|| format!("benchmark against {}", reference.display()))?;
    let table = markdown_table(&lines);
    println!("{table}");
    if let Some(out) = out {
        std::fs::write(out, &table).with_context(|| format!("writing {}", out.display()))?;
    }
    Ok(())
}
