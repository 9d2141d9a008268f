//! Repurchase: which items customers buy again (decided per item from the data), each item's typical cycle,
//! and a customer's "buy again" score for an item by how due it is at the as-of day.
//!
//! Repurchasable: an item's repeat share is the share of its buyers who bought it on 2+ distinct days, shrunk
//! toward the catalogue-wide share with `prior_buyers` pseudo-buyers: (repeaters + m·pooled) / (buyers + m).
//! An item is repurchasable when that share is at least the threshold (default 0.10: durables sit near 0,
//! consumables well above). Non-repurchasable items a customer already bought are never recommended to them.
//!
//! Due score of a bought repurchasable item: cycle g = the customer's median gap between distinct purchase days
//! of the item, or the item's typical cycle (median of all customers' gaps; the catalogue median, or the
//! default, when the item has none); r = (as_of − last purchase) / g; due(r) = exp(−ln²r / 2σ²), with σ the
//! due width before the due date and 2σ after it (overdue items fade more slowly than fresh ones rise). The
//! score is due(r) · d / (d + 1) with d the customer's distinct purchase days of the item: 1.0 at most.
//!
//! Frequency score ([`BuyAgainScore::Frequency`]), the plain "buy again" list: c / (c + 1) with c the customer's
//! distinct purchase days (or purchase lines) of the item, times a recency factor 0.5^(elapsed / half-life)
//! (without a half-life, 1 − 10⁻⁴ · elapsed / (elapsed + 30): the more recent item wins ties only), times
//! (1 − s) + s · due(r) with s the due share (0: the customer's cycle plays no part). Also 1.0 at most.

use serde::{Deserialize, Serialize};

use super::interactions::{Interactions, ItemHistory, median_i32};

/// How a customer's bought repurchasable item is scored for "buy again" (see the module docs); chosen by
/// validation among [`super::AffinityParams::buy_again_grid`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub enum BuyAgainScore {
    /// How due the item is on the customer's own cycle, times d / (d + 1).
    #[default]
    Cycle,
    /// How often the customer bought the item, with an optional recency decay and due factor.
    Frequency {
        /// Count purchase lines rather than distinct purchase days.
        lines: bool,
        /// Half-life in days of the recency factor; 0 = recency only breaks ties.
        half_life_days: f32,
        /// Share s of the due factor (1 − s) + s · due(r), in [0, 1]; 0 = no due term.
        due_share: f32,
    },
}

impl BuyAgainScore {
    /// The default validation grid: the cycle score and the frequency score by days or lines, without or with a
    /// one-year recency half-life, with due share 0, 0.25 or 0.5.
    pub fn default_grid() -> Vec<Self> {
        let mut out = vec![Self::Cycle];
        for lines in [false, true] {
            for half_life_days in [0.0, 365.0] {
                for due_share in [0.0, 0.25, 0.5] {
                    out.push(Self::Frequency { lines, half_life_days, due_share });
                }
            }
        }
        out
    }

    /// Whether the fields are in range (finite half-life ≥ 0, due share in [0, 1]).
    pub fn is_valid(&self) -> bool {
        match *self {
            Self::Cycle => true,
            Self::Frequency { half_life_days, due_share, .. } => {
                half_life_days.is_finite() && half_life_days >= 0.0 && (0.0..=1.0).contains(&due_share)
            }
        }
    }

    /// The score in [0, 1] of one bought item at `as_of`.
    pub(crate) fn score(&self, h: &ItemHistory, item_cycle_days: f32, as_of: i32, due_width: f64) -> f32 {
        match *self {
            Self::Cycle => buy_again_score(h, item_cycle_days, as_of, due_width),
            Self::Frequency { lines, half_life_days, due_share } => {
                let c = f64::from(if lines { h.events } else { h.distinct_days });
                let elapsed = f64::from(as_of.saturating_sub(h.last_day).max(0));
                let recency = if half_life_days > 0.0 {
                    0.5f64.powf(elapsed / f64::from(half_life_days))
                } else {
                    1.0 - 1e-4 * elapsed / (elapsed + 30.0)
                };
                let s = f64::from(due_share);
                let due_factor = if s > 0.0 { 1.0 - s + s * due(h, item_cycle_days, as_of, due_width) } else { 1.0 };
                (c / (c + 1.0) * recency * due_factor) as f32
            }
        }
    }
}

