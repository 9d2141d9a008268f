//! At-risk lists: scored customers ranked by value at risk (churn probability × expected value), filtered
//! by a minimum probability and optionally a profile tag, paginated with an opaque cursor that is only
//! valid for the model version that issued it.

use super::{CustomerIdx, InferenceError, Model};
use crate::bundle::ColumnValues;

/// A profile tag condition: a flag that is true, a category equal to a value, or any tag with a value.
#[derive(Debug, Clone, PartialEq)]
pub struct TagFilter {
    column: usize,
    condition: Condition,
}

#[derive(Debug, Clone, PartialEq)]
enum Condition {
    FlagTrue,
    CategoryIs(u32),
    HasValue,
}

impl TagFilter {
    /// Parses `name` (a true flag, or any value of another type) or `name:value` / `name=value` (a
    /// category equal to `value`, or a flag equal to `true`/`false`).
    pub fn parse(model: &Model, text: &str) -> Result<Self, InferenceError> {
        let (name, value) = match text.split_once([':', '=']) {
            Some((n, v)) => (n.trim(), Some(v.trim())),
            None => (text.trim(), None),
        };
        let column = model
            .c
            .customers
            .profile
            .iter()
            .position(|c| c.name == name)
            .ok_or_else(|| InferenceError::UnknownTag(name.to_owned()))?;
        let condition = match (&model.c.customers.profile[column].values, value) {
            (ColumnValues::Flag(_), None | Some("true")) => Condition::FlagTrue,
            (ColumnValues::Flag(_), Some(other)) => {
                return Err(InferenceError::BadTagFilter(format!("{name} is a flag; use `{name}` not {other:?}")));
            }
            (ColumnValues::Category { levels, .. }, Some(v)) => {
                let code = levels.iter().position(|l| l == v).ok_or_else(|| {
                    InferenceError::BadTagFilter(format!("{name} has no value {v:?} (values: {})", levels.join(", ")))
                })?;
                Condition::CategoryIs(code as u32)
            }
            (_, None) => Condition::HasValue,
            (_, Some(_)) => {
                return Err(InferenceError::BadTagFilter(format!(
                    "{name} can only be filtered by presence: use `{name}`"
                )));
            }
        };
        Ok(Self { column, condition })
    }

    fn matches(&self, model: &Model, c: usize) -> bool {
        match (&model.c.customers.profile[self.column].values, &self.condition) {
            (ColumnValues::Flag(v), Condition::FlagTrue) => v[c] == 1,
            (ColumnValues::Category { codes, .. }, Condition::CategoryIs(code)) => codes[c] == *code,
            (ColumnValues::Category { codes, .. }, Condition::HasValue) => codes[c] != u32::MAX,
            (ColumnValues::Number(v), _) => v[c].is_finite(),
            (ColumnValues::Date(v), _) => v[c] != i32::MIN,
            _ => false,
        }
    }
}

/// Which customers an at-risk list holds.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct AtRiskFilter {
    /// Only customers with at least this churn probability.
    pub min_probability: f32,
    /// Only customers with this tag.
    pub tag: Option<TagFilter>,
}

impl AtRiskFilter {
    fn matches(&self, model: &Model, c: u32) -> bool {
        let c = c as usize;
        model.c.churn.probability[c] >= self.min_probability && self.tag.as_ref().is_none_or(|t| t.matches(model, c))
    }
}

/// A position in a model's at-risk ranking, valid only for that model version.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cursor {
    stamp: u32,
    position: u32,
}

impl Cursor {
    /// The opaque text form handed to clients.
    pub fn encode(self) -> String {
        format!("{:08x}{:08x}", self.stamp, self.position)
    }

    /// Parses a cursor issued by [`Cursor::encode`] and checks it belongs to `model`.
    pub fn decode(model: &Model, text: &str) -> Result<Self, InferenceError> {
        if text.len() != 16 || !text.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(InferenceError::BadCursor);
        }
        let stamp = u32::from_str_radix(&text[..8], 16).map_err(|_| InferenceError::BadCursor)?;
        let position = u32::from_str_radix(&text[8..], 16).map_err(|_| InferenceError::BadCursor)?;
        if stamp != model.stamp {
            return Err(InferenceError::StaleCursor);
        }
        if position as usize > model.at_risk_order.len() {
            return Err(InferenceError::BadCursor);
        }
        Ok(Self { stamp, position })
    }
}

/// One page of an at-risk list.
#[derive(Debug, Clone, PartialEq)]
pub struct AtRiskPage {
    /// Customers, highest value at risk first.
    pub customers: Vec<CustomerIdx>,
    /// Where the next page starts; `None` on the last page.
    pub next: Option<Cursor>,
}

