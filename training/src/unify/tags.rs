//! Dictionary tags per customer: every fact stated by any of the customer's records, resolved by the
//! tag's conflict rule when sources disagree.

use rayon::prelude::*;
use tagcenter::domain::TagType;

use super::dictionary::{ConflictRule, TagDictionary, TagValue};
use super::identity::Identity;
use super::profile::{Origin, ProfileColumn, Values};
use super::store::Store;

/// A fact as the resolver sees it.
#[derive(Debug, Clone, Copy)]
pub struct Stated {
    /// The value.
    pub value: TagValue,
    /// When it was stated.
    pub ts: Option<i64>,
    /// Priority of its source (lower is stronger).
    pub priority: usize,
}

fn same(a: TagValue, b: TagValue) -> bool {
    match (a, b) {
        (TagValue::Number(x), TagValue::Number(y)) => x.to_bits() == y.to_bits(),
        _ => a == b,
    }
}

/// Picks one value among disagreeing facts. Deterministic: ties fall through to source priority, then to
/// the order of the facts (which the caller sorts).
pub fn resolve_conflict(rule: ConflictRule, facts: &[Stated]) -> Option<TagValue> {
    let count = |v: TagValue| facts.iter().filter(|f| same(f.value, v)).count();
    let best = match rule {
        ConflictRule::MostFrequent => {
            facts.iter().max_by(|a, b| count(a.value).cmp(&count(b.value)).then(b.priority.cmp(&a.priority)))
        }
        ConflictRule::MostRecent => facts.iter().max_by(|a, b| a.ts.cmp(&b.ts).then(b.priority.cmp(&a.priority))),
        ConflictRule::SourcePriority => facts
            .iter()
            .max_by(|a, b| b.priority.cmp(&a.priority).then(count(a.value).cmp(&count(b.value))).then(a.ts.cmp(&b.ts))),
    };
    best.map(|f| f.value)
}

/// Every tag fact's index, sorted by customer, tag, then record key and index: the order in which
/// [`dictionary_columns`] resolves them. It does not depend on the as-of date, so one order serves every
/// profile date (sorting by record key too makes the order of tied facts independent of input order, and
/// the order a total one, so the parallel sort has one result).
pub fn fact_order(store: &Store, identity: &Identity) -> Vec<u32> {
    let mut order: Vec<(u32, u16, u32)> = store
        .facts
        .iter()
        .enumerate()
        .map(|(i, f)| (identity.customer_of_record[f.record as usize], f.tag, i as u32))
        .collect();
    order.par_sort_unstable_by(|a, b| {
        (a.0, a.1)
            .cmp(&(b.0, b.1))
            .then_with(|| {
                store
                    .records
                    .resolve(store.facts[a.2 as usize].record)
                    .cmp(store.records.resolve(store.facts[b.2 as usize].record))
            })
            .then(a.2.cmp(&b.2))
    });
    order.into_iter().map(|o| o.2).collect()
}

/// One column per dictionary tag that any source stated (tags nobody stated are left out of the profile
/// and show with zero coverage in the catalog). Only facts stated before `as_of_ts` (UTC seconds) count,
/// and undated ones: a tag given during a later window must not leak into an earlier point-in-time view.
/// `order` is [`fact_order`] of the same store and identity.
pub fn dictionary_columns(
    store: &Store,
    identity: &Identity,
    dict: &TagDictionary,
    as_of_ts: i64,
    order: &[u32],
) -> Vec<ProfileColumn> {
    let n = identity.customers();
    let order: Vec<(u32, u16, usize)> = order
        .iter()
        .map(|&i| (i as usize, &store.facts[i as usize]))
        .filter(|(_, f)| f.ts.is_none_or(|ts| ts < as_of_ts))
        .map(|(i, f)| (identity.customer_of_record[f.record as usize], f.tag, i))
        .collect();
    let priorities: Vec<usize> = store.sources.iter().map(|s| dict.priority_of(s)).collect();
    let mut resolved: Vec<Vec<Option<TagValue>>> = vec![Vec::new(); dict.tags.len()];
    let mut start = 0;
    let mut stated = Vec::new();
    while start < order.len() {
        let (customer, tag, _) = order[start];
        let mut end = start;
        stated.clear();
        while end < order.len() && order[end].0 == customer && order[end].1 == tag {
            let f = &store.facts[order[end].2];
            let priority = priorities[usize::from(store.record_source[f.record as usize])];
            stated.push(Stated { value: f.value, ts: f.ts, priority });
            end += 1;
        }
        let column = &mut resolved[usize::from(tag)];
        if column.is_empty() {
            column.resize(n, None);
        }
        column[customer as usize] = resolve_conflict(dict.tag(tag).conflict, &stated);
        start = end;
    }
    let mut columns = Vec::new();
    for (idx, values) in resolved.into_iter().enumerate() {
        if values.is_empty() {
            continue;
        }
        let def = &dict.tags[idx];
        let values = match def.tag_type {
            TagType::Flag => Values::Flag(
                values.iter().map(|v| v.and_then(|v| if let TagValue::Flag(b) = v { Some(b) } else { None })).collect(),
            ),
            TagType::Category => Values::Category {
                levels: def.values.clone(),
                codes: values
                    .iter()
                    .map(|v| v.and_then(|v| if let TagValue::Category(c) = v { Some(c) } else { None }))
                    .collect(),
            },
            TagType::Number => Values::Number(
                values
                    .iter()
                    .map(|v| match v {
                        Some(TagValue::Number(x)) => *x,
                        _ => f64::NAN,
                    })
                    .collect(),
            ),
            TagType::Date => Values::Date(
                values.iter().map(|v| v.and_then(|v| if let TagValue::Date(d) = v { Some(d) } else { None })).collect(),
            ),
        };
        columns.push(ProfileColumn {
            name: def.name.clone(),
            tag_type: def.tag_type,
            description: def.description.clone(),
            owner: def.owner.clone(),
            origin: Origin::Dictionary,
            values,
        });
    }
    columns
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(value: u32, ts: Option<i64>, priority: usize) -> Stated {
        Stated { value: TagValue::Category(value), ts, priority }
    }

    #[test]
    fn most_frequent_breaks_ties_by_priority() {
        let facts = [s(1, None, 2), s(2, None, 0), s(1, None, 3), s(2, None, 1)];
        assert_eq!(resolve_conflict(ConflictRule::MostFrequent, &facts), Some(TagValue::Category(2)));
        let facts = [s(1, None, 2), s(1, None, 2), s(2, None, 0)];
        assert_eq!(resolve_conflict(ConflictRule::MostFrequent, &facts), Some(TagValue::Category(1)));
    }

    #[test]
    fn most_recent_prefers_dated_facts() {
        let facts = [s(1, Some(10), 0), s(2, Some(20), 5), s(3, None, 0)];
        assert_eq!(resolve_conflict(ConflictRule::MostRecent, &facts), Some(TagValue::Category(2)));
    }

    #[test]
    fn source_priority_wins_over_frequency() {
        let facts = [s(1, None, 1), s(1, None, 1), s(2, None, 0)];
        assert_eq!(resolve_conflict(ConflictRule::SourcePriority, &facts), Some(TagValue::Category(2)));
        assert_eq!(resolve_conflict(ConflictRule::SourcePriority, &[]), None);
    }
}
