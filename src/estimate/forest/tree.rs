//! One honest tree, grown on bin codes with per-node histograms.
//!
//! The split search follows grf: at each node the targets are relabeled
//! (regression: the outcome itself; instrumental: the IV pseudo-outcome
//! `(z - z̄)((y - ȳ) - τ̂ (w - w̄))`, with `τ̂` the node's own IV estimate), a
//! Poisson(mtry) number of features is drawn, and the split maximizing
//! `S_L²/n_L + S_R²/n_R` (minus the imbalance penalty) is taken, subject to
//! grf's child-size rules. The split half of the tree's sample grows it; the
//! other half populates the leaves (honesty), and leaves left empty by that
//! half are pruned away.

use rand::Rng;
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, Poisson};

use super::binning::{Binned, MAX_BINS};

/// What the tree's splits optimize.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rule {
    /// Regression on the outcome `y` (leaf value: mean of `y`).
    Regression,
    /// Heterogeneity of the IV effect of `w` on `y` with instrument `z` (for
    /// a causal forest `z = w`); leaf values: means of y, w, z, yz, wz.
    Instrumental,
}

impl Rule {
    /// How many numbers a leaf stores.
    pub fn width(self) -> usize {
        match self {
            Rule::Regression => 1,
            Rule::Instrumental => 5,
        }
    }
}

/// Per-sample values the trees split on and average in leaves.
#[derive(Debug, Clone, Copy)]
pub struct Targets<'a> {
    /// Outcome (centered for causal and instrumental forests).
    pub y: &'a [f64],
    /// Treatment (centered); empty for regression.
    pub w: &'a [f64],
    /// Instrument (centered); empty for regression.
    pub z: &'a [f64],
}

/// Settings that shape one tree.
#[derive(Debug, Clone, Copy)]
pub struct TreeSettings {
    /// Mean number of features tried per split (the count is Poisson).
    pub mtry: usize,
    /// Nodes with at most this many samples are not split.
    pub min_node_size: usize,
    /// Smallest share of the parent (count or instrument variance) a child may hold.
    pub alpha: f64,
    /// Penalty on splits that leave a child small.
    pub imbalance_penalty: f64,
    /// Grow on one part of the sample and populate leaves with the other.
    pub honesty: bool,
    /// Share of the tree's sample used to grow it when honest.
    pub honesty_fraction: f64,
    /// Remove leaves that the estimation half leaves empty.
    pub prune_empty_leaves: bool,
}

/// `Node::split` of a leaf holding estimation samples.
const FILLED_LEAF: u32 = u32::MAX;
/// `Node::split` of a leaf without estimation samples (and of every leaf while the tree grows).
const EMPTY_LEAF: u32 = u32::MAX - 1;
/// The most features a tree can split on: a split packs the feature above its bin's 8 bits.
pub const MAX_FEATURES: usize = (EMPTY_LEAF >> 8) as usize;

/// A node in 8 bytes, eight to a cache line, so that walks touch few lines.
/// An internal node has `split = feature << 8 | bin` and sends codes
/// `<= bin` to node `child` and the others to `child + 1`; a leaf has
/// `split` [`FILLED_LEAF`] or [`EMPTY_LEAF`] (so walks learn whether it is
/// empty without another memory access) and its leaf index in `child`.
#[derive(Debug, Clone, Copy)]
struct Node {
    split: u32,
    child: u32,
}

impl Node {
    /// A leaf of a growing tree.
    const GROWING: Node = Node {
        split: EMPTY_LEAF,
        child: 0,
    };

    /// An internal node whose children are nodes `child` and `child + 1`.
    fn internal(feature: usize, bin: u8, child: u32) -> Node {
        Node {
            split: (feature as u32) << 8 | u32::from(bin),
            child,
        }
    }

    #[inline]
    fn is_leaf(self) -> bool {
        self.split >= EMPTY_LEAF
    }

    #[inline]
    fn feature(self) -> usize {
        (self.split >> 8) as usize
    }

    #[inline]
    fn bin(self) -> u8 {
        self.split as u8
    }

    /// The child a point with code `code` for the node's feature goes to.
    #[inline]
    fn next(self, code: u8) -> u32 {
        self.child + u32::from(code > self.bin())
    }
}

