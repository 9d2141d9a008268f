//! Reading one large CSV file on several threads, with exactly the events a single sequential pass gives:
//! the same rows, line numbers, quarantine entries and duplicates, in the same order.
//!
//! The file is read in segments (bounded memory). Each segment is cut into chunks after line breaks and
//! every chunk is parsed twice, in parallel: a first pass fingerprints its well-formed records and checks
//! that no record holds a line break inside quotes; the fingerprints then go through the source's
//! duplicate set (sharded, so in parallel, with the answers of a sequential pass); a second pass turns
//! every record into events for a consumer made for that chunk. Consumers are handed back in file order.
//!
//! Why the check: a line break inside a quoted field is not a record boundary, and a chunk cut there
//! would start in the middle of a record. The parser of the chunk before sees the quote open and keeps
//! the line break inside the field, so such a cut always shows up as a record with a line break in it.
//! When any record of a segment has one (legitimately or because of a bad cut), nothing of that segment
//! has been handed out yet, and the rest of the file is read sequentially from the segment's start.

use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::path::Path;

use rayon::prelude::*;

use super::reader::{
    ColumnSet, CsvLayout, Dedup, Event, ReadError, csv_io_error, csv_reader, csv_rows, record_fingerprints,
};

/// How a large file is cut.
#[derive(Debug, Clone, Copy)]
pub struct ChunkPlan {
    /// Bytes read per segment.
    pub segment_bytes: usize,
    /// Chunks a segment is cut into (tasks per segment).
    pub chunks_per_segment: usize,
}

impl ChunkPlan {
    /// Files smaller than this are read sequentially.
    pub const MIN_FILE_BYTES: u64 = 32 << 20;

    /// Chunks of 16 MiB, two per thread in a segment (enough tasks for work stealing between sources, and
    /// little memory: a segment's bytes and its chunks' batches are alive at once).
    pub fn for_threads(threads: usize) -> Self {
        let chunks = (threads * 2).clamp(2, 16);
        Self { segment_bytes: chunks * (16 << 20), chunks_per_segment: chunks }
    }
}

/// The CSV dialect and header settings of the file.
#[derive(Debug, Clone, Copy)]
pub struct CsvDialect<'a> {
    /// Field delimiter (one byte).
    pub delimiter: &'a str,
    /// Quote character, empty for none.
    pub quote: &'a str,
    /// Whether the first line is a header.
    pub header: bool,
    /// Column names of a header-less file.
    pub names: &'a [String],
}

/// Where the events of a chunk go: `make` creates a consumer per chunk (on a worker thread), `consume`
/// feeds it, `finish` receives the consumers in file order, and `on` gets the events of any part of the
/// file read sequentially (after a quoted line break).
pub struct ChunkHandlers<'h, C> {
    /// A fresh consumer.
    pub make: &'h (dyn Fn() -> C + Sync),
    /// Feeds one event to a consumer.
    pub consume: &'h (dyn Fn(&mut C, Event<'_>) + Sync),
    /// Receives consumers in file order.
    pub finish: &'h mut dyn FnMut(C),
    /// Events of sequentially read parts.
    pub on: &'h mut dyn FnMut(Event<'_>),
    /// Bytes of the file consumed so far.
    pub on_bytes: &'h mut dyn FnMut(u64),
}

