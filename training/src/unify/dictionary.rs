//! The tag dictionary: one vocabulary for every island. Canonical tags with their type, description and
//! owner; aliases in any language; value mappings; conflict rules; and the mapping of every product
//! category scheme onto one canonical list. Loaded from TOML, optionally importing the retailer's own
//! glossary CSVs as they are.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use tagcenter::domain::TagType;

use crate::sources::normalize::{fold_label, fold_width};

/// A dictionary that could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum DictionaryError {
    /// A file could not be read.
    #[error("cannot read tag dictionary file {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The TOML did not parse or fit the schema.
    #[error("tag dictionary {path}: {message}")]
    Parse {
        /// The file.
        path: PathBuf,
        /// The parser's message, naming line and key.
        message: String,
    },
    /// An imported glossary CSV is malformed.
    #[error("glossary {path}, line {line}: {message}")]
    Glossary {
        /// The CSV file.
        path: PathBuf,
        /// 1-based line.
        line: u64,
        /// What is wrong.
        message: String,
    },
    /// A definition is inconsistent.
    #[error("tag dictionary {path}: tag `{tag}`: {message}")]
    Invalid {
        /// The file.
        path: PathBuf,
        /// The tag concerned.
        tag: String,
        /// What is wrong.
        message: String,
    },
}

/// How to decide a tag's value when sources disagree for one customer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ConflictRule {
    /// The value seen most often; ties go to source priority.
    #[default]
    MostFrequent,
    /// The value with the latest timestamp; ties and undated facts go to source priority.
    MostRecent,
    /// The value from the highest-priority source.
    SourcePriority,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct DictionaryFile {
    version: String,
    #[serde(default)]
    import_aliases_csv: Vec<PathBuf>,
    #[serde(default)]
    import_values_csv: Vec<PathBuf>,
    #[serde(default)]
    default_conflict: ConflictRule,
    #[serde(default)]
    source_priority: Vec<String>,
    #[serde(default)]
    tags: Vec<TagFile>,
    #[serde(default)]
    categories: Option<CategoriesFile>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct TagFile {
    name: String,
    #[serde(rename = "type")]
    tag_type: TagType,
    #[serde(default)]
    description: String,
    #[serde(default)]
    owner: String,
    #[serde(default)]
    aliases: Vec<String>,
    #[serde(default)]
    values: BTreeMap<String, Vec<String>>,
    conflict: Option<ConflictRule>,
    min: Option<f64>,
    max: Option<f64>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct CategoriesFile {
    canonical: Vec<String>,
    #[serde(default)]
    schemes: BTreeMap<String, BTreeMap<String, String>>,
}

/// Index of a canonical tag in the dictionary.
pub type TagIdx = u16;

/// One canonical tag.
#[derive(Debug, Clone, Serialize)]
pub struct TagDef {
    /// Canonical name (`member_tier`).
    pub name: String,
    /// Value type.
    pub tag_type: TagType,
    /// What it means.
    pub description: String,
    /// Who owns its definition.
    pub owner: String,
    /// Aliases as written in the dictionary and glossaries.
    pub aliases: Vec<String>,
    /// Canonical values (category tags; `true`/`false` for flags).
    pub values: Vec<String>,
    /// Conflict rule.
    pub conflict: ConflictRule,
    /// Smallest valid number (number tags).
    pub min: Option<f64>,
    /// Largest valid number (number tags).
    pub max: Option<f64>,
    #[serde(skip)]
    value_index: HashMap<String, u32>,
}

/// A tag value after mapping.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum TagValue {
    /// A flag's value.
    Flag(bool),
    /// Index into the tag's canonical values.
    Category(u32),
    /// A number.
    Number(f64),
    /// Days since 1970-01-01.
    Date(i32),
}

/// Why a raw value could not be mapped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ValueProblem {
    /// No value mapping covers it.
    Unmapped,
    /// A number that does not parse or lies outside the tag's range.
    Invalid,
}

/// The loaded dictionary.
#[derive(Debug, Clone)]
pub struct TagDictionary {
    /// Version string, copied into outputs and bundles.
    pub version: String,
    /// Canonical tags; a [`TagIdx`] indexes this.
    pub tags: Vec<TagDef>,
    /// Conflict rule for tags that set none.
    pub default_conflict: ConflictRule,
    /// Source names, highest priority first.
    pub source_priority: Vec<String>,
    /// Product category mapping.
    pub categories: CategoryMap,
    alias_index: HashMap<String, TagIdx>,
}

