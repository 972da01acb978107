//! The registry of allocation policies: `[[policies]]` entries of
//! `kind = "allocate"`, parsed and checked into an [`AllocationSpec`], which
//! distribute a budget of discrete resource units across the units of a
//! sample (regions, districts) to maximize the health gain an estimator
//! promises, under per-region caps and a fairness floor, and are judged by the
//! gain the world truly gives.

use serde::Deserialize;

use super::NamedEstimator;
use crate::core::text::number;
use crate::policy::allocation::{AllocationSpec, Eligible, Fairness, Robust};
use crate::policy::Solver;

/// Most resource units a budget (or one region's cap) may hold.
pub const MAX_UNITS: usize = 10_000_000;

/// Most Monte Carlo draws of a robust allocation.
pub const MAX_DRAWS: usize = 100_000;

/// A `[[policies]]` entry of `kind = "allocate"`, as written (without its `kind`).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct AllocationEntry {
    name: Option<String>,
    estimator: Option<String>,
    solver: Option<Solver>,
    budget: Option<usize>,
    cap: Option<usize>,
    returns: Option<f64>,
    weight: Option<String>,
    eligible: Option<Eligible>,
    level: Option<String>,
    step: Option<f64>,
    min_level: Option<f64>,
    robust: Option<bool>,
    draws: Option<usize>,
    quantile: Option<f64>,
    oracle: Option<bool>,
}

impl AllocationEntry {
    /// Checks the entry against the experiment's estimators; the error says what to change.
    pub(crate) fn check(self, estimators: &[NamedEstimator]) -> Result<AllocationSpec, String> {
        let (name, estimator, solver) = (self.name, self.estimator, self.solver);
        let budget = self.budget.ok_or(
            "kind = \"allocate\" needs `budget`: the number of resource units to distribute",
        )?;
        if !(1..=MAX_UNITS).contains(&budget) {
            return Err(format!(
                "`budget` is {budget}; give between 1 and {MAX_UNITS} units to distribute"
            ));
        }
        let cap = self.cap.unwrap_or(1);
        if !(1..=MAX_UNITS).contains(&cap) {
            return Err(format!(
                "`cap` is {cap}; a region may receive between 1 and {MAX_UNITS} units"
            ));
        }
        let returns = self.returns.unwrap_or(1.0);
        if !(returns > 0.0 && returns <= 1.0) {
            return Err(format!(
                "`returns` is {}; it is the share of the previous unit's gain that the \
                 next unit in the same region yields, in (0, 1] (1: constant returns). Increasing \
                 returns are not supported: gains must be concave for the solvers' guarantees",
                number(returns)
            ));
        }
        let oracle = self.oracle.unwrap_or(false);
        let estimator = source(oracle, estimator, estimators)?;
        let fairness = fairness(self.level, self.step, self.min_level)?;
        let robust = robust(self.robust, self.draws, self.quantile, oracle)?;
        // Greedy is optimal for the concave gains every allocation has.
        let solver = solver.unwrap_or(Solver::Greedy);
        let name = name.unwrap_or_else(|| {
            let source = estimator.as_deref().unwrap_or("oracle");
            let mut name = format!("allocate by {source}");
            if robust.is_some() {
                name.push_str(", robust");
            }
            if fairness.as_ref().is_some_and(|f| f.min_level.is_some()) {
                name.push_str(", floor");
            }
            name
        });
        Ok(AllocationSpec {
            name,
            estimator,
            budget,
            cap,
            returns,
            weight: self.weight,
            eligible: self.eligible.unwrap_or_default(),
            fairness,
            robust,
            solver,
        })
    }
}

/// Whose effects feed the allocation: none for the oracle (the world's true
/// effects), else the named estimator, or the experiment's only one.
fn source(
    oracle: bool,
    estimator: Option<String>,
    estimators: &[NamedEstimator],
) -> Result<Option<String>, String> {
    Ok(match (oracle, estimator) {
        (true, Some(e)) => {
            return Err(format!(
                "`oracle = true` allocates by the world's true effects; remove \
                 `estimator = \"{e}\"`"
            ))
        }
        (true, None) => None,
        (false, Some(e)) => {
            if !estimators.iter().any(|n| n.name == e) {
                let known: Vec<&str> = estimators.iter().map(|n| n.name.as_str()).collect();
                return Err(format!(
                    "`estimator = \"{e}\"` names no estimator of this experiment; it has: {}",
                    if known.is_empty() {
                        "none".to_string()
                    } else {
                        known.join(", ")
                    }
                ));
            }
            Some(e)
        }
        (false, None) => match estimators {
            [only] => Some(only.name.clone()),
            _ => {
                return Err("say which estimator's effects feed the allocation with \
                     `estimator = \"...\"`, or set `oracle = true` for the world's true effects"
                    .into())
            }
        },
    })
}

/// The fairness floor from `level`, `step` and `min_level`, when `level` is given.
fn fairness(
    level: Option<String>,
    step: Option<f64>,
    min_level: Option<f64>,
) -> Result<Option<Fairness>, String> {
    Ok(match (level, step, min_level) {
        (Some(level), step, min_level) => {
            let step = step.unwrap_or(1.0);
            if !(step.is_finite() && step > 0.0) {
                return Err(format!(
                    "`step` is {}; it is how much one unit raises a region's `{level}`, \
                     a positive number",
                    number(step)
                ));
            }
            if min_level.is_some_and(|m| !m.is_finite()) {
                return Err("`min_level` must be a finite number".into());
            }
            Some(Fairness {
                level,
                step,
                min_level,
            })
        }
        (None, Some(_), _) | (None, _, Some(_)) => {
            return Err(
                "`step` and `min_level` need `level`: the column with each region's \
                 resource level per head (e.g. level = \"beds\")"
                    .into(),
            )
        }
        (None, None, None) => None,
    })
}

/// Monte Carlo robustness from `robust`, `draws` and `quantile`, when asked
/// (the oracle takes none).
fn robust(
    robust: Option<bool>,
    draws: Option<usize>,
    quantile: Option<f64>,
    oracle: bool,
) -> Result<Option<Robust>, String> {
    Ok(match (robust.unwrap_or(false), draws, quantile) {
        (true, draws, quantile) => {
            if oracle {
                return Err("the oracle knows the true effects; it takes no `robust`".into());
            }
            let draws = draws.unwrap_or(200);
            let quantile = quantile.unwrap_or(0.1);
            if !(10..=MAX_DRAWS).contains(&draws) {
                return Err(format!(
                    "`draws` is {draws}; a quantile needs between 10 and {MAX_DRAWS} Monte \
                     Carlo draws"
                ));
            }
            if !(quantile > 0.0 && quantile < 1.0) {
                return Err(format!(
                    "`quantile` is {}; it is the share of draws below the gain \
                     maximized, in (0, 1), e.g. 0.1",
                    number(quantile)
                ));
            }
            Some(Robust { draws, quantile })
        }
        (false, None, None) => None,
        (false, _, _) => {
            return Err("`draws` and `quantile` belong to `robust = true`".into());
        }
    })
}
