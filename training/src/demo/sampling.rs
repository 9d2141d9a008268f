//! Random sampling helpers the demo generator needs beyond `rand` 0.8 (which has no Gamma/Beta without
//! `rand_distr`, a crate this workspace does not depend on): Gamma, Beta, Erlang, cumulative-weight tables
//! and affine permutations that turn a sequence number into a unique, random-looking identifier.

use rand::Rng;

/// A standard normal draw (Box–Muller).
pub fn std_normal<R: Rng>(rng: &mut R) -> f64 {
    let u1: f64 = rng.gen_range(f64::MIN_POSITIVE..1.0);
    let u2: f64 = rng.r#gen();
    (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
}

/// A Gamma(shape, scale) draw (Marsaglia–Tsang), mean `shape * scale`.
pub fn gamma<R: Rng>(rng: &mut R, shape: f64, scale: f64) -> f64 {
    if shape < 1.0 {
        let u: f64 = rng.gen_range(f64::MIN_POSITIVE..1.0);
        return gamma(rng, shape + 1.0, scale) * u.powf(1.0 / shape);
    }
    let d = shape - 1.0 / 3.0;
    let c = 1.0 / (9.0 * d).sqrt();
    loop {
        let x = std_normal(rng);
        let v = 1.0 + c * x;
        if v <= 0.0 {
            continue;
        }
        let v = v * v * v;
        let u: f64 = rng.gen_range(f64::MIN_POSITIVE..1.0);
        if u < 1.0 - 0.0331 * x.powi(4) || u.ln() < 0.5 * x * x + d * (1.0 - v + v.ln()) {
            return d * v * scale;
        }
    }
}

/// A Beta(a, b) draw, mean `a / (a + b)`.
pub fn beta<R: Rng>(rng: &mut R, a: f64, b: f64) -> f64 {
    let x = gamma(rng, a, 1.0);
    let y = gamma(rng, b, 1.0);
    if x + y <= 0.0 { 0.5 } else { x / (x + y) }
}

/// `true` with probability `p` (never consumes randomness when `p <= 0`).
pub fn chance<R: Rng>(rng: &mut R, p: f64) -> bool {
    p > 0.0 && rng.r#gen::<f64>() < p
}

/// A cumulative weight table for repeated weighted draws of an index.
#[derive(Debug, Clone)]
pub struct Cumulative {
    cum: Vec<f64>,
}

impl Cumulative {
    /// Builds the table; weights must be non-negative and not all zero.
    pub fn new<I: IntoIterator<Item = f64>>(weights: I) -> Self {
        let mut total = 0.0;
        let cum = weights
            .into_iter()
            .map(|w| {
                total += w.max(0.0);
                total
            })
            .collect();
        Self { cum }
    }

    /// Draws an index with probability proportional to its weight.
    pub fn sample<R: Rng>(&self, rng: &mut R) -> usize {
        let total = self.cum.last().copied().unwrap_or(0.0);
        let t = rng.r#gen::<f64>() * total;
        self.cum.partition_point(|&c| c <= t).min(self.cum.len().saturating_sub(1))
    }
}

/// Draws an index with probability proportional to `weights` (linear scan, for short lists).
pub fn weighted_index<R: Rng>(rng: &mut R, weights: &[f64]) -> usize {
    let total: f64 = weights.iter().sum();
    let mut t = rng.r#gen::<f64>() * total;
    for (i, w) in weights.iter().enumerate() {
        if t < *w {
            return i;
        }
        t -= w;
    }
    weights.len().saturating_sub(1)
}

/// Picks one element of a non-empty slice uniformly.
pub fn pick<'a, T, R: Rng>(rng: &mut R, items: &'a [T]) -> &'a T {
    &items[rng.gen_range(0..items.len())]
}

/// A bijection of `0..space` (an affine map); `mult` must be coprime to `space`.
pub fn permute(i: u64, space: u64, mult: u64, add: u64) -> u64 {
    ((u128::from(i) * u128::from(mult) + u128::from(add)) % u128::from(space)) as u64
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    #[test]
    fn gamma_and_beta_means_are_close() {
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        let n = 20_000;
        let g: f64 = (0..n).map(|_| gamma(&mut rng, 1.6, 2.0)).sum::<f64>() / n as f64;
        assert!((g - 3.2).abs() < 0.1, "gamma mean {g}");
        let g: f64 = (0..n).map(|_| gamma(&mut rng, 0.5, 1.0)).sum::<f64>() / n as f64;
        assert!((g - 0.5).abs() < 0.05, "gamma mean {g}");
        let b: f64 = (0..n).map(|_| beta(&mut rng, 2.0, 6.0)).sum::<f64>() / n as f64;
        assert!((b - 0.25).abs() < 0.01, "beta mean {b}");
    }

    #[test]
    fn permute_is_a_bijection() {
        let mut seen = vec![false; 1000];
        for i in 0..1000 {
            let j = permute(i, 1000, 7_654_321, 12_345) as usize;
            assert!(!seen[j]);
            seen[j] = true;
        }
    }
}
