//! Double/debiased machine learning (Chernozhukov, Chetverikov, Demirer,
//! Duflo, Hansen, Newey and Robins 2018): nuisance functions fitted by a
//! machine learner on K - 1 folds and predicted on the held-out fold
//! (cross-fitting), plugged into a Neyman-orthogonal score whose sample mean
//! is solved for the effect; the standard error is the score's sample
//! variance scaled by its Jacobian (the DML2 estimator).
//!
//! Three models, as DoubleML names them:
//! - `plr`, the partially linear model `Y = θ W + g(X) + ε`: the
//!   residual-on-residual regression of `Y − E[Y|X]` on `W − E[W|X]`. Under
//!   heterogeneous effects it estimates the variance-weighted average effect
//!   `E[var(W|X) τ(X)] / E[var(W|X)]`, not the ATE.
//! - `irm`, the interactive model: AIPW scores from `μ0(x)`, `μ1(x)` and the
//!   propensity `e(x)` (clipped to `[trim, 1 − trim]`), for the ATE or the ATT.
//! - `iv`, the interactive IV model: the LATE as the ratio of the doubly
//!   robust effects of a binary instrument `Z` on `Y` and on `W`, from
//!   `E[Y|Z=z,X]`, `E[W|Z=z,X]` and `P(Z=1|X)` (clipped likewise).
//!
//! With `cate = "linear"` the IRM also gives per-unit effects by the
//! DR-learner (Kennedy 2023): its cross-fitted AIPW scores, whose
//! conditional mean given X is τ(X), are regressed on the covariates a
//! plug-in lasso selects, then by least squares on those; τ̂(xᵢ) is the fit,
//! the best linear predictor of τ(X) in them (Semenova and Chernozhukov
//! 2021), with an HC1 standard error that treats the selection as given.

pub mod lasso;

use ndarray::{Array1, Array2, ArrayView2};
use rand::seq::SliceRandom;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use super::forest::binning::{Binned, Bins, MAX_BINS};
use super::forest::ensemble::{average, Forest};
use super::forest::tree::{Rule, Targets};
use super::forest::ForestParams;
use super::linalg::SeKind;
use super::linalg::{sandwich, LeastSquares};
use super::{Estimate, Estimator, UnitEffects};
use crate::core::seed::mix;
use crate::core::stats::{mean, median};
use crate::core::Estimand;
use crate::data::Dataset;
use crate::{Error, Result};
use lasso::Family;

/// Fewest units of each treatment (or instrument) arm every training fold
/// must hold for the per-arm nuisance fits.
pub const MIN_ARM: usize = 10;

/// Which DML model (and so which orthogonal score) to use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum DmlModel {
    /// Partially linear regression: residual on residual (any numeric W).
    Plr,
    /// Interactive regression model: AIPW scores for the ATE or ATT (0/1 W).
    #[default]
    Irm,
    /// Interactive IV model: the LATE with a 0/1 instrument and treatment.
    Iv,
}

/// The machine learner that fits every nuisance function.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Learner {
    /// Regression forests (probabilities: a regression forest on the 0/1 target).
    #[default]
    Forest,
    /// Plug-in lasso (post-lasso for means, logistic lasso for probabilities).
    Lasso,
}

/// Whether (and how) the IRM gives per-unit effects besides its average.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Cate {
    /// The average only.
    #[default]
    None,
    /// The DR-learner with a post-lasso linear second stage (module docs).
    Linear,
}

