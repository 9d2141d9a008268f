//! A string interner: each distinct string gets a dense `u32` index, so large tables hold integers.

use rustc_hash::FxHashMap;

/// Maps strings to dense indices and back.
#[derive(Debug, Default, Clone)]
pub struct Interner {
    index: FxHashMap<Box<str>, u32>,
    strings: Vec<Box<str>>,
}

impl Interner {
    /// The index of `text`, adding it when new.
    pub fn intern(&mut self, text: &str) -> u32 {
        if let Some(&i) = self.index.get(text) {
            return i;
        }
        let i = u32::try_from(self.strings.len()).expect("fewer than 2^32 distinct strings");
        let boxed: Box<str> = text.into();
        self.strings.push(boxed.clone());
        self.index.insert(boxed, i);
        i
    }

    /// Makes room for `additional` more strings (one rehash instead of several while growing).
    pub fn reserve(&mut self, additional: usize) {
        self.index.reserve(additional);
        self.strings.reserve(additional);
    }

    /// The index of `text` if it was interned.
    pub fn get(&self, text: &str) -> Option<u32> {
        self.index.get(text).copied()
    }

    /// The string at `index`.
    pub fn resolve(&self, index: u32) -> &str {
        &self.strings[index as usize]
    }

    /// How many distinct strings.
    pub fn len(&self) -> usize {
        self.strings.len()
    }

    /// True when nothing was interned.
    pub fn is_empty(&self) -> bool {
        self.strings.is_empty()
    }

    /// All strings in index order.
    pub fn iter(&self) -> impl Iterator<Item = &str> {
        self.strings.iter().map(|s| &**s)
    }
}

#[cfg(test)]
mod tests {
    use super::Interner;

    #[test]
    fn interning_is_dense_and_stable() {
        let mut i = Interner::default();
        assert_eq!(i.intern("a"), 0);
        assert_eq!(i.intern("b"), 1);
        assert_eq!(i.intern("a"), 0);
        assert_eq!(i.resolve(1), "b");
        assert_eq!(i.get("c"), None);
        assert_eq!(i.len(), 2);
    }
}
