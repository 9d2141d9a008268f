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

use super::interactions::{Interactions, ItemHistory, median_i32};

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
        for (item, day, _) in train.user_events(u) {
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
    let cycle = f64::from(h.median_gap.unwrap_or(item_cycle_days).max(1.0));
    let elapsed = f64::from(as_of.saturating_sub(h.last_day).max(0));
    let r = (elapsed / cycle).max(1e-3);
    let width = if r > 1.0 { 2.0 * due_width } else { due_width };
    let due = (-(r.ln().powi(2)) / (2.0 * width * width)).exp();
    let d = f64::from(h.distinct_days);
    (due * d / (d + 1.0)) as f32
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