/// Double/debiased machine learning with cross-fitted nuisances; see the
/// module documentation for the models. Diagnostics: `n`, `folds`,
/// `repetitions`, `outcome_r2` (out-of-fold R² of the outcome model at the
/// observed arm), `treatment_r2` (PLR: of E[W|X]), `propensity_min`,
/// `propensity_max` and `share_trimmed` (IRM: of e(x); IV: of P(Z=1|X),
/// before clipping), `compliance` (IV: the estimated complier share).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Dml {
    /// The model: `plr`, `irm` (default) or `iv`.
    pub model: DmlModel,
    /// `att` for the IRM's effect on the treated; otherwise the model's own
    /// estimand (PLR and IRM: ATE, IV: LATE).
    pub estimand: Option<Estimand>,
    /// Folds of the cross-fitting split (stratified by the treatment, or by
    /// the instrument for `iv`).
    pub folds: usize,
    /// Independent fold splits; the estimate is their median and the SE
    /// adds the spread between splits (Chernozhukov et al., section 3.4).
    pub repetitions: usize,
    /// The nuisance learner: `forest` (default) or `lasso`.
    pub learner: Learner,
    /// Trees per nuisance forest.
    pub trees: usize,
    /// Forest nodes with at most this many units are not split.
    pub min_node_size: usize,
    /// Mean features tried per forest split [default: min(ceil(sqrt(p) + 20), p)].
    pub mtry: Option<usize>,
    /// Propensities (of W, or of Z for `iv`) are clipped to `[trim, 1 − trim]`.
    pub trim: f64,
    /// Per-unit effects from the IRM's ATE scores: `none` (default) or
    /// `linear` (the DR-learner), for allocation policies that target.
    pub cate: Cate,
}

impl Default for Dml {
    fn default() -> Self {
        Dml {
            model: DmlModel::Irm,
            estimand: None,
            folds: 5,
            repetitions: 1,
            learner: Learner::Forest,
            trees: 50,
            min_node_size: 5,
            mtry: None,
            trim: 0.01,
            cate: Cate::None,
        }
    }
}

/// The out-of-fold nuisance predictions of one fold split, full length.
struct CrossFit {
    /// Outcome: E[Y|X] (PLR), μ0 (IRM) or E[Y|Z=0,X] (IV).
    y0: Vec<f64>,
    /// μ1 (IRM) or E[Y|Z=1,X] (IV); empty for PLR.
    y1: Vec<f64>,
    /// E[W|X] (PLR, IRM: the propensity) or E[W|Z=0,X] (IV).
    w0: Vec<f64>,
    /// E[W|Z=1,X] (IV); empty otherwise.
    w1: Vec<f64>,
    /// P(Z=1|X) (IV); empty otherwise.
    z: Vec<f64>,
}

/// One repetition's estimate with its diagnostics.
struct Solved {
    theta: f64,
    se: f64,
    diagnostics: Vec<(&'static str, f64)>,
    /// The IRM ATE's doubly robust scores (their mean is `theta`); empty
    /// for the other models and estimands.
    scores: Vec<f64>,
}

/// Fits nuisances on some units and predicts them at others.
enum Nuisance<'a> {
    /// Forests on features binned once for the whole sample.
    Forest {
        binned: Binned,
        params: ForestParams,
    },
    /// Plug-in lasso on the raw covariates.
    Lasso { x: ArrayView2<'a, f64> },
}

/// The rows of `binned` in `rows`, in order.
fn select(binned: &Binned, rows: &[usize]) -> Result<Binned> {
    let p = binned.features();
    let mut codes = Vec::with_capacity(rows.len() * p);
    for &i in rows {
        codes.extend_from_slice(binned.row(i));
    }
    let bins = (0..p).map(|j| binned.bins(j) as u16).collect();
    Binned::from_codes(rows.len(), codes, bins)
}

impl Nuisance<'_> {
    /// Fits `target` on the units `train` and predicts it at `test`; a 0/1
    /// `binary` target is a probability (the lasso's logistic loss).
    fn fit_predict(
        &self,
        target: &[f64],
        train: &[usize],
        test: &[usize],
        binary: bool,
        seed: u64,
    ) -> Result<Vec<f64>> {
        let values: Vec<f64> = train.iter().map(|&i| target[i]).collect();
        let mean = values.iter().sum::<f64>() / values.len() as f64;
        if values.iter().all(|v| *v == values[0]) {
            return Ok(vec![values[0]; test.len()]);
        }
        match self {
            Nuisance::Forest { binned, params } => {
                let targets = Targets {
                    y: &values,
                    w: &[],
                    z: &[],
                };
                let forest = Forest::train(
                    &select(binned, train)?,
                    targets,
                    Rule::Regression,
                    params,
                    seed,
                )?;
                Ok(forest.map_points(&select(binned, test)?, false, |v| {
                    average(v, 1).map_or(mean, |(a, _)| a[0])
                }))
            }
            Nuisance::Lasso { x } => {
                let family = if binary {
                    Family::Binomial
                } else {
                    Family::Gaussian
                };
                let model =
                    lasso::plug_in(x.select(ndarray::Axis(0), train).view(), &values, family)?;
                let index = model.predict(x.select(ndarray::Axis(0), test).view());
                Ok(match family {
                    Family::Gaussian => index,
                    Family::Binomial => index
                        .into_iter()
                        .map(|t| 1.0 / (1.0 + (-t).exp()))
                        .collect(),
                })
            }
        }
    }
}

