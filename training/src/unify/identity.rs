//! Identity resolution: records from all islands are linked into unified customers through the
//! normalized identity keys they share (connected components of the record–key graph), with guards
//! against over-merging and optional, reported fuzzy rules. Customer IDs are derived from each cluster's
//! smallest record key, so they do not depend on input order and stay stable across reruns.

use rustc_hash::{FxHashMap as HashMap, FxHashSet as HashSet};

use rayon::prelude::*;
use regex::RegexSet;
use serde::Serialize;
use tagcenter::domain::CustomerId;

use super::fuzzy::{self, FuzzyLink};
use crate::interner::Interner;
use crate::sources::config::IdentitySection;

/// Identity settings, validated.
#[derive(Debug, Clone)]
pub struct IdentityParams {
    /// Identified records above which a key is blocked.
    pub max_records_per_key: usize,
    /// Anonymous records above which a key is blocked.
    pub max_anonymous_records_per_key: usize,
    /// Patterns over key values that never link.
    pub blocked_values: RegexSet,
    /// Fix e-mail domain misspellings.
    pub email_domain_typos: bool,
    /// Link e-mails one edit apart.
    pub email_local_typos: bool,
}

impl IdentityParams {
    /// From the config section (patterns were validated when the config loaded).
    pub fn from_config(section: &IdentitySection) -> Result<Self, regex::Error> {
        Ok(Self {
            max_records_per_key: section.max_records_per_key,
            max_anonymous_records_per_key: section.max_anonymous_records_per_key,
            blocked_values: RegexSet::new(&section.blocked_values)?,
            email_domain_typos: section.fuzzy.email_domain_typos,
            email_local_typos: section.fuzzy.email_local_typos,
        })
    }
}

impl Default for IdentityParams {
    fn default() -> Self {
        Self {
            max_records_per_key: 8,
            max_anonymous_records_per_key: 150,
            blocked_values: RegexSet::empty(),
            email_domain_typos: false,
            email_local_typos: false,
        }
    }
}

/// What the resolver did with a key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum KeyStatus {
    /// Used to link (it may still be held by one record only).
    Linked,
    /// Matches a blocked-value pattern.
    BlockedPattern,
    /// Shared by more identified records than allowed.
    BlockedSharedIdentified,
    /// Shared by more anonymous records than allowed.
    BlockedSharedAnonymous,
}

impl KeyStatus {
    /// Whether the key was used for linking.
    pub fn links(self) -> bool {
        self == Self::Linked
    }

    /// The name used in files.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Linked => "linked",
            Self::BlockedPattern => "blocked_pattern",
            Self::BlockedSharedIdentified => "blocked_shared",
            Self::BlockedSharedAnonymous => "blocked_shared_anonymous",
        }
    }
}

/// The records and keys the resolver works on.
#[derive(Debug, Clone, Copy)]
pub struct IdentityInput<'a> {
    /// Source-qualified record keys.
    pub records: &'a Interner,
    /// Whether each record is anonymous.
    pub anonymous: &'a [bool],
    /// Source index of each record.
    pub record_source: &'a [u16],
    /// Identity keys as `namespace:value`.
    pub keys: &'a Interner,
    /// (record, key) links.
    pub edges: &'a [(u32, u32)],
}

/// The result: a customer per record, and what was blocked or fuzzily linked.
#[derive(Debug, Clone)]
pub struct Identity {
    /// Customer index of each record.
    pub customer_of_record: Vec<u32>,
    /// Customer IDs, sorted; a customer index indexes this.
    pub customer_ids: Vec<CustomerId>,
    /// Records of each customer: `customer_records[customer_offsets[c]..customer_offsets[c + 1]]`.
    pub customer_records: Vec<u32>,
    /// Offsets into `customer_records`.
    pub customer_offsets: Vec<usize>,
    /// Status of each key.
    pub key_status: Vec<KeyStatus>,
    /// Identified and anonymous record counts of each key.
    pub key_counts: Vec<(u32, u32)>,
    /// Fuzzy links made.
    pub fuzzy_links: Vec<FuzzyLink>,
}

impl Identity {
    /// Number of unified customers.
    pub fn customers(&self) -> usize {
        self.customer_ids.len()
    }

    /// The records of customer `c`.
    pub fn records_of(&self, c: u32) -> &[u32] {
        &self.customer_records[self.customer_offsets[c as usize]..self.customer_offsets[c as usize + 1]]
    }

