//! Item-item models over the binary user × item matrix X: the co-occurrence Gram XᵀX, cosine similarity with
//! shrinkage and top-k neighbours, and EASE (B = I − P·diag(1/diag P), P = (XᵀX + λI)⁻¹) with a dense,
//! blocked Gauss–Jordan inverse written here on ndarray's matrix product (pure Rust, no BLAS).
//!
//! Dense matrices are flat row-major `Vec<f64>`: rows are updated in parallel with `par_chunks_mut`, which
//! ndarray cannot do without its `rayon` feature (not enabled in this crate).

use ndarray::linalg::general_mat_mul;
use ndarray::{Array2, ArrayView2, ArrayViewMut2, s};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use super::AffinityError;
use super::interactions::ItemSets;

/// One weighted edge of an item graph.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Neighbour {
    /// The other item.
    pub item: u32,
    /// Similarity (or EASE weight).
    pub score: f32,
}

/// An item → items adjacency list (CSR): item `i` has `edges[offsets[i]..offsets[i + 1]]`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ItemGraph {
    /// Row offsets, `n_items + 1` entries (empty graph: no entries).
    pub offsets: Vec<u32>,
    /// Edges, each row sorted by descending score.
    pub edges: Vec<Neighbour>,
}

impl ItemGraph {
    /// Builds a graph from one list per item (each list is sorted here by descending score, ties by item).
    pub fn from_rows(rows: Vec<Vec<Neighbour>>) -> Self {
        let mut offsets = Vec::with_capacity(rows.len() + 1);
        let mut edges = Vec::with_capacity(rows.iter().map(Vec::len).sum());
        offsets.push(0);
        for mut row in rows {
            // Rows from `keep_top` are already sorted.
            if !row.is_sorted_by(|a, b| better(a, b).is_le()) {
                sort_best_first(&mut row);
            }
            edges.extend(row);
            offsets.push(edges.len() as u32);
        }
        Self { offsets, edges }
    }

    /// The edges of `item` (empty when out of range).
    pub fn row(&self, item: u32) -> &[Neighbour] {
        let i = item as usize;
        match (self.offsets.get(i), self.offsets.get(i + 1)) {
            (Some(&a), Some(&b)) => &self.edges[a as usize..b as usize],
            _ => &[],
        }
    }

    /// Number of item rows.
    pub fn n_items(&self) -> usize {
        self.offsets.len().saturating_sub(1)
    }

    /// The reversed graph: an edge `j → i` for every `i → j`.
    pub fn transpose(&self) -> Self {
        let n = self.n_items();
        let mut rows: Vec<Vec<Neighbour>> = vec![Vec::new(); n];
        for i in 0..n {
            for e in self.row(i as u32) {
                if let Some(r) = rows.get_mut(e.item as usize) {
                    r.push(Neighbour { item: i as u32, score: e.score });
                }
            }
        }
        Self::from_rows(rows)
    }
}

/// A dense square matrix, row-major.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Dense {
    pub n: usize,
    pub data: Vec<f64>,
}

impl Dense {
    pub fn at(&self, i: usize, j: usize) -> f64 {
        self.data[i * self.n + j]
    }
}

/// The co-occurrence Gram G = XᵀX of the binary matrix given as sorted distinct items per user:
/// G[i][j] = number of users with both i and j, G[i][i] = number of users of i. Rows in parallel.
pub(crate) fn gram(rows: &ItemSets, n_items: usize) -> Dense {
    gram_with_weights(rows, n_items, None)
}

/// The user-weighted co-occurrence Gram G_w = Xᵀ W² X with W = diag(|u|^(−power)): a user with many items
/// counts less per pair (power 0: the plain [`gram`]). Used by EASE's normalised-Gram variant.
pub(crate) fn weighted_gram(rows: &ItemSets, n_items: usize, power: f64) -> Dense {
    if power == 0.0 {
        return gram(rows, n_items);
    }
    let weight: Vec<f64> = (0..rows.n_rows()).map(|u| (rows.row(u).len().max(1) as f64).powf(-2.0 * power)).collect();
    gram_with_weights(rows, n_items, Some(&weight))
}

