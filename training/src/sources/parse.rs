//! Turning well-formed rows into typed facts, per source kind, with validation: every row either becomes
//! facts in the source's [`SourceBatch`] or goes to the quarantine with the field and reason.

use std::borrow::Cow;
use std::cell::RefCell;
use std::path::{Path, PathBuf};

use chrono::{NaiveDate, NaiveTime};

use super::batch::{SourceBatch, TagFact, Ticket, TxnLine};
use super::catalog::Catalog;
use super::chunked::{ChunkHandlers, ChunkPlan, CsvDialect, read_csv_parallel};
use super::config::{ColumnSpec, ConfigError, FormatSpec, SourceConfig, SourceKind, SourceSpec};
use super::normalize::{KeyKind, Normalizer, PhoneRules, fold_width, normalize_key};
use super::quality::SourceQuality;
use super::quarantine::{QuarantineWriter, QuarantinedRow, Reason};
use super::reader::{Col, ColumnSet, Dedup, Event, ONE_HOT_SEPARATOR, ReadError, Row, read_file};
use super::timestamp::TimestampParser;
use crate::unify::dictionary::{TagDictionary, TagIdx, TagValue, ValueProblem};

/// A source that could not be read (bad rows are not errors: they are quarantined).
#[derive(Debug, thiserror::Error)]
pub enum SourceError {
    /// A file could not be read.
    #[error(transparent)]
    Read(#[from] ReadError),
    /// The config does not fit this source.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// The quarantine file could not be written.
    #[error("cannot write quarantine file for source {source_name} in {dir}: {error}")]
    Quarantine {
        /// The source.
        source_name: String,
        /// The quarantine folder.
        dir: PathBuf,
        /// The I/O error.
        error: std::io::Error,
    },
    /// The config maps a column to a tag the dictionary does not define.
    #[error(
        "source {source_name}: attribute column `{column}` maps to tag `{tag}`, which the tag dictionary does not define"
    )]
    UnknownTag {
        /// The source.
        source_name: String,
        /// The column.
        column: String,
        /// The tag name.
        tag: String,
    },
}

/// What every source reader needs to know.
pub struct ReadContext<'a> {
    /// The source config.
    pub config: &'a SourceConfig,
    /// The tag dictionary.
    pub dictionary: &'a TagDictionary,
    /// The catalog built so far (empty while catalogs themselves are read).
    pub catalog: &'a Catalog,
    /// Folder for quarantine files.
    pub quarantine_dir: &'a Path,
    /// Told how many bytes of the current file have been read.
    pub on_progress: &'a (dyn Fn(&str, u64, u64) + Sync),
}

/// A problem with one row.
struct Bad {
    reason: Reason,
    field: String,
    detail: String,
}

impl Bad {
    fn new(reason: Reason, field: &str, detail: impl Into<String>) -> Self {
        Self { reason, field: field.to_owned(), detail: detail.into() }
    }
}

/// Record key and identity keys of a row.
struct KeyParser {
    key: Option<(Col, ColumnSpec)>,
    fallback: Option<(Col, ColumnSpec)>,
    identity: Vec<(Col, KeyKind, String)>,
    phone: PhoneRules,
    /// The previous row's raw key values and record: consecutive lines of one order or receipt repeat
    /// them, and need no second normalization.
    cache: RefCell<(Vec<Option<String>>, Option<u32>)>,
}

impl KeyParser {
    fn new(spec: &SourceSpec, config: &SourceConfig, columns: &mut ColumnSet) -> Self {
        let key = spec.fields.record_key.as_ref().map(|k| (columns.add_spec(k), k.clone()));
        let fallback = spec
            .fields
            .record_key
            .as_ref()
            .and_then(|k| k.fallback.as_deref())
            .map(|f| (columns.add_spec(f), f.clone()));
        let identity = spec.identity.iter().map(|i| (columns.add(&i.column), i.kind, i.column.clone())).collect();
        let phone = PhoneRules {
            country_code: config.identity.phone_country_code.clone(),
            national_length: config.identity.phone_national_length,
        };
        Self { key, fallback, identity, phone, cache: RefCell::new((Vec::new(), None)) }
    }