/// Reads a CSV file in parallel chunks (see the module documentation).
pub fn read_csv_parallel<C: Send>(
    path: &Path,
    dialect: CsvDialect<'_>,
    columns: &ColumnSet,
    dedup: &mut Dedup,
    plan: ChunkPlan,
    handlers: ChunkHandlers<'_, C>,
) -> Result<(), ReadError> {
    let io = |source| ReadError::Io { path: path.to_owned(), source };
    let mut file = File::open(path).map_err(io)?;
    let mut buf: Vec<u8> = Vec::with_capacity(plan.segment_bytes + (1 << 16));
    let mut offset = 0u64; // file offset of buf[0]
    let mut lines_before = 0u64; // line breaks before buf[0]
    let mut layout: Option<CsvLayout> = None;
    let mut eof = false;
    loop {
        while buf.len() < plan.segment_bytes && !eof {
            let want = (plan.segment_bytes - buf.len()) as u64;
            if (&mut file).take(want).read_to_end(&mut buf).map_err(io)? == 0 {
                eof = true;
            }
        }
        let mut start = 0usize;
        if layout.is_none() {
            let Some((l, header_end)) = header_layout(path, dialect, columns, &buf)? else {
                return sequential(path, dialect, columns, dedup, 0, 0, None, handlers);
            };
            start = header_end;
            lines_before += u64::from(header_end > 0);
            layout = Some(l);
        }
        let Some(layout) = layout.as_ref() else { unreachable!("set above") };
        let end = if eof {
            buf.len()
        } else {
            match memchr::memrchr(b'\n', &buf[start..]) {
                Some(i) => start + i + 1,
                // One line longer than a segment: not worth the trouble.
                None => {
                    let from = offset + start as u64;
                    return sequential(path, dialect, columns, dedup, from, lines_before, Some(layout), handlers);
                }
            }
        };
        let data = &buf[start..end];
        let bounds = cut(data, plan.chunks_per_segment);
        let chunks: Vec<&[u8]> = bounds.windows(2).map(|w| &data[w[0]..w[1]]).collect();

        // Pass 1: fingerprints, line breaks, and whether every cut was a record boundary.
        let first: Vec<Result<FirstPass, ReadError>> = chunks
            .par_iter()
            .map(|chunk| {
                let (mut reader, _) = csv_reader(*chunk, dialect.delimiter, dialect.quote, 0);
                let (hashes, broken) = record_fingerprints(path, &mut reader, layout)?;
                Ok(FirstPass { hashes, broken, breaks: memchr::memchr_iter(b'\n', chunk).count() as u64 })
            })
            .collect();
        let first = first.into_iter().collect::<Result<Vec<_>, _>>()?;
        if first.iter().any(|f| f.broken > 0) {
            let from = offset + start as u64;
            return sequential(path, dialect, columns, dedup, from, lines_before, Some(layout), handlers);
        }
        let mut chunk_lines = Vec::with_capacity(first.len());
        let mut hashes = Vec::with_capacity(first.len());
        let mut lines = lines_before;
        for f in first {
            chunk_lines.push(lines);
            lines += f.breaks;
            hashes.push(f.hashes);
        }
        let duplicates = dedup.mark_duplicates(&hashes);
        drop(hashes);

        // Pass 2: events, into one consumer per chunk.
        let make = handlers.make;
        let consume = handlers.consume;
        let second: Vec<Result<C, ReadError>> = chunks
            .par_iter()
            .zip(chunk_lines.par_iter())
            .zip(duplicates.par_iter())
            .map(|((chunk, &lines_before), dups)| {
                let mut consumer = make();
                let (mut reader, newlines) = csv_reader(*chunk, dialect.delimiter, dialect.quote, lines_before);
                let mut well_formed = 0u32;
                let mut next_dup = dups.iter().peekable();
                csv_rows(
                    path,
                    &mut reader,
                    &newlines,
                    layout,
                    0,
                    &mut |_| {
                        let i = well_formed;
                        well_formed += 1;
                        if next_dup.peek() == Some(&&i) {
                            next_dup.next();
                            false
                        } else {
                            true
                        }
                    },
                    &mut |_| {},
                    &mut |event| consume(&mut consumer, event),
                )?;
                Ok(consumer)
            })
            .collect();
        for consumer in second {
            (handlers.finish)(consumer?);
        }
        lines_before = lines;
        offset += end as u64;
        (handlers.on_bytes)(offset);
        if eof {
            return Ok(());
        }
        buf.drain(..end);
    }
}

/// What the first pass learns about a chunk.
struct FirstPass {
    /// Fingerprints of its well-formed records, in order.
    hashes: Vec<u64>,
    /// Records with a line break inside (a quoted one, or a cut that was not a record boundary).
    broken: u64,
    /// Line breaks in the chunk.
    breaks: u64,
}

