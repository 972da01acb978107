//! Predictions along paths: families of points that share one covariate
//! row and differ only in a few monotone "path" columns, such as a cohort's
//! busyness of each unit as more of it is placed in one of them.
//!
//! Each tree is walked once per path rather than once per step, and all of
//! a chunk's paths walk it together ([`Tree::segments`]): a path's steps
//! stay together down the tree except where a node splits on a path
//! column, where, the codes being monotone, the steps going one way form a
//! prefix and the rest go the other way. Each run of steps on which every
//! tree of a little bag keeps its leaf adds the sufficient statistics of the
//! local IV moment and of its little-bags variance to the path's difference
//! arrays (added at the run's first step, subtracted after its last), and
//! one prefix sum per path gives every step's statistics. The variance's
//! per-tree scores are linear in the leaf values, with coefficients known
//! only once the effect is, so the statistics hold sums of products of leaf
//! values (per tree, and of little-bag means), and the formula of
//! [`FittedForest::predict`] is evaluated on them: the results agree with
//! it up to rounding.
//!
//! [`Tree::segments`]: super::tree::Tree::segments

mod stats;
#[cfg(test)]
mod tests;
mod walker;

use ndarray::Array2;
use rayon::prelude::*;

use super::grf::{FittedForest, Prediction};
use super::tree::FIXED;
use crate::data::binning::Bins;
use crate::{Error, Result};
use walker::{Scratch, Walker};

/// A family of points sharing one covariate row and differing only in a few
/// path columns, whose values step monotonically (each column nondecreasing
/// or nonincreasing along the steps).
#[derive(Debug, Clone, Copy)]
pub struct Path<'a> {
    /// The shared covariate row, one value per feature (the path columns'
    /// entries are ignored).
    pub base: &'a [f64],
    /// The path columns' values at each step: steps × columns, row-major.
    pub values: &'a [f64],
}

/// Per-leaf means of training columns, one per leaf of every tree and
/// column: a forest-weighted mean of a column at a point is the mean, over
/// the trees whose leaf is not empty, of the column's mean in the point's
/// leaf, so along paths it costs no more than the predictions.
///
/// It holds `leaves × columns` numbers (8 bytes each) for the whole forest.
#[derive(Debug, Clone)]
pub struct LeafMeans {
    columns: usize,
    /// Tree `t`'s leaves are `starts[t]..starts[t + 1]` among all trees' leaves.
    starts: Vec<usize>,
    /// Leaf `l` of tree `t`, column `c`: `means[(starts[t] + l) * columns + c]`
    /// (NaN for an empty leaf, which no prediction reads).
    means: Vec<f64>,
}

impl LeafMeans {
    /// Number of columns.
    pub fn columns(&self) -> usize {
        self.columns
    }

    /// Column means in leaf `leaf` of tree `tree`.
    #[inline]
    fn leaf(&self, tree: usize, leaf: usize) -> &[f64] {
        let at = (self.starts[tree] + leaf) * self.columns;
        &self.means[at..at + self.columns]
    }
}

/// Predictions at every step of every path, and forest-weighted means of
/// training columns there when asked for.
#[derive(Debug, Clone, PartialEq)]
pub struct PathPredictions {
    /// Path `p`'s steps are `predictions[offsets[p]..offsets[p + 1]]`.
    pub offsets: Vec<usize>,
    /// The effect and its variance at each step, as [`FittedForest::predict`]
    /// gives them at the step's covariate row.
    pub predictions: Vec<Prediction>,
    /// The forest-weighted mean of each [`LeafMeans`] column at each step,
    /// step-major (`means[r * columns + c]` for step `r` of `predictions`);
    /// NaN where no tree has a non-empty leaf; empty without leaf means.
    pub means: Vec<f64>,
}

/// Paths per parallel task.
const CHUNK: usize = 256;
/// Rows per call when binning the path columns' distinct values.
const BLOCK: usize = 4096;

