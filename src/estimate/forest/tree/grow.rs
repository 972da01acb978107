//! Growing one tree: the histogram split search at each node, generic over
//! the split rule, then honest leaves and pruning.

use rand::Rng;
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, Poisson};

use super::{descend, Node, Tree, TreeSettings, EMPTY_LEAF, FILLED_LEAF};
use crate::data::binning::{Binned, MAX_BINS};
use crate::estimate::forest::rules::{Candidate, Label, SplitRule, Sums};

/// Buffers reused across the trees a worker grows, so the hot loops
/// allocate nothing: `S` and `E` are the split rule's per-sample values and
/// per-bin statistics.
#[derive(Debug)]
pub struct Scratch<S, E> {
    /// The node's relabeled samples, in the node's order.
    labels: Vec<Label<S>>,
    /// One feature's histogram, all bins (reset after each feature).
    hist: Vec<Sums<E>>,
    /// The occupied bins of the histogram, in increasing order.
    touched: Vec<u8>,
    /// The features, the node's draw first.
    features: Vec<usize>,
    /// The node's codes of the drawn dense features, feature-major (slot
    /// `f` of the draw at `codes[f * m..]`).
    codes: Vec<u8>,
    /// Per drawn sparse feature (by slot): the node's samples (by position)
    /// whose code is not the feature's default, with their codes.
    entries: Vec<Vec<(u32, u8)>>,
    /// Per feature: its slot in the draw when it is a drawn sparse feature,
    /// [`NOT_DRAWN`] otherwise.
    slot_of: Vec<u32>,
    /// The drawn dense features: (slot, place in a dense row).
    dense: Vec<(usize, usize)>,
    /// Nodes to split: (node, first sample, one past the last).
    stack: Vec<(u32, usize, usize)>,
    /// `inv[k] = 1 / k`: the split scan multiplies instead of dividing.
    inv: Vec<f64>,
}

impl<S: Copy + Default, E: Copy + Default> Scratch<S, E> {
    /// Buffers for data with `p` features.
    pub fn new(p: usize) -> Self {
        Scratch {
            labels: Vec::new(),
            hist: vec![Sums::default(); MAX_BINS],
            touched: Vec::with_capacity(MAX_BINS),
            features: (0..p).collect(),
            codes: Vec::new(),
            entries: Vec::new(),
            slot_of: vec![NOT_DRAWN; p],
            dense: Vec::new(),
            stack: Vec::new(),
            inv: Vec::new(),
        }
    }
}

/// [`Scratch::slot_of`] of a feature that is not a drawn sparse one.
const NOT_DRAWN: u32 = u32::MAX;

/// The best split found so far at a node.
#[derive(Debug, Clone, Copy)]
struct Split {
    feature: usize,
    /// The feature's place in the node's draw (where its gathered codes are).
    slot: usize,
    bin: u8,
    decrease: f64,
}

/// Grows one tree on `sample` (the tree's draw) under `rule`: its first
/// `n_split` units place the splits and, when honest, the rest fill the
/// leaves (the forest chooses the halves, by unit or by cluster).
pub fn grow<R: SplitRule>(
    x: &Binned,
    rule: &R,
    s: &TreeSettings,
    (sample, n_split): (&mut [u32], usize),
    rng: &mut ChaCha8Rng,
    scratch: &mut Scratch<R::Sample, R::Extra>,
) -> Tree {
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
        let Some(split) = best_split(x, rule, s, idx, rng, scratch) else {
            continue;
        };
        let mid = if x.is_sparse(split.feature) {
            partition(idx, |i| x.code(i as usize, split.feature) <= split.bin)
        } else {
            // The node's codes of the split feature were gathered for the
            // search: partition by them instead of reading each unit's row.
            let m = idx.len();
            let column = &mut scratch.codes[split.slot * m..(split.slot + 1) * m];
            partition_coded(idx, column, split.bin)
        };
        let left = nodes.len() as u32;
        nodes.extend([Node::GROWING; 2]);
        nodes[id as usize] = Node::internal(split.feature, split.bin, left);
        scratch.stack.push((left + 1, start + mid, end));
        scratch.stack.push((left, start, start + mid));
    }
    let est: &[u32] = if s.honesty { est_part } else { grow_part };
    finish(x, rule, s, nodes, est)
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

