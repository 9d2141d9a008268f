//! Synthetic model bundles of any size, shaped like the training binary's output, for tests, examples and
//! the load benchmark (which needs a million customers). Deterministic for a given seed.
//!
//! Customer number `i` (0-based, in generation order) is known as `web:{i}`; even numbers also as
//! `card:{8800000 + i}`, multiples of 3 also as `email:user{i}@example.com`. A few customers are special
//! on purpose, so tests can find them: [`SyntheticParams::unscored_key`] (no churn score),
//! [`SyntheticParams::cold_key`] (no personal recommendations). Items are `SKU000000`, `SKU000001`, ...
//!
//! ```
//! use tagcenter::inference::{Model, synthetic::SyntheticParams};
//! let bundle = SyntheticParams::new(1_000, 100).seed(7).build();
//! let model = Model::from_bundle(bundle).unwrap();
//! assert!(model.resolve("web:42").is_ok());
//! ```

use std::collections::BTreeMap;

use crate::bundle::{
    BundleContents, BundleHeader, ChurnOutputs, ColumnValues, Customers, FORMAT_VERSION, FeatureSpec, Items, Metric,
    ModelBundle, ProfileColumnData, ReasonCode, RecReason, Recommendations, TagInfo, TimingOutputs, Urgency,
};
use crate::domain::{CustomerId, TagType};

/// The as-of day of synthetic bundles: 2024-07-01.
pub const AS_OF_DAY: i32 = 19_905;
/// Category names of synthetic items.
pub const CATEGORIES: [&str; 8] =
    ["snacks", "drinks", "dairy", "bakery", "household", "personal_care", "produce", "frozen"];
const SEGMENTS: [&str; 4] = ["young_urban", "families", "seniors", "bargain_hunters"];
const FEATURES: [&str; 5] = ["recency_days", "frequency", "monetary", "overdue_ratio", "tickets_complaint"];

/// How big a synthetic bundle is and how it is seeded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyntheticParams {
    customers: usize,
    items: usize,
    recs_per_customer: usize,
    neighbours_per_item: usize,
    seed: u64,
    model_version: Option<String>,
}