/// A grown tree: its nodes, and for each leaf the estimation samples in it
/// and the leaf's values (`Rule::width` numbers per leaf).
#[derive(Debug, Clone)]
pub struct Tree {
    nodes: Vec<Node>,
    leaf_offsets: Vec<u32>,
    leaf_samples: Vec<u32>,
    values: Vec<f64>,
}

impl Tree {
    /// The leaf a point falls in, given its code for each feature.
    #[inline]
    pub fn leaf(&self, code: impl Fn(usize) -> u8) -> usize {
        let mut node = self.nodes[0];
        while !node.is_leaf() {
            node = self.nodes[node.next(code(node.feature())) as usize];
        }
        node.child as usize
    }

    /// The estimation samples in a leaf (empty for a pruned-away leaf).
    pub fn samples(&self, leaf: usize) -> &[u32] {
        &self.leaf_samples[self.leaf_offsets[leaf] as usize..self.leaf_offsets[leaf + 1] as usize]
    }

    /// The leaf's values (`width` numbers), or `None` if it is empty.
    #[inline]
    pub fn values(&self, leaf: usize, width: usize) -> Option<&[f64]> {
        (self.leaf_offsets[leaf + 1] > self.leaf_offsets[leaf])
            .then(|| &self.values[leaf * width..(leaf + 1) * width])
    }

    /// Number of leaves (including pruned-away, empty ones).
    pub fn leaves(&self) -> usize {
        self.leaf_offsets.len() - 1
    }

    /// Values of a leaf that [`Tree::segments`] reported filled (`width`
    /// numbers), without the emptiness check of [`Tree::values`].
    #[inline]
    pub fn filled_values(&self, leaf: usize, width: usize) -> &[f64] {
        &self.values[leaf * width..(leaf + 1) * width]
    }

    /// Walks a batch of paths through the tree at once, node by node,
    /// appending to `out` the leaves each path's steps reach, as runs of
    /// consecutive steps in increasing order: path `r`'s runs are
    /// `out[ranges[r].0..ranges[r].1]`. Each path is walked once, not once
    /// per step: where a node splits on a path column, the monotone codes
    /// send a prefix of the path's steps one way and the rest the other.
    /// Walking the paths together reads each node once for all of them and
    /// sorts them to the children without branches.
    pub fn segments(
        &self,
        batch: &PathBatch<'_>,
        walks: &mut Walks,
        out: &mut Vec<Segment>,
        ranges: &mut Vec<(u32, u32)>,
    ) {
        let Walks {
            items,
            stack,
            hits,
            counts,
        } = walks;
        let paths = batch.starts.len().saturating_sub(1);
        items.clear();
        items.extend((0..paths).filter_map(|r| {
            let steps = batch.starts[r + 1] - batch.starts[r];
            (steps > 0).then_some(Item {
                path: r as u32,
                lo: 0,
                hi: steps as u32,
            })
        }));
        stack.clear();
        if !items.is_empty() {
            stack.push((0, 0, items.len() as u32));
        }
        hits.clear();
        while let Some((id, start, end)) = stack.pop() {
            let node = self.nodes[id as usize];
            let (start, end) = (start as usize, end as usize);
            if node.is_leaf() {
                let filled = node.split == FILLED_LEAF;
                hits.extend(items[start..end].iter().map(|it| {
                    (
                        it.path,
                        Segment {
                            lo: it.lo,
                            hi: it.hi,
                            leaf: node.child,
                            filled,
                        },
                    )
                }));
                continue;
            }
            // The node's items are the last live ones: its children's go
            // above them, the right child's first, then the left's (written
            // to both places, without branches, and moved down after).
            let (m, top) = (end - start, end);
            if items.len() < top + 2 * m {
                items.resize(top + 2 * m, Item::default());
            }
            let (feature, bin) = (node.feature(), node.bin());
            let slot = batch.slots[feature];
            let (lower, upper) = items.split_at_mut(top);
            let (right, left) = upper[..2 * m].split_at_mut(m);
            let (mut nl, mut nr) = (0, 0);
            if slot == FIXED {
                let codes = &batch.base[feature * paths..(feature + 1) * paths];
                for &it in &lower[start..end] {
                    let goes_left = codes[it.path as usize] <= bin;
                    right[nr] = it;
                    left[nl] = it;
                    nl += usize::from(goes_left);
                    nr += usize::from(!goes_left);
                }
            } else {
                let column = slot as usize;
                for &it in &lower[start..end] {
                    let codes = batch.column(it.path as usize, column);
                    let codes = &codes[it.lo as usize..it.hi as usize];
                    let (first, last) = (codes[0] <= bin, codes[codes.len() - 1] <= bin);
                    if first == last {
                        right[nr] = it;
                        left[nl] = it;
                        nl += usize::from(first);
                        nr += usize::from(!first);
                    } else {
                        // A monotone run lies between its end codes; the
                        // steps going the first step's way form a prefix.
                        let k = it.lo + codes.partition_point(|&c| (c <= bin) == first) as u32;
                        let (mut before, mut after) = (it, it);
                        before.hi = k;
                        after.lo = k;
                        (left[nl], right[nr]) = if first {
                            (before, after)
                        } else {
                            (after, before)
                        };
                        nl += 1;
                        nr += 1;
                    }
                }
            }
            items.copy_within(top + m..top + m + nl, top + nr);
            if nr > 0 {
                stack.push((node.child + 1, top as u32, (top + nr) as u32));
            }
            if nl > 0 {
                stack.push((node.child, (top + nr) as u32, (top + nr + nl) as u32));
            }
        }
        // Group the runs by path (a counting sort), each path's by step.
        counts.clear();
        counts.resize(paths + 1, 0);
        for &(r, _) in hits.iter() {
            counts[r as usize + 1] += 1;
        }
        for r in 0..paths {
            counts[r + 1] += counts[r];
        }
        let first = out.len();
        ranges.clear();
        ranges.extend((0..paths).map(|r| {
            (
                (first + counts[r] as usize) as u32,
                (first + counts[r + 1] as usize) as u32,
            )
        }));
        out.resize(first + hits.len(), Segment::default());
        for &(r, segment) in hits.iter() {
            out[first + counts[r as usize] as usize] = segment;
            counts[r as usize] += 1;
        }
        for &(from, to) in ranges.iter() {
            out[from as usize..to as usize].sort_unstable_by_key(|s| s.lo);
        }
    }
}

