//! The declarative source config: which files make up the retailer's data, what each holds, and how to
//! read, clean and link it. Loaded from TOML; see `datasets/demo/tagcenter.toml` for a complete example and
//! `docs/config.md` for every key.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use chrono::{FixedOffset, NaiveDate};
use serde::Deserialize;

use super::normalize::{KeyKind, Normalizer};
use super::timestamp::TimestampFormat;

/// A config that could not be loaded: names the file, the key and what is wrong.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("cannot read config {path}: {source}")]
    Read {
        /// The config file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The TOML did not parse or did not fit the schema (the message names the key and line).
    #[error("config {path}: {message}")]
    Parse {
        /// The config file.
        path: PathBuf,
        /// What the TOML parser said, with line, column and key.
        message: String,
    },
    /// A value parsed but is not valid.
    #[error("config {path}: key `{key}`: {message}")]
    Invalid {
        /// The config file.
        path: PathBuf,
        /// The dotted key, e.g. `sources[1].fields.timestamp`.
        key: String,
        /// What is wrong with it.
        message: String,
    },
}

/// The whole source config of one retailer.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SourceConfig {
    /// Project-wide settings.
    pub project: ProjectSection,
    /// Identity resolution settings.
    #[serde(default)]
    pub identity: IdentitySection,
    /// The sources, read in this order (catalogs are always read first).
    pub sources: Vec<SourceSpec>,
    /// Where the config was loaded from (set by [`SourceConfig::load`]).
    #[serde(skip)]
    pub path: PathBuf,
    /// Folder against which relative source paths are resolved.
    #[serde(skip)]
    pub data_dir: PathBuf,
}

/// `[project]`: what the data is and as of when.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProjectSection {
    /// A name for reports.
    pub name: String,
    /// The as-of date: behavioural tags describe the customer on this date.
    pub reference_date: NaiveDate,
    /// Offset applied to timestamps that carry none, e.g. `+08:00`.
    #[serde(default = "default_timezone")]
    pub timezone: String,
    /// Rows dated before this day are impossible and quarantined.
    #[serde(default = "default_valid_from")]
    pub valid_from: NaiveDate,
    /// Rows dated on or after this day are quarantined (default: the day after `reference_date`).
    pub valid_until: Option<NaiveDate>,
    /// The tag dictionary file (TOML), relative to the config.
    pub dictionary: PathBuf,
}

fn default_timezone() -> String {
    "+00:00".to_owned()
}

fn default_valid_from() -> NaiveDate {
    NaiveDate::from_ymd_opt(2000, 1, 1).expect("valid constant date")
}

/// `[identity]`: guards and fuzzy rules for linking records into customers.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IdentitySection {
    /// A key value shared by more identified records than this is blocked.
    #[serde(default = "default_max_records")]
    pub max_records_per_key: usize,
    /// A key value shared by more anonymous records than this is blocked.
    #[serde(default = "default_max_anonymous")]
    pub max_anonymous_records_per_key: usize,
    /// Regular expressions over normalized key values that never link.
    #[serde(default)]
    pub blocked_values: Vec<String>,
    /// Country calling code added to national phone numbers (`86`).
    #[serde(default = "default_country_code")]
    pub phone_country_code: String,
    /// Digits in a national mobile number (11 in China).
    #[serde(default = "default_national_length")]
    pub phone_national_length: usize,
    /// Optional fuzzy rules.
    #[serde(default)]
    pub fuzzy: FuzzySection,
}

impl Default for IdentitySection {
    fn default() -> Self {
        Self {
            max_records_per_key: default_max_records(),
            max_anonymous_records_per_key: default_max_anonymous(),
            blocked_values: Vec::new(),
            phone_country_code: default_country_code(),
            phone_national_length: default_national_length(),
            fuzzy: FuzzySection::default(),
        }
    }
}

fn default_country_code() -> String {
    "86".to_owned()
}

fn default_national_length() -> usize {
    11
}

fn default_max_records() -> usize {
    8
}

fn default_max_anonymous() -> usize {
    150
}

