//! Generating samples of the regions world: the factual pass over the
//! structural equations, then the interventions that give each unit's
//! potential outcomes, Y(1, M(0)) and its conditional effect; for a
//! continuous treatment (a dose `d`), Y(d), Y(d + 1), Y(d + 1, M(d)) and the
//! slope dY/dD at the unit's own dose.

use std::collections::BTreeMap;
use std::sync::Arc;

use ndarray::{Array1, Array2};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, StandardNormal};

use super::{NodeType, RegionsWorld};
use crate::core::stats::logistic;
use crate::core::text::{elide, number};
use crate::data::graph::CausalGraph;
use crate::data::Dataset;
use crate::formula::Formula;
use crate::sim::limits::at;
use crate::sim::periods::PeriodsPlan;
use crate::sim::{Sample, Sim, Truth};
use crate::{Error, Result};

/// The regions world with its equations parsed, ready to generate samples.
#[derive(Debug, Clone)]
pub struct RegionsSim {
    pub(super) world: RegionsWorld,
    /// One formula per node, over (nodes, x1..xK, parameters).
    pub(super) formulas: Vec<Formula>,
    /// Each node's noise sd (0 for binary nodes).
    pub(super) noise: Vec<f64>,
    /// The parameters' values, in the order of the formulas' variables.
    pub(super) params: Vec<f64>,
    pub(super) treatment: usize,
    pub(super) outcome: usize,
    /// Whether each node is a descendant of the treatment (the treatment included).
    pub(super) is_descendant: Vec<bool>,
    /// Observed nodes that are not descendants of the treatment: the data's
    /// first covariates.
    pub(super) observed_pre: Vec<usize>,
    /// Observed mediators, in causal order.
    pub(super) mediators: Vec<usize>,
    /// Names of the data's covariates: `observed_pre`, then x1..xK.
    pub(super) x_names: Vec<String>,
    pub(super) graph: CausalGraph,
    /// The world over periods, when it has `[periods]`.
    pub(super) periods: Option<PeriodsPlan>,
}

/// How the nodes downstream of an intervention are evaluated.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Draws {
    /// With the unit's own noise (potential outcomes).
    Own,
    /// With the noise of the treatment's descendants at its mean: continuous
    /// ones without noise, binary ones at their probability (the cate).
    Mean,
}

impl RegionsSim {
    /// The causal graph of the world (nodes, then x1..xK).
    pub fn graph(&self) -> &CausalGraph {
        &self.graph
    }

    /// Evaluates nodes `from..` into `vars[..m]`, the treatment (when in
    /// range) set to `set`, or drawn when `set` is None; `shift` is the
    /// confounders' contribution, `noise` the unit's draws (normal for
    /// continuous nodes, uniform for binary ones). Stops at the first node
    /// whose formula or value is not finite.
    fn pass(
        &self,
        vars: &mut [f64],
        from: usize,
        set: Option<f64>,
        shift: f64,
        noise: &[f64],
        draws: Draws,
    ) -> Result<(), NotFinite> {
        for i in from..self.formulas.len() {
            if i == self.treatment {
                if let Some(t) = set {
                    vars[i] = t;
                    continue;
                }
            }
            let mut value = self.formulas[i].eval(vars);
            if i == self.treatment || i == self.outcome {
                value += shift;
            }
            let mean = draws == Draws::Mean && self.is_descendant[i];
            let node = match self.world.nodes[i].kind {
                NodeType::Continuous if mean => value,
                NodeType::Continuous => value + self.noise[i] * noise[i],
                NodeType::Binary if mean => logistic(value),
                NodeType::Binary => f64::from(u8::from(noise[i] < logistic(value))),
            };
            if !(value.is_finite() && node.is_finite()) {
                return Err(NotFinite {
                    node: i,
                    value: if value.is_finite() { node } else { value },
                    set,
                });
            }
            vars[i] = node;
        }
        Ok(())
    }