/// Marks, in [`PathBatch::slots`], a feature that is the same at every step.
pub const FIXED: u32 = u32::MAX;

/// Paths of points in bin codes, for [`Tree::segments`]: each path one
/// shared row and a few path columns whose codes are monotone along its steps.
#[derive(Debug, Clone, Copy)]
pub struct PathBatch<'a> {
    /// The shared codes, feature after feature, one per path
    /// (`base[f * paths + r]`, so that a node reads its paths' codes from
    /// one place; the path columns' entries are not read).
    pub base: &'a [u8],
    /// For each feature, its index among the path columns, or [`FIXED`].
    pub slots: &'a [u32],
    /// Number of path columns.
    pub columns: usize,
    /// The path columns' codes, path after path, column after column within
    /// a path: path `r`'s column `c` at step `s` is
    /// `codes[(starts[r] * columns) + c * steps_r + s]`, nondecreasing or
    /// nonincreasing in `s`.
    pub codes: &'a [u8],
    /// Where each path's steps start (one more entry than paths): path `r`
    /// has `starts[r + 1] - starts[r]` steps.
    pub starts: &'a [usize],
}

impl PathBatch<'_> {
    /// Path `r`'s codes of path column `c`, one per step.
    #[inline]
    fn column(&self, r: usize, c: usize) -> &[u8] {
        let steps = self.starts[r + 1] - self.starts[r];
        let at = self.starts[r] * self.columns + c * steps;
        &self.codes[at..at + steps]
    }
}

/// A path's steps `lo..hi` on their way down a tree.
#[derive(Debug, Clone, Copy, Default)]
struct Item {
    path: u32,
    lo: u32,
    hi: u32,
}

