//! Reading source files row by row, whatever their format, with line numbers. Structural problems
//! (wrong column count, invalid UTF-8, broken JSON) are reported as quarantine events right here, exact
//! duplicates and repeated header lines are recognised, and only well-formed rows go on to be parsed.
//!
//! Why not polars' CSV reader here: it cannot report line numbers, it either fails a whole file on a few
//! bytes of invalid UTF-8 or silently replaces them, and it silently pads or cuts ragged lines (see
//! `shared/docs/FACTS.md`). The quarantine needs file, line and reason for every bad row, so this pass
//! reads bytes with the `csv` crate; Parquet sources are read with polars.

use std::cell::RefCell;
use std::collections::VecDeque;
use std::fs::File;
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::rc::Rc;

use super::config::FormatSpec;
use super::quarantine::{QuarantinedRow, Reason};

/// A file that cannot be read at all (as opposed to a bad row, which is quarantined).
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    /// An I/O error.
    #[error("cannot read {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The config names columns the file does not have.
    #[error("{path}: column(s) {missing:?} named in the config are not in the file (it has {available:?})")]
    MissingColumns {
        /// The file.
        path: PathBuf,
        /// The missing columns.
        missing: Vec<String>,
        /// The columns the file has.
        available: Vec<String>,
    },
    /// A Parquet file polars could not read.
    #[error("cannot read Parquet file {path}: {message}")]
    Parquet {
        /// The file.
        path: PathBuf,
        /// polars' message.
        message: String,
    },
}

/// A column the parser needs, as registered in a [`ColumnSet`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Col(usize);

impl Col {
    /// The handle of the `i`-th registered column.
    pub fn at(i: usize) -> Self {
        Self(i)
    }
}

/// Where a registered column's value comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Source {
    /// A column of the file.
    Column(String),
    /// The same value on every row.
    Constant(String),
    /// Flag columns: the names of those set, joined by [`ONE_HOT_SEPARATOR`].
    OneHot(Vec<String>),
}

/// Separates the names of the set columns in a one-hot value.
pub const ONE_HOT_SEPARATOR: char = '|';

/// The columns a source's parser needs, by name (or constants and one-hot groups standing in for one).
#[derive(Debug, Clone, Default)]
pub struct ColumnSet {
    names: Vec<String>,
    sources: Vec<Source>,
}

impl ColumnSet {
    fn register(&mut self, name: String, source: Source) -> Col {
        match self.sources.iter().position(|s| *s == source) {
            Some(i) => Col(i),
            None => {
                self.names.push(name);
                self.sources.push(source);
                Col(self.names.len() - 1)
            }
        }
    }

    /// Registers a file column (once per name) and returns its handle.
    pub fn add(&mut self, name: &str) -> Col {
        self.register(name.to_owned(), Source::Column(name.to_owned()))
    }

    /// Registers what a column spec reads: its column, its constant, or its one-hot flag columns.
    pub fn add_spec(&mut self, spec: &super::config::ColumnSpec) -> Col {
        match (&spec.constant, spec.one_hot.is_empty()) {
            (Some(value), _) => self.register(format!("={value}"), Source::Constant(value.clone())),
            (None, false) => self.add_one_hot(&spec.one_hot),
            (None, true) => self.add(&spec.column),
        }
    }

    /// Registers flag columns read as one value: the names of the set ones, joined by
    /// [`ONE_HOT_SEPARATOR`] (`None` when none is set).
    pub fn add_one_hot(&mut self, columns: &[String]) -> Col {
        self.register(columns.join(&ONE_HOT_SEPARATOR.to_string()), Source::OneHot(columns.to_vec()))
    }

    /// The registered names (a constant shows as `=value`, flag columns joined by `|`).
    pub fn names(&self) -> &[String] {
        &self.names
    }

    /// Whether some registered column is a group of flag columns.
    fn has_one_hot(&self) -> bool {
        self.sources.iter().any(|s| matches!(s, Source::OneHot(_)))
    }
}

/// Whether a flag column's value means "set".
pub fn flag_is_set(value: &str) -> bool {
    ["1", "true", "yes", "y", "t"].iter().any(|t| value.trim().eq_ignore_ascii_case(t))
}

/// How a registered column's value is taken from a record's fields.
#[derive(Debug, Clone)]
pub(crate) enum Slot {
    Field(usize),
    Constant(String),
    OneHot(Vec<(usize, String)>),
}

/// Builds the values of a row from its fields: `scratch` holds one-hot texts.
fn fill_values<'a>(
    slots: &'a [Slot],
    field: impl Fn(usize) -> &'a str,
    scratch: &'a mut Vec<String>,
) -> impl Iterator<Item = Option<&'a str>> {
    scratch.clear();
    for slot in slots {
        if let Slot::OneHot(flags) = slot {
            let set: Vec<&str> =
                flags.iter().filter(|(p, _)| flag_is_set(field(*p))).map(|(_, name)| name.as_str()).collect();
            scratch.push(set.join(&ONE_HOT_SEPARATOR.to_string()));
        }
    }
    let scratch: &'a Vec<String> = scratch;
    let mut next = 0;
    slots.iter().map(move |slot| match slot {
        Slot::Field(p) => trimmed(field(*p)),
        Slot::Constant(v) => trimmed(v),
        Slot::OneHot(_) => {
            next += 1;
            trimmed(&scratch[next - 1])
        }
    })
}

