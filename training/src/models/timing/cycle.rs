//! Purchase cycles: the median gap between a customer's purchase days, shrunk (geometrically, i.e. in
//! log-days) toward their segment's cycle when they have few gaps; segment cycles are in turn shrunk
//! toward the global cycle when the segment has few repeat customers.

/// Median of a non-empty slice (mean of the middle two for an even length); NaN when empty.
pub(crate) fn median(values: &mut [f64]) -> f64 {
    if values.is_empty() {
        return f64::NAN;
    }
    values.sort_by(f64::total_cmp);
    let n = values.len();
    if n % 2 == 1 { values[n / 2] } else { 0.5 * (values[n / 2 - 1] + values[n / 2]) }
}

/// The median gap in days between consecutive purchase days, with the number of gaps; `None` with
/// fewer than two purchase days.
pub(crate) fn median_gap(days: &[i32]) -> Option<(f64, usize)> {
    if days.len() < 2 {
        return None;
    }
    let mut gaps: Vec<f64> = days.windows(2).map(|w| f64::from(w[1] - w[0])).collect();
    Some((median(&mut gaps), gaps.len()))
}

/// Geometric shrinkage: `exp((n ln own + k ln prior) / (n + k))`; `prior` when `n` = 0.
pub(crate) fn shrink(own: f64, n: f64, prior: f64, strength: f64) -> f64 {
    if n <= 0.0 {
        return prior;
    }
    // = own · (prior / own)^(k / (n + k)), exact when k = 0.
    own * (prior / own).powf(strength / (n + strength))
}

/// Global and per-segment cycles (days) from per-customer median gaps: the global cycle is the median of
/// all repeat customers' median gaps (`fallback` when nobody has two purchase days); a segment's is the
/// median over its repeat customers, shrunk toward the global one with `segment_strength` pseudo-customers.
/// Segment ids ≥ `u16::MAX` (none) count only toward the global cycle.
pub(crate) fn segment_cycles(
    customer_gaps: &[Option<(f64, usize)>],
    segments: &[u16],
    segment_strength: f64,
    fallback: f64,
) -> (Vec<f64>, f64) {
    let mut all: Vec<f64> = customer_gaps.iter().flatten().map(|(m, _)| *m).collect();
    let global = if all.is_empty() { fallback } else { median(&mut all) };
    let count = segments.iter().filter(|s| **s != u16::MAX).map(|s| usize::from(*s) + 1).max().unwrap_or(0);
    let mut per_segment: Vec<Vec<f64>> = vec![Vec::new(); count];
    for (gap, segment) in customer_gaps.iter().zip(segments) {
        if let (Some((m, _)), true) = (gap, *segment != u16::MAX) {
            per_segment[usize::from(*segment)].push(*m);
        }
    }
    let cycles = per_segment
        .into_iter()
        .map(|mut medians| {
            let n = medians.len() as f64;
            if medians.is_empty() { global } else { shrink(median(&mut medians), n, global, segment_strength) }
        })
        .collect();
    (cycles, global)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn median_gap_needs_two_purchase_days() {
        assert_eq!(median_gap(&[]), None);
        assert_eq!(median_gap(&[100]), None);
        assert_eq!(median_gap(&[100, 110]), Some((10.0, 1)));
        assert_eq!(median_gap(&[0, 10, 40, 50]), Some((10.0, 3)));
        assert_eq!(median_gap(&[0, 10, 40]), Some((20.0, 2)));
    }

    #[test]
    fn shrinkage_moves_few_gap_customers_toward_the_prior() {
        // One gap of 10 days, prior 40, strength 2: exp((ln 10 + 2 ln 40) / 3) = (10 · 1600)^(1/3).
        let one = shrink(10.0, 1.0, 40.0, 2.0);
        assert!((one - 16_000f64.cbrt()).abs() < 1e-9);
        let many = shrink(10.0, 50.0, 40.0, 2.0);
        assert!(many < one && many > 10.0 && many < 11.0);
        assert_eq!(shrink(10.0, 0.0, 40.0, 2.0), 40.0);
        assert!((shrink(10.0, 3.0, 40.0, 0.0) - 10.0).abs() < 1e-12);
    }

    #[test]
    fn segment_cycles_fall_back_to_the_global_cycle() {
        let gaps = [Some((10.0, 4)), Some((20.0, 1)), Some((30.0, 2)), None, Some((100.0, 1))];
        let segments = [0, 0, 0, 2, u16::MAX];
        let (cycles, global) = segment_cycles(&gaps, &segments, 0.0, 7.0);
        assert_eq!(global, 25.0);
        assert_eq!(cycles.len(), 3);
        assert_eq!(cycles[0], 20.0);
        assert_eq!(cycles[1], 25.0, "segment without customers");
        assert_eq!(cycles[2], 25.0, "segment without repeat customers");
        let (shrunk, _) = segment_cycles(&gaps, &segments, 3.0, 7.0);
        assert!(shrunk[0] > 20.0 && shrunk[0] < 25.0);
        let (none, fallback) = segment_cycles(&[None, None], &[0, 1], 3.0, 92.0);
        assert_eq!((none, fallback), (vec![92.0, 92.0], 92.0));
    }
}
