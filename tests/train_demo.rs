//! End to end: generate a demo retailer, unify it, train and backtest every model, and check that each
//! beats its simple baseline with a margin; then write the bundle and read it back unchanged.

use tagcenter::bundle::ModelBundle;
use tagcenter_training::demo::{DemoParams, generate};
use tagcenter_training::models::affinity::AffinityParams;
use tagcenter_training::models::churn::ChurnParams;
use tagcenter_training::sources::config::SourceConfig;
use tagcenter_training::train::assemble::assemble;
use tagcenter_training::train::export::{ExportOptions, write_exports};
use tagcenter_training::train::{TrainParams, train};
use tagcenter_training::unify::{Progress, unify};

/// Lighter than the defaults so the test stays quick: one L2 strength, a small forest, no EASE, small ALS.
fn quick_params() -> TrainParams {
    TrainParams {
        churn: ChurnParams { alphas: vec![1.0], forest_trees: 15, ..ChurnParams::default() },
        affinity: AffinityParams {
            ease_lambda_grid: vec![],
            knn_k_grid: vec![50],
            als_factors: 8,
            als_iterations: 4,
            blend_step: 0.25,
            ..AffinityParams::default()
        },
        ..TrainParams::default()
    }
}

#[test]
fn every_model_beats_its_baseline_and_the_bundle_round_trips() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    generate(&DemoParams { customers: 4_000, seed: 17, defects: true }, &data).unwrap();
    let config = SourceConfig::load(&data.join("tagcenter.toml"), None).unwrap();
    let mut unified = unify(config, &dir.path().join("quarantine"), &Progress::silent()).unwrap();
    let params = quick_params();
    let outcome = train(&mut unified, &params, &|_| {}).unwrap();
    let b = &outcome.backtest;

    assert!(b.churn.model.roc_auc > b.churn.baseline.roc_auc + 0.02, "{:?}", b.churn);
    assert!(b.churn.model.log_loss < b.churn.baseline.log_loss, "{:?}", b.churn);
    assert!(
        b.churn_active_180d.model.roc_auc > b.churn_active_180d.baseline.roc_auc + 0.02,
        "{:?}",
        b.churn_active_180d
    );
    assert!(b.timing.model.mae_days < b.timing.baseline.mae_days - 1.0, "{:?}", b.timing);
    assert!(b.timing.model.within_14d > b.timing.baseline.within_14d, "{:?}", b.timing);
    assert!(b.recommendations.model.ndcg > 1.5 * b.recommendations.baseline.ndcg, "{:?}", b.recommendations);
    assert!(b.recommendations.model.recall > b.recommendations.baseline.recall, "{:?}", b.recommendations);

    // The exports come first: assembling moves the per-customer outputs into the bundle.
    let exports = dir.path().join("exports");
    write_exports(&unified, &outcome.models, &ExportOptions::default(), &exports).unwrap();
    let mut outcome = outcome;
    let bundle = assemble(&unified, &mut outcome, &params, 17);
    let n = unified.identity.customers();
    assert_eq!(bundle.contents.customers.ids.len(), n);
    assert_eq!(bundle.contents.churn.probability.len(), n);
    assert_eq!(bundle.contents.timing.urgency.len(), n);
    assert_eq!(bundle.contents.recommendations.offsets.len(), n + 1);
    let scored = bundle.contents.churn.probability.iter().filter(|p| !p.is_nan()).count();
    assert!(scored > n / 2, "{scored} of {n} customers scored");
    let path = dir.path().join("models/b.tcb");
    bundle.write(&path).unwrap();
    let loaded = ModelBundle::read(&path).unwrap();
    // NaN marks unscored customers, so compare bit patterns rather than with `==`.
    let bits = |b: &ModelBundle| b.contents.churn.probability.iter().map(|p| p.to_bits()).collect::<Vec<_>>();
    assert!(bits(&loaded) == bits(&bundle), "identical churn scores after a save-load round trip");
    assert!(loaded.contents.recommendations == bundle.contents.recommendations, "identical recommendations");
    assert!(loaded.contents.timing == bundle.contents.timing, "identical timing");
    assert_eq!(format!("{:?}", loaded.header.metrics), format!("{:?}", bundle.header.metrics));
    assert!(loaded.header == bundle.header);
    let again = dir.path().join("models/again.tcb");
    loaded.write(&again).unwrap();
    assert!(std::fs::read(&again).unwrap() == std::fs::read(&path).unwrap(), "byte-identical rewrite");

    let predictions = std::fs::read_to_string(exports.join("predictions.csv")).unwrap();
    assert_eq!(predictions.lines().count(), scored + 1);
    assert!(predictions.lines().nth(1).unwrap().split(',').nth(3).unwrap().contains('|'), "top items joined by |");
}
