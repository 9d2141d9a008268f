//! Profile → feature matrix: the one module that turns the unified profile table into numbers for the
//! models, and the only place that builds ndarray (0.16, for linfa) and smartcore matrices. The encoding
//! is fitted on the training rows and then applied unchanged to validation, test and scoring rows.

use ndarray::Array2;
use serde::{Deserialize, Serialize};
use tagcenter::domain::TagType;

use crate::unify::profile::{ProfileTable, Values};

/// How one feature is computed from a profile column.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Encoding {
    /// The number itself (missing → `fill`), optionally through `ln(1 + x)` for heavy-tailed counts.
    Numeric {
        /// Value used where the tag is missing (the training median).
        fill: f64,
        /// Whether `ln(1 + x)` is applied.
        log1p: bool,
    },
    /// 1 where the tag is missing.
    Missing,
    /// 1 where the flag is true.
    Flag,
    /// 1 where the category (or text) equals `level`.
    OneHot {
        /// The level.
        level: String,
    },
    /// A feature supplied by the caller (e.g. BG/NBD's P(alive)), by position among the extras.
    Extra {
        /// Position in the extras.
        index: usize,
    },
}

/// One feature.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FeatureColumn {
    /// Feature name (`recency_days`, `member_tier=gold`, `cycle_median_days_missing`).
    pub name: String,
    /// The profile column it reads (empty for extras).
    pub source: String,
    /// How.
    pub encoding: Encoding,
}

/// The fitted encoding.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FeatureSchema {
    /// The features, in matrix column order.
    pub columns: Vec<FeatureColumn>,
}

/// Options for fitting the encoding.
#[derive(Debug, Clone)]
pub struct FeatureParams {
    /// Profile columns never used (identifiers, dates already encoded as recency and tenure).
    pub exclude: Vec<String>,
    /// Category levels rarer than this share of training rows are not one-hot encoded.
    pub min_level_share: f64,
    /// At most this many levels per category.
    pub max_levels: usize,
}

impl Default for FeatureParams {
    fn default() -> Self {
        Self { exclude: vec!["first_purchase".into(), "last_purchase".into()], min_level_share: 0.01, max_levels: 12 }
    }
}

/// A dense, row-major feature matrix.
#[derive(Debug, Clone, PartialEq)]
pub struct FeatureMatrix {
    /// Feature names.
    pub names: Vec<String>,
    /// Rows.
    pub n_rows: usize,
    /// Values, row-major.
    pub data: Vec<f64>,
}

impl FeatureMatrix {
    /// Columns.
    pub fn n_cols(&self) -> usize {
        self.names.len()
    }

    /// Row `i`.
    pub fn row(&self, i: usize) -> &[f64] {
        let w = self.n_cols();
        &self.data[i * w..(i + 1) * w]
    }

    /// As an ndarray 0.16 matrix (for linfa).
    pub fn to_ndarray(&self) -> Array2<f64> {
        Array2::from_shape_vec((self.n_rows, self.n_cols()), self.data.clone()).expect("shape matches data length")
    }

    /// As a smartcore dense matrix.
    pub fn to_dense(&self) -> smartcore::linalg::basic::matrix::DenseMatrix<f64> {
        smartcore::linalg::basic::matrix::DenseMatrix::new(self.n_rows, self.n_cols(), self.data.clone(), false)
            .expect("shape matches data length")
    }

    /// The rows at `indices`, in that order.
    pub fn select(&self, indices: &[usize]) -> Self {
        let mut data = Vec::with_capacity(indices.len() * self.n_cols());
        for &i in indices {
            data.extend_from_slice(self.row(i));
        }
        Self { names: self.names.clone(), n_rows: indices.len(), data }
    }
}

fn median(values: &mut [f64]) -> f64 {
    if values.is_empty() {
        return 0.0;
    }
    let middle = values.len() / 2;
    *values.select_nth_unstable_by(middle, f64::total_cmp).1
}

fn text_level(values: &Values, row: usize) -> Option<&str> {
    match values {
        Values::Category { levels, codes } => codes[row].map(|c| levels[c as usize].as_str()),
        Values::Text(v) => v[row].as_deref(),
        _ => None,
    }
}

