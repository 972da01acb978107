//! Estimators: each turns a [`Dataset`] into an [`Estimate`] of a named
//! [`Estimand`], with a standard error and a confidence interval.

pub mod cem;
pub mod dml;
pub mod entropy;
pub mod forest;
pub mod gps;
pub mod linalg;
pub mod linear;
pub mod matching;
pub mod pool;
pub mod scm;

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::core::stats::Z_95;
use crate::core::Estimand;
use crate::data::Dataset;
use crate::Result;

pub use linear::ConfidenceSet;

/// What an estimator that needs a 0/1 treatment appends to its refusal of
/// any other value: the estimators that take a continuous treatment (a dose).
pub const DOSE_HINT: &str = "; for a continuous treatment (a dose) use gps, dml with \
model = \"plr\" or ols, which estimate the effect of one more unit";

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
    /// A weak-instrument-robust 95% confidence set, where the estimator has
    /// one (2SLS: the Anderson–Rubin set); unlike the interval above it
    /// need not be bounded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub confidence_set: Option<ConfidenceSet>,
    /// Estimator-specific diagnostics (first-stage F, partial R², arm sizes).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub diagnostics: BTreeMap<String, f64>,
    /// Per-unit effects on the units fitted on, for estimators that have
    /// them (forests); summarized against the truth, never stored whole.
    #[serde(skip)]
    pub units: Option<UnitEffects>,
    /// Why the estimate may not deserve belief, in plain words (poor
    /// overlap, a weak instrument, an average resting on a few units);
    /// empty when no check fired.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<String>,
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
            confidence_set: None,
            diagnostics: BTreeMap::new(),
            units: None,
            warnings: Vec::new(),
        }
    }

    /// Adds a named diagnostic and returns the estimate (builder style).
    pub fn with(mut self, name: &str, value: f64) -> Self {
        self.diagnostics.insert(name.to_string(), value);
        self
    }

    /// Attaches a weak-instrument-robust confidence set and returns the
    /// estimate (builder style).
    pub fn with_confidence_set(mut self, set: ConfidenceSet) -> Self {
        self.confidence_set = Some(set);
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
