//! Estimators: each turns a [`Dataset`] into an [`Estimate`] of a named
//! [`Estimand`], with a standard error and a confidence interval.

pub mod linalg;
pub mod linear;

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::data::Dataset;
use crate::Result;

/// The quantity an estimator targets; diagnosands compare its estimates with
/// the sim's truth for this estimand.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Estimand {
    /// Average treatment effect over all units.
    Ate,
    /// Local average treatment effect: the average effect among compliers.
    Late,
}

impl Estimand {
    /// The key of this estimand in a sample's truth values.
    pub fn key(self) -> &'static str {
        match self {
            Estimand::Ate => "ate",
            Estimand::Late => "late",
        }
    }

    /// Short upper-case label for tables ("ATE", "LATE").
    pub fn label(self) -> &'static str {
        match self {
            Estimand::Ate => "ATE",
            Estimand::Late => "LATE",
        }
    }
}

/// Two-sided normal critical value for a 95% interval.
pub const Z_95: f64 = 1.959_963_984_540_054;

/// An estimator's answer on one sample.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Estimate {
    /// What the number estimates.
    pub estimand: Estimand,
    /// The point estimate.
    pub estimate: f64,
    /// Its standard error.
    pub se: f64,
    /// Lower end of the 95% confidence interval.
    pub ci_lower: f64,
    /// Upper end of the 95% confidence interval.
    pub ci_upper: f64,
    /// Estimator-specific diagnostics (first-stage F, partial R², arm sizes).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub diagnostics: BTreeMap<String, f64>,
}

impl Estimate {
    /// An estimate with a normal-approximation 95% interval around it.
    pub fn normal(estimand: Estimand, estimate: f64, se: f64) -> Self {
        Estimate {
            estimand,
            estimate,
            se,
            ci_lower: estimate - Z_95 * se,
            ci_upper: estimate + Z_95 * se,
            diagnostics: BTreeMap::new(),
        }
    }

    /// Adds a named diagnostic and returns the estimate (builder style).
    pub fn with(mut self, name: &str, value: f64) -> Self {
        self.diagnostics.insert(name.to_string(), value);
        self
    }
}

/// An estimator, built from its spec and fitted on one dataset at a time.
pub trait Estimator: Send + Sync {
    /// The estimand this estimator targets.
    fn estimand(&self) -> Estimand;
    /// Fits on `data`; `seed` drives any randomness (sample splits, trees) so
    /// that results are reproducible.
    fn fit(&self, data: &Dataset, seed: u64) -> Result<Estimate>;
}
