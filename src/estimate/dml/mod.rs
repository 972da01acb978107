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
//!   `E[var(W|X) τ(X)] / E[var(W|X)]`, not the ATE. For a continuous `W`
//!   (a dose) whose response is `g(X) + s(X) W`, likewise
//!   `E[var(W|X) s(X)] / E[var(W|X)]`: the average slope `E[s(X)]` only when
//!   the dose's variance given X does not vary with the slope (with
//!   `estimand = "slope"` it is judged against the average slope).
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
//!
//! `spec` holds the configuration and its checks, `folds` the data checks,
//! the fold split and the cross-fitting, `score` the models' orthogonal
//! scores and `cate` the DR-learner; the nuisance learners live here.

mod cate;
mod folds;
pub mod lasso;
mod score;
mod spec;

use ndarray::ArrayView2;

use super::forest::{fit_regression, Binned, Bins, ForestParams, MAX_BINS};
use super::{Estimate, Estimator};
use crate::core::seed::mix;
use crate::core::stats::median;
use crate::core::Estimand;
use crate::data::Dataset;
use crate::{Error, Result};
use lasso::Family;

pub use spec::{Cate, Dml, DmlModel, Learner, MIN_ARM};

/// Fits nuisances on some units and predicts them at others.
enum Nuisance<'a> {
    /// Forests on features binned once for the whole sample.
    Forest {
        binned: Box<Binned>,
        params: ForestParams,
    },
    /// Plug-in lasso on the raw covariates.
    Lasso { x: ArrayView2<'a, f64> },
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
                let forest = fit_regression(&binned.select(train), &values, params, None, seed)?;
                forest.predict(&binned.select(test), mean)
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
                        .map(crate::core::stats::logistic)
                        .collect(),
                })
            }
        }
    }
}

/// Whether every value is 0 or 1.
fn is_binary(v: &[f64]) -> bool {
    v.iter().all(|a| *a == 0.0 || *a == 1.0)
}

impl Dml {
    /// The forest parameters of every nuisance forest.
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
                    binned: Box::new(Bins::fit(x, MAX_BINS)?.transform(x)?),
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
            let (units, selected) = cate::dr_learner(data.x.view(), scores)?;
            estimate = estimate.with("cate_covariates", selected as f64);
            estimate.units = Some(units);
        }
        Ok(estimate)
    }
}
