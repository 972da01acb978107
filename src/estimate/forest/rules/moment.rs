//! The exact local-moment rule: trees split where solving the IV moment
//! in each child, rather than grf's linearization of it at the parent's
//! estimate, finds the most heterogeneity.
//!
//! In a child `c` with centered sums `A_c = Σ (z - z̄_c)(y - ȳ_c)` and
//! `B_c = Σ (z - z̄_c)(w - w̄_c)`, the child's own IV estimate is
//! `τ_c = A_c / B_c`, and a split scores
//! `A_L² / B_L + A_R² / B_R - A² / B` (that is `Σ_c τ_c A_c`, the moment's
//! fit gained by letting the effect differ between the children). For a
//! causal forest (`z = w`) this is exactly the fall in the residual sum of
//! squares of a regression of `y` on `w` fitted separately in each child;
//! EconML's `criterion = "mse"` is the same idea with an intercept in the
//! moment. grf's gradient rule approximates it by pseudo-outcomes
//! evaluated at the parent's estimate, which is accurate for small
//! differences between the children and coarse for large ones.
//!
//! Each child keeps the instrumental rule's checks (instrument values on
//! both sides of the node's mean, instrument variation), and its first
//! stage `B_c` must share the node's sign and hold at least `alpha` of
//! its size: a child whose treatment barely moves with the instrument
//! would otherwise score a large, noisy `A_c² / B_c`. Leaves store what
//! the instrumental rule's do, so predictions are solved the same way.

use super::instrumental::{stabilizable, Limits as ZLimits, ZSample, ZSums};
use super::{Candidate, Instrumental, Label, SplitRule, Sums};
use crate::estimate::forest::tree::TreeSettings;

/// The exact local-moment criterion on the instrumental rule's data.
#[derive(Debug, Clone, Copy)]
pub struct Moment<'a>(pub Instrumental<'a>);

/// A sample's instrument values (as the instrumental rule keeps them) and
/// its outcome, treatment and their products with the instrument, formed
/// once per node rather than once per feature searched.
#[derive(Debug, Clone, Copy, Default)]
pub struct MomentSample {
    z: ZSample,
    y: f64,
    w: f64,
    zy: f64,
    zw: f64,
}

/// The instrumental rule's sums and the sums of y, w, zy and zw.
#[derive(Debug, Clone, Copy, Default)]
pub struct MomentSums {
    z: ZSums,
    sy: f64,
    sw: f64,
    szy: f64,
    szw: f64,
}

/// Per-node constants: the instrumental rule's, the node's own score
/// `A² / B`, the sign of its first stage and the smallest first stage
/// (in that sign) a child may hold.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    z: ZLimits,
    parent: f64,
    sign: f64,
    min_first_stage: f64,
}

/// `(A, B)`: the centered cross sums of z with y and with w of a set of
/// samples with sums `s`, `inv` the reciprocal of their count.
#[inline(always)]
fn cross(s: &MomentSums, inv: f64) -> (f64, f64) {
    (s.szy - s.z.sz * s.sy * inv, s.szw - s.z.sz * s.sw * inv)
}

/// The right child's sums: the node's less the left child's.
#[inline(always)]
fn rest(node: &MomentSums, left: &MomentSums) -> MomentSums {
    let mut z = node.z;
    Instrumental::remove(&mut z, &left.z);
    MomentSums {
        z,
        sy: node.sy - left.sy,
        sw: node.sw - left.sw,
        szy: node.szy - left.szy,
        szw: node.szw - left.szw,
    }
}

/// The instrumental rule's view of a set's sums.
#[inline(always)]
fn z_view(s: &Sums<MomentSums>) -> Sums<ZSums> {
    Sums {
        n: s.n,
        sum: s.sum,
        extra: s.extra.z,
    }
}

