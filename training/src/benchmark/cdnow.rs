//! CDNOW protocols: P1 (BG/NBD parameters) and P2 (churn); P3 (timing) is in [`super::cdnow_timing`].
//! Calibration ends 1997-09-30; the holdout is the next 39 weeks; all purchases of a customer on one
//! date are one purchase day.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Instant;

use super::classify::{Criterion, choose_logistic_cv, churn_lines, matrix};
use super::data::{Table, ymd};
use super::{BenchmarkError, Goal, Line, Protocol, line};
use crate::models::churn::sigmoid;
use crate::models::timing::{BgNbdFitParams, BgNbdParams, Rfm, fit_bgnbd};

/// Holdout length in weeks.
pub(super) const HOLDOUT_WEEKS: f64 = 39.0;

pub(super) fn cutoff_day() -> Result<i32, BenchmarkError> {
    ymd(1997, 9, 30).ok_or_else(|| BenchmarkError::Inconsistent("bad cutoff date".into()))
}

/// Each customer's distinct calibration purchase days, ascending.
pub(super) fn purchase_days(table: &Table) -> Result<BTreeMap<i64, Vec<i32>>, BenchmarkError> {
    let (customer, date) = (table.col("customer_id")?, table.col("date")?);
    let mut days: BTreeMap<i64, Vec<i32>> = BTreeMap::new();
    for r in 0..table.rows.len() {
        days.entry(table.int(r, customer)?).or_default().push(table.day(r, date, "%Y%m%d")?);
    }
    for d in days.values_mut() {
        d.sort_unstable();
        d.dedup();
    }
    Ok(days)
}

/// (x, t_x, T) in weeks from purchase days (non-empty, ascending).
pub(super) fn rfm(days: &[i32], cutoff: i32) -> Rfm {
    let (first, last) = (days[0], days[days.len() - 1]);
    Rfm { x: (days.len() - 1) as f64, t_x: f64::from(last - first) / 7.0, t: f64::from(cutoff - first) / 7.0 }
}

/// Runs P1 on the sample and the master file.
pub fn p1(dir: &Path) -> Result<Vec<Line>, BenchmarkError> {
    let cutoff = cutoff_day()?;
    let mut lines = Vec::new();
    for case in ["sample", "master"] {
        let table = Table::read(&dir.join(format!("{case}_calibration.csv")))?;
        let data: Vec<Rfm> = purchase_days(&table)?.values().map(|d| rfm(d, cutoff)).collect();
        let started = Instant::now();
        let fit = fit_bgnbd(&data, &BgNbdFitParams::default())?;
        let seconds = started.elapsed().as_secs_f64();
        let method = format!("fit_bgnbd ({} customers, {} iterations)", data.len(), fit.iterations);
        let p = fit.params;
        for (metric, value) in [("r", p.r), ("alpha", p.alpha), ("a", p.a), ("b", p.b)] {
            lines.push(line(Protocol::P1, case, metric, Goal::MatchRelative(0.005), value, &method, seconds, 0.0));
        }
        lines.push(line(
            Protocol::P1,
            case,
            "log_likelihood",
            Goal::MatchAbsolute(0.1),
            fit.log_likelihood,
            &method,
            seconds,
            0.0,
        ));
    }
    Ok(lines)
}

/// One P2 data set's customers: features, split and label.
struct ChurnData {
    ids: Vec<i64>,
    names: Vec<String>,
    features: Vec<Vec<f64>>,
    train: Vec<bool>,
    churned: Vec<bool>,
}

