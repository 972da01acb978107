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

use ndarray::{Array2, ArrayView1};
use rayon::prelude::*;

use super::binning::Bins;
use super::ensemble::bag_variance;
use super::grf::{FittedForest, IvSolution, Prediction};
use super::tree::{PathBatch, Segment, Walks, FIXED};
use crate::{Error, Result};

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

/// Numbers per leaf of an instrumental forest: means of y, w, z, yz, wz.
const WIDTH: usize = 5;
/// The upper triangle of a symmetric `WIDTH × WIDTH` matrix, packed row by row.
const PAIRS: usize = WIDTH * (WIDTH + 1) / 2;

// The statistics summed over each step's trees, in order.
/// Little bags all of whose trees have a filled leaf ("good" bags).
const GOOD: usize = 0;
/// Leaf values summed over the good bags' trees.
const TREE_SUM: usize = GOOD + 1;
/// Deviations of leaf values from the path's center (a typical leaf's
/// values) summed over the good bags' trees: the variance's scores are
/// formed from sums of products of deviations, which lose less to rounding
/// than those of the values, whose large common part the formula would cancel.
const DEV_SUM: usize = TREE_SUM + WIDTH;
/// Products of deviations (packed pairs) summed over the good bags' trees.
const TREE_PROD: usize = DEV_SUM + WIDTH;
/// Products of bag means of deviations (packed pairs) summed over the good bags.
const BAG_PROD: usize = TREE_PROD + PAIRS;
/// Trees with a filled leaf outside good bags (all of them without little bags).
const LONE: usize = BAG_PROD + PAIRS;
/// Their leaf values, summed.
const LONE_SUM: usize = LONE + 1;
/// Where the column means' sums start.
const MEANS: usize = LONE_SUM + WIDTH;

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

/// One tree's walk of a chunk's paths.
#[derive(Debug, Default)]
struct Walked {
    /// The runs of steps that share a leaf, path after path.
    runs: Vec<Segment>,
    /// Where each path's runs lie in `runs`.
    ranges: Vec<(u32, u32)>,
    /// Each run's leaf values (NaN for an empty leaf), gathered in one pass
    /// so that the leaves' cache misses overlap.
    values: Vec<[f64; WIDTH]>,
    /// Each run's leaf means of the columns, gathered likewise (run after run).
    means: Vec<f64>,
}

/// Buffers a worker reuses across its chunks of paths.
#[derive(Debug, Default)]
struct Scratch {
    walks: Walks,
    /// The walks of one little bag's trees.
    walked: Vec<Walked>,
    /// Each tree's current run while merging a bag's runs.
    pos: Vec<usize>,
    /// The chunk's path codes, path after path (column-major within a path).
    codes: Vec<u8>,
    /// The chunk's base rows' codes, feature after feature.
    base: Vec<u8>,
    /// The chunk's difference arrays, path after path (step-major within a path).
    stats: Vec<f64>,
    /// Where each path of the chunk starts in `codes` and `stats`, in steps.
    starts: Vec<usize>,
    /// The running sums of one path.
    running: Vec<f64>,
    /// Each path's reference leaf values, subtracted from all its leaf
    /// values before they are summed (see [`Walker::walk`]).
    centers: Vec<[f64; WIDTH]>,
}

/// What every chunk of paths shares.
struct Walker<'a> {
    fitted: &'a FittedForest,
    /// Each feature's index among the path columns, or [`FIXED`].
    slots: &'a [u32],
    codes: &'a PathBins,
    means: Option<&'a LeafMeans>,
}

