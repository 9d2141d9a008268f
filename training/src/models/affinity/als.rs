//! Implicit-feedback matrix factorisation (Hu, Koren & Volinsky 2008) by alternating least squares.
//!
//! Preference p = 1 for every observed (user, item) pair, confidence c = 1 + α·count (unobserved: p = 0,
//! c = 1). Each row solves (YᵀY + λI + Σ_i (c_i − 1) y_i y_iᵀ) x = Σ_i c_i y_i, rows in parallel with rayon;
//! item factors start from a seeded ChaCha8 draw. The solve is either exact (Cholesky, f³/3 per row after an
//! f²-per-item system build) or, as the `implicit` library does by default, a few conjugate-gradient steps
//! warm-started from the row's previous factors (Takács et al. 2011), which never forms the system: each step
//! costs f² + 2f per item. Folding in a new user for inference is always exact.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rayon::prelude::*;

/// Hyper-parameters of one ALS fit (validated by `AffinityParams`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct AlsConfig {
    pub factors: usize,
    pub regularization: f64,
    pub alpha: f64,
    pub iterations: usize,
    /// Conjugate-gradient steps per row and sweep; 0 solves exactly.
    pub cg_steps: usize,
    pub seed: u64,
}

/// Fitted factors, row-major (`n × factors`).
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct AlsFactors {
    pub factors: usize,
    pub users: Vec<f64>,
    pub items: Vec<f64>,
}

/// Fits ALS on per-user lists of `(item, count)`.
pub(crate) fn fit_als(rows: &[Vec<(u32, f32)>], n_items: usize, cfg: &AlsConfig) -> AlsFactors {
    let f = cfg.factors;
    let mut cols: Vec<Vec<(u32, f32)>> = vec![Vec::new(); n_items];
    for (u, r) in rows.iter().enumerate() {
        for &(i, c) in r {
            cols[i as usize].push((u as u32, c));
        }
    }
    let mut rng = ChaCha8Rng::seed_from_u64(cfg.seed);
    let scale = 0.1 / (f as f64).sqrt();
    let mut items: Vec<f64> = (0..n_items * f).map(|_| rng.gen_range(-1.0..1.0) * scale).collect();
    let mut users = vec![0.0f64; rows.len() * f];
    for _ in 0..cfg.iterations {
        solve_side(&mut users, rows, &items, cfg);
        solve_side(&mut items, &cols, &users, cfg);
    }
    AlsFactors { factors: f, users, items }
}

/// YᵀY + λI for fixed factors `y` (row-major, `f` columns).
pub(crate) fn regularized_gram(y: &[f64], f: usize, regularization: f64) -> Vec<f64> {
    let mut g = vec![0.0f64; f * f];
    for row in y.chunks_exact(f) {
        for a in 0..f {
            let ra = row[a];
            for b in 0..f {
                g[a * f + b] += ra * row[b];
            }
        }
    }
    for a in 0..f {
        g[a * f + a] += regularization;
    }
    g
}

fn solve_side(out: &mut [f64], lists: &[Vec<(u32, f32)>], fixed: &[f64], cfg: &AlsConfig) {
    let f = cfg.factors;
    let gram = regularized_gram(fixed, f, cfg.regularization);
    out.par_chunks_mut(f).zip(lists.par_iter()).for_each(|(x, list)| {
        if cfg.cg_steps == 0 {
            fold_in(&gram, fixed, f, cfg.alpha, list.iter().copied(), x);
        } else {
            conjugate_gradient(&gram, fixed, f, cfg.alpha, list, cfg.cg_steps, x);
        }
    });
}

/// a·b with four independent partial sums, which the compiler turns into vector instructions (a single running
/// sum must be added in order and stays scalar).
pub(crate) fn dot(a: &[f64], b: &[f64]) -> f64 {
    let n = a.len().min(b.len());
    let (a, b) = (&a[..n], &b[..n]);
    let mut acc = [0.0f64; 4];
    let (a4, b4) = (a.chunks_exact(4), b.chunks_exact(4));
    let tail: f64 = a4.remainder().iter().zip(b4.remainder()).map(|(p, q)| p * q).sum();
    for (x, y) in a4.zip(b4) {
        for ((s, p), q) in acc.iter_mut().zip(x).zip(y) {
            *s += p * q;
        }
    }
    (acc[0] + acc[1]) + (acc[2] + acc[3]) + tail
}

