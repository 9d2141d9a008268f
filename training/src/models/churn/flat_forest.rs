//! The churn forest as plain flat arrays, for fast scoring of many rows.
//!
//! smartcore grows the forest (its parts in parallel) but predicts one cell at a time through
//! `DenseMatrix::get`, which dominated churn scoring at a million buyers. Each fitted smartcore forest
//! is read once through its serde form (`RandomForestRegressor` → `forest_regressor` → `trees` →
//! `nodes`; the tree internals are private) into one node array for the whole forest, and rows of our
//! row-major [`FeatureMatrix`] are scored directly, in parallel chunks.
//!
//! Scores are bit-identical to smartcore's: the same walk (`leaf_output_for_row`: go to the true child
//! when `x <= split_value`, a missing split value comparing as NaN, so false), each part's tree outputs
//! summed in order from 0 and divided by its tree count (`predict_mean`), and the parts' means divided
//! by the part count and added in part order.

use rayon::prelude::*;
use serde_json::Value;

use super::ChurnError;
use crate::features::FeatureMatrix;

/// A fitted smartcore forest (one part of the churn forest).
pub(crate) type SmartcoreForest = smartcore::ensemble::random_forest_regressor::RandomForestRegressor<
    f64,
    f64,
    smartcore::linalg::basic::matrix::DenseMatrix<f64>,
    Vec<f64>,
>;

/// Rows scored together: every tree walks the whole block before the next tree, so a tree's nodes stay
/// in cache; blocks are scored in parallel.
const BLOCK_ROWS: usize = 1_024;

/// Rows walked down a tree in lockstep: their walks are independent, so the processor overlaps them.
const LANES: usize = 8;

/// One node of a tree; child indices are absolute in [`FlatForest::nodes`].
///
/// A leaf is its own two children (and tests feature 0), so a walk of a tree's full depth from the root
/// ends on the leaf smartcore stops at, without a branch on the data.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Node {
    /// Threshold: rows with `x[feature] <= threshold` go to `children[1]` (NaN for a missing one, so
    /// every row goes to `children[0]`).
    threshold: f64,
    /// Leaf value (meaningful on leaves only).
    output: f64,
    /// Column tested.
    feature: u32,
    /// Child otherwise, child for `x <= threshold` (indexed by the comparison).
    children: [u32; 2],
}

/// One tree: its root in [`FlatForest::nodes`] and the edges on its longest root-to-leaf path.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Tree {
    root: u32,
    depth: u32,
}

/// The churn forest: its parts (each a smartcore forest), their trees and nodes in flat arrays.
#[derive(Debug, Clone, PartialEq)]
pub struct FlatForest {
    /// Every node of every tree.
    nodes: Vec<Node>,
    /// Every tree, trees of a part contiguous, parts in order.
    trees: Vec<Tree>,
    /// Start of each part in `trees`, plus the end.
    part_starts: Vec<usize>,
    /// Columns the trees read (every split feature is below it).
    n_features: usize,
}

fn shape_error(what: impl std::fmt::Display) -> ChurnError {
    ChurnError::Forest(format!("unexpected smartcore forest shape: {what}"))
}

/// Field `key` of a JSON object.
fn field<'a>(value: &'a Value, key: &str, context: &str) -> Result<&'a Value, ChurnError> {
    value.as_object().and_then(|o| o.get(key)).ok_or_else(|| shape_error(format!("{context} has no `{key}`")))
}

/// An index field: a non-negative integer, or `None` for JSON null.
fn index(value: &Value, key: &str, context: &str) -> Result<Option<usize>, ChurnError> {
    let v = field(value, key, context)?;
    if v.is_null() {
        return Ok(None);
    }
    v.as_u64()
        .and_then(|i| usize::try_from(i).ok())
        .map(Some)
        .ok_or_else(|| shape_error(format!("{context} `{key}` is {v}, not an index")))
}

impl FlatForest {
    /// An empty forest (no parts yet).
    fn empty() -> Self {
        Self { nodes: Vec::new(), trees: Vec::new(), part_starts: vec![0], n_features: 0 }
    }

