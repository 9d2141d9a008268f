//! The unified profile table: one row per customer, one typed column per tag (identity facts, behavioural
//! tags, dictionary tags). Columnar, so it converts to a polars frame without copying row by row.

use serde::Serialize;
use tagcenter::domain::TagType;

/// Where a column's values come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Origin {
    /// From identity resolution (records, sources).
    Identity,
    /// Computed from behaviour (purchases, tickets) as of the reference date.
    Behaviour,
    /// A dictionary tag stated by the sources, after mapping and conflict resolution.
    Dictionary,
}

/// A column's values, one per customer.
#[derive(Debug, Clone, PartialEq)]
pub enum Values {
    /// Flags.
    Flag(Vec<Option<bool>>),
    /// Numbers; NaN where missing (8 bytes a value instead of 16 for `Option<f64>`: at millions of
    /// customers and dozens of tags that halves the table).
    Number(Vec<f64>),
    /// Category codes into `levels`.
    Category {
        /// The canonical values.
        levels: Vec<String>,
        /// Index into `levels` per customer.
        codes: Vec<Option<u32>>,
    },
    /// Free text.
    Text(Vec<Option<String>>),
    /// Days since 1970-01-01.
    Date(Vec<Option<i32>>),
}

impl Values {
    /// Number of values present.
    pub fn present(&self) -> usize {
        match self {
            Self::Flag(v) => v.iter().flatten().count(),
            Self::Number(v) => v.iter().filter(|x| !x.is_nan()).count(),
            Self::Category { codes, .. } => codes.iter().flatten().count(),
            Self::Text(v) => v.iter().flatten().count(),
            Self::Date(v) => v.iter().flatten().count(),
        }
    }

    /// Number of rows.
    pub fn len(&self) -> usize {
        match self {
            Self::Flag(v) => v.len(),
            Self::Number(v) => v.len(),
            Self::Category { codes, .. } => codes.len(),
            Self::Text(v) => v.len(),
            Self::Date(v) => v.len(),
        }
    }

    /// True when there are no rows.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The value of row `i` as text (for CSV exports and the explain command).
    pub fn text(&self, i: usize) -> Option<String> {
        match self {
            Self::Flag(v) => v[i].map(|b| b.to_string()),
            Self::Number(v) => {
                let n = v[i];
                (!n.is_nan())
                    .then(|| if n.fract() == 0.0 && n.abs() < 1e15 { format!("{n:.0}") } else { format!("{n:.4}") })
            }
            Self::Category { levels, codes } => codes[i].map(|c| levels[c as usize].clone()),
            Self::Text(v) => v[i].clone(),
            Self::Date(v) => {
                v[i].and_then(|d| chrono::NaiveDate::from_num_days_from_ce_opt(d + 719_163).map(|d| d.to_string()))
            }
        }
    }
}

/// One tag column.
#[derive(Debug, Clone)]
pub struct ProfileColumn {
    /// Tag name.
    pub name: String,
    /// Tag type.
    pub tag_type: TagType,
    /// What it means.
    pub description: String,
    /// Who owns its definition.
    pub owner: String,
    /// Where it comes from.
    pub origin: Origin,
    /// The values.
    pub values: Values,
}

impl ProfileColumn {
    /// Share of customers with a value.
    pub fn coverage(&self) -> f64 {
        if self.values.is_empty() { 0.0 } else { self.values.present() as f64 / self.values.len() as f64 }
    }
}

/// The unified profiles.
#[derive(Debug, Clone, Default)]
pub struct ProfileTable {
    /// Customer IDs, one per row.
    pub customer_ids: Vec<String>,
    /// Tag columns.
    pub columns: Vec<ProfileColumn>,
}

impl ProfileTable {
    /// The column named `name`.
    pub fn column(&self, name: &str) -> Option<&ProfileColumn> {
        self.columns.iter().find(|c| c.name == name)
    }
}