/// `[identity.fuzzy]`: rules that link what an exact match misses. Each link made is reported.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FuzzySection {
    /// Correct common e-mail domain misspellings (`gmial.com`, `qq.con`).
    #[serde(default)]
    pub email_domain_typos: bool,
    /// Link e-mails whose local parts are one edit apart (see the rule's doc for its guards).
    #[serde(default)]
    pub email_local_typos: bool,
}

/// What a source holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SourceKind {
    /// Purchase lines (orders, receipts): the behavioural facts.
    Transactions,
    /// Customer attributes and marketing tags (a CRM contact list).
    Customers,
    /// Feedback: service tickets, complaints, surveys.
    Feedback,
    /// The product master: item keys in every scheme, categories, prices.
    Catalog,
}

impl SourceKind {
    /// The name used in configs and reports.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Transactions => "transactions",
            Self::Customers => "customers",
            Self::Feedback => "feedback",
            Self::Catalog => "catalog",
        }
    }
}

/// One `[[sources]]` table.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SourceSpec {
    /// Short name, also the namespace of its record keys (`web` → `web:10342`).
    pub name: String,
    /// What the source holds.
    pub kind: SourceKind,
    /// A file or a glob pattern (`exports/orders_*.csv`), relative to the data folder.
    pub path: String,
    /// The channel its transactions happened in (`web`, `store`); defaults to the source name.
    pub channel: Option<String>,
    /// How the file is laid out.
    #[serde(default)]
    pub format: FormatSpec,
    /// Which columns hold which canonical fields.
    pub fields: FieldsSpec,
    /// Validation limits.
    #[serde(default)]
    pub validate: ValidateSpec,
    /// Columns that identify a person, with their normalizers.
    #[serde(default)]
    pub identity: Vec<IdentityKeySpec>,
}

impl SourceSpec {
    /// The channel name of this source's transactions.
    pub fn channel_name(&self) -> &str {
        self.channel.as_deref().unwrap_or(&self.name)
    }
}

/// How a file is laid out.
#[derive(Debug, Clone, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum FormatSpec {
    /// Delimited text.
    Csv {
        /// One character, or `"whitespace"` for runs of spaces and tabs (as in CDNOW's file).
        #[serde(default = "default_delimiter")]
        delimiter: String,
        /// The quote character (`"` by default); an empty string turns quoting off.
        #[serde(default = "default_quote")]
        quote: String,
        /// Whether the first line names the columns.
        #[serde(default = "default_true")]
        header: bool,
        /// Column names for a file without a header line.
        #[serde(default)]
        columns: Vec<String>,
        /// Text encoding of the file (`utf-8` by default; `latin1`, `windows-1252`, `gbk`, `gb18030`,
        /// `big5`, `shift_jis`, … — any WHATWG label). Other encodings are transcoded to UTF-8 before
        /// parsing; bytes invalid in them become U+FFFD. With UTF-8, rows with invalid bytes are quarantined.
        #[serde(default)]
        encoding: Option<String>,
    },
    /// One JSON object per line.
    Jsonl,
    /// Apache Parquet.
    Parquet,
}

impl FormatSpec {
    /// The encoding to transcode from, when not UTF-8; an error message for an unknown label.
    pub fn encoding(&self) -> Result<Option<&'static encoding_rs::Encoding>, String> {
        let Self::Csv { encoding: Some(label), .. } = self else { return Ok(None) };
        let label = match label.trim().to_ascii_lowercase().as_str() {
            "latin1" | "latin-1" => "iso-8859-1".to_owned(),
            other => other.to_owned(),
        };
        match encoding_rs::Encoding::for_label(label.as_bytes()) {
            Some(e) if e == encoding_rs::UTF_8 => Ok(None),
            Some(e) => Ok(Some(e)),
            None => Err(format!("unknown encoding `{label}` (try utf-8, latin1, windows-1252, gbk, gb18030, big5)")),
        }
    }
}

impl Default for FormatSpec {
    fn default() -> Self {
        Self::Csv {
            delimiter: default_delimiter(),
            quote: default_quote(),
            header: true,
            columns: Vec::new(),
            encoding: None,
        }
    }
}

fn default_delimiter() -> String {
    ",".to_owned()
}

fn default_quote() -> String {
    "\"".to_owned()
}

fn default_true() -> bool {
    true
}

