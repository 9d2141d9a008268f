//! The prepared model: a bundle whose indices have been checked once, plus the lookups built at load.

use std::path::Path;
use std::time::{Duration, Instant};

use chrono::NaiveDate;

use super::InferenceError;
use crate::bundle::memory::{filled_vec, zeroed_vec};
use crate::bundle::{
    BundleContents, BundleError, BundleHeader, ColumnValues, Decoded, ModelBundle, RecReason, StrColumn, TagInfo,
    Urgency,
};
use crate::domain::{CustomerId, SourceKey};

/// Index of a customer: its position in the bundle's sorted customer IDs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct CustomerIdx(pub(crate) u32);

impl CustomerIdx {
    /// The index as a `usize`.
    pub fn get(self) -> usize {
        self.0 as usize
    }
}

/// Index of an item: its position in the bundle's sorted item IDs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ItemIdx(pub(crate) u32);

impl ItemIdx {
    /// The index as a `usize`.
    pub fn get(self) -> usize {
        self.0 as usize
    }
}

/// Why a bundle cannot be served.
#[derive(Debug, thiserror::Error)]
pub enum ModelError {
    /// The file could not be read or decoded.
    #[error(transparent)]
    Bundle(#[from] BundleError),
    /// The bundle decodes but its parts do not fit together.
    #[error("bundle is inconsistent: {0}")]
    Inconsistent(String),
}

/// Churn risk band.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RiskBand {
    /// Below the first threshold.
    Low,
    /// Between the thresholds.
    Medium,
    /// At or above the second threshold.
    High,
}

impl RiskBand {
    /// Lower-case name used on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Low => "low",
            Self::Medium => "medium",
            Self::High => "high",
        }
    }
}

/// One profile tag value.
#[derive(Debug, Clone, PartialEq)]
pub enum TagValue<'a> {
    /// A number.
    Number(f32),
    /// A flag.
    Flag(bool),
    /// A canonical category value.
    Category(&'a str),
    /// A date.
    Date(NaiveDate),
}

/// A customer's unified profile.
#[derive(Debug, Clone, PartialEq)]
pub struct ProfileView<'a> {
    /// Unified customer ID.
    pub customer_id: &'a str,
    /// The source-qualified keys that lead to this customer.
    pub source_keys: Vec<&'a str>,
    /// Canonical tags with a value (missing ones left out), in bundle column order.
    pub tags: Vec<(&'a str, TagValue<'a>)>,
}

/// A customer's churn score.
#[derive(Debug, Clone, PartialEq)]
pub struct ChurnView<'a> {
    /// Calibrated probability; `None` when the customer was not scored.
    pub probability: Option<f32>,
    /// Band of that probability.
    pub band: Option<RiskBand>,
    /// Up to three reasons: feature name and contribution to the log-odds.
    pub reasons: Vec<(&'a str, f32)>,
    /// Probability the customer is still active.
    pub p_alive: Option<f32>,
    /// Churn probability × expected value over the horizon.
    pub value_at_risk: Option<f32>,
}

/// A customer's promotion timing.
#[derive(Debug, Clone, PartialEq)]
pub struct TimingView {
    /// Predicted next purchase date.
    pub next_purchase: Option<NaiveDate>,
    /// Send window start.
    pub window_start: Option<NaiveDate>,
    /// Send window end.
    pub window_end: Option<NaiveDate>,
    /// What to do now.
    pub urgency: Urgency,
    /// Probability the customer is still active.
    pub p_alive: Option<f32>,
    /// Expected purchases in 30 days.
    pub expected_30d: Option<f32>,
    /// Expected purchases in 90 days.
    pub expected_90d: Option<f32>,
}

/// A loaded, checked bundle with its lookups. Immutable once built; share it behind an `Arc`.
#[derive(Debug)]
pub struct Model {
    pub(crate) header: BundleHeader,
    /// The contents, except the customer IDs and keys (empty here, held as columns below).
    pub(crate) c: BundleContents,
    /// Unified customer IDs, sorted; a customer index indexes this.
    ids: StrColumn,
    /// Source-qualified keys, sorted.
    keys: StrColumn,
    /// Customer index of each key.
    key_customers: Vec<u32>,
    /// Customer `c` owns `key_slots[key_offsets[c]..key_offsets[c + 1]]`, indices into `keys`.
    key_offsets: Vec<u32>,
    key_slots: Vec<u32>,
    /// Hash index over `keys` (slot → key position).
    key_index: StrIndex,
    /// Hash index over `ids`.
    id_index: StrIndex,
    /// Scored customers, highest value at risk first.
    pub(crate) at_risk_order: Vec<u32>,
    /// A short fingerprint of the model version, stamped into cursors.
    pub(crate) stamp: u32,
    load_time: Duration,
}

