//! The BG/NBD model of Fader, Hardie & Lee (2005), "Counting your customers the easy way": while alive a
//! customer buys at a Poisson rate λ ~ Gamma(r, α); after each purchase they drop out with probability
//! p ~ Beta(a, b). Fitted by maximum likelihood (eq. 6) with BFGS on the log-parameters and analytic
//! gradients; every quantity is computed in log-space.
//!
//! ```
//! use tagcenter_training::models::timing::{BgNbdParams, Rfm};
//! let paper = BgNbdParams { r: 0.243, alpha: 4.414, a: 0.793, b: 2.426 };
//! let customer = Rfm { x: 2.0, t_x: 30.43, t: 38.86 };
//! assert!(paper.p_alive(&customer) > 0.5);
//! assert!(paper.expected_purchases(&customer, 39.0) > 0.0);
//! ```

use std::cell::Cell;

use rayon::prelude::*;
use rustc_hash::FxHashMap as HashMap;
use serde::{Deserialize, Serialize};

use super::TimingError;
use super::optim::{self, BfgsSettings};
use super::special::{c_times_hyp2f1, digamma, ln_beta, ln_gamma};

/// The four BG/NBD parameters: purchase rate λ ~ Gamma(shape `r`, rate `alpha`) in purchases per time
/// unit, drop-out probability p ~ Beta(`a`, `b`). All must be finite and positive.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct BgNbdParams {
    /// Shape of the purchase-rate distribution.
    pub r: f64,
    /// Rate (scale⁻¹) of the purchase-rate distribution, in the model's time unit.
    pub alpha: f64,
    /// First shape of the drop-out distribution.
    pub a: f64,
    /// Second shape of the drop-out distribution.
    pub b: f64,
}

/// One customer's summary in the model's time unit: `x` repeat purchases (distinct purchase days after
/// the first; a whole number ≥ 0), `t_x` time from the first to the last purchase (0 when `x` = 0), `t`
/// time from the first purchase to the end of observation (`0 ≤ t_x ≤ t`).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Rfm {
    /// Repeat purchases.
    pub x: f64,
    /// Recency: time of the last purchase, measured from the first.
    pub t_x: f64,
    /// Age: length of the observation since the first purchase (capital T in the paper).
    pub t: f64,
}

impl Rfm {
    /// Whether the summary is well formed (finite, `x` whole and ≥ 0, `0 ≤ t_x ≤ t`).
    pub fn is_valid(&self) -> bool {
        self.x.is_finite()
            && self.t_x.is_finite()
            && self.t.is_finite()
            && self.x >= 0.0
            && self.x.fract() == 0.0
            && self.t_x >= 0.0
            && self.t_x <= self.t
    }
}

/// Parameter-only parts of eq. 6 and its gradient.
struct Shared {
    ln_b_ab: f64,
    ln_gamma_a: f64,
    ln_a: f64,
    ln_gamma_r: f64,
    ln_alpha: f64,
    psi_r: f64,
    psi_b: f64,
    psi_ab: f64,
}

/// Parts of eq. 6 and its gradient that depend on the parameters and the repeat count `x` only:
/// `common` = ln Γ(r+x) − ln Γ(r) + r ln α, `first` / `second` = the two beta-ratio logs (second = −∞ when
/// x = 0), and their derivatives (d/dr of `common`; d/da, d/db of the two beta ratios).
struct PerX {
    x: f64,
    common: f64,
    d_common_r: f64,
    first: f64,
    d_first: [f64; 2],
    second: f64,
    d_second: [f64; 2],
}

/// ln(α + t) and 1 / (α + t) for one age t (T or t_x): a fit computes them once per distinct age.
#[derive(Debug, Clone, Copy)]
struct Ages {
    ln: f64,
    inverse: f64,
}

impl Ages {
    fn of(alpha: f64, t: f64) -> Self {
        Self { ln: (alpha + t).ln(), inverse: 1.0 / (alpha + t) }
    }
}

/// One customer's log-likelihood and its gradient with respect to (r, α, a, b).
struct Terms {
    /// ln L without the ln(1 + e) of the two-term mix (see [`BgNbdParams::terms_with`]).
    partial: f64,
    /// The 1 + e of the mix, in [1, 2] (1 when x = 0): a fit multiplies these and takes one logarithm.
    mix: f64,
    gradient: [f64; 4],
}

