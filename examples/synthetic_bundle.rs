//! Writes a synthetic model bundle (realistic shapes, deterministic) for trying the server or load-testing
//! it before the training binary writes real ones:
//!
//! ```sh
//! cargo run --release -p tagcenter --example synthetic_bundle -- --customers 1000000 --items 20000 --out models/synthetic.tcb
//! ```

use std::path::PathBuf;
use std::time::Instant;

use anyhow::Context;
use clap::Parser;
use tagcenter::inference::synthetic::SyntheticParams;

#[derive(Debug, Parser)]
struct Args {
    /// Number of customers.
    #[arg(long, default_value_t = 10_000)]
    customers: usize,
    /// Number of items.
    #[arg(long, default_value_t = 2_000)]
    items: usize,
    /// Seed.
    #[arg(long, default_value_t = 42)]
    seed: u64,
    /// Model version written in the header.
    #[arg(long)]
    version: Option<String>,
    /// Output file.
    #[arg(long)]
    out: PathBuf,
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let started = Instant::now();
    let mut params = SyntheticParams::new(args.customers, args.items).seed(args.seed);
    if let Some(version) = args.version {
        params = params.model_version(version);
    }
    let bundle = params.build();
    let built = started.elapsed();
    bundle.write(&args.out).with_context(|| format!("writing {}", args.out.display()))?;
    let size = std::fs::metadata(&args.out)?.len();
    println!(
        "wrote {} ({} customers, {} items, {:.1} MiB) in {:.2?} (build {:.2?})",
        args.out.display(),
        args.customers,
        args.items,
        size as f64 / (1 << 20) as f64,
        started.elapsed(),
        built
    );
    Ok(())
}
