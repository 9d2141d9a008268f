//! What one source yields after reading and cleaning: its records, their identity keys, and its facts
//! (transaction lines, tag facts, tickets), all with source-local dense indices. The unify stage merges
//! batches into one store.

use rustc_hash::{FxHashMap as HashMap, FxHashSet as HashSet};

use super::normalize::KeyKind;
use super::quality::SourceQuality;
use crate::interner::Interner;
use crate::unify::dictionary::{TagIdx, TagValue};

/// One purchase (or return) line.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TxnLine {
    /// The record (customer as the island knows it).
    pub record: u32,
    /// Hash of the source-qualified order or receipt number (32 bits keep the line at 32 bytes; orders
    /// are only told apart within one customer, where a collision is negligible).
    pub order: u32,
    /// UTC seconds.
    pub ts: i64,
    /// Item index.
    pub item: u32,
    /// Units; negative for a return.
    pub quantity: f32,
    /// Line amount in currency units; negative for a return.
    pub amount: f64,
    /// Whether a coupon was used on the order.
    pub coupon: bool,
    /// Channel index (set when merged into the store).
    pub channel: u8,
}

/// One tag value stated by one record.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TagFact {
    /// The record.
    pub record: u32,
    /// The canonical tag.
    pub tag: TagIdx,
    /// Its mapped value.
    pub value: TagValue,
    /// When it was stated, if known (UTC seconds).
    pub ts: Option<i64>,
}

/// One service ticket or feedback row.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Ticket {
    /// The record.
    pub record: u32,
    /// UTC seconds.
    pub ts: i64,
    /// Index into the `ticket_kind` tag's canonical values.
    pub kind: Option<u32>,
    /// Satisfaction or rating.
    pub score: Option<f32>,
}

/// A source's cleaned content.
#[derive(Debug, Default)]
pub struct SourceBatch {
    /// Source name (the namespace of its record keys).
    pub source: String,
    /// Channel of its transactions.
    pub channel: String,
    /// Record keys (unqualified).
    pub records: Interner,
    /// Whether each record is anonymous (keyed by its fallback column).
    pub anonymous: Vec<bool>,
    /// Identity keys, as `namespace:value`.
    pub keys: Interner,
    /// Kind of each key.
    pub key_kinds: Vec<KeyKind>,
    /// (record, key) pairs, each once.
    pub edges: Vec<(u32, u32)>,
    edge_set: HashSet<(u32, u32)>,
    /// Canonical item IDs of this batch's lines.
    pub items: Interner,
    /// This batch's item index of each catalog item seen so far (`u32::MAX` when not yet seen).
    catalog_items: Vec<u32>,
    /// Transaction lines.
    pub lines: Vec<TxnLine>,
    /// Tag facts.
    pub facts: Vec<TagFact>,
    /// Tickets.
    pub tickets: Vec<Ticket>,
    /// Raw tags and values the dictionary did not map: (tag, value, problem) → count.
    pub unmapped: HashMap<(String, String, &'static str), u64>,
    /// The quality report.
    pub quality: SourceQuality,
}

impl SourceBatch {
    /// An empty batch for a source.
    pub fn new(source: &str, channel: &str) -> Self {
        Self { source: source.to_owned(), channel: channel.to_owned(), ..Self::default() }
    }

    /// The record index of `key`, adding it when new.
    pub fn record(&mut self, key: &str, anonymous: bool) -> u32 {
        let before = self.records.len();
        let idx = self.records.intern(key);
        if self.records.len() > before {
            self.anonymous.push(anonymous);
        }
        idx
    }

    /// Links a record to a normalized identity key.
    pub fn link(&mut self, record: u32, kind: KeyKind, value: &str) {
        let text = format!("{}:{value}", kind.namespace());
        let before = self.keys.len();
        let key = self.keys.intern(&text);
        if self.keys.len() > before {
            self.key_kinds.push(kind);
        }
        if self.edge_set.insert((record, key)) {
            self.edges.push((record, key));
        }
    }

    /// The batch's item index of catalog item `catalog_index`, whose canonical ID is `id` (interned once
    /// per batch, not once per line).
    pub fn catalog_item(&mut self, catalog_index: u32, id: &str) -> u32 {
        let i = catalog_index as usize;
        if i >= self.catalog_items.len() {
            self.catalog_items.resize(i + 1, u32::MAX);
        }
        if self.catalog_items[i] == u32::MAX {
            self.catalog_items[i] = self.items.intern(id);
        }
        self.catalog_items[i]
    }

    /// Counts a tag or value the dictionary did not map.
    pub fn unmapped(&mut self, tag: &str, value: &str, problem: &'static str) {
        *self.unmapped.entry((tag.to_owned(), value.to_owned(), problem)).or_default() += 1;
        self.quality.unmapped_values += 1;
    }

    /// Appends a batch read from a later part of the same source (a chunk of a large file), remapping
    /// its records, keys and items onto this batch's: the result is what reading both parts into this
    /// batch would have given, record for record and line for line. Quality figures are not touched.
    pub fn absorb(&mut self, part: SourceBatch) {
        let record_map: Vec<u32> =
            part.records.iter().zip(&part.anonymous).map(|(key, &anonymous)| self.record(key, anonymous)).collect();
        let key_map = intern_keys(&mut self.keys, &mut self.key_kinds, &part.keys, &part.key_kinds);
        let item_map: Vec<u32> = part.items.iter().map(|item| self.items.intern(item)).collect();
        for &(r, k) in &part.edges {
            let edge = (record_map[r as usize], key_map[k as usize]);
            if self.edge_set.insert(edge) {
                self.edges.push(edge);
            }
        }
        self.lines.extend(part.lines.iter().map(|l| TxnLine {
            record: record_map[l.record as usize],
            item: item_map[l.item as usize],
            ..*l
        }));
        self.facts.extend(part.facts.iter().map(|f| TagFact { record: record_map[f.record as usize], ..*f }));
        self.tickets.extend(part.tickets.iter().map(|t| Ticket { record: record_map[t.record as usize], ..*t }));
        for (key, n) in part.unmapped {
            *self.unmapped.entry(key).or_default() += n;
        }
    }

    /// Frees the de-duplication sets once reading is done.
    pub fn finish(&mut self) {
        self.edge_set = HashSet::default();
        self.catalog_items = Vec::new();
        self.quality.records = self.records.len() as u64;
    }
}

/// Interns `keys` (with their `kinds`) into `into`, recording the kind of each new key; returns each key's
/// index in `into`.
pub(crate) fn intern_keys(
    into: &mut Interner,
    into_kinds: &mut Vec<KeyKind>,
    keys: &Interner,
    kinds: &[KeyKind],
) -> Vec<u32> {
    keys.iter()
        .zip(kinds)
        .map(|(key, &kind)| {
            let before = into.len();
            let idx = into.intern(key);
            if into.len() > before {
                into_kinds.push(kind);
            }
            idx
        })
        .collect()
}