    /// The error for a node that is not finite at unit `unit` of a sample
    /// of `n` (the pilot sample when `pilot`), `vars` holding the values its
    /// formula read.
    fn not_finite(&self, e: NotFinite, unit: usize, n: usize, pilot: bool, vars: &[f64]) -> Error {
        let formula = &self.formulas[e.node];
        let node = &self.world.nodes[e.node];
        let names: Vec<String> = self.variable_names();
        let names: Vec<&str> = names.iter().map(String::as_str).collect();
        let place = at(&names, &formula.used_variables(), vars);
        let world = match e.set {
            None => String::new(),
            Some(t) => format!(
                " in the world where `{}` is set to {t}",
                elide(&self.world.nodes[self.treatment].name)
            ),
        };
        let sample = if pilot {
            format!("a pilot sample of {n} regions drawn when the world is built")
        } else {
            format!("a sample of {n} regions")
        };
        Error::Formula(format!(
            "node `{}`: formula \"{}\" is not finite{place}: it gives {} at region {} of \
             {sample}{world}; a node's formula and value must be finite in every region",
            elide(&node.name),
            elide(formula.source()),
            number(e.value),
            unit + 1,
        ))
    }

    /// The names of the formulas' variables: the nodes, x1..xK, the parameters.
    fn variable_names(&self) -> Vec<String> {
        let w_ = &self.world;
        let mut names: Vec<String> = w_.nodes.iter().map(|v| v.name.clone()).collect();
        names.extend((1..=w_.covariates.count).map(|j| format!("x{j}")));
        names.extend(w_.parameters.keys().cloned());
        names
    }
}

/// A node whose formula or value is not finite in a pass.
#[derive(Debug, Clone, Copy)]
struct NotFinite {
    node: usize,
    value: f64,
    set: Option<f64>,
}

/// Regions in the pilot sample every world draws when it is built.
pub(super) const PILOT_UNITS: usize = 64;

/// Seed of the pilot sample.
const PILOT_SEED: u64 = 64_064;

/// Half the step of the central difference that gives a dose's slope
/// dY/dD: small against any dose's scale, large against rounding.
const SLOPE_STEP: f64 = 1e-4;

/// A unit's potential outcomes: untreated, treated with the mediators held
/// at their untreated values, and treated; its conditional effect and its
/// expected untreated outcome. For a dose `d` "untreated" is the unit's own
/// dose and "treated" one unit more, and `slope` is dY/dD at `d` (None for a
/// binary treatment).
struct Potential {
    y0: f64,
    y1_m0: f64,
    y1: f64,
    cate: f64,
    mean0: f64,
    slope: Option<f64>,
}

/// Running sums over the units for the sample estimands.
#[derive(Default)]
struct Totals {
    att: f64,
    treated: usize,
    direct: f64,
    indirect: f64,
    /// Sums of the slopes and doses, for a continuous treatment.
    dose: Option<DoseTotals>,
}

/// Running sums of a continuous treatment's slopes and doses.
#[derive(Default)]
struct DoseTotals {
    slope: f64,
    dose: f64,
    dose_squares: f64,
}

impl Totals {
    /// The sample estimands: ATE, direct and indirect effects, the share
    /// treated and, when some unit is treated, the ATT; for a dose, the
    /// average slope and the doses' mean and sd instead of the share
    /// treated and the ATT.
    fn values(&self, tau: &[f64]) -> BTreeMap<String, f64> {
        let nf = tau.len() as f64;
        let mut values = BTreeMap::new();
        values.insert("ate".to_string(), tau.iter().sum::<f64>() / nf);
        values.insert("direct".to_string(), self.direct / nf);
        values.insert("indirect".to_string(), self.indirect / nf);
        if let Some(dose) = &self.dose {
            let mean = dose.dose / nf;
            let variance = (dose.dose_squares / nf - mean * mean).max(0.0);
            values.insert("slope".to_string(), dose.slope / nf);
            values.insert("dose_mean".to_string(), mean);
            values.insert("dose_sd".to_string(), variance.sqrt());
            return values;
        }
        values.insert("share_treated".to_string(), self.treated as f64 / nf);
        if self.treated > 0 {
            values.insert("att".to_string(), self.att / self.treated as f64);
        }
        values
    }
}

impl RegionsSim {
    /// Draws a unit's node noise and covariates (into `vars`) and returns
    /// the confounding shift of its treatment and outcome.
    fn draw_unit(
        &self,
        node_rng: &mut ChaCha8Rng,
        cov_rng: &mut ChaCha8Rng,
        vars: &mut [f64],
        noise: &mut [f64],
    ) -> f64 {
        let w_ = &self.world;
        let (m, k) = (w_.nodes.len(), w_.covariates.count);
        let kc = w_.covariates.confounders;
        for (j, v) in noise.iter_mut().enumerate() {
            *v = match w_.nodes[j].kind {
                NodeType::Continuous => StandardNormal.sample(node_rng),
                NodeType::Binary => node_rng.random(),
            };
        }
        for v in &mut vars[m..m + k] {
            *v = StandardNormal.sample(cov_rng);
        }
        let score: f64 = vars[m..m + kc]
            .iter()
            .map(|&x| {
                if w_.covariates.nonlinear {
                    (x * x - 1.0) / 2f64.sqrt()
                } else {
                    x
                }
            })
            .sum();
        if kc > 0 {
            w_.covariates.strength * score / (kc as f64).sqrt()
        } else {
            0.0
        }
    }

