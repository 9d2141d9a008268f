//! The training report: the backtest's metrics as JSON, and an HTML page with SVG plots a person would
//! rather look at — ROC curve, calibration, gains chart and the timing-error histogram — each beside its
//! baseline.

use std::path::{Path, PathBuf};

use plotters::prelude::*;

use super::Backtest;
use crate::eval::classification::{calibration_bins, gains_curve, roc_curve};

/// A report that could not be written.
#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    /// Writing failed.
    #[error("cannot write report {path}: {message}")]
    Write {
        /// The file.
        path: PathBuf,
        /// What failed.
        message: String,
    },
}

type Series<'a> = (&'a str, RGBColor, Vec<(f64, f64)>);

fn line_chart(
    title: &str,
    x_label: &str,
    y_label: &str,
    series: &[Series<'_>],
    diagonal: bool,
) -> Result<String, String> {
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (460, 360)).into_drawing_area();
        root.fill(&WHITE).map_err(|e| e.to_string())?;
        let mut chart = ChartBuilder::on(&root)
            .caption(title, ("sans-serif", 18))
            .margin(12)
            .x_label_area_size(36)
            .y_label_area_size(44)
            .build_cartesian_2d(0f64..1f64, 0f64..1f64)
            .map_err(|e| e.to_string())?;
        chart.configure_mesh().x_desc(x_label).y_desc(y_label).draw().map_err(|e| e.to_string())?;
        if diagonal {
            chart
                .draw_series(LineSeries::new(vec![(0.0, 0.0), (1.0, 1.0)], &BLACK.mix(0.3)))
                .map_err(|e| e.to_string())?;
        }
        for (name, color, points) in series {
            let color = *color;
            chart
                .draw_series(LineSeries::new(points.clone(), color.stroke_width(2)))
                .map_err(|e| e.to_string())?
                .label(*name)
                .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 16, y)], color.stroke_width(2)));
        }
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::LowerRight)
            .background_style(WHITE.mix(0.8))
            .border_style(BLACK)
            .draw()
            .map_err(|e| e.to_string())?;
        root.present().map_err(|e| e.to_string())?;
    }
    Ok(svg)
}

fn histogram(title: &str, errors: &[i32]) -> Result<String, String> {
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (460, 360)).into_drawing_area();
        root.fill(&WHITE).map_err(|e| e.to_string())?;
        let clamp = |e: i32| e.clamp(-90, 90);
        let mut counts = [0u32; 37];
        for &e in errors {
            counts[((clamp(e) + 90) / 5) as usize] += 1;
        }
        let max = counts.iter().copied().max().unwrap_or(1).max(1);
        let mut chart = ChartBuilder::on(&root)
            .caption(title, ("sans-serif", 18))
            .margin(12)
            .x_label_area_size(36)
            .y_label_area_size(50)
            .build_cartesian_2d(-90i32..95i32, 0u32..max + max / 10 + 1)
            .map_err(|e| e.to_string())?;
        chart
            .configure_mesh()
            .x_desc("predicted − actual next purchase (days, clamped to ±90)")
            .y_desc("customers")
            .draw()
            .map_err(|e| e.to_string())?;
        chart
            .draw_series(counts.iter().enumerate().map(|(i, &n)| {
                let x0 = i as i32 * 5 - 90;
                Rectangle::new([(x0, 0), (x0 + 5, n)], BLUE.mix(0.6).filled())
            }))
            .map_err(|e| e.to_string())?;
        root.present().map_err(|e| e.to_string())?;
    }
    Ok(svg)
}

fn row(name: &str, model: f64, baseline: f64, higher_is_better: bool) -> String {
    let wins = if higher_is_better { model > baseline } else { model < baseline };
    let verdict = if wins { "beats baseline" } else { "<b>loses to baseline</b>" };
    format!("<tr><td>{name}</td><td>{model:.4}</td><td>{baseline:.4}</td><td>{verdict}</td></tr>")
}

