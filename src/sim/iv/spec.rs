//! The IV world's parameters, which are also its spec, and their checks.

use serde::{Deserialize, Serialize};

use super::{IvSim, Quadrature};
use crate::formula::{Formula, FormulaText};
use crate::{Error, Result};

/// Whether the outcome is continuous or binary (0/1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Outcome {
    /// Y = baseline(x) + tau(x) W + confounding U + noise ε, ε ~ N(0, 1).
    #[default]
    Continuous,
    /// P(Y = 1) = logistic(logit(baseline(x)) + confounding U) + tau(x) W, clamped to [0, 1].
    Binary,
}

/// The instrument: how often it is on and how many units respond to it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Instrument {
    /// Share of units whose treatment responds to the instrument (compliers and defiers).
    pub strength: f64,
    /// P(Z = 1 | x), a formula of the covariates with values in [0, 1].
    pub propensity: FormulaText,
}

impl Default for Instrument {
    fn default() -> Self {
        Instrument {
            strength: 0.5,
            propensity: "0.5".into(),
        }
    }
}

/// How units that respond, and units that do not, take the treatment.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Compliance {
    /// Share of responders who defy the instrument (take treatment when Z = 0),
    /// for a unit with u = 0.
    pub defiers: f64,
    /// Share of non-responders who always take treatment, for a unit with U = 0.
    pub always_takers: f64,
}

impl Default for Compliance {
    fn default() -> Self {
        Compliance {
            defiers: 0.0,
            always_takers: 0.5,
        }
    }
}

/// Parameters of the IV world (`kind = "iv"`); they are also its spec.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct IvWorld {
    /// Number of units per sample.
    pub n: usize,
    /// Number of covariates x1..xp, each U(-1, 1).
    pub covariates: usize,
    /// Continuous or binary outcome.
    pub outcome: Outcome,
    /// The true effect, a formula of x1..xp and the unobserved confounder `u`
    /// (an effect that depends on `u` is selection on gains).
    pub tau: FormulaText,
    /// The untreated outcome's mean (continuous) or probability (binary), a
    /// formula of x1..xp and `u`.
    pub baseline: FormulaText,
    /// Strength of the unobserved confounder u ~ N(0, 1): it shifts
    /// non-responders towards treatment and responders towards defying
    /// (log-odds per SD), and the outcome (per SD).
    pub confounding: f64,
    /// Standard deviation of the continuous outcome's noise.
    pub noise: f64,
    /// The instrument.
    pub instrument: Instrument,
    /// Compliance types.
    pub compliance: Compliance,
}

impl Default for IvWorld {
    fn default() -> Self {
        IvWorld {
            n: 5000,
            covariates: 10,
            outcome: Outcome::Continuous,
            tau: "1".into(),
            baseline: "0".into(),
            confounding: 1.0,
            noise: 1.0,
            instrument: Instrument::default(),
            compliance: Compliance::default(),
        }
    }
}

impl IvWorld {
    /// Checks the parameters and parses the formulas into a runnable sim.
    pub fn build(&self) -> Result<IvSim> {
        let unit_share = |name: &str, value: f64| {
            if (0.0..=1.0).contains(&value) {
                Ok(())
            } else {
                Err(Error::Spec(format!(
                    "`{name}` is {value}; it is a share and must lie in [0, 1]"
                )))
            }
        };
        unit_share("instrument.strength", self.instrument.strength)?;
        unit_share("compliance.defiers", self.compliance.defiers)?;
        unit_share("compliance.always_takers", self.compliance.always_takers)?;
        if self.n < 10 {
            return Err(Error::Spec(format!(
                "`n` is {}; a sample needs at least 10 units",
                self.n
            )));
        }
        for (name, value) in [("confounding", self.confounding), ("noise", self.noise)] {
            if !value.is_finite() || (name == "noise" && value < 0.0) {
                return Err(Error::Spec(format!(
                    "`{name}` is {value}; it must be a finite{} number",
                    if name == "noise" { " non-negative" } else { "" }
                )));
            }
        }
        let names: Vec<String> = (1..=self.covariates).map(|j| format!("x{j}")).collect();
        let mut vars: Vec<&str> = names.iter().map(String::as_str).collect();
        vars.push("u");
        let parse = |key: &str, source: &FormulaText| {
            let source = source.as_str();
            Formula::parse(source, &vars)
                .map_err(|e| Error::Formula(format!("formula `{key}` = \"{source}\": {e}")))
        };
        let propensity = parse("instrument.propensity", &self.instrument.propensity)?;
        if propensity.used_variables().contains(&self.covariates) {
            return Err(Error::Formula(format!(
                "formula `instrument.propensity` = \"{}\" uses `u`; an instrument must be \
                 independent of the unobserved confounder",
                self.instrument.propensity
            )));
        }
        let tau = parse("tau", &self.tau)?;
        let baseline = parse("baseline", &self.baseline)?;
        let uses_u = |f: &Formula| f.used_variables().contains(&self.covariates);
        let quadrature = Quadrature::new(self, uses_u(&tau), uses_u(&baseline));
        Ok(IvSim {
            world: self.clone(),
            tau,
            baseline,
            propensity,
            names,
            quadrature,
        })
    }
}