/// Days since 1970-01-01 to a date; `None` for the `i32::MIN` "none" marker or out-of-range days.
pub fn day_to_date(day: i32) -> Option<NaiveDate> {
    if day == i32::MIN {
        return None;
    }
    NaiveDate::from_num_days_from_ce_opt(day.checked_add(719_163)?)
}

fn finite(x: f32) -> Option<f32> {
    x.is_finite().then_some(x)
}

fn bad(what: impl Into<String>) -> ModelError {
    ModelError::Inconsistent(what.into())
}

fn check_len(name: &str, len: usize, expected: usize) -> Result<(), ModelError> {
    if len == expected { Ok(()) } else { Err(bad(format!("{name} has {len} entries, expected {expected}"))) }
}

fn check_csr(name: &str, offsets: &[u32], rows: usize, targets: &[u32], bound: usize) -> Result<(), ModelError> {
    check_len(&format!("{name} offsets"), offsets.len(), rows + 1)?;
    if offsets.first() != Some(&0) || offsets.windows(2).any(|w| w[0] > w[1]) {
        return Err(bad(format!("{name} offsets must start at 0 and never decrease")));
    }
    if offsets.last().map(|&l| l as usize) != Some(targets.len()) {
        return Err(bad(format!("{name} offsets end at {:?}, list has {} entries", offsets.last(), targets.len())));
    }
    check_indices(name, targets, bound)
}

fn check_indices(name: &str, indices: &[u32], bound: usize) -> Result<(), ModelError> {
    match indices.iter().find(|&&i| i as usize >= bound) {
        Some(i) => Err(bad(format!("{name} refers to index {i}, only {bound} exist"))),
        None => Ok(()),
    }
}

fn strictly_sorted<T: Ord>(values: impl Iterator<Item = T>) -> bool {
    let mut previous: Option<T> = None;
    for v in values {
        if previous.as_ref().is_some_and(|p| *p >= v) {
            return false;
        }
        previous = Some(v);
    }
    true
}

/// An open-addressing hash index over a list of strings: one probe (usually) instead of a binary search
/// whose ~20 string comparisons each miss the cache on large lists.
#[derive(Debug, Default)]
struct StrIndex {
    slots: Vec<u32>,
    mask: usize,
}

fn hash_str(text: &str) -> u64 {
    // FNV-1a over 8-byte words, then a SplitMix64 finaliser: fast and well spread for short keys.
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    let bytes = text.as_bytes();
    let mut chunks = bytes.chunks_exact(8);
    for chunk in &mut chunks {
        let mut word = [0u8; 8];
        word.copy_from_slice(chunk);
        h = (h ^ u64::from_le_bytes(word)).wrapping_mul(0x0000_0100_0000_01b3);
    }
    for &b in chunks.remainder() {
        h = (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3);
    }
    h ^= h >> 30;
    h = h.wrapping_mul(0xbf58_476d_1ce4_e5b9);
    h ^= h >> 27;
    h = h.wrapping_mul(0x94d0_49bb_1331_11eb);
    h ^ (h >> 31)
}

impl StrIndex {
    fn build<'a>(texts: impl ExactSizeIterator<Item = &'a str>) -> Self {
        let capacity = (texts.len() * 2).next_power_of_two().max(16);
        let mask = capacity - 1;
        let mut slots = filled_vec(capacity, u32::MAX);
        for (position, text) in texts.enumerate() {
            let mut at = hash_str(text) as usize & mask;
            while slots[at] != u32::MAX {
                at = (at + 1) & mask;
            }
            slots[at] = position as u32;
        }
        Self { slots, mask }
    }

    fn find<'a>(&self, text: &str, get: impl Fn(usize) -> &'a str) -> Option<usize> {
        if self.slots.is_empty() {
            return None;
        }
        let mut at = hash_str(text) as usize & self.mask;
        loop {
            let position = *self.slots.get(at)?;
            if position == u32::MAX {
                return None;
            }
            if get(position as usize) == text {
                return Some(position as usize);
            }
            at = (at + 1) & self.mask;
        }
    }
}