    /// Reads the fitted smartcore forests (the parts, averaged in this order) into flat arrays.
    ///
    /// Fails with [`ChurnError::Forest`] when smartcore's serde form is not the expected one.
    pub(crate) fn from_smartcore(parts: &[SmartcoreForest]) -> Result<Self, ChurnError> {
        if parts.is_empty() {
            return Err(ChurnError::Forest("a forest needs at least one part".into()));
        }
        let mut forest = Self::empty();
        for (p, part) in parts.iter().enumerate() {
            let value = serde_json::to_value(part).map_err(|e| ChurnError::Forest(format!("part {p}: {e}")))?;
            let trees = field(field(&value, "forest_regressor", "the forest")?, "trees", "the fitted forest")?
                .as_array()
                .ok_or_else(|| shape_error(format!("part {p} has no list of trees (is it fitted?)")))?;
            if trees.is_empty() {
                return Err(shape_error(format!("part {p} has no trees")));
            }
            for (t, tree) in trees.iter().enumerate() {
                let nodes = field(tree, "nodes", "a tree")?
                    .as_array()
                    .ok_or_else(|| shape_error(format!("part {p} tree {t} nodes are not a list")))?;
                forest.push_tree(nodes, &format!("part {p} tree {t}"))?;
            }
            forest.part_starts.push(forest.trees.len());
        }
        Ok(forest)
    }

    /// Appends one tree from its smartcore nodes (root first, children indexed within the tree and
    /// after their parent, as smartcore grows them).
    fn push_tree(&mut self, nodes: &[Value], context: &str) -> Result<(), ChurnError> {
        if nodes.is_empty() {
            return Err(shape_error(format!("{context} has no nodes")));
        }
        let base = self.nodes.len();
        if u32::try_from(base + nodes.len()).is_err() {
            return Err(shape_error(format!("{context}: too many nodes")));
        }
        for (i, node) in nodes.iter().enumerate() {
            let context = format!("{context} node {i}");
            let output = field(node, "output", &context)?
                .as_f64()
                .ok_or_else(|| shape_error(format!("{context} `output` is not a number")))?;
            let split_value = field(node, "split_value", &context)?;
            // smartcore compares with `split_value.unwrap_or(NaN)`: a missing threshold sends every row
            // to the false child.
            let threshold = if split_value.is_null() {
                f64::NAN
            } else {
                split_value.as_f64().ok_or_else(|| shape_error(format!("{context} `split_value` is {split_value}")))?
            };
            let feature = index(node, "split_feature", &context)?
                .ok_or_else(|| shape_error(format!("{context} `split_feature` is null")))?;
            let feature =
                u32::try_from(feature).map_err(|_| shape_error(format!("{context} `split_feature` {feature}")))?;
            let child = |c: usize, key: &str| {
                if c <= i || c >= nodes.len() {
                    return Err(shape_error(format!("{context} `{key}` {c} is not a later node of its tree")));
                }
                Ok((base + c) as u32)
            };
            let flat = match (index(node, "true_child", &context)?, index(node, "false_child", &context)?) {
                (None, _) => Node { threshold: f64::NAN, output, feature: 0, children: [(base + i) as u32; 2] },
                (Some(t), Some(f)) => {
                    self.n_features = self.n_features.max(feature as usize + 1);
                    Node { threshold, output, feature, children: [child(f, "false_child")?, child(t, "true_child")?] }
                }
                (Some(_), None) => return Err(shape_error(format!("{context} has a true child only"))),
            };
            self.nodes.push(flat);
        }
        // Children come after their parent: depths fill in from the last node back.
        let mut depths = vec![0u32; nodes.len()];
        for i in (0..nodes.len()).rev() {
            let [f, t] = self.nodes[base + i].children.map(|c| c as usize - base);
            if f != i {
                depths[i] = 1 + depths[t].max(depths[f]);
            }
        }
        self.trees.push(Tree { root: base as u32, depth: depths[0] });
        Ok(())
    }

    /// Adds the leaf values of `tree` for `rows` (up to [`LANES`] rows, `width` columns each) to `sums`.
    #[inline]
    fn add_leaves(&self, tree: Tree, rows: &[f64], width: usize, sums: &mut [f64]) {
        let mut at = [tree.root; LANES];
        let lanes = sums.len();
        for _ in 0..tree.depth {
            for (k, at) in at[..lanes].iter_mut().enumerate() {
                let node = &self.nodes[*at as usize];
                let x = rows[k * width + node.feature as usize];
                *at = node.children[usize::from(x <= node.threshold)];
            }
        }
        for (sum, &at) in sums.iter_mut().zip(&at[..lanes]) {
            *sum += self.nodes[at as usize].output;
        }
    }