/// Xᵀ W² X with each user's pair weight in `weight` (1 for every user when `None`). Each row must hold
/// sorted, distinct items (the upper-triangle fill relies on it).
fn gram_with_weights(rows: &ItemSets, n_items: usize, weight: Option<&[f64]>) -> Dense {
    let users = 0..rows.n_rows();
    debug_assert!(
        users.clone().all(|u| rows.row(u).is_sorted_by(|a, b| a < b)),
        "Gram rows must be sorted and distinct"
    );
    let weight_of = |u: usize| weight.map_or(1.0, |w| w[u]);
    let mut data = vec![0.0f64; n_items * n_items];
    // Only the upper triangle (j >= i) is summed, then mirrored. Either way below, entry (i, j) adds the same
    // users' weights in ascending user order, so the serial and parallel results are bit for bit the same.
    let work: usize = users.clone().map(|u| rows.row(u).len().pow(2)).sum::<usize>() + n_items * n_items;
    if work < SERIAL_WORK {
        // Small matrices in one thread, user by user (the matrix stays in cache; a busy pool costs more).
        for u in users {
            let (w, items) = (weight_of(u), rows.row(u));
            for (a, &i) in items.iter().enumerate() {
                let row = &mut data[i as usize * n_items..][..n_items];
                items[a..].iter().for_each(|&j| row[j as usize] += w);
            }
        }
    } else if n_items > 0 {
        // Item rows in parallel: row i visits the users of i, from i's position in their sorted items.
        let mut cols: Vec<Vec<u32>> = vec![Vec::new(); n_items];
        for u in users {
            rows.row(u).iter().for_each(|&i| cols[i as usize].push(u as u32));
        }
        data.par_chunks_mut(n_items).enumerate().for_each(|(i, row)| {
            for &u in &cols[i] {
                let (w, items) = (weight_of(u as usize), rows.row(u as usize));
                for &j in &items[items.partition_point(|&j| (j as usize) < i)..] {
                    row[j as usize] += w;
                }
            }
        });
    }
    for i in 0..n_items {
        for j in 0..i {
            data[i * n_items + j] = data[j * n_items + i];
        }
    }
    Dense { n: n_items, data }
}

/// Below this many elementary steps a Gram or similarity pass runs in the calling thread.
const SERIAL_WORK: usize = 1 << 21;

/// Cosine similarity with shrinkage, s(i, j) = G[i][j] / (sqrt(G[i][i]·G[j][j]) + shrinkage), diagonal 0; for each
/// target item j its `k` most similar items (ties to the lower index), most similar first. Zero similarities
/// are dropped.
pub(crate) fn cosine_neighbours(g: &Dense, k: usize, shrinkage: f64) -> Vec<Vec<Neighbour>> {
    let n = g.n;
    let column = |j: usize| {
        let nj = g.at(j, j);
        let candidates: Vec<Neighbour> = (0..n)
            .filter(|&i| i != j && g.at(j, i) > 0.0)
            .map(|i| {
                let denom = (g.at(i, i) * nj).sqrt() + shrinkage;
                Neighbour { item: i as u32, score: (g.at(j, i) / denom) as f32 }
            })
            .collect();
        keep_top(candidates, k)
    };
    if n * n < SERIAL_WORK { (0..n).map(column).collect() } else { (0..n).into_par_iter().map(column).collect() }
}

/// The `k` highest-scoring entries, best first, ties to the lower item.
pub(crate) fn keep_top(mut list: Vec<Neighbour>, k: usize) -> Vec<Neighbour> {
    if list.len() > k && k > 0 {
        list.select_nth_unstable_by(k - 1, better);
    }
    list.truncate(k);
    sort_best_first(&mut list);
    list
}

/// The neighbour order: higher score first (`f32::total_cmp`), ties to the lower item.
fn better(a: &Neighbour, b: &Neighbour) -> std::cmp::Ordering {
    b.score.total_cmp(&a.score).then(a.item.cmp(&b.item))
}