/// Scratch space of [`Tree::segments`], reused so that walks allocate nothing.
#[derive(Debug, Clone, Default)]
pub struct Walks {
    /// The runs of steps on their way down, each node's contiguous, the
    /// nodes waiting on the stack below the one being visited.
    items: Vec<Item>,
    /// Nodes to visit: (node, first item, one past the last).
    stack: Vec<(u32, u32, u32)>,
    /// The runs that reached a leaf, with their path.
    hits: Vec<(u32, Segment)>,
    /// Runs per path, then where each path's go.
    counts: Vec<u32>,
}

/// Steps `lo..hi` of a path, all of which fall in leaf `leaf`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Segment {
    /// First step.
    pub lo: u32,
    /// One past the last step.
    pub hi: u32,
    /// The leaf (an index for [`Tree::values`] and [`Tree::samples`]).
    pub leaf: u32,
    /// Whether the leaf holds estimation samples (see [`Tree::filled_values`]).
    pub filled: bool,
}

/// A unit's instrument, its square, and whether it lies below the node's
/// mean, computed once per node rather than once per feature.
#[derive(Debug, Clone, Copy, Default)]
struct ZStat {
    z: f64,
    zz: f64,
    small: u32,
}

#[derive(Debug, Clone, Copy, Default)]
struct Bin {
    n: u32,
    small: u32,
    sum: f64,
    sz: f64,
    szz: f64,
}

/// Buffers reused across the trees a worker grows, so the hot loops allocate nothing.
#[derive(Debug)]
pub struct Scratch {
    rho: Vec<f64>,
    zs: Vec<ZStat>,
    hist: Vec<Bin>,
    touched: Vec<u8>,
    features: Vec<usize>,
    /// The node's codes of the drawn features, feature-major.
    codes: Vec<u8>,
    stack: Vec<(u32, usize, usize)>,
    /// `inv[k] = 1 / k`: the split scan multiplies instead of dividing.
    inv: Vec<f64>,
}

impl Scratch {
    /// Buffers for data with `p` features.
    pub fn new(p: usize) -> Self {
        Scratch {
            rho: Vec::new(),
            zs: Vec::new(),
            hist: vec![Bin::default(); MAX_BINS],
            touched: Vec::with_capacity(MAX_BINS),
            features: (0..p).collect(),
            codes: Vec::new(),
            stack: Vec::new(),
            inv: Vec::new(),
        }
    }
}

/// The best split found so far at a node.
#[derive(Debug, Clone, Copy)]
struct Split {
    feature: usize,
    bin: u8,
    decrease: f64,
}

/// Node-level sums the split rules need.
#[derive(Debug, Clone, Copy)]
struct NodeStats {
    n: usize,
    sum: f64,
    sz: f64,
    szz: f64,
    small: u32,
}

/// Grows one tree on `sample` (the tree's draw, already shuffled).
pub fn grow(
    x: &Binned,
    t: Targets<'_>,
    rule: Rule,
    s: &TreeSettings,
    sample: &mut [u32],
    rng: &mut ChaCha8Rng,
    scratch: &mut Scratch,
) -> Tree {
    let n_split = if s.honesty {
        ((sample.len() as f64 * s.honesty_fraction) as usize).clamp(1, sample.len())
    } else {
        sample.len()
    };
    let (grow_part, est_part) = sample.split_at_mut(n_split);
    // Feature draws permute this list in place; start every tree from the
    // same order so a tree does not depend on which trees its thread grew before.
    for (k, f) in scratch.features.iter_mut().enumerate() {
        *f = k;
    }
    let mut nodes = vec![Node::GROWING];
    scratch.stack.clear();
    scratch.stack.push((0, 0, grow_part.len()));
    while let Some((id, start, end)) = scratch.stack.pop() {
        let idx = &mut grow_part[start..end];
        let Some(split) = best_split(x, t, rule, s, idx, rng, scratch) else {
            continue;
        };
        let mid = partition(idx, |i| x.code(i as usize, split.feature) <= split.bin);
        let left = nodes.len() as u32;
        nodes.extend([Node::GROWING; 2]);
        nodes[id as usize] = Node::internal(split.feature, split.bin, left);
        scratch.stack.push((left + 1, start + mid, end));
        scratch.stack.push((left, start, start + mid));
    }
    let est: &[u32] = if s.honesty { est_part } else { grow_part };
    finish(x, t, rule, s, nodes, est)
}