impl Terms {
    /// ln L.
    fn value(&self) -> f64 {
        self.partial + self.mix.ln()
    }
}

impl BgNbdParams {
    /// Whether all four parameters are finite and positive.
    pub fn is_valid(&self) -> bool {
        [self.r, self.alpha, self.a, self.b].iter().all(|v| v.is_finite() && *v > 0.0)
    }

    /// ln L(r, α, a, b | x, t_x, T), FHL (2005) eq. 6:
    /// `L = B(a, b+x)/B(a, b) · Γ(r+x) αʳ / (Γ(r) (α+T)^(r+x)) + δ(x>0) B(a+1, b+x−1)/B(a, b) · Γ(r+x) αʳ /
    /// (Γ(r) (α+t_x)^(r+x))`, summed in log-space.
    pub fn log_likelihood(&self, c: &Rfm) -> f64 {
        self.terms(c, false).value()
    }

    fn terms(&self, c: &Rfm, with_gradient: bool) -> Terms {
        let px = self.per_x(&self.shared(), c.x);
        self.terms_with(&px, &Ages::of(self.alpha, c.t), &Ages::of(self.alpha, c.t_x), with_gradient)
    }

    /// The parts of eq. 6 and its gradient that depend on the parameters only.
    fn shared(&self) -> Shared {
        let Self { r, alpha, a, b } = *self;
        Shared {
            ln_b_ab: ln_beta(a, b),
            ln_gamma_a: ln_gamma(a),
            ln_a: a.ln(),
            ln_gamma_r: ln_gamma(r),
            ln_alpha: alpha.ln(),
            psi_r: digamma(r),
            psi_b: digamma(b),
            psi_ab: digamma(a + b),
        }
    }

    /// The parts of eq. 6 and its gradient that depend on the parameters and `x` only (customers sharing a
    /// repeat count share them, so a fit computes the special functions once per distinct `x`). The
    /// second beta ratio comes from the first by Γ(z+1) = z Γ(z) and ψ(z+1) = ψ(z) + 1/z, so each `x`
    /// costs three ln Γ and three ψ.
    fn per_x(&self, sh: &Shared, x: f64) -> PerX {
        let Self { r, alpha: _, a, b } = *self;
        let rx = r + x;
        let (ln_gamma_bx, ln_gamma_abx) = (ln_gamma(b + x), ln_gamma(a + b + x));
        let (psi_bx, psi_abx) = (digamma(b + x), digamma(a + b + x));
        let d_common_r = digamma(rx) - sh.psi_r + sh.ln_alpha;
        let common = ln_gamma(rx) - sh.ln_gamma_r + r * sh.ln_alpha;
        // ln B(a, b+x) − ln B(a, b).
        let first = sh.ln_gamma_a + ln_gamma_bx - ln_gamma_abx - sh.ln_b_ab;
        let d_first = [sh.psi_ab - psi_abx, psi_bx - psi_abx - sh.psi_b + sh.psi_ab];
        let (second, d_second) = if x > 0.0 {
            // ln B(a+1, b+x−1) − ln B(a, b), with ln Γ(a+1) = ln Γ(a) + ln a, ln Γ(b+x−1) = ln Γ(b+x) − ln(b+x−1).
            let bx1 = b + x - 1.0;
            (
                sh.ln_gamma_a + sh.ln_a + ln_gamma_bx - bx1.ln() - ln_gamma_abx - sh.ln_b_ab,
                [1.0 / a - psi_abx + sh.psi_ab, psi_bx - 1.0 / bx1 - psi_abx - sh.psi_b + sh.psi_ab],
            )
        } else {
            (f64::NEG_INFINITY, [0.0; 2])
        };
        PerX { x, common, d_common_r, first, d_first, second, d_second }
    }

