//! Clusters: groups of units that share unobserved shocks (a hospital-day's
//! patients share its instrument and its busyness), so that estimators
//! sample, leave out and count them together, as grf's `clusters` do.

use std::collections::HashMap;
use std::hash::Hash;

use crate::{Error, Result};

/// A partition of `n` units into clusters, numbered from 0 in order of
/// first appearance, with each cluster's members in increasing order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Clusters {
    /// Each unit's cluster.
    of: Vec<u32>,
    /// Members of cluster `c`: `units[offsets[c]..offsets[c + 1]]`.
    offsets: Vec<u32>,
    units: Vec<u32>,
}

impl Clusters {
    /// Clusters from one label per unit: units with equal labels form a
    /// cluster. Fails for fewer than two clusters (nothing to sample) or
    /// more units than a forest can index.
    pub fn from_labels<T: Hash + Eq>(labels: &[T]) -> Result<Self> {
        if labels.len() >= u32::MAX as usize {
            return Err(Error::Data(format!(
                "{} units are more than clusters can index",
                labels.len()
            )));
        }
        let mut ids: HashMap<&T, u32> = HashMap::new();
        let of: Vec<u32> = labels
            .iter()
            .map(|label| {
                let next = ids.len() as u32;
                *ids.entry(label).or_insert(next)
            })
            .collect();
        let count = ids.len();
        if count < 2 {
            return Err(Error::Data(format!(
                "the cluster column has {count} distinct value{}; clusters need at least two",
                if count == 1 { "" } else { "s" }
            )));
        }
        Ok(Self::from_ids(of, count))
    }

    /// Builds the member lists from dense ids in `0..count`.
    fn from_ids(of: Vec<u32>, count: usize) -> Self {
        let mut offsets = vec![0u32; count + 1];
        for &c in &of {
            offsets[c as usize + 1] += 1;
        }
        for c in 0..count {
            offsets[c + 1] += offsets[c];
        }
        let mut next = offsets.clone();
        let mut units = vec![0u32; of.len()];
        for (i, &c) in of.iter().enumerate() {
            units[next[c as usize] as usize] = i as u32;
            next[c as usize] += 1;
        }
        Clusters { of, offsets, units }
    }

    /// The clusters of the units `rows` (in that order), renumbered: the
    /// clusters of a training subset.
    pub fn select(&self, rows: &[usize]) -> Result<Self> {
        let labels: Vec<u32> = rows.iter().map(|&i| self.of[i]).collect();
        Self::from_labels(&labels)
    }

    /// Number of clusters.
    pub fn count(&self) -> usize {
        self.offsets.len() - 1
    }

    /// Number of units.
    pub fn units(&self) -> usize {
        self.of.len()
    }

    /// The cluster of unit `i`.
    pub fn of(&self, i: usize) -> usize {
        self.of[i] as usize
    }

    /// The units of cluster `c`, in increasing order.
    pub fn members(&self, c: usize) -> &[u32] {
        &self.units[self.offsets[c] as usize..self.offsets[c + 1] as usize]
    }

    /// The size of the largest cluster.
    pub fn largest(&self) -> usize {
        (0..self.count())
            .map(|c| self.members(c).len())
            .max()
            .unwrap_or(0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_become_dense_clusters_in_order_of_appearance() {
        let c = Clusters::from_labels(&["b", "a", "b", "c", "a"]).expect("clusters");
        assert_eq!((c.count(), c.units(), c.largest()), (3, 5, 2));
        assert_eq!((c.of(0), c.of(1), c.of(3)), (0, 1, 2));
        assert_eq!(c.members(0), &[0, 2]);
        assert_eq!(c.members(1), &[1, 4]);
        assert_eq!(c.members(2), &[3]);
        let sub = c.select(&[4, 3, 2]).expect("three clusters");
        assert_eq!((sub.count(), sub.of(0), sub.of(2)), (3, 0, 2));
        assert!(Clusters::from_labels(&[7, 7, 7]).is_err());
        assert!(Clusters::from_labels::<u8>(&[]).is_err());
    }
}
