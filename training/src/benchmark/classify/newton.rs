//! L2-penalised logistic regression on standardized features by Newton's method, for the benchmark's
//! many small fits (d ≈ 10–40 columns): the design is standardized once and can be refitted for several
//! L2 strengths and from a warm start. Same model and optimum as [`LogisticScorer::fit_newton`] (a unit
//! test checks it), without its per-fit copies of the data: rows are standardized as they are read, the
//! gradient and the Hessian's lower triangle are accumulated in the same pass, four rows at a time, and
//! once the Newton steps are small the Hessian's Cholesky factor is reused.

use crate::features::FeatureMatrix;
use crate::models::churn::{LogisticScorer, sigmoid};

use super::BenchmarkError;

/// Newton iterations at most (the penalised log-likelihood is strictly concave; 5–10 usually suffice).
const MAX_ITERATIONS: usize = 100;

/// Converged when no coefficient moves by more than this, or when a run of chord steps puts the distance
/// left to the optimum below it (standardized scale).
const STEP_TOLERANCE: f64 = 1e-10;

/// Newton steps larger than this recompute the Hessian; smaller ones reuse the last factor (a chord step:
/// still converges, linearly with a tiny rate near the optimum, at the cost of one pass over the rows).
const REUSE_HESSIAN_BELOW: f64 = 1e-2;

/// Rows of a feature matrix, standardized as they are read, with a leading intercept column; and the 0/1
/// target.
#[derive(Debug, Clone)]
pub struct Design<'a> {
    x: &'a FeatureMatrix,
    means: Vec<f64>,
    stds: Vec<f64>,
    inverse_stds: Vec<f64>,
    /// Columns, the intercept included.
    d: usize,
    target: Vec<f64>,
}

impl<'a> Design<'a> {
    /// Standardizes `x` (population standard deviation; 1 for a constant column, as
    /// [`LogisticScorer::fit_newton`]) and pairs it with the labels `y`.
    pub fn new(x: &'a FeatureMatrix, y: &[bool]) -> Result<Self, BenchmarkError> {
        let (n, w) = (x.n_rows, x.n_cols());
        if n == 0 || y.len() != n {
            return Err(BenchmarkError::Inconsistent(format!("logistic fit on {n} rows with {} labels", y.len())));
        }
        // Welford's running means and sums of squared deviations: one pass over the rows.
        let (mut means, mut stds) = (vec![0.0; w], vec![0.0; w]);
        for i in 0..n {
            let share = 1.0 / (i + 1) as f64;
            for ((m, s), v) in means.iter_mut().zip(&mut stds).zip(x.row(i)) {
                let delta = v - *m;
                *m += delta * share;
                *s += delta * (v - *m);
            }
        }
        for s in &mut stds {
            let variance = *s / n as f64;
            *s = if variance > 1e-12 { variance.sqrt() } else { 1.0 };
        }
        let inverse_stds = stds.iter().map(|s| 1.0 / s).collect();
        let target = y.iter().map(|&v| f64::from(u8::from(v))).collect();
        Ok(Self { x, means, stds, inverse_stds, d: w + 1, target })
    }

    /// The scorer of standardized coefficients `beta` (intercept first).
    pub fn scorer(&self, beta: &[f64]) -> LogisticScorer {
        LogisticScorer {
            means: self.means.clone(),
            stds: self.stds.clone(),
            coefficients: beta[1..].to_vec(),
            intercept: beta[0],
        }
    }

    /// `scorer`'s linear predictor (fitted on another standardization of the same columns) in this
    /// design's standardized coefficients, intercept first: the same log-odds on every row.
    pub fn coefficients_of(&self, scorer: &LogisticScorer) -> Vec<f64> {
        let mut beta = Vec::with_capacity(self.d);
        let mut intercept = scorer.intercept;
        for j in 0..self.d - 1 {
            let c = scorer.coefficients[j] / scorer.stds[j];
            intercept += c * (self.means[j] - scorer.means[j]);
            beta.push(c * self.stds[j]);
        }
        beta.insert(0, intercept);
        beta
    }