fn read_churn_data(dir: &Path) -> Result<ChurnData, BenchmarkError> {
    let features = Table::read(&dir.join("features_calibration.csv"))?;
    let truth = Table::read(&dir.join("truth.csv"))?;
    let (tid, tchurn) = (truth.col("customer_id")?, truth.col("churned")?);
    let mut labels = BTreeMap::new();
    for r in 0..truth.rows.len() {
        labels.insert(truth.int(r, tid)?, truth.int(r, tchurn)? == 1);
    }
    let (fid, fsplit) = (features.col("customer_id")?, features.col("split")?);
    let columns: Vec<usize> = (0..features.headers.len()).filter(|c| *c != fid && *c != fsplit).collect();
    let mut out = ChurnData {
        ids: Vec::new(),
        names: columns.iter().map(|&c| features.headers[c].clone()).collect(),
        features: Vec::new(),
        train: Vec::new(),
        churned: Vec::new(),
    };
    for r in 0..features.rows.len() {
        let id = features.int(r, fid)?;
        let label = labels
            .get(&id)
            .copied()
            .ok_or_else(|| BenchmarkError::Inconsistent(format!("P2: no truth for customer {id}")))?;
        out.features.push(columns.iter().map(|&c| features.num(r, c)).collect::<Result<Vec<_>, _>>()?);
        out.ids.push(id);
        out.train.push(features.text(r, fsplit) == "train");
        out.churned.push(label);
    }
    Ok(out)
}

/// Names of the P2 candidate feature sets, in [`p2_candidates`] order.
const P2_CANDIDATES: [&str; 8] = [
    "RFM3",
    "9 features",
    "9 + ln1p",
    "9 + ln1p + BG/NBD",
    "RFM3 + ln1p + BG/NBD",
    "9 + ln1p + BG/NBD + shape",
    "RFM3 + ln1p + BG/NBD + activity",
    "9 + ln1p + BG/NBD + shape + activity",
];

/// Names of the [`activity`] features.
const ACTIVITY: [&str; 6] =
    ["days_last_4w", "days_last_13w", "ln1p_last_gap_days", "ln1p_last_day_dollars", "gap_cv", "recency_over_mean_gap"];

/// Per customer, from the calibration transactions: distinct purchase days in the last 4 and 13 weeks
/// before the cutoff, ln(1 + the last gap in days) (0 without a repeat), ln(1 + the last purchase day's
/// dollars), the coefficient of variation of the gaps (0 with fewer than two gaps) and the days since the
/// last purchase over the mean gap (0 without a repeat).
fn activity(table: &Table, cutoff: i32) -> Result<BTreeMap<i64, [f64; 6]>, BenchmarkError> {
    let (customer, date, dollars) = (table.col("customer_id")?, table.col("date")?, table.col("dollar_value")?);
    let mut spend: BTreeMap<i64, BTreeMap<i32, f64>> = BTreeMap::new();
    for r in 0..table.rows.len() {
        *spend.entry(table.int(r, customer)?).or_default().entry(table.day(r, date, "%Y%m%d")?).or_default() +=
            table.num(r, dollars)?;
    }
    let mut out = BTreeMap::new();
    for (id, days) in spend {
        let list: Vec<i32> = days.keys().copied().collect();
        let last = list[list.len() - 1];
        let recent = |weeks: i32| list.iter().filter(|&&d| d > cutoff - 7 * weeks).count() as f64;
        let gaps: Vec<f64> = list.windows(2).map(|w| f64::from(w[1] - w[0])).collect();
        let mean_gap = if gaps.is_empty() { 0.0 } else { gaps.iter().sum::<f64>() / gaps.len() as f64 };
        let cv = if gaps.len() < 2 {
            0.0
        } else {
            let var = gaps.iter().map(|g| (g - mean_gap).powi(2)).sum::<f64>() / gaps.len() as f64;
            var.sqrt() / mean_gap.max(1.0)
        };
        out.insert(
            id,
            [
                recent(4),
                recent(13),
                gaps.last().map_or(0.0, |g| g.ln_1p()),
                days[&last].max(0.0).ln_1p(),
                cv,
                if gaps.is_empty() { 0.0 } else { f64::from(cutoff - last) / mean_gap.max(1.0) },
            ],
        );
    }
    Ok(out)
}

/// ln(p / (1 − p)) with p kept inside [1e-9, 1 − 1e-9].
fn logit(p: f64) -> f64 {
    let p = p.clamp(1e-9, 1.0 - 1e-9);
    (p / (1.0 - p)).ln()
}