/// One well-formed row: the values of the registered columns, trimmed, `None` when empty.
#[derive(Debug)]
pub struct Row<'a> {
    /// 1-based line in the file (row number for Parquet).
    pub line: u64,
    values: &'a [Option<&'a str>],
}

impl<'a> Row<'a> {
    /// The value of a column, trimmed; `None` when empty or absent.
    pub fn get(&self, col: Col) -> Option<&'a str> {
        self.values.get(col.0).copied().flatten()
    }

    /// The row as text, for quarantine files.
    pub fn describe(&self, columns: &ColumnSet) -> String {
        columns
            .names
            .iter()
            .zip(self.values)
            .map(|(n, v)| format!("{n}={}", v.unwrap_or("")))
            .collect::<Vec<_>>()
            .join("; ")
    }
}

/// What reading produced for one line.
#[derive(Debug)]
pub enum Event<'a> {
    /// A well-formed row.
    Row(Row<'a>),
    /// A structurally bad row, for the quarantine.
    Bad(QuarantinedRow),
    /// A line identical to the header (concatenated exports).
    RepeatedHeader(u64),
    /// An exact duplicate of an earlier line of the same source.
    Duplicate(u64),
    /// A blank line.
    Blank(u64),
}

/// Shards of the duplicate set: a fingerprint's top bits pick its shard, so chunks of a large file can be
/// checked in parallel (one shard per task) with the same answers as one sequential pass.
const DEDUP_SHARDS: usize = 16;

/// Remembers the lines seen in a source (across its files) to recognise exact duplicates.
#[derive(Debug)]
pub struct Dedup {
    shards: Vec<rustc_hash::FxHashSet<u64>>,
    keep_all: bool,
}

impl Default for Dedup {
    fn default() -> Self {
        Self { shards: (0..DEDUP_SHARDS).map(|_| rustc_hash::FxHashSet::default()).collect(), keep_all: false }
    }
}

fn shard_of(hash: u64) -> usize {
    (hash >> 60) as usize % DEDUP_SHARDS
}

/// The fingerprint of a CSV record (field boundaries count).
pub(crate) fn record_hash(record: &csv::ByteRecord) -> u64 {
    let mut hasher = xxhash_rust::xxh3::Xxh3::new();
    for field in record.iter() {
        hasher.update(&(field.len() as u32).to_le_bytes());
        hasher.update(field);
    }
    hasher.digest()
}

impl Dedup {
    /// A set that calls every line new (duplicates are kept).
    pub fn keeping_all() -> Self {
        Self { shards: Vec::new(), keep_all: true }
    }

    fn insert(&mut self, hash: u64) -> bool {
        self.keep_all || self.shards[shard_of(hash)].insert(hash)
    }

    /// True the first time these bytes are seen. Uses a 64-bit XXH3 fingerprint: at 10 million lines the
    /// chance of any false duplicate is about 3 in a million.
    pub fn first_time(&mut self, bytes: &[u8]) -> bool {
        self.insert(xxhash_rust::xxh3::xxh3_64(bytes))
    }

    /// Like [`Dedup::first_time`] for a CSV record (field boundaries count).
    pub fn first_time_record(&mut self, record: &csv::ByteRecord) -> bool {
        self.insert(record_hash(record))
    }

    /// Inserts the fingerprints of consecutive chunks (each in file order) and returns, per chunk, the
    /// positions that were seen before, in this call or earlier: exactly what inserting them one by one,
    /// chunk after chunk, would report. Shards are filled in parallel.
    pub(crate) fn mark_duplicates(&mut self, chunks: &[Vec<u64>]) -> Vec<Vec<u32>> {
        use rayon::prelude::*;
        if self.keep_all {
            return vec![Vec::new(); chunks.len()];
        }
        let per_shard: Vec<Vec<(u32, u32)>> = self
            .shards
            .par_iter_mut()
            .enumerate()
            .map(|(s, set)| {
                let mut dups = Vec::new();
                for (c, hashes) in chunks.iter().enumerate() {
                    for (i, &h) in hashes.iter().enumerate() {
                        if shard_of(h) == s && !set.insert(h) {
                            dups.push((c as u32, i as u32));
                        }
                    }
                }
                dups
            })
            .collect();
        let mut out = vec![Vec::new(); chunks.len()];
        for (c, i) in per_shard.into_iter().flatten() {
            out[c as usize].push(i);
        }
        for positions in &mut out {
            positions.sort_unstable();
        }
        out
    }
}