impl Walker<'_> {
    /// Predictions (and column means) at every step of a chunk of paths:
    /// little bag after little bag, each tree walks all the chunk's paths
    /// at once (so its nodes and leaves stay in cache), then each path's
    /// runs in the bag are added to its difference arrays.
    fn chunk(
        &self,
        chunk: &[Path<'_>],
        scratch: &mut Scratch,
    ) -> Result<(Vec<Prediction>, Vec<f64>)> {
        let forest = &self.fitted.forest;
        let p = self.fitted.bins.features();
        let k = self.codes.values.len();
        let m = self.means.map_or(0, LeafMeans::columns);
        let ns = MEANS + m;
        let mut x = Array2::zeros((chunk.len(), p));
        for (r, path) in chunk.iter().enumerate() {
            x.row_mut(r).assign(&ArrayView1::from(path.base));
        }
        let base = self.fitted.bins.transform(x.view())?;
        let Scratch {
            walks,
            walked,
            pos,
            codes,
            base: base_codes,
            stats,
            starts,
            running,
            centers,
        } = scratch;
        codes.clear();
        starts.clear();
        starts.push(0);
        for path in chunk {
            let steps = path.values.len() / k;
            for c in 0..k {
                codes.extend(
                    path.values
                        .iter()
                        .skip(c)
                        .step_by(k)
                        .map(|&v| self.codes.code(c, v)),
                );
            }
            starts.push(starts[starts.len() - 1] + steps);
        }
        base_codes.clear();
        for f in 0..p {
            base_codes.extend((0..chunk.len()).map(|r| base.code(r, f)));
        }
        let batch = PathBatch {
            base: base_codes,
            slots: self.slots,
            columns: k,
            codes,
            starts,
        };
        let total = starts[chunk.len()];
        stats.clear();
        stats.resize(total * ns, 0.0);
        let group = forest.group_size();
        walked.resize_with(group, Walked::default);
        for bag in 0..forest.trees() / group {
            for (i, walk) in walked.iter_mut().enumerate() {
                self.walk(bag * group + i, &batch, walks, walk, centers);
            }
            for r in 0..chunk.len() {
                let (start, end) = (starts[r], starts[r + 1]);
                let stats = &mut stats[start * ns..end * ns];
                add_runs(walked, r, &centers[r], stats, ns, m, pos);
            }
        }
        let mut predictions = Vec::with_capacity(total);
        let mut out_means = Vec::with_capacity(total * m);
        for r in 0..chunk.len() {
            running.clear();
            running.resize(ns, 0.0);
            for step in stats[starts[r] * ns..starts[r + 1] * ns].chunks_exact(ns) {
                for (a, d) in running.iter_mut().zip(step) {
                    *a += d;
                }
                predictions.push(evaluate(running, group, &centers[r]));
                let count = running[GOOD] * group as f64 + running[LONE];
                out_means.extend(running[MEANS..].iter().map(|s| {
                    if count > 0.0 {
                        s / count
                    } else {
                        f64::NAN
                    }
                }));
            }
        }
        Ok((predictions, out_means))
    }

    /// Walks tree `t` along every path of a chunk, and gathers the leaves'
    /// values and column means. The first tree sets each path's center:
    /// its leaf values at the first step (see [`DEV_SUM`]).
    fn walk(
        &self,
        t: usize,
        batch: &PathBatch<'_>,
        walks: &mut Walks,
        walk: &mut Walked,
        centers: &mut Vec<[f64; WIDTH]>,
    ) {
        let tree = self.fitted.forest.tree(t);
        walk.runs.clear();
        tree.segments(batch, walks, &mut walk.runs, &mut walk.ranges);
        if t == 0 {
            centers.clear();
            centers.extend(walk.ranges.iter().map(|&(from, to)| {
                let mut c = [0.0; WIDTH];
                if let Some(s) = walk.runs[from as usize..to as usize]
                    .first()
                    .filter(|s| s.filled)
                {
                    c.copy_from_slice(tree.filled_values(s.leaf as usize, WIDTH));
                }
                c
            }));
        }
        walk.values.clear();
        walk.values.extend(walk.runs.iter().map(|s| {
            let mut v = [f64::NAN; WIDTH];
            if s.filled {
                v.copy_from_slice(tree.filled_values(s.leaf as usize, WIDTH));
            }
            v
        }));
        walk.means.clear();
        if let Some(means) = self.means {
            for s in &walk.runs {
                walk.means.extend_from_slice(means.leaf(t, s.leaf as usize));
            }
        }
    }
}