/// Moves the samples satisfying `goes_left` to the front; returns how many.
fn partition(idx: &mut [u32], goes_left: impl Fn(u32) -> bool) -> usize {
    let (mut i, mut j) = (0, idx.len());
    while i < j {
        if goes_left(idx[i]) {
            i += 1;
        } else {
            j -= 1;
            idx.swap(i, j);
        }
    }
    i
}

/// Relabels the node and searches the drawn features; `None` makes it a leaf.
fn best_split(
    x: &Binned,
    t: Targets<'_>,
    rule: Rule,
    s: &TreeSettings,
    idx: &[u32],
    rng: &mut ChaCha8Rng,
    scratch: &mut Scratch,
) -> Option<Split> {
    let m = idx.len();
    if m <= s.min_node_size {
        return None;
    }
    let node = relabel(t, rule, idx, scratch)?;
    // The instrumental rule needs min_node_size units below and above the
    // node's mean instrument in each child: a node without twice that many
    // cannot be split, whatever the feature.
    let min_z = 2 * s.min_node_size as u32;
    if rule == Rule::Instrumental && (node.small < min_z || m as u32 - node.small < min_z) {
        return None;
    }
    if scratch.inv.len() <= m {
        scratch.inv = (0..=m.next_power_of_two())
            .map(|k| 1.0 / k as f64)
            .collect();
    }
    let p = x.features();
    let draws = Poisson::new(s.mtry as f64)
        .map(|d| d.sample(rng) as usize)
        .unwrap_or(s.mtry);
    let k = draws.clamp(1, p);
    for i in 0..k {
        let j = rng.random_range(i..p);
        scratch.features.swap(i, j);
    }
    // Gather the node's codes of the drawn features, one feature after
    // another: each unit's row is read once, in increasing feature order
    // (wide rows span many cache lines), and the histogram passes below
    // read contiguous memory.
    scratch.features[..k].sort_unstable();
    scratch.codes.clear();
    scratch.codes.resize(k * m, 0);
    for (pos, &i) in idx.iter().enumerate() {
        let row = x.row(i as usize);
        for (f, &feature) in scratch.features[..k].iter().enumerate() {
            scratch.codes[f * m + pos] = row[feature];
        }
    }
    let mut best: Option<Split> = None;
    for f in 0..k {
        let feature = scratch.features[f];
        if x.bins(feature) < 2 {
            continue;
        }
        if let Some(found) = search_feature(x, rule, s, f, feature, &node, scratch) {
            if best.is_none_or(|b| found.decrease > b.decrease) {
                best = Some(found);
            }
        }
    }
    best.filter(|b| b.decrease > 0.0)
}

/// Computes the node's pseudo-outcomes into `scratch.rho` (and instrument
/// values into `scratch.zs`); `None` when the node cannot be split.
fn relabel(t: Targets<'_>, rule: Rule, idx: &[u32], scratch: &mut Scratch) -> Option<NodeStats> {
    let m = idx.len();
    scratch.rho.clear();
    scratch.zs.clear();
    match rule {
        Rule::Regression => {
            let first = t.y[idx[0] as usize];
            let mut pure = true;
            let mut sum = 0.0;
            for &i in idx {
                let y = t.y[i as usize];
                pure &= y == first;
                sum += y;
                scratch.rho.push(y);
            }
            (!pure).then_some(NodeStats {
                n: m,
                sum,
                sz: 0.0,
                szz: 0.0,
                small: 0,
            })
        }
        Rule::Instrumental => {
            let (mut sy, mut sw, mut sz) = (0.0, 0.0, 0.0);
            for &i in idx {
                let i = i as usize;
                sy += t.y[i];
                sw += t.w[i];
                sz += t.z[i];
            }
            let mf = m as f64;
            let (my, mw, mz) = (sy / mf, sw / mf, sz / mf);
            let (mut num, mut den) = (0.0, 0.0);
            for &i in idx {
                let i = i as usize;
                let dz = t.z[i] - mz;
                num += dz * (t.y[i] - my);
                den += dz * (t.w[i] - mw);
            }
            if den.abs() <= 1e-10 {
                return None;
            }
            let tau = num / den;
            let (mut sum, mut szz, mut small) = (0.0, 0.0, 0u32);
            for &i in idx {
                let i = i as usize;
                let z = t.z[i];
                let rho = (z - mz) * ((t.y[i] - my) - tau * (t.w[i] - mw));
                let below = u32::from(z < mz);
                scratch.rho.push(rho);
                scratch.zs.push(ZStat {
                    z,
                    zz: z * z,
                    small: below,
                });
                sum += rho;
                szz += z * z;
                small += below;
            }
            Some(NodeStats {
                n: m,
                sum,
                sz,
                szz,
                small,
            })
        }
    }
}