/// A column with options: written as a bare column name (`"ordered_at"`) or as a table
/// (`{ column = "ordered_at", formats = ["iso8601"] }`). Which options apply depends on the field.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ColumnSpecTable {
    /// The column's name in the file.
    #[serde(default)]
    pub column: String,
    /// A value used on every row instead of a column (`item = { constant = "cd" }` for a file that
    /// sells one thing).
    pub constant: Option<String>,
    /// Several flag columns read as one value: the names of the columns whose value is set (`1`, `true`,
    /// `yes`, `y`, `t`, case-insensitive), e.g. 19 genre columns of 0/1 → `Action`, `Comedy`.
    #[serde(default)]
    pub one_hot: Vec<String>,
    /// Timestamp formats tried in order: `iso8601`, `unix_seconds`, `unix_millis`, `date`, or a strftime pattern.
    #[serde(default)]
    pub formats: Vec<String>,
    /// Money unit: `units` (default) or `cents`.
    pub unit: Option<MoneyUnit>,
    /// Item key scheme (`sku`, `ean`): which catalog key the values are.
    pub scheme: Option<String>,
    /// Normalizer applied to the value.
    pub normalize: Option<Normalizer>,
    /// For list columns: separators between entries.
    #[serde(default)]
    pub separators: Vec<String>,
    /// For list columns: separators between a tag and its value (`tier:gold`).
    #[serde(default)]
    pub value_separators: Vec<String>,
    /// A literal prepended to the value (`R:` for receipt-keyed records).
    #[serde(default)]
    pub prefix: String,
    /// For record keys: the column used when this one is empty. Records keyed by it are anonymous.
    pub fallback: Option<Box<ColumnSpec>>,
}

/// A column with options; see [`ColumnSpecTable`] for the keys of the table form.
#[derive(Debug, Clone, Default)]
pub struct ColumnSpec {
    /// The column's name in the file (empty for a constant or one-hot column).
    pub column: String,
    /// A constant value used instead of a column.
    pub constant: Option<String>,
    /// Flag columns read as the list of those set.
    pub one_hot: Vec<String>,
    /// Timestamp formats tried in order.
    pub formats: Vec<String>,
    /// Money unit.
    pub unit: Option<MoneyUnit>,
    /// Item key scheme.
    pub scheme: Option<String>,
    /// Normalizer applied to the value.
    pub normalize: Option<Normalizer>,
    /// List separators.
    pub separators: Vec<String>,
    /// Tag/value separators.
    pub value_separators: Vec<String>,
    /// Literal prefix.
    pub prefix: String,
    /// Fallback column for record keys (anonymous records).
    pub fallback: Option<Box<ColumnSpec>>,
}

impl From<ColumnSpecTable> for ColumnSpec {
    fn from(t: ColumnSpecTable) -> Self {
        Self {
            column: t.column,
            constant: t.constant,
            one_hot: t.one_hot,
            formats: t.formats,
            unit: t.unit,
            scheme: t.scheme,
            normalize: t.normalize,
            separators: t.separators,
            value_separators: t.value_separators,
            prefix: t.prefix,
            fallback: t.fallback,
        }
    }
}

impl<'de> Deserialize<'de> for ColumnSpec {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct ColumnVisitor;
        impl<'de> serde::de::Visitor<'de> for ColumnVisitor {
            type Value = ColumnSpec;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a column name, or a table such as { column = \"name\", ... }")
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<ColumnSpec, E> {
                Ok(ColumnSpec { column: v.to_owned(), ..ColumnSpec::default() })
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(self, map: A) -> Result<ColumnSpec, A::Error> {
                ColumnSpecTable::deserialize(serde::de::value::MapAccessDeserializer::new(map)).map(ColumnSpec::from)
            }
        }
        deserializer.deserialize_any(ColumnVisitor)
    }
}

/// Units of a money column.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MoneyUnit {
    /// Whole currency units (yuan, dollars).
    #[default]
    Units,
    /// Hundredths (fen, cents).
    Cents,
}

impl MoneyUnit {
    /// Multiplier from the column's unit to currency units.
    pub fn factor(self) -> f64 {
        match self {
            Self::Units => 1.0,
            Self::Cents => 0.01,
        }
    }
}

