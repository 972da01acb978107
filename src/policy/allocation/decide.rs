//! The allocation rule as a policy: from an estimator's per-region effects
//! (and their sampling uncertainty, for a robust choice) and the regions'
//! constraints to the units each region receives. It never sees the truth.

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, StandardNormal};

use super::{exact, greedy, AllocationProblem, AllocationSpec, Eligible, Robust};
use crate::data::Dataset;
use crate::estimate::Estimate;
use crate::policy::{column, weights, Policy, Solver};
use crate::{Error, Result};

/// Robust candidates are the allocations optimal for at most this many draws.
const CANDIDATE_DRAWS: usize = 50;

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

/// The problem's shared parts (weights, floors, caps) for a sample, to be
/// solved with each set of effects.
pub struct Frame<'a> {
    spec: &'a AllocationSpec,
    /// Each region's weight (its population), which scales its gains.
    pub weights: Vec<f64>,
    floors: Vec<usize>,
    caps: Vec<usize>,
    /// Each region's per-head resource level, with a fairness floor.
    pub levels: Option<Vec<f64>>,
}

impl<'a> Frame<'a> {
    /// The constraints `spec` sets on the regions of `data`: weights from
    /// the weight column, caps on eligible regions, floors up to the
    /// fairness level. The error names the column or region at fault.
    pub fn new(spec: &'a AllocationSpec, data: &Dataset) -> Result<Frame<'a>> {
        let n = data.n();
        let weights = weights(spec.weight.as_deref(), data)?;
        let caps: Vec<usize> = (0..n)
            .map(|i| match spec.eligible {
                Eligible::All => spec.cap,
                Eligible::Untreated if data.w[i] == 0.0 => spec.cap,
                Eligible::Untreated => 0,
            })
            .collect();
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
        Ok(Frame {
            spec,
            weights,
            floors,
            caps,
            levels,
        })
    }

    /// Regions that may receive units.
    pub fn eligible(&self) -> usize {
        self.caps.iter().filter(|&&c| c > 0).count()
    }

    fn problem(&self, tau: &[f64]) -> AllocationProblem {
        AllocationProblem {
            values: tau.iter().zip(&self.weights).map(|(t, w)| t * w).collect(),
            floors: self.floors.clone(),
            caps: self.caps.clone(),
            budget: self.spec.budget,
            returns: self.spec.returns,
        }
    }

    /// The best allocation for effects `tau` under the constraints.
    pub fn solve(&self, tau: &[f64]) -> Result<Vec<usize>> {
        let problem = self.problem(tau);
        match self.spec.solver {
            Solver::Greedy => greedy(&problem),
            Solver::Exact => exact(&problem),
        }
    }

    /// The gain of allocation `units` if the effects are `tau`.
    pub fn gain(&self, tau: &[f64], units: &[usize]) -> f64 {
        self.problem(tau).gain(units)
    }
}

/// An allocation policy: its spec and the seed of its robust draws.
pub struct AllocationPolicy<'a> {
    /// The checked spec.
    pub spec: &'a AllocationSpec,
    /// Drives the Monte Carlo draws of a robust choice.
    pub seed: u64,
}

/// The units each region receives, and what the estimates promise of them.
#[derive(Debug, Clone, PartialEq)]
pub struct Allocation {
    /// Units per region.
    pub units: Vec<usize>,
    /// The gain the estimates promise.
    pub estimated_gain: f64,
    /// With `robust`, the gain at the quantile over fresh draws of the effects.
    pub robust_gain: Option<f64>,
}

impl Policy for AllocationPolicy<'_> {
    type Input<'b> = (&'b Frame<'b>, &'b Effects);
    type Decision = Allocation;

    fn decide(&self, (frame, effects): (&Frame<'_>, &Effects)) -> Result<Allocation> {
        if let Some(i) = effects.tau.iter().position(|t| !t.is_finite()) {
            return Err(Error::Estimate(format!(
                "the estimator's effect for region {} is not a finite number",
                i + 1
            )));
        }
        let (units, robust_gain) = match self.spec.robust {
            None => (frame.solve(&effects.tau)?, None),
            Some(robust) => {
                let (units, gain) = robust_allocation(frame, effects, robust, self.seed)?;
                (units, Some(gain))
            }
        };
        Ok(Allocation {
            estimated_gain: frame.gain(&effects.tau, &units),
            units,
            robust_gain,
        })
    }
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
    fn normal_quantile_inverts_known_values() {
        use crate::core::stats::normal_quantile;
        use crate::core::stats::Z_95;
        assert!((normal_quantile(0.975) - Z_95).abs() < 1e-8);
        assert!((normal_quantile(0.1) + 1.281_551_565_544_601).abs() < 1e-8);
        assert!((normal_quantile(0.001) + 3.090_232_306_167_813).abs() < 1e-8);
        assert_eq!(normal_quantile(0.5), 0.0);
    }

    #[test]
    fn the_quantile_is_an_order_statistic() {
        let mut v = [5.0, 1.0, 4.0, 2.0, 3.0];
        assert_eq!(quantile(&mut v, 0.0), 1.0);
        assert_eq!(quantile(&mut v, 0.5), 3.0);
        assert_eq!(quantile(&mut v, 0.99), 4.0);
    }
}
