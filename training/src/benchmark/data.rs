//! Small readers for the protocol split files: a header-addressed CSV table and the date formats the
//! data sets use. Every error names the file, the line and the column.

use std::path::{Path, PathBuf};

use chrono::NaiveDate;

use super::BenchmarkError;

/// A CSV file read whole, with its columns addressed by header name.
#[derive(Debug, Clone)]
pub struct Table {
    /// Where it was read from.
    pub path: PathBuf,
    /// Header names.
    pub headers: Vec<String>,
    /// Data rows.
    pub rows: Vec<csv::StringRecord>,
}

impl Table {
    /// Reads a comma-separated file with a header row.
    pub fn read(path: &Path) -> Result<Self, BenchmarkError> {
        let csv_err = |source| BenchmarkError::Csv { path: path.to_path_buf(), source };
        let mut reader = csv::ReaderBuilder::new().flexible(false).from_path(path).map_err(csv_err)?;
        let headers = reader.headers().map_err(csv_err)?.iter().map(str::to_owned).collect();
        let rows = reader.records().collect::<Result<Vec<_>, _>>().map_err(csv_err)?;
        Ok(Self { path: path.to_path_buf(), headers, rows })
    }

    /// The index of column `name`.
    pub fn col(&self, name: &str) -> Result<usize, BenchmarkError> {
        self.headers
            .iter()
            .position(|h| h == name)
            .ok_or_else(|| BenchmarkError::MissingColumn { path: self.path.clone(), column: name.to_owned() })
    }

    /// Row `row`'s text in column `col` (empty when the row is short).
    pub fn text(&self, row: usize, col: usize) -> &str {
        self.rows[row].get(col).unwrap_or("")
    }

    fn bad(&self, row: usize, col: usize) -> BenchmarkError {
        BenchmarkError::BadValue {
            path: self.path.clone(),
            line: row + 2,
            column: self.headers.get(col).cloned().unwrap_or_default(),
            value: self.text(row, col).to_owned(),
        }
    }

    /// Row `row`'s number in column `col`.
    pub fn num(&self, row: usize, col: usize) -> Result<f64, BenchmarkError> {
        self.text(row, col).trim().parse::<f64>().map_err(|_| self.bad(row, col))
    }

    /// Row `row`'s whole number in column `col`.
    pub fn int(&self, row: usize, col: usize) -> Result<i64, BenchmarkError> {
        self.text(row, col).trim().parse::<i64>().map_err(|_| self.bad(row, col))
    }

    /// Row `row`'s date in column `col`, in `format` (chrono syntax), as days since 1970-01-01.
    pub fn day(&self, row: usize, col: usize, format: &str) -> Result<i32, BenchmarkError> {
        NaiveDate::parse_from_str(self.text(row, col).trim(), format).map(day_number).map_err(|_| self.bad(row, col))
    }
}

/// Days since 1970-01-01.
pub fn day_number(date: NaiveDate) -> i32 {
    (date - NaiveDate::default()).num_days() as i32
}

/// The day number of a calendar date given as literals (`None` only for impossible dates).
pub fn ymd(year: i32, month: u32, day: u32) -> Option<i32> {
    NaiveDate::from_ymd_opt(year, month, day).map(day_number)
}
