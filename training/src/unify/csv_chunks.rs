//! CSV files formatted in parallel: rows are cut into fixed chunks, each chunk is formatted into its own
//! byte buffer on its own thread, and the buffers are written to the file in chunk order, a bounded window of
//! chunks at a time (the file is never built whole in memory). The text is exactly what `csv::Writer`
//! with its default settings writes: `,` between fields, `\n` after each record, a field quoted (quotes
//! doubled) when it holds `,`, `"`, `\r` or `\n`, and a record without any byte written as `""`.

use std::fmt;
use std::fs::File;
use std::io::{self, Write};
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, PoisonError};

/// Rows formatted per chunk (one buffer, claimed by one thread).
pub const CHUNK_ROWS: usize = 32_768;

/// Whether `byte` forces quotes under `csv::Writer`'s default settings.
fn special(byte: u8) -> bool {
    matches!(byte, b',' | b'"' | b'\r' | b'\n')
}

/// A chunk's buffer: records are appended field by field.
#[derive(Debug, Default)]
pub struct Rows {
    buf: Vec<u8>,
    record_start: usize,
    fields: usize,
}

/// One field being filled piece by piece (see [`Rows::field_with`]); `write!` works on it.
pub struct Field<'a> {
    buf: &'a mut Vec<u8>,
}

impl Field<'_> {
    /// Appends text to the field.
    pub fn push(&mut self, text: &str) {
        self.buf.extend_from_slice(text.as_bytes());
    }
}

impl fmt::Write for Field<'_> {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        self.push(s);
        Ok(())
    }
}

impl Rows {
    /// Appends a field whose text is built by `fill` (quoted afterwards when needed).
    pub fn field_with(&mut self, fill: impl FnOnce(&mut Field<'_>)) {
        if self.fields > 0 {
            self.buf.push(b',');
        }
        self.fields += 1;
        let start = self.buf.len();
        fill(&mut Field { buf: &mut self.buf });
        if self.buf[start..].iter().any(|&b| special(b)) {
            let text = self.buf.split_off(start);
            self.buf.push(b'"');
            for &b in &text {
                if b == b'"' {
                    self.buf.push(b'"');
                }
                self.buf.push(b);
            }
            self.buf.push(b'"');
        }
    }

    /// Appends a field.
    pub fn field(&mut self, text: &str) {
        self.field_with(|f| f.push(text));
    }

    /// Appends a field holding formatted text, such as `format_args!("{x:.4}")`.
    pub fn field_fmt(&mut self, args: fmt::Arguments<'_>) {
        self.field_with(|f| {
            // Writing into a Vec cannot fail.
            let _ = fmt::write(f, args);
        });
    }

    /// Ends the current record.
    pub fn end(&mut self) {
        if self.buf.len() == self.record_start {
            self.buf.extend_from_slice(b"\"\"");
        }
        self.buf.push(b'\n');
        self.record_start = self.buf.len();
        self.fields = 0;
    }

    /// Appends a whole record.
    pub fn record<'s>(&mut self, fields: impl IntoIterator<Item = &'s str>) {
        for text in fields {
            self.field(text);
        }
        self.end();
    }

    /// The bytes of the finished records.
    pub fn bytes(&self) -> &[u8] {
        &self.buf[..self.record_start]
    }

    fn clear(&mut self) {
        self.buf.clear();
        self.record_start = 0;
        self.fields = 0;
    }
}

