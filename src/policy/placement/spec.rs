//! The checked spec of a placement policy: which rule, fed by which
//! estimator, under which reassignment limit, solved how. `crate::spec`
//! parses and checks the `[[policies]]` entries into it.

use serde::{Deserialize, Serialize};

use super::super::Solver;
use crate::bounds::BoundKind;

/// How a policy places a day's cohort.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "rule", content = "bound", rename_all = "snake_case")]
pub enum PlacementRule {
    /// The placement the data record: the baseline every gain is measured against.
    Observed,
    /// Maximize the estimated welfare (the estimator's effects).
    WelfareMax,
    /// Minimize the larger of the regrets of estimated welfare and of welfare
    /// at the effects' lower bounds of this kind.
    MinimaxRegret(BoundKind),
    /// Maximize the true welfare the world knows: the ceiling, only in
    /// simulation. It is no [`super::super::Policy`]: the evaluation places
    /// by the truth, which policies never see.
    Oracle,
}

impl PlacementRule {
    /// The `kind` a user writes for this rule.
    pub fn kind(self) -> &'static str {
        match self {
            PlacementRule::Observed => "observed",
            PlacementRule::WelfareMax => "welfare_max",
            PlacementRule::MinimaxRegret(_) => "minimax_regret",
            PlacementRule::Oracle => "oracle",
        }
    }

    /// Whether the rule reads an estimator's effects.
    pub fn uses_estimates(self) -> bool {
        matches!(
            self,
            PlacementRule::WelfareMax | PlacementRule::MinimaxRegret(_)
        )
    }
}

/// A checked placement `[[policies]]` entry.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PlacementSpec {
    /// Unique label within the experiment (defaults to kind, bound, limit and solver).
    pub name: String,
    /// The rule.
    pub rule: PlacementRule,
    /// The estimator whose effects the rule reads (only rules that use estimates).
    pub estimator: Option<String>,
    /// Largest share of a day's cohort that may be placed differently from
    /// the observed placement; `None` for no limit.
    pub reassignment_limit: Option<f64>,
    /// The solver.
    pub solver: Solver,
}
