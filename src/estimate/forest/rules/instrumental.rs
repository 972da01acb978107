//! The instrumental rule (grf's `InstrumentalRelabelingStrategy`): trees
//! split on heterogeneity of the IV effect of `w` on `y` with instrument
//! `z`, through the pseudo-outcome `(z - z̄)((y - ȳ) - τ̂ (w - w̄))`, with
//! `τ̂` the node's own IV estimate. A causal forest is the special case
//! `z = w` (the treatment instruments itself), as in grf.

use super::{Candidate, Label, SplitRule, Sums};
use crate::estimate::forest::tree::TreeSettings;

/// IV-effect heterogeneity of `w` on `y` instrumented by `z` (all centered);
/// leaf values: the means of y, w, z, yz and wz.
#[derive(Debug, Clone, Copy)]
pub struct Instrumental<'a> {
    /// Outcome, one value per training row.
    pub y: &'a [f64],
    /// Treatment.
    pub w: &'a [f64],
    /// Instrument (the treatment itself for a causal forest).
    pub z: &'a [f64],
}

impl<'a> Instrumental<'a> {
    /// The causal forest's rule: the treatment `w` is its own instrument.
    pub fn causal(y: &'a [f64], w: &'a [f64]) -> Self {
        Instrumental { y, w, z: w }
    }
}

/// A sample's instrument, its square, and whether it lies below the node's
/// mean instrument.
#[derive(Debug, Clone, Copy, Default)]
pub struct ZSample {
    pub(super) z: f64,
    pub(super) zz: f64,
    pub(super) small: u32,
}

impl ZSample {
    /// A sample's instrument `z` at a node whose mean instrument is `mean`.
    #[inline(always)]
    pub(super) fn new(z: f64, mean: f64) -> Self {
        ZSample {
            z,
            zz: z * z,
            small: u32::from(z < mean),
        }
    }
}

/// Whether a node of `m` samples, `small` of them below its mean
/// instrument, can be split at all: each child needs `min_node_size`
/// samples below and above that mean (grf's split stabilization), so the
/// node needs twice that many on each side, whatever the feature.
#[inline(always)]
pub(super) fn stabilizable(m: u32, small: u32, min_node_size: usize) -> bool {
    let min_z = 2 * min_node_size as u32;
    small >= min_z && m - small >= min_z
}

/// Sums of the instrument and its square, and the count of samples below
/// the node's mean instrument.
#[derive(Debug, Clone, Copy, Default)]
pub struct ZSums {
    pub(super) small: u32,
    pub(super) sz: f64,
    pub(super) szz: f64,
}

/// Per-node constants of the instrumental rule's checks.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Fewest samples below (and above) the node's mean instrument a child may hold.
    min_z: u32,
    /// Smallest instrument variation (sum of squares) a child may hold.
    min_size: f64,
    /// Penalty weight on children with little instrument variation.
    imbalance_penalty: f64,
}