    /// One customer's terms from the precomputed per-`x` parts and the logs of α + T (`at`) and α + t_x
    /// (`atx`; unused when x = 0). The two terms of eq. 6 are mixed as `hi + ln(1 + e)` with
    /// `e = e^(lo − hi)`, whose one exponential also gives the weights of the two terms in the gradient.
    fn terms_with(&self, px: &PerX, at: &Ages, atx: &Ages, with_gradient: bool) -> Terms {
        let Self { r, alpha, a: _, b: _ } = *self;
        let rx = r + px.x;
        let first = px.first - rx * at.ln;
        let (hi, mix, w_first) = if px.x > 0.0 {
            let second = px.second - rx * atx.ln;
            let (hi, e) =
                if second <= first { (first, (second - first).exp()) } else { (second, (first - second).exp()) };
            let inverse = 1.0 / (1.0 + e);
            (hi, 1.0 + e, if second <= first { inverse } else { e * inverse })
        } else {
            (first, 1.0, 1.0)
        };
        let partial = px.common + hi;
        if !with_gradient {
            return Terms { partial, mix, gradient: [0.0; 4] };
        }
        // Derivatives of the common factor and of the first term.
        let mut d_r = px.d_common_r - w_first * at.ln;
        let mut d_alpha = r / alpha - w_first * rx * at.inverse;
        let mut d_a = w_first * px.d_first[0];
        let mut d_b = w_first * px.d_first[1];
        if px.x > 0.0 {
            let w_second = 1.0 - w_first;
            d_r -= w_second * atx.ln;
            d_alpha -= w_second * rx * atx.inverse;
            // ln B(a+1, b+x−1) − ln B(a, b) = ln Γ(a+1) + ln Γ(b+x−1) − ln Γ(a+b+x) − ln Γ(a) − ln Γ(b) + ln Γ(a+b).
            d_a += w_second * px.d_second[0];
            d_b += w_second * px.d_second[1];
        }
        Terms { partial, mix, gradient: [d_r, d_alpha, d_a, d_b] }
    }

    /// ln of the odds that a customer is dead, ln[(1 − P(alive)) / P(alive)]; −∞ when `x` = 0.
    fn ln_dead_odds(&self, c: &Rfm) -> f64 {
        if c.x <= 0.0 {
            return f64::NEG_INFINITY;
        }
        self.a.ln() - (self.b + c.x - 1.0).ln() + (self.r + c.x) * ((self.alpha + c.t).ln() - (self.alpha + c.t_x).ln())
    }

    /// P(alive | x, t_x, T), FHL (2005) eq. 13: `1 / (1 + δ(x>0) · a/(b+x−1) · ((α+T)/(α+t_x))^(r+x))`.
    /// Always 1 for customers without repeat purchases (the model lets a customer drop out only right
    /// after a purchase).
    pub fn p_alive(&self, c: &Rfm) -> f64 {
        let lo = self.ln_dead_odds(c);
        if lo > 0.0 { (-lo).exp() / (1.0 + (-lo).exp()) } else { 1.0 / (1.0 + lo.exp()) }
    }

    /// E[purchases in (T, T + horizon] | x, t_x, T], FHL (2005) eq. 10, with ₂F₁ by its power series
    /// (`horizon` in the model's time unit). Near a = 1, where the closed form is 0/0, the mean of the
    /// values at a ± 10⁻⁵ is returned (error ≈ 10⁻¹⁰ relative). NaN if the series fails to converge.
    pub fn expected_purchases(&self, c: &Rfm, horizon: f64) -> f64 {
        if horizon <= 0.0 {
            return 0.0;
        }
        const NEAR_ONE: f64 = 1e-5;
        let given_alive = if (self.a - 1.0).abs() < NEAR_ONE {
            0.5 * (self.expected_given_alive(self.a - NEAR_ONE, c, horizon)
                + self.expected_given_alive(self.a + NEAR_ONE, c, horizon))
        } else {
            self.expected_given_alive(self.a, c, horizon)
        };
        self.p_alive(c) * given_alive
    }

    /// `(a+b+x−1)/(a−1) · [1 − ((α+T)/(α+T+h))^(r+x) ₂F₁(r+x, b+x; a+b+x−1; h/(α+T+h))]`.
    fn expected_given_alive(&self, a: f64, c: &Rfm, horizon: f64) -> f64 {
        let at = self.alpha + c.t;
        let z = horizon / (at + horizon);
        let rx = self.r + c.x;
        let cc = a + self.b + c.x - 1.0;
        let (g, converged) = c_times_hyp2f1(rx, self.b + c.x, cc, z);
        if !converged {
            return f64::NAN;
        }
        let shrink = (rx * (at / (at + horizon)).ln()).exp();
        (cc - shrink * g) / (a - 1.0)
    }

