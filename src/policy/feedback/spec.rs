//! The checked spec of a feedback policy: which rule decides each period,
//! its budget, its model of the outcome and what it is judged by.
//! `crate::spec` parses and checks the `kind = "feedback"` entries into it.

use serde::{Deserialize, Serialize};

/// How a feedback rule turns what it has seen into each period's decision.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Rule {
    /// Funds by the world's true effects of the period: the ceiling, with
    /// no regret by definition.
    Oracle,
    /// Estimates once, on the observational sample, and keeps that allocation.
    Once,
    /// Re-estimates every period on the data so far and funds by the estimates.
    Reestimate,
    /// Thompson sampling: funds by effects drawn from the model's posterior,
    /// so it explores where the effect is uncertain.
    Thompson,
    /// Funds by an upper confidence bound: estimate plus `kappa` standard errors.
    Ucb,
    /// Funds regions drawn at random: pure exploration, the floor.
    Random,
}

impl Rule {
    /// Its name as written in specs.
    pub fn key(self) -> &'static str {
        match self {
            Rule::Oracle => "oracle",
            Rule::Once => "once",
            Rule::Reestimate => "reestimate",
            Rule::Thompson => "thompson",
            Rule::Ucb => "ucb",
            Rule::Random => "random",
        }
    }

    /// Whether the rule learns a model of the outcome.
    pub fn learns(self) -> bool {
        !matches!(self, Rule::Oracle | Rule::Random)
    }
}

/// A checked `kind = "feedback"` entry.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FeedbackSpec {
    /// Unique label within the experiment.
    pub name: String,
    /// The rule.
    pub rule: Rule,
    /// Regions funded per period (at most; regions with a negative
    /// estimated gain are not funded).
    pub budget: usize,
    /// Covariate column whose values scale each region's gain (its population); none: 1.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub weight: Option<String>,
    /// The effect modifiers of the rule's model: covariates, `stock`,
    /// `period`; empty for every covariate and `stock`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub model: Vec<String>,
    /// Fit on the latest `window` periods only (the observational one
    /// counts while it is among them); none: all periods so far.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub window: Option<usize>,
    /// The upper confidence rule's standard errors above the estimate.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kappa: Option<f64>,
    /// Covariate column with each region's per-head resource level, for the Gini.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub level: Option<String>,
    /// How much one funded period raises a region's level.
    pub step: f64,
    /// A rule has recovered from a shock once its regret share is back
    /// within this much of its share before the shock.
    pub tolerance: f64,
}
