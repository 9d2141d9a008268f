//! The data-quality report of one source: what was read, kept, quarantined and why, repaired, and how
//! complete each column is.

use std::collections::BTreeMap;

use serde::Serialize;

use super::quarantine::Reason;

/// Quality figures for one source.
#[derive(Debug, Clone, Default, Serialize)]
pub struct SourceQuality {
    /// Source name.
    pub source: String,
    /// Source kind.
    pub kind: String,
    /// Files read.
    pub files: Vec<String>,
    /// Data lines read (header lines excluded).
    pub rows_read: u64,
    /// Rows kept after cleaning.
    pub rows_kept: u64,
    /// Exact duplicates removed.
    pub duplicates: u64,
    /// Header lines found again inside the data (concatenated exports), skipped.
    pub repeated_headers: u64,
    /// Blank lines skipped.
    pub blank_lines: u64,
    /// Rows quarantined, by reason.
    pub quarantined: BTreeMap<Reason, u64>,
    /// Empty values per configured column, among well-formed rows.
    pub nulls: BTreeMap<String, u64>,
    /// Values repaired, by repair (`unit_error_cents_as_units`, `imputed_amount`, ...).
    pub repaired: BTreeMap<String, u64>,
    /// Identity values that did not normalize to a usable key, by key kind.
    pub invalid_keys: BTreeMap<String, u64>,
    /// Transaction lines whose item is not in any catalog (kept, with the item as its own key).
    pub unknown_items: u64,
    /// Tag or attribute values that mapped to nothing in the dictionary (listed in unmapped_tags.csv).
    pub unmapped_values: u64,
    /// Earliest timestamp kept (RFC 3339).
    pub first_timestamp: Option<String>,
    /// Latest timestamp kept (RFC 3339).
    pub last_timestamp: Option<String>,
    /// Distinct records (customers as this island knows them).
    pub records: u64,
    /// Earliest and latest timestamp kept, UTC seconds (formatted into the two fields above by
    /// [`SourceQuality::finish_dates`]).
    #[serde(skip)]
    pub ts_range: Option<(i64, i64)>,
}

impl SourceQuality {
    /// Total rows quarantined.
    pub fn quarantined_total(&self) -> u64 {
        self.quarantined.values().sum()
    }

    /// Counts one quarantined row.
    pub fn quarantine(&mut self, reason: Reason) {
        *self.quarantined.entry(reason).or_default() += 1;
    }

    /// Counts one repair.
    pub fn repair(&mut self, what: &str) {
        *self.repaired.entry(what.to_owned()).or_default() += 1;
    }

    /// Widens the date range with a kept row's timestamp.
    pub fn note_time(&mut self, ts: i64) {
        self.ts_range = Some(match self.ts_range {
            Some((first, last)) => (first.min(ts), last.max(ts)),
            None => (ts, ts),
        });
    }

    /// Adds the counts of a report on another part of the same source (names and files are kept).
    pub fn absorb(&mut self, other: Self) {
        self.rows_read += other.rows_read;
        self.rows_kept += other.rows_kept;
        self.duplicates += other.duplicates;
        self.repeated_headers += other.repeated_headers;
        self.blank_lines += other.blank_lines;
        self.unknown_items += other.unknown_items;
        self.unmapped_values += other.unmapped_values;
        self.records += other.records;
        for (map, more) in [(&mut self.nulls, other.nulls), (&mut self.repaired, other.repaired)] {
            for (k, n) in more {
                *map.entry(k).or_default() += n;
            }
        }
        for (k, n) in other.invalid_keys {
            *self.invalid_keys.entry(k).or_default() += n;
        }
        for (k, n) in other.quarantined {
            *self.quarantined.entry(k).or_default() += n;
        }
        if let Some((first, last)) = other.ts_range {
            self.note_time(first);
            self.note_time(last);
        }
    }

    /// Formats the date range in the project's time zone.
    pub fn finish_dates(&mut self, tz: &chrono::FixedOffset) {
        if let Some((first, last)) = self.ts_range {
            let text = |t: i64| chrono::DateTime::from_timestamp(t, 0).map(|d| d.with_timezone(tz).to_rfc3339());
            self.first_timestamp = text(first);
            self.last_timestamp = text(last);
        }
    }

    /// Null rate of a column among well-formed rows.
    pub fn null_rate(&self, column: &str) -> f64 {
        let well_formed = self.rows_kept + self.quarantined_total();
        if well_formed == 0 { 0.0 } else { self.nulls.get(column).copied().unwrap_or(0) as f64 / well_formed as f64 }
    }

    /// A few lines for a person: read, kept, removed and why.
    pub fn summary(&self) -> String {
        let mut out = format!(
            "{:<10} {:<12} read {:>10}  kept {:>10}  duplicates {:>7}  quarantined {:>7}",
            self.source,
            self.kind,
            self.rows_read,
            self.rows_kept,
            self.duplicates,
            self.quarantined_total()
        );
        if !self.quarantined.is_empty() {
            let reasons: Vec<String> = self.quarantined.iter().map(|(r, n)| format!("{} {n}", r.as_str())).collect();
            out.push_str(&format!("\n{:<23} quarantine: {}", "", reasons.join(", ")));
        }
        if !self.repaired.is_empty() {
            let repairs: Vec<String> = self.repaired.iter().map(|(r, n)| format!("{r} {n}")).collect();
            out.push_str(&format!("\n{:<23} repaired: {}", "", repairs.join(", ")));
        }
        if self.repeated_headers > 0 || self.unknown_items > 0 || self.unmapped_values > 0 {
            out.push_str(&format!(
                "\n{:<23} repeated headers {}, unknown items {}, unmapped tag values {}",
                "", self.repeated_headers, self.unknown_items, self.unmapped_values
            ));
        }
        if let (Some(first), Some(last)) = (&self.first_timestamp, &self.last_timestamp) {
            out.push_str(&format!(
                "\n{:<23} dates {} .. {}",
                "",
                &first[..10.min(first.len())],
                &last[..10.min(last.len())]
            ));
        }
        out
    }
}
