//! The structural causal model estimator: it reads a causal graph (the
//! data's own or one written in the experiment), identifies the effect by
//! the backdoor criterion, else the front door, and estimates it with
//! linear models; natural direct and indirect effects come from the
//! mediation formula.

use std::borrow::Cow;

use ndarray::{Array1, Array2, ArrayView1, Axis};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use super::linalg::SeKind;
use super::linalg::{sandwich, LeastSquares};
use super::{Estimate, Estimator, UnitEffects};
use crate::core::Estimand;
use crate::data::discovery::{self, Discovery};
use crate::data::graph::{CausalGraph, FrontDoor, GraphSpec};
use crate::data::Dataset;
use crate::{Error, Result};

const NAME: &str = "scm";

/// Most bootstrap replicates for the SEs: ten thousand pin an SE to 1%.
pub const MAX_BOOTSTRAP: usize = 10_000;

/// Which effect of the treatment on the outcome to estimate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Effect {
    /// The average treatment effect (all paths).
    #[default]
    Total,
    /// The natural direct effect E[Y(1, M(0)) - Y(0, M(0))].
    Direct,
    /// The natural indirect effect E[Y(1, M(1)) - Y(1, M(0))].
    Indirect,
}

/// Graph-based estimation (`kind = "scm"`).
///
/// Total effect: with a backdoor adjustment set (the graph's canonical
/// set), g-computation with a linear outcome model interacted with the
/// treatment on the centered set (Lin's estimator), whose coefficient on
/// the treatment is the ATE; robust (HC1) SE plus the term for the
/// estimated covariate means; per-unit effects from the interactions with
/// delta-method SEs. Without one, the front door with linear models and a
/// bootstrap SE. Direct and indirect effects: the mediation formula with
/// linear mediator and outcome models (treatment-mediator interaction
/// allowed), bootstrap SE. Diagnostics: `adjustment_set_size`,
/// `front_door` (0/1), `mediators`, `n`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Scm {
    /// The effect to estimate.
    pub effect: Effect,
    /// A causal graph to use instead of the data's own (which only
    /// simulated data has); its observed node names must be data columns.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub graph: Option<GraphSpec>,
    /// Bootstrap replicates for the SEs of the front door and the mediation formula.
    pub bootstrap: usize,
    /// Learn the graph from the sample by the PC algorithm instead
    /// (`discover = {}` for its defaults); the data's own graph, where it
    /// has one, is then only the truth the learned one is compared with.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub discover: Option<Discovery>,
}

impl Default for Scm {
    fn default() -> Self {
        Scm {
            effect: Effect::Total,
            graph: None,
            bootstrap: 200,
            discover: None,
        }
    }
}

/// The data columns of the graph's nodes, by node index.
struct Columns<'a> {
    columns: Vec<Option<ArrayView1<'a, f64>>>,
}

impl<'a> Columns<'a> {
    /// Finds every observed node among the data's columns (treatment: `w`,
    /// outcome: `y`), or names the one missing.
    fn resolve(graph: &CausalGraph, data: &'a Dataset) -> Result<Self> {
        let mut columns = Vec::with_capacity(graph.len());
        for v in 0..graph.len() {
            let column = if v == graph.treatment() {
                Some(data.w.view())
            } else if v == graph.outcome() {
                Some(data.y.view())
            } else if graph.is_observed(v) {
                let name = graph.name(v);
                let found = data.column(name);
                if found.is_none() {
                    let mut names: Vec<&str> = data.x_names.iter().map(String::as_str).collect();
                    names.extend(data.mediators.iter().map(|(n, _)| n.as_str()));
                    return Err(Error::Data(format!(
                        "{NAME}: graph node `{name}` is observed but the data has no column \
                         `{name}`; rename it to one of {} or list it in `latent`",
                        names.join(", ")
                    )));
                }
                found
            } else {
                None
            };
            columns.push(column);
        }
        Ok(Columns { columns })
    }