    /// P(no purchase in (T, T + horizon] | x, t_x, T) = 1 − P(alive) · (1 − ((α+T)/(α+T+h))^(r+x)): an
    /// alive customer's next purchase comes after an Exp(λ) wait, and λ | alive, data ~ Gamma(r+x, α+T).
    /// A churn feature.
    pub fn p_no_purchase(&self, c: &Rfm, horizon: f64) -> f64 {
        if horizon <= 0.0 {
            return 1.0;
        }
        let at = self.alpha + c.t;
        let stay_quiet_if_alive = ((self.r + c.x) * (at / (at + horizon)).ln()).exp();
        1.0 - self.p_alive(c) * (1.0 - stay_quiet_if_alive)
    }

    /// Median of the wait from T to the next purchase, given that it falls within `horizon` (the Lomax
    /// wait of an alive customer, truncated to (0, horizon]): `(α+T) · ((1 − F/2)^(−1/(r+x)) − 1)` with
    /// `F = 1 − ((α+T)/(α+T+horizon))^(r+x)`. In the model's time unit.
    pub fn median_wait_within(&self, c: &Rfm, horizon: f64) -> f64 {
        let at = self.alpha + c.t;
        let rx = self.r + c.x;
        let f = 1.0 - (rx * (at / (at + horizon)).ln()).exp();
        at * ((-(1.0 - 0.5 * f).ln() / rx).exp() - 1.0)
    }
}

/// Settings of [`fit_bgnbd`].
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct BgNbdFitParams {
    /// Starting point (default r = α = a = b = 1).
    pub start: BgNbdParams,
    /// Most BFGS iterations (default 500).
    pub max_iterations: usize,
    /// Converged when every component of the gradient of the mean negative log-likelihood with respect to
    /// the log-parameters is at most this (default 1e-7, as lifetimes; BFGS usually ends well below it).
    pub gradient_tolerance: f64,
}

impl Default for BgNbdFitParams {
    fn default() -> Self {
        Self {
            start: BgNbdParams { r: 1.0, alpha: 1.0, a: 1.0, b: 1.0 },
            max_iterations: 500,
            gradient_tolerance: 1e-7,
        }
    }
}

impl BgNbdFitParams {
    /// Checks the settings; the only place they are validated.
    pub fn validate(&self) -> Result<(), TimingError> {
        if !self.start.is_valid() {
            return Err(TimingError::InvalidParams(format!(
                "BG/NBD start {:?} must be finite and positive",
                self.start
            )));
        }
        if self.max_iterations == 0 {
            return Err(TimingError::InvalidParams("BG/NBD max_iterations must be ≥ 1".into()));
        }
        if !(self.gradient_tolerance.is_finite() && self.gradient_tolerance > 0.0) {
            return Err(TimingError::InvalidParams(format!(
                "BG/NBD gradient_tolerance = {} must be finite and positive",
                self.gradient_tolerance
            )));
        }
        Ok(())
    }
}

/// A fitted BG/NBD.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct BgNbdFit {
    /// The maximum-likelihood parameters.
    pub params: BgNbdParams,
    /// Total log-likelihood Σᵢ ln Lᵢ at `params`.
    pub log_likelihood: f64,
    /// BFGS iterations used.
    pub iterations: usize,
    /// Whether the gradient tolerance was met.
    pub converged: bool,
    /// Largest component of the final gradient of the mean negative log-likelihood w.r.t. the
    /// log-parameters.
    pub gradient_max: f64,
}

/// Customers with identical (x, t_x, T), weighted by how many share it: the likelihood is evaluated once
/// per distinct summary (CDNOW's 23,570 customers have ~8,700), and ln(α + ·) once per distinct age
/// (CDNOW's ages are whole days: a few hundred).
struct Groups {
    /// Distinct summaries, sorted by x (so the per-x special functions are computed once per distinct x).
    groups: Vec<Group>,
    /// Distinct ages (values of T and of t_x).
    ages: Vec<f64>,
}

/// One distinct summary: its count and where its T and t_x are in [`Groups::ages`].
#[derive(Debug, Clone, Copy)]
struct Group {
    c: Rfm,
    weight: f64,
    t: usize,
    t_x: usize,
}

