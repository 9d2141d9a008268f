//! The types a canonical tag can have.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// The type of a canonical tag's value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TagType {
    /// Yes or no: present or absent (`vip`, `email_opt_in`).
    Flag,
    /// One value of a closed set (`member_tier = gold`).
    Category,
    /// A number (`birth_year`, `recency_days`).
    Number,
    /// A calendar date (`first_purchase`).
    Date,
}

impl TagType {
    /// The name used in configs and catalogs.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Flag => "flag",
            Self::Category => "category",
            Self::Number => "number",
            Self::Date => "date",
        }
    }
}

impl fmt::Display for TagType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An unknown tag type name.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown tag type {0:?} (expected flag, category, number or date)")]
pub struct TagTypeError(pub String);

impl FromStr for TagType {
    type Err = TagTypeError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "flag" | "bool" | "boolean" => Ok(Self::Flag),
            "category" | "categorical" => Ok(Self::Category),
            "number" | "numeric" => Ok(Self::Number),
            "date" => Ok(Self::Date),
            _ => Err(TagTypeError(s.to_owned())),
        }
    }
}
