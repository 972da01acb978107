//! Policies: rules that turn estimates, bounds and constraints into a
//! decision. A policy never receives the truth; `crate::evaluate` judges its
//! decision against the world afterwards (true welfare, the oracle's,
//! regret).
//!
//! - [`placement`] places each day's cohort of patients into two units
//!   under bed capacity and a reassignment limit (the placement paper).
//! - [`allocation`] distributes a budget of resource units across regions
//!   under caps and a fairness floor (the regional allocation review).
//! - [`feedback`] funds regions period after period, learning from the
//!   outcomes of its own decisions (the review's feedback layer).

pub mod allocation;
pub mod feedback;
pub mod placement;

use serde::{Deserialize, Serialize};

use crate::Result;

/// A decision rule: from what it may know to what it decides.
pub trait Policy {
    /// What the rule sees: estimates, bounds and constraints, never the truth.
    type Input<'a>;
    /// What it decides.
    type Decision;
    /// Decides; an error says why no decision is possible (the beds do not
    /// fit the cohort, an effect is not a number).
    fn decide(&self, input: Self::Input<'_>) -> Result<Self::Decision>;
}

/// Which algorithm solves a policy's optimization problem.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Solver {
    /// An exact solver: proven optimal (placement's minimax regret up to its
    /// node budget; allocation's dynamic program for any gains).
    Exact,
    /// A greedy rule: the placement paper's, to measure what it loses; for
    /// allocation, greedy on marginal gains, optimal for concave gains.
    Greedy,
}
