//! Allocation policies judged against the truth: the gain an allocation
//! promises (by the estimator's effects), the gain the world truly gives
//! (by its per-region effects), the oracle allocation's gain under the same
//! constraints, the regret between them, and how evenly the resource is
//! spread (the Gini coefficient of the per-head level).

use serde::{Deserialize, Serialize};

use crate::data::Dataset;
use crate::estimate::Estimate;
use crate::policy::allocation::{AllocationPolicy, AllocationSpec, Effects, Frame};
use crate::policy::Policy;
use crate::{Error, Result};

/// One allocation policy's results on one sample.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AllocationSummary {
    /// Regions that may receive units.
    pub eligible: usize,
    /// Units allocated (at most the budget).
    pub units: usize,
    /// Regions that received at least one unit.
    pub funded: usize,
    /// The gain the estimator's effects promise (none for the oracle).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub estimated_gain: Option<f64>,
    /// The gain the world's true per-region effects give.
    pub true_gain: f64,
    /// The true gain of the best allocation under the same constraints.
    pub oracle_gain: f64,
    /// With `robust`, the chosen allocation's gain at the quantile over fresh
    /// draws of the effects from their sampling distribution.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub robust_gain: Option<f64>,
    /// Gini coefficient of the per-head level before the allocation (with a `level`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gini_before: Option<f64>,
    /// Gini coefficient of the per-head level after it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gini_after: Option<f64>,
}

impl AllocationSummary {
    /// What the estimates cost against the oracle: oracle less true gain (0 for the oracle).
    pub fn regret(&self) -> f64 {
        self.oracle_gain - self.true_gain
    }
}

/// The weighted Gini coefficient of `x` (0: all equal; 1: one holds all);
/// `None` when the weighted mean is not positive.
pub fn gini(x: &[f64], weights: &[f64]) -> Option<f64> {
    let mut order: Vec<usize> = (0..x.len()).collect();
    order.sort_by(|&a, &b| x[a].total_cmp(&x[b]));
    let total: f64 = weights.iter().sum();
    let mean = x.iter().zip(weights).map(|(v, w)| v * w).sum::<f64>() / total;
    if !(mean > 0.0 && total > 0.0) {
        return None;
    }
    // With x sorted and C_i the cumulative weight through i:
    // G = sum_i w_i x_i (2 C_i - w_i - W) / (W^2 mean).
    let mut cumulative = 0.0;
    let mut sum = 0.0;
    for &i in &order {
        cumulative += weights[i];
        sum += weights[i] * x[i] * (2.0 * cumulative - weights[i] - total);
    }
    Some(sum / (total * total * mean))
}

/// Runs an allocation policy on a sample and judges it: `truth` holds the
/// world's effect of one unit in each region, `estimate` the estimator's
/// (none for the oracle, which alone allocates by the truth); `seed` drives
/// the robust draws.
pub fn evaluate_allocation(
    spec: &AllocationSpec,
    data: &Dataset,
    truth: &[f64],
    estimate: Option<&Estimate>,
    seed: u64,
) -> Result<AllocationSummary> {
    let n = data.n();
    if truth.len() != n {
        return Err(Error::Data(
            "the world gives no per-region effects to judge an allocation by".into(),
        ));
    }
    let frame = Frame::new(spec, data)?;
    let oracle_units = frame.solve(truth)?;
    let oracle_gain = frame.gain(truth, &oracle_units);
    let (units, estimated_gain, robust_gain) = match estimate {
        None => (oracle_units, None, None),
        Some(estimate) => {
            let effects = Effects::from_estimate(estimate, n);
            let decided = AllocationPolicy { spec, seed }.decide((&frame, &effects))?;
            (
                decided.units,
                Some(decided.estimated_gain),
                decided.robust_gain,
            )
        }
    };
    let true_gain = frame.gain(truth, &units);
    let (gini_before, gini_after) = match (&frame.levels, &spec.fairness) {
        (Some(levels), Some(f)) => {
            let after: Vec<f64> = levels
                .iter()
                .zip(&units)
                .map(|(l, &k)| l + f.step * k as f64)
                .collect();
            (gini(levels, &frame.weights), gini(&after, &frame.weights))
        }
        _ => (None, None),
    };
    Ok(AllocationSummary {
        eligible: frame.eligible(),
        units: units.iter().sum(),
        funded: units.iter().filter(|&&k| k > 0).count(),
        estimated_gain,
        true_gain,
        oracle_gain,
        robust_gain,
        gini_before,
        gini_after,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gini_matches_its_definition() {
        let x = [1.0, 2.0, 3.0, 10.0];
        let w = [1.0, 2.0, 1.0, 0.5];
        let total: f64 = w.iter().sum();
        let mean = x.iter().zip(&w).map(|(a, b)| a * b).sum::<f64>() / total;
        let mut pairs = 0.0;
        for i in 0..4 {
            for j in 0..4 {
                pairs += w[i] * w[j] * (x[i] - x[j]).abs();
            }
        }
        let expected = pairs / (2.0 * total * total * mean);
        let g = gini(&x, &w).expect("positive mean");
        assert!((g - expected).abs() < 1e-12, "{g} vs {expected}");
        assert_eq!(gini(&[2.0; 5], &[1.0; 5]), Some(0.0));
    }
}