/// The layout from the header line at the start of `buf` and the offset after it; None when the header
/// cannot be taken from the first line alone (blank first line, quoted line break, no line break).
fn header_layout(
    path: &Path,
    dialect: CsvDialect<'_>,
    columns: &ColumnSet,
    buf: &[u8],
) -> Result<Option<(CsvLayout, usize)>, ReadError> {
    if !dialect.header {
        return CsvLayout::new(path, None, dialect.names, columns).map(|l| Some((l, 0)));
    }
    let Some(line_end) = memchr::memchr(b'\n', buf).map(|i| i + 1) else { return Ok(None) };
    let (mut reader, _) = csv_reader(&buf[..line_end], dialect.delimiter, dialect.quote, 0);
    let mut record = csv::ByteRecord::new();
    if !reader.read_byte_record(&mut record).map_err(|e| csv_io_error(path, e))? || record.as_slice().contains(&b'\n') {
        return Ok(None);
    }
    CsvLayout::new(path, Some(record), dialect.names, columns).map(|l| Some((l, line_end)))
}

/// Cut points of `data` into about `parts` pieces, each ending after a line break (the last at the end).
fn cut(data: &[u8], parts: usize) -> Vec<usize> {
    let mut bounds = vec![0];
    for p in 1..parts {
        let target = (data.len() * p / parts).max(*bounds.last().unwrap_or(&0));
        if let Some(i) = memchr::memchr(b'\n', &data[target..]) {
            let at = target + i + 1;
            if at < data.len() && at > *bounds.last().unwrap_or(&0) {
                bounds.push(at);
            }
        }
    }
    bounds.push(data.len());
    bounds
}

