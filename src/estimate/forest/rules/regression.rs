//! The regression rule: trees split on the outcome itself (CART's variance
//! reduction) and leaves store its mean. Regression forests, the nuisance
//! forests of causal and instrumental forests and DML's nuisance
//! regressions all grow with it.

use super::{Candidate, Label, SplitRule, Sums};
use crate::estimate::forest::tree::TreeSettings;

/// Regression of `y` on the covariates; leaf value: the mean of `y`.
#[derive(Debug, Clone, Copy)]
pub struct Regression<'a> {
    /// The outcome, one value per training row.
    pub y: &'a [f64],
}

/// Per-node constants of the regression rule's checks.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Fewest samples a child may hold (grf's `alpha` share of the node).
    min_count: u32,
    /// Penalty weight on small children.
    imbalance_penalty: f64,
}

impl SplitRule for Regression<'_> {
    const WIDTH: usize = 1;
    type Sample = ();
    type Extra = ();
    type Limits = Limits;

    #[inline]
    fn relabel(
        &self,
        idx: &[u32],
        _min_node_size: usize,
        labels: &mut Vec<Label<()>>,
    ) -> Option<Sums<()>> {
        let first = self.y[idx[0] as usize];
        let mut pure = true;
        let mut sum = 0.0;
        for &i in idx {
            let y = self.y[i as usize];
            pure &= y == first;
            sum += y;
            labels.push(Label { rho: y, own: () });
        }
        (!pure).then_some(Sums {
            n: idx.len() as u32,
            sum,
            extra: (),
        })
    }

    #[inline(always)]
    fn accumulate(_bin: &mut (), _sample: &()) {}

    #[inline(always)]
    fn combine(_left: &mut (), _bin: &()) {}

    #[inline(always)]
    fn remove(_from: &mut (), _bin: &()) {}

    #[inline]
    fn limits(s: &TreeSettings, node: &Sums<()>) -> Limits {
        Limits {
            min_count: ((f64::from(node.n) * s.alpha).ceil() as u32).max(1),
            imbalance_penalty: s.imbalance_penalty,
        }
    }

    #[inline(always)]
    fn admit(
        limits: &Limits,
        node: &Sums<()>,
        left: &Sums<()>,
        inv_l: f64,
        inv_r: f64,
    ) -> Candidate {
        if left.n < limits.min_count {
            return Candidate::Skip;
        }
        if node.n - left.n < limits.min_count {
            return Candidate::Stop;
        }
        Candidate::Penalty(limits.imbalance_penalty * (inv_l + inv_r))
    }

    #[inline]
    fn leaf_values(&self, members: &[u32], out: &mut [f64]) {
        let inv = 1.0 / members.len() as f64;
        out[0] = members.iter().map(|&i| self.y[i as usize]).sum::<f64>() * inv;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(alpha: f64, imbalance_penalty: f64) -> TreeSettings {
        TreeSettings {
            mtry: 1,
            min_node_size: 1,
            alpha,
            imbalance_penalty,
            honesty: false,
            honesty_fraction: 0.5,
            prune_empty_leaves: false,
        }
    }

    #[test]
    fn relabels_to_the_outcome_and_refuses_pure_nodes() {
        let y = [1.0, 5.0, 2.0, 2.0];
        let rule = Regression { y: &y };
        let mut labels = Vec::new();
        let node = rule
            .relabel(&[3, 1, 0], 1, &mut labels)
            .expect("splittable");
        assert_eq!(node.n, 3);
        assert_eq!(node.sum, 8.0);
        let rho: Vec<f64> = labels.iter().map(|l| l.rho).collect();
        assert_eq!(rho, [2.0, 5.0, 1.0]);
        labels.clear();
        assert!(rule.relabel(&[2, 3], 1, &mut labels).is_none());
    }

    #[test]
    fn children_below_the_alpha_share_are_not_admitted() {
        let node = Sums {
            n: 100,
            sum: 0.0,
            extra: (),
        };
        let limits = Regression::limits(&settings(0.1, 0.0), &node);
        let left = |n| Sums {
            n,
            sum: 0.0,
            extra: (),
        };
        assert!(matches!(
            Regression::admit(&limits, &node, &left(9), 1.0, 1.0),
            Candidate::Skip
        ));
        assert!(matches!(
            Regression::admit(&limits, &node, &left(91), 1.0, 1.0),
            Candidate::Stop
        ));
        let penalized = Regression::limits(&settings(0.1, 2.0), &node);
        match Regression::admit(&penalized, &node, &left(10), 0.1, 0.25) {
            Candidate::Penalty(p) => assert!((p - 0.7).abs() < 1e-12, "{p}"),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn leaf_value_is_the_members_mean() {
        let y = [1.0, 5.0, 2.0, 4.0];
        let mut out = [0.0];
        Regression { y: &y }.leaf_values(&[1, 3], &mut out);
        assert_eq!(out, [4.5]);
    }
}