/// Reads one file, calling `on` for every line. `on_bytes` is told how many bytes have been consumed
/// (for progress bars).
pub fn read_file(
    path: &Path,
    format: &FormatSpec,
    columns: &ColumnSet,
    dedup: &mut Dedup,
    on_bytes: &mut dyn FnMut(u64),
    on: &mut dyn FnMut(Event<'_>),
) -> Result<(), ReadError> {
    let io = |source| ReadError::Io { path: path.to_owned(), source };
    let encoding = format.encoding().map_err(|message| ReadError::Io {
        path: path.to_owned(),
        source: std::io::Error::new(std::io::ErrorKind::InvalidInput, message),
    })?;
    let open = || -> Result<Box<dyn Read>, ReadError> {
        let file = File::open(path).map_err(io)?;
        Ok(match encoding {
            Some(encoding) => Box::new(Transcode::new(file, encoding)),
            None => Box::new(file),
        })
    };
    match format {
        FormatSpec::Csv { delimiter, header, columns: names, .. } if delimiter == "whitespace" => read_whitespace(
            path,
            BufReader::with_capacity(1 << 20, open()?),
            *header,
            names,
            columns,
            dedup,
            on_bytes,
            on,
        ),
        FormatSpec::Csv { delimiter, quote, header, columns: names, .. } => {
            let (reader, newlines) = csv_reader(open()?, delimiter, quote, 0);
            read_csv(path, reader, &newlines, *header, names, columns, dedup, on_bytes, on)
        }
        FormatSpec::Jsonl => read_jsonl(path, BufReader::with_capacity(1 << 20, open()?), columns, dedup, on_bytes, on),
        FormatSpec::Parquet => read_parquet(path, columns, dedup, on),
    }
}

/// A reader that transcodes another encoding to UTF-8 as bytes pass through (line breaks stay where they
/// are, so line numbers do not change).
struct Transcode<R> {
    inner: R,
    decoder: encoding_rs::Decoder,
    input: Vec<u8>,
    decoded: Vec<u8>,
    taken: usize,
    eof: bool,
}

impl<R: Read> Transcode<R> {
    fn new(inner: R, encoding: &'static encoding_rs::Encoding) -> Self {
        Self {
            inner,
            decoder: encoding.new_decoder_without_bom_handling(),
            input: vec![0; 1 << 16],
            decoded: Vec::new(),
            taken: 0,
            eof: false,
        }
    }
}

impl<R: Read> Read for Transcode<R> {
    fn read(&mut self, out: &mut [u8]) -> std::io::Result<usize> {
        while self.taken == self.decoded.len() && !self.eof {
            let n = self.inner.read(&mut self.input)?;
            self.eof = n == 0;
            self.decoded.clear();
            self.taken = 0;
            let room = self.decoder.max_utf8_buffer_length(n).unwrap_or(4 * n + 16);
            self.decoded.resize(room, 0);
            let (_, read, written, _) = self.decoder.decode_to_utf8(&self.input[..n], &mut self.decoded, self.eof);
            debug_assert_eq!(read, n);
            self.decoded.truncate(written);
        }
        let n = out.len().min(self.decoded.len() - self.taken);
        out[..n].copy_from_slice(&self.decoded[self.taken..self.taken + n]);
        self.taken += n;
        Ok(n)
    }
}

fn resolve(path: &Path, header: &[String], columns: &ColumnSet) -> Result<Vec<Slot>, ReadError> {
    let mut slots = Vec::with_capacity(columns.names.len());
    let mut missing = Vec::new();
    let mut position = |name: &str| match header.iter().position(|h| h == name) {
        Some(p) => p,
        None => {
            missing.push(name.to_owned());
            0
        }
    };
    for source in &columns.sources {
        slots.push(match source {
            Source::Column(name) => Slot::Field(position(name)),
            Source::Constant(value) => Slot::Constant(value.clone()),
            Source::OneHot(names) => Slot::OneHot(names.iter().map(|n| (position(n), n.clone())).collect()),
        });
    }
    if missing.is_empty() {
        Ok(slots)
    } else {
        Err(ReadError::MissingColumns { path: path.to_owned(), missing, available: header.to_vec() })
    }
}

/// `text` without leading and trailing white space (Unicode's), `None` when nothing is left. ASCII ends
/// are trimmed first (fast); the full trim runs only when an end is not a printable ASCII character.
fn trimmed(text: &str) -> Option<&str> {
    let t = text.trim_ascii();
    let plain = |b: Option<&u8>| b.is_none_or(u8::is_ascii_graphic);
    let t = if plain(t.as_bytes().first()) && plain(t.as_bytes().last()) { t } else { t.trim() };
    (!t.is_empty()).then_some(t)
}

/// Byte offsets of the newlines read ahead of the parser, so a record's byte offset gives its exact
/// 1-based line (the `csv` crate's own line count skips blank lines and quoted line breaks).
#[derive(Debug, Default)]
pub(crate) struct NewlineIndex {
    pending: VecDeque<u64>,
    passed: u64,
}

impl NewlineIndex {
    /// An index whose first byte lies on line `lines_before + 1`.
    pub(crate) fn starting_after(lines_before: u64) -> Self {
        Self { pending: VecDeque::new(), passed: lines_before }
    }

    /// The line on which the byte at `offset` lies. Offsets must not decrease between calls.
    fn line_at(&mut self, offset: u64) -> u64 {
        while self.pending.front().is_some_and(|&n| n < offset) {
            self.pending.pop_front();
            self.passed += 1;
        }
        self.passed + 1
    }
}

/// A reader that notes where every newline is as bytes pass through.
pub(crate) struct LineCounting<R> {
    inner: R,
    offset: u64,
    index: Rc<RefCell<NewlineIndex>>,
}

impl<R: Read> Read for LineCounting<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        let mut index = self.index.borrow_mut();
        index.pending.extend(memchr::memchr_iter(b'\n', &buf[..n]).map(|i| self.offset + i as u64));
        self.offset += n as u64;
        Ok(n)
    }
}

