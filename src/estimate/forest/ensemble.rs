//! A forest of honest trees: subsampling in little bags (grf's
//! `ci_group_size`), parallel growth with one seed per tree group,
//! out-of-bag and new-point prediction, and forest weights. Growth is
//! generic over the split rule; a grown forest is not (its leaves hold the
//! rule's numbers, `width` per leaf).

use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use super::binning::Binned;
use super::rules::SplitRule;
use super::tree::{grow, Scratch, Tree, TreeSettings, MAX_FEATURES};
use crate::core::seed::mix;
use crate::core::text::number;
use crate::{Error, Result};

/// Most trees a forest may grow: grf's default is 2,000, and a forest's
/// variance estimate settles long before a hundred thousand.
pub const MAX_TREES: usize = 100_000;

/// Largest `min_node_size`: beyond a million units a node is a sample.
pub const MAX_NODE_SIZE: usize = 1_000_000;

/// Forest settings, with grf's defaults; the same keys configure every forest estimator.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ForestParams {
    /// Trees in the main forest.
    pub num_trees: usize,
    /// Share of the units each tree is grown on (at most 0.5 with little bags).
    pub sample_fraction: f64,
    /// Mean features tried per split [default: min(ceil(sqrt(p) + 20), p)].
    pub mtry: Option<usize>,
    /// Nodes with at most this many samples are not split.
    pub min_node_size: usize,
    /// Honest trees: one half of each tree's sample places the splits, the other fills the leaves.
    pub honesty: bool,
    /// Share of a tree's sample used to place splits when honest.
    pub honesty_fraction: f64,
    /// Prune leaves that the estimation half leaves empty.
    pub honesty_prune_leaves: bool,
    /// Smallest share of the parent a child may hold.
    pub alpha: f64,
    /// Penalty on imbalanced splits.
    pub imbalance_penalty: f64,
    /// Trees per little bag for variance estimates (1 turns variance off).
    pub ci_group_size: usize,
    /// Trees in each nuisance forest [default: max(50, num_trees / 4)].
    pub nuisance_trees: Option<usize>,
}

impl Default for ForestParams {
    fn default() -> Self {
        ForestParams {
            num_trees: 2000,
            sample_fraction: 0.5,
            mtry: None,
            min_node_size: 5,
            honesty: true,
            honesty_fraction: 0.5,
            honesty_prune_leaves: true,
            alpha: 0.05,
            imbalance_penalty: 0.0,
            ci_group_size: 2,
            nuisance_trees: None,
        }
    }
}

impl ForestParams {
    /// Checks ranges, with what to change.
    pub fn validate(&self) -> Result<()> {
        let bad = |m: String| Err(Error::Estimate(m));
        if !(1..=MAX_TREES).contains(&self.num_trees) {
            return bad(format!(
                "num_trees is {}; it must lie between 1 and {MAX_TREES}",
                self.num_trees
            ));
        }
        if let Some(trees) = self.nuisance_trees.filter(|t| !(1..=MAX_TREES).contains(t)) {
            return bad(format!(
                "nuisance_trees is {trees}; it must lie between 1 and {MAX_TREES}"
            ));
        }
        if self.ci_group_size == 0 {
            return bad("ci_group_size must be at least 1".into());
        }
        if !self.num_trees.is_multiple_of(self.ci_group_size) {
            return bad(format!(
                "num_trees ({}) must be a multiple of ci_group_size ({})",
                self.num_trees, self.ci_group_size
            ));
        }
        if !(self.sample_fraction > 0.0 && self.sample_fraction <= 1.0) {
            return bad(format!(
                "sample_fraction is {}; it must lie in (0, 1]",
                number(self.sample_fraction)
            ));
        }
        if self.ci_group_size > 1 && self.sample_fraction > 0.5 {
            return bad(format!(
                "sample_fraction is {}; with ci_group_size > 1 it must be at most 0.5",
                number(self.sample_fraction)
            ));
        }
        if !(self.honesty_fraction > 0.0 && self.honesty_fraction < 1.0) {
            return bad(format!(
                "honesty_fraction is {}; it must lie in (0, 1)",
                number(self.honesty_fraction)
            ));
        }
        if !(0.0..0.25).contains(&self.alpha) {
            return bad(format!(
                "alpha is {}; it must lie in [0, 0.25)",
                number(self.alpha)
            ));
        }
        if self.imbalance_penalty < 0.0 || !self.imbalance_penalty.is_finite() {
            return bad(format!(
                "imbalance_penalty is {}; it must be >= 0",
                number(self.imbalance_penalty)
            ));
        }
        if self.mtry == Some(0) {
            return bad("mtry must be at least 1".into());
        }
        if self.min_node_size > MAX_NODE_SIZE {
            return bad(format!(
                "min_node_size is {}; it must be at most {MAX_NODE_SIZE}",
                self.min_node_size
            ));
        }
        Ok(())
    }