    /// A unit's potential outcomes and conditional effect, by intervening
    /// on the treatment after the factual pass; leaves `vars` changed.
    fn potential(
        &self,
        vars: &mut [f64],
        shift: f64,
        noise: &[f64],
    ) -> Result<Potential, NotFinite> {
        let (t, y_) = (self.treatment, self.outcome);
        if self.world.nodes[t].kind == NodeType::Continuous {
            return self.dose_potential(vars, shift, noise);
        }
        // Potential outcomes: the untreated world, Y(1, M(0)), then the treated world.
        self.pass(vars, t, Some(0.0), shift, noise, Draws::Own)?;
        let y0 = vars[y_];
        vars[t] = 1.0;
        self.pass(vars, y_, None, shift, noise, Draws::Own)
            .map_err(|e| NotFinite {
                set: Some(1.0),
                ..e
            })?;
        let y1_m0 = vars[y_];
        self.pass(vars, t, Some(1.0), shift, noise, Draws::Own)?;
        let y1 = vars[y_];
        // The conditional effect at the unit's pre-treatment state.
        self.pass(vars, t, Some(0.0), shift, noise, Draws::Mean)?;
        let c0 = vars[y_];
        self.pass(vars, t, Some(1.0), shift, noise, Draws::Mean)?;
        Ok(Potential {
            y0,
            y1_m0,
            y1,
            cate: vars[y_] - c0,
            mean0: c0,
            slope: None,
        })
    }

    /// A dose's potential outcomes after the factual pass: Y(d) and
    /// Y(d + 1) at the unit's own dose `d` with its own noise, Y(d + 1, M(d))
    /// (the mediators where its own dose puts them), the conditional effect
    /// of the increment at the mean draws, and the slope dY/dD at `d` by a
    /// central difference; leaves `vars` changed.
    fn dose_potential(
        &self,
        vars: &mut [f64],
        shift: f64,
        noise: &[f64],
    ) -> Result<Potential, NotFinite> {
        let (t, y_) = (self.treatment, self.outcome);
        let d = vars[t];
        let outcome_at = |dose: f64, draws: Draws, vars: &mut [f64]| {
            self.pass(vars, t, Some(dose), shift, noise, draws)
                .map(|()| vars[y_])
        };
        let up = outcome_at(d + SLOPE_STEP, Draws::Own, vars)?;
        let down = outcome_at(d - SLOPE_STEP, Draws::Own, vars)?;
        let c0 = outcome_at(d, Draws::Mean, vars)?;
        let c1 = outcome_at(d + 1.0, Draws::Mean, vars)?;
        let y1 = outcome_at(d + 1.0, Draws::Own, vars)?;
        let y0 = outcome_at(d, Draws::Own, vars)?;
        vars[t] = d + 1.0;
        self.pass(vars, y_, None, shift, noise, Draws::Own)
            .map_err(|e| NotFinite {
                set: Some(d + 1.0),
                ..e
            })?;
        Ok(Potential {
            y0,
            y1_m0: vars[y_],
            y1,
            cate: c1 - c0,
            slope: Some((up - down) / (2.0 * SLOPE_STEP)),
            mean0: c0,
        })
    }

    /// Draws the pilot sample: a node that is not finite there is named by
    /// [`RegionsSim::draw`]; with every node finite, the data are, and this
    /// checks that the truth is too.
    pub(super) fn pilot(&self) -> Result<()> {
        let truth = self.draw(PILOT_UNITS, PILOT_SEED, true)?.truth;
        let finite = truth.values.values().all(|v| v.is_finite())
            && truth.tau.iter().chain(&truth.cate).all(|v| v.is_finite());
        if finite {
            return Ok(());
        }
        Err(Error::Formula(format!(
            "the outcome `{}` of a pilot sample of {PILOT_UNITS} regions drawn when the world is \
             built has potential outcomes too large to subtract (their difference is not \
             finite); scale its formula down",
            elide(&self.world.nodes[self.outcome].name)
        )))
    }
}

