//! Walking batches of monotone paths through a tree at once
//! ([`Tree::segments`]), for predictions along paths.

use super::{Node, Tree, FILLED_LEAF};

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
    /// Number of paths.
    fn paths(&self) -> usize {
        self.starts.len().saturating_sub(1)
    }

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

impl Tree {
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
        self.reach_leaves(batch, walks);
        group_by_path(batch.paths(), &walks.hits, &mut walks.counts, out, ranges);
    }

    /// Sends every path's steps down to the leaves, collecting the runs
    /// that reach each leaf in `walks.hits`.
    fn reach_leaves(&self, batch: &PathBatch<'_>, walks: &mut Walks) {
        let Walks {
            items, stack, hits, ..
        } = walks;
        items.clear();
        items.extend((0..batch.paths()).filter_map(|r| {
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
                    let (lo, hi, leaf) = (it.lo, it.hi, node.child);
                    (
                        it.path,
                        Segment {
                            lo,
                            hi,
                            leaf,
                            filled,
                        },
                    )
                }));
                continue;
            }
            let top = end;
            let (nl, nr) = split_items(batch, node, items, start, end);
            if nr > 0 {
                stack.push((node.child + 1, top as u32, (top + nr) as u32));
            }
            if nl > 0 {
                stack.push((node.child, (top + nr) as u32, (top + nr + nl) as u32));
            }
        }
    }
}

/// Sorts the items `start..end` (the last live ones) at internal node
/// `node` to its children: their items go above them, the right child's
/// first, then the left's (written to both places, without branches, and
/// moved down after). Returns the counts going left and right.
#[inline]
fn split_items(
    batch: &PathBatch<'_>,
    node: Node,
    items: &mut Vec<Item>,
    start: usize,
    end: usize,
) -> (usize, usize) {
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
        let paths = batch.paths();
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
                // A monotone run lies between its end codes; the steps
                // going the first step's way form a prefix.
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
    (nl, nr)
}

/// Groups the runs `hits` by path (a counting sort), each path's by step,
/// appending them to `out` with each path's range in `ranges`.
fn group_by_path(
    paths: usize,
    hits: &[(u32, Segment)],
    counts: &mut Vec<u32>,
    out: &mut Vec<Segment>,
    ranges: &mut Vec<(u32, u32)>,
) {
    counts.clear();
    counts.resize(paths + 1, 0);
    for &(r, _) in hits {
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
    for &(r, segment) in hits {
        out[first + counts[r as usize] as usize] = segment;
        counts[r as usize] += 1;
    }
    for &(from, to) in ranges.iter() {
        out[from as usize..to as usize].sort_unstable_by_key(|s| s.lo);
    }
}