/// Sorts `list` by [`better`], as one `u64` key per neighbour (the order of the key is that order; integer
/// keys sort several times faster than the float comparator).
pub(crate) fn sort_best_first(list: &mut [Neighbour]) {
    // f32 bits → u32 in `total_cmp` order: negative numbers flip all bits, the others set the sign bit.
    let ordered = |bits: u32| if bits >> 31 == 1 { !bits } else { bits | 1 << 31 };
    let unordered = |key: u32| if key >> 31 == 1 { key & !(1 << 31) } else { !key };
    let mut keys: Vec<u64> =
        list.iter().map(|n| u64::from(!ordered(n.score.to_bits())) << 32 | u64::from(n.item)).collect();
    keys.sort_unstable();
    for (n, key) in list.iter_mut().zip(keys) {
        *n = Neighbour { item: key as u32, score: f32::from_bits(unordered(!((key >> 32) as u32))) };
    }
}

/// Rows of the pivot block of [`invert_spd`]: big enough for the matrix products to run near peak speed, small
/// enough that the block's own element-wise inverse stays cheap.
const PIVOT_BLOCK: usize = 96;

/// In-place inverse of a symmetric positive definite matrix by blocked Gauss–Jordan elimination without
/// pivoting (stable for SPD matrices). Each step inverts one diagonal block of [`PIVOT_BLOCK`] pivots and
/// updates every other row with one matrix product (ndarray's `general_mat_mul`, rows split across rayon
/// threads), so the matrix is streamed n / 96 times instead of n times. 2n³ flops in all.
pub(crate) fn invert_spd(m: &mut Dense) -> Result<(), AffinityError> {
    let n = m.n;
    let mut k0 = 0;
    while k0 < n {
        let k1 = (k0 + PIVOT_BLOCK).min(n);
        let b = k1 - k0;
        // The diagonal block's inverse D⁻¹.
        let mut diag = Dense { n: b, data: (k0..k1).flat_map(|i| m.data[i * n + k0..i * n + k1].to_vec()).collect() };
        invert_spd_unblocked(&mut diag).map_err(|e| match e {
            AffinityError::NotPositiveDefinite { index } => AffinityError::NotPositiveDefinite { index: k0 + index },
            other => other,
        })?;
        let dinv = ArrayView2::from_shape((b, b), &diag.data).expect("b × b block");
        // The pivot rows after elimination: R = D⁻¹ A[K, :], with R[:, K] = D⁻¹.
        let (top, rest) = m.data.split_at_mut(k0 * n);
        let (pivot, bottom) = rest.split_at_mut(b * n);
        let mut r = Array2::<f64>::zeros((b, n));
        general_mat_mul(1.0, &dinv, &ArrayView2::from_shape((b, n), &*pivot).expect("b × n panel"), 0.0, &mut r);
        r.slice_mut(s![.., k0..k1]).assign(&dinv);
        // Every other row i: A[i, :] −= A[i, K] R, then A[i, K] = −A[i, K] D⁻¹ (the old A[i, K], kept aside).
        let update = |rows: &mut [f64]| {
            let height = rows.len() / n;
            let mut a = ArrayViewMut2::from_shape((height, n), rows).expect("row chunk");
            let c = a.slice(s![.., k0..k1]).to_owned();
            general_mat_mul(-1.0, &c, &r, 1.0, &mut a);
            general_mat_mul(-1.0, &c, &dinv, 0.0, &mut a.slice_mut(s![.., k0..k1]));
        };
        let chunk = UPDATE_ROWS * n;
        top.par_chunks_mut(chunk).chain(bottom.par_chunks_mut(chunk)).for_each(update);
        pivot.copy_from_slice(r.as_slice().expect("standard layout"));
        k0 = k1;
    }
    Ok(())
}

/// Rows per parallel task of the blocked update.
const UPDATE_ROWS: usize = 64;

/// Element-wise Gauss–Jordan inverse of an SPD matrix in place (the diagonal blocks of [`invert_spd`]).
fn invert_spd_unblocked(m: &mut Dense) -> Result<(), AffinityError> {
    let n = m.n;
    let mut pivot_row = vec![0.0f64; n];
    for k in 0..n {
        let p = m.data[k * n + k];
        if !(p.is_finite() && p > 1e-12) {
            return Err(AffinityError::NotPositiveDefinite { index: k });
        }
        let inv = 1.0 / p;
        pivot_row.copy_from_slice(&m.data[k * n..(k + 1) * n]);
        pivot_row.iter_mut().for_each(|v| *v *= inv);
        pivot_row[k] = inv;
        for (i, row) in m.data.chunks_exact_mut(n).enumerate() {
            if i == k {
                row.copy_from_slice(&pivot_row);
                continue;
            }
            let f = row[k];
            if f != 0.0 {
                row.iter_mut().zip(&pivot_row).for_each(|(r, p)| *r -= f * p);
                row[k] = -f * inv;
            }
        }
    }
    Ok(())
}