fn header_names(record: &csv::ByteRecord) -> Vec<String> {
    record
        .iter()
        .enumerate()
        .map(|(i, f)| {
            let text = String::from_utf8_lossy(f);
            let text = if i == 0 { text.trim_start_matches('\u{feff}').to_owned() } else { text.into_owned() };
            text.trim().to_owned()
        })
        .collect()
}

fn lossy_join(record: &csv::ByteRecord, delimiter: char) -> String {
    record.iter().map(|f| String::from_utf8_lossy(f).into_owned()).collect::<Vec<_>>().join(&delimiter.to_string())
}

/// A CSV reader over `inner` with the format's delimiter and quoting, and the index of its newlines; the
/// first byte of `inner` lies on line `lines_before + 1`.
pub(crate) fn csv_reader<R: Read>(
    inner: R,
    delimiter: &str,
    quote: &str,
    lines_before: u64,
) -> (csv::Reader<LineCounting<R>>, Rc<RefCell<NewlineIndex>>) {
    let newlines = Rc::new(RefCell::new(NewlineIndex::starting_after(lines_before)));
    let counting = LineCounting { inner, offset: 0, index: Rc::clone(&newlines) };
    let mut builder = csv::ReaderBuilder::new();
    builder.delimiter(delimiter.as_bytes()[0]).has_headers(false).flexible(true).buffer_capacity(1 << 20);
    match quote.as_bytes().first() {
        Some(&q) => builder.quote(q),
        None => builder.quoting(false),
    };
    (builder.from_reader(counting), newlines)
}

/// What the row loop of a CSV file needs from its header.
#[derive(Debug, Clone)]
pub(crate) struct CsvLayout {
    /// The header line as read, to recognise it again (None for header-less files).
    pub header_record: Option<csv::ByteRecord>,
    /// Column names.
    pub header: Vec<String>,
    /// Where each registered column's value comes from.
    pub positions: Vec<Slot>,
}

impl CsvLayout {
    /// The layout of a file with this header line (or configured names when `header_record` is None).
    pub(crate) fn new(
        path: &Path,
        header_record: Option<csv::ByteRecord>,
        names: &[String],
        columns: &ColumnSet,
    ) -> Result<Self, ReadError> {
        let header = match &header_record {
            Some(record) => header_names(record),
            None => names.to_vec(),
        };
        let positions = resolve(path, &header, columns)?;
        Ok(Self { header_record, header, positions })
    }
}

pub(crate) fn csv_io_error(path: &Path, e: csv::Error) -> ReadError {
    ReadError::Io { path: path.to_owned(), source: std::io::Error::other(e.to_string()) }
}