impl FeatureSchema {
    /// Decides the features from the training rows of `profile`, plus the named extras.
    pub fn fit(profile: &ProfileTable, rows: &[usize], extras: &[&str], params: &FeatureParams) -> Self {
        let mut columns = Vec::new();
        let n = rows.len().max(1) as f64;
        for column in &profile.columns {
            if params.exclude.contains(&column.name) || column.tag_type == TagType::Date {
                continue;
            }
            let name = column.name.clone();
            match &column.values {
                Values::Number(v) => {
                    let mut present: Vec<f64> = rows.iter().map(|&r| v[r]).filter(|x| !x.is_nan()).collect();
                    if present.is_empty() {
                        continue;
                    }
                    let missing = present.len() < rows.len();
                    let min = present.iter().copied().fold(f64::INFINITY, f64::min);
                    let max = present.iter().copied().fold(f64::NEG_INFINITY, f64::max);
                    // Order statistics by selection (linear time) rather than a full sort per column.
                    let p99_rank = ((present.len() - 1) as f64 * 0.99) as usize;
                    let p99 = *present.select_nth_unstable_by(p99_rank, f64::total_cmp).1;
                    let med = median(&mut present);
                    // Counts, day spans and money (non-negative, beyond the unit interval of shares and
                    // rates) enter as ln(1 + x): their effect on the log-odds flattens out.
                    let log1p = min >= 0.0 && p99 > 1.0;
                    let distinct = min != max;
                    if distinct {
                        columns.push(FeatureColumn {
                            name: name.clone(),
                            source: name.clone(),
                            encoding: Encoding::Numeric { fill: med, log1p },
                        });
                    }
                    if missing {
                        columns.push(FeatureColumn {
                            name: format!("{name}_missing"),
                            source: name,
                            encoding: Encoding::Missing,
                        });
                    }
                }
                Values::Flag(v) => {
                    let trues = rows.iter().filter(|&&r| v[r] == Some(true)).count();
                    if trues > 0 && trues < rows.len() {
                        columns.push(FeatureColumn {
                            name: name.clone(),
                            source: name.clone(),
                            encoding: Encoding::Flag,
                        });
                    }
                    let missing = rows.iter().filter(|&&r| v[r].is_none()).count();
                    let falses = rows.len() - trues - missing;
                    if missing > 0 && falses > 0 {
                        columns.push(FeatureColumn {
                            name: format!("{name}_missing"),
                            source: name,
                            encoding: Encoding::Missing,
                        });
                    }
                }
                Values::Category { .. } | Values::Text(_) => {
                    let mut counts: std::collections::BTreeMap<&str, usize> = Default::default();
                    for &r in rows {
                        if let Some(level) = text_level(&column.values, r) {
                            *counts.entry(level).or_default() += 1;
                        }
                    }
                    let mut levels: Vec<(&str, usize)> =
                        counts.into_iter().filter(|(_, c)| *c as f64 / n >= params.min_level_share).collect();
                    levels.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
                    for (level, _) in levels.into_iter().take(params.max_levels) {
                        columns.push(FeatureColumn {
                            name: format!("{name}={level}"),
                            source: name.clone(),
                            encoding: Encoding::OneHot { level: level.to_owned() },
                        });
                    }
                }
                Values::Date(_) => {}
            }
        }
        for (index, extra) in extras.iter().enumerate() {
            columns.push(FeatureColumn {
                name: (*extra).to_owned(),
                source: String::new(),
                encoding: Encoding::Extra { index },
            });
        }
        Self { columns }
    }

    /// Feature names.
    pub fn names(&self) -> Vec<String> {
        self.columns.iter().map(|c| c.name.clone()).collect()
    }

    /// Builds the matrix for `rows` of `profile`; `extras[i][k]` is extra feature `i` of the `k`-th row.
    pub fn transform(&self, profile: &ProfileTable, rows: &[usize], extras: &[Vec<f64>]) -> FeatureMatrix {
        use rayon::prelude::*;
        let width = self.columns.len();
        let mut data = vec![0.0; rows.len() * width];
        // Each feature's source column, looked up once.
        let sources: Vec<Option<&Values>> = self
            .columns
            .iter()
            .map(|f| match f.encoding {
                Encoding::Extra { .. } => None,
                _ => profile.column(&f.source).map(|c| &c.values),
            })
            .collect();
        // One-hot features over category codes: which codes spell the level (compared once, not per row).
        let hot_codes: Vec<Option<Vec<bool>>> = self
            .columns
            .iter()
            .zip(&sources)
            .map(|(f, values)| match (&f.encoding, values) {
                (Encoding::OneHot { level }, Some(Values::Category { levels, .. })) => {
                    Some(levels.iter().map(|l| l == level).collect())
                }
                _ => None,
            })
            .collect();
        // Blocks of rows in parallel; every cell depends on its row alone.
        let fill = |(b, block): (usize, &mut [f64])| {
            let first = b * TRANSFORM_BLOCK_ROWS;
            let block_rows = &rows[first..first + block.len() / width.max(1)];
            for (j, feature) in self.columns.iter().enumerate() {
                if let Encoding::Extra { index } = feature.encoding {
                    for k in 0..block_rows.len() {
                        block[k * width + j] = extras.get(index).and_then(|e| e.get(first + k)).copied().unwrap_or(0.0);
                    }
                    continue;
                }
                let Some(values) = sources[j] else { continue };
                if let (Some(hot), Values::Category { codes, .. }) = (&hot_codes[j], values) {
                    for (k, &r) in block_rows.iter().enumerate() {
                        let is = codes[r].is_some_and(|c| hot.get(c as usize).copied().unwrap_or(false));
                        block[k * width + j] = f64::from(u8::from(is));
                    }
                    continue;
                }
                for (k, &r) in block_rows.iter().enumerate() {
                    let value = match (&feature.encoding, values) {
                        (Encoding::Numeric { fill, log1p }, Values::Number(v)) => {
                            let x = if v[r].is_nan() { *fill } else { v[r] };
                            if *log1p { x.max(0.0).ln_1p() } else { x }
                        }
                        (Encoding::Missing, Values::Number(v)) => f64::from(u8::from(v[r].is_nan())),
                        (Encoding::Missing, Values::Flag(v)) => f64::from(u8::from(v[r].is_none())),
                        (Encoding::Flag, Values::Flag(v)) => f64::from(u8::from(v[r] == Some(true))),
                        (Encoding::OneHot { level }, values) => {
                            f64::from(u8::from(text_level(values, r) == Some(level.as_str())))
                        }
                        _ => 0.0,
                    };
                    block[k * width + j] = value;
                }
            }
        };
        if width > 0 {
            data.par_chunks_mut(TRANSFORM_BLOCK_ROWS * width).enumerate().for_each(fill);
        }
        FeatureMatrix { names: self.names(), n_rows: rows.len(), data }
    }
}

