//! Covariate balance: standardized mean differences between the arms, before
//! and after matching or weighting, summarized over covariates.

use ndarray::ArrayView2;

use crate::estimate::Estimate;

/// Adds `smd_max_before`, `smd_mean_before`, `smd_max_after` and
/// `smd_mean_after` to `estimate`: the largest and the average absolute
/// standardized mean difference over the covariates, in the raw sample and
/// with each unit weighted by `weight` (normalized to sum to one within each
/// arm).
///
/// Both use the same denominator, the raw sample's pooled standard deviation
/// `√((s₁² + s₀²) / 2)`, so that a change is a change in the means alone
/// (Austin 2009). Covariates constant within both arms are left out.
pub(crate) fn with_balance(
    estimate: Estimate,
    x: ArrayView2<f64>,
    treated: &[bool],
    weight: &[f64],
) -> Estimate {
    let ones = vec![1.0; treated.len()];
    let mut before = Vec::new();
    let mut after = Vec::new();
    for col in x.columns() {
        let (m1, m0, v1, v0) = moments(col.iter().copied(), treated, &ones);
        let sd = ((v1 + v0) / 2.0).sqrt();
        if sd <= 0.0 {
            continue;
        }
        let (w1, w0, _, _) = moments(col.iter().copied(), treated, weight);
        before.push((m1 - m0).abs() / sd);
        after.push((w1 - w0).abs() / sd);
    }
    let summary = |v: &[f64]| {
        let max = v.iter().copied().fold(0.0, f64::max);
        let mean = if v.is_empty() {
            0.0
        } else {
            v.iter().sum::<f64>() / v.len() as f64
        };
        (max, mean)
    };
    let (max_before, mean_before) = summary(&before);
    let (max_after, mean_after) = summary(&after);
    estimate
        .with("smd_max_before", max_before)
        .with("smd_mean_before", mean_before)
        .with("smd_max_after", max_after)
        .with("smd_mean_after", mean_after)
}

/// Weighted means and variances of `values` in the treated and control arms:
/// `(mean₁, mean₀, var₁, var₀)`.
fn moments(
    values: impl Iterator<Item = f64> + Clone,
    treated: &[bool],
    weight: &[f64],
) -> (f64, f64, f64, f64) {
    let (mut s1, mut s0, mut t1, mut t0) = (0.0, 0.0, 0.0, 0.0);
    for ((v, &t), &w) in values.clone().zip(treated).zip(weight) {
        if t {
            s1 += w * v;
            t1 += w;
        } else {
            s0 += w * v;
            t0 += w;
        }
    }
    let (m1, m0) = (s1 / t1, s0 / t0);
    let (mut q1, mut q0) = (0.0, 0.0);
    for ((v, &t), &w) in values.zip(treated).zip(weight) {
        if t {
            q1 += w * (v - m1) * (v - m1);
        } else {
            q0 += w * (v - m0) * (v - m0);
        }
    }
    (m1, m0, q1 / t1, q0 / t0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::Estimand;
    use ndarray::array;

    #[test]
    fn standardized_differences_by_hand() {
        // Column 1: treated {1, 3}, controls {0, 2}: difference 1, variances 1
        // and 1 (population), so SMD 1. Column 2 is constant: left out.
        let x = array![[1.0, 7.0], [3.0, 7.0], [0.0, 7.0], [2.0, 7.0]];
        let treated = [true, true, false, false];
        // Weighting the control at 2 only moves the control mean to 2.
        let est = with_balance(
            Estimate::normal(Estimand::Att, 0.0, 1.0),
            x.view(),
            &treated,
            &[1.0, 1.0, 0.0, 5.0],
        );
        let d = &est.diagnostics;
        assert!((d["smd_max_before"] - 1.0).abs() < 1e-12);
        assert!((d["smd_mean_before"] - 1.0).abs() < 1e-12);
        assert!(d["smd_max_after"].abs() < 1e-12);
        assert!(d["smd_mean_after"].abs() < 1e-12);
    }
}