fn is_binary(v: &[f64]) -> bool {
    v.iter().all(|a| *a == 0.0 || *a == 1.0)
}

/// Out-of-fold R² of `fitted` for `target`.
fn r_squared(target: &[f64], fitted: &[f64]) -> f64 {
    let m = mean(target);
    let total: f64 = target.iter().map(|t| (t - m).powi(2)).sum();
    let residual: f64 = target
        .iter()
        .zip(fitted)
        .map(|(t, f)| (t - f).powi(2))
        .sum();
    1.0 - residual / total
}

/// Range and share clipped of raw propensities `p`, then `p` clipped to `[trim, 1 − trim]`.
fn clip(p: &mut [f64], trim: f64) -> [(&'static str, f64); 3] {
    let low = p.iter().copied().fold(f64::INFINITY, f64::min);
    let high = p.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let clipped = p.iter().filter(|v| **v < trim || **v > 1.0 - trim).count();
    let share = clipped as f64 / p.len() as f64;
    p.iter_mut().for_each(|v| *v = v.clamp(trim, 1.0 - trim));
    [
        ("propensity_min", low),
        ("propensity_max", high),
        ("share_trimmed", share),
    ]
}

/// Solves the mean of the linear score `a θ + b` for θ, with the DML
/// standard error `sqrt(mean(ψ²) / (mean(a)² n))`; `None` when the Jacobian
/// `mean(a)` is zero.
fn linear_score(a: &[f64], b: &[f64]) -> Option<(f64, f64)> {
    let n = a.len() as f64;
    let jacobian = mean(a);
    if jacobian.is_nan() || jacobian.abs() <= 1e-12 {
        return None;
    }
    let theta = -mean(b) / jacobian;
    let psi2 = a
        .iter()
        .zip(b)
        .map(|(a, b)| (a * theta + b).powi(2))
        .sum::<f64>()
        / n;
    Some((theta, (psi2 / (jacobian * jacobian * n)).sqrt()))
}

impl Dml {
    /// The estimand this configuration targets, or an error for a
    /// combination the model cannot estimate.
    pub fn target(&self) -> Result<Estimand> {
        match (self.model, self.estimand) {
            (DmlModel::Plr | DmlModel::Irm, None | Some(Estimand::Ate)) => Ok(Estimand::Ate),
            (DmlModel::Irm, Some(Estimand::Att)) => Ok(Estimand::Att),
            (DmlModel::Iv, None | Some(Estimand::Late)) => Ok(Estimand::Late),
            (model, Some(e)) => Err(Error::Estimate(format!(
                "dml: model {} cannot estimate the {}; plr estimates the ATE (a variance-weighted \
                 average under heterogeneity), irm the ATE or ATT, iv the LATE",
                match model {
                    DmlModel::Plr => "plr",
                    DmlModel::Irm => "irm",
                    DmlModel::Iv => "iv",
                },
                e.label()
            ))),
        }
    }

    /// Checks the parameters' ranges, with what to change.
    pub fn validate(&self) -> Result<()> {
        let bad = |m: String| Err(Error::Estimate(format!("dml: {m}")));
        self.target()?;
        if self.folds < 2 {
            return bad(format!(
                "folds is {}; cross-fitting needs at least 2",
                self.folds
            ));
        }
        if self.repetitions == 0 {
            return bad("repetitions must be at least 1".into());
        }
        if self.trees == 0 {
            return bad("trees must be at least 1".into());
        }
        if self.min_node_size == 0 {
            return bad("min_node_size must be at least 1".into());
        }
        if self.mtry == Some(0) {
            return bad("mtry must be at least 1".into());
        }
        if !(0.0..0.5).contains(&self.trim) {
            return bad(format!("trim is {}; it must lie in [0, 0.5)", self.trim));
        }
        if self.cate == Cate::Linear
            && (self.model, self.target()?) != (DmlModel::Irm, Estimand::Ate)
        {
            return bad(
                "cate = \"linear\" needs model = \"irm\" and the ATE: per-unit effects come from \
                 its doubly robust scores"
                    .into(),
            );
        }
        Ok(())
    }

    fn forest_params(&self) -> ForestParams {
        ForestParams {
            num_trees: self.trees,
            mtry: self.mtry,
            min_node_size: self.min_node_size,
            honesty: false,
            ci_group_size: 1,
            ..ForestParams::default()
        }
    }

    /// Checks the data against the model: 0/1 columns where needed, and
    /// enough units of every arm in every training fold.
    fn check_data(&self, data: &Dataset, strata: &[f64]) -> Result<()> {
        let n = data.n();
        let w = data.w.to_vec();
        if data.x.ncols() == 0 {
            return Err(Error::Estimate("dml needs at least one covariate".into()));
        }
        if self.model != DmlModel::Plr && !is_binary(&data.w.to_vec()) {
            return Err(Error::Estimate(
                "dml: the irm and iv models need a 0/1 treatment; use model = \"plr\" for a continuous one"
                    .into(),
            ));
        }
        if self.model == DmlModel::Plr && w.iter().all(|v| *v == w[0]) {
            return Err(Error::Estimate("dml: the treatment does not vary".into()));
        }
        if n < 2 * self.folds {
            return Err(Error::Estimate(format!(
                "dml: {n} units are too few for {} folds (at least {} needed)",
                self.folds,
                2 * self.folds
            )));
        }
        if self.model != DmlModel::Plr || is_binary(strata) {
            let (what, arm) = match self.model {
                DmlModel::Iv => ("instrument", "Z"),
                _ => ("treatment", "W"),
            };
            for value in [0.0, 1.0] {
                let count = strata.iter().filter(|s| **s == value).count();
                // Stratified folds leave at least count - ceil(count / folds) in each training fold.
                let training = count - count.div_ceil(self.folds);
                if training < MIN_ARM {
                    return Err(Error::Estimate(format!(
                        "dml: {count} units have {arm} = {value}, so a training fold holds only \
                         {training} of them; each needs at least {MIN_ARM} to fit the {what} arm's \
                         nuisances (use fewer folds or more data)"
                    )));
                }
            }
        }
        Ok(())
    }

    /// A fold per unit: units are shuffled within each arm of a 0/1
    /// `strata` (all together otherwise) and dealt to folds in turn, so every
    /// fold has each arm in proportion.
    fn split(&self, strata: &[f64], seed: u64) -> Vec<usize> {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let key = |i: usize| if is_binary(strata) { strata[i] } else { 0.0 };
        let mut order: Vec<usize> = (0..strata.len()).collect();
        order.sort_by(|a, b| key(*a).total_cmp(&key(*b)));
        let mut fold = vec![0; strata.len()];
        let mut next = 0;
        for group in order.chunk_by_mut(|a, b| key(*a) == key(*b)) {
            group.shuffle(&mut rng);
            for &i in group.iter() {
                fold[i] = next % self.folds;
                next += 1;
            }
        }
        fold
    }

    /// Cross-fits every nuisance of the model on one fold split.
    fn cross_fit(
        &self,
        learner: &Nuisance<'_>,
        data: &Dataset,
        strata: &[f64],
        seed: u64,
    ) -> Result<CrossFit> {
        let n = data.n();
        let (y, w) = (data.y.to_vec(), data.w.to_vec());
        let folds = self.split(strata, mix(seed));
        let mut out = CrossFit {
            y0: vec![0.0; n],
            y1: Vec::new(),
            w0: vec![0.0; n],
            w1: Vec::new(),
            z: Vec::new(),
        };
        if self.model != DmlModel::Plr {
            out.y1 = vec![0.0; n];
        }
        if self.model == DmlModel::Iv {
            out.w1 = vec![0.0; n];
            out.z = vec![0.0; n];
        }
        let w_binary = is_binary(&w);
        for k in 0..self.folds {
            let test: Vec<usize> = (0..n).filter(|&i| folds[i] == k).collect();
            let train: Vec<usize> = (0..n).filter(|&i| folds[i] != k).collect();
            let arm = |value: f64| -> Vec<usize> {
                train
                    .iter()
                    .copied()
                    .filter(|&i| strata[i] == value)
                    .collect()
            };
            let seed_of = |nuisance: u64| mix(seed ^ mix((k as u64) << 8 | nuisance));
            let put = |slot: &mut Vec<f64>, values: Vec<f64>| {
                for (&i, v) in test.iter().zip(values) {
                    slot[i] = v;
                }
            };
            match self.model {
                DmlModel::Plr => {
                    put(
                        &mut out.y0,
                        learner.fit_predict(&y, &train, &test, false, seed_of(1))?,
                    );
                    put(
                        &mut out.w0,
                        learner.fit_predict(&w, &train, &test, w_binary, seed_of(2))?,
                    );
                }
                DmlModel::Irm => {
                    let (control, treated) = (arm(0.0), arm(1.0));
                    put(
                        &mut out.y0,
                        learner.fit_predict(&y, &control, &test, false, seed_of(1))?,
                    );
                    put(
                        &mut out.y1,
                        learner.fit_predict(&y, &treated, &test, false, seed_of(2))?,
                    );
                    put(
                        &mut out.w0,
                        learner.fit_predict(&w, &train, &test, true, seed_of(3))?,
                    );
                }
                DmlModel::Iv => {
                    let (off, on) = (arm(0.0), arm(1.0));
                    put(
                        &mut out.y0,
                        learner.fit_predict(&y, &off, &test, false, seed_of(1))?,
                    );
                    put(
                        &mut out.y1,
                        learner.fit_predict(&y, &on, &test, false, seed_of(2))?,
                    );
                    put(
                        &mut out.w0,
                        learner.fit_predict(&w, &off, &test, true, seed_of(3))?,
                    );
                    put(
                        &mut out.w1,
                        learner.fit_predict(&w, &on, &test, true, seed_of(4))?,
                    );
                    put(
                        &mut out.z,
                        learner.fit_predict(strata, &train, &test, true, seed_of(5))?,
                    );
                }
            }
        }
        Ok(out)
    }

    /// Solves the model's orthogonal score on one split's nuisances.
    fn solve(&self, data: &Dataset, z: &[f64], mut fit: CrossFit) -> Result<Solved> {
        let (y, w) = (data.y.to_vec(), data.w.to_vec());
        let n = y.len();
        let mut diagnostics = Vec::new();
        let (a, b): (Vec<f64>, Vec<f64>) = match (self.model, self.target()?) {
            (DmlModel::Plr, _) => {
                diagnostics.push(("outcome_r2", r_squared(&y, &fit.y0)));
                diagnostics.push(("treatment_r2", r_squared(&w, &fit.w0)));
                (0..n)
                    .map(|i| {
                        let v = w[i] - fit.w0[i];
                        (-v * v, v * (y[i] - fit.y0[i]))
                    })
                    .unzip()
            }
            (DmlModel::Irm, target) => {
                let observed: Vec<f64> = (0..n)
                    .map(|i| if w[i] == 1.0 { fit.y1[i] } else { fit.y0[i] })
                    .collect();
                diagnostics.push(("outcome_r2", r_squared(&y, &observed)));
                diagnostics.extend(clip(&mut fit.w0, self.trim));
                let (mu0, mu1, e) = (&fit.y0, &fit.y1, &fit.w0);
                (0..n)
                    .map(|i| {
                        let (r0, r1) = (y[i] - mu0[i], y[i] - mu1[i]);
                        if target == Estimand::Att {
                            let b = w[i] * r0 - e[i] * (1.0 - w[i]) * r0 / (1.0 - e[i]);
                            (-w[i], b)
                        } else {
                            let b = mu1[i] - mu0[i] + w[i] * r1 / e[i]
                                - (1.0 - w[i]) * r0 / (1.0 - e[i]);
                            (-1.0, b)
                        }
                    })
                    .unzip()
            }
            (DmlModel::Iv, _) => {
                let observed: Vec<f64> = (0..n)
                    .map(|i| if z[i] == 1.0 { fit.y1[i] } else { fit.y0[i] })
                    .collect();
                diagnostics.push(("outcome_r2", r_squared(&y, &observed)));
                diagnostics.extend(clip(&mut fit.z, self.trim));
                let r = &fit.z;
                let dr = |i: usize, v: f64, m0: f64, m1: f64| {
                    m1 - m0 + z[i] * (v - m1) / r[i] - (1.0 - z[i]) * (v - m0) / (1.0 - r[i])
                };
                let pairs: Vec<(f64, f64)> = (0..n)
                    .map(|i| {
                        (
                            -dr(i, w[i], fit.w0[i], fit.w1[i]),
                            dr(i, y[i], fit.y0[i], fit.y1[i]),
                        )
                    })
                    .collect();
                diagnostics.push((
                    "compliance",
                    -pairs.iter().map(|p| p.0).sum::<f64>() / n as f64,
                ));
                pairs.into_iter().unzip()
            }
        };
        let (theta, se) = linear_score(&a, &b).ok_or_else(|| {
            Error::Estimate(
                match self.model {
                    DmlModel::Plr => "dml: the treatment has no variation left once the covariates are partialled out",
                    DmlModel::Irm => "dml: no treated units to average over",
                    DmlModel::Iv => "dml: the instrument does not move the treatment (estimated complier share 0)",
                }
                .into(),
            )
        })?;
        if !(theta.is_finite() && se.is_finite()) {
            return Err(Error::Estimate(
                "dml: the score is not finite (a nuisance prediction is degenerate)".into(),
            ));
        }
        let scores = if (self.model, self.target()?) == (DmlModel::Irm, Estimand::Ate) {
            b
        } else {
            Vec::new()
        };
        Ok(Solved {
            theta,
            se,
            diagnostics,
            scores,
        })
    }
}

/// The DR-learner's linear second stage: the covariates a plug-in lasso
/// selects for the `scores`, least squares of the scores on them (with an
/// intercept), and each unit's fit with its HC1 standard error. Also returns
/// how many covariates were selected (0: every unit gets the average).
fn dr_learner(x: ArrayView2<'_, f64>, scores: Vec<f64>) -> Result<(UnitEffects, usize)> {
    let chosen = lasso::plug_in(x, &scores, Family::Gaussian)?;
    let columns: Vec<usize> = (0..x.ncols()).filter(|&j| chosen.coef[j] != 0.0).collect();
    let n = scores.len();
    let mut design = Array2::<f64>::ones((n, columns.len() + 1));
    for (k, &j) in columns.iter().enumerate() {
        design.column_mut(k + 1).assign(&x.column(j));
    }
    let names: Vec<String> = std::iter::once("intercept".to_string())
        .chain(columns.iter().map(|j| format!("x column {}", j + 1)))
        .collect();
    let y = Array1::from(scores);
    let fit = LeastSquares::fit(design.view(), y.view(), &names)
        .map_err(|e| Error::Estimate(format!("dml: the linear CATE stage failed: {e}")))?;
    let cov = sandwich(
        fit.xtx_inv.view(),
        design.view(),
        fit.residuals.view(),
        SeKind::Hc1,
    )?;
    let tau = design.dot(&fit.beta).to_vec();
    let se = design
        .rows()
        .into_iter()
        .map(|row| row.dot(&cov.dot(&row)).max(0.0).sqrt())
        .collect();
    Ok((
        UnitEffects {
            tau,
            se,
            scores: y.to_vec(),
        },
        columns.len(),
    ))
}

impl Estimator for Dml {
    fn estimand(&self) -> Estimand {
        self.target().unwrap_or(match self.model {
            DmlModel::Iv => Estimand::Late,
            _ => Estimand::Ate,
        })
    }

    fn fit(&self, data: &Dataset, seed: u64) -> Result<Estimate> {
        self.validate()?;
        let strata = match self.model {
            DmlModel::Iv => {
                let z = data.instrument("dml with model = \"iv\"")?.to_vec();
                if !is_binary(&z) {
                    return Err(Error::Estimate(
                        "dml: the iv model needs a 0/1 instrument".into(),
                    ));
                }
                z
            }
            _ => data.w.to_vec(),
        };
        self.check_data(data, &strata)?;
        let learner = match self.learner {
            Learner::Forest => {
                let x = data.x.view();
                Nuisance::Forest {
                    binned: Bins::fit(x, MAX_BINS)?.transform(x)?,
                    params: self.forest_params(),
                }
            }
            Learner::Lasso => Nuisance::Lasso { x: data.x.view() },
        };
        let solved = (0..self.repetitions)
            .map(|r| {
                let fit = self.cross_fit(&learner, data, &strata, mix(seed ^ mix(r as u64)))?;
                self.solve(data, &strata, fit)
            })
            .collect::<Result<Vec<_>>>()?;
        let theta = median(solved.iter().map(|s| s.theta).collect());
        let variance = median(
            solved
                .iter()
                .map(|s| s.se * s.se + (s.theta - theta).powi(2))
                .collect(),
        );
        let mut estimate = Estimate::normal(self.target()?, theta, variance.sqrt())
            .with("n", data.n() as f64)
            .with("folds", self.folds as f64)
            .with("repetitions", self.repetitions as f64);
        for (k, (name, _)) in solved[0].diagnostics.iter().enumerate() {
            let avg = solved.iter().map(|s| s.diagnostics[k].1).sum::<f64>() / solved.len() as f64;
            estimate = estimate.with(name, avg);
        }
        if self.cate == Cate::Linear {
            let mut scores = vec![0.0; data.n()];
            for s in &solved {
                for (total, v) in scores.iter_mut().zip(&s.scores) {
                    *total += v / solved.len() as f64;
                }
            }
            let (units, selected) = dr_learner(data.x.view(), scores)?;
            estimate = estimate.with("cate_covariates", selected as f64);
            estimate.units = Some(units);
        }
        Ok(estimate)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folds_are_stratified_balanced_and_seeded() {
        let strata: Vec<f64> = (0..103).map(|i| f64::from(i % 4 == 0)).collect();
        let dml = Dml::default();
        let folds = dml.split(&strata, 1);
        for k in 0..5 {
            let size = folds.iter().filter(|f| **f == k).count();
            let treated = (0..103)
                .filter(|&i| folds[i] == k && strata[i] == 1.0)
                .count();
            assert!((20..=21).contains(&size), "fold {k} has {size}");
            assert!((5..=6).contains(&treated), "fold {k} has {treated} treated");
        }
        assert_eq!(folds, dml.split(&strata, 1));
        assert_ne!(folds, dml.split(&strata, 2));
    }

    #[test]
    fn the_linear_score_solves_for_theta_with_the_sandwich_se() {
        // psi = -1 * theta + b: theta is the mean of b, the SE its standard error.
        let b = [1.0, 2.0, 3.0, 6.0];
        let (theta, se) = linear_score(&[-1.0; 4], &b).expect("identified");
        assert!((theta - 3.0).abs() < 1e-12);
        assert!((se - (14.0_f64 / 4.0 / 4.0).sqrt()).abs() < 1e-12);
        assert!(linear_score(&[0.0; 4], &b).is_none());
        assert_eq!(median(vec![3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median(vec![4.0, 1.0, 2.0, 3.0]), 2.5);
    }
}
