//! The product catalog: one canonical item ID per product, the keys it has in every scheme (web SKU, till
//! barcode), its canonical category and its list price. Built from the `catalog` sources before any
//! transactions are read, so every transaction line can be mapped onto a canonical item.

use rustc_hash::FxHashMap as HashMap;

use crate::interner::Interner;
use crate::unify::dictionary::CategoryIdx;

/// The merged product catalog.
#[derive(Debug, Default, Clone)]
pub struct Catalog {
    /// Canonical item IDs (the `item` column of the catalog source).
    pub items: Interner,
    /// Canonical category per item.
    pub category: Vec<Option<CategoryIdx>>,
    /// List price per item, in currency units.
    pub price: Vec<Option<f64>>,
    /// Item names.
    pub name: Vec<Option<String>>,
    /// The scheme of canonical IDs (`sku`).
    pub primary_scheme: Option<String>,
    lookup: HashMap<String, HashMap<String, u32>>,
}

impl Catalog {
    /// Adds or updates an item; a later row for the same item replaces price and fills missing fields
    /// (a SKU listed twice after a price change keeps the later price). Returns its index and whether it
    /// was already known.
    pub fn upsert(
        &mut self,
        scheme: &str,
        id: &str,
        category: Option<CategoryIdx>,
        price: Option<f64>,
        name: Option<&str>,
    ) -> (u32, bool) {
        if self.primary_scheme.is_none() {
            self.primary_scheme = Some(scheme.to_owned());
        }
        let before = self.items.len();
        let idx = self.items.intern(id);
        let known = self.items.len() == before;
        if !known {
            self.category.push(None);
            self.price.push(None);
            self.name.push(None);
        }
        let i = idx as usize;
        if category.is_some() {
            self.category[i] = category;
        }
        if price.is_some() {
            self.price[i] = price;
        }
        if let Some(name) = name {
            self.name[i] = Some(name.to_owned());
        }
        self.add_alias(scheme, id, idx);
        (idx, known)
    }

    /// Records that `code` in `scheme` is item `idx`.
    pub fn add_alias(&mut self, scheme: &str, code: &str, idx: u32) {
        self.lookup.entry(scheme.to_owned()).or_default().insert(code.to_owned(), idx);
    }

    /// The codes of one scheme, for fast lookups.
    pub fn scheme(&self, scheme: &str) -> Option<&HashMap<String, u32>> {
        self.lookup.get(scheme)
    }

    /// Number of items.
    pub fn len(&self) -> usize {
        self.items.len()
    }

    /// True when there are no items.
    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }
}