    fn get(&self, v: usize) -> ArrayView1<'a, f64> {
        self.columns[v].expect("observed nodes are resolved")
    }
}

impl Scm {
    /// Checks the settings that do not depend on the data (the bootstrap
    /// count, an explicit graph's edges), so a bad spec fails at load.
    pub fn check(&self) -> Result<()> {
        if !(2..=MAX_BOOTSTRAP).contains(&self.bootstrap) {
            return Err(Error::Spec(format!(
                "{NAME}: `bootstrap` is {}; the SE needs between 2 and {MAX_BOOTSTRAP} \
                 replicates (200 is usual)",
                self.bootstrap
            )));
        }
        if let Some(graph) = &self.graph {
            graph
                .build()
                .map_err(|e| Error::Spec(format!("{NAME}: graph: {e}")))?;
            if self.discover.is_some() {
                return Err(Error::Spec(format!(
                    "{NAME}: both `graph` and `discover` are given; declare the graph or learn                      it, not both"
                )));
            }
        }
        if let Some(discovery) = &self.discover {
            discovery
                .validate()
                .map_err(|e| Error::Spec(format!("{NAME}: {e}")))?;
        }
        Ok(())
    }

    /// The graph learned from every column of the data by the PC
    /// algorithm, with its diagnostics: edges, edges the data left
    /// undirected, tests run, and its distance from the data's own graph
    /// where the data has one.
    fn learn(
        &self,
        discovery: &Discovery,
        data: &Dataset,
    ) -> Result<(CausalGraph, Vec<(&'static str, f64)>)> {
        if data.x.ncols() == 0 && data.codes.is_some() {
            return Err(Error::Estimate(format!(
                "{NAME}: discover needs the covariates' values, and this data holds them as \
                 bin codes only"
            )));
        }
        let (treatment, outcome) = data
            .graph
            .as_ref()
            .map_or(("w", "y"), |g| (g.name(g.treatment()), g.name(g.outcome())));
        let mut names: Vec<String> = data.x_names.clone();
        names.extend(data.mediators.iter().map(|(name, _)| name.clone()));
        for name in [treatment, outcome] {
            if names.iter().any(|n| n == name) {
                return Err(Error::Estimate(format!(
                    "{NAME}: discover names the treatment and outcome `{treatment}` and \
                     `{outcome}`, and a covariate is already called `{name}`; rename it"
                )));
            }
        }
        names.extend([treatment.to_string(), outcome.to_string()]);
        let mut columns: Vec<ArrayView1<f64>> = data.x.columns().into_iter().collect();
        columns.extend(data.mediators.iter().map(|(_, m)| m.view()));
        columns.extend([data.w.view(), data.y.view()]);
        let learned = discovery
            .learn(&names, &columns, treatment, outcome)
            .map_err(|e| Error::Estimate(format!("{NAME}: {e}")))?;
        let edges: usize = (0..learned.graph.len())
            .map(|v| learned.graph.parents(v).len())
            .sum();
        let mut diagnostics = vec![
            ("learned_edges", edges as f64),
            ("learned_undirected", learned.undirected as f64),
            ("discovery_tests", learned.tests as f64),
        ];
        if let Some(truth) = &data.graph {
            let d = discovery::distance(&learned.graph, truth);
            diagnostics.extend([
                ("shd", d.shd() as f64),
                ("skeleton_missing", d.missing as f64),
                ("skeleton_extra", d.extra as f64),
                ("reversed", d.reversed as f64),
            ]);
        }
        Ok((learned.graph, diagnostics))
    }

    /// The graph to identify the effect in: the spec's, else the data's.
    fn graph<'a>(&self, data: &'a Dataset) -> Result<Cow<'a, CausalGraph>> {
        match (&self.graph, &data.graph) {
            (Some(spec), _) => spec
                .build()
                .map(Cow::Owned)
                .map_err(|e| Error::Estimate(format!("{NAME}: graph: {e}"))),
            (None, Some(graph)) => Ok(Cow::Borrowed(graph)),
            (None, None) => Err(Error::Estimate(format!(
                "{NAME} needs a causal graph, and the data carries none (only worlds declared \
                 as structural equations, like `regions`, do); give the estimator one: \
                 graph = {{ edges = [\"gdp -> resource\", ...], treatment = \"...\", \
                 outcome = \"...\" }}"
            ))),
        }
    }
}

