//! One chunk of paths at a time: each tree of a little bag walks all the
//! chunk's paths, the bag's runs go into each path's difference arrays, and
//! a running sum along each path gives every step's prediction.

use ndarray::{Array2, ArrayView1};

use super::stats::{
    add_products, evaluate, spread, BAG_PROD, DEV_SUM, GOOD, LONE, MEANS, TREE_PROD, TREE_SUM,
    WIDTH,
};
use super::{LeafMeans, Path, PathBins};
use crate::estimate::forest::grf::{FittedForest, Prediction};
use crate::estimate::forest::tree::{PathBatch, Segment, Walks};
use crate::Result;

/// One tree's walk of a chunk's paths.
#[derive(Debug, Default)]
pub struct Walked {
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
pub struct Scratch {
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
pub struct Walker<'a> {
    /// The forest the paths walk.
    pub fitted: &'a FittedForest,
    /// Each feature's index among the path columns, or [`FIXED`].
    ///
    /// [`FIXED`]: crate::estimate::forest::tree::FIXED
    pub slots: &'a [u32],
    /// The bin codes of the path columns' values.
    pub codes: &'a PathBins,
    /// Leaf means of training columns to average along the paths, if asked for.
    pub means: Option<&'a LeafMeans>,
}

impl Walker<'_> {
    /// Predictions (and column means) at every step of a chunk of paths:
    /// little bag after little bag, each tree walks all the chunk's paths
    /// at once (so its nodes and leaves stay in cache), then each path's
    /// runs in the bag are added to its difference arrays.
    pub fn chunk(
        &self,
        chunk: &[Path<'_>],
        scratch: &mut Scratch,
    ) -> Result<(Vec<Prediction>, Vec<f64>)> {
        let forest = &self.fitted.forest;
        let k = self.codes.values.len();
        let m = self.means.map_or(0, LeafMeans::columns);
        let ns = MEANS + m;
        self.encode(chunk, scratch)?;
        let Scratch {
            walks,
            walked,
            pos,
            codes,
            base,
            stats,
            starts,
            running,
            centers,
        } = scratch;
        let batch = PathBatch {
            base,
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
        Ok(read_out(stats, starts, ns, group, centers, running))
    }

    /// Bins the chunk's base rows (into `scratch.base`, feature after
    /// feature) and path columns (into `scratch.codes`, path after path),
    /// and records where each path's steps start.
    fn encode(&self, chunk: &[Path<'_>], scratch: &mut Scratch) -> Result<()> {
        let p = self.fitted.bins.features();
        let k = self.codes.values.len();
        let mut x = Array2::zeros((chunk.len(), p));
        for (r, path) in chunk.iter().enumerate() {
            x.row_mut(r).assign(&ArrayView1::from(path.base));
        }
        let base = self.fitted.bins.transform(x.view())?;
        let Scratch {
            codes,
            base: base_codes,
            starts,
            ..
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
        Ok(())
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

/// Turns each path's difference arrays (`ns` numbers a step) into every
/// step's prediction and column means, by a running sum along the path.
fn read_out(
    stats: &[f64],
    starts: &[usize],
    ns: usize,
    group: usize,
    centers: &[[f64; WIDTH]],
    running: &mut Vec<f64>,
) -> (Vec<Prediction>, Vec<f64>) {
    let paths = starts.len() - 1;
    let total = starts[paths];
    let mut predictions = Vec::with_capacity(total);
    let mut out_means = Vec::with_capacity(total * (ns - MEANS));
    for r in 0..paths {
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
    (predictions, out_means)
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
