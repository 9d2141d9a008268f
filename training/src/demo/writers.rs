//! Output plumbing: buffered line sinks that count rows, a month-bucketed sink that is concatenated at the
//! end (the web export is a concatenation of monthly files), and small CSV formatting helpers.

use std::borrow::Cow;
use std::fs::{self, File};
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use super::DemoError;

const BUF: usize = 1 << 16;

/// Quotes a CSV field when it contains a comma, quote or line break.
pub fn csv_field(s: &str) -> Cow<'_, str> {
    if s.contains([',', '"', '\n', '\r']) {
        Cow::Owned(format!("\"{}\"", s.replace('"', "\"\"")))
    } else {
        Cow::Borrowed(s)
    }
}

/// Formats an amount in fen as yuan with two decimals (`-12.90`).
pub fn money(cents: i64) -> String {
    let sign = if cents < 0 { "-" } else { "" };
    let abs = cents.unsigned_abs();
    format!("{sign}{}.{:02}", abs / 100, abs % 100)
}

/// A buffered file that counts the data lines written after its header.
#[derive(Debug)]
pub struct Sink {
    path: PathBuf,
    out: BufWriter<File>,
    rows: u64,
}

impl Sink {
    /// Creates the file and writes its header line (without the newline).
    pub fn create(path: PathBuf, header: &str) -> Result<Self, DemoError> {
        let mut out = BufWriter::with_capacity(BUF, File::create(&path)?);
        if !header.is_empty() {
            out.write_all(header.as_bytes())?;
            out.write_all(b"\n")?;
        }
        Ok(Self { path, out, rows: 0 })
    }

    /// Writes one line (the newline is added).
    pub fn line(&mut self, bytes: &[u8]) -> Result<(), DemoError> {
        self.out.write_all(bytes)?;
        self.out.write_all(b"\n")?;
        self.rows += 1;
        Ok(())
    }

    /// Flushes and returns the path and the number of data lines.
    pub fn finish(mut self) -> Result<(PathBuf, u64), DemoError> {
        self.out.flush()?;
        Ok((self.path, self.rows))
    }
}

/// A file assembled from one temporary part per month, optionally repeating the header before each part.
#[derive(Debug)]
pub struct MonthlySink {
    path: PathBuf,
    header: String,
    parts: Vec<(PathBuf, BufWriter<File>)>,
    rows: u64,
}

impl MonthlySink {
    /// Creates `months` temporary parts in `tmp_dir`.
    pub fn create(path: PathBuf, header: &str, tmp_dir: &Path, months: usize) -> Result<Self, DemoError> {
        let stem = path.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
        let mut parts = Vec::with_capacity(months);
        for m in 0..months {
            let part = tmp_dir.join(format!("{stem}.{m:02}.part"));
            let file = BufWriter::with_capacity(BUF, File::create(&part)?);
            parts.push((part, file));
        }
        Ok(Self { path, header: header.to_string(), parts, rows: 0 })
    }

    /// Writes one line into the part of a month (clamped to the available parts).
    pub fn line(&mut self, month: usize, bytes: &[u8]) -> Result<(), DemoError> {
        let last = self.parts.len().saturating_sub(1);
        let out = &mut self.parts[month.min(last)].1;
        out.write_all(bytes)?;
        out.write_all(b"\n")?;
        self.rows += 1;
        Ok(())
    }

    /// Concatenates the parts (repeating the header between them when `repeat_header`), removes them,
    /// and returns the path, the data-line count (repeated headers included) and the repeated headers.
    pub fn finish(self, repeat_header: bool) -> Result<(PathBuf, u64, u64), DemoError> {
        let mut out = BufWriter::with_capacity(BUF, File::create(&self.path)?);
        out.write_all(self.header.as_bytes())?;
        out.write_all(b"\n")?;
        let mut repeated = 0;
        for (i, (part, mut writer)) in self.parts.into_iter().enumerate() {
            writer.flush()?;
            drop(writer);
            if i > 0 && repeat_header {
                out.write_all(self.header.as_bytes())?;
                out.write_all(b"\n")?;
                repeated += 1;
            }
            let mut input = File::open(&part)?;
            std::io::copy(&mut input, &mut out)?;
            fs::remove_file(&part)?;
        }
        out.flush()?;
        Ok((self.path, self.rows + repeated, repeated))
    }
}

/// Header of `online_orders.csv`.
pub const WEB_HEADER: &str = "order_id,web_user_id,email,ordered_at,sku,qty,unit_price,coupon_code";
/// Header of `pos_transactions.csv`.
pub const POS_HEADER: &str = "receipt_no,member_card_no,phone,store_id,sold_at,product_code,quantity,amount_cents";

/// The streamed output files of a run.
#[derive(Debug)]
pub struct Outputs {
    /// `online_orders.csv`, by month.
    pub web: MonthlySink,
    /// `pos_transactions.csv`, by month.
    pub pos: MonthlySink,
    /// `crm_contacts.csv`.
    pub crm: Sink,
    /// `service_tickets.jsonl`.
    pub tickets: Sink,
    /// `truth/identity.csv`.
    pub identity: Sink,
    /// `truth/persons.csv`.
    pub persons: Sink,
    /// `truth/future_purchases.csv`.
    pub future: Sink,
}

impl Outputs {
    /// Writes one `source,record_key,person_id` row of `truth/identity.csv`.
    pub fn identity_row(&mut self, source: &str, key: &str, person: &str) -> Result<(), DemoError> {
        let mut line = Vec::with_capacity(48);
        line.extend_from_slice(source.as_bytes());
        line.push(b',');
        line.extend_from_slice(csv_field(key).as_bytes());
        line.push(b',');
        line.extend_from_slice(person.as_bytes());
        self.identity.line(&line)
    }
}
