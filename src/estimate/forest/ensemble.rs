//! A forest of honest trees: subsampling in little bags (grf's
//! `ci_group_size`), parallel growth with one seed per tree group,
//! out-of-bag and new-point prediction, and forest weights. Growth is
//! generic over the split rule; a grown forest is not (its leaves hold the
//! rule's numbers, `width` per leaf).

use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rayon::prelude::*;

use super::params::ForestParams;
use super::rules::SplitRule;
use super::tree::{grow, Scratch, Tree, TreeSettings, MAX_FEATURES};
use crate::core::seed::mix;
use crate::core::text::number;
use crate::data::binning::Binned;
use crate::data::Clusters;
use crate::{Error, Result};

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

/// How many of `n` sampling units (units, or clusters when the forest has
/// them) a little bag holds and how many of those each of its trees draws
/// (grf's half-sampling; without little bags, each tree draws
/// `sample_fraction` of all of them).
fn sample_sizes(n: usize, params: &ForestParams, what: &str) -> Result<(usize, usize)> {
    let bag = if params.ci_group_size > 1 { n / 2 } else { n };
    let per_tree = if params.ci_group_size > 1 {
        ((bag as f64 * params.sample_fraction * 2.0) as usize).min(bag)
    } else {
        (n as f64 * params.sample_fraction) as usize
    };
    if per_tree < 2 {
        return Err(Error::Estimate(format!(
            "{n} {what} are too few to grow trees on a sample fraction of {}",
            number(params.sample_fraction)
        )));
    }
    Ok((bag, per_tree))
}