/// [`partition`] by the samples' gathered `codes` (in `idx`'s order, and
/// permuted with it): codes `<= bin` go left. The same swaps as
/// [`partition`] on the same codes, so the children's order is the same.
fn partition_coded(idx: &mut [u32], codes: &mut [u8], bin: u8) -> usize {
    let (mut i, mut j) = (0, idx.len());
    while i < j {
        if codes[i] <= bin {
            i += 1;
        } else {
            j -= 1;
            idx.swap(i, j);
            codes.swap(i, j);
        }
    }
    i
}

/// Relabels the node and searches the drawn features; `None` makes it a leaf.
fn best_split<R: SplitRule>(
    x: &Binned,
    rule: &R,
    s: &TreeSettings,
    idx: &[u32],
    rng: &mut ChaCha8Rng,
    scratch: &mut Scratch<R::Sample, R::Extra>,
) -> Option<Split> {
    let m = idx.len();
    if m <= s.min_node_size {
        return None;
    }
    scratch.labels.clear();
    let node = rule.relabel(idx, s.min_node_size, &mut scratch.labels)?;
    if scratch.inv.len() <= m {
        scratch.inv = (0..=m.next_power_of_two())
            .map(|k| 1.0 / k as f64)
            .collect();
    }
    let k = draw_features(x.features(), s.mtry, rng, &mut scratch.features);
    gather(x, idx, k, scratch);
    let limits = R::limits(s, &node);
    let mut best: Option<Split> = None;
    for f in 0..k {
        let feature = scratch.features[f];
        if x.bins(feature) < 2 {
            continue;
        }
        let found = if x.is_sparse(feature) {
            search_sparse::<R>(x, &limits, f, feature, &node, scratch)
        } else {
            search_feature::<R>(x, &limits, f, feature, &node, scratch)
        };
        if let Some(found) = found.map(|s| Split { slot: f, ..s }) {
            let tolerant = |b: &Split| x.is_skewed(b.feature) || x.is_skewed(feature);
            if best.is_none_or(|b| beats(found.decrease, b.decrease, tolerant(&b))) {
                best = Some(found);
            }
        }
    }
    best.filter(|b| b.decrease > 0.0)
}

/// Relative difference below which a skewed feature's best decrease ties
/// with another feature's. Stored sparse, a skewed feature's default bin is
/// the node less its other bins, a sum over the same units in another order
/// whose last bits differ from the dense layout's, so a tie between two
/// features that split the node's units the same way is kept by the
/// feature drawn first rather than by rounding, in either layout. Two
/// features that are not skewed compare exactly, as in grf.
const TIE: f64 = 1e-12;

/// Whether a feature's best `decrease` beats the best so far: by any margin
/// between features that are not skewed, by more than a tie ([`TIE`]) when
/// `tolerant` (either is skewed).
fn beats(decrease: f64, best: f64, tolerant: bool) -> bool {
    if tolerant {
        decrease - best > TIE * decrease.abs().max(best.abs())
    } else {
        decrease > best
    }
}

/// Draws a Poisson(mtry) number of the `p` features (at least one) into
/// the front of `features`, sorted; returns how many.
fn draw_features(p: usize, mtry: usize, rng: &mut ChaCha8Rng, features: &mut [usize]) -> usize {
    let draws = Poisson::new(mtry as f64)
        .map(|d| d.sample(rng) as usize)
        .unwrap_or(mtry);
    let k = draws.clamp(1, p);
    for i in 0..k {
        let j = rng.random_range(i..p);
        features.swap(i, j);
    }
    if k == p {
        // Every feature drawn: sorted, the draw is the identity (the
        // shuffle above still consumes the stream, so trees stay the same).
        for (i, f) in features.iter_mut().enumerate() {
            *f = i;
        }
    } else {
        features[..k].sort_unstable();
    }
    k
}

