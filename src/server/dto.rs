//! Wire types: what the API sends and accepts, kept apart from the bundle and inference types so either can
//! change without breaking clients. Builders take a [`Model`] and indices and borrow its strings.

use serde::ser::{SerializeMap, Serializer};
use serde::{Deserialize, Serialize};

use crate::bundle::{Metric, RecReason, TagInfo, Urgency};
use crate::inference::recommend::{RecList, Recommendation};
use crate::inference::{CustomerIdx, Model, TagValue};

/// Wire name of a recommendation reason.
pub fn reason_name(reason: RecReason) -> &'static str {
    match reason {
        RecReason::BoughtBeforeAndDue => "bought-before-and-due",
        RecReason::SimilarTo => "similar-to",
        RecReason::PopularInSegment => "popular-in-segment",
        RecReason::Popular => "popular",
    }
}

/// Wire name of an urgency.
pub fn urgency_name(urgency: Urgency) -> &'static str {
    match urgency {
        Urgency::WinBack => "win_back",
        Urgency::Remind => "remind",
        Urgency::Wait => "wait",
        Urgency::Lapsed => "lapsed",
        Urgency::Unknown => "unknown",
    }
}

fn date(d: Option<chrono::NaiveDate>) -> Option<String> {
    d.map(|d| d.format("%Y-%m-%d").to_string())
}

/// Profile tags as a JSON object in column order: numbers, booleans, strings, `YYYY-MM-DD` dates.
#[derive(Debug)]
pub struct Tags<'a>(pub Vec<(&'a str, TagValue<'a>)>);

impl Serialize for Tags<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(self.0.len()))?;
        for (name, value) in &self.0 {
            match value {
                TagValue::Number(x) => map.serialize_entry(name, x)?,
                TagValue::Flag(b) => map.serialize_entry(name, b)?,
                TagValue::Category(c) => map.serialize_entry(name, c)?,
                TagValue::Date(d) => map.serialize_entry(name, &d.format("%Y-%m-%d").to_string())?,
            }
        }
        map.end()
    }
}

/// `GET /v1/customers/{key}`: the unified profile with every model output.
#[derive(Debug, Serialize)]
pub struct CustomerResponse<'a> {
    /// Unified customer ID.
    pub customer_id: &'a str,
    /// Keys each channel knows the customer by.
    pub source_keys: Vec<&'a str>,
    /// Canonical tags with values.
    pub tags: Tags<'a>,
    /// Churn risk.
    pub churn: ChurnResponse<'a>,
    /// Promotion timing.
    pub promotion_timing: TimingResponse<'a>,
    /// Recommendations.
    pub recommendations: RecommendationsResponse<'a>,
    /// Model version.
    pub model_version: &'a str,
}

impl<'a> CustomerResponse<'a> {
    /// Builds the full answer for customer `c`.
    pub fn new(model: &'a Model, c: CustomerIdx, recs: &RecList) -> Self {
        let profile = model.profile(c);
        Self {
            customer_id: profile.customer_id,
            source_keys: profile.source_keys,
            tags: Tags(profile.tags),
            churn: ChurnResponse::new(model, c),
            promotion_timing: TimingResponse::new(model, c),
            recommendations: RecommendationsResponse::new(model, Some(c), recs),
            model_version: model.version(),
        }
    }
}

/// One churn reason.
#[derive(Debug, Serialize)]
pub struct ReasonDto<'a> {
    /// Feature or tag name.
    pub tag: &'a str,
    /// Contribution to the log-odds.
    pub contribution: f32,
}

/// `GET /v1/customers/{key}/churn`.
#[derive(Debug, Serialize)]
pub struct ChurnResponse<'a> {
    /// Unified customer ID.
    pub customer_id: &'a str,
    /// Probability of no purchase in the horizon; null when not scored.
    pub churn_probability: Option<f32>,
    /// `low`, `medium`, `high`; null when not scored.
    pub risk_band: Option<&'static str>,
    /// Top reasons.
    pub reasons: Vec<ReasonDto<'a>>,
    /// Probability the customer is still active.
    pub p_alive: Option<f32>,
    /// Churn probability × expected value.
    pub value_at_risk: Option<f32>,
    /// Horizon of the churn label, days.
    pub horizon_days: u32,
    /// Model version.
    pub model_version: &'a str,
}

