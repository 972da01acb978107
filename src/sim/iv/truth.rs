//! The conditional truth of the IV world: u integrated out of each unit's
//! effect by Gauss-Hermite quadrature, and the sample estimands of a world
//! with compliance types.

use super::{binary_probabilities, probability, share, At, IvSim, IvWorld, Outcome};
use crate::core::stats::logit;
use crate::formula::Formula;
use crate::sim::quadrature::gauss_hermite;
use crate::sim::{ComplianceType, Sample, Truth};
use crate::Result;

/// Number of Gauss-Hermite nodes that integrate u out of a unit's effect.
const QUADRATURE_NODES: usize = 40;

/// Nodes whose normalized weight is below this are dropped (they lie beyond
/// |u| = 8.3 and change moments up to E[u^8] by less than 1e-10), which
/// leaves 32 of the 40.
const NEGLIGIBLE_WEIGHT: f64 = 1e-16;

/// How u ~ N(0, 1) is integrated out of a unit's effect to give its
/// conditional effects given the observed covariates.
#[derive(Debug, Clone)]
pub(super) struct Quadrature {
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
    /// The weights times P(complier | x, u), normalized to sum to 1, where
    /// the defier share is the same at every x (a constant formula):
    /// E[f(u) | x, complier] = sum of complier weight * f(node). None where
    /// it varies with x: then each unit's are computed from its own share.
    complier_weights: Option<ComplierWeights>,
}

/// The quadrature weights of u given that a unit is a complier, at one
/// defier share.
#[derive(Debug, Clone)]
struct ComplierWeights {
    /// The weights, normalized to sum to 1 (all 0 where `any` is false).
    weights: Vec<f64>,
    /// Whether a responder with this defier share can be a complier at all
    /// (the share is below 1); without compliers there is no conditional LATE.
    any: bool,
}

impl ComplierWeights {
    /// The weights of u ~ N(0, 1) (`nodes`, `weights`) given that a
    /// responder whose defier share at u = 0 is `defiers` complies.
    ///
    /// P(complier | x, u) = strength(x) * (1 - P(defier | responder, x, u)),
    /// as in `IvSim::draw`; strength(x) does not depend on u, so it cancels
    /// on normalizing.
    fn new(nodes: &[f64], weights: &[f64], defiers: f64, confounding: f64) -> ComplierWeights {
        let defy_logit = logit(defiers);
        let mut weights: Vec<f64> = nodes
            .iter()
            .zip(weights)
            .map(|(&u, &w)| w * (1.0 - share(defy_logit, confounding * u)))
            .collect();
        let total: f64 = weights.iter().sum();
        let any = total > 0.0;
        if any {
            weights.iter_mut().for_each(|w| *w /= total);
        }
        ComplierWeights { weights, any }
    }
}

impl Quadrature {
    /// The rule for `world`, whose parsed defier share is `defiers`; whether
    /// its tau and baseline formulas use u decides what is integrated.
    pub(super) fn new(
        world: &IvWorld,
        defiers: &Formula,
        tau_uses_u: bool,
        baseline_uses_u: bool,
    ) -> Quadrature {
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
        let complier_weights = defiers
            .is_constant()
            .then(|| ComplierWeights::new(&nodes, &weights, defiers.eval(&[]), world.confounding));
        Quadrature {
            integrate,
            tau_uses_u,
            baseline_uses_u,
            nodes,
            weights,
            complier_weights,
        }
    }
}