    /// grf's default mtry for `p` features, or the setting.
    pub fn mtry_for(&self, p: usize) -> usize {
        self.mtry
            .unwrap_or_else(|| ((p as f64).sqrt() + 20.0).ceil() as usize)
            .clamp(1, p.max(1))
    }

    /// Settings for a nuisance forest: grf's `max(50, num_trees / 4)` trees,
    /// no little bags (no variance needed).
    pub fn nuisance(&self) -> ForestParams {
        ForestParams {
            num_trees: self.nuisance_trees.unwrap_or((self.num_trees / 4).max(50)),
            ci_group_size: 1,
            ..self.clone()
        }
    }

    fn tree_settings(&self, p: usize) -> TreeSettings {
        TreeSettings {
            mtry: self.mtry_for(p),
            min_node_size: self.min_node_size,
            alpha: self.alpha,
            imbalance_penalty: self.imbalance_penalty,
            honesty: self.honesty,
            honesty_fraction: self.honesty_fraction,
            prune_empty_leaves: self.honesty_prune_leaves,
        }
    }
}

/// Which training units a tree was drawn on, as a bitset (for out-of-bag prediction).
#[derive(Debug, Clone)]
struct InBag(Vec<u64>);

impl InBag {
    fn new(n: usize, members: &[u32]) -> Self {
        let mut bits = vec![0u64; n.div_ceil(64)];
        for &i in members {
            bits[i as usize / 64] |= 1 << (i % 64);
        }
        InBag(bits)
    }

    #[inline]
    fn contains(&self, i: usize) -> bool {
        self.0[i / 64] >> (i % 64) & 1 == 1
    }
}

/// How many of `n` units a little bag holds and how many of those each of
/// its trees draws (grf's half-sampling; without little bags, each tree
/// draws `sample_fraction` of all units).
fn sample_sizes(n: usize, params: &ForestParams) -> Result<(usize, usize)> {
    let bag = if params.ci_group_size > 1 { n / 2 } else { n };
    let per_tree = if params.ci_group_size > 1 {
        ((bag as f64 * params.sample_fraction * 2.0) as usize).min(bag)
    } else {
        (n as f64 * params.sample_fraction) as usize
    };
    if per_tree < 2 {
        return Err(Error::Estimate(format!(
            "{n} units are too few to grow trees on a sample fraction of {}",
            params.sample_fraction
        )));
    }
    Ok((bag, per_tree))
}

/// A trained forest.
#[derive(Debug, Clone)]
pub struct Forest {
    trees: Vec<Tree>,
    in_bag: Vec<InBag>,
    /// Numbers per leaf (the split rule's `WIDTH`).
    width: usize,
    group: usize,
    n_train: usize,
    features: usize,
}

/// One point's view of the forest: each tree's leaf values (or `None` where
/// the tree is skipped: out-of-bag prediction, or an empty leaf).
pub type LeafValues<'a> = [Option<&'a [f64]>];