impl<'a> ChurnResponse<'a> {
    /// Builds the churn answer for customer `c`.
    pub fn new(model: &'a Model, c: CustomerIdx) -> Self {
        let churn = model.churn(c);
        Self {
            customer_id: model.customer_id(c),
            churn_probability: churn.probability,
            risk_band: churn.band.map(|b| b.as_str()),
            reasons: churn.reasons.into_iter().map(|(tag, contribution)| ReasonDto { tag, contribution }).collect(),
            p_alive: churn.p_alive,
            value_at_risk: churn.value_at_risk,
            horizon_days: model.c.churn.horizon_days,
            model_version: model.version(),
        }
    }
}

/// `GET /v1/customers/{key}/promotion-timing`.
#[derive(Debug, Serialize)]
pub struct TimingResponse<'a> {
    /// Unified customer ID.
    pub customer_id: &'a str,
    /// Predicted next purchase (`YYYY-MM-DD`); null when none is expected.
    pub next_purchase_date: Option<String>,
    /// Send window start.
    pub window_start: Option<String>,
    /// Send window end.
    pub window_end: Option<String>,
    /// `win_back`, `remind`, `wait`, `lapsed`, `unknown`.
    pub urgency: &'static str,
    /// Probability the customer is still active.
    pub p_alive: Option<f32>,
    /// Expected purchases in the next 30 days.
    pub expected_purchases_30d: Option<f32>,
    /// Expected purchases in the next 90 days.
    pub expected_purchases_90d: Option<f32>,
    /// Model version.
    pub model_version: &'a str,
}

impl<'a> TimingResponse<'a> {
    /// Builds the timing answer for customer `c`.
    pub fn new(model: &'a Model, c: CustomerIdx) -> Self {
        let t = model.timing(c);
        Self {
            customer_id: model.customer_id(c),
            next_purchase_date: date(t.next_purchase),
            window_start: date(t.window_start),
            window_end: date(t.window_end),
            urgency: urgency_name(t.urgency),
            p_alive: t.p_alive,
            expected_purchases_30d: t.expected_30d,
            expected_purchases_90d: t.expected_90d,
            model_version: model.version(),
        }
    }
}

/// One recommended item.
#[derive(Debug, Serialize)]
pub struct RecItem<'a> {
    /// Item ID.
    pub item: &'a str,
    /// Item name.
    pub name: &'a str,
    /// Category, when known.
    pub category: Option<&'a str>,
    /// Score (higher is better).
    pub score: f32,
    /// `bought-before-and-due`, `similar-to`, `popular-in-segment`, `popular`.
    pub reason: &'static str,
}

impl<'a> RecItem<'a> {
    /// Wire form of one recommendation.
    pub fn new(model: &'a Model, r: &Recommendation) -> Self {
        Self {
            item: model.item_id(r.item),
            name: model.item_name(r.item),
            category: model.item_category(r.item),
            score: if r.score.is_finite() { r.score } else { 0.0 },
            reason: reason_name(r.reason),
        }
    }
}

/// `GET /v1/customers/{key}/recommendations` and `POST /v1/recommendations`.
#[derive(Debug, Serialize)]
pub struct RecommendationsResponse<'a> {
    /// Unified customer ID; null for customers the model has never seen and anonymous baskets.
    pub customer_id: Option<&'a str>,
    /// Items, best first.
    pub items: Vec<RecItem<'a>>,
    /// Set when nothing personal was found: `popular-in-segment` or `popular`.
    pub fallback: Option<&'static str>,
    /// Basket items that are not in the catalogue (basket requests only).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub unknown_items: Vec<String>,
    /// Model version.
    pub model_version: &'a str,
}