impl SplitRule for Moment<'_> {
    const WIDTH: usize = <Instrumental<'static> as SplitRule>::WIDTH;
    type Sample = MomentSample;
    type Extra = MomentSums;
    type Limits = Limits;

    #[inline]
    fn relabel(
        &self,
        idx: &[u32],
        min_node_size: usize,
        labels: &mut Vec<Label<MomentSample>>,
    ) -> Option<Sums<MomentSums>> {
        let Instrumental { y, w, z } = self.0;
        let mut sz = 0.0;
        for &i in idx {
            sz += z[i as usize];
        }
        let mz = sz / idx.len() as f64;
        let mut s = MomentSums::default();
        for &i in idx {
            let i = i as usize;
            let (yi, wi, zi) = (y[i], w[i], z[i]);
            let sample = MomentSample {
                z: ZSample::new(zi, mz),
                y: yi,
                w: wi,
                zy: zi * yi,
                zw: zi * wi,
            };
            Self::accumulate(&mut s, &sample);
            labels.push(Label {
                rho: 0.0,
                own: sample,
            });
        }
        let m = idx.len() as u32;
        let (_, b) = cross(&s, 1.0 / f64::from(m));
        if b.abs() <= 1e-10 || !stabilizable(m, s.z.small, min_node_size) {
            return None;
        }
        Some(Sums {
            n: m,
            sum: 0.0,
            extra: s,
        })
    }

    #[inline(always)]
    fn accumulate(bin: &mut MomentSums, v: &MomentSample) {
        Instrumental::accumulate(&mut bin.z, &v.z);
        bin.sy += v.y;
        bin.sw += v.w;
        bin.szy += v.zy;
        bin.szw += v.zw;
    }

    #[inline(always)]
    fn combine(left: &mut MomentSums, bin: &MomentSums) {
        Instrumental::combine(&mut left.z, &bin.z);
        left.sy += bin.sy;
        left.sw += bin.sw;
        left.szy += bin.szy;
        left.szw += bin.szw;
    }

    #[inline(always)]
    fn remove(from: &mut MomentSums, bin: &MomentSums) {
        *from = rest(from, bin);
    }

    #[inline]
    fn limits(s: &TreeSettings, node: &Sums<MomentSums>) -> Limits {
        let (a, b) = cross(&node.extra, 1.0 / f64::from(node.n));
        Limits {
            z: Instrumental::limits(s, &z_view(node)),
            parent: a * a / b,
            sign: b.signum(),
            min_first_stage: s.alpha * b.abs(),
        }
    }

    #[inline(always)]
    fn admit(
        limits: &Limits,
        node: &Sums<MomentSums>,
        left: &Sums<MomentSums>,
        inv_l: f64,
        inv_r: f64,
    ) -> Candidate {
        let verdict = Instrumental::admit(&limits.z, &z_view(node), &z_view(left), inv_l, inv_r);
        if !matches!(verdict, Candidate::Penalty(_)) {
            return verdict;
        }
        let right = rest(&node.extra, &left.extra);
        let (_, b_left) = cross(&left.extra, inv_l);
        let (_, b_right) = cross(&right, inv_r);
        let weak = |b: f64| limits.sign * b < limits.min_first_stage.max(1e-10);
        if weak(b_left) || weak(b_right) {
            return Candidate::Skip;
        }
        verdict
    }

    #[inline(always)]
    fn criterion(
        limits: &Limits,
        node: &Sums<MomentSums>,
        left: &Sums<MomentSums>,
        inv_l: f64,
        inv_r: f64,
    ) -> f64 {
        let right = rest(&node.extra, &left.extra);
        let (a_left, b_left) = cross(&left.extra, inv_l);
        let (a_right, b_right) = cross(&right, inv_r);
        a_left * a_left / b_left + a_right * a_right / b_right - limits.parent
    }

    #[inline]
    fn leaf_values(&self, members: &[u32], out: &mut [f64]) {
        self.0.leaf_values(members, out);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The criterion of splitting `rows` (y, w, z) after the first `k`, from
    /// the rule's own sums.
    fn score(rows: &[(f64, f64, f64)], k: usize) -> f64 {
        let y: Vec<f64> = rows.iter().map(|r| r.0).collect();
        let w: Vec<f64> = rows.iter().map(|r| r.1).collect();
        let z: Vec<f64> = rows.iter().map(|r| r.2).collect();
        let rule = Moment(Instrumental {
            y: &y,
            w: &w,
            z: &z,
        });
        let idx: Vec<u32> = (0..rows.len() as u32).collect();
        let mut labels = Vec::new();
        let node = rule.relabel(&idx, 1, &mut labels).expect("splittable");
        let mut left = Sums::<MomentSums>::default();
        for l in &labels[..k] {
            left.n += 1;
            Moment::accumulate(&mut left.extra, &l.own);
        }
        let settings = TreeSettings {
            mtry: 1,
            min_node_size: 1,
            alpha: 0.0,
            imbalance_penalty: 0.0,
            honesty: false,
            honesty_fraction: 0.5,
            prune_empty_leaves: false,
        };
        let limits = Moment::limits(&settings, &node);
        let (inv_l, inv_r) = (1.0 / k as f64, 1.0 / (rows.len() - k) as f64);
        Moment::criterion(&limits, &node, &left, inv_l, inv_r)
    }

    /// Residual sum of squares of y on w with an intercept.
    fn rss(rows: &[(f64, f64, f64)]) -> f64 {
        let n = rows.len() as f64;
        let (my, mw) = (
            rows.iter().map(|r| r.0).sum::<f64>() / n,
            rows.iter().map(|r| r.1).sum::<f64>() / n,
        );
        let (mut syy, mut swy, mut sww) = (0.0, 0.0, 0.0);
        for r in rows {
            syy += (r.0 - my).powi(2);
            swy += (r.0 - my) * (r.1 - mw);
            sww += (r.1 - mw).powi(2);
        }
        syy - swy * swy / sww
    }

    #[test]
    fn with_the_treatment_as_instrument_it_is_the_fall_in_the_slopes_residuals() {
        // Slopes near 2 on the left and near -3 on the right.
        let left: Vec<(f64, f64, f64)> = [0.0, 1.0, 2.0, 3.0]
            .iter()
            .map(|&w| (2.0 * w + 0.3 * (w - 1.5_f64).powi(2), w, w))
            .collect();
        let right: Vec<(f64, f64, f64)> = [0.5, 1.0, 2.5, 4.0]
            .iter()
            .map(|&w| (-3.0 * w + 0.1 * w * w, w, w))
            .collect();
        let all: Vec<_> = left.iter().chain(&right).copied().collect();
        // RSS(all) = RSS(left) + RSS(right) + (between-child sum of
        // squares of y) + the score: the score is the fall in RSS that
        // separate slopes, not separate means, bring.
        let n = |v: &[(f64, f64, f64)]| v.len() as f64;
        let mean_y = |v: &[(f64, f64, f64)]| v.iter().map(|r| r.0).sum::<f64>() / n(v);
        let between = n(&left) * (mean_y(&left) - mean_y(&all)).powi(2)
            + n(&right) * (mean_y(&right) - mean_y(&all)).powi(2);
        let expected = rss(&all) - rss(&left) - rss(&right) - between;
        let got = score(&all, left.len());
        assert!((got - expected).abs() < 1e-9, "{got} vs {expected}");
        assert!(got > 0.0);
    }

    #[test]
    fn it_scores_the_children_exact_iv_estimates() {
        // Two halves with IV effects 1 and 3 and the same first stage: the
        // score is Σ τ_c A_c - τ A, by hand.
        let half = |tau: f64| -> Vec<(f64, f64, f64)> {
            [
                (0.0, 0.0),
                (0.0, 1.0),
                (1.0, 1.0),
                (1.0, 0.0),
                (1.0, 1.0),
                (0.0, 0.0),
            ]
            .iter()
            .map(|&(z, w)| (tau * w + 0.5 * z * (1.0 - w), w, z))
            .collect()
        };
        let (a, b) = (half(1.0), half(3.0));
        let all: Vec<_> = a.iter().chain(&b).copied().collect();
        let centered = |v: &[(f64, f64, f64)]| {
            let n = v.len() as f64;
            let (my, mw, mz) = (
                v.iter().map(|r| r.0).sum::<f64>() / n,
                v.iter().map(|r| r.1).sum::<f64>() / n,
                v.iter().map(|r| r.2).sum::<f64>() / n,
            );
            let a: f64 = v.iter().map(|r| (r.2 - mz) * (r.0 - my)).sum();
            let b: f64 = v.iter().map(|r| (r.2 - mz) * (r.1 - mw)).sum();
            a * a / b
        };
        let expected = centered(&a) + centered(&b) - centered(&all);
        let got = score(&all, a.len());
        assert!((got - expected).abs() < 1e-12, "{got} vs {expected}");
        assert!(got > 0.0, "heterogeneous halves score above the parent");
    }
}