/// Reads the rest of the file from `from` (a record boundary on line `lines_before + 1`) sequentially.
#[allow(clippy::too_many_arguments)]
fn sequential<C>(
    path: &Path,
    dialect: CsvDialect<'_>,
    columns: &ColumnSet,
    dedup: &mut Dedup,
    from: u64,
    lines_before: u64,
    layout: Option<&CsvLayout>,
    handlers: ChunkHandlers<'_, C>,
) -> Result<(), ReadError> {
    let io = |source| ReadError::Io { path: path.to_owned(), source };
    let mut file = File::open(path).map_err(io)?;
    file.seek(SeekFrom::Start(from)).map_err(io)?;
    let (mut reader, newlines) = csv_reader(file, dialect.delimiter, dialect.quote, lines_before);
    let owned;
    let layout = match layout {
        Some(l) => l,
        None => {
            let header_record = if dialect.header {
                let mut record = csv::ByteRecord::new();
                if !reader.read_byte_record(&mut record).map_err(|e| csv_io_error(path, e))? {
                    return Ok(());
                }
                Some(record)
            } else {
                None
            };
            owned = CsvLayout::new(path, header_record, dialect.names, columns)?;
            &owned
        }
    };
    csv_rows(
        path,
        &mut reader,
        &newlines,
        layout,
        from,
        &mut |r| dedup.first_time_record(r),
        handlers.on_bytes,
        handlers.on,
    )?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sources::config::FormatSpec;
    use crate::sources::reader::{Col, read_file};
    use proptest::prelude::*;

    /// Every event as text, so sequential and chunked reads can be compared.
    fn describe(event: Event<'_>, cols: &[Col]) -> String {
        match event {
            Event::Row(row) => format!("{}:row:{:?}", row.line, cols.iter().map(|c| row.get(*c)).collect::<Vec<_>>()),
            Event::Bad(bad) => format!("{}:bad:{}:{}:{}", bad.line, bad.reason.as_str(), bad.field, bad.raw),
            Event::RepeatedHeader(line) => format!("{line}:header"),
            Event::Duplicate(line) => format!("{line}:duplicate"),
            Event::Blank(line) => format!("{line}:blank"),
        }
    }

    fn columns() -> (ColumnSet, Vec<Col>) {
        let mut columns = ColumnSet::default();
        let cols = ["a", "b", "c"].iter().map(|n| columns.add(n)).collect();
        (columns, cols)
    }

    fn sequential_events(path: &Path, header: bool) -> Vec<String> {
        let (columns, cols) = columns();
        let format = FormatSpec::Csv {
            delimiter: ",".into(),
            quote: "\"".into(),
            header,
            columns: vec!["a".into(), "b".into(), "c".into()],
            encoding: None,
        };
        let mut events = Vec::new();
        read_file(path, &format, &columns, &mut Dedup::default(), &mut |_| {}, &mut |e| {
            events.push(describe(e, &cols))
        })
        .unwrap();
        events
    }

    fn chunked_events(path: &Path, header: bool, plan: ChunkPlan) -> Vec<String> {
        let (columns, cols) = columns();
        let names = vec!["a".to_owned(), "b".to_owned(), "c".to_owned()];
        let dialect = CsvDialect { delimiter: ",", quote: "\"", header, names: &names };
        let events = std::cell::RefCell::new(Vec::new());
        let make = Vec::new;
        let consume = |chunk: &mut Vec<String>, e: Event<'_>| chunk.push(describe(e, &cols));
        let mut finish = |chunk: Vec<String>| events.borrow_mut().extend(chunk);
        let mut on = |e: Event<'_>| events.borrow_mut().push(describe(e, &cols));
        let handlers =
            ChunkHandlers { make: &make, consume: &consume, finish: &mut finish, on: &mut on, on_bytes: &mut |_| {} };
        read_csv_parallel(path, dialect, &columns, &mut Dedup::default(), plan, handlers).unwrap();
        events.into_inner()
    }

    /// Lines of a messy export: good rows (often repeated), short rows, blank lines, the header again,
    /// invalid UTF-8, quoted fields with delimiters, CRLF endings and, rarely, a quoted line break.
    fn line() -> impl Strategy<Value = Vec<u8>> {
        prop_oneof![
            8 => (0u8..6, 0u8..3).prop_map(|(a, b)| format!("{a},x{b}, {a}{b} \n").into_bytes()),
            1 => Just(b"1,2\n".to_vec()),
            1 => Just(b"\n".to_vec()),
            1 => Just(b"a,b,c\n".to_vec()),
            1 => Just(b"9,\xC9\xCF,3\n".to_vec()),
            1 => Just(b"\"7,1\",\"q\"\"x\",2\r\n".to_vec()),
            1 => Just(b"  \n".to_vec()),
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]
        #[test]
        fn chunked_reading_gives_the_events_of_a_sequential_read(
            lines in prop::collection::vec(line(), 0..80),
            quoted_break_at in prop::option::of(0usize..80),
            header in any::<bool>(),
            segment in 8usize..120,
            chunks in 1usize..5,
            final_newline in any::<bool>(),
        ) {
            let mut bytes = if header { b"a,b,c\n".to_vec() } else { Vec::new() };
            for (i, l) in lines.iter().enumerate() {
                if quoted_break_at == Some(i) {
                    bytes.extend_from_slice(b"5,\"two\nlines\",6\n");
                }
                bytes.extend_from_slice(l);
            }
            if !final_newline && bytes.last() == Some(&b'\n') {
                bytes.pop();
            }
            let dir = tempfile::tempdir().unwrap();
            let path = dir.path().join("t.csv");
            std::fs::write(&path, &bytes).unwrap();
            let plan = ChunkPlan { segment_bytes: segment, chunks_per_segment: chunks };
            prop_assert_eq!(chunked_events(&path, header, plan), sequential_events(&path, header));
        }
    }

    #[test]
    fn duplicates_across_chunks_and_segments_are_caught() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.csv");
        let mut text = String::from("a,b,c\n");
        for i in 0..200 {
            text.push_str(&format!("{},y,z\n", i % 7));
        }
        std::fs::write(&path, &text).unwrap();
        let plan = ChunkPlan { segment_bytes: 64, chunks_per_segment: 3 };
        let events = chunked_events(&path, true, plan);
        assert_eq!(events, sequential_events(&path, true));
        assert_eq!(events.iter().filter(|e| e.contains(":row:")).count(), 7);
        assert_eq!(events.iter().filter(|e| e.ends_with(":duplicate")).count(), 193);
    }

    #[test]
    fn cuts_fall_after_line_breaks() {
        let data = b"aa\nbbbb\ncc\nd";
        let bounds = cut(data, 3);
        assert_eq!(bounds.first(), Some(&0));
        assert_eq!(bounds.last(), Some(&data.len()));
        for &b in &bounds[1..bounds.len() - 1] {
            assert_eq!(data[b - 1], b'\n');
        }
    }
}