    fn key_text<'r>(row: &Row<'r>, col: Col, spec: &ColumnSpec) -> Option<Cow<'r, str>> {
        let raw = row.get(col)?;
        let value = match spec.normalize {
            Some(n) => n.apply(raw)?,
            None => Cow::Borrowed(raw),
        };
        Some(if spec.prefix.is_empty() { value } else { Cow::Owned(format!("{}{value}", spec.prefix)) })
    }

    fn raw_values<'r>(&self, row: &Row<'r>) -> impl Iterator<Item = Option<&'r str>> {
        let key = self.key.as_ref().map(|(c, _)| row.get(*c));
        let fallback = self.fallback.as_ref().map(|(c, _)| row.get(*c));
        key.into_iter().chain(fallback).chain(self.identity.iter().map(|(c, _, _)| row.get(*c)))
    }

    /// The record index of the row, after linking its identity keys.
    fn record(&self, row: &Row<'_>, batch: &mut SourceBatch) -> Result<u32, Bad> {
        let mut cache = self.cache.borrow_mut();
        if let Some(record) = cache.1 {
            if cache.0.len() == self.raw_values(row).count()
                && cache.0.iter().zip(self.raw_values(row)).all(|(a, b)| a.as_deref() == b)
            {
                return Ok(record);
            }
        }
        let record = self.resolve(row, batch)?;
        cache.0.clear();
        cache.0.extend(self.raw_values(row).map(|v| v.map(str::to_owned)));
        cache.1 = Some(record);
        Ok(record)
    }

    fn resolve(&self, row: &Row<'_>, batch: &mut SourceBatch) -> Result<u32, Bad> {
        let (col, spec) =
            self.key.as_ref().ok_or_else(|| Bad::new(Reason::MissingKey, "", "no record_key configured"))?;
        let (text, anonymous) = match Self::key_text(row, *col, spec) {
            Some(t) => (t, false),
            None => match &self.fallback {
                Some((fcol, fspec)) => match Self::key_text(row, *fcol, fspec) {
                    Some(t) => (t, true),
                    None => {
                        return Err(Bad::new(
                            Reason::MissingKey,
                            &spec.column,
                            format!("{} and {} are empty", spec.column, fspec.column),
                        ));
                    }
                },
                None => return Err(Bad::new(Reason::MissingKey, &spec.column, "empty record key")),
            },
        };
        let record = batch.record(&text, anonymous);
        for (col, kind, column) in &self.identity {
            let Some(raw) = row.get(*col) else { continue };
            match normalize_key(*kind, raw, &self.phone) {
                Some((resolved, value)) => batch.link(record, resolved, &value),
                None => *batch.quality.invalid_keys.entry(format!("{}:{column}", kind.namespace())).or_default() += 1,
            }
        }
        Ok(record)
    }
}

/// Timestamp column with its range check.
struct TimeField {
    col: Col,
    column: String,
    parser: TimestampParser,
    from: i64,
    until: i64,
}

impl TimeField {
    fn new(spec: &ColumnSpec, config: &SourceConfig, columns: &mut ColumnSet) -> Result<Self, ConfigError> {
        let parser =
            TimestampParser::new(&spec.formats, config.timezone()).map_err(|message| ConfigError::Invalid {
                path: config.path.clone(),
                key: format!("fields.timestamp ({})", spec.column),
                message,
            })?;
        let tz = config.timezone();
        let day_start =
            |d: NaiveDate| d.and_time(NaiveTime::MIN).and_local_timezone(tz).single().map_or(0, |t| t.timestamp());
        Ok(Self {
            col: columns.add_spec(spec),
            column: spec.column.clone(),
            parser,
            from: day_start(config.project.valid_from),
            until: day_start(config.valid_until()),
        })
    }

    fn read(&self, row: &Row<'_>) -> Result<i64, Bad> {
        let raw = row.get(self.col).ok_or_else(|| Bad::new(Reason::MissingField, &self.column, "empty timestamp"))?;
        let ts = self.parser.parse(raw).ok_or_else(|| Bad::new(Reason::BadTimestamp, &self.column, raw))?;
        if ts < self.from || ts >= self.until {
            return Err(Bad::new(Reason::DateOutOfRange, &self.column, raw));
        }
        Ok(ts)
    }

    fn read_optional(&self, row: &Row<'_>) -> Result<Option<i64>, Bad> {
        if row.get(self.col).is_none() { Ok(None) } else { self.read(row).map(Some) }
    }
}

