//! Platt scaling: p = σ(a·s + b), fitted by Newton's method on held-out scores, so probabilities match
//! observed rates.

use serde::{Deserialize, Serialize};

/// The logistic function.
pub fn sigmoid(x: f64) -> f64 {
    1.0 / (1.0 + (-x).exp())
}

/// Log-odds of a probability.
pub fn logit(p: f64) -> f64 {
    (p / (1.0 - p)).ln()
}

/// A fitted calibration.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Platt {
    /// Slope on the raw score.
    pub a: f64,
    /// Offset.
    pub b: f64,
}

impl Platt {
    /// No change: p = σ(s).
    pub fn identity() -> Self {
        Self { a: 1.0, b: 0.0 }
    }

    /// The calibrated probability of a raw log-odds score.
    pub fn probability(&self, score: f64) -> f64 {
        sigmoid(self.a * score + self.b)
    }

    /// Fits on scores and labels (Platt's smoothed targets, Newton steps with a small ridge).
    pub fn fit(scores: &[f64], labels: &[bool]) -> Self {
        let positives = labels.iter().filter(|&&l| l).count() as f64;
        let negatives = labels.len() as f64 - positives;
        if positives == 0.0 || negatives == 0.0 {
            return Self::identity();
        }
        let hi = (positives + 1.0) / (positives + 2.0);
        let lo = 1.0 / (negatives + 2.0);
        let (mut a, mut b) = (1.0, 0.0);
        for _ in 0..50 {
            let (mut ga, mut gb, mut haa, mut hab, mut hbb) = (0.0, 0.0, 1e-9, 0.0, 1e-9);
            for (&s, &l) in scores.iter().zip(labels) {
                let t = if l { hi } else { lo };
                let p = sigmoid(a * s + b);
                let d = p - t;
                let w = p * (1.0 - p);
                ga += d * s;
                gb += d;
                haa += w * s * s;
                hab += w * s;
                hbb += w;
            }
            let det = haa * hbb - hab * hab;
            if det.abs() < 1e-18 {
                break;
            }
            let da = (hbb * ga - hab * gb) / det;
            let db = (haa * gb - hab * ga) / det;
            a -= da;
            b -= db;
            if da.abs() < 1e-9 && db.abs() < 1e-9 {
                break;
            }
        }
        if a.is_finite() && b.is_finite() { Self { a, b } } else { Self::identity() }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn calibration_recovers_a_known_mapping() {
        use rand::{Rng, SeedableRng};
        // Scores whose true probability is σ(2s − 1), labels drawn from it.
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(7);
        let scores: Vec<f64> = (0..20_000).map(|i| (i as f64 / 20_000.0) * 6.0 - 3.0).collect();
        let labels: Vec<bool> = scores.iter().map(|s| rng.gen_bool(sigmoid(2.0 * s - 1.0))).collect();
        let platt = Platt::fit(&scores, &labels);
        assert!((platt.a - 2.0).abs() < 0.15, "{platt:?}");
        assert!((platt.b + 1.0).abs() < 0.15, "{platt:?}");
    }
}
