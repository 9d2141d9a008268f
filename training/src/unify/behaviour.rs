//! Behavioural tags per unified customer as of a date: recency, frequency, monetary value, tenure,
//! average order value, purchase cycle (median and spread of the gaps between purchase days), category
//! shares, channel mix, return rate, coupon use, service tickets and satisfaction. Only facts strictly
//! before the as-of date count, so the same store yields point-in-time tags for any cutoff.

use chrono::{FixedOffset, NaiveDate};
use rayon::prelude::*;
use tagcenter::domain::TagType;

use super::identity::Identity;
use super::profile::{Origin, ProfileColumn, Values};
use super::store::{Store, line_order};
use crate::sources::batch::TxnLine;

/// Local day number (days since 1970-01-01 in the project's zone) of a UTC timestamp.
pub fn local_day(ts: i64, tz: &FixedOffset) -> i32 {
    (ts + i64::from(tz.local_minus_utc())).div_euclid(86_400) as i32
}

/// Day number of a date.
pub fn day_number(date: NaiveDate) -> i32 {
    (date - NaiveDate::from_ymd_opt(1970, 1, 1).expect("epoch")).num_days() as i32
}

/// First UTC second of `date` in the project's zone.
pub fn day_start_ts(date: NaiveDate, tz: &FixedOffset) -> i64 {
    i64::from(day_number(date)) * 86_400 - i64::from(tz.local_minus_utc())
}

/// Median and interquartile range of sorted values.
pub fn median_and_iqr(sorted: &[f64]) -> Option<(f64, f64)> {
    if sorted.is_empty() {
        return None;
    }
    let q = |p: f64| {
        let pos = p * (sorted.len() - 1) as f64;
        let lo = pos.floor() as usize;
        let hi = pos.ceil() as usize;
        sorted[lo] + (sorted[hi] - sorted[lo]) * (pos - lo as f64)
    };
    Some((q(0.5), q(0.75) - q(0.25)))
}

struct Builder {
    n: usize,
    columns: Vec<ProfileColumn>,
}

impl Builder {
    fn add(&mut self, name: &str, tag_type: TagType, description: &str) -> usize {
        let values = match tag_type {
            TagType::Date => Values::Date(vec![None; self.n]),
            _ => Values::Number(vec![f64::NAN; self.n]),
        };
        self.columns.push(ProfileColumn {
            name: name.to_owned(),
            tag_type,
            description: description.to_owned(),
            owner: "tagcenter".to_owned(),
            origin: Origin::Behaviour,
            values,
        });
        self.columns.len() - 1
    }
}

/// Customers whose rows are computed in parallel before being scattered into the columns.
const BLOCK_CUSTOMERS: usize = 65_536;

/// Where each behavioural value goes in a customer's row.
struct BehaviourSlots {
    first_purchase: usize,
    last_purchase: usize,
    recency: usize,
    tenure: usize,
    frequency: usize,
    purchase_days: usize,
    monetary: usize,
    aov: usize,
    cycle_median: usize,
    cycle_spread: usize,
    overdue: usize,
    last_gap: usize,
    mean_gap: usize,
    days_30: usize,
    days_180: usize,
    orders_90: usize,
    spend_90: usize,
    items: usize,
    return_rate: usize,
    coupon_rate: usize,
    /// Category share slots, the uncategorized share last.
    categories: Vec<usize>,
    channels: Vec<usize>,
}

/// Per-thread buffers reused from one customer to the next.
struct Scratch {
    days: Vec<i32>,
    orders: Vec<(u32, u8, bool, i32)>,
    item_ids: Vec<u32>,
    category_spend: Vec<f64>,
    per_channel: Vec<usize>,
}

impl Scratch {
    fn new(n_categories: usize, n_channels: usize) -> Self {
        Self {
            days: Vec::new(),
            orders: Vec::new(),
            item_ids: Vec::new(),
            category_spend: vec![0.0; n_categories + 1],
            per_channel: vec![0; n_channels],
        }
    }

