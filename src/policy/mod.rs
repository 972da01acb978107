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

use crate::data::Dataset;
use crate::{Error, Result};

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

/// A covariate column by name, or an error naming the key and the columns.
pub fn column(data: &Dataset, name: &str, key: &str) -> Result<Vec<f64>> {
    let j = data.x_names.iter().position(|n| n == name).ok_or_else(|| {
        Error::Data(format!(
            "`{key} = \"{name}\"` names no covariate; the data has: {}",
            data.x_names.join(", ")
        ))
    })?;
    Ok(data.x.column(j).to_vec())
}

/// Each region's weight from the `weight` column, 1 each without one; the
/// error names the column or the region whose weight is not a population.
pub fn weights(weight: Option<&str>, data: &Dataset) -> Result<Vec<f64>> {
    let Some(name) = weight else {
        return Ok(vec![1.0; data.n()]);
    };
    let w = column(data, name, "weight")?;
    if let Some(i) = w.iter().position(|v| !(*v >= 0.0 && v.is_finite())) {
        return Err(Error::Data(format!(
            "weight `{name}` of region {} is {}; weights are populations, non-negative numbers",
            i + 1,
            w[i]
        )));
    }
    Ok(w)
}
