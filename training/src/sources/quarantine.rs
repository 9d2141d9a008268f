//! The quarantine: every row that cannot be used is written here with its source, file, line, field and
//! reason, so nothing is ever silently dropped. One CSV per source.

use std::fs::File;
use std::io::BufWriter;
use std::path::{Path, PathBuf};

use serde::Serialize;

/// Why a row was quarantined.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Reason {
    /// The line has more or fewer fields than the header.
    WrongColumnCount,
    /// The line is not valid UTF-8 (e.g. a GBK-encoded export).
    InvalidUtf8,
    /// A JSON line that does not parse (cut off, or not an object).
    InvalidJson,
    /// The line could not be read at all.
    Unreadable,
    /// No record key, so the row belongs to nobody.
    MissingKey,
    /// A required field is empty.
    MissingField,
    /// A timestamp that matches no configured format or is an impossible date.
    BadTimestamp,
    /// A valid timestamp outside the project's date range.
    DateOutOfRange,
    /// A number that does not parse.
    BadNumber,
    /// A quantity of zero.
    ZeroQuantity,
    /// A quantity beyond the configured limit.
    AbsurdQuantity,
    /// An amount beyond the configured limit.
    AbsurdAmount,
}

impl Reason {
    /// The name used in files and reports.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::WrongColumnCount => "wrong_column_count",
            Self::InvalidUtf8 => "invalid_utf8",
            Self::InvalidJson => "invalid_json",
            Self::Unreadable => "unreadable",
            Self::MissingKey => "missing_key",
            Self::MissingField => "missing_field",
            Self::BadTimestamp => "bad_timestamp",
            Self::DateOutOfRange => "date_out_of_range",
            Self::BadNumber => "bad_number",
            Self::ZeroQuantity => "zero_quantity",
            Self::AbsurdQuantity => "absurd_quantity",
            Self::AbsurdAmount => "absurd_amount",
        }
    }
}

/// One quarantined row.
#[derive(Debug, Clone)]
pub struct QuarantinedRow {
    /// 1-based line in the file (row number for Parquet).
    pub line: u64,
    /// The field (column) at fault, if one is.
    pub field: String,
    /// Why.
    pub reason: Reason,
    /// Detail, such as the offending value.
    pub detail: String,
    /// The row's text (lossy UTF-8), for a person to look at.
    pub raw: String,
}

/// Writes one source's quarantine file.
pub struct QuarantineWriter {
    writer: csv::Writer<BufWriter<File>>,
    source: String,
    path: PathBuf,
}

impl QuarantineWriter {
    /// Creates `dir/<source>.csv` with its header line.
    pub fn create(dir: &Path, source: &str) -> std::io::Result<Self> {
        std::fs::create_dir_all(dir)?;
        let path = dir.join(format!("{source}.csv"));
        let mut writer = csv::Writer::from_writer(BufWriter::new(File::create(&path)?));
        writer.write_record(["source", "file", "line", "field", "reason", "detail", "raw"])?;
        Ok(Self { writer, source: source.to_owned(), path })
    }

    /// Appends a row.
    pub fn write(&mut self, file: &Path, row: &QuarantinedRow) -> std::io::Result<()> {
        let file = file.file_name().map_or_else(|| file.to_string_lossy(), |n| n.to_string_lossy());
        self.writer.write_record([
            self.source.as_str(),
            &file,
            &row.line.to_string(),
            &row.field,
            row.reason.as_str(),
            &row.detail,
            &row.raw,
        ])?;
        Ok(())
    }

    /// Flushes to disk and returns the file's path.
    pub fn finish(mut self) -> std::io::Result<PathBuf> {
        self.writer.flush()?;
        Ok(self.path)
    }
}