    /// Adds the forest's mean prediction of each row of `rows` (row-major, `width` columns) to `mean`.
    fn score_block(&self, rows: &[f64], width: usize, mean: &mut [f64], sums: &mut [f64]) {
        let n_parts = (self.part_starts.len() - 1) as f64;
        for part in self.part_starts.windows(2) {
            let trees = &self.trees[part[0]..part[1]];
            sums.fill(0.0);
            for &tree in trees {
                for (sums, rows) in sums.chunks_mut(LANES).zip(rows.chunks(LANES * width)) {
                    self.add_leaves(tree, rows, width, sums);
                }
            }
            let n_trees = trees.len() as f64;
            for (m, &sum) in mean.iter_mut().zip(sums.iter()) {
                *m += sum / n_trees / n_parts;
            }
        }
    }

    /// The mean prediction of the forest's parts on every row of `x`, bit-identical to averaging the
    /// smartcore parts' `predict` in part order.
    pub fn predict(&self, x: &FeatureMatrix) -> Result<Vec<f64>, ChurnError> {
        let width = x.n_cols();
        if x.n_rows > 0 && width == 0 {
            return Err(ChurnError::Forest("the feature matrix has no columns".into()));
        }
        if x.n_rows > 0 && width < self.n_features {
            return Err(ChurnError::Forest(format!(
                "the forest reads {} features, the matrix has {width}",
                self.n_features
            )));
        }
        let mut mean = vec![0.0; x.n_rows];
        if x.n_rows == 0 {
            return Ok(mean);
        }
        mean.par_chunks_mut(BLOCK_ROWS).zip(x.data.par_chunks(BLOCK_ROWS * width)).for_each_init(
            || vec![0.0; BLOCK_ROWS],
            |sums, (mean, rows)| self.score_block(rows, width, mean, &mut sums[..mean.len()]),
        );
        Ok(mean)
    }
}

#[cfg(test)]
mod tests {
    use rand::{Rng, SeedableRng};
    use rand_chacha::ChaCha8Rng;
    use smartcore::api::SupervisedEstimator;
    use smartcore::ensemble::random_forest_regressor::RandomForestRegressorParameters;
    use smartcore::linalg::basic::matrix::DenseMatrix;

    use super::*;

    /// Rows of small integers (so many rows sit exactly on a threshold) and of continuous values.
    fn random_matrix(n: usize, width: usize, rng: &mut ChaCha8Rng) -> FeatureMatrix {
        let data = (0..n * width)
            .map(|i| if i % width < width / 2 { f64::from(rng.gen_range(0..6u8)) } else { rng.gen_range(-3.0..3.0) })
            .collect();
        FeatureMatrix { names: (0..width).map(|j| format!("f{j}")).collect(), n_rows: n, data }
    }

    fn dense(x: &FeatureMatrix) -> DenseMatrix<f64> {
        DenseMatrix::new(x.n_rows, x.n_cols(), x.data.clone(), false).unwrap()
    }

    fn fit_parts(x: &FeatureMatrix, y: &[f64], trees: &[usize]) -> Vec<SmartcoreForest> {
        let dense = dense(x);
        trees
            .iter()
            .enumerate()
            .map(|(p, &n)| {
                let params = RandomForestRegressorParameters::default()
                    .with_n_trees(n)
                    .with_max_depth(6)
                    .with_min_samples_leaf(3)
                    .with_seed(11 + p as u64);
                SmartcoreForest::fit(&dense, &y.to_vec(), params).unwrap()
            })
            .collect()
    }