impl Estimator for Scm {
    fn estimand(&self) -> Estimand {
        match self.effect {
            Effect::Total => Estimand::Ate,
            Effect::Direct => Estimand::Direct,
            Effect::Indirect => Estimand::Indirect,
        }
    }

    fn fit(&self, data: &Dataset, seed: u64) -> Result<Estimate> {
        self.check()?;
        let Some(discovery) = &self.discover else {
            return self.fit_on(&*self.graph(data)?, data, seed);
        };
        let (graph, diagnostics) = self.learn(discovery, data)?;
        let estimate = self.fit_on(&graph, data, seed)?;
        Ok(diagnostics
            .into_iter()
            .fold(estimate, |estimate, (key, value)| estimate.with(key, value)))
    }
}

impl Scm {
    /// Identifies the effect in `graph` and estimates it on `data`.
    fn fit_on(&self, graph: &CausalGraph, data: &Dataset, seed: u64) -> Result<Estimate> {
        let columns = Columns::resolve(graph, data)?;
        check_treatment(data)?;
        let n = data.n() as f64;
        let (t, y) = (graph.name(graph.treatment()), graph.name(graph.outcome()));
        let set = graph.adjustment_set();
        if self.effect != Effect::Total {
            let Some(set) = set else {
                return Err(Error::Estimate(format!(
                    "{NAME}: the {} effect of `{t}` on `{y}` is not identified: the mediation \
                     formula needs a backdoor adjustment set, and the latent node(s) {} leave \
                     every observed set open",
                    self.effect_word(),
                    graph.latent_ancestors().join(", ")
                )));
            };
            return self.mediation(graph, &columns, &set, seed);
        }
        if let Some(set) = set {
            let c: Vec<ArrayView1<f64>> = set.iter().map(|&v| columns.get(v)).collect();
            let names: Vec<&str> = set.iter().map(|&v| graph.name(v)).collect();
            let (estimate, units) = lin(data.y.view(), data.w.view(), &c, &names)?;
            let mut estimate = estimate
                .with("adjustment_set_size", set.len() as f64)
                .with("front_door", 0.0)
                .with("n", n);
            estimate.units = Some(units);
            return Ok(estimate);
        }
        match graph.front_door() {
            FrontDoor::Valid(mediators) => {
                let m: Vec<ArrayView1<f64>> = mediators.iter().map(|&v| columns.get(v)).collect();
                let names: Vec<&str> = mediators.iter().map(|&v| graph.name(v)).collect();
                let point =
                    |rows: &[usize]| front_door(data.y.view(), data.w.view(), &m, &names, rows);
                let (estimate, se) = self.bootstrap(data.n(), seed, point)?;
                Ok(Estimate::normal(Estimand::Ate, estimate, se)
                    .with("adjustment_set_size", 0.0)
                    .with("front_door", 1.0)
                    .with("mediators", mediators.len() as f64)
                    .with("n", n))
            }
            FrontDoor::Invalid(why) => Err(Error::Estimate(format!(
                "{NAME}: the effect of `{t}` on `{y}` is not identified by the graph: no \
                 backdoor adjustment set exists (the latent node(s) {} leave a backdoor path \
                 open), and no front door: {why}",
                graph.latent_ancestors().join(", ")
            ))),
        }
    }