fn group(data: &[Rfm]) -> Groups {
    let mut index: HashMap<[u64; 3], usize> = HashMap::default();
    let mut groups: Vec<Group> = Vec::new();
    let mut age_index: HashMap<u64, usize> = HashMap::default();
    let mut ages: Vec<f64> = Vec::new();
    let mut age = |t: f64| {
        *age_index.entry(t.to_bits()).or_insert_with(|| {
            ages.push(t);
            ages.len() - 1
        })
    };
    for c in data {
        let key = [c.x.to_bits(), c.t_x.to_bits(), c.t.to_bits()];
        let slot = *index.entry(key).or_insert_with(|| {
            groups.push(Group { c: *c, weight: 0.0, t: 0, t_x: 0 });
            groups.len() - 1
        });
        groups[slot].weight += 1.0;
    }
    for g in &mut groups {
        g.t = age(g.c.t);
        g.t_x = age(g.c.t_x);
    }
    groups.sort_by(|p, q| p.c.x.total_cmp(&q.c.x));
    Groups { groups, ages }
}

fn from_log(theta: &[f64; 4]) -> BgNbdParams {
    BgNbdParams { r: theta[0].exp(), alpha: theta[1].exp(), a: theta[2].exp(), b: theta[3].exp() }
}

/// Groups whose terms one task sums: fixed, so the sums (and the fit) do not depend on the thread count.
const OBJECTIVE_CHUNK: usize = 16_384;

/// Mean negative log-likelihood and its gradient with respect to the log-parameters. Chunks of groups are
/// summed in parallel, then added in order.
fn objective(grouped: &Groups, total: f64, theta: &[f64; 4]) -> (f64, [f64; 4]) {
    // Beyond e^±40 the parameters are meaningless and the special functions lose accuracy.
    if theta.iter().any(|v| !v.is_finite() || v.abs() > 40.0) {
        return (f64::INFINITY, [f64::NAN; 4]);
    }
    let p = from_log(theta);
    let shared = p.shared();
    let ages: Vec<Ages> = grouped.ages.iter().map(|&t| Ages::of(p.alpha, t)).collect();
    let sum_chunk = |chunk: &[Group]| {
        let mut value = 0.0;
        let mut gradient = [0.0; 4];
        // Σ weight · ln(mix) as the logarithm of a product (one `ln` per ~400 groups rather than per
        // group), renormalised before it can overflow: mix ≤ 2, so mix^64 ≤ 2^64.
        let (mut product, mut logs) = (1.0f64, 0.0);
        let mut px = p.per_x(&shared, chunk.first().map_or(0.0, |g| g.c.x));
        for g in chunk {
            if g.c.x != px.x {
                px = p.per_x(&shared, g.c.x);
            }
            let t = p.terms_with(&px, &ages[g.t], &ages[g.t_x], true);
            value += g.weight * t.partial;
            if g.weight == 1.0 {
                product *= t.mix;
            } else if g.weight <= 64.0 && g.weight.fract() == 0.0 {
                product *= t.mix.powi(g.weight as i32);
            } else {
                logs += g.weight * t.mix.ln();
            }
            if product > 1e280 {
                logs += product.ln();
                product = 1.0;
            }
            for (total_g, d) in gradient.iter_mut().zip(t.gradient) {
                *total_g += g.weight * d;
            }
        }
        (value + (logs + product.ln()), gradient)
    };
    let groups = &grouped.groups;
    let parts: Vec<(f64, [f64; 4])> = if groups.len() <= OBJECTIVE_CHUNK {
        vec![sum_chunk(groups)]
    } else {
        groups.par_chunks(OBJECTIVE_CHUNK).map(sum_chunk).collect()
    };
    let mut value = 0.0;
    let mut gradient = [0.0; 4];
    for (v, g) in parts {
        value += v;
        for (total_g, d) in gradient.iter_mut().zip(g) {
            *total_g += d;
        }
    }
    let scale = [p.r, p.alpha, p.a, p.b];
    let mut out = [0.0; 4];
    for i in 0..4 {
        out[i] = -gradient[i] * scale[i] / total;
    }
    (-value / total, out)
}