/// Improves `x` toward the solution of the row's system by `steps` conjugate-gradient steps, using
/// A·p = (YᵀY + λI)·p + Σ_i (c_i − 1)(y_i·p) y_i without forming A. An empty row's solution is 0.
fn conjugate_gradient(
    gram: &[f64],
    fixed: &[f64],
    f: usize,
    alpha: f64,
    list: &[(u32, f32)],
    steps: usize,
    x: &mut [f64],
) {
    if list.is_empty() {
        x.iter_mut().for_each(|v| *v = 0.0);
        return;
    }
    let row = |j: u32| &fixed[j as usize * f..(j as usize + 1) * f];
    // A·v into out.
    let apply = |v: &[f64], out: &mut [f64]| {
        for (o, g) in out.iter_mut().zip(gram.chunks_exact(f)) {
            *o = dot(g, v);
        }
        for &(j, count) in list {
            let y = row(j);
            let w = alpha * f64::from(count) * dot(y, v);
            out.iter_mut().zip(y).for_each(|(o, yq)| *o += w * yq);
        }
    };
    // r = b − A x with b = Σ c_i y_i.
    let mut r = vec![0.0f64; f];
    apply(x, &mut r);
    r.iter_mut().for_each(|v| *v = -*v);
    for &(j, count) in list {
        let conf = 1.0 + alpha * f64::from(count);
        r.iter_mut().zip(row(j)).for_each(|(v, yq)| *v += conf * yq);
    }
    let mut p = r.clone();
    let mut ap = vec![0.0f64; f];
    let mut rs_old = dot(&r, &r);
    for _ in 0..steps {
        if rs_old < 1e-20 {
            break;
        }
        apply(&p, &mut ap);
        let step = rs_old / dot(&p, &ap);
        if !step.is_finite() {
            break;
        }
        x.iter_mut().zip(&p).for_each(|(v, pv)| *v += step * pv);
        r.iter_mut().zip(&ap).for_each(|(v, a)| *v -= step * a);
        let rs_new = dot(&r, &r);
        let beta = rs_new / rs_old;
        p.iter_mut().zip(&r).for_each(|(pv, rv)| *pv = rv + beta * *pv);
        rs_old = rs_new;
    }
}

/// Solves one row given the fixed side's factors and regularised Gram: writes x (zeros when `list` is empty or
/// the system is singular).
pub(crate) fn fold_in(
    gram: &[f64],
    fixed: &[f64],
    f: usize,
    alpha: f64,
    list: impl Iterator<Item = (u32, f32)>,
    x: &mut [f64],
) {
    let mut a = gram.to_vec();
    let mut b = vec![0.0f64; f];
    let mut any = false;
    for (j, count) in list {
        let Some(y) = fixed.get(j as usize * f..(j as usize + 1) * f) else { continue };
        any = true;
        let conf = 1.0 + alpha * f64::from(count);
        for p in 0..f {
            b[p] += conf * y[p];
            let w = (conf - 1.0) * y[p];
            if w != 0.0 {
                for q in 0..f {
                    a[p * f + q] += w * y[q];
                }
            }
        }
    }
    if !any || !cholesky_solve(&mut a, &mut b, f) {
        x.iter_mut().for_each(|v| *v = 0.0);
        return;
    }
    x.copy_from_slice(&b);
}