    fn effect_word(&self) -> &'static str {
        match self.effect {
            Effect::Total => "total",
            Effect::Direct => "direct",
            Effect::Indirect => "indirect",
        }
    }

    /// The natural direct or indirect effect by the mediation formula with
    /// linear models, adjusting for `set`; bootstrap SE.
    fn mediation(
        &self,
        graph: &CausalGraph,
        columns: &Columns<'_>,
        set: &[usize],
        seed: u64,
    ) -> Result<Estimate> {
        let mediators = graph.mediators();
        let (t, y) = (graph.name(graph.treatment()), graph.name(graph.outcome()));
        if mediators.is_empty() {
            return Err(Error::Estimate(format!(
                "{NAME}: the graph has no mediator between `{t}` and `{y}`, so the effect has \
                 no direct and indirect parts; use effect = \"total\""
            )));
        }
        if let Some(&m) = mediators.iter().find(|&&m| !graph.is_observed(m)) {
            return Err(Error::Estimate(format!(
                "{NAME}: the mediator `{}` is latent; the mediation formula needs every \
                 mediator observed",
                graph.name(m)
            )));
        }
        if !graph.mediators_unconfounded(set) {
            return Err(Error::Estimate(format!(
                "{NAME}: the {} effect is not identified: a backdoor path from the mediators \
                 to `{y}` stays open given `{t}` and the adjustment set",
                self.effect_word()
            )));
        }
        let c: Vec<ArrayView1<f64>> = set.iter().map(|&v| columns.get(v)).collect();
        let m: Vec<ArrayView1<f64>> = mediators.iter().map(|&v| columns.get(v)).collect();
        let c_names: Vec<&str> = set.iter().map(|&v| graph.name(v)).collect();
        let m_names: Vec<&str> = mediators.iter().map(|&v| graph.name(v)).collect();
        let (w, yv) = (columns.get(graph.treatment()), columns.get(graph.outcome()));
        let direct = self.effect == Effect::Direct;
        let point = |rows: &[usize]| {
            natural_effects((yv, w), (&m, &m_names), (&c, &c_names), rows).map(|(d, i)| {
                if direct {
                    d
                } else {
                    i
                }
            })
        };
        let (estimate, se) = self.bootstrap(w.len(), seed, point)?;
        Ok(Estimate::normal(self.estimand(), estimate, se)
            .with("adjustment_set_size", set.len() as f64)
            .with("front_door", 0.0)
            .with("mediators", mediators.len() as f64)
            .with("n", w.len() as f64))
    }

    /// The point estimate on all `n` rows and its seeded nonparametric
    /// bootstrap SE; replicate `b` draws from its own ChaCha stream, so the
    /// result does not depend on the number of threads.
    fn bootstrap(
        &self,
        n: usize,
        seed: u64,
        point: impl Fn(&[usize]) -> Result<f64> + Sync,
    ) -> Result<(f64, f64)> {
        let all: Vec<usize> = (0..n).collect();
        let estimate = point(&all)?;
        let replicates: Vec<f64> = (0..self.bootstrap as u64)
            .into_par_iter()
            .map(|b| {
                let mut rng = ChaCha8Rng::seed_from_u64(seed);
                rng.set_stream(b + 1);
                let rows: Vec<usize> = (0..n).map(|_| rng.random_range(0..n)).collect();
                point(&rows).map_err(|e| {
                    Error::Estimate(format!("{NAME}: bootstrap replicate {}: {e}", b + 1))
                })
            })
            .collect::<Result<_>>()?;
        let b = replicates.len() as f64;
        let mean = replicates.iter().sum::<f64>() / b;
        let var = replicates.iter().map(|r| (r - mean).powi(2)).sum::<f64>() / (b - 1.0);
        Ok((estimate, var.sqrt()))
    }
}