/// Gathers the node's codes of the first `k` drawn features: the dense
/// ones one feature after another (each unit's dense row is read once, in
/// increasing feature order, and the histogram passes read contiguous
/// memory), and for the sparse ones the samples off their default code,
/// found by reading each unit's few sparse entries once.
fn gather<S, E>(x: &Binned, idx: &[u32], k: usize, scratch: &mut Scratch<S, E>) {
    let m = idx.len();
    let Scratch {
        features,
        codes,
        entries,
        slot_of,
        dense,
        ..
    } = scratch;
    let drawn = &features[..k];
    codes.clear();
    codes.resize(k * m, 0);
    if entries.len() < k {
        entries.resize_with(k, Vec::new);
    }
    dense.clear();
    for (f, &feature) in drawn.iter().enumerate() {
        if x.is_sparse(feature) {
            slot_of[feature] = f as u32;
            entries[f].clear();
        } else {
            dense.push((f, x.dense_place(feature)));
        }
    }
    let any_sparse = dense.len() < k;
    for (pos, &i) in idx.iter().enumerate() {
        let i = i as usize;
        if !dense.is_empty() {
            let row = x.dense_row(i);
            for &(f, at) in dense.iter() {
                codes[f * m + pos] = row[at];
            }
        }
        if any_sparse {
            let (on, values) = x.sparse_row(i);
            for (&j, &c) in on.iter().zip(values) {
                let f = slot_of[j as usize];
                if f != NOT_DRAWN {
                    entries[f as usize].push((pos as u32, c));
                }
            }
        }
    }
    for &feature in drawn {
        slot_of[feature] = NOT_DRAWN;
    }
}

/// The best split of one sparse feature (the `slot`-th drawn): its
/// histogram from the samples off its default code, the default bin the
/// node's sums less theirs, scanned left to right.
fn search_sparse<R: SplitRule>(
    x: &Binned,
    limits: &R::Limits,
    slot: usize,
    feature: usize,
    node: &Sums<R::Extra>,
    scratch: &mut Scratch<R::Sample, R::Extra>,
) -> Option<Split> {
    let Scratch {
        labels,
        hist,
        touched,
        inv,
        entries,
        ..
    } = scratch;
    touched.clear();
    for &(pos, c) in &entries[slot] {
        let b = &mut hist[usize::from(c)];
        if b.n == 0 {
            touched.push(c);
        }
        let label = &labels[pos as usize];
        b.n += 1;
        b.sum += label.rho;
        R::accumulate(&mut b.extra, &label.own);
    }
    let mut rest = *node;
    for &c in touched.iter() {
        let b = &hist[usize::from(c)];
        rest.n -= b.n;
        rest.sum -= b.sum;
        R::remove(&mut rest.extra, &b.extra);
    }
    if rest.n > 0 {
        let default = x.default_code(feature);
        hist[usize::from(default)] = rest;
        touched.push(default);
    }
    touched.sort_unstable();
    scan_and_clear::<R>(limits, node, hist, touched, inv, feature)
}

/// The best split of one feature (the `slot`-th drawn), accumulating its
/// histogram and scanning it left to right.
fn search_feature<R: SplitRule>(
    x: &Binned,
    limits: &R::Limits,
    slot: usize,
    feature: usize,
    node: &Sums<R::Extra>,
    scratch: &mut Scratch<R::Sample, R::Extra>,
) -> Option<Split> {
    let Scratch {
        labels,
        hist,
        touched,
        inv,
        codes,
        ..
    } = scratch;
    let m = node.n as usize;
    let column = &codes[slot * m..(slot + 1) * m];
    // Nodes of up to a few samples per bin mark the bins they touch in a
    // bitmap as they go, read back in increasing order (no sort, and the
    // scan visits only occupied bins); larger ones skip that and walk all
    // bins afterwards. Measured on a regression forest at n = 20,000, the
    // bitmap up to 4 samples per bin cut CPU time by 30% against sorting
    // the bins of nodes under a quarter sample per bin.
    let bins = x.bins(feature);
    let track = m < 4 * bins;
    touched.clear();
    if track {
        let mut occupied = [0u64; MAX_BINS / 64];
        for (&c, label) in column.iter().zip(labels.iter()) {
            occupied[usize::from(c >> 6)] |= 1 << (c & 63);
            let b = &mut hist[usize::from(c)];
            b.n += 1;
            b.sum += label.rho;
            R::accumulate(&mut b.extra, &label.own);
        }
        for (word, mut bits) in occupied.into_iter().enumerate() {
            while bits != 0 {
                touched.push((word * 64) as u8 + bits.trailing_zeros() as u8);
                bits &= bits - 1;
            }
        }
    } else {
        for (&c, label) in column.iter().zip(labels.iter()) {
            let b = &mut hist[usize::from(c)];
            b.n += 1;
            b.sum += label.rho;
            R::accumulate(&mut b.extra, &label.own);
        }
        touched.extend(
            (0..bins as u16)
                .filter(|&c| hist[usize::from(c)].n > 0)
                .map(|c| c as u8),
        );
    }
    scan_and_clear::<R>(limits, node, hist, touched, inv, feature)
}