impl Model {
    /// Number of customers in the at-risk ranking (all scored customers).
    pub fn at_risk_len(&self) -> usize {
        self.at_risk_order.len()
    }

    /// One page of up to `limit` customers matching `filter`, starting at `cursor` (or the top).
    pub fn at_risk_page(&self, filter: &AtRiskFilter, limit: usize, cursor: Option<Cursor>) -> AtRiskPage {
        let start = cursor.map_or(0, |c| c.position as usize);
        let (customers, end) = self.at_risk_scan(filter, start, limit, usize::MAX);
        let next = (end < self.at_risk_order.len() && customers.len() == limit)
            .then_some(Cursor { stamp: self.stamp, position: end as u32 });
        AtRiskPage { customers, next }
    }

    /// Scans the ranking from `start`, examining at most `max_scan` positions, and returns up to `limit`
    /// matching customers with the position to continue from (the ranking's length when done).
    pub fn at_risk_scan(
        &self,
        filter: &AtRiskFilter,
        start: usize,
        limit: usize,
        max_scan: usize,
    ) -> (Vec<CustomerIdx>, usize) {
        let mut out = Vec::with_capacity(limit.min(1024));
        let mut position = start.min(self.at_risk_order.len());
        let stop = position.saturating_add(max_scan).min(self.at_risk_order.len());
        while position < stop && out.len() < limit {
            let c = self.at_risk_order[position];
            if filter.matches(self, c) {
                out.push(CustomerIdx(c));
            }
            position += 1;
        }
        (out, position)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::inference::synthetic::SyntheticParams;

    fn model() -> Model {
        Model::from_bundle(SyntheticParams::new(500, 40).build()).unwrap()
    }

    fn value(model: &Model, c: CustomerIdx) -> f32 {
        model.c.churn.value_at_risk[c.get()]
    }

    #[test]
    fn customers_are_ranked_by_value_at_risk_and_unscored_ones_left_out() {
        let model = model();
        let page = model.at_risk_page(&AtRiskFilter::default(), 1000, None);
        assert_eq!(page.next, None);
        assert!(page.customers.windows(2).all(|w| value(&model, w[0]) >= value(&model, w[1])));
        assert!(page.customers.iter().all(|&c| model.churn(c).probability.is_some()));
        assert!(page.customers.len() < model.customer_count());
    }

    #[test]
    fn cursors_walk_the_whole_list_without_gaps_or_repeats() {
        let model = model();
        let filter = AtRiskFilter { min_probability: 0.3, tag: None };
        let all = model.at_risk_page(&filter, 10_000, None).customers;
        let mut walked = Vec::new();
        let mut cursor = None;
        loop {
            let page = model.at_risk_page(&filter, 37, cursor);
            walked.extend(page.customers);
            match page.next {
                Some(next) => cursor = Some(Cursor::decode(&model, &next.encode()).unwrap()),
                None => break,
            }
        }
        assert_eq!(walked, all);
        assert!(all.iter().all(|&c| model.churn(c).probability.unwrap() >= 0.3));
    }

    #[test]
    fn a_tag_filter_keeps_only_matching_customers() {
        let model = model();
        let filter = AtRiskFilter { min_probability: 0.0, tag: Some(TagFilter::parse(&model, "vip").unwrap()) };
        let page = model.at_risk_page(&filter, 10_000, None);
        assert!(!page.customers.is_empty());
        for c in page.customers {
            assert!(model.profile(c).tags.contains(&("vip", crate::inference::TagValue::Flag(true))));
        }
        let gold = TagFilter::parse(&model, "member_tier:gold").unwrap();
        let page = model.at_risk_page(&AtRiskFilter { min_probability: 0.0, tag: Some(gold) }, 10_000, None);
        for c in page.customers {
            assert!(model.profile(c).tags.contains(&("member_tier", crate::inference::TagValue::Category("gold"))));
        }
    }

    #[test]
    fn bad_tag_filters_and_cursors_are_refused() {
        let model = model();
        assert!(matches!(TagFilter::parse(&model, "nope"), Err(InferenceError::UnknownTag(_))));
        assert!(matches!(TagFilter::parse(&model, "member_tier:platinum"), Err(InferenceError::BadTagFilter(_))));
        assert!(matches!(TagFilter::parse(&model, "recency_days:3"), Err(InferenceError::BadTagFilter(_))));
        assert_eq!(Cursor::decode(&model, "zz"), Err(InferenceError::BadCursor));
        assert_eq!(Cursor::decode(&model, "ffffffffffffffff"), Err(InferenceError::StaleCursor));
        let far = Cursor { stamp: model.stamp, position: u32::MAX }.encode();
        assert_eq!(Cursor::decode(&model, &far), Err(InferenceError::BadCursor));
    }
}