/// Per-item repurchase statistics.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct RepurchaseStats {
    pub repeat_share: Vec<f32>,
    pub repurchasable: Vec<bool>,
    pub cycle_days: Vec<f32>,
}

/// Computes repeat shares, flags and cycles from the training events.
pub(crate) fn repurchase_stats(
    train: &Interactions,
    prior_buyers: f64,
    threshold: f64,
    default_cycle_days: f32,
) -> RepurchaseStats {
    let n = train.n_items;
    let mut buyers = vec![0u32; n];
    let mut repeaters = vec![0u32; n];
    let mut gaps: Vec<Vec<i32>> = vec![Vec::new(); n];
    for u in 0..train.n_users {
        // (item, day, counted as a repeater yet) of the previous event; events come sorted by (item, day).
        let mut last: Option<(u32, i32, bool)> = None;
        let (items, days) = train.user_item_days(u);
        for (&item, &day) in items.iter().zip(days) {
            let mut repeated = false;
            match last {
                Some((li, ld, r)) if li == item => {
                    repeated = r;
                    if day > ld {
                        gaps[item as usize].push(day - ld);
                        if !r {
                            repeaters[item as usize] += 1;
                            repeated = true;
                        }
                    }
                }
                _ => buyers[item as usize] += 1,
            }
            last = Some((item, day, repeated));
        }
    }
    let total_buyers: u64 = buyers.iter().map(|&b| u64::from(b)).sum();
    let total_repeaters: u64 = repeaters.iter().map(|&r| u64::from(r)).sum();
    let pooled = if total_buyers == 0 { 0.0 } else { total_repeaters as f64 / total_buyers as f64 };
    let repeat_share: Vec<f32> = (0..n)
        .map(|i| ((f64::from(repeaters[i]) + prior_buyers * pooled) / (f64::from(buyers[i]) + prior_buyers)) as f32)
        .collect();
    let mut all_gaps: Vec<i32> = gaps.iter().flatten().copied().collect();
    let catalogue_cycle = median_i32(&mut all_gaps).unwrap_or(default_cycle_days);
    let cycle_days = gaps.iter_mut().map(|g| median_i32(g).unwrap_or(catalogue_cycle)).collect();
    RepurchaseStats {
        repurchasable: repeat_share.iter().map(|&s| f64::from(s) >= threshold).collect(),
        repeat_share,
        cycle_days,
    }
}

/// The buy-again score in [0, 1] of one bought item at `as_of` (see the module docs).
pub(crate) fn buy_again_score(h: &ItemHistory, item_cycle_days: f32, as_of: i32, due_width: f64) -> f32 {
    let d = f64::from(h.distinct_days);
    (due(h, item_cycle_days, as_of, due_width) * d / (d + 1.0)) as f32
}