impl TagDictionary {
    /// Loads a dictionary TOML and the glossary CSVs it imports.
    pub fn load(path: &Path) -> Result<Self, DictionaryError> {
        let text =
            std::fs::read_to_string(path).map_err(|source| DictionaryError::Read { path: path.to_owned(), source })?;
        let file: DictionaryFile = toml::from_str(&text)
            .map_err(|e| DictionaryError::Parse { path: path.to_owned(), message: e.to_string() })?;
        let dir = path.parent().unwrap_or(Path::new("."));
        let mut dict = Self::from_file(file.tags, path, file.version, file.default_conflict, file.source_priority)?;
        if let Some(categories) = file.categories {
            dict.categories = CategoryMap::new(categories.canonical, categories.schemes);
        }
        for csv_path in &file.import_aliases_csv {
            dict.import_aliases_csv(&dir.join(csv_path))?;
        }
        for csv_path in &file.import_values_csv {
            dict.import_values_csv(&dir.join(csv_path))?;
        }
        Ok(dict)
    }

    fn from_file(
        tags: Vec<TagFile>,
        path: &Path,
        version: String,
        default_conflict: ConflictRule,
        source_priority: Vec<String>,
    ) -> Result<Self, DictionaryError> {
        let mut dict = Self {
            version,
            tags: Vec::new(),
            default_conflict,
            source_priority,
            categories: CategoryMap::default(),
            alias_index: HashMap::new(),
        };
        for tag in tags {
            let invalid = |message: &str| DictionaryError::Invalid {
                path: path.to_owned(),
                tag: tag.name.clone(),
                message: message.to_owned(),
            };
            if fold_label(&tag.name).is_empty() {
                return Err(invalid("empty name"));
            }
            if dict.find(&tag.name).is_some() {
                return Err(invalid("defined twice (or its name is another tag's alias)"));
            }
            if !tag.values.is_empty() && !matches!(tag.tag_type, TagType::Category | TagType::Flag) {
                return Err(invalid("only category and flag tags take value mappings"));
            }
            let idx = dict.add_tag(&tag.name, tag.tag_type, tag.description, tag.owner);
            let def = &mut dict.tags[usize::from(idx)];
            def.conflict = tag.conflict.unwrap_or(default_conflict);
            def.min = tag.min;
            def.max = tag.max;
            for (canonical, raws) in &tag.values {
                if def.tag_type == TagType::Flag && !matches!(canonical.as_str(), "true" | "false") {
                    return Err(invalid("a flag's values map onto `true` or `false`"));
                }
                for raw in raws {
                    def.add_value(canonical, raw);
                }
            }
            for alias in &tag.aliases {
                dict.add_alias(idx, alias);
            }
        }
        Ok(dict)
    }

    fn add_tag(&mut self, name: &str, tag_type: TagType, description: String, owner: String) -> TagIdx {
        let idx = TagIdx::try_from(self.tags.len()).unwrap_or(TagIdx::MAX);
        let mut def = TagDef {
            name: name.to_owned(),
            tag_type,
            description,
            owner,
            aliases: Vec::new(),
            values: Vec::new(),
            conflict: self.default_conflict,
            min: None,
            max: None,
            value_index: HashMap::new(),
        };
        if tag_type == TagType::Flag {
            def.add_value("true", "true");
            def.add_value("false", "false");
        }
        self.tags.push(def);
        self.alias_index.insert(fold_label(name), idx);
        idx
    }

    fn add_alias(&mut self, idx: TagIdx, alias: &str) {
        let folded = fold_label(alias);
        if folded.is_empty() {
            return;
        }
        self.alias_index.entry(folded).or_insert(idx);
        let def = &mut self.tags[usize::from(idx)];
        if !def.aliases.iter().any(|a| a == alias) {
            def.aliases.push(alias.to_owned());
        }
    }

    fn tag_or_create(&mut self, name: &str, tag_type: TagType, path: &Path) -> TagIdx {
        match self.find(name) {
            Some(idx) => idx,
            None => self.add_tag(name, tag_type, format!("imported from {}", path.display()), "glossary".to_owned()),
        }
    }