/// The best split of one feature, scanning its histogram left to right.
fn search_feature(
    x: &Binned,
    rule: Rule,
    s: &TreeSettings,
    slot: usize,
    feature: usize,
    node: &NodeStats,
    scratch: &mut Scratch,
) -> Option<Split> {
    let Scratch {
        rho,
        zs,
        hist,
        touched,
        inv,
        codes,
        ..
    } = scratch;
    let m = node.n;
    let column = &codes[slot * m..(slot + 1) * m];
    // Small nodes record the bins they touch as they go; large ones (most of
    // the work) skip that branch and walk all bins afterwards.
    let bins = x.bins(feature);
    let track = m * 4 < bins;
    touched.clear();
    macro_rules! accumulate {
        ($update:expr) => {
            for (k, &c) in column.iter().enumerate() {
                let b = &mut hist[usize::from(c)];
                if track && b.n == 0 {
                    touched.push(c);
                }
                $update(b, k);
            }
        };
    }
    match rule {
        Rule::Regression => accumulate!(|b: &mut Bin, k: usize| {
            b.n += 1;
            b.sum += rho[k];
        }),
        Rule::Instrumental => accumulate!(|b: &mut Bin, k: usize| {
            let v = &zs[k];
            b.n += 1;
            b.sum += rho[k];
            b.sz += v.z;
            b.szz += v.zz;
            b.small += v.small;
        }),
    }
    if track {
        touched.sort_unstable();
    } else {
        touched.extend(
            (0..bins as u16)
                .filter(|&c| hist[usize::from(c)].n > 0)
                .map(|c| c as u8),
        );
    }
    let found = scan(rule, s, node, hist, touched, inv, feature);
    for &c in touched.iter() {
        hist[usize::from(c)] = Bin::default();
    }
    found
}

/// Evaluates every boundary between occupied bins under the rule's constraints.
fn scan(
    rule: Rule,
    s: &TreeSettings,
    node: &NodeStats,
    hist: &[Bin],
    touched: &[u8],
    inv: &[f64],
    feature: usize,
) -> Option<Split> {
    let n = node.n;
    let (mut n_left, mut sum_left, mut sz_left, mut szz_left, mut small_left) =
        (0usize, 0.0, 0.0, 0.0, 0u32);
    let min_count = ((n as f64 * s.alpha).ceil() as usize).max(1);
    let size_node = node.szz - node.sz * node.sz / n as f64;
    let min_size = size_node * s.alpha;
    let min_z = s.min_node_size as u32;
    let mut best: Option<Split> = None;
    for &c in &touched[..touched.len().saturating_sub(1)] {
        let b = &hist[usize::from(c)];
        n_left += b.n as usize;
        sum_left += b.sum;
        let n_right = n - n_left;
        let sum_right = node.sum - sum_left;
        let (inv_l, inv_r) = (inv[n_left], inv[n_right]);
        let penalty = match rule {
            Rule::Regression => {
                if n_left < min_count {
                    continue;
                }
                if n_right < min_count {
                    break;
                }
                s.imbalance_penalty * (inv_l + inv_r)
            }
            Rule::Instrumental => {
                sz_left += b.sz;
                szz_left += b.szz;
                small_left += b.small;
                let large_left = n_left as u32 - small_left;
                if small_left < min_z || large_left < min_z {
                    continue;
                }
                let small_right = node.small - small_left;
                let large_right = n_right as u32 - small_right;
                if small_right < min_z || large_right < min_z {
                    break;
                }
                let size_left = szz_left - sz_left * sz_left * inv_l;
                let (sz_right, szz_right) = (node.sz - sz_left, node.szz - szz_left);
                let size_right = szz_right - sz_right * sz_right * inv_r;
                let degenerate =
                    s.imbalance_penalty > 0.0 && (size_left == 0.0 || size_right == 0.0);
                if size_left < min_size || size_right < min_size || degenerate {
                    continue;
                }
                s.imbalance_penalty * (1.0 / size_left + 1.0 / size_right)
            }
        };
        let decrease = sum_left * sum_left * inv_l + sum_right * sum_right * inv_r - penalty;
        if best.is_none_or(|b| decrease > b.decrease) {
            best = Some(Split {
                feature,
                bin: c,
                decrease,
            });
        }
    }
    best
}