impl FittedForest {
    /// Per-leaf means of the given training columns (each with one value per
    /// training row, in the training order), so that [`predict_paths`]
    /// gives forest-weighted means of them at no extra walks.
    ///
    /// [`predict_paths`]: FittedForest::predict_paths
    pub fn leaf_means(&self, columns: &[&[f64]]) -> Result<LeafMeans> {
        let n = self.binned.rows();
        if let Some((c, column)) = columns.iter().enumerate().find(|(_, c)| c.len() != n) {
            return Err(Error::Data(format!(
                "leaf means: column {} has {} values but the forest was trained on {n} rows",
                c + 1,
                column.len()
            )));
        }
        let k = columns.len();
        let forest = &self.forest;
        let mut starts = Vec::with_capacity(forest.trees() + 1);
        starts.push(0);
        for t in 0..forest.trees() {
            starts.push(starts[t] + forest.tree(t).leaves());
        }
        let mut means = vec![f64::NAN; starts[forest.trees()] * k];
        let mut parts = Vec::with_capacity(forest.trees());
        let mut rest = means.as_mut_slice();
        for t in 0..forest.trees() {
            let (part, tail) = rest.split_at_mut(forest.tree(t).leaves() * k);
            parts.push(part);
            rest = tail;
        }
        parts.into_par_iter().enumerate().for_each(|(t, out)| {
            let tree = forest.tree(t);
            for leaf in 0..tree.leaves() {
                let members = tree.samples(leaf);
                if members.is_empty() {
                    continue;
                }
                let inv = 1.0 / members.len() as f64;
                for (c, column) in columns.iter().enumerate() {
                    let sum: f64 = members.iter().map(|&i| column[i as usize]).sum();
                    out[leaf * k + c] = sum * inv;
                }
            }
        });
        Ok(LeafMeans {
            columns: k,
            starts,
            means,
        })
    }

