//! Hand-rendered JSON for the recommendation answers, the hottest responses: each item's constant part
//! (`{"item":…,"name":…,"category":…,"score":`) is rendered once per model, so a request only copies
//! fragments into one pre-sized buffer and formats the scores. The bytes are exactly what serde_json
//! makes of [`RecommendationsResponse`](super::dto::RecommendationsResponse) (a test checks it).

use serde_json::ser::{CompactFormatter, Formatter};

use crate::bundle::RecReason;
use crate::inference::recommend::RecList;
use crate::inference::{CustomerIdx, ItemIdx, Model};

/// The constant JSON of every item of one model, rendered once.
#[derive(Debug, Default)]
pub struct ItemFragments {
    /// Every fragment back to back.
    text: Vec<u8>,
    /// Item `i` is `text[offsets[i]..offsets[i + 1]]`.
    offsets: Vec<usize>,
    /// `,"model_version":"…"}`.
    tail: Vec<u8>,
}

/// Appends `value` as a JSON string (serde_json's escaping).
fn push_json_str(out: &mut Vec<u8>, value: &str) {
    // Writing into a Vec cannot fail.
    let _ = serde_json::to_writer(&mut *out, value);
}

/// The JSON object key and value of a reason, closing the item: `,"reason":"…"}`.
fn reason_tail(reason: RecReason) -> &'static [u8] {
    match reason {
        RecReason::BoughtBeforeAndDue => br#","reason":"bought-before-and-due"}"#,
        RecReason::SimilarTo => br#","reason":"similar-to"}"#,
        RecReason::PopularInSegment => br#","reason":"popular-in-segment"}"#,
        RecReason::Popular => br#","reason":"popular"}"#,
    }
}

impl ItemFragments {
    /// Renders the fragments of every item of `model`.
    pub fn new(model: &Model) -> Self {
        let count = model.item_count();
        let mut text = Vec::with_capacity(count * 80);
        let mut offsets = Vec::with_capacity(count + 1);
        offsets.push(0);
        for i in 0..count {
            let item = ItemIdx(i as u32);
            text.extend_from_slice(br#"{"item":"#);
            push_json_str(&mut text, model.item_id(item));
            text.extend_from_slice(br#","name":"#);
            push_json_str(&mut text, model.item_name(item));
            text.extend_from_slice(br#","category":"#);
            match model.item_category(item) {
                Some(category) => push_json_str(&mut text, category),
                None => text.extend_from_slice(b"null"),
            }
            text.extend_from_slice(br#","score":"#);
            offsets.push(text.len());
        }
        let mut tail = br#","model_version":"#.to_vec();
        push_json_str(&mut tail, model.version());
        tail.push(b'}');
        Self { text, offsets, tail }
    }

    fn item(&self, item: ItemIdx) -> &[u8] {
        &self.text[self.offsets[item.get()]..self.offsets[item.get() + 1]]
    }

    /// The body of a recommendations answer (`unknown_items` only when not empty, like the serde form).
    pub fn recommendations(
        &self,
        model: &Model,
        customer: Option<CustomerIdx>,
        list: &RecList,
        unknown_items: &[String],
    ) -> Vec<u8> {
        let items: usize = list.items.iter().map(|r| self.item(r.item).len() + 40).sum();
        let mut out = Vec::with_capacity(items + self.tail.len() + 96);
        out.extend_from_slice(br#"{"customer_id":"#);
        match customer {
            Some(c) => push_json_str(&mut out, model.customer_id(c)),
            None => out.extend_from_slice(b"null"),
        }
        out.extend_from_slice(br#","items":["#);
        for (n, r) in list.items.iter().enumerate() {
            if n > 0 {
                out.push(b',');
            }
            out.extend_from_slice(self.item(r.item));
            let score = if r.score.is_finite() { r.score } else { 0.0 };
            let _ = CompactFormatter.write_f32(&mut out, score);
            out.extend_from_slice(reason_tail(r.reason));
        }
        out.extend_from_slice(br#"],"fallback":"#);
        match list.fallback {
            Some(f) => push_json_str(&mut out, f.as_str()),
            None => out.extend_from_slice(b"null"),
        }
        if !unknown_items.is_empty() {
            out.extend_from_slice(br#","unknown_items":"#);
            let _ = serde_json::to_writer(&mut out, unknown_items);
        }
        out.extend_from_slice(&self.tail);
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::inference::recommend::RecQuery;
    use crate::inference::synthetic::SyntheticParams;
    use crate::server::dto::{RecommendationsResponse, reason_name};

    fn model() -> Model {
        let mut bundle = SyntheticParams::new(400, 60).model_version("v\"1\\é").build();
        bundle.contents.items.names[0] = "odd \"name\"\n\u{1F600} \u{7}".to_owned();
        bundle.contents.items.category[1] = u16::MAX;
        Model::from_bundle(bundle).unwrap()
    }

    fn serde_form(model: &Model, customer: Option<CustomerIdx>, list: &RecList, unknown: &[String]) -> Vec<u8> {
        let mut response = RecommendationsResponse::new(model, customer, list);
        response.unknown_items = unknown.to_vec();
        serde_json::to_vec(&response).unwrap()
    }

    #[test]
    fn reason_tails_use_the_wire_names() {
        for reason in
            [RecReason::BoughtBeforeAndDue, RecReason::SimilarTo, RecReason::PopularInSegment, RecReason::Popular]
        {
            let expected = format!(",\"reason\":\"{}\"}}", reason_name(reason));
            assert_eq!(reason_tail(reason), expected.as_bytes(), "{reason:?}");
        }
    }

    #[test]
    fn rendered_answers_are_byte_for_byte_the_serde_form() {
        let model = model();
        let fragments = ItemFragments::new(&model);
        let queries = [
            RecQuery { k: 10, ..RecQuery::default() },
            RecQuery { k: 60, ..RecQuery::default() },
            RecQuery { k: 5, category: Some(model.category("snacks").unwrap()), exclude: vec![] },
        ];
        let cold = model.resolve(&SyntheticParams::cold_key(0)).unwrap();
        let customers = (0..400).map(|i| Some(CustomerIdx(i))).chain([None, Some(cold)]);
        for customer in customers {
            for query in &queries {
                let mut list = model.recommend(customer, query);
                if let Some(first) = list.items.first_mut() {
                    first.score = f32::NAN;
                }
                for unknown in [&[][..], &["SKU\"x".to_owned(), "é".to_owned()][..]] {
                    let rendered = fragments.recommendations(&model, customer, &list, unknown);
                    let expected = serde_form(&model, customer, &list, unknown);
                    assert_eq!(String::from_utf8(rendered).unwrap(), String::from_utf8(expected).unwrap());
                }
            }
        }
        let basket = model.recommend_for_basket(&[ItemIdx(0), ItemIdx(1)], None, &queries[1]);
        assert_eq!(fragments.recommendations(&model, None, &basket, &[]), serde_form(&model, None, &basket, &[]));
    }
}
