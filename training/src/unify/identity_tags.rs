//! Identity tags as of a date: how many source records a customer had, and in which islands. A record
//! counts from its first dated fact (a purchase line, a ticket, a dated tag); a record with no dated fact
//! at all (a CRM row without dates) counts from the start. So a web account opened or a member card first
//! used after the as-of date is not visible in that date's profile: point-in-time features must not know
//! about records that did not exist yet.

use rayon::prelude::*;
use tagcenter::domain::TagType;

use super::identity::Identity;
use super::profile::{Origin, ProfileColumn, Values};
use super::store::Store;

/// First dated fact of every record (UTC seconds), `None` for records never dated.
pub fn first_seen(store: &Store) -> Vec<Option<i64>> {
    let n = store.records.len();
    // One sequential pass: a per-thread copy of a vector over every record would cost more than it saves.
    let mut first = vec![i64::MAX; n];
    for l in &store.lines {
        let slot = &mut first[l.record as usize];
        *slot = (*slot).min(l.ts);
    }
    for t in &store.tickets {
        let slot = &mut first[t.record as usize];
        *slot = (*slot).min(t.ts);
    }
    for f in &store.facts {
        if let Some(ts) = f.ts {
            let slot = &mut first[f.record as usize];
            *slot = (*slot).min(ts);
        }
    }
    first.into_iter().map(|t| (t != i64::MAX).then_some(t)).collect()
}

/// The `records`, `sources` and `anonymous_only` columns as of `as_of_ts` (UTC seconds), from each record's first dated
/// fact (see [`first_seen`]).
pub fn identity_columns(
    store: &Store,
    identity: &Identity,
    first_seen: &[Option<i64>],
    as_of_ts: i64,
) -> Vec<ProfileColumn> {
    let n = identity.customers();
    // Island combinations are few: a category (codes into sorted combination names) instead of a string
    // per customer.
    let per_customer: Vec<(f64, Vec<u16>, Option<bool>)> = (0..n as u32)
        .into_par_iter()
        .map(|c| {
            let (mut count, mut anonymous) = (0usize, 0usize);
            let mut islands: Vec<u16> = Vec::new();
            for &r in identity.records_of(c) {
                if first_seen[r as usize].is_none_or(|t| t < as_of_ts) {
                    count += 1;
                    anonymous += usize::from(store.anonymous[r as usize]);
                    islands.push(store.record_source[r as usize]);
                }
            }
            islands.sort_unstable_by_key(|&s| store.sources[usize::from(s)].as_str());
            islands.dedup();
            (count as f64, islands, (count > 0).then_some(anonymous == count))
        })
        .collect();
    let mut combinations: Vec<&[u16]> =
        per_customer.iter().map(|p| p.1.as_slice()).filter(|islands| !islands.is_empty()).collect();
    combinations.sort_unstable();
    combinations.dedup();
    let name_of = |islands: &[u16]| -> String {
        islands.iter().map(|&s| store.sources[usize::from(s)].as_str()).collect::<Vec<_>>().join(",")
    };
    let mut named: Vec<(String, &[u16])> = combinations.into_iter().map(|c| (name_of(c), c)).collect();
    named.sort();
    let code_of: std::collections::HashMap<&[u16], u32> =
        named.iter().enumerate().map(|(i, (_, c))| (*c, i as u32)).collect();
    let codes: Vec<Option<u32>> = per_customer.iter().map(|p| code_of.get(p.1.as_slice()).copied()).collect();
    let levels: Vec<String> = named.into_iter().map(|(name, _)| name).collect();
    let counts: Vec<f64> = per_customer.iter().map(|p| p.0).collect();
    let anonymous_only: Vec<Option<bool>> = per_customer.iter().map(|p| p.2).collect();
    let column = |name: &str, tag_type, description: &str, values| ProfileColumn {
        name: name.to_owned(),
        tag_type,
        description: description.to_owned(),
        owner: "tagcenter".to_owned(),
        origin: Origin::Identity,
        values,
    };
    vec![
        column("records", TagType::Number, "Source records linked into this customer", Values::Number(counts)),
        column("sources", TagType::Category, "Islands the customer appears in", Values::Category { levels, codes }),
        column(
            "anonymous_only",
            TagType::Flag,
            "Known only through anonymous records (till receipts without a card), so not contactable",
            Values::Flag(anonymous_only),
        ),
    ]
}