/// The lookups [`Model::check_and_index`] builds.
struct Prepared {
    key_offsets: Vec<u32>,
    key_slots: Vec<u32>,
    id_index: StrIndex,
    at_risk_order: Vec<u32>,
}

/// Scored customers (finite probability) by value at risk, highest first (missing values last), ties by
/// index: one sort of `u64`s whose high half orders the value and low half is the index.
fn at_risk_order(probability: &[f32], value_at_risk: &[f32]) -> Vec<u32> {
    let mut order: Vec<u64> = probability
        .iter()
        .zip(value_at_risk)
        .enumerate()
        .filter(|(_, (p, _))| p.is_finite())
        .map(|(i, (_, &v))| {
            let v = if v.is_finite() { v } else { f32::NEG_INFINITY };
            // Order-preserving map of the float to an unsigned integer (as `total_cmp`), then inverted
            // so that higher values sort first.
            let bits = v.to_bits();
            let ordered = if bits >> 31 == 1 { !bits } else { bits | 1 << 31 };
            (u64::from(!ordered) << 32) | i as u64
        })
        .collect();
    order.sort_unstable();
    order.into_iter().map(|k| k as u32).collect()
}

fn version_stamp(version: &str) -> u32 {
    // FNV-1a: stable across builds and platforms.
    version.bytes().fold(0x811c_9dc5u32, |h, b| (h ^ u32::from(b)).wrapping_mul(0x0100_0193))
}

impl Model {
    /// Reads, verifies and prepares the bundle at `path`.
    pub fn load(path: &Path) -> Result<Self, ModelError> {
        let started = Instant::now();
        let (header, decoded) = ModelBundle::read_columns(path)?;
        let mut model = Self::from_decoded(header, decoded)?;
        model.load_time = started.elapsed();
        Ok(model)
    }

    /// Checks a bundle already in memory and prepares its lookups.
    pub fn from_bundle(bundle: ModelBundle) -> Result<Self, ModelError> {
        let ModelBundle { header, contents: mut c } = bundle;
        let ids = StrColumn::from_strings(&c.customers.ids).map_err(|e| bad(format!("customer IDs: {e}")))?;
        let key_text: Vec<&str> = c.customers.keys.iter().map(|(k, _)| k.as_str()).collect();
        let keys = StrColumn::from_strings(&key_text).map_err(|e| bad(format!("customer keys: {e}")))?;
        let key_customers = c.customers.keys.iter().map(|(_, i)| *i).collect();
        c.customers.ids = Vec::new();
        c.customers.keys = Vec::new();
        Self::from_decoded(header, Decoded { contents: c, ids, keys, key_customers })
    }

    /// Checks contents as [`ModelBundle::read_columns`] returns them and prepares the lookups: the key
    /// index is built on a second thread while this one checks the rest.
    pub fn from_decoded(header: BundleHeader, decoded: Decoded) -> Result<Self, ModelError> {
        let started = Instant::now();
        let Decoded { contents: c, ids, keys, key_customers } = decoded;
        let n = ids.len();
        let m = c.items.ids.len();
        if u32::try_from(n).is_err() || u32::try_from(m).is_err() {
            return Err(bad("more than 2^32 customers or items"));
        }
        check_len("customer key indices", key_customers.len(), keys.len())?;
        let (key_index, checked) = std::thread::scope(|scope| {
            let key_index = scope.spawn(|| {
                if strictly_sorted(keys.iter()) {
                    Ok(StrIndex::build(keys.iter()))
                } else {
                    Err(bad("customer keys are not sorted and unique"))
                }
            });
            let checked = Self::check_and_index(&c, &ids, &key_customers);
            (key_index.join(), checked)
        });
        let key_index = key_index.map_err(|_| bad("building the key index failed"))??;
        let Prepared { key_offsets, key_slots, id_index, at_risk_order } = checked?;
        let stamp = version_stamp(&header.model_version);
        Ok(Self {
            header,
            c,
            ids,
            keys,
            key_customers,
            key_offsets,
            key_slots,
            key_index,
            id_index,
            at_risk_order,
            stamp,
            load_time: started.elapsed(),
        })
    }