/// `[sources.fields]`: canonical field → column. Which fields a source needs depends on its kind.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FieldsSpec {
    /// The record's key in its island (all kinds but catalog).
    pub record_key: Option<ColumnSpec>,
    /// Order or receipt number (transactions).
    pub order_id: Option<ColumnSpec>,
    /// When it happened (transactions, feedback; optional for customers).
    pub timestamp: Option<ColumnSpec>,
    /// Item key (transactions, catalog).
    pub item: Option<ColumnSpec>,
    /// Other keys of the same item in other schemes (catalog).
    #[serde(default)]
    pub item_aliases: Vec<ColumnSpec>,
    /// Units bought; negative for returns (transactions; default 1).
    pub quantity: Option<ColumnSpec>,
    /// Price of one unit (transactions: line amount = quantity × unit price).
    pub unit_price: Option<ColumnSpec>,
    /// Amount of the whole line (transactions; instead of unit_price).
    pub line_amount: Option<ColumnSpec>,
    /// Coupon code; non-empty means a coupon was used (transactions).
    pub coupon: Option<ColumnSpec>,
    /// Store ID (transactions).
    pub store: Option<ColumnSpec>,
    /// A list of tags (customers).
    pub tags: Option<ColumnSpec>,
    /// Attribute columns → canonical tag (or alias) (customers).
    #[serde(default)]
    pub attributes: BTreeMap<String, String>,
    /// A rating or score (feedback; 1–5 in the demo). For explicit-feedback data it is the rating.
    pub satisfaction: Option<ColumnSpec>,
    /// The kind of ticket (feedback), mapped through the dictionary tag `ticket_kind`.
    pub ticket_kind: Option<ColumnSpec>,
    /// Category columns with their scheme (catalog).
    #[serde(default)]
    pub categories: Vec<ColumnSpec>,
    /// List price (catalog).
    pub price: Option<ColumnSpec>,
    /// Item name (catalog).
    pub name: Option<ColumnSpec>,
    /// An explicit label column (customers), such as a churn flag, kept as a tag.
    pub label: Option<ColumnSpec>,
    /// Flag columns read as values of one tag (customers).
    #[serde(default)]
    pub flags: Vec<FlagsSpec>,
}

impl FieldsSpec {
    /// Every column-valued field with its key, for validation.
    pub fn column_specs(&self) -> Vec<(String, &ColumnSpec)> {
        let single = [
            ("record_key", &self.record_key),
            ("order_id", &self.order_id),
            ("timestamp", &self.timestamp),
            ("item", &self.item),
            ("quantity", &self.quantity),
            ("unit_price", &self.unit_price),
            ("line_amount", &self.line_amount),
            ("coupon", &self.coupon),
            ("store", &self.store),
            ("tags", &self.tags),
            ("satisfaction", &self.satisfaction),
            ("ticket_kind", &self.ticket_kind),
            ("price", &self.price),
            ("name", &self.name),
            ("label", &self.label),
        ];
        let mut out: Vec<(String, &ColumnSpec)> =
            single.into_iter().filter_map(|(k, v)| v.as_ref().map(|v| (k.to_owned(), v))).collect();
        out.extend(self.item_aliases.iter().enumerate().map(|(i, c)| (format!("item_aliases[{i}]"), c)));
        out.extend(self.categories.iter().enumerate().map(|(i, c)| (format!("categories[{i}]"), c)));
        out
    }
}

/// `[[sources.fields.flags]]`: flag columns (0/1) whose names, where set, become values of one
/// dictionary tag (customers): `{ one_hot = ["Action", "Comedy"], tag = "favourite_genres" }`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FlagsSpec {
    /// The flag columns.
    pub one_hot: Vec<String>,
    /// The canonical tag (or alias) the set columns' names are values of.
    pub tag: String,
}