impl<'a> RecommendationsResponse<'a> {
    /// Wire form of a recommendation list.
    pub fn new(model: &'a Model, customer: Option<CustomerIdx>, list: &RecList) -> Self {
        Self {
            customer_id: customer.map(|c| model.customer_id(c)),
            items: list.items.iter().map(|r| RecItem::new(model, r)).collect(),
            fallback: list.fallback.map(|f| f.as_str()),
            unknown_items: Vec::new(),
            model_version: model.version(),
        }
    }
}

/// `GET /v1/items/{item}/similar`.
#[derive(Debug, Serialize)]
pub struct SimilarResponse<'a> {
    /// The item asked about.
    pub item: &'a str,
    /// Similar items, most similar first.
    pub items: Vec<RecItem<'a>>,
    /// Model version.
    pub model_version: &'a str,
}

/// `POST /v1/recommendations` body: a basket and optionally who is shopping.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BasketRequest {
    /// Item IDs in the cart.
    #[serde(default)]
    pub items: Vec<String>,
    /// The shopper's customer key, when known.
    #[serde(default)]
    pub customer: Option<String>,
    /// How many items.
    #[serde(default)]
    pub k: Option<u32>,
    /// Only this category.
    #[serde(default)]
    pub category: Option<String>,
    /// Items never to recommend.
    #[serde(default)]
    pub exclude: Vec<String>,
}

/// One at-risk customer.
#[derive(Debug, Serialize)]
pub struct AtRiskEntry<'a> {
    /// Unified customer ID.
    pub customer_id: &'a str,
    /// Churn probability.
    pub churn_probability: Option<f32>,
    /// Churn probability × expected value.
    pub value_at_risk: Option<f32>,
    /// Risk band.
    pub risk_band: Option<&'static str>,
    /// Probability the customer is still active.
    pub p_alive: Option<f32>,
    /// What to do now.
    pub urgency: &'static str,
    /// Predicted next purchase.
    pub next_purchase_date: Option<String>,
    /// Keys each channel knows the customer by.
    pub source_keys: Vec<&'a str>,
}

impl<'a> AtRiskEntry<'a> {
    /// Builds the entry for customer `c`.
    pub fn new(model: &'a Model, c: CustomerIdx) -> Self {
        let churn = model.churn(c);
        let timing = model.timing(c);
        Self {
            customer_id: model.customer_id(c),
            churn_probability: churn.probability,
            value_at_risk: churn.value_at_risk,
            risk_band: churn.band.map(|b| b.as_str()),
            p_alive: churn.p_alive,
            urgency: urgency_name(timing.urgency),
            next_purchase_date: date(timing.next_purchase),
            source_keys: model.source_keys(c).collect(),
        }
    }

    /// The CSV header matching [`AtRiskEntry::write_csv`].
    pub const CSV_HEADER: &'static str =
        "customer_id,churn_probability,value_at_risk,risk_band,p_alive,urgency,next_purchase_date,source_keys\n";

    /// Appends the entry as one CSV line.
    pub fn write_csv(&self, out: &mut String) {
        fn num(out: &mut String, x: Option<f32>) {
            if let Some(x) = x {
                out.push_str(&format!("{x:.6}"));
            }
            out.push(',');
        }
        csv_field(out, self.customer_id);
        out.push(',');
        num(out, self.churn_probability);
        num(out, self.value_at_risk);
        out.push_str(self.risk_band.unwrap_or(""));
        out.push(',');
        num(out, self.p_alive);
        out.push_str(self.urgency);
        out.push(',');
        out.push_str(self.next_purchase_date.as_deref().unwrap_or(""));
        out.push(',');
        csv_field(out, &self.source_keys.join("|"));
        out.push('\n');
    }
}

/// Appends a CSV field, quoted when it holds a comma, quote or line break; a leading `=`, `+`, `-` or `@`
/// is prefixed with `'` so spreadsheets do not run it as a formula.
pub fn csv_field(out: &mut String, text: &str) {
    let guarded = text.starts_with(['=', '+', '-', '@']);
    if guarded || text.contains([',', '"', '\n', '\r']) {
        out.push('"');
        if guarded {
            out.push('\'');
        }
        out.push_str(&text.replace('"', "\"\""));
        out.push('"');
    } else {
        out.push_str(text);
    }
}

