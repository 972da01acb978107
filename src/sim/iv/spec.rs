//! The IV world's parameters, which are also its spec, and their checks.

use serde::{Deserialize, Serialize};

use super::check::{check_formulas, Check, Range};
use super::{IvSim, Quadrature};
use crate::core::text::{elide, number};
use crate::formula::{Formula, FormulaText, Variables};
use crate::sim::limits::{self, MAX_UNITS};
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
    /// Share of units whose treatment responds to the instrument (compliers
    /// and defiers): a number, or a formula of the covariates x1..xp with
    /// values in [0, 1] (the share among units with those covariates).
    pub strength: FormulaText,
    /// P(Z = 1 | x), a formula of the covariates with values in [0, 1].
    pub propensity: FormulaText,
}

impl Default for Instrument {
    fn default() -> Self {
        Instrument {
            strength: "0.5".into(),
            propensity: "0.5".into(),
        }
    }
}

/// How units that respond, and units that do not, take the treatment.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Compliance {
    /// Share of responders who defy the instrument (take treatment when Z = 0),
    /// for a unit with u = 0: a number, or a formula of the covariates x1..xp
    /// with values in [0, 1].
    pub defiers: FormulaText,
    /// Share of non-responders who always take treatment, for a unit with U = 0.
    pub always_takers: f64,
}

impl Default for Compliance {
    fn default() -> Self {
        Compliance {
            defiers: "0".into(),
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

/// Most covariates x1..xp an IV world may have.
pub const MAX_COVARIATES: usize = 10_000;

impl IvWorld {
    /// Checks the parameters and parses the formulas into a runnable sim.
    pub fn build(&self) -> Result<IvSim> {
        self.check_numbers()?;
        let p = self.covariates;
        let names: Vec<String> = (1..=p).map(|j| format!("x{j}")).collect();
        let mut vars: Vec<&str> = names.iter().map(String::as_str).collect();
        vars.push("u");
        let index = Variables::new(&vars);
        let parse = |key: &str, source: &FormulaText| {
            Formula::parse_in(source.as_str(), &index).map_err(|e| {
                Error::Formula(format!(
                    "formula `{key}` = \"{}\": {e}",
                    elide(source.as_str())
                ))
            })
        };
        let of_covariates = |key: &str, source: &FormulaText, why: &str| {
            let formula = parse(key, source)?;
            if formula.used_variables().contains(&p) {
                return Err(Error::Formula(format!(
                    "formula `{key}` = \"{}\" uses `u`; {why}",
                    elide(source.as_str())
                )));
            }
            Ok(formula)
        };
        let propensity = of_covariates(
            "instrument.propensity",
            &self.instrument.propensity,
            "an instrument must be independent of the unobserved confounder",
        )?;
        let share_of_x = "a compliance share is a formula of x1..xp alone (`confounding` \
                          shifts compliance with u)";
        let strength = of_covariates("instrument.strength", &self.instrument.strength, share_of_x)?;
        let defiers = of_covariates("compliance.defiers", &self.compliance.defiers, share_of_x)?;
        let tau = parse("tau", &self.tau)?;
        let baseline = parse("baseline", &self.baseline)?;
        let baseline_range = match self.outcome {
            Outcome::Continuous => Range::Finite,
            Outcome::Binary => Range::Probability,
        };
        #[rustfmt::skip]
        let checks = [
            Check { key: "instrument.propensity", formula: &propensity, range: Range::Probability },
            Check { key: "instrument.strength", formula: &strength, range: Range::Probability },
            Check { key: "compliance.defiers", formula: &defiers, range: Range::Probability },
            Check { key: "tau", formula: &tau, range: Range::Finite },
            Check { key: "baseline", formula: &baseline, range: baseline_range },
        ];
        check_formulas(p, &vars, &checks)?;
        let uses_u = |f: &Formula| f.used_variables().contains(&p);
        let quadrature = Quadrature::new(self, &defiers, uses_u(&tau), uses_u(&baseline));
        Ok(IvSim {
            world: self.clone(),
            tau,
            baseline,
            propensity,
            strength,
            defiers,
            names,
            quadrature,
        })
    }

    /// Checks the sizes against their bounds and the numbers: the
    /// always-takers' share in [0, 1], every number finite, the noise
    /// non-negative (the responders' and defiers' shares are formulas,
    /// checked with the other formulas).
    fn check_numbers(&self) -> Result<()> {
        limits::count("n", self.n, 10, MAX_UNITS)?;
        limits::count("covariates", self.covariates, 0, MAX_COVARIATES)?;
        limits::cells(
            &format!("n = {} units with {} covariates", self.n, self.covariates),
            self.n,
            self.covariates,
        )?;
        limits::share("compliance.always_takers", self.compliance.always_takers)?;
        limits::finite("confounding", self.confounding)?;
        limits::finite("noise", self.noise)?;
        if self.noise < 0.0 {
            return Err(Error::Spec(format!(
                "`noise` is {}; it is a standard deviation and must be non-negative",
                number(self.noise)
            )));
        }
        Ok(())
    }
}
