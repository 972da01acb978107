//! Estimators: each turns a [`Dataset`] into an [`Estimate`] of a named
//! [`Estimand`], with a standard error and a confidence interval.

pub mod dml;
pub mod entropy;
pub mod forest;
pub mod linalg;
pub mod linear;
pub mod matching;
pub mod scm;

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

/// The standard normal quantile function (Acklam's rational approximation,
/// relative error below 1.2e-9): the `z` with P(N(0, 1) <= z) = `p`, for
/// `p` in (0, 1); infinite at 0 and 1.
pub fn normal_quantile(p: f64) -> f64 {
    const A: [f64; 6] = [
        -3.969_683_028_665_376e1,
        2.209_460_984_245_205e2,
        -2.759_285_104_469_687e2,
        1.383_577_518_672_69e2,
        -3.066_479_806_614_716e1,
        2.506_628_277_459_239,
    ];
    const B: [f64; 5] = [
        -5.447_609_879_822_406e1,
        1.615_858_368_580_409e2,
        -1.556_989_798_598_866e2,
        6.680_131_188_771_972e1,
        -1.328_068_155_288_572e1,
    ];
    const C: [f64; 6] = [
        -7.784_894_002_430_293e-3,
        -3.223_964_580_411_365e-1,
        -2.400_758_277_161_838,
        -2.549_732_539_343_734,
        4.374_664_141_464_968,
        2.938_163_982_698_783,
    ];
    const D: [f64; 4] = [
        7.784_695_709_041_462e-3,
        3.224_671_290_700_398e-1,
        2.445_134_137_142_996,
        3.754_408_661_907_416,
    ];
    const LOW: f64 = 0.024_25;
    if p <= 0.0 {
        return f64::NEG_INFINITY;
    }
    if p >= 1.0 {
        return f64::INFINITY;
    }
    let tail = |q: f64| {
        (((((C[0] * q + C[1]) * q + C[2]) * q + C[3]) * q + C[4]) * q + C[5])
            / ((((D[0] * q + D[1]) * q + D[2]) * q + D[3]) * q + 1.0)
    };
    if p < LOW {
        tail((-2.0 * p.ln()).sqrt())
    } else if p > 1.0 - LOW {
        -tail((-2.0 * (1.0 - p).ln()).sqrt())
    } else {
        let q = p - 0.5;
        let r = q * q;
        (((((A[0] * r + A[1]) * r + A[2]) * r + A[3]) * r + A[4]) * r + A[5]) * q
            / (((((B[0] * r + B[1]) * r + B[2]) * r + B[3]) * r + B[4]) * r + 1.0)
    }
}

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
