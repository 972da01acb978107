//! The IV world: units with covariates, a binary instrument, compliance types
//! (compliers, defiers, always- and never-takers), an unobserved confounder
//! that drives both selection and outcome, and effect and baseline functions
//! written as formulas.

use std::fmt;

use ndarray::{Array1, Array2};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, StandardNormal};
use serde::{Deserialize, Serialize};

use super::quadrature::gauss_hermite;
use super::{ComplianceType, Sample, Sim, Truth};
use crate::core::stats::{logistic, logit};
use crate::data::Dataset;
use crate::formula::{Formula, FormulaText};
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

/// The IV world with its formulas parsed, ready to generate samples.
#[derive(Debug, Clone)]
pub struct IvSim {
    world: IvWorld,
    tau: Formula,
    baseline: Formula,
    propensity: Formula,
    names: Vec<String>,
    quadrature: Quadrature,
}

/// Number of Gauss-Hermite nodes that integrate u out of a unit's effect.
const QUADRATURE_NODES: usize = 40;

/// Nodes whose normalized weight is below this are dropped (they lie beyond
/// |u| = 8.3 and change moments up to E[u^8] by less than 1e-10), which
/// leaves 32 of the 40.
const NEGLIGIBLE_WEIGHT: f64 = 1e-16;

/// How u ~ N(0, 1) is integrated out of a unit's effect to give its
/// conditional effects given the observed covariates.
#[derive(Debug, Clone)]
struct Quadrature {
    /// Whether the effect depends on u; if not, the conditional effects are
    /// the unit's own effect and no quadrature runs.
    integrate: bool,
    /// Whether the tau formula uses u (else its value at the unit's own u holds at every node).
    tau_uses_u: bool,
    /// Whether the baseline formula uses u (else likewise).
    baseline_uses_u: bool,
    /// Gauss-Hermite nodes for u ~ N(0, 1).
    nodes: Vec<f64>,
    /// Their weights, summing to 1: E[f(u)] = sum of weight * f(node).
    weights: Vec<f64>,
    /// The weights times P(complier | u), normalized to sum to 1:
    /// E[f(u) | complier] = sum of complier weight * f(node).
    complier_weights: Vec<f64>,
    /// Whether the world has compliers at all (a responder share above 0 and
    /// a defier share below 1); without them there is no conditional LATE.
    has_compliers: bool,
}

impl Quadrature {
    fn new(world: &IvWorld, tau_uses_u: bool, baseline_uses_u: bool) -> Quadrature {
        // The effect varies with u when the tau formula uses it or, for a
        // binary outcome, when P(Y(0) = 1) does.
        let integrate = tau_uses_u
            || (world.outcome == Outcome::Binary && (world.confounding != 0.0 || baseline_uses_u));
        let (all_nodes, all_weights) = gauss_hermite(QUADRATURE_NODES);
        let (nodes, mut weights): (Vec<f64>, Vec<f64>) = all_nodes
            .into_iter()
            .zip(all_weights)
            .filter(|(_, w)| *w >= NEGLIGIBLE_WEIGHT)
            .unzip();
        let total: f64 = weights.iter().sum();
        weights.iter_mut().for_each(|w| *w /= total);
        // P(complier | u) = strength * (1 - P(defier | responder, u)), as in
        // `IvSim::generate`; the constant strength cancels on normalizing.
        let defy_logit = logit(world.compliance.defiers);
        let mut complier_weights: Vec<f64> = nodes
            .iter()
            .zip(&weights)
            .map(|(&u, &w)| w * (1.0 - share(defy_logit, world.confounding * u)))
            .collect();
        let total: f64 = complier_weights.iter().sum();
        let has_compliers = world.instrument.strength > 0.0 && total > 0.0;
        if has_compliers {
            complier_weights.iter_mut().for_each(|w| *w /= total);
        }
        Quadrature {
            integrate,
            tau_uses_u,
            baseline_uses_u,
            nodes,
            weights,
            complier_weights,
            has_compliers,
        }
    }
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

impl IvSim {
    /// A unit's conditional effects given its covariates, E[effect | x] and
    /// E[effect | x, complier] (meaningful only where the world has
    /// compliers). `vars` holds x1..xp, then u (which is overwritten);
    /// `effect`, `tau` and `baseline` are the unit's effect and formula
    /// values at its own u (the baseline already checked as a probability
    /// for a binary outcome). Formulas that do not use u are not re-evaluated.
    fn conditional_effects(
        &self,
        vars: &mut [f64],
        unit: usize,
        effect: f64,
        tau: f64,
        baseline: f64,
    ) -> Result<(f64, f64)> {
        let q = &self.quadrature;
        if !q.integrate {
            return Ok((effect, effect));
        }
        let (p, confounding) = (self.world.covariates, self.world.confounding);
        match self.world.outcome {
            // Integrating only when tau uses u.
            Outcome::Continuous => self.integrate(vars, |vars, _| Ok(self.tau.eval(vars))),
            Outcome::Binary => {
                let own_logit = logit(baseline);
                self.integrate(vars, |vars, u| {
                    let t = if q.tau_uses_u {
                        self.tau.eval(vars)
                    } else {
                        tau
                    };
                    let base_logit = if q.baseline_uses_u {
                        let b = self.baseline.eval(vars);
                        logit(probability(
                            &self.baseline,
                            "baseline",
                            b,
                            At::Node { unit, u },
                        )?)
                    } else {
                        own_logit
                    };
                    let (p0, p1) = binary_probabilities(base_logit + confounding * vars[p], t);
                    Ok(p1 - p0)
                })
            }
        }
    }