    /// The maximiser of the log-likelihood − ½·`alpha`·‖w‖² (intercept unpenalised) by Newton's method from
    /// `start` (zeros when `None`); standardized coefficients, intercept first.
    pub fn fit(&self, alpha: f64, start: Option<&[f64]>) -> Result<Vec<f64>, BenchmarkError> {
        let d = self.d;
        let mut beta = start.map_or_else(|| vec![0.0; d], <[f64]>::to_vec);
        if beta.len() != d {
            return Err(BenchmarkError::Inconsistent(format!("warm start of {} coefficients, {d} wanted", beta.len())));
        }
        let mut gradient = vec![0.0; d];
        let mut factor: Option<Vec<f64>> = None;
        let mut previous_step = f64::INFINITY;
        for _ in 0..MAX_ITERATIONS {
            let chord = factor.is_some();
            let mut hessian = factor.is_none().then(|| vec![0.0; d * d]);
            self.accumulate(&beta, &mut gradient, hessian.as_deref_mut());
            for a in 1..d {
                gradient[a] += alpha * beta[a];
            }
            let l = match (factor.take(), hessian) {
                (Some(l), _) => l,
                (None, h) => {
                    let mut h = h.unwrap_or_default();
                    for a in 1..d {
                        h[a * d + a] += alpha;
                    }
                    h[0] += 1e-9;
                    cholesky(h, d).ok_or_else(|| {
                        BenchmarkError::Inconsistent("logistic Hessian is not positive definite".into())
                    })?
                }
            };
            cholesky_solve(&l, &mut gradient, d);
            let largest = gradient.iter().fold(0.0f64, |m, s| m.max(s.abs()));
            for (b, s) in beta.iter_mut().zip(&gradient) {
                *b -= s;
            }
            // Chord steps shrink geometrically, by about ρ = largest / previous: the distance left to the
            // optimum is then about largest · ρ / (1 − ρ), which may already be below the tolerance.
            let ratio = largest / previous_step;
            let left = if chord && ratio < 1.0 { largest * ratio / (1.0 - ratio) } else { largest };
            if largest < STEP_TOLERANCE || left < STEP_TOLERANCE {
                break;
            }
            previous_step = largest;
            if largest <= REUSE_HESSIAN_BELOW {
                factor = Some(l);
            }
        }
        Ok(beta)
    }

    /// In one pass over the rows: `gradient` = Zᵀ(σ(Zβ) − y) and, when `hessian` is given, the lower
    /// triangle (row-major d × d) of ZᵀWZ with W = σ(Zβ)(1 − σ(Zβ)) (at least 1e-12) added to it. Rows come
    /// four at a time, so the triangle is loaded and stored once per four rows.
    fn accumulate(&self, beta: &[f64], gradient: &mut [f64], mut hessian: Option<&mut [f64]>) {
        let d = self.d;
        gradient.fill(0.0);
        let row_terms = |row: &[f64], target: f64, gradient: &mut [f64]| {
            let p = sigmoid(dot(row, beta));
            for (g, v) in gradient.iter_mut().zip(row) {
                *g += (p - target) * v;
            }
            (p * (1.0 - p)).max(1e-12)
        };
        let mut rows = vec![0.0; 4 * d];
        let (blocks, rest) = (self.target.len() / 4, self.target.len() % 4);
        for block in 0..blocks {
            for (k, z) in rows.chunks_exact_mut(d).enumerate() {
                self.standardize(4 * block + k, z);
            }
            let t = &self.target[4 * block..4 * block + 4];
            let (z0, others) = rows.split_at(d);
            let (z1, others) = others.split_at(d);
            let (z2, z3) = others.split_at(d);
            let w = [
                row_terms(z0, t[0], gradient),
                row_terms(z1, t[1], gradient),
                row_terms(z2, t[2], gradient),
                row_terms(z3, t[3], gradient),
            ];
            let Some(h) = hessian.as_deref_mut() else { continue };
            for a in 0..d {
                let (u0, u1, u2, u3) = (w[0] * z0[a], w[1] * z1[a], w[2] * z2[a], w[3] * z3[a]);
                let out = &mut h[a * d..=a * d + a];
                for ((((o, v0), v1), v2), v3) in out.iter_mut().zip(z0).zip(z1).zip(z2).zip(z3) {
                    *o += u0 * v0 + u1 * v1 + u2 * v2 + u3 * v3;
                }
            }
        }
        let row = &mut rows[..d];
        for i in 4 * blocks..4 * blocks + rest {
            self.standardize(i, row);
            let w = row_terms(row, self.target[i], gradient);
            let Some(h) = hessian.as_deref_mut() else { continue };
            for a in 0..d {
                let u = w * row[a];
                for (o, v) in h[a * d..=a * d + a].iter_mut().zip(row.iter()) {
                    *o += u * v;
                }
            }
        }
    }

    /// Row `i` of the design into `z` (d values): 1, then the standardized features.
    fn standardize(&self, i: usize, z: &mut [f64]) {
        z[0] = 1.0;
        for (((out, v), m), r) in z[1..].iter_mut().zip(self.x.row(i)).zip(&self.means).zip(&self.inverse_stds) {
            *out = (v - m) * r;
        }
    }
}

