//! Forest settings with grf's defaults and their ranges: the same keys
//! configure every forest estimator, the nuisance forests and the paper's
//! pipeline.

use serde::{Deserialize, Serialize};

use super::tree::TreeSettings;
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
    /// Sample the data's clusters whole (grf's `clusters`: a hospital-day,
    /// or `causim fit --cluster`) when it has them; `false` ignores them,
    /// as grf does without a `clusters` argument.
    pub clusters: bool,
    /// How the main forest of a causal or instrumental forest scores a
    /// split (its auxiliary compliance and ITT forests keep grf's): grf's
    /// `"gradient"` (pseudo-outcomes linearized at the parent's estimate)
    /// or `"moment"` (the local IV moment solved exactly in each child).
    pub criterion: Criterion,
    /// Choose `min_node_size`, `sample_fraction` and `mtry` by out-of-bag
    /// error before growing (grf's `tune.parameters`; causal and
    /// instrumental forests): the settings given are the defaults a draw
    /// must beat.
    pub tune: bool,
    /// Trees in each small forest tuning grows.
    pub tune_trees: usize,
    /// Settings tuning draws and judges.
    pub tune_draws: usize,
}

/// How a causal or instrumental forest's trees score a candidate split.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Criterion {
    /// grf's: the squared sums of the IV gradient pseudo-outcomes at the
    /// parent's estimate, a linear approximation of the children's fit.
    #[default]
    Gradient,
    /// The exact local moment: each child's IV estimate solved from its
    /// own sums, the split scored by the moment's fit it gains
    /// (`A_L²/B_L + A_R²/B_R - A²/B`).
    Moment,
}

/// Default `tune_trees`: grf's `tune.num.trees`.
pub const TUNE_TREES: usize = 200;

/// Default `tune_draws`: fewer than grf's 50 `tune.num.reps`, since causim
/// compares the draws as measured rather than through a fitted surrogate,
/// and each is a forest to grow.
pub const TUNE_DRAWS: usize = 16;

/// Most settings tuning may draw.
pub const MAX_TUNE_DRAWS: usize = 1000;

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
            clusters: true,
            criterion: Criterion::Gradient,
            tune: false,
            tune_trees: TUNE_TREES,
            tune_draws: TUNE_DRAWS,
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
        if !(10..=MAX_TREES).contains(&self.tune_trees) {
            return bad(format!(
                "tune_trees is {}; it must lie between 10 and {MAX_TREES}",
                self.tune_trees
            ));
        }
        if !(1..=MAX_TUNE_DRAWS).contains(&self.tune_draws) {
            return bad(format!(
                "tune_draws is {}; it must lie between 1 and {MAX_TUNE_DRAWS}",
                self.tune_draws
            ));
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
    /// no little bags (no variance needed), never tuned.
    pub fn nuisance(&self) -> ForestParams {
        ForestParams {
            num_trees: self.nuisance_trees.unwrap_or((self.num_trees / 4).max(50)),
            ci_group_size: 1,
            tune: false,
            ..self.clone()
        }
    }

    /// The settings each tree of a forest on `p` features is grown with.
    pub(super) fn tree_settings(&self, p: usize) -> TreeSettings {
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