    /// Imports a `canonical_tag,alias` glossary (header line first). Unknown canonical tags become flags.
    pub fn import_aliases_csv(&mut self, path: &Path) -> Result<(), DictionaryError> {
        for (line, row) in read_glossary(path, 2)? {
            let idx = self.tag_or_create(&row[0], TagType::Flag, path);
            if row[1].trim().is_empty() {
                return Err(DictionaryError::Glossary { path: path.to_owned(), line, message: "empty alias".into() });
            }
            self.add_alias(idx, &row[1]);
        }
        Ok(())
    }

    /// Imports a `canonical_tag,raw_value,canonical_value` glossary. Unknown tags become category tags.
    pub fn import_values_csv(&mut self, path: &Path) -> Result<(), DictionaryError> {
        for (line, row) in read_glossary(path, 3)? {
            let idx = self.tag_or_create(&row[0], TagType::Category, path);
            let def = &mut self.tags[usize::from(idx)];
            if def.tag_type == TagType::Flag && !matches!(fold_label(&row[2]).as_str(), "true" | "false") {
                let message = format!("flag tag `{}` maps values onto true or false, not {:?}", def.name, row[2]);
                return Err(DictionaryError::Glossary { path: path.to_owned(), line, message });
            }
            if !matches!(def.tag_type, TagType::Flag | TagType::Category) {
                let message = format!("tag `{}` is a {} and takes no value mappings", def.name, def.tag_type);
                return Err(DictionaryError::Glossary { path: path.to_owned(), line, message });
            }
            let canonical = fold_label(&row[2]).replace(' ', "_");
            def.add_value(&canonical, &row[1]);
        }
        Ok(())
    }

    /// The tag a raw name or alias stands for.
    pub fn find(&self, raw_name: &str) -> Option<TagIdx> {
        self.alias_index.get(&fold_label(raw_name)).copied()
    }

    /// The definition of a tag.
    pub fn tag(&self, idx: TagIdx) -> &TagDef {
        &self.tags[usize::from(idx)]
    }

    /// Maps a raw value for a tag. A flag without a value (`VIP` in a tag list) is `true`.
    pub fn map_value(&self, idx: TagIdx, raw: Option<&str>) -> Result<TagValue, ValueProblem> {
        let def = self.tag(idx);
        let raw = raw.map(str::trim).filter(|r| !r.is_empty());
        match def.tag_type {
            TagType::Flag => match raw {
                None => Ok(TagValue::Flag(true)),
                Some(r) => match def.value_index.get(&fold_label(r)) {
                    Some(&v) => Ok(TagValue::Flag(def.values[v as usize] == "true")),
                    None => Err(ValueProblem::Unmapped),
                },
            },
            TagType::Category => {
                let r = raw.ok_or(ValueProblem::Unmapped)?;
                def.value_index.get(&fold_label(r)).map(|&v| TagValue::Category(v)).ok_or(ValueProblem::Unmapped)
            }
            TagType::Number => {
                let r = raw.ok_or(ValueProblem::Invalid)?;
                let n: f64 = fold_width(r).trim().parse().map_err(|_| ValueProblem::Invalid)?;
                let in_range = n.is_finite() && def.min.is_none_or(|m| n >= m) && def.max.is_none_or(|m| n <= m);
                if in_range { Ok(TagValue::Number(n)) } else { Err(ValueProblem::Invalid) }
            }
            TagType::Date => {
                let r = raw.ok_or(ValueProblem::Invalid)?;
                let date = chrono::NaiveDate::parse_from_str(fold_width(r).trim(), "%Y-%m-%d")
                    .map_err(|_| ValueProblem::Invalid)?;
                let epoch = chrono::NaiveDate::from_ymd_opt(1970, 1, 1).ok_or(ValueProblem::Invalid)?;
                Ok(TagValue::Date((date - epoch).num_days() as i32))
            }
        }
    }

    /// Position of a source in the priority list (lower is stronger; unlisted sources come last).
    pub fn priority_of(&self, source: &str) -> usize {
        self.source_priority.iter().position(|s| s == source).unwrap_or(self.source_priority.len())
    }
}