    /// Checks every length and index of the contents and builds the lookups other than the key index.
    fn check_and_index(c: &BundleContents, ids: &StrColumn, key_customers: &[u32]) -> Result<Prepared, ModelError> {
        let n = ids.len();
        let m = c.items.ids.len();
        if !strictly_sorted(ids.iter()) {
            return Err(bad("customer IDs are not sorted and unique"));
        }
        check_indices("customer keys", key_customers, n)?;
        for column in &c.customers.profile {
            let name = format!("profile column {}", column.name);
            match &column.values {
                ColumnValues::Number(v) => check_len(&name, v.len(), n)?,
                ColumnValues::Flag(v) => check_len(&name, v.len(), n)?,
                ColumnValues::Date(v) => check_len(&name, v.len(), n)?,
                ColumnValues::Category { levels, codes } => {
                    check_len(&name, codes.len(), n)?;
                    if codes.iter().any(|&code| code != u32::MAX && code as usize >= levels.len()) {
                        return Err(bad(format!("{name} has a code outside its {} levels", levels.len())));
                    }
                }
            }
        }
        let items = &c.items;
        if !strictly_sorted(items.ids.iter()) {
            return Err(bad("item IDs are not sorted and unique"));
        }
        check_len("item names", items.names.len(), m)?;
        check_len("item categories", items.category.len(), m)?;
        check_len("item repurchasable flags", items.repurchasable.len(), m)?;
        if items.category.iter().any(|&k| k != u16::MAX && k as usize >= items.category_names.len()) {
            return Err(bad("an item category is outside the category names"));
        }
        let churn = &c.churn;
        check_len("churn probabilities", churn.probability.len(), n)?;
        check_len("churn reasons", churn.reasons.len(), n.saturating_mul(3))?;
        check_len("churn value at risk", churn.value_at_risk.len(), n)?;
        if churn.reasons.iter().any(|r| r.contribution != 0.0 && r.feature as usize >= churn.features.len()) {
            return Err(bad("a churn reason refers to an unknown feature"));
        }
        let t = &c.timing;
        for (name, len) in [
            ("timing next purchase", t.next_purchase_day.len()),
            ("timing window start", t.window_start.len()),
            ("timing window end", t.window_end.len()),
            ("timing urgency", t.urgency.len()),
            ("timing p_alive", t.p_alive.len()),
            ("timing expected_30d", t.expected_30d.len()),
            ("timing expected_90d", t.expected_90d.len()),
        ] {
            check_len(name, len, n)?;
        }
        let r = &c.recommendations;
        check_csr("recommendations", &r.offsets, n, &r.items, m)?;
        check_len("recommendation scores", r.scores.len(), r.items.len())?;
        check_len("recommendation reasons", r.reasons.len(), r.items.len())?;
        check_csr("item neighbours", &r.neighbour_offsets, m, &r.neighbour_items, m)?;
        check_len("neighbour scores", r.neighbour_scores.len(), r.neighbour_items.len())?;
        check_indices("popular items", &r.popular, m)?;
        check_len("segment popular lists", r.segment_popular.len(), r.segments.len())?;
        for list in &r.segment_popular {
            check_indices("segment popular items", list, m)?;
        }
        check_len("customer segments", r.customer_segment.len(), n)?;
        if r.customer_segment.iter().any(|&s| s != u16::MAX && s as usize >= r.segments.len()) {
            return Err(bad("a customer segment is outside the segment names"));
        }

        // Keys per customer (CSR), by counting sort on the customer index.
        let mut key_offsets = zeroed_vec::<u32>(n + 1);
        for &customer in key_customers {
            key_offsets[customer as usize + 1] += 1;
        }
        for i in 0..n {
            key_offsets[i + 1] += key_offsets[i];
        }
        let mut fill = key_offsets.clone();
        let mut key_slots = zeroed_vec::<u32>(key_customers.len());
        for (slot, &customer) in key_customers.iter().enumerate() {
            let at = &mut fill[customer as usize];
            key_slots[*at as usize] = slot as u32;
            *at += 1;
        }

        let at_risk_order = at_risk_order(&churn.probability, &churn.value_at_risk);
        let id_index = StrIndex::build(ids.iter());
        Ok(Prepared { key_offsets, key_slots, id_index, at_risk_order })
    }