/// Writes `header` then the records `format` appends for row indices `0..rows` (each call may append
/// zero or more records) to `out`, in row order. Chunks of [`CHUNK_ROWS`] rows are formatted in
/// parallel on as many threads as rayon uses, a window of two chunks per thread at a time, and written
/// in order.
///
/// The calling thread formats chunks too, beside scoped helper threads that claim the window's chunks
/// from a shared counter: these writers run beside other long tasks (the Parquet writer holds a rayon
/// worker), and chunks queued on a busy rayon pool would leave the caller waiting idle.
pub fn write_rows<W: Write>(
    out: &mut W,
    header: &[&str],
    rows: usize,
    format: impl Fn(usize, &mut Rows) + Sync,
) -> io::Result<()> {
    let mut head = Rows::default();
    head.record(header.iter().copied());
    out.write_all(head.bytes())?;
    let threads = rayon::current_num_threads().max(1);
    let window = 2 * threads;
    let slots: Vec<Mutex<Rows>> = (0..window).map(|_| Mutex::new(Rows::default())).collect();
    let mut start = 0;
    while start < rows {
        let chunks = (rows - start).div_ceil(CHUNK_ROWS).min(window);
        let next = AtomicUsize::new(0);
        let work = || {
            loop {
                let k = next.fetch_add(1, Ordering::Relaxed);
                if k >= chunks {
                    break;
                }
                let mut buffer = slots[k].lock().unwrap_or_else(PoisonError::into_inner);
                buffer.clear();
                let from = start + k * CHUNK_ROWS;
                for row in from..rows.min(from + CHUNK_ROWS) {
                    format(row, &mut buffer);
                }
            }
        };
        std::thread::scope(|scope| {
            for _ in 1..threads.min(chunks) {
                scope.spawn(work);
            }
            work();
        });
        for slot in &slots[..chunks] {
            out.write_all(slot.lock().unwrap_or_else(PoisonError::into_inner).bytes())?;
        }
        start += chunks * CHUNK_ROWS;
    }
    out.flush()
}

/// [`write_rows`] into a new file at `path`.
pub fn write_file(
    path: &Path,
    header: &[&str],
    rows: usize,
    format: impl Fn(usize, &mut Rows) + Sync,
) -> io::Result<()> {
    let mut file = File::create(path)?;
    write_rows(&mut file, header, rows, format)
}

#[cfg(test)]
mod tests {
    use super::{CHUNK_ROWS, Rows, write_rows};

    fn with_csv(records: &[Vec<String>]) -> Vec<u8> {
        let mut w = csv::WriterBuilder::new().flexible(true).from_writer(Vec::new());
        for r in records {
            w.write_record(r).unwrap();
        }
        w.into_inner().unwrap()
    }

    #[test]
    fn quoting_matches_the_csv_crate() {
        let tricky = ["plain", "a,b", "say \"hi\"", "two\nlines", "cr\rhere", "", "\"", "x\r\n,\"y\"", "é ; |"];
        let mut records: Vec<Vec<String>> = Vec::new();
        for a in tricky {
            for b in tricky {
                records.push(vec![a.to_owned(), b.to_owned(), "1".to_owned()]);
            }
        }
        records.push(vec![String::new()]);
        records.push(vec!["only".to_owned()]);
        let mut rows = Rows::default();
        for r in &records {
            rows.record(r.iter().map(String::as_str));
        }
        assert_eq!(String::from_utf8_lossy(rows.bytes()), String::from_utf8_lossy(&with_csv(&records)));
    }

    #[test]
    fn order_is_kept_across_chunks_and_windows() {
        let n = CHUNK_ROWS * 9 + 123;
        let field = |i: usize| if i % 7 == 0 { format!("r{i},\"q\"") } else { format!("r{i}") };
        let mut out = Vec::new();
        write_rows(&mut out, &["id", "text", "half"], n, |i, rows| {
            if i % 5 == 3 {
                return; // rows may be skipped
            }
            rows.field_fmt(format_args!("{i}"));
            rows.field(&field(i));
            rows.field_fmt(format_args!("{:.4}", i as f64 / 2.0));
            rows.end();
        })
        .unwrap();
        let mut records = vec![vec!["id".to_owned(), "text".to_owned(), "half".to_owned()]];
        for i in (0..n).filter(|i| i % 5 != 3) {
            records.push(vec![i.to_string(), field(i), format!("{:.4}", i as f64 / 2.0)]);
        }
        assert!(out == with_csv(&records), "chunked output differs from csv::Writer");
    }

    #[test]
    fn nothing_but_the_header_without_rows() {
        let mut out = Vec::new();
        write_rows(&mut out, &["a", "b"], 0, |_, _| unreachable!()).unwrap();
        assert_eq!(out, b"a,b\n");
    }
}
