//! The IV world: units with covariates, a binary instrument, compliance types
//! (compliers, defiers, always- and never-takers), an unobserved confounder
//! that drives both selection and outcome, and effect and baseline functions
//! written as formulas.
//!
//! `spec` holds the parameters and their checks, `check` evaluates the
//! formulas on the world's ranges when it is built, `generate` draws samples
//! and `truth` integrates the confounder out of each unit's effect.

mod check;
mod generate;
mod spec;
mod truth;

use std::fmt;

pub use spec::{Compliance, Instrument, IvWorld, Outcome, MAX_COVARIATES};
pub use truth::iv_truth;

use super::{Sample, Sim};
use crate::core::stats::logistic;
use crate::core::text::{elide, number};
use crate::formula::Formula;
use crate::{Error, Result};
use truth::Quadrature;

/// One line on what the world is, for `causim list`.
pub const SUMMARY: &str =
    "binary instrument, compliance types (compliers, defiers, always-/never-takers), \
unobserved confounding, effect and baseline as formulas of x1..xp and u, \
compliance shares as formulas of x1..xp";

/// Each parameter and what it means, for `causim list`.
pub const PARAMETERS: &[(&str, &str)] = &[
    ("n", "units per sample (10 to 10,000,000, and n × covariates at most 200,000,000)"),
    ("covariates", "number of covariates x1..xp, each U(-1, 1) (at most 10,000)"),
    ("outcome", "\"continuous\" or \"binary\""),
    ("tau", "true effect, a formula of x1..xp and the unobserved u (binary: probability scale); every formula is at most 10,000 characters and must be finite for x in [-1, 1) and u in [-4, 4]"),
    ("baseline", "untreated mean (continuous) or probability in [0, 1] (binary), a formula of x1..xp and u"),
    ("confounding", "effect of the unobserved u ~ N(0,1) on taking treatment and defying (log-odds) and on the outcome"),
    ("noise", "standard deviation of the continuous outcome's noise"),
    ("instrument.strength", "share of units whose treatment responds to the instrument: a number, or a formula of x1..xp with values in [0, 1]"),
    ("instrument.propensity", "P(Z = 1 | x), a formula of x1..xp with values in [0, 1]"),
    ("compliance.defiers", "share of responders who defy the instrument (at u = 0): a number, or a formula of x1..xp with values in [0, 1]"),
    ("compliance.always_takers", "share of non-responders who always take treatment (at U = 0)"),
];

/// The IV world with its formulas parsed, ready to generate samples.
#[derive(Debug, Clone)]
pub struct IvSim {
    world: IvWorld,
    tau: Formula,
    baseline: Formula,
    propensity: Formula,
    /// P(responder | x).
    strength: Formula,
    /// P(defier | responder, x) at u = 0.
    defiers: Formula,
    names: Vec<String>,
    quadrature: Quadrature,
}

/// Where a formula is evaluated, for error messages.
#[derive(Debug, Clone, Copy)]
enum At {
    /// At a generated unit, with its own u.
    Unit(usize),
    /// At a generated unit's covariates with u set to a quadrature node.
    Node { unit: usize, u: f64 },
}

impl fmt::Display for At {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            At::Unit(unit) => write!(f, "at unit {unit}"),
            At::Node { unit, u } => write!(
                f,
                "at unit {unit} with u = {u:.3} (a quadrature node integrating u out of \
                 the unit's conditional effect, so it must hold for every u)"
            ),
        }
    }
}

/// P(Y(0) = 1) and P(Y(1) = 1) of a binary outcome whose untreated
/// log-odds are `log_odds` (logit(baseline) + confounding * u) and whose
/// effect formula is `tau`: P(Y(1) = 1) = P(Y(0) = 1) + tau, clamped to [0, 1].
fn binary_probabilities(log_odds: f64, tau: f64) -> (f64, f64) {
    let p0 = logistic(log_odds);
    (p0, (p0 + tau).clamp(0.0, 1.0))
}

/// A share shifted on the log-odds scale; shares of exactly 0 or 1 stay put
/// (their logit is infinite), so `defiers = 0` means no defiers at any u.
fn share(base_logit: f64, shift: f64) -> f64 {
    logistic(base_logit + shift)
}

/// Fails with the formula, where it was evaluated and its value when a probability leaves [0, 1].
fn probability(formula: &Formula, key: &str, value: f64, at: At) -> Result<f64> {
    if (0.0..=1.0).contains(&value) {
        Ok(value)
    } else {
        Err(Error::Formula(format!(
            "formula `{key}` = \"{}\" is {} {at}; a probability must lie in [0, 1]",
            elide(formula.source()),
            number(value)
        )))
    }
}

impl Sim for IvSim {
    fn generate(&self, seed: u64) -> Result<Sample> {
        self.draw(seed)
    }

    fn add_conditional_truth(&self, sample: &mut Sample) -> Result<()> {
        self.conditional_truth(sample)
    }
}