    /// The bundle header (version, as-of date, metrics).
    pub fn header(&self) -> &BundleHeader {
        &self.header
    }

    /// The model version shown to API users.
    pub fn version(&self) -> &str {
        &self.header.model_version
    }

    /// How long reading, verifying and preparing the bundle took.
    pub fn load_time(&self) -> Duration {
        self.load_time
    }

    /// Number of customers.
    pub fn customer_count(&self) -> usize {
        self.ids.len()
    }

    /// Number of items.
    pub fn item_count(&self) -> usize {
        self.c.items.ids.len()
    }

    /// The tag catalog.
    pub fn tags(&self) -> &[TagInfo] {
        &self.c.tags
    }

    /// Finds a customer by unified ID (`C` + 14 hex digits) or source-qualified key (`web:10342`).
    ///
    /// Malformed text is [`InferenceError::BadKey`]; a well-formed key nobody has is
    /// [`InferenceError::UnknownCustomer`].
    pub fn resolve(&self, key: &str) -> Result<CustomerIdx, InferenceError> {
        let keys = &self.keys;
        let ids = &self.ids;
        // Fast path: the text is exactly a key or ID of the bundle (so it is well-formed).
        if let Some(slot) = self.key_index.find(key, |i| keys.get(i)) {
            return Ok(CustomerIdx(self.key_customers[slot]));
        }
        let found = if let Some(id) = CustomerId::parse(key) {
            self.id_index.find(id.as_str(), |i| ids.get(i))
        } else {
            // Validate, then look up the canonical form (`web: 1` → `web:1`).
            let canonical = SourceKey::parse(key)?.to_string();
            self.key_index.find(&canonical, |i| keys.get(i)).map(|slot| self.key_customers[slot] as usize)
        };
        found.map(|i| CustomerIdx(i as u32)).ok_or_else(|| InferenceError::UnknownCustomer(key.to_owned()))
    }

    /// Finds an item by ID.
    pub fn item(&self, id: &str) -> Result<ItemIdx, InferenceError> {
        self.c
            .items
            .ids
            .binary_search_by(|probe| probe.as_str().cmp(id))
            .map(|i| ItemIdx(i as u32))
            .map_err(|_| InferenceError::UnknownItem(id.to_owned()))
    }

    /// Finds a category by canonical name.
    pub fn category(&self, name: &str) -> Result<u16, InferenceError> {
        self.c
            .items
            .category_names
            .iter()
            .position(|c| c == name)
            .map(|i| i as u16)
            .ok_or_else(|| InferenceError::UnknownCategory(name.to_owned()))
    }

    /// The unified ID of a customer.
    pub fn customer_id(&self, c: CustomerIdx) -> &str {
        self.ids.get(c.get())
    }

    /// The source keys of a customer.
    pub fn source_keys(&self, c: CustomerIdx) -> impl Iterator<Item = &str> {
        let range = self.key_offsets[c.get()] as usize..self.key_offsets[c.get() + 1] as usize;
        self.key_slots[range].iter().map(|&slot| self.keys.get(slot as usize))
    }

    /// An item's ID.
    pub fn item_id(&self, i: ItemIdx) -> &str {
        &self.c.items.ids[i.get()]
    }

    /// An item's name (empty when unknown).
    pub fn item_name(&self, i: ItemIdx) -> &str {
        &self.c.items.names[i.get()]
    }

    /// An item's category name, when it has one.
    pub fn item_category(&self, i: ItemIdx) -> Option<&str> {
        let code = self.c.items.category[i.get()];
        self.c.items.category_names.get(code as usize).map(String::as_str)
    }