    /// The quadrature sums E[f(u)] and E[f(u) | complier] of a unit's
    /// `effect`, called with `vars` (u set to each node) and that node.
    fn integrate(
        &self,
        vars: &mut [f64],
        mut effect: impl FnMut(&[f64], f64) -> Result<f64>,
    ) -> Result<(f64, f64)> {
        let q = &self.quadrature;
        let p = self.world.covariates;
        let (mut cate, mut clate) = (0.0, 0.0);
        for ((&u, &w), &cw) in q.nodes.iter().zip(&q.weights).zip(&q.complier_weights) {
            vars[p] = u;
            let e = effect(vars, u)?;
            cate += w * e;
            clate += cw * e;
        }
        Ok((cate, clate))
    }
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
            "formula `{key}` = \"{formula}\" is {value} {at}; a probability must lie in [0, 1]"
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
                self.propensity.eval(&xs),
                At::Unit(i),
            )?;
            let zi = f64::from(u8::from(v_z < pz));
            let wi = match kind {
                ComplianceType::Complier => zi,
                ComplianceType::Defier => 1.0 - zi,
                ComplianceType::AlwaysTaker => 1.0,
                ComplianceType::NeverTaker => 0.0,
            };
            let (b, t) = (self.baseline.eval(&xs), self.tau.eval(&xs));
            let (yi, ti) = match w_.outcome {
                Outcome::Continuous => (b + t * wi + w_.confounding * u + w_.noise * eps, t),
                Outcome::Binary => {
                    let b = probability(&self.baseline, "baseline", b, At::Unit(i))?;
                    let (p0, p1) = binary_probabilities(logit(b) + w_.confounding * u, t);
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
        let truth = iv_truth(tau, Vec::new(), None, types);
        let data = Dataset::new(y, w, Some(z), x, self.names.clone())?;
        Ok(Sample {
            data,
            truth,
            cohorts: None,
        })
    }

    fn add_conditional_truth(&self, sample: &mut Sample) -> Result<()> {
        let p = self.world.covariates;
        let n = sample.data.n();
        let mut vars = vec![0.0; p + 1];
        let (mut cate, mut clate) = (Vec::with_capacity(n), Vec::with_capacity(n));
        for (i, row) in sample.data.x.rows().into_iter().enumerate() {
            for (v, x) in vars.iter_mut().zip(row) {
                *v = *x;
            }
            // Where the effect does not depend on u (no quadrature), its
            // value at u = 0 is the unit's own.
            vars[p] = 0.0;
            let t = self.tau.eval(&vars);
            let b = self.baseline.eval(&vars);
            let (b, effect) = match self.world.outcome {
                Outcome::Continuous => (b, t),
                Outcome::Binary if self.quadrature.baseline_uses_u => (b.clamp(0.0, 1.0), f64::NAN),
                Outcome::Binary => {
                    let b = probability(&self.baseline, "baseline", b, At::Unit(i))?;
                    let (p0, p1) = binary_probabilities(logit(b), t);
                    (b, p1 - p0)
                }
            };
            let (c, l) = self.conditional_effects(&mut vars, i, effect, t, b)?;
            cate.push(c);
            clate.push(l);
        }
        sample.truth.cate = cate;
        sample.truth.clate = self.quadrature.has_compliers.then_some(clate);
        Ok(())
    }
}

/// Sample estimands of a world with compliance types (ATE, LATE and type
/// shares) and its per-unit truth: each unit's effect `tau`, its conditional
/// effects given its covariates `cate` and `clate` (None where the world has
/// no compliers), and its compliance type.
pub fn iv_truth(
    tau: Vec<f64>,
    cate: Vec<f64>,
    clate: Option<Vec<f64>>,
    types: Vec<ComplianceType>,
) -> Truth {
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
        cate,
        clate,
        complier_type: Some(types),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The quadrature rule the sim uses (negligible nodes dropped).
    fn rule() -> Quadrature {
        Quadrature::new(&IvWorld::default(), true, false)
    }

    /// E[f(u)], u ~ N(0, 1), by the sim's quadrature rule.
    fn expect(f: impl Fn(f64) -> f64) -> f64 {
        let q = rule();
        q.nodes
            .iter()
            .zip(&q.weights)
            .map(|(&u, &w)| w * f(u))
            .sum()
    }

    #[test]
    fn gauss_hermite_integrates_the_standard_normal() {
        let q = rule();
        assert_eq!(q.nodes.len(), 32);
        assert!(q.weights.iter().all(|&w| w > 0.0));
        assert!(
            q.nodes.windows(2).all(|p| p[0] > p[1]),
            "distinct, descending"
        );
        assert!((q.weights.iter().sum::<f64>() - 1.0).abs() < 1e-14);
        assert!(expect(|u| u).abs() < 1e-14);
        assert!((expect(|u| u * u) - 1.0).abs() < 1e-12);
        assert!(expect(|u| u.powi(3)).abs() < 1e-12);
        assert!((expect(|u| u.powi(4)) - 3.0).abs() < 1e-12);
        assert!((expect(|u| u.powi(6)) - 15.0).abs() < 1e-11);
        assert!((expect(|u| u.powi(8)) - 105.0).abs() < 1e-9);
        assert!((expect(logistic) - 0.5).abs() < 1e-14);
        // E[exp(u)] = exp(1/2).
        assert!((expect(f64::exp) - 0.5f64.exp()).abs() < 1e-12);
        // E[logistic(2 + u)] against a fine trapezoid rule on the density.
        let h = 1e-3;
        let trapezoid: f64 = (-12_000..=12_000)
            .map(|k| {
                let u = f64::from(k) * h;
                h * logistic(2.0 + u) * (-u * u / 2.0).exp() / (2.0 * std::f64::consts::PI).sqrt()
            })
            .sum();
        assert!((expect(|u| logistic(2.0 + u)) - trapezoid).abs() < 1e-9);
    }

    #[test]
    fn a_probability_that_leaves_the_unit_interval_at_a_node_is_named() {
        let world = IvWorld {
            n: 50,
            covariates: 1,
            outcome: Outcome::Binary,
            baseline: "0.5 + 0.07 * u".into(),
            ..IvWorld::default()
        };
        let sim = world.build().expect("valid world");
        let mut sample = sim.generate(1).expect("each unit's own u is fine");
        let message = sim
            .add_conditional_truth(&mut sample)
            .expect_err("a quadrature node leaves [0, 1]")
            .to_string();
        assert!(message.contains("quadrature node"), "{message}");
        assert!(message.contains("formula `baseline`"), "{message}");
    }
}
