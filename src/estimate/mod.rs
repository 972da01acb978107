//! Estimators: each turns a [`Dataset`] into an [`Estimate`] of a named
//! [`Estimand`], with a standard error and a confidence interval.

pub mod dml;
pub mod forest;
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
    /// Average treatment effect on the treated: the average effect among
    /// units that took the treatment (what matching on the treated targets).
    Att,
    /// Natural direct effect, E[Y(1, M(0)) - Y(0, M(0))]: the effect with the
    /// mediators held where the untreated world puts them.
    Direct,
    /// Natural indirect effect, E[Y(1, M(1)) - Y(1, M(0))]: the part of the
    /// effect that runs through the mediators (direct + indirect = ATE).
    Indirect,
}

impl Estimand {
    /// The key of this estimand in a sample's truth values.
    pub fn key(self) -> &'static str {
        match self {
            Estimand::Ate => "ate",
            Estimand::Late => "late",
            Estimand::Att => "att",
            Estimand::Direct => "direct",
            Estimand::Indirect => "indirect",
        }
    }

    /// Short upper-case label for tables ("ATE", "LATE").
    pub fn label(self) -> &'static str {
        match self {
            Estimand::Ate => "ATE",
            Estimand::Late => "LATE",
            Estimand::Att => "ATT",
            Estimand::Direct => "direct effect",
            Estimand::Indirect => "indirect effect",
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
    /// Per-unit effects on the units fitted on, for estimators that have
    /// them (forests); summarized against the truth, never stored whole.
    #[serde(skip)]
    pub units: Option<UnitEffects>,
}

/// Per-unit effect estimates: tau(x_i) with standard errors, and the doubly
/// robust scores whose mean is the average effect (a group's mean is the
/// group's average effect).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct UnitEffects {
    /// Estimated effect per unit.
    pub tau: Vec<f64>,
    /// Its standard error per unit.
    pub se: Vec<f64>,
    /// Doubly robust scores per unit (empty for predictions at new points).
    pub scores: Vec<f64>,
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
            units: None,
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

    /// Fits on `data` and predicts per-unit effects at new covariate rows
    /// (`None` for estimators without per-unit effects).
    fn fit_predict(
        &self,
        data: &Dataset,
        seed: u64,
        x_new: ndarray::ArrayView2<f64>,
    ) -> Result<(Estimate, Option<UnitEffects>)> {
        let _ = x_new;
        Ok((self.fit(data, seed)?, None))
    }
}
