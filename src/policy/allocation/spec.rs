//! The checked spec of an allocation policy: a budget of resource units,
//! per-region caps, diminishing returns, population weights, a fairness
//! floor and Monte Carlo robustness. `crate::spec` parses and checks the
//! `kind = "allocate"` entries into it.

use serde::{Deserialize, Serialize};

use crate::policy::Solver;

/// Which regions may receive resource units.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Eligible {
    /// Only regions without the resource yet (treatment 0): the estimated
    /// effect is the effect of investing where nobody has.
    #[default]
    Untreated,
    /// Every region.
    All,
}

/// A floor on every eligible region's resource level after allocation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Fairness {
    /// The covariate column holding each region's resource level per head
    /// (e.g. `beds` per 1,000 people).
    pub level: String,
    /// How much one unit raises a region's level.
    pub step: f64,
    /// Every eligible region must end at least at this level, when the cap allows.
    pub min_level: Option<f64>,
}

/// Monte Carlo robustness: choose the allocation whose gain at a low
/// quantile of the estimate's sampling distribution is highest.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Robust {
    /// Draws of the effects from their sampling distribution.
    pub draws: usize,
    /// The quantile of the gain over the draws that is maximized (e.g. 0.1).
    pub quantile: f64,
}

/// A checked `kind = "allocate"` entry.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AllocationSpec {
    /// Unique label within the experiment.
    pub name: String,
    /// The estimator whose effects the allocation reads; `None` for the
    /// oracle, which reads the world's true effects.
    pub estimator: Option<String>,
    /// Resource units to distribute (at most; units with a negative
    /// estimated gain are kept back).
    pub budget: usize,
    /// Most units one region may receive.
    pub cap: usize,
    /// Each further unit in a region yields this share of the previous one's
    /// gain (1: constant returns; below 1: diminishing).
    pub returns: f64,
    /// Covariate column whose values scale each region's gain (its population); none: 1.
    pub weight: Option<String>,
    /// Which regions may receive units.
    pub eligible: Eligible,
    /// The per-head resource level, for the fairness floor and the Gini figure.
    pub fairness: Option<Fairness>,
    /// Monte Carlo robustness, when asked.
    pub robust: Option<Robust>,
    /// The solver: greedy on marginal gains (optimal for these concave
    /// gains, see [`super`]) or the exact dynamic program that checks it.
    pub solver: Solver,
}