/// Solves A x = b in place (A symmetric positive definite, row-major n × n; b becomes x). False if A is not
/// positive definite.
pub(crate) fn cholesky_solve(a: &mut [f64], b: &mut [f64], n: usize) -> bool {
    // Lower factor L stored in the lower triangle of a.
    for j in 0..n {
        let mut d = a[j * n + j];
        for k in 0..j {
            d -= a[j * n + k] * a[j * n + k];
        }
        if !(d > 0.0 && d.is_finite()) {
            return false;
        }
        let d = d.sqrt();
        a[j * n + j] = d;
        for i in j + 1..n {
            let mut s = a[i * n + j];
            for k in 0..j {
                s -= a[i * n + k] * a[j * n + k];
            }
            a[i * n + j] = s / d;
        }
    }
    for i in 0..n {
        let mut s = b[i];
        for k in 0..i {
            s -= a[i * n + k] * b[k];
        }
        b[i] = s / a[i * n + i];
    }
    for i in (0..n).rev() {
        let mut s = b[i];
        for k in i + 1..n {
            s -= a[k * n + i] * b[k];
        }
        b[i] = s / a[i * n + i];
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cholesky_solves_a_small_system() {
        let mut a = vec![4.0, 2.0, 2.0, 3.0];
        let mut b = vec![2.0, 1.0];
        assert!(cholesky_solve(&mut a, &mut b, 2));
        // [[4,2],[2,3]] x = [2,1] -> x = [0.5, 0].
        assert!((b[0] - 0.5).abs() < 1e-12 && b[1].abs() < 1e-12);
        assert!(!cholesky_solve(&mut [0.0], &mut [1.0], 1));
    }

    #[test]
    fn als_recovers_two_blocks_and_fills_the_held_out_cell() {
        // Users 0-2 buy items 0-2, users 3-5 buy items 3-5; user 0 never bought item 2.
        let mut rows: Vec<Vec<(u32, f32)>> = Vec::new();
        for u in 0..6u32 {
            let block = if u < 3 { 0..3u32 } else { 3..6u32 };
            rows.push(block.filter(|&i| !(u == 0 && i == 2)).map(|i| (i, 1.0)).collect());
        }
        for cg_steps in [0, 3] {
            let cfg = AlsConfig { factors: 2, regularization: 0.1, alpha: 2.0, iterations: 15, cg_steps, seed: 7 };
            let m = fit_als(&rows, 6, &cfg);
            let score = |u: usize, i: usize| dot(&m.users[u * 2..u * 2 + 2], &m.items[i * 2..i * 2 + 2]);
            for u in 0..6 {
                let (inside, outside) = if u < 3 { (0..3, 3..6) } else { (3..6, 0..3) };
                let min_in = inside.map(|i| score(u, i)).fold(f64::INFINITY, f64::min);
                let max_out = outside.map(|i| score(u, i)).fold(f64::NEG_INFINITY, f64::max);
                assert!(min_in > max_out + 0.2, "cg {cg_steps}, user {u}: in-block {min_in} vs out {max_out}");
            }
            assert!(score(0, 2) > 0.5, "cg {cg_steps}: held-out in-block cell scores {}", score(0, 2));
        }
    }

    #[test]
    fn conjugate_gradient_converges_to_the_exact_solve() {
        let (f, alpha) = (4, 2.0);
        let fixed: Vec<f64> = (0..6 * f).map(|k| ((k * 7 % 11) as f64 - 5.0) / 10.0).collect();
        let gram = regularized_gram(&fixed, f, 0.3);
        let list = vec![(0u32, 1.0f32), (2, 3.0), (5, 1.0)];
        let mut exact = vec![0.0; f];
        fold_in(&gram, &fixed, f, alpha, list.iter().copied(), &mut exact);
        // CG reaches the exact solution of an f × f system in f steps (up to rounding).
        let mut x = vec![0.0; f];
        conjugate_gradient(&gram, &fixed, f, alpha, &list, f, &mut x);
        for (a, b) in x.iter().zip(&exact) {
            assert!((a - b).abs() < 1e-8, "{x:?} vs {exact:?}");
        }
        conjugate_gradient(&gram, &fixed, f, alpha, &[], 3, &mut x);
        assert_eq!(x, vec![0.0; f]);
    }

    #[test]
    fn als_is_deterministic_for_a_seed() {
        let rows = vec![vec![(0, 1.0), (1, 2.0)], vec![(1, 1.0)]];
        let cfg = AlsConfig { factors: 3, regularization: 0.5, alpha: 1.0, iterations: 3, cg_steps: 3, seed: 1 };
        assert_eq!(fit_als(&rows, 2, &cfg), fit_als(&rows, 2, &cfg));
    }
}
