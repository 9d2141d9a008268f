//! Hand-rendered JSON for the recommendation answers, the hottest responses: each item's constant part
//! (`{"item":…,"name":…,"category":…,"score":`) is rendered once per model, so a request only copies
//! fragments into one buffer and formats the scores. The bytes are exactly what serde_json makes of
//! [`RecommendationsResponse`](super::dto::RecommendationsResponse) (a test checks it). Answers are split
//! off a per-thread output buffer, so most of them need no allocation of their own.

use std::cell::RefCell;

use bytes::{BufMut, Bytes, BytesMut};
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

/// Size of the per-thread output buffers answers are split off.
const OUTPUT_BUFFER: usize = 64 << 10;

thread_local! {
    static OUTPUT: RefCell<BytesMut> = RefCell::new(BytesMut::new());
}

/// Runs `write` on this thread's output buffer (with at least `estimate` bytes free) and splits off what it
/// wrote. A buffer is shared by the answers split off it until they are all sent, and then freed.
fn split_off_output(estimate: usize, write: impl FnOnce(&mut BytesMut)) -> Bytes {
    OUTPUT.with_borrow_mut(|out| {
        if out.capacity() - out.len() < estimate {
            out.reserve(estimate.max(OUTPUT_BUFFER));
        }
        write(out);
        out.split().freeze()
    })
}

/// Appends `value` as a JSON string (serde_json's escaping).
fn push_json_str(out: &mut impl BufMut, value: &str) {
    // Writing into memory cannot fail.
    let _ = serde_json::to_writer(out.writer(), value);
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
        let mut text: Vec<u8> = Vec::with_capacity(count * 80);
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
        let mut tail: Vec<u8> = br#","model_version":"#.to_vec();
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
    ) -> Bytes {
        // Touching both ends of every fragment first lets their cache misses overlap; the copies below
        // would otherwise wait for them one after another.
        let mut touched = 0u8;
        let mut items = 0;
        for r in &list.items {
            let fragment = self.item(r.item);
            touched ^= fragment.first().copied().unwrap_or(0) ^ fragment.last().copied().unwrap_or(0);
            items += fragment.len() + 40;
        }
        std::hint::black_box(touched);
        split_off_output(items + self.tail.len() + 96, |out| self.write(out, model, customer, list, unknown_items))
    }

    fn write(
        &self,
        out: &mut BytesMut,
        model: &Model,
        customer: Option<CustomerIdx>,
        list: &RecList,
        unknown_items: &[String],
    ) {
        out.extend_from_slice(br#"{"customer_id":"#);
        match customer {
            Some(c) => push_json_str(out, model.customer_id(c)),
            None => out.extend_from_slice(b"null"),
        }
        out.extend_from_slice(br#","items":["#);
        for (n, r) in list.items.iter().enumerate() {
            if n > 0 {
                out.put_u8(b',');
            }
            out.extend_from_slice(self.item(r.item));
            let score = if r.score.is_finite() { r.score } else { 0.0 };
            let _ = CompactFormatter.write_f32(&mut out.writer(), score);
            out.extend_from_slice(reason_tail(r.reason));
        }
        out.extend_from_slice(br#"],"fallback":"#);
        match list.fallback {
            Some(f) => push_json_str(out, f.as_str()),
            None => out.extend_from_slice(b"null"),
        }
        if !unknown_items.is_empty() {
            out.extend_from_slice(br#","unknown_items":"#);
            let _ = serde_json::to_writer(out.writer(), unknown_items);
        }
        out.extend_from_slice(&self.tail);
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
                    assert_eq!(std::str::from_utf8(&rendered).unwrap(), String::from_utf8(expected).unwrap());
                }
            }
        }
        let basket = model.recommend_for_basket(&[ItemIdx(0), ItemIdx(1)], None, &queries[1]);
        assert_eq!(fragments.recommendations(&model, None, &basket, &[]), serde_form(&model, None, &basket, &[]));
    }
}
