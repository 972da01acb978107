//! Allocation policies judged against the truth: the gain an allocation
//! promises (by the estimator's effects), the gain the world truly gives
//! (by its per-region effects), the oracle allocation's gain under the same
//! constraints, the regret between them, and how evenly the resource is
//! spread (the Gini coefficient of the per-head level).

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, StandardNormal};
use serde::{Deserialize, Serialize};

use crate::data::Dataset;
use crate::estimate::Estimate;
use crate::policy::allocate::{exact, greedy, AllocationProblem};
use crate::spec::allocation::{AllocationSolver, AllocationSpec, Eligible, Robust};
use crate::{Error, Result};

/// Robust candidates are the allocations optimal for at most this many draws.
const CANDIDATE_DRAWS: usize = 50;

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

/// The estimator's effect for each region, with its standard error: its
/// per-unit effects where it has them, else its one average effect for all.
pub struct Effects {
    /// Effect per region.
    pub tau: Vec<f64>,
    /// Standard error per region.
    pub se: Vec<f64>,
    /// Whether the errors are one shared error (an average effect) rather than per region.
    pub shared: bool,
}

impl Effects {
    /// The effects an estimate gives `n` regions.
    pub fn from_estimate(estimate: &Estimate, n: usize) -> Effects {
        match &estimate.units {
            Some(u) if u.tau.len() == n => Effects {
                tau: u.tau.clone(),
                se: if u.se.len() == n {
                    u.se.clone()
                } else {
                    vec![f64::NAN; n]
                },
                shared: false,
            },
            _ => Effects {
                tau: vec![estimate.estimate; n],
                se: vec![estimate.se; n],
                shared: true,
            },
        }
    }
}

/// A column of the data by name, or an error naming the key and the columns.
fn column(data: &Dataset, name: &str, key: &str) -> Result<Vec<f64>> {
    let j = data.x_names.iter().position(|n| n == name).ok_or_else(|| {
        Error::Data(format!(
            "`{key} = \"{name}\"` names no covariate; the data has: {}",
            data.x_names.join(", ")
        ))
    })?;
    Ok(data.x.column(j).to_vec())
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

/// The problem's shared parts (weights, floors, caps) for a sample, to be
/// solved with each set of effects.
struct Frame<'a> {
    spec: &'a AllocationSpec,
    weights: Vec<f64>,
    floors: Vec<usize>,
    caps: Vec<usize>,
    levels: Option<Vec<f64>>,
}

impl Frame<'_> {
    fn problem(&self, tau: &[f64]) -> AllocationProblem {
        AllocationProblem {
            values: tau.iter().zip(&self.weights).map(|(t, w)| t * w).collect(),
            floors: self.floors.clone(),
            caps: self.caps.clone(),
            budget: self.spec.budget,
            returns: self.spec.returns,
        }
    }

    fn solve(&self, tau: &[f64]) -> Result<Vec<usize>> {
        let problem = self.problem(tau);
        match self.spec.solver {
            AllocationSolver::Greedy => greedy(&problem),
            AllocationSolver::Exact => exact(&problem),
        }
    }

    fn gain(&self, tau: &[f64], units: &[usize]) -> f64 {
        self.problem(tau).gain(units)
    }
}