/// `GET /v1/at-risk` (JSON).
#[derive(Debug, Serialize)]
pub struct AtRiskResponse<'a> {
    /// Customers, highest value at risk first.
    pub customers: Vec<AtRiskEntry<'a>>,
    /// Pass as `cursor` for the next page; null on the last page.
    pub next_cursor: Option<String>,
    /// Model version (cursors are valid for this version only).
    pub model_version: &'a str,
}

/// One tag of the dictionary.
#[derive(Debug, Serialize)]
pub struct TagDto<'a> {
    /// Name.
    pub name: &'a str,
    /// `flag`, `category`, `number`, `date`.
    #[serde(rename = "type")]
    pub tag_type: &'static str,
    /// Meaning.
    pub description: &'a str,
    /// Owner.
    pub owner: &'a str,
    /// Share of customers with a value.
    pub coverage: f32,
    /// Aliases.
    pub aliases: &'a [String],
    /// Canonical values.
    pub values: &'a [String],
}

impl<'a> From<&'a TagInfo> for TagDto<'a> {
    fn from(t: &'a TagInfo) -> Self {
        Self {
            name: &t.name,
            tag_type: t.tag_type.as_str(),
            description: &t.description,
            owner: &t.owner,
            coverage: t.coverage,
            aliases: &t.aliases,
            values: &t.values,
        }
    }
}

/// `GET /v1/tags`.
#[derive(Debug, Serialize)]
pub struct TagsResponse<'a> {
    /// Dictionary version.
    pub dictionary_version: &'a str,
    /// Tags.
    pub tags: Vec<TagDto<'a>>,
}

/// `GET /v1/models`: the active bundle.
#[derive(Debug, Serialize)]
pub struct ModelResponse<'a> {
    /// Model version.
    pub model_version: &'a str,
    /// As-of date of the data.
    pub as_of: &'a str,
    /// When the bundle was written.
    pub created_at: &'a str,
    /// Crate version that wrote it.
    pub crate_version: &'a str,
    /// Training data fingerprint.
    pub data_fingerprint: &'a str,
    /// Churn model kind.
    pub churn_model: &'a str,
    /// Customers in the bundle.
    pub customers: usize,
    /// Items in the bundle.
    pub items: usize,
    /// Backtest metrics.
    pub metrics: &'a [Metric],
    /// How long loading took, milliseconds.
    pub load_ms: f64,
}

impl<'a> ModelResponse<'a> {
    /// Describes `model`.
    pub fn new(model: &'a Model) -> Self {
        let h = model.header();
        Self {
            model_version: &h.model_version,
            as_of: &h.as_of,
            created_at: &h.created_at,
            crate_version: &h.crate_version,
            data_fingerprint: &h.data_fingerprint,
            churn_model: &model.c.churn.model,
            customers: model.customer_count(),
            items: model.item_count(),
            metrics: &h.metrics,
            load_ms: model.load_time().as_secs_f64() * 1000.0,
        }
    }
}

/// `POST /v1/admin/reload` body (optional).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReloadRequest {
    /// Bundle to load; the configured one when absent.
    #[serde(default)]
    pub path: Option<std::path::PathBuf>,
}

/// `POST /v1/admin/reload` answer.
#[derive(Debug, Serialize)]
pub struct ReloadResponse {
    /// Version now serving.
    pub model_version: String,
    /// Version served before.
    pub previous_version: Option<String>,
    /// File loaded.
    pub path: String,
    /// Load time, milliseconds.
    pub load_ms: f64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_fields_are_quoted_and_formula_guarded() {
        let mut out = String::new();
        csv_field(&mut out, "plain");
        out.push(' ');
        csv_field(&mut out, "a,\"b\"");
        out.push(' ');
        csv_field(&mut out, "=cmd()");
        assert_eq!(out, "plain \"a,\"\"b\"\"\" \"'=cmd()\"");
    }
}
