//! The payload of format version 2, column by column: the per-customer and per-item arrays as raw columns
//! (see [`columns`](super::columns)), string lists as [`StrColumn`]s, and everything small (tag catalog,
//! names, popular lists) as one bincode value. Writer and reader list the columns in the same order; the
//! structs are destructured exhaustively, so a new field does not compile until it is encoded.

use std::io::Read;

use serde::{Deserialize, Serialize};

use super::BundleError;
use super::columns::{ColumnReader, ColumnWriter};
use super::contents::*;
use super::strings::StrColumn;
use crate::domain::TagType;

/// A payload as read: the contents, with the customer IDs and keys kept as string columns (the server
/// wants them that way; [`Decoded::into_contents`] makes `String`s of them).
#[derive(Debug)]
pub struct Decoded {
    /// Everything but `customers.ids` and `customers.keys`, which are left empty.
    pub contents: BundleContents,
    /// Customer IDs.
    pub ids: StrColumn,
    /// Customer keys.
    pub keys: StrColumn,
    /// Customer index of each key.
    pub key_customers: Vec<u32>,
}

impl Decoded {
    /// The contents with every field filled.
    pub fn into_contents(self) -> BundleContents {
        let mut contents = self.contents;
        contents.customers.ids = self.ids.to_strings();
        contents.customers.keys = self.keys.iter().map(str::to_owned).zip(self.key_customers).collect();
        contents
    }
}

#[derive(Debug, Serialize, Deserialize)]
enum Kind {
    Number,
    Flag,
    Category,
    Date,
}

#[derive(Debug, Serialize, Deserialize)]
struct ProfileMeta {
    name: String,
    tag_type: TagType,
    kind: Kind,
    levels: Vec<String>,
}

/// The small parts, in one bincode value.
#[derive(Debug, Serialize, Deserialize)]
struct Meta {
    profile: Vec<ProfileMeta>,
    category_names: Vec<String>,
    tags: Vec<TagInfo>,
    churn_model: String,
    churn_features: Vec<String>,
    band_thresholds: [f32; 2],
    horizon_days: u32,
    popular: Vec<u32>,
    segments: Vec<String>,
    segment_popular: Vec<Vec<u32>>,
}

fn urgency_code(u: Urgency) -> u8 {
    match u {
        Urgency::WinBack => 0,
        Urgency::Remind => 1,
        Urgency::Wait => 2,
        Urgency::Lapsed => 3,
        Urgency::Unknown => 4,
    }
}

fn urgency_from(code: u8) -> Option<Urgency> {
    [Urgency::WinBack, Urgency::Remind, Urgency::Wait, Urgency::Lapsed, Urgency::Unknown].get(code as usize).copied()
}

fn reason_code(r: RecReason) -> u8 {
    match r {
        RecReason::BoughtBeforeAndDue => 0,
        RecReason::SimilarTo => 1,
        RecReason::PopularInSegment => 2,
        RecReason::Popular => 3,
    }
}

fn reason_from(code: u8) -> Option<RecReason> {
    [RecReason::BoughtBeforeAndDue, RecReason::SimilarTo, RecReason::PopularInSegment, RecReason::Popular]
        .get(code as usize)
        .copied()
}

fn strings(list: &[String]) -> Result<StrColumn, String> {
    StrColumn::from_strings(list).map_err(|e| e.to_string())
}

/// Writes `contents` as columns.
pub fn encode<W: std::io::Write>(contents: &BundleContents, w: &mut ColumnWriter<W>) -> Result<(), String> {
    let BundleContents { customers, items, tags, churn, timing, recommendations } = contents;
    let Customers { ids, keys, profile } = customers;
    let Items { ids: item_ids, names, category, category_names, repurchasable } = items;
    let ChurnOutputs { model, features, probability, reasons, band_thresholds, value_at_risk, horizon_days } = churn;
    let TimingOutputs { next_purchase_day, window_start, window_end, urgency, p_alive, expected_30d, expected_90d } =
        timing;
    let Recommendations {
        offsets,
        items: rec_items,
        scores,
        reasons: rec_reasons,
        neighbour_offsets,
        neighbour_items,
        neighbour_scores,
        popular,
        segments,
        segment_popular,
        customer_segment,
    } = recommendations;

    let meta = Meta {
        profile: profile
            .iter()
            .map(|p| {
                let (kind, levels) = match &p.values {
                    ColumnValues::Number(_) => (Kind::Number, Vec::new()),
                    ColumnValues::Flag(_) => (Kind::Flag, Vec::new()),
                    ColumnValues::Category { levels, .. } => (Kind::Category, levels.clone()),
                    ColumnValues::Date(_) => (Kind::Date, Vec::new()),
                };
                ProfileMeta { name: p.name.clone(), tag_type: p.tag_type, kind, levels }
            })
            .collect(),
        category_names: category_names.clone(),
        tags: tags.clone(),
        churn_model: model.clone(),
        churn_features: features.clone(),
        band_thresholds: *band_thresholds,
        horizon_days: *horizon_days,
        popular: popular.clone(),
        segments: segments.clone(),
        segment_popular: segment_popular.clone(),
    };
    w.value(&meta)?;

    w.strings(&strings(ids)?);
    let key_text: Vec<&str> = keys.iter().map(|(k, _)| k.as_str()).collect();
    w.strings(&StrColumn::from_strings(&key_text).map_err(|e| e.to_string())?);
    w.scalars(&keys.iter().map(|(_, c)| *c).collect::<Vec<u32>>());
    for column in profile {
        match &column.values {
            ColumnValues::Number(v) => w.scalars(v),
            ColumnValues::Flag(v) => w.scalars(v),
            ColumnValues::Category { codes, .. } => w.scalars(codes),
            ColumnValues::Date(v) => w.scalars(v),
        }
    }

    w.strings(&strings(item_ids)?);
    w.strings(&strings(names)?);
    w.scalars(category);
    w.scalars(&repurchasable.iter().map(|&b| u8::from(b)).collect::<Vec<u8>>());

    w.scalars(probability);
    w.scalars(&reasons.iter().map(|r| r.feature).collect::<Vec<u16>>());
    w.scalars(&reasons.iter().map(|r| r.contribution).collect::<Vec<f32>>());
    w.scalars(value_at_risk);

    w.scalars(next_purchase_day);
    w.scalars(window_start);
    w.scalars(window_end);
    w.scalars(&urgency.iter().map(|&u| urgency_code(u)).collect::<Vec<u8>>());
    w.scalars(p_alive);
    w.scalars(expected_30d);
    w.scalars(expected_90d);

    w.scalars(offsets);
    w.scalars(rec_items);
    w.scalars(scores);
    w.scalars(&rec_reasons.iter().map(|&r| reason_code(r)).collect::<Vec<u8>>());
    w.scalars(neighbour_offsets);
    w.scalars(neighbour_items);
    w.scalars(neighbour_scores);
    w.scalars(customer_segment);
    Ok(())
}

