//! One honest tree, grown on bin codes with per-node histograms.
//!
//! The split search follows grf: at each node the targets are relabeled by
//! the tree's [`SplitRule`](super::rules::SplitRule), a Poisson(mtry)
//! number of features is drawn, and the split maximizing
//! `S_L²/n_L + S_R²/n_R` (minus the rule's penalty) is taken, subject to
//! the rule's child-size checks ([`grow()`]). The split half of the tree's
//! sample grows it; the other half populates the leaves (honesty), and
//! leaves left empty by that half are pruned away. Points walk down one at
//! a time ([`Tree::leaf`]) or as batches of monotone paths ([`walk`]).

mod grow;
mod walk;

pub use grow::{grow, Scratch};
pub use walk::{PathBatch, Segment, Walks, FIXED};

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

/// The leaf (its index) that a point with codes `code(feature)` reaches in `nodes`.
#[inline]
fn descend(nodes: &[Node], code: impl Fn(usize) -> u8) -> usize {
    let mut node = nodes[0];
    while !node.is_leaf() {
        node = nodes[node.next(code(node.feature())) as usize];
    }
    node.child as usize
}

/// A grown tree: its nodes, and for each leaf the estimation samples in it
/// and the leaf's values (the split rule's `WIDTH` numbers per leaf).
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
        descend(&self.nodes, code)
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
}