    /// Customer index of an ID.
    pub fn find(&self, id: &CustomerId) -> Option<u32> {
        self.customer_ids.binary_search(id).ok().map(|i| i as u32)
    }
}

/// Union–find with path halving and union by size.
#[derive(Debug)]
pub struct UnionFind {
    parent: Vec<u32>,
    size: Vec<u32>,
}

impl UnionFind {
    /// `n` singletons.
    pub fn new(n: usize) -> Self {
        Self { parent: (0..n as u32).collect(), size: vec![1; n] }
    }

    /// Root of `x`'s set.
    pub fn find(&mut self, mut x: u32) -> u32 {
        while self.parent[x as usize] != x {
            let grand = self.parent[self.parent[x as usize] as usize];
            self.parent[x as usize] = grand;
            x = grand;
        }
        x
    }

    /// Joins the sets of `a` and `b`.
    pub fn union(&mut self, a: u32, b: u32) {
        let (mut ra, mut rb) = (self.find(a), self.find(b));
        if ra == rb {
            return;
        }
        if self.size[ra as usize] < self.size[rb as usize] {
            std::mem::swap(&mut ra, &mut rb);
        }
        self.parent[rb as usize] = ra;
        self.size[ra as usize] += self.size[rb as usize];
    }
}

/// The guard on local-part typo links. Short, dense name spaces (pinyin) put real, different people one
/// letter apart (`gao.gang` / `gao.yang`), so a pair is linked only when one side looks like a sign-up typo:
/// an address held by a single record whose cluster has no other e-mail, while the other cluster has no
/// record from that record's source (a customer rarely opens a second web account by mistyping).
struct LocalTypoGuard {
    lone: HashMap<u32, (u32, u16)>,
    cluster_sources: HashMap<u32, u64>,
    cluster_of_key: HashMap<u32, u32>,
}

impl LocalTypoGuard {
    fn new(
        input: &IdentityInput<'_>,
        status: &[KeyStatus],
        counts: &[(u32, u32)],
        holder: &[Option<u32>],
        uf: &mut UnionFind,
    ) -> Self {
        let mut emails_per_cluster: HashMap<u32, u32> = HashMap::default();
        let mut cluster_of_key = HashMap::default();
        for (k, h) in holder.iter().enumerate() {
            let Some(h) = h else { continue };
            if !status[k].links() || !input.keys.resolve(k as u32).starts_with("email:") {
                continue;
            }
            let cluster = uf.find(*h);
            cluster_of_key.insert(k as u32, cluster);
            *emails_per_cluster.entry(cluster).or_default() += 1;
        }
        let mut cluster_sources: HashMap<u32, u64> = HashMap::default();
        for r in 0..input.records.len() as u32 {
            let cluster = uf.find(r);
            if emails_per_cluster.contains_key(&cluster) {
                *cluster_sources.entry(cluster).or_default() |= 1u64 << (input.record_source[r as usize] % 64);
            }
        }
        let mut lone = HashMap::default();
        for (&k, &cluster) in &cluster_of_key {
            let (identified, anonymous) = counts[k as usize];
            if identified + anonymous == 1 && emails_per_cluster[&cluster] == 1 {
                if let Some(h) = holder[k as usize] {
                    lone.insert(k, (cluster, input.record_source[h as usize] % 64));
                }
            }
        }
        Self { lone, cluster_sources, cluster_of_key }
    }

    fn accepts(&self, a: u32, b: u32) -> bool {
        let (typo, other) = match (self.lone.get(&a), self.lone.get(&b)) {
            (Some(t), None) => (t, b),
            (None, Some(t)) => (t, a),
            _ => return false,
        };
        let Some(other_cluster) = self.cluster_of_key.get(&other) else { return false };
        let other_sources = self.cluster_sources.get(other_cluster).copied().unwrap_or(0);
        typo.0 != *other_cluster && other_sources & (1u64 << typo.1) == 0
    }
}