impl SplitRule for Instrumental<'_> {
    const WIDTH: usize = 5;
    type Sample = ZSample;
    type Extra = ZSums;
    type Limits = Limits;

    #[inline]
    fn relabel(
        &self,
        idx: &[u32],
        min_node_size: usize,
        labels: &mut Vec<Label<ZSample>>,
    ) -> Option<Sums<ZSums>> {
        let (mut sy, mut sw, mut sz) = (0.0, 0.0, 0.0);
        for &i in idx {
            let i = i as usize;
            sy += self.y[i];
            sw += self.w[i];
            sz += self.z[i];
        }
        let mf = idx.len() as f64;
        let (my, mw, mz) = (sy / mf, sw / mf, sz / mf);
        let (mut num, mut den) = (0.0, 0.0);
        for &i in idx {
            let i = i as usize;
            let dz = self.z[i] - mz;
            num += dz * (self.y[i] - my);
            den += dz * (self.w[i] - mw);
        }
        if den.abs() <= 1e-10 {
            return None;
        }
        let tau = num / den;
        let (mut sum, mut szz, mut small) = (0.0, 0.0, 0u32);
        for &i in idx {
            let i = i as usize;
            let z = self.z[i];
            let rho = (z - mz) * ((self.y[i] - my) - tau * (self.w[i] - mw));
            let own = ZSample::new(z, mz);
            labels.push(Label { rho, own });
            sum += rho;
            szz += own.zz;
            small += own.small;
        }
        let m = idx.len() as u32;
        if !stabilizable(m, small, min_node_size) {
            return None;
        }
        Some(Sums {
            n: m,
            sum,
            extra: ZSums { small, sz, szz },
        })
    }

    #[inline(always)]
    fn accumulate(bin: &mut ZSums, v: &ZSample) {
        bin.sz += v.z;
        bin.szz += v.zz;
        bin.small += v.small;
    }

    #[inline(always)]
    fn combine(left: &mut ZSums, bin: &ZSums) {
        left.sz += bin.sz;
        left.szz += bin.szz;
        left.small += bin.small;
    }

    #[inline(always)]
    fn remove(from: &mut ZSums, bin: &ZSums) {
        from.sz -= bin.sz;
        from.szz -= bin.szz;
        from.small -= bin.small;
    }

    #[inline]
    fn limits(s: &TreeSettings, node: &Sums<ZSums>) -> Limits {
        let size_node = node.extra.szz - node.extra.sz * node.extra.sz / f64::from(node.n);
        Limits {
            min_z: s.min_node_size as u32,
            min_size: size_node * s.alpha,
            imbalance_penalty: s.imbalance_penalty,
        }
    }

    #[inline(always)]
    fn admit(
        limits: &Limits,
        node: &Sums<ZSums>,
        left: &Sums<ZSums>,
        inv_l: f64,
        inv_r: f64,
    ) -> Candidate {
        let min_z = limits.min_z;
        let (l, whole) = (&left.extra, &node.extra);
        let large_left = left.n - l.small;
        if l.small < min_z || large_left < min_z {
            return Candidate::Skip;
        }
        let small_right = whole.small - l.small;
        let large_right = node.n - left.n - small_right;
        if small_right < min_z || large_right < min_z {
            return Candidate::Stop;
        }
        let size_left = l.szz - l.sz * l.sz * inv_l;
        let (sz_right, szz_right) = (whole.sz - l.sz, whole.szz - l.szz);
        let size_right = szz_right - sz_right * sz_right * inv_r;
        let degenerate = limits.imbalance_penalty > 0.0 && (size_left == 0.0 || size_right == 0.0);
        if size_left < limits.min_size || size_right < limits.min_size || degenerate {
            return Candidate::Skip;
        }
        Candidate::Penalty(limits.imbalance_penalty * (1.0 / size_left + 1.0 / size_right))
    }

    #[inline]
    fn leaf_values(&self, members: &[u32], out: &mut [f64]) {
        let inv = 1.0 / members.len() as f64;
        let mut acc = [0.0; 5];
        for &i in members {
            let i = i as usize;
            let (y, w, z) = (self.y[i], self.w[i], self.z[i]);
            acc[0] += y;
            acc[1] += w;
            acc[2] += z;
            acc[3] += y * z;
            acc[4] += w * z;
        }
        for (o, a) in out.iter_mut().zip(acc) {
            *o = a * inv;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pseudo_outcomes_are_the_iv_gradient_at_the_node_estimate() {
        // z̄ = 0.5, ȳ = 1.5, w̄ = 0.25; Σ(z - z̄)(y - ȳ) = 2 and
        // Σ(z - z̄)(w - w̄) = 0.5, so τ̂ = 4.
        let y = [0.0, 1.0, 2.0, 3.0];
        let w = [0.0, 0.0, 1.0, 0.0];
        let z = [0.0, 0.0, 1.0, 1.0];
        let rule = Instrumental {
            y: &y,
            w: &w,
            z: &z,
        };
        let mut labels = Vec::new();
        let node = rule
            .relabel(&[0, 1, 2, 3], 1, &mut labels)
            .expect("splittable");
        // rho = (z - 0.5)((y - 1.5) - 4 (w - 0.25)).
        let rho: Vec<f64> = labels.iter().map(|l| l.rho).collect();
        assert_eq!(rho, [0.25, -0.25, -1.25, 1.25]);
        assert_eq!((node.n, node.extra.small), (4, 2));
        assert_eq!((node.extra.sz, node.extra.szz), (2.0, 2.0));
        // The pseudo-outcomes sum to zero at the node's own estimate.
        assert!(node.sum.abs() < 1e-12);
        // Too few samples on each side of the mean instrument for min_node_size 2.
        labels.clear();
        assert!(rule.relabel(&[0, 1, 2, 3], 2, &mut labels).is_none());
        // No first stage: the treatment does not move with the instrument.
        let constant = [1.0; 4];
        let weak = Instrumental {
            y: &y,
            w: &constant,
            z: &z,
        };
        labels.clear();
        assert!(weak.relabel(&[0, 1, 2, 3], 1, &mut labels).is_none());
    }

    #[test]
    fn leaf_values_are_means_of_y_w_z_yz_wz() {
        let y = [1.0, 3.0];
        let w = [0.0, 1.0];
        let z = [1.0, 2.0];
        let mut out = [0.0; 5];
        Instrumental {
            y: &y,
            w: &w,
            z: &z,
        }
        .leaf_values(&[0, 1], &mut out);
        assert_eq!(out, [2.0, 0.5, 1.5, 3.5, 1.0]);
        let mut causal = [0.0; 5];
        Instrumental::causal(&y, &w).leaf_values(&[0, 1], &mut causal);
        assert_eq!(causal, [2.0, 0.5, 0.5, 1.5, 0.5]);
    }
}