/// due(r) in [0, 1] of one bought item at `as_of` (see the module docs).
fn due(h: &ItemHistory, item_cycle_days: f32, as_of: i32, due_width: f64) -> f64 {
    let cycle = f64::from(h.median_gap.unwrap_or(item_cycle_days).max(1.0));
    let elapsed = f64::from(as_of.saturating_sub(h.last_day).max(0));
    let r = (elapsed / cycle).max(1e-3);
    let width = if r > 1.0 { 2.0 * due_width } else { due_width };
    (-(r.ln().powi(2)) / (2.0 * width * width)).exp()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn history(distinct_days: u32, last_day: i32, median_gap: Option<f32>) -> ItemHistory {
        ItemHistory { item: 0, events: distinct_days, distinct_days, last_day, median_gap }
    }

    #[test]
    fn an_item_exactly_one_cycle_ago_is_fully_due() {
        let s = buy_again_score(&history(4, 93, Some(7.0)), 30.0, 100, 0.5);
        assert!((s - 0.8).abs() < 1e-6);
        // Bought yesterday on a 7-day cycle: barely due.
        assert!(buy_again_score(&history(4, 99, Some(7.0)), 30.0, 100, 0.5) < 0.01);
    }

    #[test]
    fn overdue_items_fade_slower_than_early_ones_rise() {
        let early = buy_again_score(&history(3, 100 - 14, Some(28.0)), 30.0, 100, 0.5);
        let late = buy_again_score(&history(3, 100 - 56, Some(28.0)), 30.0, 100, 0.5);
        assert!(late > early);
    }

    fn frequency(lines: bool, half_life_days: f32, due_share: f32) -> BuyAgainScore {
        BuyAgainScore::Frequency { lines, half_life_days, due_share }
    }

    #[test]
    fn frequency_score_known_answers() {
        // 3 distinct days, 5 lines, last bought 10 days before as-of, 7-day own cycle.
        let h = ItemHistory { item: 0, events: 5, distinct_days: 3, last_day: 90, median_gap: Some(7.0) };
        let tie = 1.0 - 1e-4 * 10.0 / 40.0;
        assert!((frequency(false, 0.0, 0.0).score(&h, 30.0, 100, 0.5) - (0.75 * tie) as f32).abs() < 1e-7);
        assert!((frequency(true, 0.0, 0.0).score(&h, 30.0, 100, 0.5) - (5.0 / 6.0 * tie) as f32).abs() < 1e-7);
        // A 10-day half-life halves it after 10 days.
        assert!((frequency(false, 10.0, 0.0).score(&h, 30.0, 100, 0.5) - 0.375).abs() < 1e-6);
        // Half of the due factor: r = 10/7, width 2σ = 1 after the due date.
        let due = (-(10.0f64 / 7.0).ln().powi(2) / 2.0).exp();
        let want = 0.75 * tie * (0.5 + 0.5 * due);
        assert!((frequency(false, 0.0, 0.5).score(&h, 30.0, 100, 0.5) - want as f32).abs() < 1e-6);
        // The cycle variant is the due score.
        assert_eq!(BuyAgainScore::Cycle.score(&h, 30.0, 100, 0.5), buy_again_score(&h, 30.0, 100, 0.5));
    }

    #[test]
    fn frequency_ranks_by_count_then_recency() {
        let h = |distinct_days: u32, last_day: i32| ItemHistory {
            item: 0,
            events: distinct_days,
            distinct_days,
            last_day,
            median_gap: None,
        };
        let f = frequency(false, 0.0, 0.0);
        let s = |x: &ItemHistory| f.score(x, 30.0, 100, 0.5);
        // More days wins even when bought long ago; equal days go to the more recent purchase.
        assert!(s(&h(4, 10)) > s(&h(3, 99)));
        assert!(s(&h(3, 99)) > s(&h(3, 50)));
        assert!(s(&h(2, 99)) < 1.0 && s(&h(2, 99)) > 0.66);
        assert!(BuyAgainScore::default_grid().iter().all(BuyAgainScore::is_valid));
        assert!(!frequency(false, -1.0, 0.0).is_valid() && !frequency(false, 0.0, 1.5).is_valid());
    }

    #[test]
    fn items_bought_on_several_days_are_repurchasable_and_durables_are_not() {
        // Item 0 (milk): both users buy it weekly. Item 1 (TV): bought once by each.
        let events = [(0, 0, 0, 1.0), (0, 0, 7, 1.0), (0, 0, 14, 1.0), (1, 0, 3, 1.0), (1, 0, 10, 1.0)];
        let mut all = events.to_vec();
        all.extend([(0, 1, 0, 1.0), (1, 1, 3, 1.0)]);
        let x = Interactions::from_events(2, 2, &all).unwrap();
        let s = repurchase_stats(&x, 0.0, 0.1, 30.0);
        assert_eq!(s.repurchasable, vec![true, false]);
        assert_eq!(s.cycle_days[0], 7.0);
        assert_eq!(s.repeat_share, vec![1.0, 0.0]);
        // The TV has no gaps of its own and takes the catalogue median.
        assert_eq!(s.cycle_days[1], 7.0);
    }
}