/// Fits the BG/NBD by maximum likelihood on all customers in `data` (each must satisfy
/// [`Rfm::is_valid`]). A fit that stops before the gradient tolerance is returned with
/// `converged = false`.
pub fn fit_bgnbd(data: &[Rfm], params: &BgNbdFitParams) -> Result<BgNbdFit, TimingError> {
    params.validate()?;
    if data.is_empty() {
        return Err(TimingError::NoData);
    }
    if let Some((i, c)) = data.iter().enumerate().find(|(_, c)| !c.is_valid()) {
        return Err(TimingError::InvalidSummary { index: i, summary: *c });
    }
    let groups = group(data);
    let total = data.len() as f64;
    let s = params.start;
    let theta0 = [s.r.ln(), s.alpha.ln(), s.a.ln(), s.b.ln()];
    let at_start = objective(&groups, total, &theta0);
    if !at_start.0.is_finite() {
        return Err(TimingError::NotFinite("BG/NBD log-likelihood at the starting point".into()));
    }
    // BFGS evaluates the starting point first: it gets the value just computed.
    let at_start = Cell::new(Some(at_start));
    let result = optim::minimize(
        |theta| match at_start.take() {
            Some(known) if *theta == theta0 => known,
            _ => objective(&groups, total, theta),
        },
        theta0,
        BfgsSettings { max_iterations: params.max_iterations, gradient_tolerance: params.gradient_tolerance },
    );
    Ok(BgNbdFit {
        params: from_log(&result.x),
        log_likelihood: -result.value * total,
        iterations: result.iterations,
        converged: result.converged,
        gradient_max: result.gradient_max,
    })
}

#[cfg(test)]
mod tests {
    use std::path::Path;
    use std::time::Instant;

    use super::*;

    const PAPER: BgNbdParams = BgNbdParams { r: 0.243, alpha: 4.414, a: 0.793, b: 2.426 };
    const P1_DIR: &str = "/work/shared/reference/splits/P1";

    #[test]
    fn log_likelihood_matches_a_hand_computed_value_for_one_customer() {
        // Customer 1 of the CDNOW sample at the paper's parameters; eq. 6 evaluated by hand with lgamma:
        // A1 = lnΓ(r+x) − lnΓ(r) + r ln α, A2 = lnB(a, b+x) − lnB(a, b) − (r+x) ln(α+T),
        // A3 = lnB(a+1, b+x−1) − lnB(a, b) − (r+x) ln(α+t_x); ln L = A1 + ln(e^A2 + e^A3).
        let c = Rfm { x: 2.0, t_x: 30.428_571_43, t: 38.857_142_86 };
        assert!((PAPER.log_likelihood(&c) - -9.458_473_557_621_25).abs() < 1e-10);
        // x = 0 reduces to r ln(α / (α+T)).
        let c = Rfm { x: 0.0, t_x: 0.0, t: 38.857_142_86 };
        let by_hand = 0.243 * (4.414f64 / (4.414 + 38.857_142_86)).ln();
        assert!((PAPER.log_likelihood(&c) - by_hand).abs() < 1e-12);
        assert!((by_hand - -0.554_697_231_978_647_3).abs() < 1e-12);
    }

    #[test]
    fn the_grouped_objective_is_the_sum_of_the_customers_log_likelihoods() {
        // 6,000 distinct summaries (enough for the product of mixes to be renormalised), one repeated 5
        // times and one 100 times (the power and the logarithm paths of the weights).
        let mut data = Vec::new();
        for i in 0..6_000u32 {
            let t = 10.0 + f64::from(i % 97) * 0.3;
            let x = f64::from(1 + i % 23);
            data.push(Rfm { x, t_x: t * f64::from(i % 89 + 1) / 90.0, t });
        }
        data.extend([Rfm { x: 2.0, t_x: 3.0, t: 20.0 }; 5]);
        data.extend([Rfm { x: 0.0, t_x: 0.0, t: 31.0 }; 100]);
        data.extend([Rfm { x: 4.0, t_x: 19.0, t: 25.0 }; 100]);
        let grouped = group(&data);
        assert_eq!(grouped.groups.len(), 6_003);
        let theta = [0.3f64.ln(), 4.0f64.ln(), 0.8f64.ln(), 2.5f64.ln()];
        let (value, _) = objective(&grouped, data.len() as f64, &theta);
        let p = from_log(&theta);
        // The product of the mixes passes 1e280 (ln 1e280 ≈ 644.7), so the sum crosses a renormalisation.
        let ln_mixes: f64 = grouped.groups.iter().map(|g| p.terms(&g.c, false).mix.ln()).sum();
        assert!(ln_mixes > 700.0, "{ln_mixes}");
        let by_customer: f64 = data.iter().map(|c| p.log_likelihood(c)).sum();
        assert!(by_customer < -2_000.0);
        assert!(
            (-value * data.len() as f64 - by_customer).abs() < 1e-9 * by_customer.abs(),
            "{value} vs {by_customer}"
        );
    }

