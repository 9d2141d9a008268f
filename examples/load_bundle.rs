//! Times loading a bundle the way the server does (read + verify checksum + decode columns, then check +
//! prepare lookups) and prints the resident memory afterwards:
//!
//! ```sh
//! cargo run --release -p tagcenter --example load_bundle -- out/bench-serve/synthetic-1000000.tcb
//! ```

use std::path::PathBuf;
use std::time::Instant;

use anyhow::Context;
use tagcenter::bundle::ModelBundle;
use tagcenter::inference::Model;

fn main() -> anyhow::Result<()> {
    let path = PathBuf::from(std::env::args().nth(1).context("usage: load_bundle BUNDLE")?);
    let started = Instant::now();
    let (header, decoded) = ModelBundle::read_columns(&path)?;
    let read = started.elapsed();
    let model = Model::from_decoded(header, decoded)?;
    let total = started.elapsed();
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let memory: Vec<&str> = status.lines().filter(|l| l.starts_with("VmRSS") || l.starts_with("VmHWM")).collect();
    println!(
        "{} customers: read+verify+decode {read:.2?}, check+prepare {:.2?}, total {total:.2?}; {}",
        model.customer_count(),
        total - read,
        memory.join(", ").split_whitespace().collect::<Vec<_>>().join(" ")
    );
    Ok(())
}