#[allow(clippy::too_many_arguments)]
fn read_csv<R: Read>(
    path: &Path,
    mut reader: csv::Reader<R>,
    newlines: &RefCell<NewlineIndex>,
    has_header: bool,
    names: &[String],
    columns: &ColumnSet,
    dedup: &mut Dedup,
    on_bytes: &mut dyn FnMut(u64),
    on: &mut dyn FnMut(Event<'_>),
) -> Result<(), ReadError> {
    let header_record = if has_header {
        let mut header_record = csv::ByteRecord::new();
        if !reader.read_byte_record(&mut header_record).map_err(|e| csv_io_error(path, e))? {
            return Ok(());
        }
        Some(header_record)
    } else {
        None
    };
    let layout = CsvLayout::new(path, header_record, names, columns)?;
    csv_rows(path, &mut reader, newlines, &layout, 0, &mut |r| dedup.first_time_record(r), on_bytes, on)?;
    Ok(())
}

/// The row loop of a CSV file: every record after the header becomes an event. `first_time` decides
/// exact duplicates among well-formed records (called for each, in order). `on_bytes` is told the bytes
/// consumed plus `byte_offset`. Returns how many records held a line break inside a quoted field.
#[allow(clippy::too_many_arguments)]
pub(crate) fn csv_rows<R: Read>(
    path: &Path,
    reader: &mut csv::Reader<R>,
    newlines: &RefCell<NewlineIndex>,
    layout: &CsvLayout,
    byte_offset: u64,
    first_time: &mut dyn FnMut(&csv::ByteRecord) -> bool,
    on_bytes: &mut dyn FnMut(u64),
    on: &mut dyn FnMut(Event<'_>),
) -> Result<u64, ReadError> {
    let io = |e: csv::Error| csv_io_error(path, e);
    let header = &layout.header;
    let positions = &layout.positions;
    let mut record = csv::ByteRecord::new();
    let width = header.len();
    let mut rows = 0u64;
    let mut broken_records = 0u64;
    let mut fields: Vec<&str> = Vec::with_capacity(width);
    let mut values: Vec<Option<&str>> = Vec::with_capacity(positions.len());
    let mut scratch: Vec<String> = Vec::new();
    loop {
        match reader.read_byte_record(&mut record) {
            Ok(true) => {}
            Ok(false) => break,
            Err(e) if e.is_io_error() => return Err(io(e)),
            Err(e) => {
                let line = newlines.borrow_mut().line_at(reader.position().byte().saturating_sub(1));
                on(Event::Bad(QuarantinedRow {
                    line,
                    field: String::new(),
                    reason: Reason::Unreadable,
                    detail: e.to_string(),
                    raw: String::new(),
                }));
                continue;
            }
        }
        rows += 1;
        if rows % 65_536 == 0 {
            on_bytes(byte_offset + reader.position().byte());
        }
        // The line of the record's last byte, less the line breaks inside its quoted fields. (The start
        // offset the csv crate reports includes skipped blank lines, so it cannot be used.)
        let end = reader.position().byte().saturating_sub(1);
        let inner_breaks = memchr::memchr_iter(b'\n', record.as_slice()).count() as u64;
        if inner_breaks > 0 {
            broken_records += 1;
        }
        let line = newlines.borrow_mut().line_at(end) - inner_breaks;
        if record.len() == 1 && record.get(0).is_some_and(|f| f.iter().all(u8::is_ascii_whitespace)) {
            on(Event::Blank(line));
            continue;
        }
        if layout.header_record.as_ref() == Some(&record) {
            on(Event::RepeatedHeader(line));
            continue;
        }
        if record.len() != width {
            on(Event::Bad(QuarantinedRow {
                line,
                field: String::new(),
                reason: Reason::WrongColumnCount,
                detail: format!("expected {width} fields, found {}", record.len()),
                raw: lossy_join(&record, ','),
            }));
            continue;
        }
        let mut fields = std::mem::take(&mut fields);
        fields.clear();
        let mut bad_field = None;
        for (i, f) in record.iter().enumerate() {
            match std::str::from_utf8(f) {
                Ok(text) => fields.push(text),
                Err(_) => {
                    bad_field = Some(i);
                    break;
                }
            }
        }
        if let Some(i) = bad_field {
            on(Event::Bad(QuarantinedRow {
                line,
                field: header.get(i).cloned().unwrap_or_default(),
                reason: Reason::InvalidUtf8,
                detail: "bytes that are not UTF-8 (another encoding, such as GBK?)".into(),
                raw: lossy_join(&record, ','),
            }));
        } else if !first_time(&record) {
            on(Event::Duplicate(line));
        } else {
            let mut row_values = std::mem::take(&mut values);
            row_values.clear();
            row_values.extend(fill_values(positions, |p| fields[p], &mut scratch));
            on(Event::Row(Row { line, values: &row_values }));
            values = reuse(row_values);
        }
        fields = reuse(fields);
    }
    on_bytes(byte_offset + reader.position().byte());
    Ok(broken_records)
}

/// The first pass of a parallel read: the fingerprints of exactly the records [`csv_rows`] would offer to
/// the duplicate check (well-formed: readable, not blank, not the header again, the header's width, UTF-8),
/// in order, and how many records hold a line break. Nothing else is parsed, so it costs a fraction of
/// [`csv_rows`].
pub(crate) fn record_fingerprints<R: Read>(
    path: &Path,
    reader: &mut csv::Reader<R>,
    layout: &CsvLayout,
) -> Result<(Vec<u64>, u64), ReadError> {
    let mut record = csv::ByteRecord::new();
    let width = layout.header.len();
    let (mut hashes, mut broken_records) = (Vec::new(), 0u64);
    loop {
        match reader.read_byte_record(&mut record) {
            Ok(true) => {}
            Ok(false) => break,
            Err(e) if e.is_io_error() => return Err(csv_io_error(path, e)),
            Err(_) => continue,
        }
        if memchr::memchr(b'\n', record.as_slice()).is_some() {
            broken_records += 1;
        }
        let blank = record.len() == 1 && record.get(0).is_some_and(|f| f.iter().all(u8::is_ascii_whitespace));
        if blank || layout.header_record.as_ref() == Some(&record) || record.len() != width {
            continue;
        }
        if record.iter().all(|f| std::str::from_utf8(f).is_ok()) {
            hashes.push(record_hash(&record));
        }
    }
    Ok((hashes, broken_records))
}

/// An emptied vector keeping its allocation (collected in place), free of the borrows its elements had.
fn reuse<T, U>(mut v: Vec<T>) -> Vec<U> {
    v.clear();
    v.into_iter().map(|_| unreachable!()).collect()
}

#[allow(clippy::too_many_arguments)]
fn read_whitespace<R: BufRead>(
    path: &Path,
    mut reader: R,
    has_header: bool,
    names: &[String],
    columns: &ColumnSet,
    dedup: &mut Dedup,
    on_bytes: &mut dyn FnMut(u64),
    on: &mut dyn FnMut(Event<'_>),
) -> Result<(), ReadError> {
    let io = |source| ReadError::Io { path: path.to_owned(), source };
    let mut buf = Vec::new();
    let mut line = 0u64;
    let mut consumed = 0u64;
    let mut header: Vec<String> = names.to_vec();
    let mut header_line: Option<Vec<u8>> = None;
    let mut positions: Option<Vec<Slot>> = None;
    let mut scratch: Vec<String> = Vec::new();
    loop {
        buf.clear();
        let n = reader.read_until(b'\n', &mut buf).map_err(io)?;
        if n == 0 {
            break;
        }
        line += 1;
        consumed += n as u64;
        if line % 65_536 == 0 {
            on_bytes(consumed);
        }
        let bytes = buf.trim_ascii();
        if bytes.is_empty() {
            on(Event::Blank(line));
            continue;
        }
        let Ok(text) = std::str::from_utf8(bytes) else {
            on(Event::Bad(QuarantinedRow {
                line,
                field: String::new(),
                reason: Reason::InvalidUtf8,
                detail: "bytes that are not UTF-8".into(),
                raw: String::from_utf8_lossy(bytes).into_owned(),
            }));
            continue;
        };
        if has_header && header_line.is_none() {
            header = text.split_ascii_whitespace().map(str::to_owned).collect();
            header_line = Some(bytes.to_vec());
            continue;
        }
        if header_line.as_deref() == Some(bytes) {
            on(Event::RepeatedHeader(line));
            continue;
        }
        let positions = match &positions {
            Some(p) => p,
            None => positions.insert(resolve(path, &header, columns)?),
        };
        let fields: Vec<&str> = text.split_ascii_whitespace().collect();
        if fields.len() != header.len() {
            on(Event::Bad(QuarantinedRow {
                line,
                field: String::new(),
                reason: Reason::WrongColumnCount,
                detail: format!("expected {} fields, found {}", header.len(), fields.len()),
                raw: text.to_owned(),
            }));
            continue;
        }
        if !dedup.first_time(bytes) {
            on(Event::Duplicate(line));
            continue;
        }
        let values: Vec<Option<&str>> = fill_values(positions, |p| fields[p], &mut scratch).collect();
        on(Event::Row(Row { line, values: &values }));
    }
    if positions.is_none() && line > 0 {
        resolve(path, &header, columns)?;
    }
    on_bytes(consumed);
    Ok(())
}

fn json_text(value: &serde_json::Value) -> Option<String> {
    match value {
        serde_json::Value::Null => None,
        serde_json::Value::String(s) => Some(s.clone()),
        serde_json::Value::Bool(b) => Some(b.to_string()),
        serde_json::Value::Number(n) => Some(n.to_string()),
        other => Some(other.to_string()),
    }
}

fn read_jsonl<R: BufRead>(
    path: &Path,
    mut reader: R,
    columns: &ColumnSet,
    dedup: &mut Dedup,
    on_bytes: &mut dyn FnMut(u64),
    on: &mut dyn FnMut(Event<'_>),
) -> Result<(), ReadError> {
    let io = |source| ReadError::Io { path: path.to_owned(), source };
    let mut buf = Vec::new();
    let mut line = 0u64;
    let mut consumed = 0u64;
    let mut owned: Vec<Option<String>> = Vec::with_capacity(columns.names.len());
    loop {
        buf.clear();
        let n = reader.read_until(b'\n', &mut buf).map_err(io)?;
        if n == 0 {
            break;
        }
        line += 1;
        consumed += n as u64;
        if line % 65_536 == 0 {
            on_bytes(consumed);
        }
        let bytes = buf.trim_ascii();
        if bytes.is_empty() {
            on(Event::Blank(line));
            continue;
        }
        let Ok(text) = std::str::from_utf8(bytes) else {
            on(Event::Bad(QuarantinedRow {
                line,
                field: String::new(),
                reason: Reason::InvalidUtf8,
                detail: "bytes that are not UTF-8".into(),
                raw: String::from_utf8_lossy(bytes).into_owned(),
            }));
            continue;
        };
        let object = match serde_json::from_str::<serde_json::Map<String, serde_json::Value>>(text) {
            Ok(object) => object,
            Err(e) => {
                on(Event::Bad(QuarantinedRow {
                    line,
                    field: String::new(),
                    reason: Reason::InvalidJson,
                    detail: e.to_string(),
                    raw: text.to_owned(),
                }));
                continue;
            }
        };
        if !dedup.first_time(bytes) {
            on(Event::Duplicate(line));
            continue;
        }
        owned.clear();
        let field = |name: &str| object.get(name).and_then(json_text);
        owned.extend(columns.sources.iter().map(|source| {
            match source {
                Source::Column(name) => field(name),
                Source::Constant(value) => Some(value.clone()),
                Source::OneHot(names) => Some(
                    names
                        .iter()
                        .filter(|n| field(n).is_some_and(|v| flag_is_set(&v)))
                        .cloned()
                        .collect::<Vec<_>>()
                        .join(&ONE_HOT_SEPARATOR.to_string()),
                ),
            }
        }));
        let values: Vec<Option<&str>> = owned.iter().map(|v| v.as_deref().and_then(trimmed)).collect();
        on(Event::Row(Row { line, values: &values }));
    }
    on_bytes(consumed);
    Ok(())
}

fn read_parquet(
    path: &Path,
    columns: &ColumnSet,
    dedup: &mut Dedup,
    on: &mut dyn FnMut(Event<'_>),
) -> Result<(), ReadError> {
    use polars::prelude::*;
    let fail = |e: PolarsError| ReadError::Parquet { path: path.to_owned(), message: e.to_string() };
    let file = File::open(path).map_err(|source| ReadError::Io { path: path.to_owned(), source })?;
    let frame = ParquetReader::new(file).finish().map_err(fail)?;
    let header: Vec<String> = frame.get_column_names().iter().map(|n| n.to_string()).collect();
    resolve(path, &header, columns)?;
    if columns.has_one_hot() {
        return Err(ReadError::Parquet {
            path: path.to_owned(),
            message: "one_hot is not supported for Parquet".into(),
        });
    }
    let mut text_columns = Vec::with_capacity(columns.names.len());
    for source in &columns.sources {
        text_columns.push(match source {
            Source::Column(name) => {
                let column = frame.column(name).map_err(fail)?.cast(&DataType::String).map_err(fail)?;
                Some(column.str().map_err(fail)?.clone())
            }
            _ => None,
        });
    }
    let mut values: Vec<Option<&str>> = Vec::with_capacity(columns.names.len());
    let mut key = Vec::new();
    for row in 0..frame.height() {
        values.clear();
        key.clear();
        for (column, source) in text_columns.iter().zip(&columns.sources) {
            let v = match (column, source) {
                (Some(column), _) => column.get(row),
                (None, Source::Constant(value)) => Some(value.as_str()),
                (None, _) => None,
            };
            key.extend_from_slice(v.unwrap_or("\u{0}").as_bytes());
            key.push(0x1f);
            values.push(v.and_then(trimmed));
        }
        let line = row as u64 + 1;
        if !dedup.first_time(&key) {
            on(Event::Duplicate(line));
            continue;
        }
        on(Event::Row(Row { line, values: &values }));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn csv_format() -> FormatSpec {
        FormatSpec::default()
    }

    type Rows = Vec<(u64, Vec<Option<String>>)>;

    fn collect(path: &Path, format: &FormatSpec, names: &[&str]) -> (Rows, Vec<String>) {
        let mut columns = ColumnSet::default();
        let cols: Vec<Col> = names.iter().map(|n| columns.add(n)).collect();
        let mut rows = Vec::new();
        let mut other = Vec::new();
        let mut dedup = Dedup::default();
        read_file(path, format, &columns, &mut dedup, &mut |_| {}, &mut |event| match event {
            Event::Row(row) => rows.push((row.line, cols.iter().map(|c| row.get(*c).map(str::to_owned)).collect())),
            Event::Bad(bad) => other.push(format!("{}:{}", bad.line, bad.reason.as_str())),
            Event::RepeatedHeader(line) => other.push(format!("{line}:header")),
            Event::Duplicate(line) => other.push(format!("{line}:duplicate")),
            Event::Blank(line) => other.push(format!("{line}:blank")),
        })
        .unwrap();
        (rows, other)
    }

    #[test]
    fn csv_rows_keep_line_numbers_and_problems_are_named() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.csv");
        let mut bytes = b"id,name,amount\n1, Ann ,3\n2,Bob\n1, Ann ,3\nid,name,amount\n".to_vec();
        bytes.extend_from_slice(b"3,\xC9\xCF\xBA\xA3,4\n\"4\",\"multi\nline\",5\n\n5,,6\n");
        std::fs::write(&path, bytes).unwrap();
        let (rows, other) = collect(&path, &csv_format(), &["amount", "name"]);
        assert_eq!(
            rows,
            vec![
                (2, vec![Some("3".into()), Some("Ann".into())]),
                (7, vec![Some("5".into()), Some("multi\nline".into())]),
                (10, vec![Some("6".into()), None]),
            ]
        );
        // The csv crate skips empty lines itself; line numbers still count them.
        assert_eq!(other, vec!["3:wrong_column_count", "4:duplicate", "5:header", "6:invalid_utf8"]);
    }

    #[test]
    fn a_missing_column_names_the_file_and_column() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.csv");
        std::fs::write(&path, "id,name\n1,a\n").unwrap();
        let mut columns = ColumnSet::default();
        columns.add("amount");
        let err =
            read_file(&path, &csv_format(), &columns, &mut Dedup::default(), &mut |_| {}, &mut |_| {}).unwrap_err();
        let message = err.to_string();
        assert!(message.contains("a.csv") && message.contains("amount"), "{message}");
    }

    #[test]
    fn whitespace_separated_headerless_files_read() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("cdnow.txt");
        std::fs::write(&path, "00001 19970101  1  11.77\n00002   19970112  1   12.00\n00003 19970102 2\n").unwrap();
        let format = FormatSpec::Csv {
            delimiter: "whitespace".into(),
            quote: String::new(),
            header: false,
            columns: vec!["id".into(), "date".into(), "n".into(), "amount".into()],
            encoding: None,
        };
        let (rows, other) = collect(&path, &format, &["id", "amount"]);
        assert_eq!(rows.len(), 2);
        assert_eq!(rows[1].1, vec![Some("00002".into()), Some("12.00".into())]);
        assert_eq!(other, vec!["3:wrong_column_count"]);
    }

    #[test]
    fn jsonl_reads_objects_and_quarantines_cut_lines() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.jsonl");
        std::fs::write(&path, "{\"id\":\"T1\",\"score\":4}\n{\"id\":\"T2\",\"sco\n{\"id\":\"T3\",\"score\":null}\n")
            .unwrap();
        let (rows, other) = collect(&path, &FormatSpec::Jsonl, &["id", "score"]);
        assert_eq!(rows, vec![(1, vec![Some("T1".into()), Some("4".into())]), (3, vec![Some("T3".into()), None])]);
        assert_eq!(other, vec!["2:invalid_json"]);
    }
}

#[cfg(test)]
mod config_feature_tests {
    use super::*;
    use crate::sources::config::ColumnSpec;

    fn read(path: &Path, format: &FormatSpec, columns: &ColumnSet, cols: &[Col]) -> Vec<Vec<Option<String>>> {
        let mut rows = Vec::new();
        read_file(path, format, columns, &mut Dedup::default(), &mut |_| {}, &mut |event| {
            if let Event::Row(row) = event {
                rows.push(cols.iter().map(|c| row.get(*c).map(str::to_owned)).collect());
            }
        })
        .unwrap();
        rows
    }

    fn csv(encoding: Option<&str>) -> FormatSpec {
        FormatSpec::Csv {
            delimiter: "|".into(),
            quote: String::new(),
            header: false,
            columns: vec!["id".into(), "title".into(), "Action".into(), "Comedy".into()],
            encoding: encoding.map(str::to_owned),
        }
    }

    #[test]
    fn constants_and_one_hot_groups_read_like_columns() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("u.item");
        std::fs::write(&path, "1|A|1|1\n2|B|0|0\n3|C|0|yes\n").unwrap();
        let mut columns = ColumnSet::default();
        let constant = columns.add_spec(&ColumnSpec { constant: Some("cd".into()), ..ColumnSpec::default() });
        let genres = columns.add_one_hot(&["Action".into(), "Comedy".into()]);
        let id = columns.add("id");
        let rows = read(&path, &csv(None), &columns, &[constant, genres, id]);
        let text = |v: &str| Some(v.to_owned());
        assert_eq!(rows[0], vec![text("cd"), text("Action|Comedy"), text("1")]);
        assert_eq!(rows[1], vec![text("cd"), None, text("2")]);
        assert_eq!(rows[2], vec![text("cd"), text("Comedy"), text("3")]);
    }

    #[test]
    fn latin1_files_are_transcoded_and_utf8_stays_strict() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("u.item");
        std::fs::write(&path, b"1|Mis\xe9rables|0|0\n2|B\xe9b\xe9|0|1\n").unwrap();
        let mut columns = ColumnSet::default();
        let title = columns.add("title");
        let rows = read(&path, &csv(Some("latin1")), &columns, &[title]);
        assert_eq!(rows, vec![vec![Some("Misérables".to_owned())], vec![Some("Bébé".to_owned())]]);
        // Without an encoding the same bytes are invalid UTF-8: quarantined, not guessed.
        assert!(read(&path, &csv(None), &columns, &[title]).is_empty());
        assert!(csv(Some("no-such-encoding")).encoding().is_err());
    }

    #[test]
    fn flags_recognise_the_usual_spellings() {
        for set in ["1", "true", "YES", "y", " T "] {
            assert!(flag_is_set(set), "{set}");
        }
        for unset in ["0", "", "no", "false", "2"] {
            assert!(!flag_is_set(unset), "{unset}");
        }
    }
}