/// Adds path `r`'s runs in the walks of one little bag's trees to its
/// difference arrays `stats` (`ns` numbers a step): the bag's statistics
/// (see [`bags`]), or each filled leaf's `[1, values]` without little bags,
/// and the `m` columns' leaf means.
fn add_runs(
    bag: &[Walked],
    r: usize,
    center: &[f64; WIDTH],
    stats: &mut [f64],
    ns: usize,
    m: usize,
    pos: &mut Vec<usize>,
) {
    let steps = stats.len() / ns;
    let group = bag.len();
    if group == 1 || m > 0 {
        let mut lone = [1.0; 1 + WIDTH];
        for walk in bag {
            let (from, to) = walk.ranges[r];
            for run in from as usize..to as usize {
                let s = walk.runs[run];
                if !s.filled {
                    continue;
                }
                if group == 1 {
                    lone[1..].copy_from_slice(&walk.values[run]);
                    spread(stats, ns, s.lo, s.hi, LONE, &lone);
                }
                if m > 0 {
                    let row = &walk.means[run * m..(run + 1) * m];
                    spread(stats, ns, s.lo, s.hi, MEANS, row);
                }
            }
        }
    }
    if group >= 2 && steps > 0 {
        bags(r, steps, bag, center, pos, |lo, hi, at, sums| {
            spread(stats, ns, lo, hi, at, sums)
        });
    }
}

/// Merges path `r`'s runs in the walks of one little bag's trees into runs
/// of steps on which every tree keeps its leaf, and hands `add` each run's
/// statistics with where they go: for a good bag (all leaves filled) `[1,
/// sums, sums of deviations from center, their products, products of their
/// bag mean]` at [`GOOD`], otherwise the filled trees' `[count, sums]` at [`LONE`].
fn bags(
    r: usize,
    steps: usize,
    walked: &[Walked],
    center: &[f64; WIDTH],
    pos: &mut Vec<usize>,
    mut add: impl FnMut(u32, u32, usize, &[f64]),
) {
    let inv = 1.0 / walked.len() as f64;
    pos.clear();
    pos.extend(walked.iter().map(|w| w.ranges[r].0 as usize));
    let mut sums = [0.0; LONE - GOOD];
    let mut lone = [0.0; 1 + WIDTH];
    let mut lo = 0u32;
    while (lo as usize) < steps {
        let mut hi = u32::MAX;
        let mut good = true;
        for (w, &i) in walked.iter().zip(pos.iter()) {
            hi = hi.min(w.runs[i].hi);
            good &= w.runs[i].filled;
        }
        if good {
            sums.fill(0.0);
            sums[0] = 1.0;
            let mut mean = [0.0; WIDTH];
            for (w, &i) in walked.iter().zip(pos.iter()) {
                let v = &w.values[i];
                let mut dev = [0.0; WIDTH];
                for a in 0..WIDTH {
                    dev[a] = v[a] - center[a];
                    sums[TREE_SUM - GOOD + a] += v[a];
                    sums[DEV_SUM - GOOD + a] += dev[a];
                    mean[a] += dev[a];
                }
                add_products(&mut sums[TREE_PROD - GOOD..BAG_PROD - GOOD], &dev);
            }
            for a in &mut mean {
                *a *= inv;
            }
            add_products(&mut sums[BAG_PROD - GOOD..], &mean);
            add(lo, hi, GOOD, &sums);
        } else {
            lone.fill(0.0);
            for (w, &i) in walked.iter().zip(pos.iter()) {
                if w.runs[i].filled {
                    lone[0] += 1.0;
                    for (l, v) in lone[1..].iter_mut().zip(&w.values[i]) {
                        *l += v;
                    }
                }
            }
            if lone[0] > 0.0 {
                add(lo, hi, LONE, &lone);
            }
        }
        for (w, i) in walked.iter().zip(pos.iter_mut()) {
            if w.runs[*i].hi == hi {
                *i += 1;
            }
        }
        lo = hi;
    }
}