/// Populates the leaves with the estimation samples, prunes leaves they
/// leave empty, and computes each leaf's values.
fn finish(
    x: &Binned,
    t: Targets<'_>,
    rule: Rule,
    s: &TreeSettings,
    mut nodes: Vec<Node>,
    est: &[u32],
) -> Tree {
    let mut leaves = 0u32;
    for node in nodes.iter_mut().filter(|n| n.is_leaf()) {
        node.child = leaves;
        leaves += 1;
    }
    let route = |nodes: &[Node], i: u32| -> usize {
        let mut node = nodes[0];
        while !node.is_leaf() {
            node = nodes[node.next(x.code(i as usize, node.feature())) as usize];
        }
        node.child as usize
    };
    let leaf_of: Vec<u32> = est.iter().map(|&i| route(&nodes, i) as u32).collect();
    let mut offsets = vec![0u32; leaves as usize + 1];
    for &l in &leaf_of {
        offsets[l as usize + 1] += 1;
    }
    if s.prune_empty_leaves {
        prune(&mut nodes, 0, &offsets);
    }
    for node in nodes.iter_mut().filter(|n| n.is_leaf()) {
        node.split = if offsets[node.child as usize + 1] > 0 {
            FILLED_LEAF
        } else {
            EMPTY_LEAF
        };
    }
    for l in 0..leaves as usize {
        offsets[l + 1] += offsets[l];
    }
    let mut fill = offsets.clone();
    let mut samples = vec![0u32; est.len()];
    for (&i, &l) in est.iter().zip(&leaf_of) {
        samples[fill[l as usize] as usize] = i;
        fill[l as usize] += 1;
    }
    let width = rule.width();
    let mut values = vec![f64::NAN; leaves as usize * width];
    for l in 0..leaves as usize {
        let members = &samples[offsets[l] as usize..offsets[l + 1] as usize];
        if members.is_empty() {
            continue;
        }
        let inv = 1.0 / members.len() as f64;
        let out = &mut values[l * width..(l + 1) * width];
        match rule {
            Rule::Regression => {
                out[0] = members.iter().map(|&i| t.y[i as usize]).sum::<f64>() * inv
            }
            Rule::Instrumental => {
                let mut acc = [0.0; 5];
                for &i in members {
                    let i = i as usize;
                    let (y, w, z) = (t.y[i], t.w[i], t.z[i]);
                    acc[0] += y;
                    acc[1] += w;
                    acc[2] += z;
                    acc[3] += y * z;
                    acc[4] += w * z;
                }
                for (o, a) in out.iter_mut().zip(acc) {
                    *o = a * inv;
                }
            }
        }
    }
    Tree {
        nodes,
        leaf_offsets: offsets,
        leaf_samples: samples,
        values,
    }
}

/// Replaces every internal node one of whose subtrees holds no estimation
/// sample by its other subtree; returns whether `id`'s subtree is empty.
/// `counts[l + 1]` is leaf `l`'s sample count.
fn prune(nodes: &mut [Node], id: usize, counts: &[u32]) -> bool {
    let node = nodes[id];
    if node.is_leaf() {
        return counts[node.child as usize + 1] == 0;
    }
    let (left, right) = (node.child as usize, node.child as usize + 1);
    let left_empty = prune(nodes, left, counts);
    let right_empty = prune(nodes, right, counts);
    match (left_empty, right_empty) {
        (true, true) => true,
        (true, false) => {
            nodes[id] = nodes[right];
            false
        }
        (false, true) => {
            nodes[id] = nodes[left];
            false
        }
        (false, false) => false,
    }
}
