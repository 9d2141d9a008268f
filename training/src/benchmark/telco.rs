//! P6, Telco churn: the four numeric columns plus every other attribute one-hot encoded with the train
//! rows' levels (as the protocol), optionally with engineered columns (log tenure and charges, and the
//! contract and internet service interacting with tenure and monthly charges); the feature set and L2
//! strength are chosen on a validation share of the train rows.

use std::collections::{BTreeSet, HashMap};
use std::path::Path;

use super::classify::{choose_logistic, churn_lines, matrix};
use super::data::Table;
use super::{BenchmarkError, Line, Protocol};
use crate::models::churn::sigmoid;

const NUMERIC: [&str; 4] = ["SeniorCitizen", "tenure", "MonthlyCharges", "TotalCharges"];

/// The encoding fitted on the train rows.
struct Encoder {
    numeric: Vec<usize>,
    categorical: Vec<(usize, String, Vec<String>)>,
}

impl Encoder {
    fn fit(table: &Table) -> Result<Self, BenchmarkError> {
        let numeric = NUMERIC.iter().map(|c| table.col(c)).collect::<Result<Vec<_>, _>>()?;
        let skip = [table.col("customerID")?, table.col("Churn")?];
        let categorical = (0..table.headers.len())
            .filter(|c| !numeric.contains(c) && !skip.contains(c))
            .map(|c| {
                let levels: BTreeSet<&str> = (0..table.rows.len()).map(|r| table.text(r, c)).collect();
                (c, table.headers[c].clone(), levels.into_iter().map(str::to_owned).collect())
            })
            .collect();
        Ok(Self { numeric, categorical })
    }

    /// Columns by name; `engineered` adds the log and interaction columns.
    fn encode(&self, table: &Table, engineered: bool) -> Result<Vec<(String, Vec<f64>)>, BenchmarkError> {
        let n = table.rows.len();
        let mut columns = Vec::new();
        for &c in &self.numeric {
            // TotalCharges is blank on the 11 tenure-0 rows: 0.0, as the protocol.
            let values = (0..n)
                .map(|r| if table.text(r, c).trim().is_empty() { Ok(0.0) } else { table.num(r, c) })
                .collect::<Result<Vec<_>, _>>()?;
            columns.push((table.headers[c].clone(), values));
        }
        let mut onehot: HashMap<String, Vec<f64>> = HashMap::new();
        for (c, name, levels) in &self.categorical {
            for level in levels {
                let values: Vec<f64> = (0..n).map(|r| f64::from(u8::from(table.text(r, *c) == level))).collect();
                let key = format!("{name}={level}");
                onehot.insert(key.clone(), values.clone());
                columns.push((key, values));
            }
        }
        if engineered {
            let tenure = columns[1].1.clone();
            let monthly = columns[2].1.clone();
            let log_tenure: Vec<f64> = tenure.iter().map(|t| t.ln_1p()).collect();
            let log_total: Vec<f64> = columns[3].1.iter().map(|t| t.ln_1p()).collect();
            columns.push(("ln1p_tenure".into(), log_tenure.clone()));
            columns.push(("ln1p_total".into(), log_total));
            for key in ["Contract=Month-to-month", "InternetService=Fiber optic", "PaymentMethod=Electronic check"] {
                if let Some(flag) = onehot.get(key) {
                    columns.push((
                        format!("{key}×ln1p_tenure"),
                        flag.iter().zip(&log_tenure).map(|(f, t)| f * t).collect(),
                    ));
                    columns.push((format!("{key}×monthly"), flag.iter().zip(&monthly).map(|(f, m)| f * m).collect()));
                }
            }
        }
        Ok(columns)
    }
}

fn labels(table: &Table, ids: Option<&HashMap<String, bool>>) -> Result<Vec<bool>, BenchmarkError> {
    let id_col = table.col("customerID")?;
    (0..table.rows.len())
        .map(|r| match ids {
            Some(truth) => truth.get(table.text(r, id_col)).copied().ok_or_else(|| {
                BenchmarkError::Inconsistent(format!("P6: no truth for test customer {}", table.text(r, id_col)))
            }),
            None => Ok(table.text(r, table.col("Churn")?) == "Yes"),
        })
        .collect()
}

/// Runs P6.
pub fn p6(dir: &Path, seed: u64) -> Result<Vec<Line>, BenchmarkError> {
    let train = Table::read(&dir.join("train.csv"))?;
    let test = Table::read(&dir.join("test.csv"))?;
    let truth_table = Table::read(&dir.join("truth.csv"))?;
    let (tid, tchurn) = (truth_table.col("customerID")?, truth_table.col("Churn")?);
    let truth: HashMap<String, bool> = (0..truth_table.rows.len())
        .map(|r| (truth_table.text(r, tid).to_owned(), truth_table.text(r, tchurn) == "Yes"))
        .collect();
    let y_train = labels(&train, None)?;
    let y_test = labels(&test, Some(&truth))?;
    let encoder = Encoder::fit(&train)?;
    let candidates = [false, true].map(|engineered| encoder.encode(&train, engineered).map(matrix));
    let [plain, engineered] = candidates;
    let candidates = vec![plain?, engineered?];
    let chosen = choose_logistic(&candidates, &y_train, seed)?;
    let x_test = matrix(encoder.encode(&test, chosen.candidate == 1)?);
    let p: Vec<f64> = chosen.scorer.logits(&x_test).into_iter().map(sigmoid).collect();
    let method =
        format!("logistic {} α={}", if chosen.candidate == 1 { "one-hot+engineered" } else { "one-hot" }, chosen.alpha);
    Ok(churn_lines(Protocol::P6, "telco", &method, &y_test, &p, chosen.fit_seconds, chosen.selection_seconds))
}