fn number(row: &Row<'_>, col: Col, column: &str) -> Result<Option<f64>, Bad> {
    match row.get(col) {
        None => Ok(None),
        Some(raw) => {
            // Plain ASCII numbers (nearly all) parse without the copies below; anything else (or a parse
            // failure) takes the full path, which gives these the same value.
            if raw.bytes().all(|b| b.is_ascii_digit() || matches!(b, b'.' | b'-' | b'+' | b'e' | b'E')) {
                if let Ok(n) = raw.parse::<f64>() {
                    if n.is_finite() {
                        return Ok(Some(n));
                    }
                }
            }
            let cleaned = fold_width(raw);
            let cleaned = cleaned.trim().trim_start_matches(['¥', '$', '€', '￥']).replace(',', "");
            match cleaned.parse::<f64>() {
                Ok(n) if n.is_finite() => Ok(Some(n)),
                _ => Err(Bad::new(Reason::BadNumber, column, raw)),
            }
        }
    }
}

/// A numeric column with its unit factor.
struct NumberField {
    col: Col,
    column: String,
    factor: f64,
}

impl NumberField {
    fn new(spec: &ColumnSpec, columns: &mut ColumnSet) -> Self {
        Self {
            col: columns.add_spec(spec),
            column: spec.column.clone(),
            factor: spec.unit.unwrap_or_default().factor(),
        }
    }

    fn read(&self, row: &Row<'_>) -> Result<Option<f64>, Bad> {
        Ok(number(row, self.col, &self.column)?.map(|n| n * self.factor))
    }
}

/// An item-key column: normalizer and scheme.
struct ItemField {
    col: Col,
    column: String,
    scheme: String,
    normalize: Normalizer,
}

impl ItemField {
    fn new(spec: &ColumnSpec, columns: &mut ColumnSet) -> Self {
        Self {
            col: columns.add_spec(spec),
            column: spec.column.clone(),
            scheme: spec.scheme.clone().unwrap_or_else(|| "item".to_owned()),
            normalize: spec.normalize.unwrap_or(Normalizer::Trim),
        }
    }

    fn read<'r>(&self, row: &Row<'r>) -> Option<Cow<'r, str>> {
        row.get(self.col).and_then(|raw| self.normalize.apply(raw))
    }
}

fn order_hash(source: &str, order: &str) -> u32 {
    xxhash_rust::xxh3::xxh3_64_with_seed(order.as_bytes(), xxhash_rust::xxh3::xxh3_64(source.as_bytes())) as u32
}

/// The per-kind row parsers.
enum KindParser {
    Transactions(Box<TransactionParser>),
    Customers(CustomerParser),
    Feedback(FeedbackParser),
}

struct TransactionParser {
    keys: KeyParser,
    time: TimeField,
    item: ItemField,
    order: Option<Col>,
    quantity: Option<(Col, String)>,
    unit_price: Option<NumberField>,
    line_amount: Option<NumberField>,
    coupon: Option<Col>,
    max_quantity: f64,
    max_amount: f64,
    repair_units: bool,
    impute: bool,
    require_amount: bool,
}

