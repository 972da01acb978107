//! The IV world: units with covariates, a binary instrument, compliance types
//! (compliers, defiers, always- and never-takers), an unobserved confounder
//! that drives both selection and outcome, and effect and baseline functions
//! written as formulas.

use ndarray::{Array1, Array2};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, StandardNormal};
use serde::{Deserialize, Serialize};

use super::{ComplianceType, Sample, Sim, Truth};
use crate::data::Dataset;
use crate::spec::formula::{Formula, FormulaText};
use crate::{Error, Result};

/// One line on what the world is, for `causim list`.
pub const SUMMARY: &str =
    "binary instrument, compliance types (compliers, defiers, always-/never-takers), \
unobserved confounding, effect and baseline as formulas of x1..xp and u";

/// Each parameter and what it means, for `causim list`.
pub const PARAMETERS: &[(&str, &str)] = &[
    ("n", "units per sample"),
    ("covariates", "number of covariates x1..xp, each U(-1, 1)"),
    ("outcome", "\"continuous\" or \"binary\""),
    ("tau", "true effect, a formula of x1..xp and the unobserved u (binary: probability scale)"),
    ("baseline", "untreated mean (continuous) or probability (binary), a formula of x1..xp and u"),
    ("confounding", "effect of the unobserved u ~ N(0,1) on taking treatment and defying (log-odds) and on the outcome"),
    ("noise", "standard deviation of the continuous outcome's noise"),
    ("instrument.strength", "share of units whose treatment responds to the instrument"),
    ("instrument.propensity", "P(Z = 1 | x), a formula of x1..xp"),
    ("compliance.defiers", "share of responders who defy the instrument (at u = 0)"),
    ("compliance.always_takers", "share of non-responders who always take treatment (at U = 0)"),
];

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
        Ok(IvSim {
            world: self.clone(),
            tau: parse("tau", &self.tau)?,
            baseline: parse("baseline", &self.baseline)?,
            propensity,
            names,
        })
    }
}

/// The IV world with its formulas parsed, ready to generate samples.
#[derive(Debug, Clone)]
pub struct IvSim {
    world: IvWorld,
    tau: Formula,
    baseline: Formula,
    propensity: Formula,
    names: Vec<String>,
}

fn logistic(a: f64) -> f64 {
    1.0 / (1.0 + (-a).exp())
}

fn logit(p: f64) -> f64 {
    (p / (1.0 - p)).ln()
}

/// A share shifted on the log-odds scale; shares of exactly 0 or 1 stay put
/// (their logit is infinite), so `defiers = 0` means no defiers at any u.
fn share(base_logit: f64, shift: f64) -> f64 {
    logistic(base_logit + shift)
}

/// Fails with the formula, unit and value when a probability leaves [0, 1].
fn probability(formula: &Formula, key: &str, value: f64, unit: usize) -> Result<f64> {
    if (0.0..=1.0).contains(&value) {
        Ok(value)
    } else {
        Err(Error::Formula(format!(
            "formula `{key}` = \"{formula}\" is {value} at unit {unit}; a probability must lie in [0, 1]"
        )))
    }
}

impl Sim for IvSim {
    fn generate(&self, seed: u64) -> Result<Sample> {
        let w_ = &self.world;
        let (n, p) = (w_.n, w_.covariates);
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let mut x = Array2::<f64>::zeros((n, p));
        let (mut y, mut w, mut z) = (Array1::zeros(n), Array1::zeros(n), Array1::zeros(n));
        let mut tau = Vec::with_capacity(n);
        let mut types = Vec::with_capacity(n);
        let defy_logit = logit(w_.compliance.defiers);
        let always_logit = logit(w_.compliance.always_takers);
        // Covariates x1..xp, then the unobserved u: the formulas' variables.
        let mut xs = vec![0.0; p + 1];
        for i in 0..n {
            // Every unit consumes the same draws in the same order whatever the
            // parameters, so cells share common random numbers.
            for v in xs[..p].iter_mut() {
                *v = rng.random_range(-1.0..1.0);
            }
            x.row_mut(i).assign(&ndarray::ArrayView1::from(&xs[..p]));
            let u: f64 = StandardNormal.sample(&mut rng);
            xs[p] = u;
            let (v_respond, v_defy, v_always, v_z, v_y): (f64, f64, f64, f64, f64) = (
                rng.random(),
                rng.random(),
                rng.random(),
                rng.random(),
                rng.random(),
            );
            let eps: f64 = StandardNormal.sample(&mut rng);
            let xs = &xs[..];

            let kind = if v_respond < w_.instrument.strength {
                if v_defy < share(defy_logit, w_.confounding * u) {
                    ComplianceType::Defier
                } else {
                    ComplianceType::Complier
                }
            } else if v_always < share(always_logit, w_.confounding * u) {
                ComplianceType::AlwaysTaker
            } else {
                ComplianceType::NeverTaker
            };
            let pz = probability(
                &self.propensity,
                "instrument.propensity",
                self.propensity.eval(xs),
                i,
            )?;
            let zi = f64::from(u8::from(v_z < pz));
            let wi = match kind {
                ComplianceType::Complier => zi,
                ComplianceType::Defier => 1.0 - zi,
                ComplianceType::AlwaysTaker => 1.0,
                ComplianceType::NeverTaker => 0.0,
            };
            let (b, t) = (self.baseline.eval(xs), self.tau.eval(xs));
            let (yi, ti) = match w_.outcome {
                Outcome::Continuous => (b + t * wi + w_.confounding * u + w_.noise * eps, t),
                Outcome::Binary => {
                    let b = probability(&self.baseline, "baseline", b, i)?;
                    let p0 = logistic(logit(b) + w_.confounding * u);
                    let p1 = (p0 + t).clamp(0.0, 1.0);
                    let pw = if wi > 0.5 { p1 } else { p0 };
                    (f64::from(u8::from(v_y < pw)), p1 - p0)
                }
            };
            y[i] = yi;
            w[i] = wi;
            z[i] = zi;
            tau.push(ti);
            types.push(kind);
        }
        let truth = iv_truth(tau, types);
        let data = Dataset::new(y, w, Some(z), x, self.names.clone())?;
        Ok(Sample { data, truth })
    }
}

/// Sample estimands of a world with compliance types: ATE, LATE and type shares.
pub fn iv_truth(tau: Vec<f64>, types: Vec<ComplianceType>) -> Truth {
    let n = tau.len() as f64;
    let mut values = std::collections::BTreeMap::new();
    values.insert("ate".to_string(), tau.iter().sum::<f64>() / n);
    let compliers: Vec<f64> = tau
        .iter()
        .zip(&types)
        .filter(|(_, k)| **k == ComplianceType::Complier)
        .map(|(t, _)| *t)
        .collect();
    if !compliers.is_empty() {
        values.insert(
            "late".to_string(),
            compliers.iter().sum::<f64>() / compliers.len() as f64,
        );
    }
    for kind in [
        ComplianceType::Complier,
        ComplianceType::Defier,
        ComplianceType::AlwaysTaker,
        ComplianceType::NeverTaker,
    ] {
        let share = types.iter().filter(|k| **k == kind).count() as f64 / n;
        values.insert(format!("share_{}", kind.name()), share);
    }
    Truth {
        values,
        tau,
        complier_type: Some(types),
    }
}
