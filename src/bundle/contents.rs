//! What a model bundle holds: plain structs (numbers, strings, vectors), never a training library's
//! types, so the server needs none of them. Per-customer vectors are indexed by customer index (the
//! position of the customer's ID in [`Customers::ids`]); per-item vectors by item index.

use serde::{Deserialize, Serialize};

use crate::domain::TagType;

/// Everything the server needs to answer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BundleContents {
    /// Unified customers and the keys each channel knows them by.
    pub customers: Customers,
    /// The item catalogue.
    pub items: Items,
    /// The tag catalog (for `/v1/tags`).
    pub tags: Vec<TagInfo>,
    /// Churn risk per customer.
    pub churn: ChurnOutputs,
    /// Promotion timing per customer.
    pub timing: TimingOutputs,
    /// Recommendations.
    pub recommendations: Recommendations,
}

/// Customers: IDs, source keys, profile columns.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Customers {
    /// Unified customer IDs, sorted.
    pub ids: Vec<String>,
    /// Source-qualified keys (`web:10342`, `card:8800123`, `email:…`), sorted, each with its customer index.
    pub keys: Vec<(String, u32)>,
    /// Profile tag columns.
    pub profile: Vec<ProfileColumnData>,
}

/// One profile column, compactly typed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProfileColumnData {
    /// Tag name.
    pub name: String,
    /// Tag type.
    pub tag_type: TagType,
    /// Values.
    pub values: ColumnValues,
}

/// A column's values, one per customer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum ColumnValues {
    /// Numbers; NaN where missing.
    Number(Vec<f32>),
    /// Flags: 0 false, 1 true, 2 missing.
    Flag(Vec<u8>),
    /// Category codes into `levels`; `u32::MAX` where missing.
    Category {
        /// Canonical values.
        levels: Vec<String>,
        /// Codes.
        codes: Vec<u32>,
    },
    /// Days since 1970-01-01; `i32::MIN` where missing.
    Date(Vec<i32>),
}

/// The item catalogue.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Items {
    /// Item IDs; an item index indexes this. Sorted, so lookups are binary searches.
    pub ids: Vec<String>,
    /// Item names (empty when unknown).
    pub names: Vec<String>,
    /// Canonical category index per item; `u16::MAX` when none.
    pub category: Vec<u16>,
    /// Canonical category names.
    pub category_names: Vec<String>,
    /// Whether customers buy the item again (consumables): such items may be recommended again.
    pub repurchasable: Vec<bool>,
}

/// One tag of the catalog.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TagInfo {
    /// Name.
    pub name: String,
    /// Type.
    pub tag_type: TagType,
    /// Meaning.
    pub description: String,
    /// Owner.
    pub owner: String,
    /// Share of customers with a value.
    pub coverage: f32,
    /// Aliases.
    pub aliases: Vec<String>,
    /// Canonical values.
    pub values: Vec<String>,
}

/// A reason code: a feature and how much it pushed the risk up (log-odds).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct ReasonCode {
    /// Index into [`ChurnOutputs::features`].
    pub feature: u16,
    /// Contribution to the log-odds.
    pub contribution: f32,
}

/// Churn risk per customer.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ChurnOutputs {
    /// The chosen model (`logistic`, `tree_ensemble`, ...).
    pub model: String,
    /// Feature names the reasons refer to.
    pub features: Vec<String>,
    /// Calibrated probability of no purchase in the horizon; NaN for customers not scored.
    pub probability: Vec<f32>,
    /// Up to three reasons per customer: `reasons[c * 3 .. c * 3 + 3]` (contribution 0 = none).
    pub reasons: Vec<ReasonCode>,
    /// Probability thresholds between low/medium and medium/high risk.
    pub band_thresholds: [f32; 2],
    /// Churn probability × expected value of the customer over the horizon (for ranking at-risk lists).
    pub value_at_risk: Vec<f32>,
    /// Horizon of the churn label, days.
    pub horizon_days: u32,
}

/// What a marketer should do now.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Urgency {
    /// Overdue and fading: win back now.
    WinBack,
    /// Due soon: remind.
    Remind,
    /// Just bought: wait.
    Wait,
    /// Probably gone: low priority.
    Lapsed,
    /// Never bought: nothing to time.
    Unknown,
}

/// Promotion timing per customer.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct TimingOutputs {
    /// Predicted next purchase day (days since 1970-01-01); `i32::MIN` when no purchase is expected.
    pub next_purchase_day: Vec<i32>,
    /// Send window start day.
    pub window_start: Vec<i32>,
    /// Send window end day.
    pub window_end: Vec<i32>,
    /// Urgency.
    pub urgency: Vec<Urgency>,
    /// Probability the customer is still active (BG/NBD).
    pub p_alive: Vec<f32>,
    /// Expected purchases in the next 30 days.
    pub expected_30d: Vec<f32>,
    /// Expected purchases in the next 90 days.
    pub expected_90d: Vec<f32>,
}

/// Why an item is recommended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum RecReason {
    /// Bought before and due again by its repurchase cycle.
    BoughtBeforeAndDue,
    /// Similar to what the customer bought.
    SimilarTo,
    /// Popular in the customer's segment.
    PopularInSegment,
    /// Popular overall.
    Popular,
}

/// Recommendations: precomputed per customer, plus what answers for unknown customers and baskets.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Recommendations {
    /// Offsets into the per-customer lists: customer `c` has `items[offsets[c]..offsets[c + 1]]`.
    pub offsets: Vec<u32>,
    /// Recommended item indices, best first.
    pub items: Vec<u32>,
    /// Their scores.
    pub scores: Vec<f32>,
    /// Their reasons.
    pub reasons: Vec<RecReason>,
    /// Item neighbours: item `i` has `neighbour_items[neighbour_offsets[i]..neighbour_offsets[i + 1]]`.
    pub neighbour_offsets: Vec<u32>,
    /// Neighbouring item indices, most similar first.
    pub neighbour_items: Vec<u32>,
    /// Their similarities.
    pub neighbour_scores: Vec<f32>,
    /// Items by popularity, most popular first.
    pub popular: Vec<u32>,
    /// Segment names.
    pub segments: Vec<String>,
    /// Popular items per segment.
    pub segment_popular: Vec<Vec<u32>>,
    /// Segment of each customer (`u16::MAX` when none).
    pub customer_segment: Vec<u16>,
}