/// Resolves identities.
pub fn resolve(input: IdentityInput<'_>, params: &IdentityParams) -> Identity {
    let n_records = input.records.len();
    let n_keys = input.keys.len();

    // Who holds each key, counted once per record.
    let mut key_counts = vec![(0u32, 0u32); n_keys];
    let mut edges: Vec<(u32, u32)> = input.edges.to_vec();
    edges.par_sort_unstable_by_key(|&(r, k)| (k, r));
    edges.dedup();
    for &(r, k) in &edges {
        let c = &mut key_counts[k as usize];
        if input.anonymous[r as usize] { c.1 += 1 } else { c.0 += 1 }
    }

    let key_status: Vec<KeyStatus> = (0..n_keys)
        .into_par_iter()
        .map(|k| {
            let text = input.keys.resolve(k as u32);
            let value = text.split_once(':').map_or(text, |(_, v)| v);
            let (identified, anonymous) = key_counts[k];
            if params.blocked_values.is_match(value) {
                KeyStatus::BlockedPattern
            } else if identified as usize > params.max_records_per_key {
                KeyStatus::BlockedSharedIdentified
            } else if anonymous as usize > params.max_anonymous_records_per_key {
                KeyStatus::BlockedSharedAnonymous
            } else {
                KeyStatus::Linked
            }
        })
        .collect();

    let mut uf = UnionFind::new(n_records);
    let mut first_holder: Vec<Option<u32>> = vec![None; n_keys];
    for &(r, k) in &edges {
        if !key_status[k as usize].links() {
            continue;
        }
        match first_holder[k as usize] {
            Some(first) => uf.union(first, r),
            None => first_holder[k as usize] = Some(r),
        }
    }

    let mut fuzzy_links = Vec::new();
    if params.email_domain_typos || params.email_local_typos {
        let guard = LocalTypoGuard::new(&input, &key_status, &key_counts, &first_holder, &mut uf);
        let candidates =
            fuzzy::email_links(input.keys, &key_status, &first_holder, params, &|a, b| guard.accepts(a, b));
        for link in candidates {
            let (Some(a), Some(b)) = (first_holder[link.from_key as usize], first_holder[link.to_key as usize]) else {
                continue;
            };
            if uf.find(a) != uf.find(b) {
                uf.union(a, b);
                fuzzy_links.push(link);
            }
        }
    }

    // Components → customers. Anchor each at its smallest record key.
    let roots: Vec<u32> = (0..n_records as u32).map(|r| uf.find(r)).collect();
    let mut anchor: HashMap<u32, u32> = HashMap::default();
    for (r, &root) in roots.iter().enumerate() {
        let r = r as u32;
        anchor
            .entry(root)
            .and_modify(|a| {
                if input.records.resolve(r) < input.records.resolve(*a) {
                    *a = r;
                }
            })
            .or_insert(r);
    }
    let mut anchors: Vec<(u32, u32)> = anchor.into_iter().collect();
    // Anchors are distinct records, so their keys are distinct: one order whatever the sort.
    anchors.par_sort_unstable_by(|a, b| input.records.resolve(a.1).cmp(input.records.resolve(b.1)));
    let derived: Vec<CustomerId> =
        anchors.par_iter().map(|&(_, a)| CustomerId::derive(input.records.resolve(a))).collect();
    let mut used = HashSet::with_capacity_and_hasher(anchors.len(), Default::default());
    let mut by_id: Vec<(CustomerId, u32)> = anchors
        .iter()
        .zip(derived)
        .map(|(&(root, a), mut id)| {
            let text = input.records.resolve(a);
            let mut salt = 0;
            while !used.insert(id.clone()) {
                salt += 1;
                id = CustomerId::derive_with_salt(text, salt);
            }
            (id, root)
        })
        .collect();
    by_id.par_sort_unstable_by(|a, b| a.0.cmp(&b.0));
    let mut customer_of_root: HashMap<u32, u32> = HashMap::with_capacity_and_hasher(by_id.len(), Default::default());
    for (c, (_, root)) in by_id.iter().enumerate() {
        customer_of_root.insert(*root, c as u32);
    }
    let customer_of_record: Vec<u32> = roots.iter().map(|root| customer_of_root[root]).collect();
    let customer_ids: Vec<CustomerId> = by_id.into_iter().map(|(id, _)| id).collect();

    let mut customer_offsets = vec![0usize; customer_ids.len() + 1];
    for &c in &customer_of_record {
        customer_offsets[c as usize + 1] += 1;
    }
    for i in 1..customer_offsets.len() {
        customer_offsets[i] += customer_offsets[i - 1];
    }
    let mut fill = customer_offsets.clone();
    let mut customer_records = vec![0u32; n_records];
    for (r, &c) in customer_of_record.iter().enumerate() {
        customer_records[fill[c as usize]] = r as u32;
        fill[c as usize] += 1;
    }

    Identity {
        customer_of_record,
        customer_ids,
        customer_records,
        customer_offsets,
        key_status,
        key_counts,
        fuzzy_links,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::collections::{BTreeSet, HashSet};

    struct Graph {
        records: Interner,
        anonymous: Vec<bool>,
        keys: Interner,
        edges: Vec<(u32, u32)>,
    }

    fn graph(links: &[(&str, bool, &str)]) -> Graph {
        let mut g =
            Graph { records: Interner::default(), anonymous: Vec::new(), keys: Interner::default(), edges: Vec::new() };
        for &(record, anon, key) in links {
            let before = g.records.len();
            let r = g.records.intern(record);
            if g.records.len() > before {
                g.anonymous.push(anon);
            }
            if !key.is_empty() {
                let k = g.keys.intern(key);
                g.edges.push((r, k));
            }
        }
        g
    }

    fn run(g: &Graph, params: &IdentityParams) -> Identity {
        let sources: Vec<u16> = g.records.iter().map(|r| r.bytes().next().map_or(0, u16::from)).collect();
        let input = IdentityInput {
            records: &g.records,
            anonymous: &g.anonymous,
            record_source: &sources,
            keys: &g.keys,
            edges: &g.edges,
        };
        resolve(input, params)
    }

    /// The partition as sets of record keys, with each cluster's customer ID.
    fn partition(g: &Graph, id: &Identity) -> BTreeSet<(String, BTreeSet<String>)> {
        (0..id.customers() as u32)
            .map(|c| {
                let records = id.records_of(c).iter().map(|&r| g.records.resolve(r).to_owned()).collect();
                (id.customer_ids[c as usize].to_string(), records)
            })
            .collect()
    }

    #[test]
    fn shared_keys_link_records_across_sources() {
        let g = graph(&[
            ("web:1", false, "email:ann@qq.com"),
            ("crm:7", false, "email:ann@qq.com"),
            ("crm:7", false, "phone:8613800001111"),
            ("pos:8800001", false, "phone:8613800001111"),
            ("pos:R:1", true, "phone:8613800001111"),
            ("web:2", false, "email:bob@qq.com"),
        ]);
        let id = run(&g, &IdentityParams::default());
        assert_eq!(id.customers(), 2);
        let ann = id.customer_of_record[g.records.get("web:1").unwrap() as usize];
        for r in ["crm:7", "pos:8800001", "pos:R:1"] {
            assert_eq!(id.customer_of_record[g.records.get(r).unwrap() as usize], ann, "{r}");
        }
        assert_eq!(id.customer_ids[ann as usize], CustomerId::derive("crm:7"), "anchored at the smallest key");
    }

    #[test]
    fn over_shared_and_patterned_keys_are_blocked() {
        let mut links = vec![("web:a", false, "email:test@qq.com"), ("web:b", false, "email:test@qq.com")];
        let names: Vec<String> = (0..5).map(|i| format!("pos:card{i}")).collect();
        for n in &names {
            links.push((n.as_str(), false, "phone:8613800138000"));
        }
        let g = graph(&links);
        let params = IdentityParams {
            max_records_per_key: 4,
            blocked_values: RegexSet::new(["^test@"]).unwrap(),
            ..IdentityParams::default()
        };
        let id = run(&g, &params);
        assert_eq!(id.customers(), 7, "nothing links");
        assert_eq!(id.key_status[g.keys.get("email:test@qq.com").unwrap() as usize], KeyStatus::BlockedPattern);
        assert_eq!(
            id.key_status[g.keys.get("phone:8613800138000").unwrap() as usize],
            KeyStatus::BlockedSharedIdentified
        );
    }

    #[test]
    fn anonymous_records_have_their_own_limit() {
        let names: Vec<String> = (0..10).map(|i| format!("pos:R:{i}")).collect();
        let mut links: Vec<(&str, bool, &str)> =
            names.iter().map(|n| (n.as_str(), true, "phone:8613900000000")).collect();
        links.push(("pos:8800", false, "phone:8613900000000"));
        let g = graph(&links);
        let lenient =
            IdentityParams { max_records_per_key: 2, max_anonymous_records_per_key: 20, ..IdentityParams::default() };
        assert_eq!(run(&g, &lenient).customers(), 1, "a customer's own phone on many anonymous receipts links");
        let strict = IdentityParams { max_anonymous_records_per_key: 5, ..lenient };
        assert_eq!(run(&g, &strict).customers(), 11);
    }

    fn arbitrary_graph() -> impl Strategy<Value = Vec<(u8, bool, u8)>> {
        proptest::collection::vec((0u8..40, any::<bool>(), 0u8..25), 0..120)
    }

    fn build(links: &[(u8, bool, u8)]) -> Graph {
        let texts: Vec<(String, bool, String)> = links
            .iter()
            .map(|&(r, a, k)| {
                (
                    format!("s{}:{r}", r % 3),
                    a && r % 2 == 0,
                    if k == 0 { String::new() } else { format!("k:{}", k % 13 + k / 13) },
                )
            })
            .collect();
        let refs: Vec<(&str, bool, &str)> = texts.iter().map(|(r, a, k)| (r.as_str(), *a, k.as_str())).collect();
        // A record's anonymity must not depend on which line introduced it.
        let mut g = graph(&refs);
        for (i, key) in g.records.iter().enumerate() {
            let n: u8 = key.split(':').nth(1).unwrap().parse().unwrap();
            g.anonymous[i] = n % 4 == 0;
        }
        g
    }

    proptest! {
        #[test]
        fn input_order_does_not_change_the_result(links in arbitrary_graph(), seed in any::<u64>()) {
            let params = IdentityParams { max_records_per_key: 3, max_anonymous_records_per_key: 2, ..IdentityParams::default() };
            let g = build(&links);
            let mut shuffled = links.clone();
            let mut state = seed | 1;
            for i in (1..shuffled.len()).rev() {
                state ^= state << 13; state ^= state >> 7; state ^= state << 17;
                shuffled.swap(i, (state % (i as u64 + 1)) as usize);
            }
            let h = build(&shuffled);
            prop_assert_eq!(partition(&g, &run(&g, &params)), partition(&h, &run(&h, &params)));
        }

        #[test]
        fn links_are_an_equivalence_through_unblocked_keys(links in arbitrary_graph()) {
            let params = IdentityParams { max_records_per_key: 3, max_anonymous_records_per_key: 2, ..IdentityParams::default() };
            let g = build(&links);
            let id = run(&g, &params);
            // Records sharing a linking key are together (symmetric by construction of the check).
            for &(r1, k1) in &g.edges {
                for &(r2, k2) in &g.edges {
                    if k1 == k2 && id.key_status[k1 as usize].links() {
                        prop_assert_eq!(id.customer_of_record[r1 as usize], id.customer_of_record[r2 as usize]);
                    }
                }
            }
            // Every cluster is connected through linking keys alone (so nothing joins through a blocked key),
            // which also makes the relation transitive: it is exactly the connected components.
            for c in 0..id.customers() as u32 {
                let members: HashSet<u32> = id.records_of(c).iter().copied().collect();
                let start = *id.records_of(c).first().unwrap();
                let mut seen = HashSet::from([start]);
                let mut stack = vec![start];
                while let Some(r) = stack.pop() {
                    for &(r1, k) in &g.edges {
                        if r1 != r || !id.key_status[k as usize].links() { continue; }
                        for &(r2, k2) in &g.edges {
                            if k2 == k && seen.insert(r2) { stack.push(r2); }
                        }
                    }
                }
                prop_assert_eq!(seen, members);
            }
        }

        #[test]
        fn blocked_keys_never_join(links in arbitrary_graph()) {
            let params = IdentityParams { max_records_per_key: 2, max_anonymous_records_per_key: 1, ..IdentityParams::default() };
            let g = build(&links);
            let id = run(&g, &params);
            let unblocked: Vec<(u32, u32)> = g.edges.iter().copied().filter(|&(_, k)| id.key_status[k as usize].links()).collect();
            let pruned = Graph { records: g.records.clone(), anonymous: g.anonymous.clone(), keys: g.keys.clone(), edges: unblocked };
            let everything_linked = IdentityParams { max_records_per_key: usize::MAX, max_anonymous_records_per_key: usize::MAX, ..IdentityParams::default() };
            prop_assert_eq!(partition(&g, &id), partition(&pruned, &run(&pruned, &everything_linked)));
        }
    }
}