/// `[sources.validate]`: limits beyond which a row is absurd.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ValidateSpec {
    /// Largest plausible absolute quantity on one line.
    #[serde(default = "default_max_quantity")]
    pub max_quantity: f64,
    /// Largest plausible absolute line amount, in currency units.
    #[serde(default = "default_max_amount")]
    pub max_line_amount: f64,
    /// Repair amounts that are exactly 100× off the catalog price (units typed as cents or the reverse).
    #[serde(default)]
    pub repair_unit_errors: bool,
    /// When the amount is missing, use the catalog price × quantity (counted in the report).
    #[serde(default = "default_true")]
    pub impute_missing_amount: bool,
    /// Whether a transaction line needs an amount. With `false`, lines without one (or sources without
    /// an amount column, such as ratings or baskets) are kept with no amount: monetary tags are then
    /// absent (NaN) for their customers instead of the rows being quarantined.
    #[serde(default = "default_true")]
    pub require_amount: bool,
    /// Whether exact duplicate lines are dropped (counted as duplicates). `false` keeps them, for data
    /// where two identical lines are two real events (a basket file without order or time of day).
    #[serde(default = "default_true")]
    pub drop_duplicates: bool,
}

impl Default for ValidateSpec {
    fn default() -> Self {
        Self {
            max_quantity: default_max_quantity(),
            max_line_amount: default_max_amount(),
            repair_unit_errors: false,
            impute_missing_amount: true,
            require_amount: true,
            drop_duplicates: true,
        }
    }
}

fn default_max_quantity() -> f64 {
    1000.0
}

fn default_max_amount() -> f64 {
    1_000_000.0
}

/// `[[sources.identity]]`: a column that identifies a person.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IdentityKeySpec {
    /// The column.
    pub column: String,
    /// The kind of key, which fixes its normalizer and namespace.
    pub kind: KeyKind,
}

impl SourceConfig {
    /// Loads and validates a config file. Relative source paths resolve against `data_dir` when given,
    /// else against the config's folder.
    pub fn load(path: &Path, data_dir: Option<&Path>) -> Result<Self, ConfigError> {
        let text =
            std::fs::read_to_string(path).map_err(|source| ConfigError::Read { path: path.to_owned(), source })?;
        let mut config: SourceConfig =
            toml::from_str(&text).map_err(|e| ConfigError::Parse { path: path.to_owned(), message: e.to_string() })?;
        config.path = path.to_owned();
        let config_dir = path.parent().map(Path::to_owned).unwrap_or_default();
        config.data_dir = data_dir.map(Path::to_owned).unwrap_or(config_dir);
        config.validate()?;
        Ok(config)
    }

    /// The dictionary file's path (resolved against the config's folder).
    pub fn dictionary_path(&self) -> PathBuf {
        let dir = self.path.parent().map(Path::to_owned).unwrap_or_default();
        dir.join(&self.project.dictionary)
    }

    /// The default time zone as a fixed offset.
    pub fn timezone(&self) -> FixedOffset {
        parse_offset(&self.project.timezone).unwrap_or_else(|| FixedOffset::east_opt(0).expect("zero offset"))
    }

    /// First day on which rows are out of range.
    pub fn valid_until(&self) -> NaiveDate {
        self.project.valid_until.unwrap_or_else(|| self.project.reference_date.succ_opt().unwrap_or(NaiveDate::MAX))
    }

    fn invalid(&self, key: String, message: impl Into<String>) -> ConfigError {
        ConfigError::Invalid { path: self.path.clone(), key, message: message.into() }
    }

    fn validate(&self) -> Result<(), ConfigError> {
        if parse_offset(&self.project.timezone).is_none() {
            return Err(self.invalid("project.timezone".into(), "expected an offset such as `+08:00` or `Z`"));
        }
        if self.project.valid_from >= self.valid_until() {
            return Err(self.invalid("project.valid_from".into(), "must be before valid_until / reference_date"));
        }
        for (i, pattern) in self.identity.blocked_values.iter().enumerate() {
            if let Err(e) = regex::Regex::new(pattern) {
                return Err(self.invalid(format!("identity.blocked_values[{i}]"), e.to_string()));
            }
        }
        if self.sources.is_empty() {
            return Err(self.invalid("sources".into(), "at least one [[sources]] table is needed"));
        }
        let mut names = std::collections::HashSet::new();
        for (i, source) in self.sources.iter().enumerate() {
            if !names.insert(source.name.as_str()) {
                return Err(
                    self.invalid(format!("sources[{i}].name"), format!("duplicate source name {:?}", source.name))
                );
            }
            if source.name.is_empty()
                || !source.name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
            {
                return Err(self.invalid(
                    format!("sources[{i}].name"),
                    "use ASCII letters, digits, `_` or `-` (it becomes the key namespace)",
                ));
            }
            self.validate_source(i, source)?;
        }
        Ok(())
    }