/// Feature sets of P2 (named in [`P2_CANDIDATES`]): the protocol's RFM3 and nine features; with ln(1 + ·)
/// of each; with BG/NBD's P(no purchase in the holdout), P(alive) and ln(1 + E[holdout purchases]); RFM3
/// with their logs and BG/NBD's logit P(no purchase) and ln E; and the richest set adding the logit, the
/// recency/T ratio, a one-time-buyer flag and the ln x × ln recency interaction.
fn p2_candidates(
    data: &ChurnData,
    rows: &[usize],
    bgnbd: &BgNbdParams,
    activity: &BTreeMap<i64, [f64; 6]>,
) -> Result<Vec<crate::features::FeatureMatrix>, BenchmarkError> {
    let col = |name: &str| {
        data.names
            .iter()
            .position(|n| n == name)
            .ok_or_else(|| BenchmarkError::Inconsistent(format!("P2 features lack `{name}`")))
    };
    let (cx, ctx, ct, crec) = (col("x")?, col("t_x")?, col("T")?, col("recency_weeks")?);
    let column = |j: usize| -> Vec<f64> { rows.iter().map(|&i| data.features[i][j]).collect() };
    let ln1p = |v: &[f64]| -> Vec<f64> { v.iter().map(|v| v.max(0.0).ln_1p()).collect() };
    let base: Vec<(String, Vec<f64>)> = (0..data.names.len()).map(|j| (data.names[j].clone(), column(j))).collect();
    let rfm3: Vec<(String, Vec<f64>)> =
        base.iter().filter(|(n, _)| ["recency_weeks", "x", "monetary_mean"].contains(&n.as_str())).cloned().collect();
    let mut logs = base.clone();
    for (name, values) in &base {
        logs.push((format!("ln1p_{name}"), ln1p(values)));
    }
    let summaries: Vec<Rfm> = rows
        .iter()
        .map(|&i| Rfm { x: data.features[i][cx], t_x: data.features[i][ctx], t: data.features[i][ct] })
        .collect();
    let p_none: Vec<f64> = summaries.iter().map(|c| bgnbd.p_no_purchase(c, HOLDOUT_WEEKS)).collect();
    let expected: Vec<f64> = summaries.iter().map(|c| bgnbd.expected_purchases(c, HOLDOUT_WEEKS).max(0.0)).collect();
    let mut with_bgnbd = logs.clone();
    with_bgnbd.push(("bgnbd_p_no_purchase".into(), p_none.clone()));
    with_bgnbd.push(("bgnbd_p_alive".into(), summaries.iter().map(|c| bgnbd.p_alive(c)).collect()));
    with_bgnbd.push(("bgnbd_ln1p_expected".into(), ln1p(&expected)));
    let logit_none: Vec<f64> = p_none.iter().map(|&p| logit(p)).collect();
    let ln_expected: Vec<f64> = expected.iter().map(|e| e.max(1e-6).ln()).collect();
    let mut rfm3_bgnbd = rfm3.clone();
    for (name, values) in &rfm3 {
        rfm3_bgnbd.push((format!("ln1p_{name}"), ln1p(values)));
    }
    rfm3_bgnbd.push(("bgnbd_logit_p_no_purchase".into(), logit_none.clone()));
    rfm3_bgnbd.push(("bgnbd_ln_expected".into(), ln_expected.clone()));
    let mut shape = with_bgnbd.clone();
    shape.push(("bgnbd_logit_p_no_purchase".into(), logit_none));
    shape.push(("bgnbd_ln_expected".into(), ln_expected));
    shape.push(("recency_over_T".into(), summaries.iter().zip(column(crec)).map(|(c, r)| r / c.t.max(1e-9)).collect()));
    shape.push(("one_time_buyer".into(), summaries.iter().map(|c| f64::from(u8::from(c.x == 0.0))).collect()));
    shape.push((
        "ln1p_x_times_ln1p_recency".into(),
        summaries.iter().zip(column(crec)).map(|(c, r)| c.x.ln_1p() * r.max(0.0).ln_1p()).collect(),
    ));
    let mut acts: Vec<(String, Vec<f64>)> = ACTIVITY.iter().map(|n| ((*n).to_owned(), Vec::new())).collect();
    for &i in rows {
        let a = activity.get(&data.ids[i]).ok_or_else(|| {
            BenchmarkError::Inconsistent(format!("P2: customer {} has no calibration purchase", data.ids[i]))
        })?;
        for (column, v) in acts.iter_mut().zip(a) {
            column.1.push(*v);
        }
    }
    let rfm3_activity: Vec<(String, Vec<f64>)> = rfm3_bgnbd.iter().chain(&acts).cloned().collect();
    let shape_activity: Vec<(String, Vec<f64>)> = shape.iter().chain(&acts).cloned().collect();
    Ok(vec![
        matrix(rfm3),
        matrix(base),
        matrix(logs),
        matrix(with_bgnbd),
        matrix(rfm3_bgnbd),
        matrix(shape),
        matrix(rfm3_activity),
        matrix(shape_activity),
    ])
}