/// Scans a feature's histogram ([`scan`]), then empties the bins it
/// touched, ready for the next feature.
fn scan_and_clear<R: SplitRule>(
    limits: &R::Limits,
    node: &Sums<R::Extra>,
    hist: &mut [Sums<R::Extra>],
    touched: &[u8],
    inv: &[f64],
    feature: usize,
) -> Option<Split> {
    let found = scan::<R>(limits, node, hist, touched, inv, feature);
    for &c in touched {
        hist[usize::from(c)] = Sums::default();
    }
    found
}

/// Evaluates every boundary between occupied bins under the rule's checks.
fn scan<R: SplitRule>(
    limits: &R::Limits,
    node: &Sums<R::Extra>,
    hist: &[Sums<R::Extra>],
    touched: &[u8],
    inv: &[f64],
    feature: usize,
) -> Option<Split> {
    let mut left = Sums::<R::Extra>::default();
    let mut best: Option<Split> = None;
    for &c in &touched[..touched.len().saturating_sub(1)] {
        let b = &hist[usize::from(c)];
        left.n += b.n;
        left.sum += b.sum;
        R::combine(&mut left.extra, &b.extra);
        let (inv_l, inv_r) = (inv[left.n as usize], inv[(node.n - left.n) as usize]);
        let penalty = match R::admit(limits, node, &left, inv_l, inv_r) {
            Candidate::Skip => continue,
            Candidate::Stop => break,
            Candidate::Penalty(p) => p,
        };
        let decrease = R::criterion(limits, node, &left, inv_l, inv_r) - penalty;
        if best.is_none_or(|b| decrease > b.decrease) {
            best = Some(Split {
                feature,
                slot: 0,
                bin: c,
                decrease,
            });
        }
    }
    best
}

/// Populates the leaves with the estimation samples, prunes leaves they
/// leave empty, and computes each leaf's values.
fn finish<R: SplitRule>(
    x: &Binned,
    rule: &R,
    s: &TreeSettings,
    mut nodes: Vec<Node>,
    est: &[u32],
) -> Tree {
    let mut leaves = 0usize;
    for node in nodes.iter_mut().filter(|n| n.is_leaf()) {
        node.child = leaves as u32;
        leaves += 1;
    }
    let leaf_of: Vec<u32> = est
        .iter()
        .map(|&i| descend(&nodes, |j| x.code(i as usize, j)) as u32)
        .collect();
    let mut offsets = vec![0u32; leaves + 1];
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
    for l in 0..leaves {
        offsets[l + 1] += offsets[l];
    }
    let mut fill = offsets.clone();
    let mut samples = vec![0u32; est.len()];
    for (&i, &l) in est.iter().zip(&leaf_of) {
        samples[fill[l as usize] as usize] = i;
        fill[l as usize] += 1;
    }
    let values = leaf_values(rule, &samples, &offsets);
    Tree {
        nodes,
        leaf_offsets: offsets,
        leaf_samples: samples,
        values,
    }
}