/// Adds `values` to the statistics from step `lo` on and removes them from
/// step `hi` on (a difference array over one path's steps, `ns` numbers a step).
#[inline]
fn spread(stats: &mut [f64], ns: usize, lo: u32, hi: u32, at: usize, values: &[f64]) {
    let start = lo as usize * ns + at;
    for (s, v) in stats[start..start + values.len()].iter_mut().zip(values) {
        *s += v;
    }
    let end = hi as usize * ns + at;
    if end < stats.len() {
        for (s, v) in stats[end..end + values.len()].iter_mut().zip(values) {
            *s -= v;
        }
    }
}

/// Adds the products `v_a v_b` (`a <= b`, packed row by row) to `out`.
#[inline]
fn add_products(out: &mut [f64], v: &[f64]) {
    let mut k = 0;
    for a in 0..WIDTH {
        for b in a..WIDTH {
            out[k] += v[a] * v[b];
            k += 1;
        }
    }
}

/// `a' M b` for the symmetric matrix of second moments of `(v, 1)`:
/// products `prod` (packed), sums `sum`, and `count` in the corner.
fn form(prod: &[f64], sum: &[f64], count: f64, a: &[f64; WIDTH + 1], b: &[f64; WIDTH + 1]) -> f64 {
    let mut total = a[WIDTH] * b[WIDTH] * count;
    let mut k = 0;
    for i in 0..WIDTH {
        total += (a[i] * b[WIDTH] + a[WIDTH] * b[i]) * sum[i];
        for j in i..WIDTH {
            let weight = if i == j {
                a[i] * b[i]
            } else {
                a[i] * b[j] + a[j] * b[i]
            };
            total += weight * prod[k];
            k += 1;
        }
    }
    total
}

