//! Sorting tables whose rows usually arrive grouped already (a customer's rows together, as the unified
//! store's lines are after linking): each group is then sorted on its own, in parallel.

use rayon::prelude::*;

/// Sorts `rows` by `order`, which must sort by `group` first. When the rows are already grouped in
/// ascending `group` order, only each group's run is sorted; otherwise the whole slice is. With a total
/// `order` both give the same result.
pub fn sort_grouped<T: Send + Sync>(
    rows: &mut [T],
    group: impl Fn(&T) -> u32 + Sync,
    order: impl Fn(&T, &T) -> std::cmp::Ordering + Sync,
) {
    if rows.par_windows(2).all(|w| group(&w[0]) <= group(&w[1])) {
        rows.par_chunk_by_mut(|a, b| group(a) == group(b)).for_each(|run| run.sort_unstable_by(&order));
    } else {
        rows.par_sort_unstable_by(order);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grouped_and_scattered_rows_sort_alike() {
        let mut grouped = vec![(0u32, 5), (0, 1), (1, 9), (1, 2), (1, 2), (3, 0)];
        let mut scattered = vec![(1u32, 2), (3, 0), (0, 5), (1, 9), (0, 1), (1, 2)];
        let order = |a: &(u32, i32), b: &(u32, i32)| a.cmp(b);
        sort_grouped(&mut grouped, |r| r.0, order);
        sort_grouped(&mut scattered, |r| r.0, order);
        assert_eq!(grouped, vec![(0, 1), (0, 5), (1, 2), (1, 2), (1, 9), (3, 0)]);
        assert_eq!(scattered, grouped);
    }
}