impl TagDef {
    fn add_value(&mut self, canonical: &str, raw: &str) {
        let value_idx = match self.values.iter().position(|v| v == canonical) {
            Some(i) => i as u32,
            None => {
                self.values.push(canonical.to_owned());
                (self.values.len() - 1) as u32
            }
        };
        self.value_index.entry(fold_label(canonical)).or_insert(value_idx);
        let folded = fold_label(raw);
        if !folded.is_empty() {
            self.value_index.entry(folded).or_insert(value_idx);
        }
    }

    /// How many raw spellings map onto canonical values.
    pub fn mapped_spellings(&self) -> usize {
        self.value_index.len()
    }
}

fn read_glossary(path: &Path, fields: usize) -> Result<Vec<(u64, Vec<String>)>, DictionaryError> {
    let bytes = std::fs::read(path).map_err(|source| DictionaryError::Read { path: path.to_owned(), source })?;
    let mut reader = csv::ReaderBuilder::new().has_headers(true).flexible(true).from_reader(bytes.as_slice());
    let mut rows = Vec::new();
    for record in reader.byte_records() {
        let record = record.map_err(|e| DictionaryError::Glossary {
            path: path.to_owned(),
            line: e.position().map_or(0, |p| p.line()),
            message: e.to_string(),
        })?;
        let line = record.position().map_or(0, |p| p.line());
        if record.iter().all(|f| f.iter().all(u8::is_ascii_whitespace)) {
            continue;
        }
        if record.len() < fields {
            let message = format!("expected {fields} columns, found {}", record.len());
            return Err(DictionaryError::Glossary { path: path.to_owned(), line, message });
        }
        let mut row = Vec::with_capacity(fields);
        for field in record.iter().take(fields) {
            let text = std::str::from_utf8(field).map_err(|_| DictionaryError::Glossary {
                path: path.to_owned(),
                line,
                message: "not valid UTF-8".into(),
            })?;
            row.push(text.trim().to_owned());
        }
        rows.push((line, row));
    }
    Ok(rows)
}

/// Index of a canonical product category.
pub type CategoryIdx = u16;

/// Maps category values of any scheme (web paths, POS department codes) onto one canonical list.
#[derive(Debug, Clone, Default)]
pub struct CategoryMap {
    /// Canonical categories; a [`CategoryIdx`] indexes this.
    pub canonical: Vec<String>,
    schemes: HashMap<String, HashMap<String, CategoryIdx>>,
}

impl CategoryMap {
    fn new(canonical: Vec<String>, schemes: BTreeMap<String, BTreeMap<String, String>>) -> Self {
        let mut map = Self { canonical, schemes: HashMap::new() };
        for (scheme, entries) in schemes {
            let mut folded = HashMap::new();
            for (raw, target) in entries {
                let idx = map.canonical_idx(&target);
                folded.insert(fold_path(&raw), idx);
            }
            map.schemes.insert(scheme, folded);
        }
        map
    }

    fn canonical_idx(&mut self, name: &str) -> CategoryIdx {
        match self.canonical.iter().position(|c| c == name) {
            Some(i) => i as CategoryIdx,
            None => {
                self.canonical.push(name.to_owned());
                (self.canonical.len() - 1) as CategoryIdx
            }
        }
    }

    /// The canonical category of `raw` in `scheme`: exact (folded) match, else the longest matching prefix
    /// of its path (`Grocery > Snacks > Chips` matches `Grocery > Snacks`, then `Grocery`).
    pub fn map(&self, scheme: &str, raw: &str) -> Option<CategoryIdx> {
        let entries = self.schemes.get(scheme)?;
        let folded = fold_path(raw);
        if let Some(&idx) = entries.get(&folded) {
            return Some(idx);
        }
        let mut prefix = folded.as_str();
        while let Some(cut) = prefix.rfind(" > ") {
            prefix = &prefix[..cut];
            if let Some(&idx) = entries.get(prefix) {
                return Some(idx);
            }
        }
        None
    }
}