/// Reads the columns [`encode`] wrote.
pub fn decode<R: Read>(r: &mut ColumnReader<'_, R>) -> Result<Decoded, BundleError> {
    let meta: Meta = r.value()?;
    let ids = r.strings()?;
    let keys = r.strings()?;
    let key_customers = r.scalars()?;
    if key_customers.len() != keys.len() {
        return Err(r.codec("customer keys and their customers differ in length"));
    }
    let mut profile = Vec::with_capacity(meta.profile.len());
    for p in meta.profile {
        let values = match p.kind {
            Kind::Number => ColumnValues::Number(r.scalars()?),
            Kind::Flag => ColumnValues::Flag(r.scalars()?),
            Kind::Category => ColumnValues::Category { levels: p.levels, codes: r.scalars()? },
            Kind::Date => ColumnValues::Date(r.scalars()?),
        };
        profile.push(ProfileColumnData { name: p.name, tag_type: p.tag_type, values });
    }

    let items = Items {
        ids: r.strings()?.to_strings(),
        names: r.strings()?.to_strings(),
        category: r.scalars()?,
        category_names: meta.category_names,
        repurchasable: r.scalars::<u8>()?.into_iter().map(|b| b != 0).collect(),
    };

    let probability = r.scalars()?;
    let features: Vec<u16> = r.scalars()?;
    let contributions: Vec<f32> = r.scalars()?;
    if features.len() != contributions.len() {
        return Err(r.codec("churn reason features and contributions differ in length"));
    }
    let churn = ChurnOutputs {
        model: meta.churn_model,
        features: meta.churn_features,
        probability,
        reasons: features
            .into_iter()
            .zip(contributions)
            .map(|(feature, contribution)| ReasonCode { feature, contribution })
            .collect(),
        band_thresholds: meta.band_thresholds,
        value_at_risk: r.scalars()?,
        horizon_days: meta.horizon_days,
    };

    let next_purchase_day = r.scalars()?;
    let window_start = r.scalars()?;
    let window_end = r.scalars()?;
    let urgency = r
        .scalars::<u8>()?
        .into_iter()
        .map(urgency_from)
        .collect::<Option<Vec<_>>>()
        .ok_or_else(|| r.codec("unknown urgency code"))?;
    let timing = TimingOutputs {
        next_purchase_day,
        window_start,
        window_end,
        urgency,
        p_alive: r.scalars()?,
        expected_30d: r.scalars()?,
        expected_90d: r.scalars()?,
    };

    let offsets = r.scalars()?;
    let rec_items = r.scalars()?;
    let scores = r.scalars()?;
    let reasons = r
        .scalars::<u8>()?
        .into_iter()
        .map(reason_from)
        .collect::<Option<Vec<_>>>()
        .ok_or_else(|| r.codec("unknown recommendation reason code"))?;
    let recommendations = Recommendations {
        offsets,
        items: rec_items,
        scores,
        reasons,
        neighbour_offsets: r.scalars()?,
        neighbour_items: r.scalars()?,
        neighbour_scores: r.scalars()?,
        popular: meta.popular,
        segments: meta.segments,
        segment_popular: meta.segment_popular,
        customer_segment: r.scalars()?,
    };

    let contents = BundleContents {
        customers: Customers { ids: Vec::new(), keys: Vec::new(), profile },
        items,
        tags: meta.tags,
        churn,
        timing,
        recommendations,
    };
    Ok(Decoded { contents, ids, keys, key_customers })
}