    /// Fills one customer's row (NaN where a value is undefined) from their lines before the as-of date,
    /// in time order.
    fn fill_row<'a>(
        &mut self,
        lines: impl Iterator<Item = &'a TxnLine>,
        store: &Store,
        tz: &FixedOffset,
        as_of_day: i32,
        slots: &BehaviourSlots,
        row: &mut [f64],
    ) {
        let n_categories = self.category_spend.len() - 1;
        self.days.clear();
        self.orders.clear();
        self.item_ids.clear();
        self.category_spend.fill(0.0);
        self.per_channel.fill(0);
        let (mut gross, mut returned, mut spend_recent) = (0.0, 0.0, 0.0);
        for l in lines {
            let day = local_day(l.ts, tz);
            if l.amount >= 0.0 && l.quantity > 0.0 {
                gross += l.amount;
                self.days.push(day);
                self.orders.push((l.order, l.channel, l.coupon, day));
                self.item_ids.push(l.item);
                let cat = store.item_category[l.item as usize].map_or(n_categories, usize::from);
                self.category_spend[cat] += l.amount;
                if as_of_day - day <= 90 {
                    spend_recent += l.amount;
                }
            } else {
                returned += -l.amount;
            }
        }
        self.days.dedup();
        if self.days.is_empty() {
            return;
        }
        let orders = &mut self.orders;
        orders.sort_unstable_by_key(|o| o.0);
        orders.dedup_by_key(|o| o.0);
        self.item_ids.sort_unstable();
        self.item_ids.dedup();
        let days = &self.days;
        let first = days[0];
        let last = days[days.len() - 1];
        let n_orders = orders.len() as f64;
        row[slots.first_purchase] = f64::from(first);
        row[slots.last_purchase] = f64::from(last);
        row[slots.recency] = f64::from(as_of_day - last);
        row[slots.tenure] = f64::from(as_of_day - first);
        row[slots.frequency] = n_orders;
        row[slots.purchase_days] = days.len() as f64;
        row[slots.monetary] = gross - returned;
        row[slots.aov] = gross / n_orders;
        let mut gaps: Vec<f64> = days.windows(2).map(|w| f64::from(w[1] - w[0])).collect();
        gaps.sort_unstable_by(f64::total_cmp);
        if let Some((median, iqr)) = median_and_iqr(&gaps) {
            row[slots.cycle_median] = median;
            row[slots.cycle_spread] = iqr;
            row[slots.overdue] = f64::from(as_of_day - last) / median.max(1.0);
        }
        if days.len() > 1 {
            row[slots.last_gap] = f64::from(last - days[days.len() - 2]);
            row[slots.mean_gap] = f64::from(last - first) / (days.len() - 1) as f64;
        }
        row[slots.days_30] = days.iter().filter(|&&d| as_of_day - d <= 30).count() as f64;
        row[slots.days_180] = days.iter().filter(|&&d| as_of_day - d <= 180).count() as f64;
        row[slots.orders_90] = orders.iter().filter(|o| as_of_day - o.3 <= 90).count() as f64;
        row[slots.spend_90] = spend_recent;
        row[slots.items] = self.item_ids.len() as f64;
        row[slots.return_rate] = if gross > 0.0 { (returned / gross).min(1.0) } else { 0.0 };
        row[slots.coupon_rate] = orders.iter().filter(|o| o.2).count() as f64 / n_orders;
        for (c, &col) in slots.categories.iter().enumerate() {
            row[col] = if gross > 0.0 { self.category_spend[c] / gross } else { 0.0 };
        }
        for o in orders.iter() {
            self.per_channel[usize::from(o.1)] += 1;
        }
        for (c, &col) in slots.channels.iter().enumerate() {
            row[col] = self.per_channel[c] as f64 / n_orders;
        }
    }
}