fn fold_path(raw: &str) -> String {
    raw.split(['>', '/']).map(fold_label).filter(|s| !s.is_empty()).collect::<Vec<_>>().join(" > ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn demo() -> TagDictionary {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../datasets/demo/tag_dictionary.toml");
        TagDictionary::load(&path).unwrap()
    }

    #[test]
    fn aliases_in_any_language_and_spelling_find_one_tag() {
        let d = demo();
        let vip = d.find("vip").unwrap();
        for alias in ["VIP", "高价值", "gold_member", "Gold Member", "ＶＩＰ", "high-value"] {
            assert_eq!(d.find(alias), Some(vip), "{alias}");
        }
        assert_eq!(d.find("no such tag"), None);
    }

    #[test]
    fn values_map_onto_canonical_values() {
        let d = demo();
        let tier = d.find("会员等级").unwrap();
        let gold = d.map_value(tier, Some("金卡")).unwrap();
        assert_eq!(d.map_value(tier, Some("gold")).unwrap(), gold);
        assert_eq!(d.map_value(tier, Some("3")).unwrap(), gold);
        assert_eq!(d.map_value(tier, Some("platinum")), Err(ValueProblem::Unmapped));
        let gender = d.find("gender").unwrap();
        assert_eq!(d.map_value(gender, Some("女")), d.map_value(gender, Some("F")));
        let opt_in = d.find("email_opt_in").unwrap();
        assert_eq!(d.map_value(opt_in, Some("是")), Ok(TagValue::Flag(true)));
        assert_eq!(d.map_value(opt_in, Some("N")), Ok(TagValue::Flag(false)));
        let vip = d.find("vip").unwrap();
        assert_eq!(d.map_value(vip, None), Ok(TagValue::Flag(true)));
    }

    #[test]
    fn numbers_outside_the_range_are_invalid() {
        let d = demo();
        let year = d.find("birth_year").unwrap();
        assert_eq!(d.map_value(year, Some("1987")), Ok(TagValue::Number(1987.0)));
        assert_eq!(d.map_value(year, Some("1850")), Err(ValueProblem::Invalid));
        assert_eq!(d.map_value(year, Some("eighty")), Err(ValueProblem::Invalid));
    }

    #[test]
    fn categories_map_by_exact_value_or_path_prefix() {
        let d = demo();
        let c = &d.categories;
        let grocery = c.map("web", "Grocery").unwrap();
        assert_eq!(c.canonical[usize::from(grocery)], "grocery");
        assert_eq!(c.map("web", "Grocery > Snacks > Chips"), Some(grocery));
        assert_eq!(c.map("web", "grocery/snacks"), Some(grocery));
        assert_eq!(c.map("pos", "D11"), Some(grocery));
        assert_eq!(c.map("pos", "D99"), None);
        assert_eq!(c.map("nope", "Grocery"), None);
    }

    #[test]
    fn glossary_csvs_add_aliases_values_and_tags() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("a.csv"), "canonical_tag,alias\nvip,贵宾\nnew_tag,brand new\n").unwrap();
        std::fs::write(dir.path().join("v.csv"), "canonical_tag,raw_value,canonical_value\nmember_tier,钻石,Diamond\n")
            .unwrap();
        std::fs::write(
            dir.path().join("d.toml"),
            "version = \"1\"\nimport_aliases_csv = [\"a.csv\"]\nimport_values_csv = [\"v.csv\"]\n[[tags]]\nname = \"vip\"\ntype = \"flag\"\n[[tags]]\nname = \"member_tier\"\ntype = \"category\"\n",
        )
        .unwrap();
        let d = TagDictionary::load(&dir.path().join("d.toml")).unwrap();
        assert_eq!(d.find("贵宾"), d.find("vip"));
        let new_tag = d.find("brand new").unwrap();
        assert_eq!(d.tag(new_tag).tag_type, TagType::Flag);
        let tier = d.find("member_tier").unwrap();
        let TagValue::Category(v) = d.map_value(tier, Some("钻石")).unwrap() else { panic!() };
        assert_eq!(d.tag(tier).values[v as usize], "diamond");
    }

    #[test]
    fn a_short_glossary_line_names_file_and_line() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("a.csv"), "canonical_tag,alias\nvip,VIP\nvip\n").unwrap();
        std::fs::write(dir.path().join("d.toml"), "version = \"1\"\nimport_aliases_csv = [\"a.csv\"]\n").unwrap();
        let message = TagDictionary::load(&dir.path().join("d.toml")).unwrap_err().to_string();
        assert!(message.contains("a.csv, line 3"), "{message}");
    }
}