/// Fails unless the treatment is 0/1 with both arms present.
fn check_treatment(data: &Dataset) -> Result<()> {
    if let Some(i) = data.w.iter().position(|&w| w != 0.0 && w != 1.0) {
        return Err(Error::Data(format!(
            "{NAME} needs a binary 0/1 treatment; found value {} at row {}{}",
            data.w[i],
            i + 1,
            super::DOSE_HINT
        )));
    }
    let treated = data.w.sum();
    if treated < 2.0 || data.n() as f64 - treated < 2.0 {
        return Err(Error::Estimate(format!(
            "{NAME} needs at least two treated and two untreated units; the data has {treated} \
             treated of {}",
            data.n()
        )));
    }
    Ok(())
}

/// The design [1, w, c̃, w·c̃] with the columns `c` centered at their means
/// over `rows` (the g-computation design of Lin's estimator), followed by
/// `extra` columns and their products with w (uncentered); with the
/// columns' names.
fn interacted(
    w: ArrayView1<f64>,
    c: &[ArrayView1<f64>],
    extra: &[ArrayView1<f64>],
    names: &[&str],
    extra_names: &[&str],
    rows: &[usize],
) -> (Array2<f64>, Vec<String>) {
    let (n, p, q) = (rows.len(), c.len(), extra.len());
    let means: Vec<f64> = c
        .iter()
        .map(|col| rows.iter().map(|&i| col[i]).sum::<f64>() / n as f64)
        .collect();
    let mut x = Array2::<f64>::zeros((n, 2 + 2 * p + 2 * q));
    for (r, mut row) in x.axis_iter_mut(Axis(0)).enumerate() {
        let i = rows[r];
        let wi = w[i];
        row[0] = 1.0;
        row[1] = wi;
        for j in 0..p {
            let v = c[j][i] - means[j];
            row[2 + j] = v;
            row[2 + p + j] = wi * v;
        }
        for j in 0..q {
            let v = extra[j][i];
            row[2 + 2 * p + j] = v;
            row[2 + 2 * p + q + j] = wi * v;
        }
    }
    let mut labels = vec!["intercept".to_string(), "treatment".to_string()];
    labels.extend(names.iter().map(|s| s.to_string()));
    labels.extend(names.iter().map(|s| format!("treatment x {s}")));
    labels.extend(extra_names.iter().map(|s| s.to_string()));
    labels.extend(extra_names.iter().map(|s| format!("treatment x {s}")));
    (x, labels)
}

/// Lin's estimator: y on [1, w, c̃, w·c̃]. The ATE is the coefficient on w;
/// its variance is the HC1 sandwich's plus θᵀ S θ / n for the estimated
/// means of c (θ: the interaction coefficients, S: the covariance of c),
/// following Imbens and Wooldridge (2009). Each unit's effect is
/// τᵢ = β_w + θᵀ c̃ᵢ, with the delta-method SE from the sandwich.
fn lin(
    y: ArrayView1<f64>,
    w: ArrayView1<f64>,
    c: &[ArrayView1<f64>],
    names: &[&str],
) -> Result<(Estimate, UnitEffects)> {
    let n = y.len();
    let rows: Vec<usize> = (0..n).collect();
    let (x, labels) = interacted(w, c, &[], names, &[], &rows);
    let p = c.len();
    let k = x.ncols();
    if n <= k {
        return Err(Error::Estimate(format!(
            "{NAME} needs more units than coefficients: n = {n}, {k} coefficients for an \
             adjustment set of {p}"
        )));
    }
    let fit = LeastSquares::fit(x.view(), y, &labels)?;
    let cov = sandwich(
        fit.xtx_inv.view(),
        x.view(),
        fit.residuals.view(),
        SeKind::Hc1,
    )?;
    let theta = fit.beta.slice(ndarray::s![2 + p..]);
    let centered = x.slice(ndarray::s![.., 2..2 + p]);
    let s = centered.t().dot(&centered) / (n as f64 - 1.0);
    let var = cov[(1, 1)] + theta.dot(&s.dot(&theta)) / n as f64;
    let estimate = Estimate::normal(Estimand::Ate, fit.beta[1], var.sqrt());
    // Per unit: g = [1, c̃ᵢ] over the coefficients (w, w·c̃).
    let idx: Vec<usize> = std::iter::once(1).chain(2 + p..2 + 2 * p).collect();
    let v = cov.select(Axis(0), &idx).select(Axis(1), &idx);
    let mut g = Array2::<f64>::ones((n, p + 1));
    g.slice_mut(ndarray::s![.., 1..]).assign(&centered);
    let gv = g.dot(&v);
    let tau: Vec<f64> = g
        .rows()
        .into_iter()
        .map(|r| fit.beta[1] + r.slice(ndarray::s![1..]).dot(&theta))
        .collect();
    let se: Vec<f64> = (&gv * &g)
        .sum_axis(Axis(1))
        .iter()
        .map(|v| v.max(0.0).sqrt())
        .collect();
    Ok((
        estimate,
        UnitEffects {
            tau,
            se,
            scores: Vec::new(),
        },
    ))
}