impl Forest {
    /// Grows the forest on binned features under `rule` (which holds the
    /// targets); results depend only on the data, the settings and `seed`
    /// (not on the thread count).
    pub fn train<R: SplitRule>(
        x: &Binned,
        rule: R,
        params: &ForestParams,
        seed: u64,
    ) -> Result<Forest> {
        params.validate()?;
        if x.features() > MAX_FEATURES {
            return Err(Error::Estimate(format!(
                "{} features are more than a tree can split on ({MAX_FEATURES})",
                x.features()
            )));
        }
        let n = x.rows();
        let settings = params.tree_settings(x.features());
        let group = params.ci_group_size;
        let groups = params.num_trees / group;
        let (bag, per_tree) = sample_sizes(n, params)?;
        let grown: Vec<Vec<(Tree, InBag)>> = (0..groups)
            .into_par_iter()
            .map_init(
                || {
                    let scratch: Scratch<R::Sample, R::Extra> = Scratch::new(x.features());
                    (scratch, Vec::new(), Vec::new())
                },
                |(scratch, all, drawn), g| {
                    let mut rng = ChaCha8Rng::seed_from_u64(mix(seed ^ mix(g as u64)));
                    all.clear();
                    all.extend(0..n as u32);
                    let (half, _) = all.partial_shuffle(&mut rng, bag);
                    let half: Vec<u32> = half.to_vec();
                    (0..group)
                        .map(|_| {
                            drawn.clear();
                            drawn.extend_from_slice(&half);
                            let (tree_sample, _) = drawn.partial_shuffle(&mut rng, per_tree);
                            let in_bag = InBag::new(n, tree_sample);
                            let tree_seed: u64 = rng.random();
                            let mut tree_rng = ChaCha8Rng::seed_from_u64(tree_seed);
                            let tree =
                                grow(x, &rule, &settings, tree_sample, &mut tree_rng, scratch);
                            (tree, in_bag)
                        })
                        .collect()
                },
            )
            .collect();
        let (trees, in_bag) = grown.into_iter().flatten().unzip();
        Ok(Forest {
            trees,
            in_bag,
            width: R::WIDTH,
            group,
            n_train: n,
            features: x.features(),
        })
    }

    /// Number of features the forest was grown on.
    pub fn features(&self) -> usize {
        self.features
    }

    /// Number of training rows.
    pub fn rows(&self) -> usize {
        self.n_train
    }

    /// Number of trees.
    pub fn trees(&self) -> usize {
        self.trees.len()
    }

    /// Trees per little bag.
    pub fn group_size(&self) -> usize {
        self.group
    }

    /// Tree `t` (trees `g * group_size()..(g + 1) * group_size()` form little bag `g`).
    pub fn tree(&self, t: usize) -> &Tree {
        &self.trees[t]
    }

