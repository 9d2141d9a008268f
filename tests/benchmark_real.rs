//! The real-data benchmark's fast subset (P1 CDNOW BG/NBD, P3 CDNOW timing, P5 Groceries recommendations and P6
//! Telco churn) against the reference
//! protocols, with the issue's targets as assertions. Needs `../shared/reference` (override with
//! `TAGCENTER_REFERENCE`); skips with a message when it is absent.

use std::path::PathBuf;

use tagcenter_training::benchmark::{BenchmarkParams, Line, Protocol, Verdict, run_benchmark};

fn reference_dir() -> Option<PathBuf> {
    let dir = std::env::var_os("TAGCENTER_REFERENCE")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared/reference"));
    if dir.join("results.json").is_file() && dir.join("splits").is_dir() {
        Some(dir)
    } else {
        eprintln!("skipping: no reference results at {} (set TAGCENTER_REFERENCE)", dir.display());
        None
    }
}

fn find<'a>(lines: &'a [Line], case: &str, metric: &str) -> &'a Line {
    lines.iter().find(|l| l.case == case && l.metric == metric).unwrap_or_else(|| panic!("no line {case}/{metric}"))
}

#[test]
fn benchmark_p1_bgnbd_matches_the_paper_and_lifetimes_on_cdnow() {
    let Some(dir) = reference_dir() else { return };
    let lines = run_benchmark(&BenchmarkParams::new(&dir, vec![Protocol::P1])).unwrap();
    let close = |case: &str, metric: &str, target: f64, share: f64| {
        let ours = find(&lines, case, metric).ours;
        assert!((ours - target).abs() <= share * target.abs(), "{case} {metric}: {ours} vs {target}");
    };
    for (metric, target) in [("r", 0.243), ("alpha", 4.414), ("a", 0.793), ("b", 2.426)] {
        close("sample", metric, target, 0.005);
    }
    let ll = find(&lines, "sample", "log_likelihood").ours;
    assert!((ll + 9582.4).abs() < 0.1, "sample LL {ll}");
    for (metric, target) in [("r", 0.2516), ("alpha", 4.789), ("a", 0.7234), ("b", 2.161)] {
        close("master", metric, target, 0.005);
    }
    for l in &lines {
        assert_eq!(l.verdict(), Verdict::Won, "{l:?}");
        assert!(l.time_ok(), "fit {:.3}s vs reference {:?}", l.our_fit_seconds, l.reference);
    }
}

#[test]
fn benchmark_p6_telco_churn_beats_the_reference_logistic_regression() {
    let Some(dir) = reference_dir() else { return };
    let lines = run_benchmark(&BenchmarkParams::new(&dir, vec![Protocol::P6])).unwrap();
    let auc = find(&lines, "telco", "roc_auc");
    let loss = find(&lines, "telco", "log_loss");
    assert!(auc.ours > 0.845, "ROC AUC {auc:?}");
    assert!(loss.ours < 0.418, "log loss {loss:?}");
    assert!(auc.time_ok(), "fit {:.3}s vs reference {:?}", auc.our_fit_seconds, auc.reference);
}

#[test]
fn benchmark_p3_timing_beats_the_best_reference_mae_on_cdnow() {
    let Some(dir) = reference_dir() else { return };
    let lines = run_benchmark(&BenchmarkParams::new(&dir, vec![Protocol::P3])).unwrap();
    for case in ["master", "sample"] {
        let mae = find(&lines, case, "mae_days");
        assert_eq!(mae.verdict(), Verdict::Won, "{mae:?}");
        assert!(mae.time_ok(), "fit {:.3}s vs reference {:?}", mae.our_fit_seconds, mae.reference);
    }
    // The primary (master) median error beats the train-median constant's.
    let median = find(&lines, "master", "median_ae_days");
    assert_eq!(median.verdict(), Verdict::Won, "{median:?}");
}

#[test]
fn benchmark_p5_groceries_recommendations_beat_popularity() {
    let Some(dir) = reference_dir() else { return };
    let lines = run_benchmark(&BenchmarkParams::new(&dir, vec![Protocol::P5])).unwrap();
    let recall = find(&lines, "rec", "recall@10");
    let ndcg = find(&lines, "rec", "ndcg@10");
    assert!(recall.ours > 0.385, "recall@10 {recall:?}");
    assert!(ndcg.ours > 0.300, "NDCG@10 {ndcg:?}");
}
