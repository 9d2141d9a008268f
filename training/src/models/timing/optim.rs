//! A small dense BFGS minimiser with an Armijo backtracking line search, for smooth objectives of a few
//! unconstrained variables (the BG/NBD's four log-parameters). Trial points where the objective is not
//! finite are treated as "too far" and the step is shortened. It stops when the gradient is small enough,
//! when the line search finds no lower point, or after five iterations in a row that lower the objective
//! by less than its rounding noise (1e-14 relative): the gradient of a sum of many terms has a noise floor.

/// Settings of one minimisation.
#[derive(Debug, Clone, Copy)]
pub(crate) struct BfgsSettings {
    /// Most iterations (gradient evaluations that move the point).
    pub max_iterations: usize,
    /// Converged when the largest absolute gradient component is at most this.
    pub gradient_tolerance: f64,
}

/// Where a minimisation stopped.
#[derive(Debug, Clone, Copy)]
pub(crate) struct BfgsResult<const N: usize> {
    /// The best point found.
    pub x: [f64; N],
    /// The objective there.
    pub value: f64,
    /// The largest absolute gradient component there.
    pub gradient_max: f64,
    /// Iterations used.
    pub iterations: usize,
    /// Whether the gradient tolerance was met.
    pub converged: bool,
}

fn dot<const N: usize>(a: &[f64; N], b: &[f64; N]) -> f64 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

fn max_abs<const N: usize>(a: &[f64; N]) -> f64 {
    a.iter().fold(0.0, |m, v| m.max(v.abs()))
}

fn identity<const N: usize>() -> [[f64; N]; N] {
    let mut h = [[0.0; N]; N];
    for (i, row) in h.iter_mut().enumerate() {
        row[i] = 1.0;
    }
    h
}

/// Minimises `f` (returning the value and gradient) from `x0`. `f(x0)` must be finite.
pub(crate) fn minimize<const N: usize, F>(f: F, x0: [f64; N], settings: BfgsSettings) -> BfgsResult<N>
where
    F: Fn(&[f64; N]) -> (f64, [f64; N]),
{
    const ARMIJO: f64 = 1e-4;
    const MAX_HALVINGS: usize = 60;
    const STALL: f64 = 1e-14;
    const MAX_STALLED: usize = 5;
    let mut x = x0;
    let (mut fx, mut g) = f(&x);
    // Inverse Hessian approximation.
    let mut h = identity::<N>();
    let mut iterations = 0;
    // Iterations in a row that lowered the objective by less than its rounding noise.
    let mut stalled = 0;
    while iterations < settings.max_iterations && max_abs(&g) > settings.gradient_tolerance && stalled < MAX_STALLED {
        iterations += 1;
        let mut d = [0.0; N];
        for i in 0..N {
            d[i] = -dot(&h[i], &g);
        }
        let mut slope = dot(&g, &d);
        if slope >= 0.0 || !slope.is_finite() {
            // Lost positive definiteness: restart from steepest descent.
            h = identity::<N>();
            d = g.map(|v| -v);
            slope = dot(&g, &d);
        }
        let mut step = 1.0;
        let mut accepted = None;
        for _ in 0..MAX_HALVINGS {
            let mut trial = x;
            for i in 0..N {
                trial[i] += step * d[i];
            }
            let (ft, gt) = f(&trial);
            if ft.is_finite() && gt.iter().all(|v| v.is_finite()) && ft <= fx + ARMIJO * step * slope {
                accepted = Some((trial, ft, gt));
                break;
            }
            step *= 0.5;
        }
        let Some((x_new, f_new, g_new)) = accepted else {
            break;
        };
        let mut s = [0.0; N];
        let mut y = [0.0; N];
        for i in 0..N {
            s[i] = x_new[i] - x[i];
            y[i] = g_new[i] - g[i];
        }
        let sy = dot(&s, &y);
        if sy > 1e-12 * dot(&s, &s).sqrt() * dot(&y, &y).sqrt() && sy > 0.0 {
            if iterations == 1 {
                // Scale the initial inverse Hessian (Nocedal & Wright, eq. 6.20).
                let scale = sy / dot(&y, &y);
                h = identity::<N>();
                for (i, row) in h.iter_mut().enumerate() {
                    row[i] = scale;
                }
            }
            // H ← (I − ρ s yᵀ) H (I − ρ y sᵀ) + ρ s sᵀ.
            let rho = 1.0 / sy;
            let mut hy = [0.0; N];
            for i in 0..N {
                hy[i] = dot(&h[i], &y);
            }
            let yhy = dot(&y, &hy);
            for i in 0..N {
                for j in 0..N {
                    h[i][j] += -rho * (hy[i] * s[j] + s[i] * hy[j]) + (rho * rho * yhy + rho) * s[i] * s[j];
                }
            }
        }
        stalled = if fx - f_new <= STALL * fx.abs().max(1.0) { stalled + 1 } else { 0 };
        x = x_new;
        fx = f_new;
        g = g_new;
    }
    let gradient_max = max_abs(&g);
    BfgsResult { x, value: fx, gradient_max, iterations, converged: gradient_max <= settings.gradient_tolerance }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bfgs_finds_the_rosenbrock_minimum() {
        let rosen = |p: &[f64; 2]| {
            let (x, y) = (p[0], p[1]);
            let v = (1.0 - x).powi(2) + 100.0 * (y - x * x).powi(2);
            let g = [-2.0 * (1.0 - x) - 400.0 * x * (y - x * x), 200.0 * (y - x * x)];
            (v, g)
        };
        let r = minimize(rosen, [-1.2, 1.0], BfgsSettings { max_iterations: 500, gradient_tolerance: 1e-10 });
        assert!(r.converged, "{r:?}");
        assert!((r.x[0] - 1.0).abs() < 1e-8 && (r.x[1] - 1.0).abs() < 1e-8, "{r:?}");
    }

    #[test]
    fn bfgs_backs_off_from_non_finite_trial_points() {
        // ln-barrier: infinite for x ≤ 0; minimum at x = 1.
        let f = |p: &[f64; 1]| {
            let x = p[0];
            if x <= 0.0 { (f64::INFINITY, [f64::NAN]) } else { (x - x.ln(), [1.0 - 1.0 / x]) }
        };
        let r = minimize(f, [30.0], BfgsSettings { max_iterations: 200, gradient_tolerance: 1e-12 });
        assert!(r.converged && (r.x[0] - 1.0).abs() < 1e-9, "{r:?}");
    }
}
