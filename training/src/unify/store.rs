//! The unified store: every source's batch merged onto global indices — records (source-qualified keys),
//! identity keys, items, channels — ready for identity resolution and behavioural tags.

use rayon::prelude::*;

use crate::interner::Interner;
use crate::sources::batch::{SourceBatch, TagFact, Ticket, TxnLine};
use crate::sources::catalog::Catalog;
use crate::sources::normalize::KeyKind;
use crate::unify::dictionary::CategoryIdx;

/// The order of a customer's transaction lines: by customer, then time; lines of one instant by their
/// content (order, item, record, amounts, flags). A total order, so a sort's result does not depend on the
/// order the files listed the lines in.
pub fn line_order(customer_of_record: &[u32], a: &TxnLine, b: &TxnLine) -> std::cmp::Ordering {
    (customer_of_record[a.record as usize], a.ts, a.order, a.item, a.record)
        .cmp(&(customer_of_record[b.record as usize], b.ts, b.order, b.item, b.record))
        .then(a.amount.total_cmp(&b.amount))
        .then(a.quantity.total_cmp(&b.quantity))
        .then((a.coupon, a.channel).cmp(&(b.coupon, b.channel)))
}

/// Everything read, on global indices.
#[derive(Debug, Default)]
pub struct Store {
    /// Source names, in config order; `record_source` indexes this.
    pub sources: Vec<String>,
    /// Source-qualified record keys (`web:10342`, `pos:R:S014-…`).
    pub records: Interner,
    /// Source of each record.
    pub record_source: Vec<u16>,
    /// Whether each record is anonymous.
    pub anonymous: Vec<bool>,
    /// Identity keys (`email:…`, `phone:…`, `card:…`).
    pub keys: Interner,
    /// Kind of each key.
    pub key_kinds: Vec<KeyKind>,
    /// (record, key) links.
    pub edges: Vec<(u32, u32)>,
    /// Canonical item IDs: catalog items first, then items seen only in transactions.
    pub items: Interner,
    /// Canonical category of each item.
    pub item_category: Vec<Option<CategoryIdx>>,
    /// List price of each item.
    pub item_price: Vec<Option<f64>>,
    /// Channel names; `TxnLine::channel` indexes this.
    pub channels: Vec<String>,
    /// All transaction lines.
    pub lines: Vec<TxnLine>,
    /// All tag facts.
    pub facts: Vec<TagFact>,
    /// All tickets.
    pub tickets: Vec<Ticket>,
}

impl Store {
    /// Reserves room for `lines` more transaction lines (so merging grows the table once).
    pub fn reserve_lines(&mut self, lines: usize) {
        self.lines.reserve_exact(lines);
    }

    /// An empty store whose items start with the catalog's.
    pub fn new(sources: Vec<String>, catalog: &Catalog) -> Self {
        let mut store = Self { sources, ..Self::default() };
        for (i, id) in catalog.items.iter().enumerate() {
            store.items.intern(id);
            store.item_category.push(catalog.category[i]);
            store.item_price.push(catalog.price[i]);
        }
        store
    }

    /// Merges a batch, remapping its indices onto the store's. Its lines are remapped in place and moved
    /// (not copied) when the store holds none yet, so the largest table exists once.
    pub fn add(&mut self, mut batch: SourceBatch) {
        let source = self.sources.iter().position(|s| *s == batch.source).unwrap_or_else(|| {
            self.sources.push(batch.source.clone());
            self.sources.len() - 1
        }) as u16;
        let channel = match self.channels.iter().position(|c| *c == batch.channel) {
            Some(c) => c,
            None => {
                self.channels.push(batch.channel.clone());
                self.channels.len() - 1
            }
        } as u8;
        self.records.reserve(batch.records.len());
        self.keys.reserve(batch.keys.len());
        let mut qualified = String::new();
        let record_map: Vec<u32> = batch
            .records
            .iter()
            .zip(&batch.anonymous)
            .map(|(key, &anonymous)| {
                qualified.clear();
                qualified.push_str(&batch.source);
                qualified.push(':');
                qualified.push_str(key);
                let before = self.records.len();
                let idx = self.records.intern(&qualified);
                if self.records.len() > before {
                    self.record_source.push(source);
                    self.anonymous.push(anonymous);
                }
                idx
            })
            .collect();
        let key_map =
            crate::sources::batch::intern_keys(&mut self.keys, &mut self.key_kinds, &batch.keys, &batch.key_kinds);
        let item_map: Vec<u32> = batch
            .items
            .iter()
            .map(|item| {
                let before = self.items.len();
                let idx = self.items.intern(item);
                if self.items.len() > before {
                    self.item_category.push(None);
                    self.item_price.push(None);
                }
                idx
            })
            .collect();
        self.edges.extend(batch.edges.iter().map(|&(r, k)| (record_map[r as usize], key_map[k as usize])));
        batch.lines.par_iter_mut().for_each(|l| {
            l.record = record_map[l.record as usize];
            l.item = item_map[l.item as usize];
            l.channel = channel;
        });
        if self.lines.is_empty() {
            self.lines = std::mem::take(&mut batch.lines);
        } else {
            self.lines.append(&mut batch.lines);
        }
        self.facts.extend(batch.facts.iter().map(|f| TagFact { record: record_map[f.record as usize], ..*f }));
        self.tickets.extend(batch.tickets.iter().map(|t| Ticket { record: record_map[t.record as usize], ..*t }));
    }

    /// Sorts the transaction lines in [`line_order`], so every point-in-time view reads a customer's lines
    /// as one contiguous run.
    pub fn sort_lines_by_customer(&mut self, customer_of_record: &[u32]) {
        self.lines.par_sort_unstable_by(|a, b| line_order(customer_of_record, a, b));
    }

    /// Frees the transaction lines, tag facts and tickets (profiles can no longer be computed afterwards;
    /// the records, keys and items stay). Training calls it once its outputs no longer need them.
    pub fn release_transactions(&mut self) {
        self.lines = Vec::new();
        self.facts = Vec::new();
        self.tickets = Vec::new();
    }

    /// Source name of a record.
    pub fn source_of(&self, record: u32) -> &str {
        &self.sources[usize::from(self.record_source[record as usize])]
    }
}