    /// A customer's unified profile.
    pub fn profile(&self, c: CustomerIdx) -> ProfileView<'_> {
        let i = c.get();
        let tags = self
            .c
            .customers
            .profile
            .iter()
            .filter_map(|column| {
                let value = match &column.values {
                    ColumnValues::Number(v) => finite(v[i]).map(TagValue::Number),
                    ColumnValues::Flag(v) => match v[i] {
                        0 => Some(TagValue::Flag(false)),
                        1 => Some(TagValue::Flag(true)),
                        _ => None,
                    },
                    ColumnValues::Category { levels, codes } => {
                        levels.get(codes[i] as usize).map(|l| TagValue::Category(l.as_str()))
                    }
                    ColumnValues::Date(v) => day_to_date(v[i]).map(TagValue::Date),
                };
                value.map(|v| (column.name.as_str(), v))
            })
            .collect();
        ProfileView { customer_id: self.customer_id(c), source_keys: self.source_keys(c).collect(), tags }
    }

    /// A customer's churn score with its reasons.
    pub fn churn(&self, c: CustomerIdx) -> ChurnView<'_> {
        let i = c.get();
        let churn = &self.c.churn;
        let probability = finite(churn.probability[i]);
        let [low, high] = churn.band_thresholds;
        let band = probability.map(|p| {
            if p >= high {
                RiskBand::High
            } else if p >= low {
                RiskBand::Medium
            } else {
                RiskBand::Low
            }
        });
        let reasons = if probability.is_some() {
            churn.reasons[i * 3..i * 3 + 3]
                .iter()
                .filter(|r| r.contribution != 0.0 && r.contribution.is_finite())
                .filter_map(|r| churn.features.get(r.feature as usize).map(|f| (f.as_str(), r.contribution)))
                .collect()
        } else {
            Vec::new()
        };
        ChurnView {
            probability,
            band,
            reasons,
            p_alive: finite(self.c.timing.p_alive[i]),
            value_at_risk: probability.and(finite(churn.value_at_risk[i])),
        }
    }

    /// A customer's promotion timing.
    pub fn timing(&self, c: CustomerIdx) -> TimingView {
        let i = c.get();
        let t = &self.c.timing;
        TimingView {
            next_purchase: day_to_date(t.next_purchase_day[i]),
            window_start: day_to_date(t.window_start[i]),
            window_end: day_to_date(t.window_end[i]),
            urgency: t.urgency[i],
            p_alive: finite(t.p_alive[i]),
            expected_30d: finite(t.expected_30d[i]),
            expected_90d: finite(t.expected_90d[i]),
        }
    }

    /// A customer's precomputed recommendations: (item, score, reason), best first.
    pub(crate) fn personal_recs(&self, c: CustomerIdx) -> impl Iterator<Item = (ItemIdx, f32, RecReason)> + '_ {
        let r = &self.c.recommendations;
        let range = r.offsets[c.get()] as usize..r.offsets[c.get() + 1] as usize;
        range.map(move |k| (ItemIdx(r.items[k]), r.scores[k], r.reasons[k]))
    }

    /// An item's neighbours: (item, similarity), most similar first.
    pub(crate) fn neighbours(&self, i: ItemIdx) -> impl Iterator<Item = (ItemIdx, f32)> + '_ {
        let r = &self.c.recommendations;
        let range = r.neighbour_offsets[i.get()] as usize..r.neighbour_offsets[i.get() + 1] as usize;
        range.map(move |k| (ItemIdx(r.neighbour_items[k]), r.neighbour_scores[k]))
    }

    /// The popular list of a customer's segment, when the customer has one.
    pub(crate) fn segment_popular(&self, c: CustomerIdx) -> Option<&[u32]> {
        let r = &self.c.recommendations;
        r.segment_popular.get(r.customer_segment[c.get()] as usize).map(Vec::as_slice)
    }

    /// The popular list.
    pub(crate) fn popular(&self) -> &[u32] {
        &self.c.recommendations.popular
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::inference::synthetic::SyntheticParams;

    fn model() -> Model {
        Model::from_bundle(SyntheticParams::new(200, 50).build()).unwrap()
    }

    #[test]
    fn model_is_send_and_sync() {
        fn check<T: Send + Sync>() {}
        check::<Model>();
    }

    #[test]
    fn a_customer_is_found_by_id_and_by_each_source_key() {
        let model = model();
        let c = model.resolve("web:17").unwrap();
        let id = model.customer_id(c).to_owned();
        assert_eq!(model.resolve(&id).unwrap(), c);
        let keys: Vec<String> = model.source_keys(c).map(str::to_owned).collect();
        assert!(keys.contains(&"web:17".to_owned()));
        for key in keys {
            assert_eq!(model.resolve(&key).unwrap(), c, "{key}");
        }
    }

    #[test]
    fn every_key_and_id_of_a_bundle_resolves_to_its_customer() {
        let model = Model::from_bundle(SyntheticParams::new(3_000, 20).build()).unwrap();
        for (key, customer) in model.keys.iter().zip(&model.key_customers) {
            assert_eq!(model.resolve(key).unwrap(), CustomerIdx(*customer), "{key}");
        }
        for (i, id) in model.ids.iter().enumerate() {
            assert_eq!(model.resolve(id).unwrap(), CustomerIdx(i as u32));
        }
        assert_eq!(model.resolve(" web:5 ").unwrap(), model.resolve("web:5").unwrap(), "canonical form");
    }

    #[test]
    fn malformed_and_unknown_keys_are_told_apart() {
        let model = model();
        assert!(matches!(model.resolve("nonsense"), Err(InferenceError::BadKey(_))));
        assert!(matches!(model.resolve("web:999999"), Err(InferenceError::UnknownCustomer(_))));
        assert!(matches!(model.resolve("C00000000000000"), Err(InferenceError::UnknownCustomer(_))));
    }

    #[test]
    fn unscored_customers_have_no_band_or_reasons() {
        let model = model();
        let c = model.resolve(&SyntheticParams::unscored_key(0)).unwrap();
        let churn = model.churn(c);
        assert_eq!(churn.probability, None);
        assert_eq!(churn.band, None);
        assert!(churn.reasons.is_empty());
    }

    #[test]
    fn an_inconsistent_bundle_is_refused_with_the_field_named() {
        let mut bundle = SyntheticParams::new(20, 10).build();
        bundle.contents.recommendations.items[0] = 10_000;
        let err = Model::from_bundle(bundle).unwrap_err();
        assert!(err.to_string().contains("recommendations refers to index 10000"), "{err}");

        let mut bundle = SyntheticParams::new(20, 10).build();
        bundle.contents.churn.probability.pop();
        let err = Model::from_bundle(bundle).unwrap_err();
        assert!(err.to_string().contains("churn probabilities"), "{err}");
    }

    #[test]
    fn the_at_risk_order_matches_a_comparison_sort() {
        let specials = [f32::NAN, f32::INFINITY, f32::NEG_INFINITY, 0.0, -0.0, 1.5, -2.0, 1.5, f32::MIN_POSITIVE];
        let values: Vec<f32> = (0..500).map(|i| specials[i % specials.len()] * (1 + i % 7) as f32).collect();
        let probability: Vec<f32> = (0..500).map(|i| if i % 11 == 0 { f32::NAN } else { 0.5 }).collect();
        let var = |i: u32| {
            let v = values[i as usize];
            if v.is_finite() { v } else { f32::NEG_INFINITY }
        };
        let mut expected: Vec<u32> = (0..500).filter(|&i| probability[i as usize].is_finite()).collect();
        expected.sort_unstable_by(|&a, &b| var(b).total_cmp(&var(a)).then(a.cmp(&b)));
        assert_eq!(at_risk_order(&probability, &values), expected);
    }

    #[test]
    fn days_convert_to_dates_and_markers_to_none() {
        assert_eq!(day_to_date(0), NaiveDate::from_ymd_opt(1970, 1, 1));
        assert_eq!(day_to_date(19_905), NaiveDate::from_ymd_opt(2024, 7, 1));
        assert_eq!(day_to_date(i32::MIN), None);
        assert_eq!(day_to_date(i32::MAX), None);
    }

    #[test]
    fn profiles_leave_out_missing_values() {
        let model = model();
        // Customer 0 has no member tier and no recency (multiples of 11 and 19); customer 1 has both.
        let missing = model.profile(model.resolve("web:0").unwrap());
        assert!(!missing.tags.iter().any(|(name, _)| *name == "member_tier" || *name == "recency_days"));
        let present = model.profile(model.resolve("web:1").unwrap());
        assert!(present.tags.contains(&("member_tier", TagValue::Category("silver"))));
        assert!(present.tags.iter().any(|(name, v)| *name == "recency_days" && matches!(v, TagValue::Number(_))));
    }
}