/// The front-door formula with linear models on `rows`: mediator j on
/// [1, w] gives b_j, the outcome on [1, w, m, w·m] gives d (mediators) and
/// h (interactions), and ATE = Σ_j b_j (d_j + p̄ h_j) with p̄ the share
/// treated: Σ_m P(m | do(w)) Σ_w' P(w') E[y | m, w'] for linear means.
fn front_door(
    y: ArrayView1<f64>,
    w: ArrayView1<f64>,
    m: &[ArrayView1<f64>],
    m_names: &[&str],
    rows: &[usize],
) -> Result<f64> {
    let yr: Array1<f64> = rows.iter().map(|&i| y[i]).collect();
    let (x, names) = interacted(w, &[], m, &[], m_names, rows);
    let share = rows.iter().map(|&i| w[i]).sum::<f64>() / rows.len() as f64;
    let outcome = LeastSquares::fit(x.view(), yr.view(), &names)?;
    let q = m.len();
    let mut ate = 0.0;
    for (j, &mj) in m.iter().enumerate() {
        let b = arm_difference(mj, w, rows)?;
        ate += b * (outcome.beta[2 + j] + share * outcome.beta[2 + q + j]);
    }
    Ok(ate)
}

/// Mean of `v` among the treated minus among the untreated, over `rows`:
/// the coefficient of w in v on [1, w].
fn arm_difference(v: ArrayView1<f64>, w: ArrayView1<f64>, rows: &[usize]) -> Result<f64> {
    let (mut s1, mut n1, mut s0, mut n0) = (0.0, 0usize, 0.0, 0usize);
    for &i in rows {
        if w[i] == 1.0 {
            s1 += v[i];
            n1 += 1;
        } else {
            s0 += v[i];
            n0 += 1;
        }
    }
    if n1 == 0 || n0 == 0 {
        return Err(Error::Estimate(format!(
            "{NAME}: a treatment arm is empty in the sample"
        )));
    }
    Ok(s1 / n1 as f64 - s0 / n0 as f64)
}