/// Writes `metrics.json` and `report.html` into `dir`.
pub fn write_report(backtest: &Backtest, title: &str, dir: &Path) -> Result<(), ReportError> {
    let fail = |path: &Path, message: String| ReportError::Write { path: path.to_owned(), message };
    std::fs::create_dir_all(dir).map_err(|e| fail(dir, e.to_string()))?;
    let json_path = dir.join("metrics.json");
    let json = serde_json::to_string_pretty(backtest).map_err(|e| fail(&json_path, e.to_string()))?;
    std::fs::write(&json_path, json).map_err(|e| fail(&json_path, e.to_string()))?;

    let (labels, model, baseline) = &backtest.churn_scores;
    let html_path = dir.join("report.html");
    let chart = |r: Result<String, String>| r.map_err(|e| fail(&html_path, e));
    let roc = chart(line_chart(
        "Churn ROC (backtest)",
        "false positive rate",
        "true positive rate",
        &[("model", RED, roc_curve(labels, model)), ("recency baseline", BLUE, roc_curve(labels, baseline))],
        true,
    ))?;
    let calibration =
        |p: &[f64]| calibration_bins(labels, p, 10).iter().map(|b| (b.predicted, b.observed)).collect::<Vec<_>>();
    let calib = chart(line_chart(
        "Churn calibration",
        "predicted probability",
        "observed churn rate",
        &[("model", RED, calibration(model)), ("recency baseline", BLUE, calibration(baseline))],
        true,
    ))?;
    let gains = chart(line_chart(
        "Churn gains",
        "share of customers targeted",
        "share of churners reached",
        &[("model", RED, gains_curve(labels, model)), ("recency baseline", BLUE, gains_curve(labels, baseline))],
        true,
    ))?;
    let hist = chart(histogram("Next-purchase date error", &backtest.timing_errors))?;

    let c = &backtest.churn;
    let a = &backtest.churn_active_180d;
    let t = &backtest.timing;
    let r = &backtest.recommendations;
    let rows = [
        row("churn ROC AUC", c.model.roc_auc, c.baseline.roc_auc, true),
        row("churn PR AUC", c.model.pr_auc, c.baseline.pr_auc, true),
        row("churn log loss", c.model.log_loss, c.baseline.log_loss, false),
        row("churn lift, top decile", c.model.lift_top_decile, c.baseline.lift_top_decile, true),
        row("churn ROC AUC, active in last 180 d", a.model.roc_auc, a.baseline.roc_auc, true),
        row("timing MAE (days)", t.model.mae_days, t.baseline.mae_days, false),
        row("timing within ±7 d", t.model.within_7d, t.baseline.within_7d, true),
        row("timing within ±14 d", t.model.within_14d, t.baseline.within_14d, true),
        row("recs precision@10", r.model.precision, r.baseline.precision, true),
        row("recs recall@10", r.model.recall, r.baseline.recall, true),
        row("recs NDCG@10", r.model.ndcg, r.baseline.ndcg, true),
        row("recs hit rate@10", r.model.hit_rate, r.baseline.hit_rate, true),
        row("recs coverage@10", r.model.coverage, r.baseline.coverage, true),
    ]
    .join("\n");
    let html = format!(
        "<!doctype html><html><head><meta charset=\"utf-8\"><title>{title}</title>\
<style>body{{font-family:sans-serif;margin:2em}}table{{border-collapse:collapse}}td,th{{border:1px solid #ccc;padding:4px 8px}}\
.plots{{display:flex;flex-wrap:wrap;gap:12px}}</style></head><body>\
<h1>{title}</h1><p>Backtest: features as of {cutoff}, outcomes in [{cutoff}, {end}). Churn model: {choice}; \
timing predictor: {predictor}; recommendations: {affinity}.</p>\
<table><tr><th>metric</th><th>model</th><th>baseline</th><th></th></tr>{rows}</table>\
<div class=\"plots\">{roc}{calib}{gains}{hist}</div></body></html>",
        cutoff = backtest.cutoff,
        end = backtest.end,
        choice = backtest.churn_choice,
        predictor = backtest.timing_predictor,
        affinity = backtest.affinity_choice,
    );
    std::fs::write(&html_path, html).map_err(|e| fail(&html_path, e.to_string()))
}
