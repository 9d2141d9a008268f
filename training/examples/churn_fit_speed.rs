//! Times the churn fit and scoring on a synthetic matrix shaped like the 1M-customer demo's
//! (1.2M buyers × 64 features): `cargo run -p tagcenter-training --example churn_fit_speed [rows] [runs]`.
//! Prints each run's seconds (fit, then the median of three scorings of every row with the kept
//! candidate) and the medians over all runs, for before/after comparisons in one sitting.

use std::time::Instant;

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use tagcenter_training::features::FeatureMatrix;
use tagcenter_training::models::churn::{ChurnParams, fit_churn};

fn synthetic(n: usize, width: usize, seed: u64) -> (FeatureMatrix, Vec<bool>) {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut data = Vec::with_capacity(n * width);
    let mut y = Vec::with_capacity(n);
    for _ in 0..n {
        let recency: f64 = rng.gen_range(0.0..400.0);
        let frequency: f64 = rng.gen_range(0.0..30.0);
        // Seasonal lapses (risk up in two recency bands) that a linear model cannot follow, so the forest
        // or the blend is kept and scoring times the forest.
        let seasonal = if (100.0..200.0).contains(&recency) || recency > 300.0 { 1.5 } else { -1.5 };
        let logit = seasonal - frequency / 10.0 + rng.gen_range(-1.0..1.0);
        y.push(rng.gen_bool(1.0 / (1.0 + (-logit).exp())));
        data.push(recency);
        data.push(frequency);
        for j in 2..width {
            data.push(if j % 3 == 0 { f64::from(u8::from(rng.gen_bool(0.3))) } else { rng.gen_range(0.0..1.0) });
        }
    }
    let names = (0..width).map(|j| format!("f{j}")).collect();
    (FeatureMatrix { names, n_rows: n, data }, y)
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn main() {
    let args: Vec<usize> = std::env::args().skip(1).filter_map(|a| a.parse().ok()).collect();
    let rows = args.first().copied().unwrap_or(1_200_000);
    let runs = args.get(1).copied().unwrap_or(3);
    let (x, y) = synthetic(rows, 64, 7);
    let (mut fits, mut scores) = (Vec::new(), Vec::new());
    for run in 0..runs {
        let started = Instant::now();
        let model = fit_churn(&x, &y, &ChurnParams::default()).expect("fit");
        let fit = started.elapsed().as_secs_f64();
        // Scoring is short and the machine is shared: each fitted model scores every row three times.
        let mut run_scores = Vec::new();
        let mut n = 0;
        for _ in 0..3 {
            let started = Instant::now();
            n = model.predict(&x).expect("predict").len();
            run_scores.push(started.elapsed().as_secs_f64());
        }
        let score = median(run_scores.clone());
        println!("run {run}: fit {fit:.2} s, score {score:.2} s ({n} rows, choice {:?})", model.choice);
        fits.push(fit);
        scores.extend(run_scores);
    }
    println!("median: fit {:.2} s, score {:.2} s", median(fits), median(scores));
}