fn mix(mut z: u64) -> u64 {
    // SplitMix64 finaliser: a seeded, stateless hash of (seed, index).
    z = z.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

impl SyntheticParams {
    /// `customers` customers and `items` items; 10 recommendations per customer, 20 neighbours per item,
    /// seed 42.
    pub fn new(customers: usize, items: usize) -> Self {
        Self { customers, items, recs_per_customer: 10, neighbours_per_item: 20, seed: 42, model_version: None }
    }

    /// Sets the seed.
    pub fn seed(mut self, seed: u64) -> Self {
        self.seed = seed;
        self
    }

    /// Sets the number of precomputed recommendations per customer.
    pub fn recs_per_customer(mut self, n: usize) -> Self {
        self.recs_per_customer = n;
        self
    }

    /// Sets the model version written in the header (default `synthetic-{customers}-{seed}`).
    pub fn model_version(mut self, version: impl Into<String>) -> Self {
        self.model_version = Some(version.into());
        self
    }

    /// The key of the `n`-th customer without a churn score.
    pub fn unscored_key(n: usize) -> String {
        format!("web:{}", 7 + 20 * n)
    }

    /// The key of the `n`-th customer without personal recommendations (but with a segment).
    pub fn cold_key(n: usize) -> String {
        format!("web:{}", 5 + 17 * 13 * n)
    }

    /// The ID of item number `j`.
    pub fn item_id(j: usize) -> String {
        format!("SKU{j:06}")
    }

    fn unit(&self, salt: u64, i: usize) -> f32 {
        (mix(self.seed ^ salt.wrapping_mul(0x1000_0000_01b3) ^ (i as u64).wrapping_mul(0x9e37_79b9)) >> 40) as f32
            / (1u64 << 24) as f32
    }

    fn pick(&self, salt: u64, i: usize, bound: usize) -> usize {
        (mix(self.seed ^ salt.wrapping_mul(0x2545_f491_4f6c_dd1d) ^ (i as u64).wrapping_mul(0x9e37_79b9))
            % bound as u64) as usize
    }

    /// Builds the bundle.
    pub fn build(&self) -> ModelBundle {
        let n = self.customers;
        let m = self.items.max(1);
        let mut order: Vec<(String, usize)> =
            (0..n).map(|i| (CustomerId::derive(&format!("web:{i}")).as_str().to_owned(), i)).collect();
        order.sort_unstable();
        let mut position = vec![0u32; n];
        for (p, (_, i)) in order.iter().enumerate() {
            position[*i] = p as u32;
        }
        let gens: Vec<usize> = order.iter().map(|(_, i)| *i).collect();
        let ids: Vec<String> = order.into_iter().map(|(id, _)| id).collect();

        let mut keys: Vec<(String, u32)> = Vec::with_capacity(n * 2);
        for (i, &p) in position.iter().enumerate() {
            keys.push((format!("web:{i}"), p));
            if i % 2 == 0 {
                keys.push((format!("card:{}", 8_800_000 + i), p));
            }
            if i % 3 == 0 {
                keys.push((format!("email:user{i}@example.com"), p));
            }
        }
        keys.sort_unstable();

        let profile = vec![
            ProfileColumnData {
                name: "vip".into(),
                tag_type: TagType::Flag,
                values: ColumnValues::Flag(
                    gens.iter().map(|&i| if i % 37 == 0 { 2 } else { u8::from(i % 10 == 0) }).collect(),
                ),
            },
            ProfileColumnData {
                name: "member_tier".into(),
                tag_type: TagType::Category,
                values: ColumnValues::Category {
                    levels: vec!["bronze".into(), "silver".into(), "gold".into()],
                    codes: gens.iter().map(|&i| if i % 11 == 0 { u32::MAX } else { (i % 3) as u32 }).collect(),
                },
            },
            ProfileColumnData {
                name: "recency_days".into(),
                tag_type: TagType::Number,
                values: ColumnValues::Number(
                    gens.iter()
                        .map(|&i| if i % 19 == 0 { f32::NAN } else { (self.unit(1, i) * 400.0).floor() })
                        .collect(),
                ),
            },
            ProfileColumnData {
                name: "first_purchase".into(),
                tag_type: TagType::Date,
                values: ColumnValues::Date(gens.iter().map(|&i| 19_000 + self.pick(2, i, 900) as i32).collect()),
            },
        ];
        let tags = profile
            .iter()
            .map(|c| TagInfo {
                name: c.name.clone(),
                tag_type: c.tag_type,
                description: format!("synthetic {}", c.name),
                owner: "synthetic".into(),
                coverage: 0.95,
                aliases: Vec::new(),
                values: match &c.values {
                    ColumnValues::Category { levels, .. } => levels.clone(),
                    _ => Vec::new(),
                },
            })
            .collect();

        let items = Items {
            ids: (0..m).map(Self::item_id).collect(),
            names: (0..m).map(|j| format!("{} item {j}", CATEGORIES[j % CATEGORIES.len()])).collect(),
            category: (0..m).map(|j| if j % 29 == 28 { u16::MAX } else { (j % CATEGORIES.len()) as u16 }).collect(),
            category_names: CATEGORIES.iter().map(|c| (*c).to_owned()).collect(),
            repurchasable: (0..m).map(|j| j % 3 == 0).collect(),
        };

        let mut churn = ChurnOutputs {
            model: "logistic".into(),
            features: FEATURES.iter().map(|f| (*f).to_owned()).collect(),
            band_thresholds: [0.3, 0.6],
            horizon_days: 90,
            ..ChurnOutputs::default()
        };
        let mut timing = TimingOutputs::default();
        let mut recs = Recommendations::default();
        recs.offsets.push(0);
        for &i in &gens {
            let p = if i % 20 == 7 { f32::NAN } else { self.unit(3, i) };
            churn.probability.push(p);
            churn.value_at_risk.push(if p.is_nan() { f32::NAN } else { p * (20.0 + 480.0 * self.unit(4, i)) });
            for r in 0..3 {
                let contribution = if r == 2 && i % 4 == 0 { 0.0 } else { (3 - r) as f32 * 0.2 * self.unit(5 + r, i) };
                churn.reasons.push(ReasonCode { feature: self.pick(8 + r, i, FEATURES.len()) as u16, contribution });
            }

            let next = if i % 23 == 0 { i32::MIN } else { AS_OF_DAY - 30 + self.pick(11, i, 90) as i32 };
            timing.next_purchase_day.push(next);
            timing.window_start.push(if next == i32::MIN { i32::MIN } else { next - 3 });
            timing.window_end.push(if next == i32::MIN { i32::MIN } else { next + 4 });
            timing.urgency.push(match next {
                i32::MIN => Urgency::Unknown,
                d if d < AS_OF_DAY - 14 => Urgency::Lapsed,
                d if d < AS_OF_DAY => Urgency::WinBack,
                d if d < AS_OF_DAY + 14 => Urgency::Remind,
                _ => Urgency::Wait,
            });
            let alive = 1.0 - 0.8 * self.unit(3, i);
            timing.p_alive.push(alive);
            timing.expected_30d.push(alive * 2.0 * self.unit(12, i));
            timing.expected_90d.push(alive * 6.0 * self.unit(12, i));

            if i % 17 != 5 {
                let want = self.recs_per_customer.min(m);
                let mut chosen: Vec<u32> = Vec::with_capacity(want);
                let mut attempt = 0;
                while chosen.len() < want {
                    let item = self.pick(13 + attempt as u64, i, m) as u32;
                    attempt += 1;
                    if !chosen.contains(&item) {
                        chosen.push(item);
                    }
                }
                for (rank, item) in chosen.into_iter().enumerate() {
                    recs.items.push(item);
                    recs.scores.push(0.95 * 0.93f32.powi(rank as i32));
                    recs.reasons.push(match rank {
                        0 | 1 if items.repurchasable[item as usize] => RecReason::BoughtBeforeAndDue,
                        0..=6 => RecReason::SimilarTo,
                        _ => RecReason::PopularInSegment,
                    });
                }
            }
            recs.offsets.push(recs.items.len() as u32);
            recs.customer_segment.push(if i % 13 == 11 { u16::MAX } else { (i % SEGMENTS.len()) as u16 });
        }

        recs.neighbour_offsets.push(0);
        for j in 0..m {
            let want = self.neighbours_per_item.min(m - 1);
            let mut chosen: Vec<u32> = Vec::with_capacity(want);
            let mut attempt = 0u64;
            while chosen.len() < want {
                // Mostly the same category, like real co-purchase neighbours.
                let candidate = if attempt % 3 == 2 {
                    self.pick(100 + attempt, j, m)
                } else {
                    (j + CATEGORIES.len() * (1 + self.pick(200 + attempt, j, m / CATEGORIES.len() + 1))) % m
                };
                attempt += 1;
                if candidate != j && !chosen.contains(&(candidate as u32)) {
                    chosen.push(candidate as u32);
                }
            }
            for (rank, item) in chosen.into_iter().enumerate() {
                recs.neighbour_items.push(item);
                recs.neighbour_scores.push(0.9 * 0.95f32.powi(rank as i32));
            }
            recs.neighbour_offsets.push(recs.neighbour_items.len() as u32);
        }
        let ranked = |salt: u64| {
            let mut all: Vec<u32> = (0..m as u32).collect();
            all.sort_by_key(|&j| mix(self.seed ^ salt ^ u64::from(j)));
            all
        };
        recs.popular = ranked(0xfeed);
        recs.segments = SEGMENTS.iter().map(|s| (*s).to_owned()).collect();
        recs.segment_popular =
            (0..SEGMENTS.len() as u64).map(|s| ranked(s + 1).into_iter().take(50).collect()).collect();

        let version = self.model_version.clone().unwrap_or_else(|| format!("synthetic-{n}-{}", self.seed));
        ModelBundle {
            header: BundleHeader {
                format_version: FORMAT_VERSION,
                crate_version: env!("CARGO_PKG_VERSION").to_owned(),
                model_version: version,
                created_at: "2024-07-01T00:00:00Z".to_owned(),
                as_of: "2024-07-01".to_owned(),
                data_fingerprint: format!("synthetic:{n}:{m}:{}", self.seed),
                dictionary_version: "synthetic".to_owned(),
                feature_schema: FEATURES
                    .iter()
                    .map(|f| FeatureSpec { name: (*f).to_owned(), encoding: "standardized".to_owned() })
                    .collect(),
                metrics: vec![
                    Metric { model: "churn".into(), name: "roc_auc".into(), value: 0.81, baseline: Some(0.7) },
                    Metric {
                        model: "recommendations".into(),
                        name: "recall_at_10".into(),
                        value: 0.22,
                        baseline: Some(0.12),
                    },
                ],
                notes: BTreeMap::from([("generator".to_owned(), "synthetic".to_owned())]),
            },
            contents: BundleContents {
                customers: Customers { ids, keys, profile },
                items,
                tags,
                churn,
                timing,
                recommendations: recs,
            },
        }
    }
}