/// Runs P2 on master and sample: the feature set and L2 strength are chosen by 5-fold cross-validated log
/// loss on the train customers.
pub fn p2(dir: &Path, seed: u64) -> Result<Vec<Line>, BenchmarkError> {
    let mut lines = Vec::new();
    for case in ["master", "sample"] {
        let data = read_churn_data(&dir.join(case))?;
        let train: Vec<usize> = (0..data.train.len()).filter(|&i| data.train[i]).collect();
        let test: Vec<usize> = (0..data.train.len()).filter(|&i| !data.train[i]).collect();
        let names = &data.names;
        let (cx, ctx, ct) = (
            names.iter().position(|n| n == "x"),
            names.iter().position(|n| n == "t_x"),
            names.iter().position(|n| n == "T"),
        );
        let (Some(cx), Some(ctx), Some(ct)) = (cx, ctx, ct) else {
            return Err(BenchmarkError::Inconsistent("P2 features lack x, t_x or T".into()));
        };
        let summaries: Vec<Rfm> = train
            .iter()
            .map(|&i| Rfm { x: data.features[i][cx], t_x: data.features[i][ctx], t: data.features[i][ct] })
            .collect();
        let started = Instant::now();
        let bgnbd = fit_bgnbd(&summaries, &BgNbdFitParams::default())?.params;
        let bgnbd_seconds = started.elapsed().as_secs_f64();
        let y_train: Vec<bool> = train.iter().map(|&i| data.churned[i]).collect();
        let y_test: Vec<bool> = test.iter().map(|&i| data.churned[i]).collect();
        let activity = activity(&Table::read(&dir.join(case).join("calibration.csv"))?, cutoff_day()?)?;
        let candidates = p2_candidates(&data, &train, &bgnbd, &activity)?;
        let chosen = choose_logistic_cv(&candidates, &y_train, 5, Criterion::LogLoss, seed)?;
        let x_test = p2_candidates(&data, &test, &bgnbd, &activity)?.swap_remove(chosen.candidate);
        let p: Vec<f64> = chosen.scorer.logits(&x_test).into_iter().map(sigmoid).collect();
        let uses_bgnbd = P2_CANDIDATES[chosen.candidate].contains("BG/NBD");
        let method = format!("logistic {} α={}", P2_CANDIDATES[chosen.candidate], chosen.alpha);
        let fit_seconds = chosen.fit_seconds + if uses_bgnbd { bgnbd_seconds } else { 0.0 };
        tracing::debug!(case, bgnbd_seconds, refit_seconds = chosen.fit_seconds, "P2 fit times");
        lines.extend(churn_lines(
            Protocol::P2,
            case,
            &method,
            &y_test,
            &p,
            fit_seconds,
            chosen.selection_seconds + bgnbd_seconds,
        ));
    }
    Ok(lines)
}