    fn validate_source(&self, i: usize, source: &SourceSpec) -> Result<(), ConfigError> {
        let key = |field: &str| format!("sources[{i}] ({}).{field}", source.name);
        let f = &source.fields;
        let need = |present: bool, field: &str| -> Result<(), ConfigError> {
            if present {
                Ok(())
            } else {
                Err(self
                    .invalid(key(&format!("fields.{field}")), format!("required for kind {}", source.kind.as_str())))
            }
        };
        match source.kind {
            SourceKind::Transactions => {
                need(f.record_key.is_some(), "record_key")?;
                need(f.timestamp.is_some(), "timestamp")?;
                need(f.item.is_some(), "item")?;
                if f.unit_price.is_some() && f.line_amount.is_some() {
                    return Err(self.invalid(key("fields.unit_price"), "give unit_price or line_amount, not both"));
                }
            }
            SourceKind::Customers => need(f.record_key.is_some(), "record_key")?,
            SourceKind::Feedback => {
                need(f.record_key.is_some(), "record_key")?;
                need(f.timestamp.is_some(), "timestamp")?;
            }
            SourceKind::Catalog => need(f.item.is_some(), "item")?,
        }
        if let Some(ts) = &f.timestamp {
            for (j, fmt) in ts.formats.iter().enumerate() {
                if let Err(message) = TimestampFormat::parse(fmt) {
                    return Err(self.invalid(key(&format!("fields.timestamp.formats[{j}]")), message));
                }
            }
        }
        for (field, spec) in f.column_specs() {
            let given = usize::from(!spec.column.is_empty())
                + usize::from(spec.constant.is_some())
                + usize::from(!spec.one_hot.is_empty());
            if given != 1 {
                return Err(self.invalid(key(&format!("fields.{field}")), "give one of column, constant or one_hot"));
            }
        }
        if let Some(i) = f.flags.iter().position(|flags| flags.one_hot.is_empty()) {
            return Err(self.invalid(key(&format!("fields.flags[{i}].one_hot")), "name at least one column"));
        }
        if let Err(message) = source.format.encoding() {
            return Err(self.invalid(key("format.encoding"), message));
        }
        if let FormatSpec::Csv { delimiter, header, columns, quote, .. } = &source.format {
            if delimiter != "whitespace" && delimiter.len() != 1 {
                return Err(self.invalid(key("format.delimiter"), "one ASCII character, or \"whitespace\""));
            }
            if quote.len() > 1 {
                return Err(self.invalid(key("format.quote"), "one ASCII character, or empty for none"));
            }
            if !header && columns.is_empty() {
                return Err(self.invalid(key("format.columns"), "a file without a header needs its column names"));
            }
        }
        if source.path.trim().is_empty() {
            return Err(self.invalid(key("path"), "empty path"));
        }
        Ok(())
    }

    /// The files a source's path or glob names, sorted; an error names the pattern when nothing matches.
    pub fn source_files(&self, source: &SourceSpec) -> Result<Vec<PathBuf>, ConfigError> {
        let pattern = if Path::new(&source.path).is_absolute() {
            PathBuf::from(&source.path)
        } else {
            self.data_dir.join(&source.path)
        };
        let pattern_text = pattern.to_string_lossy().into_owned();
        let paths = glob::glob(&pattern_text)
            .map_err(|e| self.invalid(format!("sources ({}).path", source.name), e.to_string()))?;
        let mut files: Vec<PathBuf> = paths.filter_map(Result::ok).filter(|p| p.is_file()).collect();
        files.sort();
        if files.is_empty() {
            return Err(
                self.invalid(format!("sources ({}).path", source.name), format!("no file matches {pattern_text}"))
            );
        }
        Ok(files)
    }
}

