//! Recommendations: a customer's precomputed list filtered by category and exclusions and topped up from
//! the segment's and then the overall popular items; similar items; and basket scoring from item neighbours
//! for anonymous carts.

use std::collections::HashMap;

use super::{CustomerIdx, ItemIdx, Model};
use crate::bundle::RecReason;

/// What to recommend: how many, from which category, never which items.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RecQuery {
    /// How many items at most.
    pub k: usize,
    /// Only items of this category (index into the category names).
    pub category: Option<u16>,
    /// Items never to recommend (already in the cart, just bought, out of stock).
    pub exclude: Vec<ItemIdx>,
}

/// Which fallback answered when the model had nothing personal to say.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fallback {
    /// The popular items of the customer's segment.
    Segment,
    /// The popular items overall.
    Popular,
}

impl Fallback {
    /// Name used on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Segment => "popular-in-segment",
            Self::Popular => "popular",
        }
    }
}

/// One recommended item.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Recommendation {
    /// The item.
    pub item: ItemIdx,
    /// Its score (model score; for popularity fill-ins `1 / (1 + rank)`).
    pub score: f32,
    /// Why.
    pub reason: RecReason,
}

/// A recommendation list.
#[derive(Debug, Clone, PartialEq)]
pub struct RecList {
    /// Items, best first.
    pub items: Vec<Recommendation>,
    /// Set when nothing personal was recommended and a fallback answered.
    pub fallback: Option<Fallback>,
}

/// Collects up to `k` distinct items that pass the query's filters.
struct Picker<'a> {
    model: &'a Model,
    query: &'a RecQuery,
    out: Vec<Recommendation>,
}

impl<'a> Picker<'a> {
    fn new(model: &'a Model, query: &'a RecQuery) -> Self {
        Self { model, query, out: Vec::with_capacity(query.k.min(256)) }
    }

    fn full(&self) -> bool {
        self.out.len() >= self.query.k
    }

    fn accepts(&self, item: ItemIdx) -> bool {
        self.query.category.is_none_or(|k| self.model.c.items.category[item.get()] == k)
            && !self.query.exclude.contains(&item)
            && !self.out.iter().any(|r| r.item == item)
    }

    fn offer(&mut self, item: ItemIdx, score: f32, reason: RecReason) {
        if !self.full() && self.accepts(item) {
            self.out.push(Recommendation { item, score, reason });
        }
    }

    /// Tops up from a popularity list; returns whether it added anything.
    fn top_up(&mut self, list: &[u32], reason: RecReason) -> bool {
        let before = self.out.len();
        for (rank, &item) in list.iter().enumerate() {
            if self.full() {
                break;
            }
            self.offer(ItemIdx(item), 1.0 / (1.0 + rank as f32), reason);
        }
        self.out.len() > before
    }

    /// Fills the rest from the customer's segment and then overall popularity, and marks the fallback
    /// when nothing personal was found.
    fn finish(mut self, customer: Option<CustomerIdx>, personal: usize) -> RecList {
        let mut used_segment = false;
        // A full list needs no top-up (and so no look at the customer's segment, a cache miss).
        if !self.full() {
            if let Some(list) = customer.and_then(|c| self.model.segment_popular(c)) {
                used_segment = self.top_up(list, RecReason::PopularInSegment);
            }
            self.top_up(self.model.popular(), RecReason::Popular);
        }
        let fallback = (personal == 0).then_some(if used_segment { Fallback::Segment } else { Fallback::Popular });
        RecList { items: self.out, fallback }
    }
}

impl Model {
    /// Recommendations for a customer (`None`: one the model has never seen, answered from popularity).
    pub fn recommend(&self, customer: Option<CustomerIdx>, query: &RecQuery) -> RecList {
        let mut picker = Picker::new(self, query);
        if let Some(c) = customer {
            for (item, score, reason) in self.personal_recs(c) {
                if picker.full() {
                    break;
                }
                picker.offer(item, score, reason);
            }
        }
        let personal = picker.out.len();
        picker.finish(customer, personal)
    }

    /// The items most similar to `item` (never `item` itself).
    pub fn similar(&self, item: ItemIdx, query: &RecQuery) -> Vec<Recommendation> {
        let mut picker = Picker::new(self, query);
        for (other, score) in self.neighbours(item) {
            if picker.full() {
                break;
            }
            if other != item {
                picker.offer(other, score, RecReason::SimilarTo);
            }
        }
        picker.out
    }