impl TransactionParser {
    fn parse(&self, row: &Row<'_>, batch: &mut SourceBatch, catalog: &Catalog) -> Result<(), Bad> {
        let ts = self.time.read(row)?;
        let code =
            self.item.read(row).ok_or_else(|| Bad::new(Reason::MissingField, &self.item.column, "empty item code"))?;
        let quantity = match &self.quantity {
            Some((col, column)) => {
                number(row, *col, column)?.ok_or_else(|| Bad::new(Reason::MissingField, column, "empty quantity"))?
            }
            None => 1.0,
        };
        if quantity == 0.0 {
            let column = self.quantity.as_ref().map_or("", |(_, c)| c.as_str());
            return Err(Bad::new(Reason::ZeroQuantity, column, "0"));
        }
        if quantity.abs() > self.max_quantity {
            let column = self.quantity.as_ref().map_or("", |(_, c)| c.as_str());
            return Err(Bad::new(Reason::AbsurdQuantity, column, quantity.to_string()));
        }
        let catalog_item = catalog.scheme(&self.item.scheme).and_then(|codes| codes.get(code.as_ref())).copied();
        let list_price = catalog_item.and_then(|i| catalog.price[i as usize]);
        let (amount_field, mut amount) = match (&self.line_amount, &self.unit_price) {
            (Some(f), _) => (f.column.as_str(), f.read(row)?),
            (None, Some(f)) => (f.column.as_str(), f.read(row)?.map(|p| p * quantity)),
            (None, None) => ("", list_price.map(|p| p * quantity)),
        };
        if amount.is_none() && self.impute {
            if let Some(p) = list_price {
                amount = Some(p * quantity);
                batch.quality.repair("imputed_amount_from_catalog");
            }
        }
        let mut amount = match amount {
            Some(a) => a,
            None if !self.require_amount => f64::NAN,
            None => return Err(Bad::new(Reason::MissingField, amount_field, "empty amount and no catalog price")),
        };
        if quantity < 0.0 && amount > 0.0 {
            amount = -amount;
        }
        if self.repair_units {
            if let Some(p) = list_price.filter(|p| *p > 0.0) {
                let ratio = (amount / quantity).abs() / p;
                if (70.0..=130.0).contains(&ratio) {
                    amount /= 100.0;
                    batch.quality.repair("amount_100x_too_large");
                } else if (1.0 / 130.0..=1.0 / 70.0).contains(&ratio) {
                    amount *= 100.0;
                    batch.quality.repair("amount_100x_too_small");
                }
            }
        }
        if amount.abs() > self.max_amount {
            return Err(Bad::new(Reason::AbsurdAmount, amount_field, amount.to_string()));
        }
        let record = self.keys.record(row, batch)?;
        let item = match catalog_item {
            Some(i) => batch.catalog_item(i, catalog.items.resolve(i)),
            None => {
                batch.quality.unknown_items += 1;
                if catalog.primary_scheme.as_deref() == Some(self.item.scheme.as_str()) || catalog.is_empty() {
                    batch.items.intern(&code)
                } else {
                    batch.items.intern(&format!("{}:{code}", self.item.scheme))
                }
            }
        };
        let order = match self.order.and_then(|c| row.get(c)) {
            Some(o) => order_hash(&batch.source, o),
            None => order_hash(&batch.source, &format!("{}@{ts}", batch.records.resolve(record))),
        };
        let coupon = self.coupon.and_then(|c| row.get(c)).is_some();
        batch.lines.push(TxnLine { record, order, ts, item, quantity: quantity as f32, amount, coupon, channel: 0 });
        note_time(batch, ts);
        Ok(())
    }
}

fn note_time(batch: &mut SourceBatch, ts: i64) {
    batch.quality.note_time(ts);
}

struct CustomerParser {
    keys: KeyParser,
    time: Option<TimeField>,
    tags: Option<(Col, String, Vec<String>, Vec<String>)>,
    attributes: Vec<(Col, String, TagIdx)>,
    /// Flag columns (one-hot), their label, and the tag their set columns' names are values of.
    flags: Vec<(Col, String, TagIdx)>,
}

impl CustomerParser {
    fn parse(&self, row: &Row<'_>, batch: &mut SourceBatch, dict: &TagDictionary) -> Result<(), Bad> {
        let ts = match &self.time {
            Some(t) => t.read_optional(row)?,
            None => None,
        };
        let record = self.keys.record(row, batch)?;
        if let Some((col, _, separators, value_separators)) = &self.tags {
            if let Some(raw) = row.get(*col) {
                let folded = fold_width(raw);
                for entry in folded.split(|c: char| separators.iter().any(|s| s.starts_with(c))) {
                    let entry = entry.trim();
                    if entry.is_empty() {
                        continue;
                    }
                    let (name, value) = match entry.find(|c: char| value_separators.iter().any(|s| s.starts_with(c))) {
                        Some(at) => {
                            let sep_len = entry[at..].chars().next().map_or(1, char::len_utf8);
                            (entry[..at].trim(), Some(entry[at + sep_len..].trim()))
                        }
                        None => (entry, None),
                    };
                    match dict.find(name) {
                        Some(tag) => push_fact(batch, dict, record, tag, name, value, ts),
                        None => batch.unmapped(name, value.unwrap_or(""), "unknown_tag"),
                    }
                }
            }
        }
        for (col, column, tag) in &self.attributes {
            if let Some(raw) = row.get(*col) {
                push_fact(batch, dict, record, *tag, column, Some(raw), ts);
            }
        }
        for (col, label, tag) in &self.flags {
            for name in row.get(*col).into_iter().flat_map(|v| v.split(ONE_HOT_SEPARATOR)) {
                push_fact(batch, dict, record, *tag, label, Some(name), ts);
            }
        }
        if let Some(t) = ts {
            note_time(batch, t);
        }
        Ok(())
    }
}