/// Computes the behavioural tag columns for every customer as of `as_of`.
pub fn behaviour_columns(
    store: &Store,
    identity: &Identity,
    categories: &[String],
    as_of: NaiveDate,
    tz: FixedOffset,
) -> Vec<ProfileColumn> {
    let n = identity.customers();
    let mut b = Builder { n, columns: Vec::new() };
    let first_purchase = b.add("first_purchase", TagType::Date, "Day of the first purchase");
    let last_purchase = b.add("last_purchase", TagType::Date, "Day of the latest purchase");
    let recency = b.add("recency_days", TagType::Number, "Days from the latest purchase to the as-of date");
    let tenure = b.add("tenure_days", TagType::Number, "Days from the first purchase to the as-of date");
    let frequency = b.add("frequency", TagType::Number, "Number of orders (receipts, web orders)");
    let purchase_days = b.add("purchase_days", TagType::Number, "Number of distinct days with a purchase");
    let monetary = b.add("monetary", TagType::Number, "Net spend: purchases minus returns, currency units");
    let aov = b.add("avg_order_value", TagType::Number, "Gross spend per order");
    let cycle_median = b.add("cycle_median_days", TagType::Number, "Median gap between purchase days");
    let cycle_spread =
        b.add("cycle_spread_days", TagType::Number, "Interquartile range of the gaps between purchase days");
    let overdue = b.add("overdue_ratio", TagType::Number, "Days since the latest purchase divided by the median gap");
    let last_gap = b.add("last_gap_days", TagType::Number, "Gap between the last two purchase days");
    let mean_gap = b.add(
        "mean_gap_days",
        TagType::Number,
        "Mean gap between purchase days (first to last purchase over the gaps between them)",
    );
    let days_30 =
        b.add("purchase_days_30d", TagType::Number, "Distinct purchase days in the 30 days before the as-of date");
    let days_180 =
        b.add("purchase_days_180d", TagType::Number, "Distinct purchase days in the 180 days before the as-of date");
    let orders_90 = b.add("orders_90d", TagType::Number, "Orders in the 90 days before the as-of date");
    let spend_90 = b.add("spend_90d", TagType::Number, "Gross spend in the 90 days before the as-of date");
    let items = b.add("distinct_items", TagType::Number, "Distinct items bought");
    let return_rate = b.add("return_rate", TagType::Number, "Returned amount as a share of gross spend");
    let coupon_rate = b.add("coupon_rate", TagType::Number, "Share of orders with a coupon");
    let category_cols: Vec<usize> = categories
        .iter()
        .map(|c| b.add(&format!("share_{c}"), TagType::Number, &format!("Share of gross spend in category {c}")))
        .collect();
    let other_category =
        b.add("share_uncategorized", TagType::Number, "Share of gross spend on items without a category");
    let channel_cols: Vec<usize> = store
        .channels
        .iter()
        .map(|c| {
            b.add(&format!("channel_{c}_share"), TagType::Number, &format!("Share of orders placed in channel {c}"))
        })
        .collect();
    let width = b.columns.len();

    let as_of_ts = day_start_ts(as_of, &tz);
    let as_of_day = day_number(as_of);
    let customer_of_record = &identity.customer_of_record;
    let key = |i: usize| {
        let l = &store.lines[i];
        (customer_of_record[l.record as usize], l.ts)
    };
    // A unify run leaves the lines in `line_order` (`Store::sort_lines_by_customer`), so each customer's
    // lines are one run; any other store is read through a permutation into that same order.
    let n_lines = store.lines.len();
    let order = |i: usize, j: usize| line_order(customer_of_record, &store.lines[i], &store.lines[j]);
    let sorted = (1..n_lines).into_par_iter().all(|i| order(i - 1, i).is_le());
    let permutation: Option<Vec<u32>> = (!sorted).then(|| {
        let mut permutation: Vec<u32> = (0..n_lines as u32).collect();
        permutation.par_sort_unstable_by(|&i, &j| order(i as usize, j as usize));
        permutation
    });
    let line_at = |k: usize| permutation.as_ref().map_or(k, |p| p[k] as usize);

    // Per-customer runs, cut to the lines before the as-of date (a run is sorted by time).
    let mut groups: Vec<(u32, std::ops::Range<usize>)> = Vec::new();
    let mut start = 0;
    while start < n_lines {
        let customer = key(line_at(start)).0;
        let mut end = start + 1;
        while end < n_lines && key(line_at(end)).0 == customer {
            end += 1;
        }
        let mut before = end;
        while before > start && key(line_at(before - 1)).1 >= as_of_ts {
            before -= 1;
        }
        if before > start {
            groups.push((customer, start..before));
        }
        start = end;
    }
    let n_categories = categories.len();
    let n_channels = store.channels.len();
    let slots = BehaviourSlots {
        first_purchase,
        last_purchase,
        recency,
        tenure,
        frequency,
        purchase_days,
        monetary,
        aov,
        cycle_median,
        cycle_spread,
        overdue,
        last_gap,
        mean_gap,
        days_30,
        days_180,
        orders_90,
        spend_90,
        items,
        return_rate,
        coupon_rate,
        categories: category_cols.iter().copied().chain(std::iter::once(other_category)).collect(),
        channels: channel_cols,
    };
    // Customers are computed in parallel, a block at a time: each block's rows are scattered into the
    // columns before the next block starts, so at most one block of rows exists besides the columns.
    for block in groups.chunks(BLOCK_CUSTOMERS) {
        let rows: Vec<f64> = block
            .par_chunks(256)
            .flat_map_iter(|part| {
                let mut scratch = Scratch::new(n_categories, n_channels);
                let mut out = vec![f64::NAN; part.len() * width];
                for (k, (_, range)) in part.iter().enumerate() {
                    let lines = range.clone().map(|k| &store.lines[line_at(k)]);
                    let row = &mut out[k * width..(k + 1) * width];
                    scratch.fill_row(lines, store, &tz, as_of_day, &slots, row);
                }
                out
            })
            .collect();
        for ((customer, _), row) in block.iter().zip(rows.chunks(width)) {
            for (col, &value) in row.iter().enumerate() {
                match &mut b.columns[col].values {
                    Values::Number(v) => v[*customer as usize] = value,
                    Values::Date(v) => v[*customer as usize] = (!value.is_nan()).then_some(value as i32),
                    _ => {}
                }
            }
        }
    }
    b.columns
}