/// Rows one task of [`FeatureSchema::transform`] encodes.
const TRANSFORM_BLOCK_ROWS: usize = 4096;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::unify::profile::{Origin, ProfileColumn};

    fn column(name: &str, tag_type: TagType, values: Values) -> ProfileColumn {
        ProfileColumn {
            name: name.into(),
            tag_type,
            description: String::new(),
            owner: String::new(),
            origin: Origin::Behaviour,
            values,
        }
    }

    fn profile() -> ProfileTable {
        ProfileTable {
            customer_ids: vec!["a".into(), "b".into(), "c".into(), "d".into()],
            columns: vec![
                column("recency_days", TagType::Number, Values::Number(vec![1.0, 10.0, f64::NAN, 30.0])),
                column("vip", TagType::Flag, Values::Flag(vec![Some(true), None, None, Some(true)])),
                column(
                    "member_tier",
                    TagType::Category,
                    Values::Category {
                        levels: vec!["gold".into(), "silver".into()],
                        codes: vec![Some(0), Some(1), None, Some(0)],
                    },
                ),
                column("first_purchase", TagType::Date, Values::Date(vec![Some(1), Some(2), None, Some(3)])),
            ],
        }
    }

    #[test]
    fn the_encoding_fills_flags_and_one_hots() {
        let p = profile();
        let schema = FeatureSchema::fit(&p, &[0, 1, 2, 3], &["p_alive"], &FeatureParams::default());
        assert_eq!(
            schema.names(),
            vec!["recency_days", "recency_days_missing", "vip", "member_tier=gold", "member_tier=silver", "p_alive"]
        );
        let m = schema.transform(&p, &[2, 0], &[vec![0.5, 0.9]]);
        assert_eq!(m.n_rows, 2);
        // Recency is a non-negative day count beyond the unit interval: it enters as ln(1 + days), the
        // missing value filled with the training median (10 days).
        assert_eq!(m.row(0), &[11f64.ln(), 1.0, 0.0, 0.0, 0.0, 0.5]);
        assert_eq!(m.row(1), &[2f64.ln(), 0.0, 1.0, 1.0, 0.0, 0.9]);
        assert_eq!(m.to_ndarray().shape(), &[2, 6]);
    }

    #[test]
    fn many_rows_encode_block_by_block_like_one_row_at_a_time() {
        let p = profile();
        let schema = FeatureSchema::fit(&p, &[0, 1, 2, 3], &["p_alive"], &FeatureParams::default());
        // More rows than one block, every profile row many times over, in a scrambled order.
        let rows: Vec<usize> = (0..2 * TRANSFORM_BLOCK_ROWS + 7).map(|k| (k * 7 + k / 3) % 4).collect();
        let extra: Vec<f64> = (0..rows.len()).map(|k| k as f64 / 10.0).collect();
        let m = schema.transform(&p, &rows, std::slice::from_ref(&extra));
        assert_eq!(m.n_rows, rows.len());
        for (k, &r) in rows.iter().enumerate() {
            let one = schema.transform(&p, &[r], &[vec![extra[k]]]);
            assert_eq!(m.row(k), one.row(0), "row {k} (profile row {r})");
        }
    }

    #[test]
    fn fitting_on_some_rows_leaves_unseen_levels_out() {
        let p = profile();
        let schema = FeatureSchema::fit(&p, &[0, 3], &[], &FeatureParams::default());
        assert!(schema.names().contains(&"member_tier=gold".to_owned()));
        assert!(!schema.names().contains(&"member_tier=silver".to_owned()));
        assert!(!schema.names().contains(&"vip".to_owned()), "constant on the training rows");
    }
}