fn push_fact(
    batch: &mut SourceBatch,
    dict: &TagDictionary,
    record: u32,
    tag: TagIdx,
    raw_name: &str,
    raw_value: Option<&str>,
    ts: Option<i64>,
) {
    match dict.map_value(tag, raw_value) {
        Ok(value) => batch.facts.push(TagFact { record, tag, value, ts }),
        Err(ValueProblem::Unmapped) => {
            let name = format!("{raw_name} → {}", dict.tag(tag).name);
            batch.unmapped(&name, raw_value.unwrap_or(""), "unmapped_value");
        }
        Err(ValueProblem::Invalid) => {
            let name = format!("{raw_name} → {}", dict.tag(tag).name);
            batch.unmapped(&name, raw_value.unwrap_or(""), "invalid_value");
        }
    }
}

struct FeedbackParser {
    keys: KeyParser,
    time: TimeField,
    kind: Option<(Col, String)>,
    kind_tag: Option<TagIdx>,
    score: Option<(Col, String)>,
}

impl FeedbackParser {
    fn parse(&self, row: &Row<'_>, batch: &mut SourceBatch, dict: &TagDictionary) -> Result<(), Bad> {
        let ts = self.time.read(row)?;
        let score = match &self.score {
            Some((col, column)) => match number(row, *col, column) {
                Ok(s) => s.map(|s| s as f32),
                Err(_) => {
                    batch.unmapped(column, row.get(*col).unwrap_or(""), "invalid_value");
                    None
                }
            },
            None => None,
        };
        let record = self.keys.record(row, batch)?;
        let kind = match (&self.kind, self.kind_tag) {
            (Some((col, column)), Some(tag)) => match row.get(*col) {
                Some(raw) => match dict.map_value(tag, Some(raw)) {
                    Ok(TagValue::Category(v)) => Some(v),
                    _ => {
                        batch.unmapped(&format!("{column} → ticket_kind"), raw, "unmapped_value");
                        None
                    }
                },
                None => None,
            },
            _ => None,
        };
        batch.tickets.push(Ticket { record, ts, kind, score });
        note_time(batch, ts);
        Ok(())
    }
}

fn build_parser(ctx: &ReadContext<'_>, spec: &SourceSpec, columns: &mut ColumnSet) -> Result<KindParser, SourceError> {
    let config = ctx.config;
    let f = &spec.fields;
    let missing = |field: &str| ConfigError::Invalid {
        path: config.path.clone(),
        key: format!("sources ({}).fields.{field}", spec.name),
        message: "required".into(),
    };
    let keys = KeyParser::new(spec, config, columns);
    Ok(match spec.kind {
        SourceKind::Transactions => {
            let time = TimeField::new(f.timestamp.as_ref().ok_or_else(|| missing("timestamp"))?, config, columns)?;
            let item = ItemField::new(f.item.as_ref().ok_or_else(|| missing("item"))?, columns);
            KindParser::Transactions(Box::new(TransactionParser {
                keys,
                time,
                item,
                order: f.order_id.as_ref().map(|c| columns.add_spec(c)),
                quantity: f.quantity.as_ref().map(|c| (columns.add_spec(c), c.column.clone())),
                unit_price: f.unit_price.as_ref().map(|c| NumberField::new(c, columns)),
                line_amount: f.line_amount.as_ref().map(|c| NumberField::new(c, columns)),
                coupon: f.coupon.as_ref().map(|c| columns.add_spec(c)),
                max_quantity: spec.validate.max_quantity,
                max_amount: spec.validate.max_line_amount,
                repair_units: spec.validate.repair_unit_errors,
                impute: spec.validate.impute_missing_amount,
                require_amount: spec.validate.require_amount,
            }))
        }
        SourceKind::Customers => {
            let time = f.timestamp.as_ref().map(|t| TimeField::new(t, config, columns)).transpose()?;
            let tags = f.tags.as_ref().map(|t| {
                let separators = if t.separators.is_empty() {
                    vec![";".to_owned()]
                } else {
                    t.separators.iter().map(|s| fold_width(s)).collect()
                };
                let value_separators = t.value_separators.iter().map(|s| fold_width(s)).collect();
                (columns.add_spec(t), t.column.clone(), separators, value_separators)
            });
            let mut attributes = Vec::new();
            for (column, tag_name) in &f.attributes {
                let tag = ctx.dictionary.find(tag_name).ok_or_else(|| SourceError::UnknownTag {
                    source_name: spec.name.clone(),
                    column: column.clone(),
                    tag: tag_name.clone(),
                })?;
                attributes.push((columns.add(column), column.clone(), tag));
            }
            let mut flags = Vec::new();
            for spec_flags in &f.flags {
                let label = spec_flags.one_hot.join(&ONE_HOT_SEPARATOR.to_string());
                let tag = ctx.dictionary.find(&spec_flags.tag).ok_or_else(|| SourceError::UnknownTag {
                    source_name: spec.name.clone(),
                    column: label.clone(),
                    tag: spec_flags.tag.clone(),
                })?;
                flags.push((columns.add_one_hot(&spec_flags.one_hot), label, tag));
            }
            KindParser::Customers(CustomerParser { keys, time, tags, attributes, flags })
        }
        SourceKind::Feedback => {
            let time = TimeField::new(f.timestamp.as_ref().ok_or_else(|| missing("timestamp"))?, config, columns)?;
            KindParser::Feedback(FeedbackParser {
                keys,
                time,
                kind: f.ticket_kind.as_ref().map(|c| (columns.add_spec(c), c.column.clone())),
                kind_tag: ctx.dictionary.find("ticket_kind"),
                score: f.satisfaction.as_ref().map(|c| (columns.add_spec(c), c.column.clone())),
            })
        }
        SourceKind::Catalog => unreachable!("catalog sources are read by read_catalog"),
    })
}

