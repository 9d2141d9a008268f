//! Purchases as implicit feedback: a per-user CSR of (item, day, quantity) events, and the per-item summary of
//! one user's history that every component (co-occurrence, ALS confidence, buy-again) reads.

use super::AffinityError;

/// One purchase event: `(user, item, day since 1970-01-01, quantity)`.
pub type Event = (u32, u32, i32, f32);

/// Purchase events grouped by user (CSR), each user's events sorted by (item, day).
#[derive(Debug, Clone, PartialEq)]
pub struct Interactions {
    /// Number of users (rows); user indices are `0..n_users`.
    pub n_users: usize,
    /// Number of items (columns); item indices are `0..n_items`.
    pub n_items: usize,
    offsets: Vec<usize>,
    items: Vec<u32>,
    days: Vec<i32>,
    quantities: Vec<f32>,
}

/// What one user did with one item.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ItemHistory {
    /// The item.
    pub item: u32,
    /// Number of events (rows) for the pair.
    pub events: u32,
    /// Number of distinct purchase days.
    pub distinct_days: u32,
    /// Last purchase day.
    pub last_day: i32,
    /// Median gap in days between consecutive distinct purchase days (`None` with fewer than two days).
    pub median_gap: Option<f32>,
}

impl Interactions {
    /// Groups events by user. Fails when a user or item index is out of range or a quantity is not finite.
    ///
    /// ```
    /// use tagcenter_training::models::affinity::Interactions;
    /// let x = Interactions::from_events(2, 3, &[(0, 2, 100, 1.0), (1, 0, 90, 2.0), (0, 1, 95, 1.0)]).unwrap();
    /// assert_eq!(x.user_items(0), &[1, 2]);
    /// assert_eq!(x.before(96).n_events(), 2);
    /// ```
    pub fn from_events(n_users: usize, n_items: usize, events: &[Event]) -> Result<Self, AffinityError> {
        for &(user, item, _, quantity) in events {
            if user as usize >= n_users {
                return Err(AffinityError::UserOutOfRange { user, n_users });
            }
            if item as usize >= n_items {
                return Err(AffinityError::ItemOutOfRange { item, n_items });
            }
            if !quantity.is_finite() {
                return Err(AffinityError::BadQuantity { user, item });
            }
        }
        let mut sorted: Vec<Event> = events.to_vec();
        sort_events(&mut sorted);
        let mut offsets = vec![0usize; n_users + 1];
        for &(user, ..) in &sorted {
            offsets[user as usize + 1] += 1;
        }
        for u in 0..n_users {
            offsets[u + 1] += offsets[u];
        }
        Ok(Self {
            n_users,
            n_items,
            offsets,
            items: sorted.iter().map(|e| e.1).collect(),
            days: sorted.iter().map(|e| e.2).collect(),
            quantities: sorted.iter().map(|e| e.3).collect(),
        })
    }

    /// The events dated strictly before `day` (same users and items).
    pub fn before(&self, day: i32) -> Self {
        self.filter_days(|d| d < day)
    }

    /// The events dated in `[from, to)`.
    pub fn between(&self, from: i32, to: i32) -> Self {
        self.filter_days(|d| d >= from && d < to)
    }

    /// The events of the users with `keep[user]` (the others keep their index but no events).
    pub fn only_users(&self, keep: &[bool]) -> Self {
        self.filter(|user, _| keep.get(user).copied().unwrap_or(false))
    }

    fn filter_days(&self, keep: impl Fn(i32) -> bool) -> Self {
        self.filter(|_, day| keep(day))
    }

    fn filter(&self, keep: impl Fn(usize, i32) -> bool) -> Self {
        let mut out = Self {
            n_users: self.n_users,
            n_items: self.n_items,
            offsets: Vec::with_capacity(self.n_users + 1),
            items: Vec::new(),
            days: Vec::new(),
            quantities: Vec::new(),
        };
        out.offsets.push(0);
        for u in 0..self.n_users {
            for e in self.offsets[u]..self.offsets[u + 1] {
                if keep(u, self.days[e]) {
                    out.items.push(self.items[e]);
                    out.days.push(self.days[e]);
                    out.quantities.push(self.quantities[e]);
                }
            }
            out.offsets.push(out.items.len());
        }
        out
    }

    /// Total number of events.
    pub fn n_events(&self) -> usize {
        self.items.len()
    }

    /// The item of each of `user`'s events, sorted (repeats included).
    pub fn user_items(&self, user: usize) -> &[u32] {
        &self.items[self.offsets[user]..self.offsets[user + 1]]
    }

    /// `user`'s events as `(item, day, quantity)`, sorted by item then day.
    pub fn user_events(&self, user: usize) -> impl Iterator<Item = (u32, i32, f32)> + '_ {
        let r = self.offsets[user]..self.offsets[user + 1];
        r.map(|e| (self.items[e], self.days[e], self.quantities[e]))
    }

    /// `user`'s event items and days as two parallel slices, sorted by item then day.
    pub(crate) fn user_item_days(&self, user: usize) -> (&[u32], &[i32]) {
        let r = self.offsets[user]..self.offsets[user + 1];
        (&self.items[r.clone()], &self.days[r])
    }

    /// The first and last event day (`None` without events).
    pub(crate) fn day_range(&self) -> Option<(i32, i32)> {
        let first = self.days.iter().copied().min()?;
        Some((first, self.days.iter().copied().max()?))
    }

    /// `user`'s distinct items with their history summary.
    pub fn user_history(&self, user: usize) -> Vec<ItemHistory> {
        let r = self.offsets[user]..self.offsets[user + 1];
        summarize_sorted(&self.items[r.clone()], &self.days[r])
    }

    /// The distinct items of every user (binary matrix rows), sorted.
    pub(crate) fn distinct_rows(&self) -> ItemSets {
        let mut sets = ItemSets { offsets: Vec::with_capacity(self.n_users + 1), items: Vec::new() };
        sets.offsets.push(0);
        for u in 0..self.n_users {
            let start = sets.items.len();
            for &i in self.user_items(u) {
                // A user's items are sorted: a repeat is the same as the last one kept.
                if sets.items.len() == start || sets.items[sets.items.len() - 1] != i {
                    sets.items.push(i);
                }
            }
            sets.offsets.push(sets.items.len());
        }
        sets
    }

    /// Items with at least one event.
    pub fn active_items(&self) -> usize {
        let mut seen = vec![false; self.n_items];
        for &i in &self.items {
            seen[i as usize] = true;
        }
        seen.iter().filter(|&&s| s).count()
    }
}