    /// Effects and variances (and forest-weighted means of the `means`
    /// columns, when given) at every step of every path, equal up to
    /// rounding to [`FittedForest::predict`] on the rows the steps stand
    /// for: each path's base row with the features `columns` set to the
    /// step's values. Each path column's values must be monotone along a
    /// path's steps; results do not depend on the number of threads.
    pub fn predict_paths(
        &self,
        columns: &[usize],
        paths: &[Path<'_>],
        means: Option<&LeafMeans>,
    ) -> Result<PathPredictions> {
        let p = self.bins.features();
        let slots = self.check_columns(columns, means)?;
        let k = columns.len();
        let mut offsets = Vec::with_capacity(paths.len() + 1);
        offsets.push(0);
        for (i, path) in paths.iter().enumerate() {
            if path.base.len() != p {
                return Err(Error::Data(format!(
                    "path {}: its base row has {} values but the forest was trained on {p} covariates",
                    i + 1,
                    path.base.len()
                )));
            }
            if !path.values.len().is_multiple_of(k) {
                return Err(Error::Data(format!(
                    "path {}: {} values do not fill whole steps of {k} path columns",
                    i + 1,
                    path.values.len()
                )));
            }
            let steps = path.values.len() / k;
            if steps >= u32::MAX as usize {
                return Err(Error::Data(format!(
                    "path {}: {steps} steps are too many for one path",
                    i + 1
                )));
            }
            check_monotone(i, path.values, columns)?;
            offsets.push(offsets[i] + steps);
        }
        let codes = PathBins::new(&self.bins, columns, paths)?;
        let walker = Walker {
            fitted: self,
            slots: &slots,
            codes: &codes,
            means,
        };
        let parts = paths
            .par_chunks(CHUNK)
            .map_init(Scratch::default, |scratch, chunk| {
                walker.chunk(chunk, scratch)
            })
            .collect::<Result<Vec<_>>>()?;
        let total = offsets[paths.len()];
        let mut predictions = Vec::with_capacity(total);
        let mut out_means = Vec::with_capacity(total * means.map_or(0, LeafMeans::columns));
        for (p, m) in parts {
            predictions.extend(p);
            out_means.extend(m);
        }
        Ok(PathPredictions {
            offsets,
            predictions,
            means: out_means,
        })
    }

    /// Checks the path columns (and that `means` belongs to this forest);
    /// returns each feature's index among the path columns, or [`FIXED`].
    fn check_columns(&self, columns: &[usize], means: Option<&LeafMeans>) -> Result<Vec<u32>> {
        let p = self.bins.features();
        if columns.is_empty() {
            return Err(Error::Data(
                "predict_paths needs at least one path column (use predict for single rows)".into(),
            ));
        }
        let mut slots = vec![FIXED; p];
        for (c, &j) in columns.iter().enumerate() {
            if j >= p {
                return Err(Error::Data(format!(
                    "path column {j} does not exist: the forest was trained on {p} covariates \
                     (columns are 0-based)"
                )));
            }
            if slots[j] != FIXED {
                return Err(Error::Data(format!("path column {j} is listed twice")));
            }
            slots[j] = c as u32;
        }
        if let Some(m) = means {
            let forest = &self.forest;
            let same = m.starts.len() == forest.trees() + 1
                && (0..forest.trees())
                    .all(|t| m.starts[t + 1] - m.starts[t] == forest.tree(t).leaves());
            if !same {
                return Err(Error::Data(
                    "the leaf means were computed for another forest; compute them with this \
                     forest's leaf_means"
                        .into(),
                ));
            }
        }
        Ok(slots)
    }
}

/// Fails unless each path column's values are nondecreasing or
/// nonincreasing along the steps of path `i` (NaN is neither).
fn check_monotone(i: usize, values: &[f64], columns: &[usize]) -> Result<()> {
    let k = columns.len();
    for (c, &j) in columns.iter().enumerate() {
        let column = values.iter().skip(c).step_by(k);
        let (mut up, mut down) = (true, true);
        let mut nan = false;
        let mut previous: Option<f64> = None;
        for &v in column {
            nan |= v.is_nan();
            if let Some(a) = previous {
                up &= a <= v;
                down &= a >= v;
            }
            previous = Some(v);
        }
        if nan || !(up || down) {
            return Err(Error::Data(format!(
                "path {}: the values of path column {j} are not monotone along its steps{}; \
                 each path column must be nondecreasing or nonincreasing",
                i + 1,
                if nan { " (one is NaN)" } else { "" }
            )));
        }
    }
    Ok(())
}

/// The bin codes of the path columns' values: each column's distinct
/// values, sorted, with their codes (binned once, however many paths share them).
struct PathBins {
    values: Vec<Vec<f64>>,
    codes: Vec<Vec<u8>>,
}

impl PathBins {
    fn new(bins: &Bins, columns: &[usize], paths: &[Path<'_>]) -> Result<PathBins> {
        let k = columns.len();
        let values: Vec<Vec<f64>> = (0..k)
            .map(|c| {
                let mut v: Vec<f64> = paths
                    .iter()
                    .flat_map(|path| path.values.iter().skip(c).step_by(k).copied())
                    .collect();
                v.sort_unstable_by(f64::total_cmp);
                v.dedup_by(|a, b| a.total_cmp(b).is_eq());
                v
            })
            .collect();
        let rows = values.iter().map(Vec::len).max().unwrap_or(0);
        let mut codes: Vec<Vec<u8>> = values.iter().map(|v| Vec::with_capacity(v.len())).collect();
        for start in (0..rows).step_by(BLOCK) {
            let end = (start + BLOCK).min(rows);
            let mut x = Array2::zeros((end - start, bins.features()));
            for (v, &j) in values.iter().zip(columns) {
                for r in start..end.min(v.len()) {
                    x[[r - start, j]] = v[r];
                }
            }
            let binned = bins.transform(x.view())?;
            for ((v, out), &j) in values.iter().zip(&mut codes).zip(columns) {
                out.extend((start..end.min(v.len())).map(|r| binned.code(r - start, j)));
            }
        }
        Ok(PathBins { values, codes })
    }

    /// The code of value `v` of path column `c` (one of the values binned).
    #[inline]
    fn code(&self, c: usize, v: f64) -> u8 {
        let values = &self.values[c];
        self.codes[c][values.partition_point(|d| d.total_cmp(&v).is_lt())]
    }
}
