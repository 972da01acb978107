//! A forest of honest trees: subsampling in little bags (grf's
//! `ci_group_size`), parallel growth with one seed per tree group,
//! out-of-bag and new-point prediction, and forest weights.

use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use super::binning::Binned;
use super::tree::{grow, Rule, Scratch, Targets, Tree, TreeSettings, MAX_FEATURES};
use crate::core::seed::mix;
use crate::{Error, Result};

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
        if self.num_trees == 0 {
            return bad("num_trees must be at least 1".into());
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
                self.sample_fraction
            ));
        }
        if self.ci_group_size > 1 && self.sample_fraction > 0.5 {
            return bad(format!(
                "sample_fraction is {}; with ci_group_size > 1 it must be at most 0.5",
                self.sample_fraction
            ));
        }
        if !(self.honesty_fraction > 0.0 && self.honesty_fraction < 1.0) {
            return bad(format!(
                "honesty_fraction is {}; it must lie in (0, 1)",
                self.honesty_fraction
            ));
        }
        if !(0.0..0.25).contains(&self.alpha) {
            return bad(format!("alpha is {}; it must lie in [0, 0.25)", self.alpha));
        }
        if self.imbalance_penalty < 0.0 || !self.imbalance_penalty.is_finite() {
            return bad(format!(
                "imbalance_penalty is {}; it must be >= 0",
                self.imbalance_penalty
            ));
        }
        if self.mtry == Some(0) {
            return bad("mtry must be at least 1".into());
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

/// A trained forest.
#[derive(Debug, Clone)]
pub struct Forest {
    trees: Vec<Tree>,
    in_bag: Vec<InBag>,
    rule: Rule,
    group: usize,
    n_train: usize,
}

/// One point's view of the forest: each tree's leaf values (or `None` where
/// the tree is skipped: out-of-bag prediction, or an empty leaf).
pub type LeafValues<'a> = [Option<&'a [f64]>];

impl Forest {
    /// Grows the forest on binned features and targets; results depend only
    /// on the data, the settings and `seed` (not on the thread count).
    pub fn train(
        x: &Binned,
        targets: Targets<'_>,
        rule: Rule,
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
        let bag = if group > 1 { n / 2 } else { n };
        let per_tree = if group > 1 {
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
        let grown: Vec<Vec<(Tree, InBag)>> = (0..groups)
            .into_par_iter()
            .map_init(
                || (Scratch::new(x.features()), Vec::new(), Vec::new()),
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
                            let tree = grow(
                                x,
                                targets,
                                rule,
                                &settings,
                                tree_sample,
                                &mut tree_rng,
                                scratch,
                            );
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
            rule,
            group,
            n_train: n,
        })
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
        let width = self.rule.width();
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

/// grf's objective-Bayes correction of a little-bags variance: the
/// method-of-moments estimate `var_between - group_noise` kept from going
/// negative by a uniform prior on [0, inf) for the true variance.
pub fn debias(var_between: f64, group_noise: f64, groups: f64) -> f64 {
    let initial = var_between - group_noise;
    let se = var_between.max(group_noise) * (2.0 / groups).sqrt();
    if se <= 0.0 || !se.is_finite() {
        return initial.max(0.0);
    }
    let ratio = initial / se;
    let numerator = (-ratio * ratio / 2.0).exp() / (2.0 * std::f64::consts::PI).sqrt();
    let denominator = 0.5 * erfc(-ratio / std::f64::consts::SQRT_2);
    initial + se * numerator / denominator
}

/// Complementary error function (W. J. Cody's rational approximations via
/// the Numerical Recipes Chebyshev fit; relative error below 1.2e-7).
pub fn erfc(x: f64) -> f64 {
    let z = x.abs();
    let t = 1.0 / (1.0 + 0.5 * z);
    let r = t
        * (-z * z - 1.265_512_23
            + t * (1.000_023_68
                + t * (0.374_091_96
                    + t * (0.096_784_18
                        + t * (-0.186_288_06
                            + t * (0.278_868_07
                                + t * (-1.135_203_98
                                    + t * (1.488_515_87
                                        + t * (-0.822_152_23 + t * 0.170_872_77)))))))))
            .exp();
    if x >= 0.0 {
        r
    } else {
        2.0 - r
    }
}

/// Mean of each tree's leaf values over the trees that have one; `None` if none do.
pub fn average(values: &LeafValues<'_>, width: usize) -> Option<(Vec<f64>, usize)> {
    let mut sum = vec![0.0; width];
    let mut count = 0;
    for v in values.iter().flatten() {
        for (s, x) in sum.iter_mut().zip(v.iter()) {
            *s += x;
        }
        count += 1;
    }
    (count > 0).then(|| {
        let inv = 1.0 / count as f64;
        (sum.into_iter().map(|s| s * inv).collect(), count)
    })
}

/// Little-bags variance of a scalar prediction built from per-tree scores
/// `psi(values) -> [psi_1, psi_2]` and a quadratic form `q`: grf's
/// between-group and within-group second moments, corrected by [`debias`].
/// Groups with any empty tree are skipped; `None` without usable groups.
pub fn little_bags<const K: usize>(
    values: &LeafValues<'_>,
    group: usize,
    psi: impl Fn(&[f64]) -> [f64; K],
    q: impl Fn(&[[f64; K]; K]) -> f64,
) -> Option<f64> {
    if group < 2 {
        return None;
    }
    let mut total = [[0.0; K]; K];
    let mut between = [[0.0; K]; K];
    let mut good = 0usize;
    for chunk in values.chunks_exact(group) {
        if chunk.iter().any(Option::is_none) {
            continue;
        }
        good += 1;
        let mut mean = [0.0; K];
        for v in chunk.iter().flatten() {
            let s = psi(v);
            for a in 0..K {
                mean[a] += s[a] / group as f64;
                for c in 0..K {
                    total[a][c] += s[a] * s[c];
                }
            }
        }
        for a in 0..K {
            for c in 0..K {
                between[a][c] += mean[a] * mean[c];
            }
        }
    }
    if good == 0 {
        return None;
    }
    let g = good as f64;
    for a in 0..K {
        for c in 0..K {
            total[a][c] /= g * group as f64;
            between[a][c] /= g;
        }
    }
    Some(bag_variance(q(&between), q(&total), group, g))
}

/// The little-bags variance from the between-group and total second
/// moments of a prediction (`var_between`, `var_total`) over `groups` usable
/// groups of `group` trees: the within-group noise is removed and the
/// difference corrected by [`debias`].
pub fn bag_variance(var_between: f64, var_total: f64, group: usize, groups: f64) -> f64 {
    let group_noise = (var_total - var_between) / (group as f64 - 1.0);
    debias(var_between, group_noise, groups)
}