/// Each user's distinct items, sorted (CSR): the rows of the binary user × item matrix X.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct ItemSets {
    offsets: Vec<usize>,
    items: Vec<u32>,
}

impl ItemSets {
    /// Item sets from one sorted, distinct list per user.
    #[cfg(test)]
    pub fn from_rows(rows: &[Vec<u32>]) -> Self {
        let mut offsets = vec![0];
        offsets.extend(rows.iter().scan(0, |end, r| {
            *end += r.len();
            Some(*end)
        }));
        Self { offsets, items: rows.concat() }
    }

    /// Number of users (rows).
    pub fn n_rows(&self) -> usize {
        self.offsets.len() - 1
    }

    /// `user`'s distinct items, sorted.
    pub fn row(&self, user: usize) -> &[u32] {
        &self.items[self.offsets[user]..self.offsets[user + 1]]
    }

    /// Every user's items, user after user.
    #[cfg(test)]
    pub fn items(&self) -> &[u32] {
        &self.items
    }
}

/// Summarises an unsorted history of `(item, day, quantity)` events, one entry per distinct item, by item.
pub fn summarize_history(history: &[(u32, i32, f32)]) -> Vec<ItemHistory> {
    let mut sorted: Vec<(u32, i32)> = history.iter().map(|&(i, d, _)| (i, d)).collect();
    sorted.sort_unstable();
    let items: Vec<u32> = sorted.iter().map(|e| e.0).collect();
    let days: Vec<i32> = sorted.iter().map(|e| e.1).collect();
    summarize_sorted(&items, &days)
}

fn summarize_sorted(items: &[u32], days: &[i32]) -> Vec<ItemHistory> {
    let mut out = Vec::new();
    let mut start = 0;
    while start < items.len() {
        let item = items[start];
        let mut end = start;
        while end < items.len() && items[end] == item {
            end += 1;
        }
        let mut distinct: Vec<i32> = days[start..end].to_vec();
        distinct.dedup();
        let mut gaps: Vec<i32> = distinct.windows(2).map(|w| w[1] - w[0]).collect();
        out.push(ItemHistory {
            item,
            events: (end - start) as u32,
            distinct_days: distinct.len() as u32,
            last_day: distinct.last().copied().unwrap_or(i32::MIN),
            median_gap: median_i32(&mut gaps),
        });
        start = end;
    }
    out
}

/// Median of integer values (mean of the two middle values for an even count); `None` when empty.
pub(crate) fn median_i32(values: &mut [i32]) -> Option<f32> {
    if values.is_empty() {
        return None;
    }
    values.sort_unstable();
    let n = values.len();
    Some(if n % 2 == 1 { values[n / 2] as f32 } else { (values[n / 2 - 1] as f32 + values[n / 2] as f32) / 2.0 })
}

/// Sorts events by user, item, day (then quantity, so the order is total and every sort agrees). Events
/// already grouped by user (as a purchase history lists them) only need each user's run sorted.
fn sort_events(events: &mut [Event]) {
    let order = |a: &Event, b: &Event| (a.0, a.1, a.2).cmp(&(b.0, b.1, b.2)).then(a.3.total_cmp(&b.3));
    crate::grouped_sort::sort_grouped(events, |e| e.0, order);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn history_summary_counts_distinct_days_and_median_gap() {
        let h = summarize_history(&[(5, 10, 1.0), (5, 17, 1.0), (5, 17, 2.0), (5, 31, 1.0), (2, 3, 1.0)]);
        assert_eq!(h.len(), 2);
        assert_eq!((h[0].item, h[0].distinct_days, h[0].median_gap), (2, 1, None));
        assert_eq!((h[1].item, h[1].events, h[1].distinct_days, h[1].last_day), (5, 4, 3, 31));
        assert_eq!(h[1].median_gap, Some(10.5));
    }

    #[test]
    fn out_of_range_indices_are_rejected() {
        assert!(matches!(
            Interactions::from_events(1, 1, &[(0, 1, 0, 1.0)]),
            Err(AffinityError::ItemOutOfRange { item: 1, n_items: 1 })
        ));
        assert!(matches!(
            Interactions::from_events(1, 1, &[(3, 0, 0, 1.0)]),
            Err(AffinityError::UserOutOfRange { user: 3, .. })
        ));
    }

    #[test]
    fn between_keeps_a_half_open_window() {
        let x = Interactions::from_events(1, 2, &[(0, 0, 1, 1.0), (0, 1, 5, 1.0), (0, 0, 9, 1.0)]).unwrap();
        let w = x.between(5, 9);
        assert_eq!(w.user_items(0), &[1]);
        assert_eq!(x.before(9).n_events(), 2);
    }
}