impl RegionsSim {
    /// Draws a sample of `n` regions (the pilot sample when `pilot`); the
    /// same seed always gives the same sample. Fails naming the first node
    /// that is not finite.
    fn draw(&self, n: usize, seed: u64, pilot: bool) -> Result<Sample> {
        let w_ = &self.world;
        let (m, k) = (w_.nodes.len(), w_.covariates.count);
        // Two streams: node noise and covariates, so that cells differing in
        // the number of covariates still share the nodes' draws.
        let mut node_rng = ChaCha8Rng::seed_from_u64(seed);
        let mut cov_rng = ChaCha8Rng::seed_from_u64(seed);
        cov_rng.set_stream(1);
        let (t, y_) = (self.treatment, self.outcome);
        let p = self.observed_pre.len();
        let mut x = Array2::<f64>::zeros((n, p + k));
        let (mut y, mut w) = (Array1::zeros(n), Array1::zeros(n));
        let mut mediators = Array2::<f64>::zeros((self.mediators.len(), n));
        let (mut tau, mut cate) = (Vec::with_capacity(n), Vec::with_capacity(n));
        let mut mean0 = Vec::with_capacity(if self.periods.is_some() { n } else { 0 });
        let mut totals = Totals {
            dose: (w_.nodes[t].kind == NodeType::Continuous).then(DoseTotals::default),
            ..Totals::default()
        };
        let mut vars = vec![0.0; m + k + self.params.len()];
        vars[m + k..].copy_from_slice(&self.params);
        let mut noise = vec![0.0; m];
        let mut world = vec![0.0; m];
        for i in 0..n {
            let shift = self.draw_unit(&mut node_rng, &mut cov_rng, &mut vars, &mut noise);
            // The factual world.
            let po = self
                .pass(&mut vars, 0, None, shift, &noise, Draws::Own)
                .and_then(|()| {
                    world.copy_from_slice(&vars[..m]);
                    self.potential(&mut vars, shift, &noise)
                })
                .map_err(|e| self.not_finite(e, i, n, pilot, &vars))?;
            cate.push(po.cate);
            if self.periods.is_some() {
                mean0.push(po.mean0);
            }
            vars[..m].copy_from_slice(&world);

            tau.push(po.y1 - po.y0);
            totals.direct += po.y1_m0 - po.y0;
            totals.indirect += po.y1 - po.y1_m0;
            match (&mut totals.dose, po.slope) {
                (Some(dose), Some(slope)) => {
                    dose.slope += slope;
                    dose.dose += world[t];
                    dose.dose_squares += world[t] * world[t];
                }
                _ if world[t] == 1.0 => {
                    totals.att += po.y1 - po.y0;
                    totals.treated += 1;
                }
                _ => {}
            }
            y[i] = world[y_];
            w[i] = world[t];
            for (c, &j) in self.observed_pre.iter().enumerate() {
                x[(i, c)] = world[j];
            }
            for c in 0..k {
                x[(i, p + c)] = vars[m + c];
            }
            for (c, &j) in self.mediators.iter().enumerate() {
                mediators[(c, i)] = world[j];
            }
        }
        let values = totals.values(&tau);
        let named_mediators = self
            .mediators
            .iter()
            .zip(mediators.rows())
            .map(|(&j, row)| (w_.nodes[j].name.clone(), row.to_owned()))
            .collect();
        let data = Dataset::new(y, w, None, x, self.x_names.clone())?
            .with_graph(self.graph.clone())
            .with_mediators(named_mediators)?;
        let periods = self
            .periods
            .as_ref()
            .map(|plan| Arc::new(plan.dynamics(&data, cate.clone(), mean0)));
        Ok(Sample {
            data,
            truth: Truth {
                values,
                tau,
                cate,
                clate: None,
                complier_type: None,
                placement: None,
                periods,
            },
        })
    }
}

impl Sim for RegionsSim {
    fn generate(&self, seed: u64) -> Result<Sample> {
        let mut sample = self.draw(self.world.n, seed, false)?;
        self.world.missingness.apply(&mut sample.data, seed)?;
        Ok(sample)
    }

    /// The conditional effects are cheap here, so `generate` already filled them.
    fn add_conditional_truth(&self, _sample: &mut Sample) -> Result<()> {
        Ok(())
    }
}