/// Each leaf's values (NaN for an empty leaf): leaf `l` holds
/// `samples[offsets[l]..offsets[l + 1]]`.
fn leaf_values<R: SplitRule>(rule: &R, samples: &[u32], offsets: &[u32]) -> Vec<f64> {
    let width = R::WIDTH;
    let leaves = offsets.len() - 1;
    let mut values = vec![f64::NAN; leaves * width];
    for l in 0..leaves {
        let members = &samples[offsets[l] as usize..offsets[l + 1] as usize];
        if !members.is_empty() {
            rule.leaf_values(members, &mut values[l * width..(l + 1) * width]);
        }
    }
    values
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::estimate::forest::rules::Regression;
    use rand::SeedableRng;

    fn settings(min_node_size: usize, honesty: bool) -> TreeSettings {
        TreeSettings {
            mtry: 10,
            min_node_size,
            alpha: 0.05,
            imbalance_penalty: 0.0,
            honesty,
            honesty_fraction: 0.5,
            prune_empty_leaves: true,
        }
    }

    /// `n` rows of two features with 10 bins each: feature 0 is `i % 10`,
    /// feature 1 a scrambled code unrelated to it.
    fn codes(n: usize) -> Binned {
        let codes = (0..n)
            .flat_map(|i| [(i % 10) as u8, ((i * 7 + i / 10) % 10) as u8])
            .collect();
        Binned::from_codes(n, codes, vec![10, 10]).expect("codes")
    }

    /// Deterministic noise in [-0.5, 0.5).
    fn noise(i: usize) -> f64 {
        ((i * 7919) % 1000) as f64 / 1000.0 - 0.5
    }

    fn grown(x: &Binned, y: &[f64], s: &TreeSettings, seed: u64) -> (Tree, Vec<u32>) {
        let mut sample: Vec<u32> = (0..x.rows() as u32).collect();
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let mut scratch = Scratch::new(x.features());
        let split = if s.honesty {
            sample.len() / 2
        } else {
            sample.len()
        };
        let tree = grow(
            x,
            &Regression { y },
            s,
            (&mut sample, split),
            &mut rng,
            &mut scratch,
        );
        (tree, sample)
    }

    /// Samples under each node, by walking its subtree's leaves.
    fn subtree_samples(tree: &Tree, id: usize) -> usize {
        let node = tree.nodes[id];
        if node.is_leaf() {
            tree.samples(node.child as usize).len()
        } else {
            let child = node.child as usize;
            subtree_samples(tree, child) + subtree_samples(tree, child + 1)
        }
    }

    #[test]
    fn the_root_splits_a_step_function_at_its_step() {
        let n = 1000;
        let x = codes(n);
        let y: Vec<f64> = (0..n)
            .map(|i| f64::from(u8::from(i % 10 >= 6)) + 0.1 * noise(i))
            .collect();
        let (tree, _) = grown(&x, &y, &settings(5, false), 1);
        let root = tree.nodes[0];
        assert!(!root.is_leaf());
        assert_eq!((root.feature(), root.bin()), (0, 5));
        let value = |code: u8| {
            let leaf = tree.leaf(|j| if j == 0 { code } else { 3 });
            tree.values(leaf, 1).expect("filled")[0]
        };
        assert!(value(2).abs() < 0.1, "{}", value(2));
        assert!((value(8) - 1.0).abs() < 0.1, "{}", value(8));
    }

    #[test]
    fn honest_leaves_hold_only_the_estimation_half() {
        let n = 400;
        let x = codes(n);
        let y: Vec<f64> = (0..n).map(|i| (i % 10) as f64 + noise(i)).collect();
        let (tree, sample) = grown(&x, &y, &settings(5, true), 2);
        let (grow_part, est_part) = sample.split_at(n / 2);
        let mut held: Vec<u32> = (0..tree.leaves())
            .flat_map(|l| tree.samples(l).to_vec())
            .collect();
        held.sort_unstable();
        let mut est = est_part.to_vec();
        est.sort_unstable();
        assert_eq!(held, est);
        assert!(grow_part.iter().all(|i| est.binary_search(i).is_err()));
        // Leaf values are means over the leaf's estimation samples.
        for l in 0..tree.leaves() {
            let members = tree.samples(l);
            assert!(!members.is_empty(), "pruned trees have no empty leaves");
            let mean = members.iter().map(|&i| y[i as usize]).sum::<f64>() / members.len() as f64;
            assert!((tree.values(l, 1).expect("filled")[0] - mean).abs() < 1e-12);
        }
    }

    #[test]
    fn nodes_at_or_below_min_node_size_are_not_split() {
        let n = 600;
        let x = codes(n);
        let y: Vec<f64> = (0..n).map(noise).collect();
        for min_node_size in [1, 12] {
            let (tree, _) = grown(&x, &y, &settings(min_node_size, false), 3);
            let internal: Vec<usize> = (0..tree.nodes.len())
                .filter(|&id| !tree.nodes[id].is_leaf() && reachable(&tree, id))
                .collect();
            assert!(internal.len() > 10, "{} splits", internal.len());
            let smallest = internal.iter().map(|&id| subtree_samples(&tree, id)).min();
            let smallest = smallest.expect("splits");
            if min_node_size == 1 {
                // Pure noise splits down to tiny nodes when allowed to.
                assert!(smallest <= 12, "smallest split node {smallest}");
            } else {
                assert!(smallest > min_node_size, "smallest split node {smallest}");
            }
        }
    }

    /// Whether node `id` is reached from the root (pruning copies nodes up).
    fn reachable(tree: &Tree, id: usize) -> bool {
        let mut stack = vec![0usize];
        while let Some(at) = stack.pop() {
            if at == id {
                return true;
            }
            let node = tree.nodes[at];
            if !node.is_leaf() {
                stack.extend([node.child as usize, node.child as usize + 1]);
            }
        }
        false
    }
}