    /// Recommendations for a basket: each candidate scores the sum of its similarities to the basket's
    /// items, plus half its personal score when a known customer is given; basket items are never
    /// recommended. Topped up from popularity like [`Model::recommend`].
    pub fn recommend_for_basket(&self, basket: &[ItemIdx], customer: Option<CustomerIdx>, query: &RecQuery) -> RecList {
        let mut scores: HashMap<ItemIdx, (f32, RecReason)> = HashMap::new();
        for &item in basket {
            for (other, similarity) in self.neighbours(item) {
                if similarity.is_finite() {
                    scores.entry(other).or_insert((0.0, RecReason::SimilarTo)).0 += similarity;
                }
            }
        }
        if let Some(c) = customer {
            for (item, score, reason) in self.personal_recs(c) {
                if score.is_finite() {
                    scores.entry(item).or_insert((0.0, reason)).0 += 0.5 * score;
                }
            }
        }
        let mut ranked: Vec<(ItemIdx, f32, RecReason)> = scores.into_iter().map(|(i, (s, r))| (i, s, r)).collect();
        ranked.sort_unstable_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));

        let mut query = query.clone();
        query.exclude.extend_from_slice(basket);
        let mut picker = Picker::new(self, &query);
        for (item, score, reason) in ranked {
            if picker.full() {
                break;
            }
            picker.offer(item, score, reason);
        }
        let personal = picker.out.len();
        picker.finish(customer, personal)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::inference::synthetic::SyntheticParams;

    fn model() -> Model {
        Model::from_bundle(SyntheticParams::new(300, 80).build()).unwrap()
    }

    fn query(k: usize) -> RecQuery {
        RecQuery { k, ..RecQuery::default() }
    }

    #[test]
    fn a_known_customer_gets_personal_recommendations_first() {
        let model = model();
        let c = model.resolve("web:1").unwrap();
        let list = model.recommend(Some(c), &query(5));
        assert_eq!(list.fallback, None);
        assert_eq!(list.items.len(), 5);
        let personal: Vec<ItemIdx> = model.personal_recs(c).map(|(i, _, _)| i).take(5).collect();
        assert_eq!(list.items.iter().map(|r| r.item).collect::<Vec<_>>(), personal);
    }

    #[test]
    fn an_unknown_customer_gets_the_popular_fallback() {
        let model = model();
        let list = model.recommend(None, &query(4));
        assert_eq!(list.fallback, Some(Fallback::Popular));
        let popular: Vec<u32> = model.popular()[..4].to_vec();
        assert_eq!(list.items.iter().map(|r| r.item.0).collect::<Vec<_>>(), popular);
        assert!(list.items.iter().all(|r| r.reason == RecReason::Popular));
    }

    #[test]
    fn a_customer_without_a_list_gets_the_segment_fallback() {
        let model = model();
        let c = model.resolve(&SyntheticParams::cold_key(0)).unwrap();
        assert_eq!(model.personal_recs(c).count(), 0);
        let list = model.recommend(Some(c), &query(3));
        assert_eq!(list.fallback, Some(Fallback::Segment));
        assert!(list.items.iter().all(|r| r.reason == RecReason::PopularInSegment));
    }

    #[test]
    fn the_category_filter_keeps_only_that_category() {
        let model = model();
        let c = model.resolve("web:2").unwrap();
        let category = model.category("snacks").unwrap();
        let list = model.recommend(Some(c), &RecQuery { k: 10, category: Some(category), exclude: vec![] });
        assert_eq!(list.items.len(), 10);
        assert!(list.items.iter().all(|r| model.item_category(r.item) == Some("snacks")));
    }

    #[test]
    fn excluded_items_never_come_back_and_the_list_is_topped_up() {
        let model = model();
        let c = model.resolve("web:3").unwrap();
        let first = model.recommend(Some(c), &query(5));
        let exclude: Vec<ItemIdx> = first.items.iter().map(|r| r.item).collect();
        let second = model.recommend(Some(c), &RecQuery { k: 5, category: None, exclude: exclude.clone() });
        assert_eq!(second.items.len(), 5);
        assert!(second.items.iter().all(|r| !exclude.contains(&r.item)));
        let mut seen: Vec<ItemIdx> = second.items.iter().map(|r| r.item).collect();
        seen.sort();
        seen.dedup();
        assert_eq!(seen.len(), 5, "no duplicates");
    }

    #[test]
    fn similar_items_follow_the_neighbour_list_without_the_item_itself() {
        let model = model();
        let item = model.item(&SyntheticParams::item_id(7)).unwrap();
        let similar = model.similar(item, &query(5));
        let expected: Vec<ItemIdx> = model.neighbours(item).map(|(i, _)| i).filter(|&i| i != item).take(5).collect();
        assert_eq!(similar.iter().map(|r| r.item).collect::<Vec<_>>(), expected);
    }

    #[test]
    fn a_basket_is_scored_by_summed_neighbour_similarity_and_never_recommends_its_items() {
        let model = model();
        let a = model.item(&SyntheticParams::item_id(1)).unwrap();
        let b = model.item(&SyntheticParams::item_id(2)).unwrap();
        let list = model.recommend_for_basket(&[a, b], None, &query(5));
        assert_eq!(list.fallback, None);
        assert!(list.items.iter().all(|r| r.item != a && r.item != b));
        assert!(list.items.windows(2).all(|w| w[0].score >= w[1].score));
        let mut expected: HashMap<ItemIdx, f32> = HashMap::new();
        for (i, s) in model.neighbours(a).chain(model.neighbours(b)) {
            *expected.entry(i).or_default() += s;
        }
        let top = list.items[0];
        assert!((expected[&top.item] - top.score).abs() < 1e-6);
        assert_eq!(top.reason, RecReason::SimilarTo);
    }

    #[test]
    fn an_empty_basket_falls_back_to_popular() {
        let model = model();
        let list = model.recommend_for_basket(&[], None, &query(3));
        assert_eq!(list.fallback, Some(Fallback::Popular));
        assert_eq!(list.items.len(), 3);
    }
}