    #[test]
    fn analytic_gradient_matches_finite_differences() {
        let customers = [
            Rfm { x: 0.0, t_x: 0.0, t: 30.0 },
            Rfm { x: 1.0, t_x: 2.0, t: 30.0 },
            Rfm { x: 7.0, t_x: 25.5, t: 31.0 },
            Rfm { x: 3.0, t_x: 3.0, t: 3.5 },
        ];
        let groups = group(&customers);
        let theta = [0.3f64.ln(), 4.0f64.ln(), 0.8f64.ln(), 2.5f64.ln()];
        let (_, g) = objective(&groups, 4.0, &theta);
        for i in 0..4 {
            let h = 1e-6;
            let mut up = theta;
            let mut down = theta;
            up[i] += h;
            down[i] -= h;
            let numeric = (objective(&groups, 4.0, &up).0 - objective(&groups, 4.0, &down).0) / (2.0 * h);
            assert!((g[i] - numeric).abs() < 1e-7, "component {i}: {} vs {numeric}", g[i]);
        }
    }

    #[test]
    fn p_alive_is_one_without_repeats_and_falls_with_recency() {
        let never = Rfm { x: 0.0, t_x: 0.0, t: 20.0 };
        assert_eq!(PAPER.p_alive(&never), 1.0);
        let recent = Rfm { x: 3.0, t_x: 19.0, t: 20.0 };
        let old = Rfm { x: 3.0, t_x: 5.0, t: 20.0 };
        assert!(PAPER.p_alive(&recent) > PAPER.p_alive(&old));
        // eq. 13 by hand for `old`.
        let odds = 0.793 / (2.426 + 2.0) * ((4.414f64 + 20.0) / (4.414 + 5.0)).powf(3.243);
        assert!((PAPER.p_alive(&old) - 1.0 / (1.0 + odds)).abs() < 1e-14);
    }

    /// E[Y(h) | data] by quadrature: P(alive) · ∫ Beta(p; a, b+x) (1/p) (1 − ((α+T)/(α+T+p h))^(r+x)) dp.
    fn expected_by_quadrature(m: &BgNbdParams, c: &Rfm, h: f64) -> f64 {
        let (a, b) = (m.a, m.b + c.x);
        let at = m.alpha + c.t;
        let n = 400_000;
        // Substitute p = u^(1/a) to remove the p^(a−1) singularity: dp p^(a−1) = du / a.
        let mut sum = 0.0;
        for k in 0..n {
            let u = (k as f64 + 0.5) / n as f64;
            let p = u.powf(1.0 / a);
            let f = (1.0 - p).powf(b - 1.0) / p * (1.0 - (at / (at + p * h)).powf(m.r + c.x));
            sum += f / a / n as f64;
        }
        m.p_alive(c) * sum / ln_beta(a, b).exp()
    }

    #[test]
    fn expected_purchases_matches_quadrature_including_a_near_one() {
        let c = Rfm { x: 2.0, t_x: 10.0, t: 30.0 };
        for m in [PAPER, BgNbdParams { a: 1.0, ..PAPER }, BgNbdParams { a: 1.000_001, b: 1.5, ..PAPER }] {
            let analytic = m.expected_purchases(&c, 13.0);
            let numeric = expected_by_quadrature(&m, &c, 13.0);
            assert!((analytic - numeric).abs() < 1e-4 * numeric, "{m:?}: {analytic} vs {numeric}");
        }
        assert_eq!(PAPER.expected_purchases(&c, 0.0), 0.0);
    }

    #[test]
    fn p_no_purchase_and_median_wait_are_consistent() {
        let c = Rfm { x: 4.0, t_x: 15.0, t: 20.0 };
        let h = 13.0;
        let q = PAPER.p_no_purchase(&c, h);
        assert!(q > 0.0 && q < 1.0);
        assert!(PAPER.p_no_purchase(&c, 2.0 * h) < q);
        let m = PAPER.median_wait_within(&c, h);
        assert!(m > 0.0 && m < h);
        // Half of the in-horizon probability mass lies before the median.
        let at = PAPER.alpha + c.t;
        let cdf = |s: f64| 1.0 - (at / (at + s)).powf(PAPER.r + c.x);
        assert!((cdf(m) - 0.5 * cdf(h)).abs() < 1e-12);
    }

