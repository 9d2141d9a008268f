//! [`StrColumn`]: many strings in one buffer, so a million customer IDs are two allocations instead of a
//! million, load without a per-string copy, and a lookup touches two places in memory.

/// Strings back to back in one UTF-8 buffer: string `i` is `text[ends[i - 1]..ends[i]]` (from 0 for the
/// first). Every end is checked to be a character boundary when the column is built.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StrColumn {
    text: String,
    ends: Vec<u32>,
}

/// Why bytes do not form a string column.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StrColumnError {
    /// The text is not UTF-8.
    #[error("string column is not UTF-8")]
    NotUtf8,
    /// An end decreases, passes the text or splits a character.
    #[error("string column end {0} is out of order or splits a character")]
    BadEnd(usize),
    /// More than 4 GiB of text.
    #[error("string column holds more than 4 GiB of text")]
    TooLarge,
}

impl StrColumn {
    /// Builds a column from its parts, checking them.
    pub fn from_parts(text: Vec<u8>, ends: Vec<u32>) -> Result<Self, StrColumnError> {
        let text = String::from_utf8(text).map_err(|_| StrColumnError::NotUtf8)?;
        let mut previous = 0;
        for (i, &end) in ends.iter().enumerate() {
            if end < previous || !text.is_char_boundary(end as usize) {
                return Err(StrColumnError::BadEnd(i));
            }
            previous = end;
        }
        if ends.last().map_or(0, |&e| e as usize) != text.len() {
            return Err(StrColumnError::BadEnd(ends.len()));
        }
        Ok(Self { text, ends })
    }

    /// Packs a list of strings.
    pub fn from_strings<S: AsRef<str>>(strings: &[S]) -> Result<Self, StrColumnError> {
        let total: usize = strings.iter().map(|s| s.as_ref().len()).sum();
        if u32::try_from(total).is_err() {
            return Err(StrColumnError::TooLarge);
        }
        let mut text = String::with_capacity(total);
        let mut ends = Vec::with_capacity(strings.len());
        for s in strings {
            text.push_str(s.as_ref());
            ends.push(text.len() as u32);
        }
        Ok(Self { text, ends })
    }

    /// Number of strings.
    pub fn len(&self) -> usize {
        self.ends.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.ends.is_empty()
    }

    /// String `i`; empty when `i` is out of range.
    pub fn get(&self, i: usize) -> &str {
        let Some(&end) = self.ends.get(i) else { return "" };
        let start = if i == 0 { 0 } else { self.ends[i - 1] };
        self.text.get(start as usize..end as usize).unwrap_or_default()
    }

    /// Every string in order.
    pub fn iter(&self) -> impl ExactSizeIterator<Item = &str> + '_ {
        (0..self.len()).map(|i| self.get(i))
    }

    /// The concatenated text.
    pub fn text(&self) -> &str {
        &self.text
    }

    /// The end of every string in [`StrColumn::text`].
    pub fn ends(&self) -> &[u32] {
        &self.ends
    }

    /// The strings as owned `String`s.
    pub fn to_strings(&self) -> Vec<String> {
        self.iter().map(str::to_owned).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strings_round_trip_and_bad_parts_are_refused() {
        let column = StrColumn::from_strings(&["web:1", "", "é€"]).unwrap();
        assert_eq!(column.to_strings(), vec!["web:1", "", "é€"]);
        assert_eq!(column.get(3), "");
        let again = StrColumn::from_parts(column.text().as_bytes().to_vec(), column.ends().to_vec()).unwrap();
        assert_eq!(again, column);
        assert_eq!(StrColumn::from_parts(vec![0xff], vec![1]), Err(StrColumnError::NotUtf8));
        assert_eq!(StrColumn::from_parts("é".into(), vec![1, 2]), Err(StrColumnError::BadEnd(0)));
        assert_eq!(StrColumn::from_parts("ab".into(), vec![2, 1]), Err(StrColumnError::BadEnd(1)));
        assert_eq!(StrColumn::from_parts("ab".into(), vec![1]), Err(StrColumnError::BadEnd(1)));
    }
}