/// Runs an allocation policy on a sample: `truth` holds the world's effect
/// of one unit in each region, `estimate` the estimator's (none for the
/// oracle); `seed` drives the robust draws.
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
    let weights = match &spec.weight {
        Some(name) => {
            let w = column(data, name, "weight")?;
            if let Some(i) = w.iter().position(|v| !(*v >= 0.0 && v.is_finite())) {
                return Err(Error::Data(format!(
                    "weight `{name}` of region {} is {}; weights are populations, \
                     non-negative numbers",
                    i + 1,
                    w[i]
                )));
            }
            w
        }
        None => vec![1.0; n],
    };
    let caps: Vec<usize> = (0..n)
        .map(|i| match spec.eligible {
            Eligible::All => spec.cap,
            Eligible::Untreated if data.w[i] == 0.0 => spec.cap,
            Eligible::Untreated => 0,
        })
        .collect();
    let eligible = caps.iter().filter(|&&c| c > 0).count();
    let levels = match &spec.fairness {
        Some(f) => Some(column(data, &f.level, "level")?),
        None => None,
    };
    let floors: Vec<usize> = match (&spec.fairness, &levels) {
        (Some(f), Some(levels)) => (0..n)
            .map(|i| match f.min_level {
                Some(min) if caps[i] > 0 && levels[i] < min => {
                    ((min - levels[i]) / f.step - 1e-9).ceil().max(0.0) as usize
                }
                _ => 0,
            })
            .collect(),
        _ => vec![0; n],
    };
    let frame = Frame {
        spec,
        weights,
        floors,
        caps,
        levels,
    };
    let oracle_units = frame.solve(truth)?;
    let oracle_gain = frame.gain(truth, &oracle_units);
    let (units, estimated_gain, robust_gain) = match estimate {
        None => (oracle_units, None, None),
        Some(estimate) => {
            let effects = Effects::from_estimate(estimate, n);
            if let Some(i) = effects.tau.iter().position(|t| !t.is_finite()) {
                return Err(Error::Estimate(format!(
                    "the estimator's effect for region {} is not a finite number",
                    i + 1
                )));
            }
            match spec.robust {
                None => {
                    let units = frame.solve(&effects.tau)?;
                    let estimated = frame.gain(&effects.tau, &units);
                    (units, Some(estimated), None)
                }
                Some(robust) => {
                    let (units, robust_gain) = robust_allocation(&frame, &effects, robust, seed)?;
                    let estimated = frame.gain(&effects.tau, &units);
                    (units, Some(estimated), Some(robust_gain))
                }
            }
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
        eligible,
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

/// Draws of the effects from their sampling distribution: independent normal
/// errors per region where the estimator gives per-region errors, one shared
/// error for an average effect.
fn draw_effects(effects: &Effects, rng: &mut ChaCha8Rng) -> Vec<f64> {
    let se = |s: f64| if s.is_finite() { s } else { 0.0 };
    if effects.shared {
        let z: f64 = StandardNormal.sample(rng);
        effects
            .tau
            .iter()
            .zip(&effects.se)
            .map(|(t, s)| t + se(*s) * z)
            .collect()
    } else {
        effects
            .tau
            .iter()
            .zip(&effects.se)
            .map(|(t, s)| {
                let z: f64 = StandardNormal.sample(rng);
                t + se(*s) * z
            })
            .collect()
    }
}

/// The `q`-quantile of `values` (the order statistic at `floor(q * (n - 1))`).
fn quantile(values: &mut [f64], q: f64) -> f64 {
    values.sort_by(f64::total_cmp);
    values[((values.len() - 1) as f64 * q).floor() as usize]
}

/// The allocation with the highest gain at the robust quantile. The quantile
/// of a sum is not concave in the allocation, so no solver is exact; causim
/// takes as candidates the allocations optimal for the point estimates, for
/// the lower confidence limits at the quantile, and for up to
/// [`CANDIDATE_DRAWS`] draws, and scores each on a second, independent set
/// of draws (scoring on the draws that made the candidates would flatter
/// them). Returns the winner and its score.
fn robust_allocation(
    frame: &Frame<'_>,
    effects: &Effects,
    robust: Robust,
    seed: u64,
) -> Result<(Vec<usize>, f64)> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let z = crate::core::stats::normal_quantile(robust.quantile);
    let lower: Vec<f64> = effects
        .tau
        .iter()
        .zip(&effects.se)
        .map(|(t, s)| if s.is_finite() { t + z * s } else { *t })
        .collect();
    let mut candidates = vec![frame.solve(&effects.tau)?, frame.solve(&lower)?];
    for _ in 0..robust.draws.min(CANDIDATE_DRAWS) {
        let draw = draw_effects(effects, &mut rng);
        candidates.push(frame.solve(&draw)?);
    }
    candidates.sort();
    candidates.dedup();
    let scoring: Vec<Vec<f64>> = (0..robust.draws)
        .map(|_| draw_effects(effects, &mut rng))
        .collect();
    let mut best: Option<(Vec<usize>, f64)> = None;
    let mut gains = vec![0.0; scoring.len()];
    for units in candidates {
        for (g, draw) in gains.iter_mut().zip(&scoring) {
            *g = frame.gain(draw, &units);
        }
        let score = quantile(&mut gains, robust.quantile);
        if best.as_ref().is_none_or(|(_, s)| score > *s) {
            best = Some((units, score));
        }
    }
    best.ok_or_else(|| Error::Estimate("no robust candidate allocation".into()))
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

    #[test]
    fn normal_quantile_inverts_known_values() {
        use crate::core::stats::normal_quantile;
        use crate::core::stats::Z_95;
        assert!((normal_quantile(0.975) - Z_95).abs() < 1e-8);
        assert!((normal_quantile(0.1) + 1.281_551_565_544_601).abs() < 1e-8);
        assert!((normal_quantile(0.001) + 3.090_232_306_167_813).abs() < 1e-8);
        assert_eq!(normal_quantile(0.5), 0.0);
    }
}
