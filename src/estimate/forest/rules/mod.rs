//! Split rules: what a forest's trees split on and what their leaves store.
//!
//! A tree grower ([`super::tree::grow`]) is generic over a [`SplitRule`] and
//! monomorphized for each, so the histogram split search runs without
//! dynamic dispatch. At each node the rule *relabels* the node's samples
//! (grf's pseudo-outcomes: the outcome itself for regression, the IV
//! gradient for causal and instrumental forests) together with per-sample
//! values of its own; the search *accumulates* them into per-bin sufficient
//! statistics, scans the bins left to right and asks the rule whether each
//! boundary is admissible and at what penalty; the criterion is
//! `S_L²/n_L + S_R²/n_R - penalty` on the pseudo-outcome sums (grf's) unless
//! the rule brings its own ([`SplitRule::criterion`]: the exact local moment
//! of [`Moment`]). Finally the rule computes the *leaf values* each leaf
//! stores for prediction.

mod instrumental;
mod moment;
mod regression;

pub use instrumental::Instrumental;
pub use moment::Moment;
pub use regression::Regression;

use super::tree::TreeSettings;

/// Sums over a set of samples (a histogram bin, a node, a child): their
/// count, the sum of their pseudo-outcomes, and the rule's own sums.
#[derive(Debug, Clone, Copy, Default)]
pub struct Sums<E> {
    /// Number of samples.
    pub n: u32,
    /// Sum of their pseudo-outcomes.
    pub sum: f64,
    /// The rule's own sufficient statistics.
    pub extra: E,
}

/// One sample's relabeled values at a node: its pseudo-outcome and the
/// rule's own per-sample values, computed once per node rather than once
/// per feature tried.
#[derive(Debug, Clone, Copy, Default)]
pub struct Label<S> {
    /// The pseudo-outcome whose sums the split criterion compares.
    pub rho: f64,
    /// The rule's own values for this sample.
    pub own: S,
}

/// A rule's verdict on one candidate boundary of a left-to-right bin scan.
#[derive(Debug, Clone, Copy)]
pub enum Candidate {
    /// Not admissible; later boundaries may be.
    Skip,
    /// Not admissible, and no later boundary of this feature is either.
    Stop,
    /// Admissible, at this penalty on the criterion.
    Penalty(f64),
}

/// What a tree's splits optimize and what its leaves store. One impl makes
/// a forest type: the grower, the forest and the predictions are generic
/// over it. The split rule holds the per-sample data it reads (indexed by
/// training row).
pub trait SplitRule: Copy + Send + Sync {
    /// How many numbers a leaf stores.
    const WIDTH: usize;
    /// The rule's own per-sample values at a node (beyond the pseudo-outcome).
    type Sample: Copy + Default + Send;
    /// The rule's own per-bin sufficient statistics (beyond count and sum).
    type Extra: Copy + Default + Send;
    /// Per-node constants of the admissibility checks, computed once per node.
    type Limits: Copy;

    /// Writes the pseudo-outcomes of the node's samples `idx` (in order)
    /// into `labels` and returns the node's sums; `None` when the node
    /// cannot be split (pure, degenerate, or too small for the rule).
    fn relabel(
        &self,
        idx: &[u32],
        min_node_size: usize,
        labels: &mut Vec<Label<Self::Sample>>,
    ) -> Option<Sums<Self::Extra>>;

    /// Adds one sample's own values to a bin's statistics.
    fn accumulate(bin: &mut Self::Extra, sample: &Self::Sample);

    /// Adds a bin's statistics to the running left child's.
    fn combine(left: &mut Self::Extra, bin: &Self::Extra);

    /// Takes a bin's statistics out of a node's: a sparse feature's default
    /// bin is the node less its other bins.
    fn remove(from: &mut Self::Extra, bin: &Self::Extra);

    /// The node's constants for [`SplitRule::admit`].
    fn limits(s: &TreeSettings, node: &Sums<Self::Extra>) -> Self::Limits;

    /// Whether the split with left child `left` (the rest of `node` going
    /// right) is admissible, and its penalty; `inv_l` and `inv_r` are the
    /// reciprocals of the children's counts.
    fn admit(
        limits: &Self::Limits,
        node: &Sums<Self::Extra>,
        left: &Sums<Self::Extra>,
        inv_l: f64,
        inv_r: f64,
    ) -> Candidate;

    /// The criterion a split with left child `left` scores (larger is
    /// better; the penalty is subtracted after): by default grf's
    /// `S_L²/n_L + S_R²/n_R` on the pseudo-outcome sums, which a split must
    /// raise above the node's own `S²/n` (zero at grf's pseudo-outcomes,
    /// whose node sum vanishes) to be taken.
    #[inline(always)]
    fn criterion(
        _limits: &Self::Limits,
        node: &Sums<Self::Extra>,
        left: &Sums<Self::Extra>,
        inv_l: f64,
        inv_r: f64,
    ) -> f64 {
        let sum_right = node.sum - left.sum;
        left.sum * left.sum * inv_l + sum_right * sum_right * inv_r
    }

    /// Writes the leaf's [`SplitRule::WIDTH`] values from its (non-empty)
    /// estimation samples `members` into `out`.
    fn leaf_values(&self, members: &[u32], out: &mut [f64]);
}