/// Ticket tags: count of tickets, count per ticket kind, mean satisfaction (as of `as_of`).
pub fn ticket_columns(
    store: &Store,
    identity: &Identity,
    kinds: &[String],
    as_of: NaiveDate,
    tz: FixedOffset,
) -> Vec<ProfileColumn> {
    let n = identity.customers();
    let as_of_ts = day_start_ts(as_of, &tz);
    let mut total: Vec<Option<f64>> = vec![None; n];
    let mut per_kind: Vec<Vec<Option<f64>>> = vec![vec![None; n]; kinds.len()];
    let mut score_sum = vec![0.0f64; n];
    let mut score_n = vec![0u32; n];
    for t in store.tickets.iter().filter(|t| t.ts < as_of_ts) {
        let c = identity.customer_of_record[t.record as usize] as usize;
        *total[c].get_or_insert(0.0) += 1.0;
        if let Some(k) = t.kind {
            *per_kind[k as usize][c].get_or_insert(0.0) += 1.0;
        }
        if let Some(s) = t.score {
            score_sum[c] += f64::from(s);
            score_n[c] += 1;
        }
    }
    // Customers with tickets have zero of the kinds they did not raise.
    for kind in &mut per_kind {
        for (c, v) in kind.iter_mut().enumerate() {
            if v.is_none() && total[c].is_some() {
                *v = Some(0.0);
            }
        }
    }
    let column = |name: String, description: String, values: Vec<Option<f64>>| ProfileColumn {
        name,
        tag_type: TagType::Number,
        description,
        owner: "tagcenter".to_owned(),
        origin: Origin::Behaviour,
        values: Values::Number(values.into_iter().map(|v| v.unwrap_or(f64::NAN)).collect()),
    };
    let mut columns = vec![column("tickets".into(), "Service tickets raised".into(), total)];
    for (kind, values) in kinds.iter().zip(per_kind) {
        columns.push(column(format!("tickets_{kind}"), format!("Service tickets of kind {kind}"), values));
    }
    let mean: Vec<Option<f64>> =
        score_sum.iter().zip(&score_n).map(|(s, &k)| (k > 0).then(|| s / f64::from(k))).collect();
    columns.push(column("satisfaction_mean".into(), "Mean satisfaction score of the customer's tickets".into(), mean));
    columns
}