/// Parses `+08:00`, `-0530`, `Z` or `UTC` into a fixed offset.
pub fn parse_offset(text: &str) -> Option<FixedOffset> {
    let t = text.trim();
    if t.eq_ignore_ascii_case("z") || t.eq_ignore_ascii_case("utc") {
        return FixedOffset::east_opt(0);
    }
    let (sign, rest) = match t.as_bytes().first()? {
        b'+' => (1, &t[1..]),
        b'-' => (-1, &t[1..]),
        _ => return None,
    };
    let digits: String = rest.chars().filter(|c| *c != ':').collect();
    if digits.len() != 4 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let hours: i32 = digits[..2].parse().ok()?;
    let minutes: i32 = digits[2..].parse().ok()?;
    if hours > 14 || minutes > 59 {
        return None;
    }
    FixedOffset::east_opt(sign * (hours * 3600 + minutes * 60))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
        let path = dir.join(name);
        std::fs::write(&path, text).unwrap();
        path
    }

    const MINIMAL: &str = r#"
[project]
name = "t"
reference_date = "2024-07-01"
dictionary = "dict.toml"

[[sources]]
name = "web"
kind = "transactions"
path = "orders.csv"
[sources.fields]
record_key = { column = "user" }
timestamp = "ts"
item = "sku"
"#;

    #[test]
    fn the_demo_config_loads() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../datasets/demo/tagcenter.toml");
        let config = SourceConfig::load(&path, None).unwrap();
        assert_eq!(config.sources.len(), 5);
        assert_eq!(config.timezone(), FixedOffset::east_opt(8 * 3600).unwrap());
        assert_eq!(config.valid_until(), NaiveDate::from_ymd_opt(2024, 7, 2).unwrap());
    }

    #[test]
    fn a_minimal_config_gets_defaults() {
        let dir = tempfile::tempdir().unwrap();
        let path = write(dir.path(), "c.toml", MINIMAL);
        let config = SourceConfig::load(&path, None).unwrap();
        assert_eq!(config.identity.max_records_per_key, 8);
        assert!(matches!(config.sources[0].format, FormatSpec::Csv { header: true, .. }));
        assert_eq!(config.sources[0].channel_name(), "web");
    }

    #[test]
    fn an_unknown_key_is_named_with_its_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = write(dir.path(), "c.toml", &MINIMAL.replace("item = \"sku\"", "item = \"sku\"\nitme = \"x\""));
        let message = SourceConfig::load(&path, None).unwrap_err().to_string();
        assert!(message.contains("c.toml"), "{message}");
        assert!(message.contains("itme"), "{message}");
    }

    #[test]
    fn a_missing_required_field_names_the_source_and_key() {
        let dir = tempfile::tempdir().unwrap();
        let path = write(dir.path(), "c.toml", &MINIMAL.replace("timestamp = \"ts\"\n", ""));
        let message = SourceConfig::load(&path, None).unwrap_err().to_string();
        assert!(message.contains("sources[0] (web).fields.timestamp"), "{message}");
    }

    #[test]
    fn a_bad_timestamp_format_or_regex_is_rejected() {
        let dir = tempfile::tempdir().unwrap();
        let path = write(
            dir.path(),
            "c.toml",
            &MINIMAL.replace("timestamp = \"ts\"", "timestamp = { column = \"ts\", formats = [\"%Q\"] }"),
        );
        let message = SourceConfig::load(&path, None).unwrap_err().to_string();
        assert!(message.contains("formats[0]"), "{message}");
        let path = write(
            dir.path(),
            "d.toml",
            &MINIMAL.replace("[[sources]]", "[identity]\nblocked_values = [\"(\"]\n[[sources]]"),
        );
        let message = SourceConfig::load(&path, None).unwrap_err().to_string();
        assert!(message.contains("identity.blocked_values[0]"), "{message}");
    }

    #[test]
    fn offsets_parse_in_the_usual_spellings() {
        assert_eq!(parse_offset("+08:00"), FixedOffset::east_opt(28800));
        assert_eq!(parse_offset("-0530"), FixedOffset::west_opt(19800));
        assert_eq!(parse_offset("Z"), FixedOffset::east_opt(0));
        assert_eq!(parse_offset("8"), None);
        assert_eq!(parse_offset("+25:00"), None);
    }
}