/// Where well-formed rows go: a parser with the quality report it fills.
trait RowSink: Sized + Send {
    fn quality(&mut self) -> &mut SourceQuality;
    fn row(&mut self, row: &Row<'_>) -> Result<(), Bad>;
    /// Takes in a sink made by [`drive`]'s `fork` that read one chunk of a large file (chunks arrive in
    /// file order, between rows read sequentially).
    fn absorb(&mut self, part: Self);
}

struct BatchSink<'a> {
    parser: KindParser,
    batch: SourceBatch,
    dictionary: &'a TagDictionary,
    catalog: &'a Catalog,
}

impl RowSink for BatchSink<'_> {
    fn quality(&mut self) -> &mut SourceQuality {
        &mut self.batch.quality
    }

    fn row(&mut self, row: &Row<'_>) -> Result<(), Bad> {
        match &self.parser {
            KindParser::Transactions(p) => p.parse(row, &mut self.batch, self.catalog),
            KindParser::Customers(p) => p.parse(row, &mut self.batch, self.dictionary),
            KindParser::Feedback(p) => p.parse(row, &mut self.batch, self.dictionary),
        }
    }

    fn absorb(&mut self, mut part: Self) {
        self.batch.quality.absorb(std::mem::take(&mut part.batch.quality));
        self.batch.absorb(part.batch);
    }
}

/// A chunk's sink with the counts and quarantined rows that [`drive`] keeps per file.
struct Chunk<S> {
    sink: S,
    nulls: Vec<u64>,
    quarantined: Vec<QuarantinedRow>,
}

/// Routes one event into a sink, counting nulls; bad rows go to `quarantine` (with the row's text).
fn route<S: RowSink>(
    sink: &mut S,
    nulls: &mut [u64],
    columns: &ColumnSet,
    event: Event<'_>,
    quarantine: &mut dyn FnMut(QuarantinedRow),
) {
    match event {
        Event::Row(row) => {
            sink.quality().rows_read += 1;
            for (i, name_nulls) in nulls.iter_mut().enumerate() {
                if row.get(Col::at(i)).is_none() {
                    *name_nulls += 1;
                }
            }
            match sink.row(&row) {
                Ok(()) => sink.quality().rows_kept += 1,
                Err(bad) => {
                    sink.quality().quarantine(bad.reason);
                    quarantine(QuarantinedRow {
                        line: row.line,
                        field: bad.field,
                        reason: bad.reason,
                        detail: bad.detail,
                        raw: row.describe(columns),
                    });
                }
            }
        }
        Event::Bad(bad) => {
            sink.quality().rows_read += 1;
            sink.quality().quarantine(bad.reason);
            quarantine(bad);
        }
        Event::RepeatedHeader(_) => sink.quality().repeated_headers += 1,
        Event::Duplicate(_) => {
            sink.quality().rows_read += 1;
            sink.quality().duplicates += 1;
        }
        Event::Blank(_) => sink.quality().blank_lines += 1,
    }
}