/// The natural direct and indirect effects on `rows` by the mediation
/// formula with linear models. Mediator j on [1, w, c̃, w·c̃] gives α_j (its
/// untreated mean) and β_j (the average effect on it); the outcome on
/// [1, w, c̃, w·c̃, m, w·m] gives θ₁ (w), θ₂ (m) and θ₃ (w·m). Then
/// direct = θ₁ + θ₃ᵀα and indirect = (θ₂ + θ₃)ᵀβ, so direct + indirect is
/// the total effect of the two models.
fn natural_effects(
    (y, w): (ArrayView1<f64>, ArrayView1<f64>),
    (m, m_names): (&[ArrayView1<f64>], &[&str]),
    (c, c_names): (&[ArrayView1<f64>], &[&str]),
    rows: &[usize],
) -> Result<(f64, f64)> {
    let (p, q) = (c.len(), m.len());
    let (x, names) = interacted(w, c, m, c_names, m_names, rows);
    let mediator_x = x.slice(ndarray::s![.., ..2 + 2 * p]);
    let yr: Array1<f64> = rows.iter().map(|&i| y[i]).collect();
    let outcome = LeastSquares::fit(x.view(), yr.view(), &names)?;
    let (mut direct, mut indirect) = (outcome.beta[1], 0.0);
    for (j, mj) in m.iter().enumerate() {
        let mr: Array1<f64> = rows.iter().map(|&i| mj[i]).collect();
        let model = LeastSquares::fit(mediator_x, mr.view(), &names[..2 + 2 * p])?;
        let (alpha, beta) = (model.beta[0], model.beta[1]);
        let (theta2, theta3) = (outcome.beta[2 + 2 * p + j], outcome.beta[2 + 2 * p + q + j]);
        direct += theta3 * alpha;
        indirect += (theta2 + theta3) * beta;
    }
    Ok((direct, indirect))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lin_is_exact_on_an_interacted_linear_outcome() {
        // y = 1 + 2 w + 3 c + w (c - mean c) + a small wiggle, so the
        // effect of unit i is 2 + (c_i - mean c) and the ATE is 2.
        let n = 200;
        let c: Array1<f64> = (0..n)
            .map(|i| (i as f64 * 0.37).sin() * 2.0 + 1.0)
            .collect();
        let w: Array1<f64> = (0..n).map(|i| f64::from(u8::from(i % 3 == 0))).collect();
        let mean = c.sum() / n as f64;
        let y: Array1<f64> = (0..n)
            .map(|i| 1.0 + 2.0 * w[i] + 3.0 * c[i] + w[i] * (c[i] - mean) + 1e-3 * (i as f64).cos())
            .collect();
        let (estimate, units) = lin(y.view(), w.view(), &[c.view()], &["c"]).expect("fit");
        assert!(
            (estimate.estimate - 2.0).abs() < 1e-3,
            "{}",
            estimate.estimate
        );
        // With residuals this small the SE is the covariate-mean term alone:
        // sqrt(θ² var(c) / n) with θ = 1.
        let var = c.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (n as f64 - 1.0);
        let mean_term = (var / n as f64).sqrt();
        assert!(
            (estimate.se / mean_term - 1.0).abs() < 0.01,
            "{}",
            estimate.se
        );
        for i in 0..n {
            assert!((units.tau[i] - (2.0 + c[i] - mean)).abs() < 2e-3);
            assert!(units.se[i] > 0.0);
        }
        // It grows with the interaction: θ = 5 gives five times the SE.
        let y2: Array1<f64> = (0..n).map(|i| y[i] + 4.0 * w[i] * (c[i] - mean)).collect();
        let (wider, _) = lin(y2.view(), w.view(), &[c.view()], &["c"]).expect("fit");
        assert!((wider.se / estimate.se - 5.0).abs() < 0.05, "{}", wider.se);
    }

    #[test]
    fn the_front_door_multiplies_the_two_stages() {
        // m = w + wiggle and y = 3 m + 2 w, where 2 w stands for a latent
        // confounder's shift among the treated, which the front door leaves
        // out: the effect is 3 times the effect of w on m.
        let n = 300;
        let w: Array1<f64> = (0..n).map(|i| f64::from(u8::from(i % 2 == 0))).collect();
        let m: Array1<f64> = (0..n)
            .map(|i| w[i] + 0.3 * (i as f64 * 0.91).sin())
            .collect();
        let y: Array1<f64> = (0..n).map(|i| 3.0 * m[i] + 2.0 * w[i]).collect();
        let rows: Vec<usize> = (0..n).collect();
        let ate = front_door(y.view(), w.view(), &[m.view()], &["m"], &rows).expect("fit");
        let b = arm_difference(m.view(), w.view(), &rows).expect("arms");
        assert!((ate - 3.0 * b).abs() < 1e-9, "{ate} vs {}", 3.0 * b);
    }
}
