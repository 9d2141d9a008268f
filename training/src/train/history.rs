//! Per-customer purchase history on local days, built once from the store: distinct purchase days and
//! item events, both sorted by day. Every point-in-time view (features, labels, timing, affinity) is a
//! slice of these before or after a cutoff.

use chrono::FixedOffset;
use rayon::prelude::*;

use crate::unify::Unified;
use crate::unify::behaviour::local_day;

/// Purchase history of every unified customer.
#[derive(Debug, Clone, Default)]
pub struct PurchaseHistory {
    day_offsets: Vec<usize>,
    days: Vec<i32>,
    event_offsets: Vec<usize>,
    /// (item, day, quantity) of every purchase line, per customer, sorted by day.
    events: Vec<(u32, i32, f32)>,
}

impl PurchaseHistory {
    /// Builds the history from a unify run (purchases only: lines with a positive quantity and amount).
    pub fn build(unified: &Unified) -> Self {
        let tz: FixedOffset = unified.timezone();
        let customers = unified.identity.customers();
        let customer_of_record = &unified.identity.customer_of_record;
        let mut events: Vec<(u32, u32, i32, f32)> = unified
            .store
            .lines
            .par_iter()
            .filter(|l| l.quantity > 0.0 && l.amount >= 0.0)
            .map(|l| (customer_of_record[l.record as usize], l.item, local_day(l.ts, &tz), l.quantity))
            .collect();
        // By customer, day, item (then quantity: a total order). A unify run's lines are already grouped by
        // customer, so only each customer's run is sorted.
        let order = |a: &(u32, u32, i32, f32), b: &(u32, u32, i32, f32)| {
            (a.0, a.2, a.1).cmp(&(b.0, b.2, b.1)).then(a.3.total_cmp(&b.3))
        };
        crate::grouped_sort::sort_grouped(&mut events, |e| e.0, order);
        let mut event_offsets = vec![0usize; customers + 1];
        for e in &events {
            event_offsets[e.0 as usize + 1] += 1;
        }
        for c in 0..customers {
            event_offsets[c + 1] += event_offsets[c];
        }
        let mut day_offsets = Vec::with_capacity(customers + 1);
        let mut days = Vec::new();
        day_offsets.push(0);
        for c in 0..customers {
            for e in &events[event_offsets[c]..event_offsets[c + 1]] {
                if days.len() == *day_offsets.last().unwrap_or(&0) || days.last() != Some(&e.2) {
                    days.push(e.2);
                }
            }
            day_offsets.push(days.len());
        }
        let events = events.into_iter().map(|(_, item, day, qty)| (item, day, qty)).collect();
        Self { day_offsets, days, event_offsets, events }
    }

    /// Number of customers.
    pub fn customers(&self) -> usize {
        self.day_offsets.len().saturating_sub(1)
    }

    /// All distinct purchase days of customer `c`, sorted.
    pub fn days(&self, c: usize) -> &[i32] {
        &self.days[self.day_offsets[c]..self.day_offsets[c + 1]]
    }

    /// Purchase days strictly before `day`.
    pub fn days_before(&self, c: usize, day: i32) -> &[i32] {
        let all = self.days(c);
        &all[..all.partition_point(|&d| d < day)]
    }

    /// Whether customer `c` bought anything in `[from, until)`.
    pub fn bought_between(&self, c: usize, from: i32, until: i32) -> bool {
        let all = self.days(c);
        let i = all.partition_point(|&d| d < from);
        all.get(i).is_some_and(|&d| d < until)
    }

    /// First purchase day on or after `day`.
    pub fn first_on_or_after(&self, c: usize, day: i32) -> Option<i32> {
        let all = self.days(c);
        all.get(all.partition_point(|&d| d < day)).copied()
    }

    /// Item events of customer `c`, sorted by day.
    pub fn events(&self, c: usize) -> &[(u32, i32, f32)] {
        &self.events[self.event_offsets[c]..self.event_offsets[c + 1]]
    }

    /// Item events strictly before `day`.
    pub fn events_before(&self, c: usize, day: i32) -> &[(u32, i32, f32)] {
        let all = self.events(c);
        &all[..all.partition_point(|e| e.1 < day)]
    }

    /// Item events in `[from, until)`.
    pub fn events_between(&self, c: usize, from: i32, until: i32) -> &[(u32, i32, f32)] {
        let all = self.events(c);
        &all[all.partition_point(|e| e.1 < from)..all.partition_point(|e| e.1 < until)]
    }
}