/// How EASE is fitted besides its λ: the ridge's popularity term, the user weighting of the Gram and the
/// popularity rescaling of the weights (all 0: plain EASE^R).
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub(crate) struct EaseShape {
    /// κ: item i's ridge is λ + κ·G[i][i].
    pub item_penalty: f64,
    /// β: target item j's weights are multiplied by (n_j + 1)^β, n_j its buyers (β < 0 damps popular targets).
    pub popularity_power: f64,
}

/// EASE^R item weights from the Gram: B[i][j] = −P[i][j] / P[j][j] (i ≠ j), P = (G + Λ)⁻¹ with
/// Λ = diag(λ + κ · G[i][i]), each target column then scaled by (buyers_j + 1)^β (see [`EaseShape`]). `buyers`
/// is the item's number of distinct users (the plain Gram's diagonal; empty = G's own diagonal). Returns for
/// each target item j its `k` largest weights B[·][j] (as source → weight), best first.
pub(crate) fn ease_columns(
    g: &Dense,
    lambda: f64,
    shape: EaseShape,
    buyers: &[f64],
    k: usize,
) -> Result<Vec<Vec<Neighbour>>, AffinityError> {
    let n = g.n;
    let mut p = g.clone();
    for i in 0..n {
        p.data[i * n + i] += lambda + shape.item_penalty * g.at(i, i);
    }
    invert_spd(&mut p)?;
    let scale = |j: usize| {
        if shape.popularity_power == 0.0 {
            1.0
        } else {
            (buyers.get(j).copied().unwrap_or_else(|| g.at(j, j)) + 1.0).powf(shape.popularity_power)
        }
    };
    // P is symmetric, so column j of P is row j.
    Ok((0..n)
        .into_par_iter()
        .map(|j| {
            let factor = scale(j) / p.at(j, j);
            let column: Vec<Neighbour> = (0..n)
                .filter(|&i| i != j)
                .map(|i| Neighbour { item: i as u32, score: (-p.at(j, i) * factor) as f32 })
                .collect();
            keep_top(column, k)
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn three_users() -> ItemSets {
        ItemSets::from_rows(&[vec![0, 1], vec![0, 1, 2], vec![1]])
    }

    proptest::proptest! {
        /// The integer-key sort gives the comparator's order, bit for bit (any float, NaN and −0 included).
        #[test]
        fn key_sort_matches_the_comparator(
            bits in proptest::collection::vec((proptest::num::u32::ANY, 0u32..40), 0..60),
        ) {
            let mut list: Vec<Neighbour> =
                bits.iter().map(|&(b, i)| Neighbour { item: i, score: f32::from_bits(b) }).collect();
            list.sort_by_key(|n| n.item);
            list.dedup_by_key(|n| n.item);
            let mut expected = list.clone();
            expected.sort_unstable_by(better);
            sort_best_first(&mut list);
            let as_bits = |l: &[Neighbour]| l.iter().map(|n| (n.item, n.score.to_bits())).collect::<Vec<_>>();
            proptest::prop_assert_eq!(as_bits(&list), as_bits(&expected));
        }

        /// The triangle-and-mirror Gram equals the plain double loop, weighted or not.
        #[test]
        fn gram_matches_the_double_loop(
            sets in proptest::collection::vec(proptest::collection::btree_set(0u32..12, 0..8), 0..40),
            power in 0.0f64..1.0,
        ) {
            let rows: Vec<Vec<u32>> = sets.into_iter().map(|s| s.into_iter().collect()).collect();
            let n = 12;
            let sets = ItemSets::from_rows(&rows);
            for (g, weighted) in [(gram(&sets, n), false), (weighted_gram(&sets, n, power), true)] {
                let mut expected = vec![0.0f64; n * n];
                for r in &rows {
                    let w = if weighted && power != 0.0 { (r.len().max(1) as f64).powf(-2.0 * power) } else { 1.0 };
                    for &i in r {
                        for &j in r {
                            expected[i as usize * n + j as usize] += w;
                        }
                    }
                }
                proptest::prop_assert_eq!(&g.data, &expected);
            }
        }
    }

    /// Past the serial threshold the Gram is filled item row by item row in parallel: still the double loop's
    /// sums, bit for bit (each entry adds the same users in the same order).
    #[test]
    fn the_parallel_gram_matches_the_double_loop() {
        let n = 150;
        use rand::{Rng, SeedableRng};
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(7);
        let rows: Vec<Vec<u32>> = (0..2000)
            .map(|_| {
                let mut r: Vec<u32> = (0..rng.gen_range(10..80)).map(|_| rng.gen_range(0..n as u32)).collect();
                r.sort_unstable();
                r.dedup();
                r
            })
            .collect();
        let sets = ItemSets::from_rows(&rows);
        assert!(
            rows.iter().map(|r| r.len().pow(2)).sum::<usize>() >= SERIAL_WORK,
            "the test must take the parallel path"
        );
        let g = weighted_gram(&sets, n, 0.3);
        let mut expected = vec![0.0f64; n * n];
        for r in &rows {
            let w = (r.len() as f64).powf(-0.6);
            for &i in r {
                for &j in r {
                    expected[i as usize * n + j as usize] += w;
                }
            }
        }
        assert_eq!(g.data, expected);
    }

    /// Cosine with shrinkage is symmetric: an untruncated neighbour graph is its own transpose (the kNN fit
    /// skips the transpose then).
    #[test]
    fn an_untruncated_cosine_graph_is_its_own_transpose() {
        let sets = ItemSets::from_rows(&[vec![0, 1, 3], vec![0, 1, 2], vec![1, 4], vec![2, 3, 4], vec![0, 4]]);
        let g = gram(&sets, 5);
        let graph = ItemGraph::from_rows(cosine_neighbours(&g, 4, 0.5));
        assert_eq!(graph.transpose(), graph);
        // Truncated to one neighbour, it is not.
        let top1 = ItemGraph::from_rows(cosine_neighbours(&g, 1, 0.5));
        assert_ne!(top1.transpose(), top1);
    }

    #[test]
    fn gram_counts_co_occurrences() {
        let g = gram(&three_users(), 3);
        assert_eq!(g.data, vec![2.0, 2.0, 1.0, 2.0, 3.0, 1.0, 1.0, 1.0, 1.0]);
    }

    #[test]
    fn cosine_matches_hand_values_with_and_without_shrinkage() {
        let g = gram(&three_users(), 3);
        let s = cosine_neighbours(&g, 10, 0.0);
        // Item 0: with 1 -> 2/sqrt(2*3); with 2 -> 1/sqrt(2*1).
        assert_eq!((s[0][0].item, s[0][1].item), (1, 2));
        assert!((s[0][0].score - 2.0 / 6f32.sqrt()).abs() < 1e-6);
        assert!((s[0][1].score - (1.0 / 2f32.sqrt())).abs() < 1e-6);
        assert!((s[2][1].score - 1.0 / 3f32.sqrt()).abs() < 1e-6);
        let shrunk = cosine_neighbours(&g, 1, 1.0);
        // With shrinkage 1: 2/(sqrt 6 + 1) = 0.5798 beats 1/(sqrt 2 + 1) = 0.4142, and k = 1 keeps one.
        assert_eq!(shrunk[0].len(), 1);
        assert_eq!(shrunk[0][0].item, 1);
        assert!((shrunk[0][0].score - 2.0 / (6f32.sqrt() + 1.0)).abs() < 1e-6);
    }

    #[test]
    fn gauss_jordan_inverts_an_spd_matrix() {
        let n = 5;
        let mut a = Dense { n, data: vec![0.0; n * n] };
        for i in 0..n {
            for j in 0..n {
                a.data[i * n + j] = 1.0 / (1.0 + (i as f64 - j as f64).abs()) + if i == j { 2.0 } else { 0.0 };
            }
        }
        let mut inv = a.clone();
        invert_spd(&mut inv).unwrap();
        for i in 0..n {
            for j in 0..n {
                let v: f64 = (0..n).map(|t| a.at(i, t) * inv.at(t, j)).sum();
                assert!((v - if i == j { 1.0 } else { 0.0 }).abs() < 1e-10, "({i},{j}) = {v}");
            }
        }
    }

    #[test]
    fn blocked_inverse_matches_the_element_wise_one_across_block_borders() {
        // 250 rows: two full pivot blocks and a partial one.
        let n = 250;
        let mut a = Dense { n, data: vec![0.0; n * n] };
        for i in 0..n {
            for j in 0..n {
                let d = (i as f64 - j as f64).abs();
                a.data[i * n + j] = (-d / 7.0).exp() + if i == j { 1.0 } else { 0.0 };
            }
        }
        let (mut blocked, mut plain) = (a.clone(), a.clone());
        invert_spd(&mut blocked).unwrap();
        invert_spd_unblocked(&mut plain).unwrap();
        let worst = blocked.data.iter().zip(&plain.data).map(|(x, y)| (x - y).abs()).fold(0.0, f64::max);
        assert!(worst < 1e-10, "largest difference {worst}");
        for i in (0..n).step_by(37) {
            let v: f64 = (0..n).map(|t| a.at(i, t) * blocked.at(t, i)).sum();
            assert!((v - 1.0).abs() < 1e-10, "row {i}: {v}");
        }
    }

    #[test]
    fn inverse_reports_the_failing_pivot_of_a_later_block() {
        let n = 100;
        let mut a = Dense { n, data: vec![0.0; n * n] };
        (0..n).for_each(|i| a.data[i * n + i] = if i == 97 { 0.0 } else { 1.0 });
        assert_eq!(invert_spd(&mut a), Err(AffinityError::NotPositiveDefinite { index: 97 }));
    }

    #[test]
    fn ease_of_two_items_matches_the_closed_form() {
        // G = [[a, b], [b, d]]; B[0][1] = -P01/P11 = b/(a+λ) for 2×2.
        let g = Dense { n: 2, data: vec![3.0, 2.0, 2.0, 4.0] };
        let cols = ease_columns(&g, 1.0, EaseShape::default(), &[], 10).unwrap();
        assert!((cols[1][0].score - 2.0 / 4.0).abs() < 1e-6);
        assert!((cols[0][0].score - 2.0 / 5.0).abs() < 1e-6);
        // β = −1 divides target j's weights by its buyers + 1 (buyers 3 and 4 here).
        let shape = EaseShape { popularity_power: -1.0, ..EaseShape::default() };
        let damped = ease_columns(&g, 1.0, shape, &[3.0, 4.0], 10).unwrap();
        assert!((damped[1][0].score - 2.0 / 4.0 / 5.0).abs() < 1e-6);
        assert!((damped[0][0].score - 2.0 / 5.0 / 4.0).abs() < 1e-6);
    }

    #[test]
    fn weighted_gram_divides_each_user_by_a_power_of_their_items() {
        // Users with 2, 3 and 1 items; power 0.5 weighs each user's pairs by 1 / items.
        let g = weighted_gram(&three_users(), 3, 0.5);
        let expect = [
            1.0 / 2.0 + 1.0 / 3.0,
            1.0 / 2.0 + 1.0 / 3.0,
            1.0 / 3.0,
            1.0 / 2.0 + 1.0 / 3.0,
            1.0 / 2.0 + 1.0 / 3.0 + 1.0,
            1.0 / 3.0,
            1.0 / 3.0,
            1.0 / 3.0,
            1.0 / 3.0,
        ];
        g.data.iter().zip(expect).for_each(|(a, b)| assert!((a - b).abs() < 1e-12, "{a} vs {b}"));
        assert_eq!(weighted_gram(&three_users(), 3, 0.0), gram(&three_users(), 3));
    }

    #[test]
    fn transpose_reverses_edges() {
        let g = ItemGraph::from_rows(vec![vec![Neighbour { item: 1, score: 0.5 }], vec![]]);
        let t = g.transpose();
        assert_eq!(t.row(1), &[Neighbour { item: 0, score: 0.5 }]);
        assert!(t.row(0).is_empty());
        assert!(t.row(7).is_empty());
    }
}