    /// Applies `strategy` to each point's leaf values, in parallel over
    /// chunks of points. With `oob`, the points are the training units and
    /// trees that drew a unit are skipped for it.
    pub fn map_points<R, F>(&self, points: &Binned, oob: bool, strategy: F) -> Vec<R>
    where
        R: Send,
        F: Fn(&LeafValues<'_>) -> R + Sync,
    {
        const CHUNK: usize = 128;
        let width = self.width;
        let n = points.rows();
        let b = self.trees.len();
        let starts: Vec<usize> = (0..n).step_by(CHUNK).collect();
        starts
            .par_iter()
            .map_init(
                || (Vec::new(), Vec::new()),
                |(leaves, slots), &start| {
                    let end = (start + CHUNK).min(n);
                    leaves.clear();
                    leaves.resize(b * (end - start), u32::MAX);
                    for (t, tree) in self.trees.iter().enumerate() {
                        for r in 0..end - start {
                            if oob && self.in_bag[t].contains(start + r) {
                                continue;
                            }
                            let row = points.row(start + r);
                            leaves[r * b + t] = tree.leaf(|j| row[j]) as u32;
                        }
                    }
                    (0..end - start)
                        .map(|r| {
                            slots.clear();
                            slots.extend(self.trees.iter().enumerate().map(|(t, tree)| {
                                let leaf = leaves[r * b + t];
                                (leaf != u32::MAX)
                                    .then(|| tree.values(leaf as usize, width))
                                    .flatten()
                            }));
                            strategy(slots)
                        })
                        .collect::<Vec<R>>()
                },
            )
            .flatten()
            .collect()
    }

    /// Forest weights of one point (its codes, one per feature): each
    /// training unit's share `alpha_i = mean over trees of 1{i in leaf} / |leaf|`,
    /// over trees whose leaf is not empty. Sorted by unit; the weights sum to one.
    pub fn weights(&self, codes: &[u8]) -> Vec<(usize, f64)> {
        let mut dense = vec![0.0; self.n_train];
        let mut used = 0usize;
        for tree in &self.trees {
            let members = tree.samples(tree.leaf(|j| codes[j]));
            if members.is_empty() {
                continue;
            }
            used += 1;
            let share = 1.0 / members.len() as f64;
            for &i in members {
                dense[i as usize] += share;
            }
        }
        let scale = 1.0 / used.max(1) as f64;
        dense
            .into_iter()
            .enumerate()
            .filter(|(_, w)| *w > 0.0)
            .map(|(i, w)| (i, w * scale))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::estimate::forest::rules::Regression;

    /// `n` rows of three 16-bin features and an outcome that steps on the first.
    fn data(n: usize) -> (Binned, Vec<f64>) {
        let codes = (0..n)
            .flat_map(|i| {
                [
                    (i % 16) as u8,
                    ((i * 5 + 3) % 16) as u8,
                    ((i / 16) % 16) as u8,
                ]
            })
            .collect();
        let x = Binned::from_codes(n, codes, vec![16; 3]).expect("codes");
        let y = (0..n)
            .map(|i| f64::from(u8::from(i % 16 > 7)) + ((i * 7919) % 100) as f64 / 200.0)
            .collect();
        (x, y)
    }

    fn params(num_trees: usize, ci_group_size: usize, sample_fraction: f64) -> ForestParams {
        ForestParams {
            num_trees,
            ci_group_size,
            sample_fraction,
            ..ForestParams::default()
        }
    }

    fn predictions(forest: &Forest, x: &Binned, oob: bool) -> Vec<u64> {
        forest.map_points(x, oob, |v| {
            let used: Vec<&[f64]> = v.iter().flatten().copied().collect();
            (used.iter().map(|l| l[0]).sum::<f64>() / used.len() as f64).to_bits()
        })
    }

    #[test]
    fn a_seed_fixes_the_forest_whatever_the_threads() {
        let (x, y) = data(500);
        let p = params(20, 2, 0.5);
        let train = |seed| Forest::train(&x, Regression { y: &y }, &p, seed).expect("forest");
        let a = predictions(&train(7), &x, false);
        let one = rayon::ThreadPoolBuilder::new()
            .num_threads(1)
            .build()
            .expect("pool")
            .install(|| predictions(&train(7), &x, false));
        assert_eq!(a, one);
        assert_ne!(a, predictions(&train(8), &x, false));
    }

    #[test]
    fn out_of_bag_predictions_skip_the_trees_that_drew_a_unit() {
        let (x, y) = data(400);
        let forest =
            Forest::train(&x, Regression { y: &y }, &params(10, 1, 0.5), 3).expect("forest");
        let skipped: Vec<Vec<bool>> =
            forest.map_points(&x, true, |v| v.iter().map(Option::is_none).collect());
        let mut drawn = 0;
        for (i, skips) in skipped.iter().enumerate() {
            for (t, &skip) in skips.iter().enumerate() {
                let in_bag = forest.in_bag[t].contains(i);
                drawn += usize::from(in_bag);
                // Pruned trees have no empty leaves: a tree is skipped exactly where it drew the unit.
                assert_eq!(skip, in_bag, "unit {i} tree {t}");
            }
        }
        // Each tree draws half the units.
        assert_eq!(drawn, 10 * 200);
        let all = forest.map_points(&x, false, |v| v.iter().all(Option::is_some));
        assert!(all.iter().all(|&a| a));
    }

    #[test]
    fn little_bags_draw_their_trees_from_one_half_sample() {
        let n = 400;
        let (x, y) = data(n);
        let forest =
            Forest::train(&x, Regression { y: &y }, &params(12, 3, 0.3), 5).expect("forest");
        assert_eq!((forest.trees(), forest.group_size()), (12, 3));
        let members =
            |t: usize| -> Vec<usize> { (0..n).filter(|&i| forest.in_bag[t].contains(i)).collect() };
        for g in 0..4 {
            let mut union: Vec<usize> = (0..3).flat_map(|k| members(g * 3 + k)).collect();
            union.sort_unstable();
            union.dedup();
            // Each tree draws 0.3 * 2 of the bag's n / 2 units; the bag's trees stay within it.
            assert!((0..3).all(|k| members(g * 3 + k).len() == 120));
            assert!(union.len() <= n / 2, "bag {g}: {} units", union.len());
            assert!(union.len() > 120, "bag {g}: its trees draw different units");
        }
        let (a, b) = (members(0), members(3));
        let shared = a.iter().filter(|i| b.binary_search(i).is_ok()).count();
        assert!(shared < a.len(), "bags draw their own halves");
    }
}
