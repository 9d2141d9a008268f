//! P5 churn (Groceries): which members buy nothing in the test window, from `features_churn.csv`.

use std::collections::HashMap;
use std::path::Path;
use std::time::Instant;

use super::classify::{Criterion, choose_logistic_cv, churn_lines, matrix};
use super::data::Table;
use super::{BenchmarkError, Line, Protocol};
use crate::models::churn::sigmoid;
use crate::models::timing::{BgNbdFitParams, Rfm, fit_bgnbd};

/// Names of the P5 churn candidates, in the order `p5_churn` builds them.
const P5_CANDIDATES: [&str; 7] =
    ["recency", "recency + visits", "RFM3", "7 features", "BG/NBD P(no purchase)", "recency + BG/NBD", "7 + BG/NBD"];

/// P5 churn from `features_churn.csv`: candidates from recency alone (the reference's best score) to the
/// seven features with BG/NBD's logit P(no purchase until the data's end), chosen with their L2 strength
/// by 5-fold cross-validated ROC AUC on the train members (the data carry almost no signal, so the
/// selection may well fall back to recency alone).
pub fn p5_churn(dir: &Path, seed: u64, cutoff: i32, end: i32) -> Result<Vec<Line>, BenchmarkError> {
    let features = Table::read(&dir.join("features_churn.csv"))?;
    let truth = Table::read(&dir.join("truth_churn.csv"))?;
    let (tm, tc) = (truth.col("Member_number")?, truth.col("churned")?);
    let mut labels = HashMap::new();
    for r in 0..truth.rows.len() {
        labels.insert(truth.int(r, tm)?, truth.int(r, tc)? == 1);
    }
    let (fm, fsplit) = (features.col("Member_number")?, features.col("split")?);
    let names: Vec<usize> = (0..features.headers.len()).filter(|c| *c != fm && *c != fsplit).collect();
    let (recency, visits, tenure) =
        (features.col("recency_days")?, features.col("visits")?, features.col("tenure_days")?);
    let mut rows: [Vec<(Vec<f64>, Rfm, bool)>; 2] = [Vec::new(), Vec::new()];
    for r in 0..features.rows.len() {
        let member = features.int(r, fm)?;
        let label = *labels
            .get(&member)
            .ok_or_else(|| BenchmarkError::Inconsistent(format!("P5: no churn truth for member {member}")))?;
        let values = names.iter().map(|&c| features.num(r, c)).collect::<Result<Vec<_>, _>>()?;
        let (rec, t) = (features.num(r, recency)?, features.num(r, tenure)?);
        let summary = Rfm { x: (features.num(r, visits)? - 1.0).max(0.0), t_x: (t - rec).max(0.0), t };
        rows[usize::from(features.text(r, fsplit) != "train")].push((values, summary, label));
    }
    let started = Instant::now();
    let train_summaries: Vec<Rfm> = rows[0].iter().map(|r| r.1).collect();
    let bgnbd = fit_bgnbd(&train_summaries, &BgNbdFitParams::default())?.params;
    let bgnbd_seconds = started.elapsed().as_secs_f64();
    let horizon = f64::from(end - cutoff);
    let build = |set: &[(Vec<f64>, Rfm, bool)]| -> Vec<crate::features::FeatureMatrix> {
        let base: Vec<(String, Vec<f64>)> = names
            .iter()
            .enumerate()
            .map(|(j, &c)| (features.headers[c].clone(), set.iter().map(|r| r.0[j]).collect()))
            .collect();
        let pick = |names: &[&str]| -> Vec<(String, Vec<f64>)> {
            base.iter().filter(|(n, _)| names.contains(&n.as_str())).cloned().collect()
        };
        let logit_none: Vec<f64> = set
            .iter()
            .map(|r| {
                let p = bgnbd.p_no_purchase(&r.1, horizon).clamp(1e-9, 1.0 - 1e-9);
                (p / (1.0 - p)).ln()
            })
            .collect();
        let mut with_bgnbd = base.clone();
        with_bgnbd.push(("bgnbd_logit_p_no_purchase".into(), logit_none.clone()));
        let mut recency_bgnbd = pick(&["recency_days"]);
        recency_bgnbd.push(("bgnbd_logit_p_no_purchase".into(), logit_none.clone()));
        vec![
            matrix(pick(&["recency_days"])),
            matrix(pick(&["recency_days", "visits"])),
            matrix(pick(&["recency_days", "visits", "rows"])),
            matrix(base),
            matrix(vec![("bgnbd_logit_p_no_purchase".into(), logit_none)]),
            matrix(recency_bgnbd),
            matrix(with_bgnbd),
        ]
    };
    let y_train: Vec<bool> = rows[0].iter().map(|r| r.2).collect();
    let y_test: Vec<bool> = rows[1].iter().map(|r| r.2).collect();
    let chosen = choose_logistic_cv(&build(&rows[0]), &y_train, 5, Criterion::RocAuc, seed)?;
    let x_test = build(&rows[1]).swap_remove(chosen.candidate);
    let p: Vec<f64> = chosen.scorer.logits(&x_test).into_iter().map(sigmoid).collect();
    let method = format!("logistic {} α={}", P5_CANDIDATES[chosen.candidate], chosen.alpha);
    let fit = chosen.fit_seconds + if P5_CANDIDATES[chosen.candidate].contains("BG/NBD") { bgnbd_seconds } else { 0.0 };
    Ok(churn_lines(Protocol::P5, "churn", &method, &y_test, &p, fit, chosen.selection_seconds + bgnbd_seconds))
}
