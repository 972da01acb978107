//! The registry of placement policies: `[[policies]]` entries of an
//! experiment on a hospital world, parsed and checked against the
//! experiment's estimators into a [`PlacementSpec`], a rule that places
//! every day's cohort into the two units from an estimator's effects (and
//! bounds).

use serde::Deserialize;

use super::{EstimatorSpec, NamedEstimator};
use crate::bounds::BoundKind;
use crate::core::text::number;
use crate::policy::placement::{PlacementRule, PlacementSpec};
use crate::policy::Solver;

/// A `[[policies]]` entry as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct PolicyEntry {
    kind: String,
    name: Option<String>,
    estimator: Option<String>,
    bound: Option<BoundKind>,
    reassignment_limit: Option<f64>,
    solver: Option<Solver>,
}

/// The kinds a user may write, for error messages.
const KINDS: &str = "observed, welfare_max, minimax_regret or oracle";

/// Which bounds an estimator can give every patient at any busyness, and why
/// not where it cannot; `None` when it has no per-patient effects at all.
fn bounds_of(spec: &EstimatorSpec) -> Option<Vec<(BoundKind, Option<&'static str>)>> {
    let little_bags = |params: &crate::estimate::forest::ForestParams| {
        (params.ci_group_size < 2).then_some(
            "its per-patient standard errors need little bags: set ci_group_size = 2 or more",
        )
    };
    match spec {
        EstimatorSpec::InstrumentalForest(f) => Some(vec![
            (BoundKind::Frequentist, little_bags(&f.0)),
            (BoundKind::Manski, None),
            (BoundKind::BalkePearl, None),
        ]),
        EstimatorSpec::CausalForest(f) => Some(vec![
            (BoundKind::Frequentist, little_bags(&f.0)),
            (BoundKind::Manski, None),
            (
                BoundKind::BalkePearl,
                Some("Balke-Pearl bounds need an instrument: use kind = \"instrumental_forest\""),
            ),
        ]),
        _ => None,
    }
}

impl PolicyEntry {
    /// Checks the entry against the experiment's estimators; the error says what to change.
    pub(crate) fn check(
        self,
        estimators: &[NamedEstimator],
    ) -> std::result::Result<PlacementSpec, String> {
        let rule = match (self.kind.as_str(), self.bound) {
            ("observed", None) => PlacementRule::Observed,
            ("welfare_max", None) => PlacementRule::WelfareMax,
            ("minimax_regret", bound) => {
                PlacementRule::MinimaxRegret(bound.unwrap_or(BoundKind::Frequentist))
            }
            ("oracle", None) => PlacementRule::Oracle,
            ("observed" | "welfare_max" | "oracle", Some(_)) => {
                return Err(format!(
                    "`bound` belongs to kind = \"minimax_regret\"; kind = \"{}\" takes none",
                    self.kind
                ))
            }
            (other, _) => return Err(format!("unknown policy kind `{other}`; use {KINDS}")),
        };
        if let Some(limit) = self.reassignment_limit {
            if !(0.0..=1.0).contains(&limit) {
                return Err(format!(
                    "`reassignment_limit` is {}; it is the largest share of a day's cohort \
                     that may be moved, between 0 and 1 (e.g. 0.2), or leave it out for no limit",
                    number(limit)
                ));
            }
        }
        if rule == PlacementRule::Observed
            && (self.solver.is_some() || self.reassignment_limit.is_some())
        {
            return Err(
                "kind = \"observed\" keeps the recorded placement; it takes no `solver` or \
                 `reassignment_limit`"
                    .into(),
            );
        }
        let estimator = if rule.uses_estimates() {
            Some(pick_estimator(rule, self.estimator, estimators)?)
        } else if let Some(name) = self.estimator {
            return Err(format!(
                "kind = \"{}\" reads no estimates; remove `estimator = \"{name}\"`",
                rule.kind()
            ));
        } else {
            None
        };
        let solver = self.solver.unwrap_or(Solver::Exact);
        let name = self
            .name
            .unwrap_or_else(|| default_name(rule, self.reassignment_limit, solver));
        Ok(PlacementSpec {
            name,
            rule,
            estimator,
            reassignment_limit: self.reassignment_limit,
            solver,
        })
    }
}

/// The estimator a rule reads: the one named, or the only forest there is.
fn pick_estimator(
    rule: PlacementRule,
    named: Option<String>,
    estimators: &[NamedEstimator],
) -> std::result::Result<String, String> {
    let forests: Vec<&NamedEstimator> = estimators
        .iter()
        .filter(|e| bounds_of(&e.spec).is_some())
        .collect();
    let chosen = match named {
        Some(name) => estimators.iter().find(|e| e.name == name).ok_or_else(|| {
            let known: Vec<&str> = estimators.iter().map(|e| e.name.as_str()).collect();
            format!(
                "`estimator = \"{name}\"` names no estimator of this experiment; it has: {}",
                if known.is_empty() {
                    "none".to_string()
                } else {
                    known.join(", ")
                }
            )
        })?,
        None => match forests.as_slice() {
            [only] => only,
            [] => {
                return Err(format!(
                    "kind = \"{}\" needs per-patient effects at every busyness: add an \
                     `[[estimators]]` entry of kind \"instrumental_forest\" or \"causal_forest\"",
                    rule.kind()
                ))
            }
            _ => {
                return Err(format!(
                    "several forests could feed this policy; say which with `estimator = \"...\"` \
                     (one of: {})",
                    forests
                        .iter()
                        .map(|e| e.name.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                ))
            }
        },
    };
    let bounds = bounds_of(&chosen.spec).ok_or_else(|| {
        format!(
            "estimator `{}` ({}) gives one average effect, but a placement policy needs each \
             patient's effect at every busyness; use an estimator of kind \"instrumental_forest\" \
             or \"causal_forest\"",
            chosen.name,
            chosen.spec.kind()
        )
    })?;
    if let PlacementRule::MinimaxRegret(bound) = rule {
        if let Some((_, Some(why))) = bounds.iter().find(|(b, _)| *b == bound) {
            return Err(format!(
                "bound = \"{}\" cannot come from estimator `{}` ({}): {why}",
                bound.key(),
                chosen.name,
                chosen.spec.kind()
            ));
        }
    }
    Ok(chosen.name.clone())
}

/// "minimax_regret balke_pearl, limit 0.2, greedy": the label of an unnamed policy.
fn default_name(rule: PlacementRule, limit: Option<f64>, solver: Solver) -> String {
    let mut name = rule.kind().to_string();
    if let PlacementRule::MinimaxRegret(bound) = rule {
        name = format!("{name} {}", bound.key());
    }
    if let Some(limit) = limit {
        name = format!("{name}, limit {limit}");
    }
    if solver == Solver::Greedy {
        name = format!("{name}, greedy");
    }
    name
}

/// The bounds the estimator named `name` can give (for the policy evaluation
/// to compute only what some policy or regret needs).
pub fn available_bounds(estimators: &[NamedEstimator], name: &str) -> Vec<BoundKind> {
    estimators
        .iter()
        .find(|e| e.name == name)
        .and_then(|e| bounds_of(&e.spec))
        .map(|b| {
            b.into_iter()
                .filter(|(_, why)| why.is_none())
                .map(|(b, _)| b)
                .collect()
        })
        .unwrap_or_default()
}