impl IvSim {
    /// A unit's conditional effects given its covariates, E[effect | x] and
    /// E[effect | x, complier] (meaningful only where `compliers.any`), u
    /// weighted by `compliers` in the second. `vars` holds x1..xp, then u (which is overwritten);
    /// `effect`, `tau` and `baseline` are the unit's effect and formula
    /// values at its own u (the baseline already checked as a probability
    /// for a binary outcome). Formulas that do not use u are not re-evaluated.
    fn conditional_effects(
        &self,
        vars: &mut [f64],
        unit: usize,
        compliers: &ComplierWeights,
        (effect, tau, baseline): (f64, f64, f64),
    ) -> Result<(f64, f64)> {
        let q = &self.quadrature;
        if !q.integrate {
            return Ok((effect, effect));
        }
        let (p, confounding) = (self.world.covariates, self.world.confounding);
        match self.world.outcome {
            // Integrating only when tau uses u.
            Outcome::Continuous => {
                self.integrate(vars, compliers, |vars, _| Ok(self.tau.eval(vars)))
            }
            Outcome::Binary => {
                let own_logit = logit(baseline);
                self.integrate(vars, compliers, |vars, u| {
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
    /// `effect`, called with `vars` (u set to each node) and that node; u
    /// given a complier is weighted by `compliers`.
    fn integrate(
        &self,
        vars: &mut [f64],
        compliers: &ComplierWeights,
        mut effect: impl FnMut(&[f64], f64) -> Result<f64>,
    ) -> Result<(f64, f64)> {
        let q = &self.quadrature;
        let p = self.world.covariates;
        let (mut cate, mut clate) = (0.0, 0.0);
        for ((&u, &w), &cw) in q.nodes.iter().zip(&q.weights).zip(&compliers.weights) {
            vars[p] = u;
            let e = effect(vars, u)?;
            cate += w * e;
            clate += cw * e;
        }
        Ok((cate, clate))
    }

    /// Fills the sample's `cate` and `clate`: each unit's effect given its
    /// covariates, E[effect | x] and E[effect | x, complier].
    ///
    /// `clate` is left out (None) unless every unit's covariates admit
    /// compliers, strength(x) > 0 and defiers(x) < 1: where they admit none,
    /// E[effect | x, complier] is undefined, and so is the per-unit truth an
    /// instrumental forest would be measured against.
    pub(super) fn conditional_truth(&self, sample: &mut Sample) -> Result<()> {
        let p = self.world.covariates;
        let n = sample.data.n();
        let q = &self.quadrature;
        let mut vars = vec![0.0; p + 1];
        let (mut cate, mut clate) = (Vec::with_capacity(n), Vec::with_capacity(n));
        let mut all_have_compliers = true;
        for (i, row) in sample.data.x.rows().into_iter().enumerate() {
            for (v, x) in vars.iter_mut().zip(row) {
                *v = *x;
            }
            // Where the effect does not depend on u (no quadrature), its
            // value at u = 0 is the unit's own.
            vars[p] = 0.0;
            let strength = self.strength.eval(&vars);
            let strength =
                probability(&self.strength, "instrument.strength", strength, At::Unit(i))?;
            let own;
            let compliers = match &q.complier_weights {
                Some(weights) => weights,
                None => {
                    let d = self.defiers.eval(&vars);
                    let d = probability(&self.defiers, "compliance.defiers", d, At::Unit(i))?;
                    own = ComplierWeights::new(&q.nodes, &q.weights, d, self.world.confounding);
                    &own
                }
            };
            all_have_compliers &= strength > 0.0 && compliers.any;
            let t = self.tau.eval(&vars);
            let b = self.baseline.eval(&vars);
            let (b, effect) = match self.world.outcome {
                Outcome::Continuous => (b, t),
                Outcome::Binary if q.baseline_uses_u => (b.clamp(0.0, 1.0), f64::NAN),
                Outcome::Binary => {
                    let b = probability(&self.baseline, "baseline", b, At::Unit(i))?;
                    let (p0, p1) = binary_probabilities(logit(b), t);
                    (b, p1 - p0)
                }
            };
            let (c, l) = self.conditional_effects(&mut vars, i, compliers, (effect, t, b))?;
            cate.push(c);
            clate.push(l);
        }
        sample.truth.cate = cate;
        sample.truth.clate = all_have_compliers.then_some(clate);
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
        placement: None,
        periods: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::stats::logistic;
    use crate::sim::Sim;

    /// The quadrature rule the sim uses (negligible nodes dropped).
    fn rule() -> Quadrature {
        let constant = Formula::parse("0", &[]).expect("a number");
        Quadrature::new(&IvWorld::default(), &constant, true, false)
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