/// The dialect of a CSV file that can be read in parallel chunks, if `format` is one.
fn chunkable(format: &FormatSpec) -> Option<CsvDialect<'_>> {
    match format {
        FormatSpec::Csv { delimiter, quote, header, columns, encoding: None } if delimiter != "whitespace" => {
            Some(CsvDialect { delimiter, quote, header: *header, names: columns })
        }
        _ => None,
    }
}

/// Drives the reader over every file of a source, routing events into the sink, the quarantine and the
/// quality report. With `fork`, large CSV files are read in parallel chunks, each into a sink made by
/// `fork` and absorbed in file order.
fn drive<S: RowSink>(
    ctx: &ReadContext<'_>,
    spec: &SourceSpec,
    columns: &ColumnSet,
    sink: &mut S,
    fork: Option<&(dyn Fn() -> S + Sync)>,
) -> Result<(), SourceError> {
    let quarantine_error =
        |error| SourceError::Quarantine { source_name: spec.name.clone(), dir: ctx.quarantine_dir.to_owned(), error };
    let quarantine = QuarantineWriter::create(ctx.quarantine_dir, &spec.name).map_err(quarantine_error)?;
    let mut dedup = if spec.validate.drop_duplicates { Dedup::default() } else { Dedup::keeping_all() };
    let files = ctx.config.source_files(spec)?;
    sink.quality().source = spec.name.clone();
    sink.quality().kind = spec.kind.as_str().to_owned();
    let threads = rayon::current_num_threads();
    struct State<'s, S> {
        sink: &'s mut S,
        nulls: Vec<u64>,
        quarantine: QuarantineWriter,
        write_error: Option<std::io::Error>,
    }
    let state = RefCell::new(State { sink, nulls: vec![0u64; columns.names().len()], quarantine, write_error: None });
    for file in &files {
        state.borrow_mut().sink.quality().files.push(file.display().to_string());
        let size = std::fs::metadata(file).map_or(0, |m| m.len());
        let mut on_bytes = |done: u64| (ctx.on_progress)(&spec.name, done, size);
        let mut on = |event: Event<'_>| {
            let state = &mut *state.borrow_mut();
            let (quarantine, write_error) = (&mut state.quarantine, &mut state.write_error);
            route(state.sink, &mut state.nulls, columns, event, &mut |q| {
                if let Err(e) = quarantine.write(file, &q) {
                    write_error.get_or_insert(e);
                }
            });
        };
        match (fork, chunkable(&spec.format)) {
            (Some(fork), Some(dialect)) if threads > 1 && size >= ChunkPlan::MIN_FILE_BYTES => {
                let make = || Chunk { sink: fork(), nulls: vec![0u64; columns.names().len()], quarantined: Vec::new() };
                let consume = |chunk: &mut Chunk<S>, event: Event<'_>| {
                    let Chunk { sink, nulls, quarantined } = chunk;
                    route(sink, nulls, columns, event, &mut |q| quarantined.push(q));
                };
                let mut finish = |chunk: Chunk<S>| {
                    let state = &mut *state.borrow_mut();
                    for (total, n) in state.nulls.iter_mut().zip(chunk.nulls) {
                        *total += n;
                    }
                    for q in &chunk.quarantined {
                        if let Err(e) = state.quarantine.write(file, q) {
                            state.write_error.get_or_insert(e);
                        }
                    }
                    state.sink.absorb(chunk.sink);
                };
                let handlers = ChunkHandlers {
                    make: &make,
                    consume: &consume,
                    finish: &mut finish,
                    on: &mut on,
                    on_bytes: &mut on_bytes,
                };
                let plan = ChunkPlan::for_threads(threads);
                read_csv_parallel(file, dialect, columns, &mut dedup, plan, handlers)?;
            }
            _ => read_file(file, &spec.format, columns, &mut dedup, &mut on_bytes, &mut on)?,
        }
        if let Some(e) = state.borrow_mut().write_error.take() {
            return Err(quarantine_error(e));
        }
    }
    let State { sink, nulls, quarantine, .. } = state.into_inner();
    for (name, n) in columns.names().iter().zip(nulls) {
        sink.quality().nulls.insert(name.clone(), n);
    }
    quarantine.finish().map_err(quarantine_error)?;
    Ok(())
}