#[cfg(test)]
mod tests {
    use tagcenter::domain::CustomerId;

    use super::*;

    #[test]
    fn quartiles_interpolate() {
        assert_eq!(median_and_iqr(&[]), None);
        assert_eq!(median_and_iqr(&[7.0]), Some((7.0, 0.0)));
        assert_eq!(median_and_iqr(&[1.0, 2.0, 3.0, 4.0, 5.0]), Some((3.0, 2.0)));
        assert_eq!(median_and_iqr(&[10.0, 20.0]), Some((15.0, 5.0)));
    }

    #[test]
    fn tags_do_not_depend_on_the_order_of_the_lines() {
        // Three records of two customers; lines out of order, one after the as-of date.
        let mut store = Store { channels: vec!["web".into(), "pos".into()], ..Store::default() };
        store.item_category = vec![None; 3];
        store.item_price = vec![None; 3];
        let line = |record, order, day: i64, item, amount, channel| TxnLine {
            record,
            order,
            ts: day * 86_400 + 3_600,
            item,
            quantity: if amount < 0.0 { -1.0 } else { 1.0 },
            amount,
            coupon: order % 2 == 0,
            channel,
        };
        store.lines = vec![
            line(2, 7, 19_700, 1, 5.0, 1),
            line(0, 1, 19_650, 0, 10.0, 0),
            line(1, 9, 19_900, 2, 99.0, 0),
            line(0, 2, 19_600, 2, 20.0, 1),
            line(2, 8, 19_710, 0, -5.0, 1),
            line(1, 3, 19_690, 1, 7.5, 0),
        ];
        let identity = Identity {
            customer_of_record: vec![1, 0, 1],
            customer_ids: vec![CustomerId::derive("a"), CustomerId::derive("b"), CustomerId::derive("c")],
            customer_records: vec![1, 0, 2],
            customer_offsets: vec![0, 1, 3, 3],
            key_status: Vec::new(),
            key_counts: Vec::new(),
            fuzzy_links: Vec::new(),
        };
        let utc = FixedOffset::east_opt(0).unwrap();
        let as_of = NaiveDate::from_num_days_from_ce_opt(19_800 + 719_163).unwrap();
        let scrambled = behaviour_columns(&store, &identity, &[], as_of, utc);
        store.sort_lines_by_customer(&identity.customer_of_record);
        assert!(store.lines.windows(2).all(|w| {
            let c = |l: &TxnLine| identity.customer_of_record[l.record as usize];
            (c(&w[0]), w[0].ts) <= (c(&w[1]), w[1].ts)
        }));
        let sorted = behaviour_columns(&store, &identity, &[], as_of, utc);
        let number =
            |columns: &[ProfileColumn], name: &str| match &columns.iter().find(|c| c.name == name).unwrap().values {
                Values::Number(v) => v.clone(),
                _ => panic!("{name} is not a number"),
            };
        // Every column, every customer: the same text (NaN and missing alike).
        assert_eq!(scrambled.len(), sorted.len());
        for (a, b) in scrambled.iter().zip(&sorted) {
            assert_eq!(a.name, b.name);
            for c in 0..3 {
                assert_eq!(a.values.text(c), b.values.text(c), "{} of customer {c}", a.name);
            }
        }
        // Customer 0 (record 1): one purchase before the date (the 19 900 line is after it).
        assert_eq!(number(&sorted, "frequency")[0], 1.0);
        // Customer 1 (records 0 and 2): 10 + 20 + 5 bought, 5 returned; customer 2 has no lines.
        assert_eq!(number(&sorted, "monetary")[1], 30.0);
        assert!(number(&sorted, "recency_days")[2].is_nan());
    }

    #[test]
    fn days_follow_the_local_zone() {
        let cst = FixedOffset::east_opt(8 * 3600).unwrap();
        let date = NaiveDate::from_ymd_opt(2024, 7, 1).unwrap();
        let start = day_start_ts(date, &cst);
        assert_eq!(local_day(start, &cst), day_number(date));
        assert_eq!(local_day(start - 1, &cst), day_number(date) - 1);
    }
}