    #[test]
    fn flat_predictions_equal_smartcores_bit_for_bit() {
        let mut rng = ChaCha8Rng::seed_from_u64(3);
        let width = 6;
        let x = random_matrix(600, width, &mut rng);
        let y: Vec<f64> = (0..x.n_rows)
            .map(|i| {
                let r = x.row(i);
                let p = 1.0 / (1.0 + (-(r[0] - 2.5 + r[4])).exp());
                f64::from(u8::from(rng.gen_bool(p)))
            })
            .collect();
        // Uneven parts, as when the trees do not split evenly.
        let parts = fit_parts(&x, &y, &[4, 3, 3]);
        let flat = FlatForest::from_smartcore(&parts).unwrap();
        assert_eq!(flat.trees.len(), 10);
        assert_eq!(flat.part_starts, [0, 4, 7, 10]);

        // New rows, plus the training rows themselves (the thresholds are midpoints or values seen in
        // training, so integer columns put rows at equality), spanning several blocks.
        let mut test = random_matrix(2_500, width, &mut rng);
        test.data.extend_from_slice(&x.data);
        test.n_rows += x.n_rows;
        let expected = smartcore_mean(&parts, &test);
        let got = flat.predict(&test).unwrap();
        assert_eq!(got.len(), expected.len());
        for (i, (a, b)) in got.iter().zip(&expected).enumerate() {
            assert_eq!(a.to_bits(), b.to_bits(), "row {i}: {a} vs {b}");
        }
        // Rows exactly at each split's threshold follow smartcore's `<=` (true child).
        let at = flat.nodes.iter().filter(|n| !n.threshold.is_nan()).map(|n| (n.feature as usize, n.threshold));
        let mut edge = FeatureMatrix { names: test.names.clone(), n_rows: 0, data: Vec::new() };
        for (feature, threshold) in at {
            let mut row = test.row(edge.n_rows % test.n_rows).to_vec();
            row[feature] = threshold;
            edge.data.extend_from_slice(&row);
            edge.n_rows += 1;
        }
        assert!(edge.n_rows > 0);
        // Missing values compare false, as in smartcore: the row goes to the false child.
        for feature in 0..width {
            let mut row = test.row(feature).to_vec();
            row[feature] = f64::NAN;
            edge.data.extend_from_slice(&row);
            edge.n_rows += 1;
        }
        let single = smartcore_mean(&parts, &edge);
        for (a, b) in flat.predict(&edge).unwrap().iter().zip(&single) {
            assert_eq!(a.to_bits(), b.to_bits());
        }
    }

    fn smartcore_mean(parts: &[SmartcoreForest], x: &FeatureMatrix) -> Vec<f64> {
        let mut mean = vec![0.0; x.n_rows];
        for part in parts {
            for (m, v) in mean.iter_mut().zip(part.predict(&dense(x)).unwrap()) {
                *m += v / parts.len() as f64;
            }
        }
        mean
    }

    #[test]
    fn an_unexpected_shape_is_a_forest_error() {
        let mut rng = ChaCha8Rng::seed_from_u64(5);
        let x = random_matrix(100, 3, &mut rng);
        let unfitted = SmartcoreForest::new();
        assert!(matches!(FlatForest::from_smartcore(&[unfitted]), Err(ChurnError::Forest(_))));
        assert!(matches!(FlatForest::from_smartcore(&[]), Err(ChurnError::Forest(_))));
        let y: Vec<f64> = (0..100).map(|i| f64::from(u8::from(i % 3 == 0))).collect();
        let flat = FlatForest::from_smartcore(&fit_parts(&x, &y, &[2])).unwrap();
        let narrow = FeatureMatrix { names: vec!["a".into()], n_rows: 2, data: vec![0.0, 1.0] };
        if flat.n_features > 1 {
            assert!(matches!(flat.predict(&narrow), Err(ChurnError::Forest(_))));
        }
        let bad = serde_json::json!([{ "output": 0.5, "split_feature": 0, "split_value": 1.0, "true_child": 1, "false_child": 9 }]);
        let mut forest = FlatForest::empty();
        assert!(matches!(forest.push_tree(bad.as_array().unwrap(), "t"), Err(ChurnError::Forest(_))));
        // A child must come after its parent (no cycles).
        let cycle = serde_json::json!([
            { "output": 0.5, "split_feature": 0, "split_value": 1.0, "true_child": 1, "false_child": 2 },
            { "output": 0.5, "split_feature": 0, "split_value": 1.0, "true_child": 0, "false_child": 2 },
            { "output": 0.5, "split_feature": 0, "split_value": null, "true_child": null, "false_child": null }
        ]);
        assert!(matches!(forest.push_tree(cycle.as_array().unwrap(), "t"), Err(ChurnError::Forest(_))));
        let no_output = serde_json::json!([{ "split_feature": 0, "split_value": null, "true_child": null }]);
        assert!(matches!(forest.push_tree(no_output.as_array().unwrap(), "t"), Err(ChurnError::Forest(_))));
    }
}