/// Reads a transactions, customers or feedback source into a batch.
pub fn read_source(ctx: &ReadContext<'_>, spec: &SourceSpec) -> Result<SourceBatch, SourceError> {
    let mut columns = ColumnSet::default();
    let parser = build_parser(ctx, spec, &mut columns)?;
    let new_sink = |parser| BatchSink {
        parser,
        batch: SourceBatch::new(&spec.name, spec.channel_name()),
        dictionary: ctx.dictionary,
        catalog: ctx.catalog,
    };
    let mut sink = new_sink(parser);
    // Chunks get parsers of their own (a parser remembers the last record it saw).
    let fork = || new_sink(build_parser(ctx, spec, &mut ColumnSet::default()).expect("the same config built a parser"));
    drive(ctx, spec, &columns, &mut sink, Some(&fork))?;
    let mut batch = sink.batch;
    batch.finish();
    batch.quality.finish_dates(&ctx.config.timezone());
    Ok(batch)
}

struct CatalogSink<'a> {
    item: ItemField,
    aliases: Vec<ItemField>,
    categories: Vec<(Col, String)>,
    price: Option<NumberField>,
    name: Option<Col>,
    dictionary: &'a TagDictionary,
    catalog: &'a mut Catalog,
    quality: SourceQuality,
}

impl RowSink for CatalogSink<'_> {
    fn quality(&mut self) -> &mut SourceQuality {
        &mut self.quality
    }

    fn absorb(&mut self, _part: Self) {
        unreachable!("catalogs are read sequentially (drive gets no fork for them)")
    }

    fn row(&mut self, row: &Row<'_>) -> Result<(), Bad> {
        let item = &self.item;
        let id = item.read(row).ok_or_else(|| Bad::new(Reason::MissingKey, &item.column, "empty item id"))?;
        let price = match &self.price {
            Some(p) => match p.read(row) {
                Ok(v) => v.filter(|v| *v >= 0.0),
                Err(_) => {
                    self.quality.repair("unparseable_price_dropped");
                    None
                }
            },
            None => None,
        };
        let categories = &self.dictionary.categories;
        // A one-hot group gives the names of its set columns: the first that maps is the category.
        let category = self.categories.iter().find_map(|(col, scheme)| {
            let raw = row.get(*col)?;
            categories.map(scheme, raw).or_else(|| raw.split(ONE_HOT_SEPARATOR).find_map(|v| categories.map(scheme, v)))
        });
        if category.is_none() {
            self.quality.repair("no_category_mapped");
        }
        let (idx, known) = self.catalog.upsert(&item.scheme, &id, category, price, self.name.and_then(|c| row.get(c)));
        if known {
            self.quality.repair("item_listed_again_merged");
        } else {
            self.quality.records += 1;
        }
        for alias in &self.aliases {
            if let Some(code) = alias.read(row) {
                self.catalog.add_alias(&alias.scheme, &code, idx);
            }
        }
        Ok(())
    }
}

/// Reads a catalog source into `catalog`, returning its quality report.
pub fn read_catalog(
    ctx: &ReadContext<'_>,
    spec: &SourceSpec,
    catalog: &mut Catalog,
) -> Result<SourceQuality, SourceError> {
    let f = &spec.fields;
    let mut columns = ColumnSet::default();
    let item_spec = f.item.as_ref().ok_or_else(|| ConfigError::Invalid {
        path: ctx.config.path.clone(),
        key: format!("sources ({}).fields.item", spec.name),
        message: "required".into(),
    })?;
    let item = ItemField::new(item_spec, &mut columns);
    let aliases: Vec<ItemField> = f.item_aliases.iter().map(|a| ItemField::new(a, &mut columns)).collect();
    let categories: Vec<(Col, String)> = f
        .categories
        .iter()
        .map(|c| (columns.add_spec(c), c.scheme.clone().unwrap_or_else(|| c.column.clone())))
        .collect();
    let price = f.price.as_ref().map(|p| NumberField::new(p, &mut columns));
    let name = f.name.as_ref().map(|n| columns.add_spec(n));
    let mut sink = CatalogSink {
        item,
        aliases,
        categories,
        price,
        name,
        dictionary: ctx.dictionary,
        catalog,
        quality: SourceQuality::default(),
    };
    drive(ctx, spec, &columns, &mut sink, None)?;
    Ok(sink.quality)
}