    #[test]
    fn fitting_rejects_bad_input() {
        assert!(matches!(fit_bgnbd(&[], &BgNbdFitParams::default()), Err(TimingError::NoData)));
        let bad = [Rfm { x: 1.0, t_x: 5.0, t: 4.0 }];
        assert!(matches!(fit_bgnbd(&bad, &BgNbdFitParams::default()), Err(TimingError::InvalidSummary { .. })));
        let params = BgNbdFitParams { gradient_tolerance: 0.0, ..BgNbdFitParams::default() };
        assert!(matches!(fit_bgnbd(&bad, &params), Err(TimingError::InvalidParams(_))));
    }

    #[test]
    fn params_round_trip_through_serde() {
        let json = serde_json::to_string(&PAPER).expect("serialize");
        assert_eq!(serde_json::from_str::<BgNbdParams>(&json).expect("deserialize"), PAPER);
    }

    fn read_truth(path: &Path) -> Option<(Vec<Rfm>, Vec<f64>)> {
        if !path.exists() {
            println!("skipped: {} is absent", path.display());
            return None;
        }
        let mut reader = csv::Reader::from_path(path).expect("open truth");
        let headers = reader.headers().expect("header").clone();
        let col = |name: &str| headers.iter().position(|h| h == name).expect("column");
        let (ix, itx, it, ih) = (col("x"), col("t_x"), col("T"), col("holdout_repeat_days"));
        let mut data = Vec::new();
        let mut holdout = Vec::new();
        for record in reader.records() {
            let record = record.expect("record");
            let num = |i: usize| record[i].parse::<f64>().expect("number");
            data.push(Rfm { x: num(ix), t_x: num(itx), t: num(it) });
            holdout.push(num(ih));
        }
        Some((data, holdout))
    }

    fn assert_within(name: &str, got: f64, want: f64, relative: f64) {
        assert!(
            (got - want).abs() <= relative * want.abs(),
            "{name}: got {got}, want {want} ± {}",
            relative * want.abs()
        );
    }

    #[test]
    fn fit_on_the_cdnow_sample_reproduces_the_paper() {
        let Some((data, holdout)) = read_truth(&Path::new(P1_DIR).join("sample_truth.csv")) else { return };
        assert_eq!(data.len(), 2357);
        let started = Instant::now();
        let fit = fit_bgnbd(&data, &BgNbdFitParams::default()).expect("fit");
        println!("CDNOW sample: {fit:?} in {:?}", started.elapsed());
        assert!(fit.converged);
        let p = fit.params;
        assert_within("r", p.r, 0.243, 0.005);
        assert_within("alpha", p.alpha, 4.414, 0.005);
        assert_within("a", p.a, 0.793, 0.005);
        assert_within("b", p.b, 2.426, 0.005);
        assert!((fit.log_likelihood - -9582.4).abs() < 0.1, "{}", fit.log_likelihood);
        // Reference (lifetimes, results.json): total conditional 39-week forecast at the paper's
        // parameters 1653.94 vs 1882 actual holdout repeat days.
        let forecast: f64 = data.iter().map(|c| PAPER.expected_purchases(c, 39.0)).sum();
        assert!((forecast - 1_653.941_259_313_348_4).abs() < 1e-3, "{forecast}");
        assert_eq!(holdout.iter().sum::<f64>(), 1882.0);
        let total_ll: f64 = data.iter().map(|c| PAPER.log_likelihood(c)).sum();
        assert!((total_ll - -9_582.430_478_013_672).abs() < 1e-6, "{total_ll}");
    }

    #[test]
    fn fit_on_the_cdnow_master_matches_the_reference() {
        let Some((data, _)) = read_truth(&Path::new(P1_DIR).join("master_truth.csv")) else { return };
        assert_eq!(data.len(), 23_570);
        let started = Instant::now();
        let fit = fit_bgnbd(&data, &BgNbdFitParams::default()).expect("fit");
        println!("CDNOW master: {fit:?} in {:?}", started.elapsed());
        assert!(fit.converged);
        let p = fit.params;
        assert_within("r", p.r, 0.251_624_011_424_103_7, 0.005);
        assert_within("alpha", p.alpha, 4.788_945_170_327_014, 0.005);
        assert_within("a", p.a, 0.723_433_035_728_724_9, 0.005);
        assert_within("b", p.b, 2.161_086_981_372_021_5, 0.005);
        assert!((fit.log_likelihood - -95_368.443_933_160_95).abs() < 0.1, "{}", fit.log_likelihood);
    }
}