/// `a · b` with four running sums (one long chain of dependent additions would bound the speed).
fn dot(a: &[f64], b: &[f64]) -> f64 {
    let (chunks_a, chunks_b) = (a.chunks_exact(4), b.chunks_exact(4));
    let tail: f64 = chunks_a.remainder().iter().zip(chunks_b.remainder()).map(|(x, y)| x * y).sum();
    let mut sums = [0.0; 4];
    for (x, y) in chunks_a.zip(chunks_b) {
        for k in 0..4 {
            sums[k] += x[k] * y[k];
        }
    }
    (sums[0] + sums[1]) + (sums[2] + sums[3]) + tail
}

/// The lower Cholesky factor of a symmetric positive definite `a` (lower triangle used), or `None`.
fn cholesky(mut a: Vec<f64>, d: usize) -> Option<Vec<f64>> {
    for j in 0..d {
        let row_j = &a[j * d..j * d + j];
        let diagonal = a[j * d + j] - row_j.iter().map(|v| v * v).sum::<f64>();
        if diagonal <= 0.0 || !diagonal.is_finite() {
            return None;
        }
        let l = diagonal.sqrt();
        a[j * d + j] = l;
        for i in j + 1..d {
            let (head, tail) = a.split_at_mut(i * d);
            let row_j = &head[j * d..j * d + j];
            let v = tail[j] - tail[..j].iter().zip(row_j).map(|(x, y)| x * y).sum::<f64>();
            tail[j] = v / l;
        }
    }
    Some(a)
}

/// Solves `L Lᵀ x = b` in place given the lower factor `L`.
fn cholesky_solve(l: &[f64], b: &mut [f64], d: usize) {
    for i in 0..d {
        let s: f64 = l[i * d..i * d + i].iter().zip(&b[..i]).map(|(a, x)| a * x).sum();
        b[i] = (b[i] - s) / l[i * d + i];
    }
    for i in (0..d).rev() {
        let mut v = b[i];
        for k in i + 1..d {
            v -= l[k * d + i] * b[k];
        }
        b[i] = v / l[i * d + i];
    }
}

#[cfg(test)]
mod tests {
    use rand::{Rng, SeedableRng};
    use rand_chacha::ChaCha8Rng;

    use super::*;

    fn synthetic(n: usize) -> (FeatureMatrix, Vec<bool>) {
        let mut rng = ChaCha8Rng::seed_from_u64(11);
        let mut data = Vec::new();
        let mut y = Vec::new();
        for _ in 0..n {
            let (a, b, c): (f64, f64, f64) =
                (rng.gen_range(-2.0..2.0), rng.gen_range(0.0..10.0), rng.gen_range(0.0..1.0));
            y.push(rng.gen_bool(sigmoid(1.5 * a - 0.2 * b + 0.5 + c)));
            data.extend([a, b, c, a + 0.1 * c, 3.0]);
        }
        let names = ["a", "b", "c", "a_plus_c", "constant"].map(str::to_owned).to_vec();
        (FeatureMatrix { names, n_rows: n, data }, y)
    }

    #[test]
    fn newton_matches_the_library_fit_to_1e9() {
        let (x, y) = synthetic(1_003);
        let design = Design::new(&x, &y).unwrap();
        for alpha in [0.01, 1.0, 30.0] {
            let ours = design.scorer(&design.fit(alpha, None).unwrap());
            let library = LogisticScorer::fit_newton(&x, &y, alpha).unwrap();
            for (a, b) in ours.means.iter().zip(&library.means).chain(ours.stds.iter().zip(&library.stds)) {
                assert!((a - b).abs() < 1e-12 * b.abs().max(1.0), "{ours:?} vs {library:?}");
            }
            for (a, b) in ours.coefficients.iter().zip(&library.coefficients) {
                assert!((a - b).abs() < 1e-9, "α = {alpha}: {ours:?} vs {library:?}");
            }
            assert!((ours.intercept - library.intercept).abs() < 1e-9);
        }
    }

    #[test]
    fn a_warm_start_from_another_standardization_reaches_the_same_optimum() {
        let (x, y) = synthetic(2_000);
        let half = x.select(&(0..1_000).collect::<Vec<_>>());
        let part = Design::new(&half, &y[..1_000]).unwrap();
        let other = part.scorer(&part.fit(3.0, None).unwrap());
        let design = Design::new(&x, &y).unwrap();
        let start = design.coefficients_of(&other);
        // The re-expressed start gives the same log-odds on every row.
        let moved = design.scorer(&start);
        for i in 0..x.n_rows {
            assert!((moved.logit(x.row(i)) - other.logit(x.row(i))).abs() < 1e-9);
        }
        let cold = design.fit(3.0, None).unwrap();
        let warm = design.fit(3.0, Some(&start)).unwrap();
        for (a, b) in cold.iter().zip(&warm) {
            assert!((a - b).abs() < 1e-9, "{cold:?} vs {warm:?}");
        }
    }
}