/// How many of a tree's `drawn` sampling units place its splits: the
/// first `honesty_fraction` of them when honest (at least one), all of
/// them otherwise.
fn honesty_split(drawn: usize, settings: &TreeSettings) -> usize {
    if settings.honesty {
        ((drawn as f64 * settings.honesty_fraction) as usize).clamp(1, drawn)
    } else {
        drawn
    }
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
    /// targets); results depend only on the data, the settings, the
    /// clusters and `seed` (not on the thread count).
    ///
    /// With `clusters`, trees draw whole clusters as grf does: the little
    /// bags' halves, each tree's subsample and its honesty halves are sets
    /// of clusters, every unit of a drawn cluster is in the tree's bag, and
    /// a unit is out of bag only where its cluster was not drawn.
    pub fn train<R: SplitRule>(
        x: &Binned,
        rule: R,
        params: &ForestParams,
        clusters: Option<&Clusters>,
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
        if let Some(c) = clusters.filter(|c| c.units() != n) {
            return Err(Error::Data(format!(
                "{} units have a cluster but the forest has {n} rows",
                c.units()
            )));
        }
        let settings = params.tree_settings(x.features());
        let group = params.ci_group_size;
        let groups = params.num_trees / group;
        let (units, what) = clusters.map_or((n, "units"), |c| (c.count(), "clusters"));
        let (bag, per_tree) = sample_sizes(units, params, what)?;
        let grown: Vec<Vec<(Tree, InBag)>> = (0..groups)
            .into_par_iter()
            .map_init(
                || {
                    let scratch: Scratch<R::Sample, R::Extra> = Scratch::new(x.features());
                    (scratch, Vec::new(), Vec::new(), Vec::new())
                },
                |(scratch, all, drawn, expanded), g| {
                    let mut rng = ChaCha8Rng::seed_from_u64(mix(seed ^ mix(g as u64)));
                    all.clear();
                    all.extend(0..units as u32);
                    let (half, _) = all.partial_shuffle(&mut rng, bag);
                    let half: Vec<u32> = half.to_vec();
                    (0..group)
                        .map(|_| {
                            drawn.clear();
                            drawn.extend_from_slice(&half);
                            let (tree_draw, _) = drawn.partial_shuffle(&mut rng, per_tree);
                            let split = honesty_split(tree_draw.len(), &settings);
                            let (sample, split) = match clusters {
                                None => (tree_draw, split),
                                Some(c) => {
                                    expanded.clear();
                                    for &k in &tree_draw[..split] {
                                        expanded.extend_from_slice(c.members(k as usize));
                                    }
                                    let grow_units = expanded.len();
                                    for &k in &tree_draw[split..] {
                                        expanded.extend_from_slice(c.members(k as usize));
                                    }
                                    (&mut expanded[..], grow_units)
                                }
                            };
                            let in_bag = InBag::new(n, sample);
                            let tree_seed: u64 = rng.random();
                            let mut tree_rng = ChaCha8Rng::seed_from_u64(tree_seed);
                            let tree =
                                grow(x, &rule, &settings, (sample, split), &mut tree_rng, scratch);
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
                || (Vec::new(), Vec::new(), Vec::new()),
                |(leaves, slots, rows), &start| {
                    let end = (start + CHUNK).min(n);
                    let p = points.features();
                    rows.resize(p * (end - start), 0);
                    for r in 0..end - start {
                        points.row_into(start + r, &mut rows[r * p..(r + 1) * p]);
                    }
                    leaves.clear();
                    leaves.resize(b * (end - start), u32::MAX);
                    for (t, tree) in self.trees.iter().enumerate() {
                        for r in 0..end - start {
                            if oob && self.in_bag[t].contains(start + r) {
                                continue;
                            }
                            let row = &rows[r * p..(r + 1) * p];
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

    /// Three dense features and 40 binary ones, each on 1-4% of the rows;
    /// an outcome and a treatment that depend on both kinds.
    fn wide(n: usize) -> (Binned, Vec<f64>, Vec<f64>) {
        let mut codes = Vec::with_capacity(n * 43);
        for i in 0..n {
            codes.extend([
                (i % 16) as u8,
                ((i * 5 + 3) % 16) as u8,
                ((i / 16) % 16) as u8,
            ]);
            codes.extend((0..40).map(|j| u8::from((i * 7 + j * 13) % (25 + j * 2) == 0)));
        }
        let x = Binned::from_codes(n, codes, [vec![16; 3], vec![2; 40]].concat()).expect("codes");
        let y = (0..n)
            .map(|i| {
                f64::from(x.code(i, 3))
                    + 0.5 * f64::from(x.code(i, 0) > 7)
                    + ((i * 7919) % 100) as f64 / 200.0
            })
            .collect();
        let w = (0..n)
            .map(|i| f64::from(u8::from((i * 31) % 7 < 3)))
            .collect();
        (x, y, w)
    }

    #[test]
    fn sparse_and_dense_layouts_grow_the_same_forests() {
        use crate::estimate::forest::rules::Instrumental;
        let (x, y, w) = wide(2000);
        assert!((3..43).all(|j| x.is_sparse(j)) && (0..3).all(|j| !x.is_sparse(j)));
        let dense = x.laid_out(false);
        let p = params(50, 2, 0.5);
        for oob in [false, true] {
            let regression = |x: &Binned| {
                let forest = Forest::train(x, Regression { y: &y }, &p, None, 3).expect("forest");
                predictions(&forest, x, oob)
            };
            let (a, b) = (regression(&x), regression(&dense));
            let differ = a.iter().zip(&b).filter(|(a, b)| a != b).count();
            assert_eq!(differ, 0, "of {} predictions", a.len());
            let causal = |x: &Binned| {
                let rule = Instrumental::causal(&y, &w);
                let forest = Forest::train(x, rule, &p, None, 3).expect("forest");
                predictions(&forest, x, oob)
            };
            let (a, b) = (causal(&x), causal(&dense));
            let differ = a.iter().zip(&b).filter(|(a, b)| a != b).count();
            assert_eq!(differ, 0, "of {} predictions", a.len());
        }
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
        let train = |seed| Forest::train(&x, Regression { y: &y }, &p, None, seed).expect("forest");
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
            Forest::train(&x, Regression { y: &y }, &params(10, 1, 0.5), None, 3).expect("forest");
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
            Forest::train(&x, Regression { y: &y }, &params(12, 3, 0.3), None, 5).expect("forest");
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

    /// Clusters of `size` consecutive units.
    fn blocks(n: usize, size: usize) -> Clusters {
        let labels: Vec<usize> = (0..n).map(|i| i / size).collect();
        Clusters::from_labels(&labels).expect("clusters")
    }

    /// A forest on `data(n)` grown over clusters of `size` consecutive
    /// units, with the data and the clusters.
    fn clustered(n: usize, size: usize, p: &ForestParams, seed: u64) -> (Binned, Forest, Clusters) {
        let (x, y) = data(n);
        let clusters = blocks(n, size);
        let forest =
            Forest::train(&x, Regression { y: &y }, p, Some(&clusters), seed).expect("forest");
        (x, forest, clusters)
    }

    #[test]
    fn clustered_trees_keep_each_cluster_on_one_side_of_the_honesty_split() {
        let n = 600;
        let (_, forest, clusters) = clustered(n, 7, &params(40, 2, 0.5), 11);
        for t in 0..forest.trees() {
            let tree = forest.tree(t);
            let mut estimation = vec![false; n];
            for leaf in 0..tree.leaves() {
                for &i in tree.samples(leaf) {
                    estimation[i as usize] = true;
                }
            }
            let in_bag = |i: usize| forest.in_bag[t].contains(i);
            for c in 0..clusters.count() {
                let members = clusters.members(c);
                let bagged = members.iter().filter(|&&i| in_bag(i as usize)).count();
                let estimating = members.iter().filter(|&&i| estimation[i as usize]).count();
                // A cluster is drawn whole or not at all, and a drawn cluster
                // either places splits or fills leaves, never both.
                assert!(
                    bagged == 0 || bagged == members.len(),
                    "tree {t} cluster {c}"
                );
                assert!(
                    estimating == 0 || estimating == bagged,
                    "tree {t} cluster {c}: {estimating} of {bagged} drawn units fill leaves"
                );
            }
            let drawn = (0..n).filter(|&i| in_bag(i)).count();
            let filling = estimation.iter().filter(|&&e| e).count();
            assert!(
                filling > 0 && filling < drawn,
                "tree {t}: both halves hold units"
            );
        }
    }

    #[test]
    fn clustered_out_of_bag_predictions_skip_every_tree_that_drew_a_cluster_mate() {
        let (n, size) = (500, 5);
        let (x, forest, clusters) = clustered(n, size, &params(20, 1, 0.5), 4);
        let skipped: Vec<Vec<bool>> =
            forest.map_points(&x, true, |v| v.iter().map(Option::is_none).collect());
        for (i, skips) in skipped.iter().enumerate() {
            let mates = clusters.members(clusters.of(i));
            for (t, &skip) in skips.iter().enumerate() {
                let mate_drawn = mates.iter().any(|&j| forest.in_bag[t].contains(j as usize));
                assert_eq!(skip, mate_drawn, "unit {i} tree {t}");
            }
        }
        // Half of the 100 clusters per tree, whole.
        let drawn: usize = (0..forest.trees())
            .map(|t| (0..n).filter(|&i| forest.in_bag[t].contains(i)).count())
            .sum();
        assert_eq!(drawn, 20 * 50 * size);
    }

    #[test]
    fn singleton_clusters_grow_the_unclustered_forest() {
        let n = 300;
        let (x, y) = data(n);
        let p = params(10, 2, 0.5);
        let plain = Forest::train(&x, Regression { y: &y }, &p, None, 9).expect("forest");
        let singletons = blocks(n, 1);
        let clustered =
            Forest::train(&x, Regression { y: &y }, &p, Some(&singletons), 9).expect("forest");
        assert_eq!(
            predictions(&plain, &x, true),
            predictions(&clustered, &x, true)
        );
        let few = blocks(n, 100);
        let err = Forest::train(&x, Regression { y: &y }, &params(10, 2, 0.2), Some(&few), 9)
            .expect_err("three clusters are too few");
        assert!(err.to_string().contains("3 clusters are too few"), "{err}");
    }
}