/// The effect and its little-bags variance from one step's statistics (with
/// deviations from `center`), by the formula of `predict` (the IV moment,
/// grf's scores, [`bag_variance`]).
fn evaluate(stats: &[f64], group: usize, center: &[f64; WIDTH]) -> Prediction {
    let good = stats[GOOD];
    let in_bags = good * group as f64;
    let count = in_bags + stats[LONE];
    if count == 0.0 {
        return Prediction {
            tau: f64::NAN,
            variance: f64::NAN,
        };
    }
    let inv = 1.0 / count;
    let mut avg = [0.0; WIDTH];
    let sums = stats[TREE_SUM..TREE_SUM + WIDTH]
        .iter()
        .zip(&stats[LONE_SUM..LONE_SUM + WIDTH]);
    for (a, (s, l)) in avg.iter_mut().zip(sums) {
        *a = (s + l) * inv;
    }
    let iv = IvSolution::new(&avg);
    if group < 2 || good == 0.0 {
        return Prediction {
            tau: iv.tau,
            variance: f64::NAN,
        };
    }
    // The scores [yz - wz tau - z main, y - w tau - main] as linear forms
    // in (v - center, 1).
    let mut scores = [
        [0.0, 0.0, -iv.main, 1.0, -iv.tau, 0.0],
        [1.0, -iv.tau, 0.0, 0.0, 0.0, -iv.main],
    ];
    for score in &mut scores {
        score[WIDTH] += (0..WIDTH).map(|a| score[a] * center[a]).sum::<f64>();
    }
    let moments = |sum: &[f64], prod: &[f64], n: f64| {
        let cross = form(prod, sum, n, &scores[0], &scores[1]) / n;
        [
            [form(prod, sum, n, &scores[0], &scores[0]) / n, cross],
            [cross, form(prod, sum, n, &scores[1], &scores[1]) / n],
        ]
    };
    let dev_sum = &stats[DEV_SUM..DEV_SUM + WIDTH];
    // The bag means summed over good bags are the good bags' trees' sums over the bag size.
    let mut bag_sum = [0.0; WIDTH];
    for (b, s) in bag_sum.iter_mut().zip(dev_sum) {
        *b = s / group as f64;
    }
    let total = moments(dev_sum, &stats[TREE_PROD..TREE_PROD + PAIRS], in_bags);
    let between = moments(&bag_sum, &stats[BAG_PROD..BAG_PROD + PAIRS], good);
    Prediction {
        tau: iv.tau,
        variance: bag_variance(
            iv.variance_form(&between),
            iv.variance_form(&total),
            group,
            good,
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::estimate::forest::ForestParams;
    use ndarray::Array2;
    use rand::{Rng, SeedableRng};
    use rand_chacha::ChaCha8Rng;

    /// Covariates: two continuous, one discrete, and two "busyness" counts
    /// (columns 3 and 4); a binary instrument, treatment and outcome whose
    /// effect depends on the counts.
    fn world(n: usize, seed: u64) -> (Array2<f64>, Vec<f64>, Vec<f64>, Vec<f64>) {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let x = Array2::from_shape_fn((n, 5), |(_, j)| match j {
            0 | 1 => rng.random_range(-1.0..1.0),
            2 => f64::from(rng.random_range(0..4u8)),
            _ => f64::from(rng.random_range(0..40u8)),
        });
        let mut y = Vec::with_capacity(n);
        let mut w = Vec::with_capacity(n);
        let mut z = Vec::with_capacity(n);
        for i in 0..n {
            let zi = f64::from(u8::from(rng.random_bool(0.5)));
            let pw = 0.2 + 0.5 * zi + 0.1 * x[[i, 0]].signum() * 0.5;
            let wi = f64::from(u8::from(rng.random_bool(pw.clamp(0.05, 0.95))));
            let tau = 0.3 * (x[[i, 3]] - x[[i, 4]]) / 40.0 + 0.2 * x[[i, 1]];
            let py = 0.4 + tau * wi + 0.1 * x[[i, 2]] / 4.0;
            let yi = f64::from(u8::from(rng.random_bool(py.clamp(0.02, 0.98))));
            y.push(yi);
            w.push(wi);
            z.push(zi);
        }
        (x, y, w, z)
    }

    fn params(group: usize, prune: bool) -> ForestParams {
        ForestParams {
            num_trees: 200,
            ci_group_size: group,
            honesty_prune_leaves: prune,
            nuisance_trees: Some(50),
            ..Default::default()
        }
    }

    /// Random paths over columns 3 (nonincreasing) and 4 (nondecreasing):
    /// 1 to 40 steps, some values repeating, some beyond the training range.
    fn paths(x: &Array2<f64>, count: usize, seed: u64) -> (Vec<Vec<f64>>, Vec<Vec<f64>>) {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let (mut bases, mut values) = (Vec::new(), Vec::new());
        for _ in 0..count {
            let mut base = x.row(rng.random_range(0..x.nrows())).to_vec();
            base[0] += rng.random_range(-0.05..0.05);
            let steps = if rng.random_bool(0.1) {
                1
            } else {
                rng.random_range(1..=40)
            };
            let (mut s, mut im) = (rng.random_range(0.0..60.0), rng.random_range(-5.0..30.0));
            let mut v = Vec::with_capacity(2 * steps);
            for _ in 0..steps {
                v.extend([s, im]);
                match rng.random_range(0..4) {
                    0 => {}
                    1 => im += rng.random_range(0.0..3.0),
                    _ => {
                        s -= 1.0;
                        im += 1.0;
                    }
                }
                if rng.random_bool(0.2) {
                    s -= rng.random_range(0.0..2.0);
                }
            }
            bases.push(base);
            values.push(v);
        }
        (bases, values)
    }

    /// The rows the paths' steps stand for.
    fn materialize(bases: &[Vec<f64>], values: &[Vec<f64>]) -> Array2<f64> {
        let rows: usize = values.iter().map(|v| v.len() / 2).sum();
        let mut x = Array2::zeros((rows, bases[0].len()));
        let mut r = 0;
        for (base, v) in bases.iter().zip(values) {
            for step in v.chunks_exact(2) {
                for (j, &b) in base.iter().enumerate() {
                    x[[r, j]] = b;
                }
                x[[r, 3]] = step[0];
                x[[r, 4]] = step[1];
                r += 1;
            }
        }
        x
    }

    fn close(a: f64, b: f64) -> bool {
        (a.is_nan() && b.is_nan()) || (a - b).abs() <= 1e-9 * a.abs().max(1.0)
    }

    fn as_paths<'a>(bases: &'a [Vec<f64>], values: &'a [Vec<f64>]) -> Vec<Path<'a>> {
        bases
            .iter()
            .zip(values)
            .map(|(base, values)| Path { base, values })
            .collect()
    }

    /// How many runs of steps sharing a leaf the paths' walks give over all
    /// trees, and how many of those leaves are empty; checks that the runs
    /// of each walk tile the path's steps in order, and that walking many
    /// paths at once gives each the runs it gets alone.
    fn segments(fitted: &FittedForest, bases: &[Vec<f64>], values: &[Vec<f64>]) -> (usize, usize) {
        let bins = PathBins::new(&fitted.bins, &[3, 4], &as_paths(bases, values)).expect("bins");
        let x = Array2::from_shape_fn((bases.len(), 5), |(r, j)| bases[r][j]);
        let base = fitted.bins.transform(x.view()).expect("codes");
        let n = bases.len();
        let base: Vec<u8> = (0..5 * n).map(|i| base.code(i % n, i / n)).collect();
        let mut codes: Vec<u8> = Vec::new();
        let mut starts = vec![0];
        for v in values {
            codes.extend(v.iter().step_by(2).map(|&a| bins.code(0, a)));
            codes.extend(v.iter().skip(1).step_by(2).map(|&a| bins.code(1, a)));
            starts.push(starts[starts.len() - 1] + v.len() / 2);
        }
        let slots = [FIXED, FIXED, FIXED, 0, 1];
        let batch = PathBatch {
            base: &base,
            slots: &slots,
            columns: 2,
            codes: &codes,
            starts: &starts,
        };
        let mut walks = Walks::default();
        let (mut out, mut ranges) = (Vec::new(), Vec::new());
        let (mut alone, mut one) = (Vec::new(), Vec::new());
        let (mut runs, mut empty) = (0, 0);
        for t in 0..fitted.forest.trees() {
            let tree = fitted.forest.tree(t);
            out.clear();
            tree.segments(&batch, &mut walks, &mut out, &mut ranges);
            for r in 0..bases.len() {
                let steps = starts[r + 1] - starts[r];
                let walk = &out[ranges[r].0 as usize..ranges[r].1 as usize];
                assert_eq!(walk[0].lo, 0);
                assert_eq!(walk[walk.len() - 1].hi as usize, steps);
                assert!(walk.windows(2).all(|s| s[0].hi == s[1].lo));
                assert!(walk.iter().all(|s| s.lo < s.hi));
                assert!(walk
                    .iter()
                    .all(|s| s.filled == tree.values(s.leaf as usize, WIDTH).is_some()));
                // Walked alone, the path meets the same leaves.
                let row: Vec<u8> = (0..5).map(|f| base[f * n + r]).collect();
                let single = PathBatch {
                    base: &row,
                    codes: &codes[starts[r] * 2..starts[r + 1] * 2],
                    starts: &[0, steps],
                    ..batch
                };
                alone.clear();
                tree.segments(&single, &mut walks, &mut alone, &mut one);
                assert_eq!(walk, &alone[..]);
                runs += walk.len();
                empty += walk.iter().filter(|s| !s.filled).count();
            }
        }
        (runs, empty)
    }

    /// Checks `predict_paths` against `predict` on the materialized rows.
    fn agrees(fitted: &FittedForest, bases: &[Vec<f64>], values: &[Vec<f64>]) -> usize {
        let x = materialize(bases, values);
        let expected = fitted.predict(x.view()).expect("predict");
        let paths = as_paths(bases, values);
        let got = fitted.predict_paths(&[3, 4], &paths, None).expect("paths");
        assert_eq!(got.offsets.len(), paths.len() + 1);
        assert_eq!(got.offsets[paths.len()], expected.len());
        assert!(got.means.is_empty());
        for (r, (e, g)) in expected.iter().zip(&got.predictions).enumerate() {
            assert!(close(e.tau, g.tau), "row {r}: tau {} vs {}", e.tau, g.tau);
            assert!(
                close(e.variance, g.variance),
                "row {r}: variance {} vs {}",
                e.variance,
                g.variance
            );
        }
        expected.iter().filter(|p| p.variance.is_nan()).count()
    }

    #[test]
    fn instrumental_paths_match_predict_on_materialized_rows() {
        let (x, y, w, z) = world(3000, 1);
        let fitted = FittedForest::fit(x.view(), &y, &w, &z, &params(2, true), 7).expect("fit");
        let (bases, values) = paths(&x, 150, 2);
        assert!(values.iter().any(|v| v.len() == 2));
        // The trees split on the path columns: walks break into several runs.
        let (runs, empty) = segments(&fitted, &bases, &values);
        assert!(runs > 2 * 150 * fitted.trees(), "{runs} runs");
        assert_eq!(empty, 0);
        assert_eq!(agrees(&fitted, &bases, &values), 0);
    }

    #[test]
    fn empty_leaves_and_no_little_bags_match_predict() {
        let (x, y, w, z) = world(1500, 3);
        // Unpruned honest trees have empty leaves: trees and bags drop out per step.
        let tiny = ForestParams {
            min_node_size: 1,
            ..params(4, false)
        };
        let fitted = FittedForest::fit(x.view(), &y, &w, &z, &tiny, 8).expect("fit");
        let (bases, values) = paths(&x, 60, 4);
        let (runs, empty) = segments(&fitted, &bases, &values);
        assert!(
            empty > 0 && empty < runs,
            "{empty} of {runs} runs in empty leaves"
        );
        agrees(&fitted, &bases, &values);
        // Without little bags every variance is NaN.
        let fitted = FittedForest::fit(x.view(), &y, &w, &z, &params(1, true), 9).expect("fit");
        let nan = agrees(&fitted, &bases, &values);
        assert_eq!(nan, values.iter().map(|v| v.len() / 2).sum::<usize>());
    }

    #[test]
    fn causal_paths_match_predict() {
        let (x, y, w, _) = world(2000, 5);
        let fitted = FittedForest::fit(x.view(), &y, &w, &w, &params(2, true), 10).expect("fit");
        let (bases, values) = paths(&x, 80, 6);
        assert_eq!(agrees(&fitted, &bases, &values), 0);
    }

    #[test]
    fn weighted_means_match_forest_weights() {
        let (x, y, w, z) = world(1500, 11);
        let fitted = FittedForest::fit(x.view(), &y, &w, &z, &params(2, true), 12).expect("fit");
        let cell: Vec<f64> = y.iter().zip(&z).map(|(a, b)| a * b).collect();
        let column: Vec<f64> = (0..y.len()).map(|i| x[[i, 1]]).collect();
        let columns: [&[f64]; 3] = [&y, &cell, &column];
        let leaf_means = fitted.leaf_means(&columns).expect("leaf means");
        assert_eq!(leaf_means.columns(), 3);
        let (bases, values) = paths(&x, 25, 13);
        let paths = as_paths(&bases, &values);
        let got = fitted
            .predict_paths(&[3, 4], &paths, Some(&leaf_means))
            .expect("paths");
        let rows = materialize(&bases, &values);
        assert_eq!(got.means.len(), rows.nrows() * 3);
        for (r, row) in rows.outer_iter().enumerate() {
            let weights = fitted
                .weights(row.as_slice().expect("row"))
                .expect("weights");
            for (c, column) in columns.iter().enumerate() {
                let expected: f64 = weights.iter().map(|&(i, a)| a * column[i]).sum();
                let mean = got.means[r * 3 + c];
                assert!(
                    close(expected, mean),
                    "row {r} column {c}: {expected} vs {mean}"
                );
            }
        }
        assert!(fitted.leaf_means(&[&y[1..]]).is_err());
    }

    #[test]
    fn results_do_not_depend_on_threads() {
        let (x, y, w, z) = world(1500, 14);
        let fitted = FittedForest::fit(x.view(), &y, &w, &z, &params(2, true), 15).expect("fit");
        let (bases, values) = paths(&x, 100, 16);
        let paths = as_paths(&bases, &values);
        let leaf_means = fitted.leaf_means(&[&y]).expect("leaf means");
        let run = || {
            fitted
                .predict_paths(&[3, 4], &paths, Some(&leaf_means))
                .expect("paths")
        };
        let many = run();
        let one = rayon::ThreadPoolBuilder::new()
            .num_threads(1)
            .build()
            .expect("pool")
            .install(run);
        let bits = |p: &PathPredictions| -> Vec<u64> {
            p.predictions
                .iter()
                .flat_map(|q| [q.tau.to_bits(), q.variance.to_bits()])
                .chain(p.means.iter().map(|m| m.to_bits()))
                .collect()
        };
        assert_eq!(bits(&many), bits(&one));
    }

    #[test]
    fn bad_paths_are_errors() {
        let (x, y, w, z) = world(800, 17);
        let fitted = FittedForest::fit(x.view(), &y, &w, &z, &params(2, true), 18).expect("fit");
        let base = x.row(0).to_vec();
        let run = |columns: &[usize], values: &[f64]| {
            let path = Path {
                base: &base,
                values,
            };
            fitted.predict_paths(columns, &[path], None)
        };
        let message = |r: Result<PathPredictions>| match r {
            Err(Error::Data(m)) => m,
            other => panic!("expected a data error, got {other:?}"),
        };
        // Column 4 goes up then down.
        let m = message(run(&[3, 4], &[5.0, 1.0, 4.0, 2.0, 3.0, 1.5]));
        assert!(m.contains("not monotone") && m.contains("column 4"), "{m}");
        assert!(message(run(&[3], &[1.0, f64::NAN])).contains("not monotone"));
        assert!(message(run(&[3], &[f64::NAN])).contains("not monotone"));
        assert!(message(run(&[3, 4], &[1.0, 2.0, 3.0])).contains("whole steps"));
        assert!(message(run(&[], &[])).contains("at least one"));
        assert!(message(run(&[3, 3], &[1.0, 1.0])).contains("twice"));
        assert!(message(run(&[9], &[1.0])).contains("does not exist"));
        let short = Path {
            base: &base[1..],
            values: &[1.0],
        };
        assert!(fitted.predict_paths(&[3], &[short], None).is_err());
        // Leaf means of another forest.
        let other = FittedForest::fit(x.view(), &y, &w, &z, &params(2, true), 19).expect("fit");
        let foreign = other.leaf_means(&[&y]).expect("leaf means");
        let path = Path {
            base: &base,
            values: &[1.0],
        };
        assert!(fitted.predict_paths(&[3], &[path], Some(&foreign)).is_err());
        // Constant, decreasing and empty paths are fine.
        let ok = run(&[3, 4], &[2.0, 2.0, 2.0, 2.0, 1.0, 2.0]).expect("monotone");
        assert_eq!(ok.predictions.len(), 3);
        assert_eq!(run(&[3], &[]).expect("empty").predictions.len(), 0);
    }
}
