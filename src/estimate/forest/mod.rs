//! Forests: regression, causal and instrumental forests after grf (Athey,
//! Tibshirani and Wager 2019), on quantile-binned features with histogram
//! split search, grown in parallel with one seed per tree group.
//!
//! Each forest type is one split rule (the private `rules`); the tree grower, the
//! forest and its predictions are generic over it. Other modules use the
//! estimators and the small API re-exported here: binning, regression fits
//! for nuisances, fitted causal and instrumental forests with their path
//! predictions, and doubly robust scores.

mod bags;
mod diagnostics;
mod ensemble;
mod grf;
mod nuisance;
mod params;
mod paths;
mod regression;
mod robust;
mod rules;
mod scores;
mod tree;
mod tune;

use ndarray::ArrayView2;
use serde::{Deserialize, Serialize};

pub use crate::data::binning::{Binned, Bins, MAX_BINS};
pub use diagnostics::{
    diagnose, IvDiagnostics, BAND, FEW, FRAGILE_SHARE, HISTOGRAM_BINS, LEAVE_OUT,
};
pub use grf::{FittedForest, Nuisances, Prediction};
pub use nuisance::{fit_regression, regression_oob, RegressionFit};
pub use params::{
    Criterion, ForestParams, MAX_NODE_SIZE, MAX_TREES, MAX_TUNE_DRAWS, TUNE_DRAWS, TUNE_TREES,
};
pub use paths::{LeafMeans, Path, PathPredictions};
pub use regression::RegressionForest;
pub use robust::{
    dr_wald_ratio, robust_averages, IvParts, IvPieces, RobustAverage, Target, NO_FLOOR, TRIM,
};
pub use scores::{
    aipw_scores, average_effect, average_over, clustered_average_effect, intention_to_treat,
    iv_scores, Scores, MIN_COMPLIANCE,
};
pub use tune::Tuning;

use super::{Estimate, Estimator, UnitEffects};
use crate::core::Estimand;
use crate::data::Dataset;
use crate::{Error, Result};

/// Causal forest (unconfoundedness): heterogeneous effects tau(x) of W on Y
/// given X, and the ATE from AIPW scores. Its parameters are grf's.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(transparent)]
pub struct CausalForest(pub ForestParams);

/// Instrumental forest: heterogeneous local average effects tau(x) of W on Y
/// instrumented by Z, and their average from doubly robust scores.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(transparent)]
pub struct InstrumentalForest(pub ForestParams);

/// Turns out-of-bag predictions into per-unit effects with standard errors,
/// failing (rather than returning NaN) where the local moment is degenerate.
fn unit_effects(name: &str, predictions: &[Prediction], scores: Vec<f64>) -> Result<UnitEffects> {
    let bad = predictions.iter().filter(|p| !p.tau.is_finite()).count();
    if bad > 0 {
        return Err(Error::Estimate(format!(
            "{name}: no effect estimate at {bad} of {} units: the local first stage is zero there (the \
             instrument or treatment does not vary in their neighbourhoods) or no tree left them out of \
             bag; use larger leaves (min_node_size), more trees or more data",
            predictions.len()
        )));
    }
    Ok(UnitEffects {
        tau: predictions.iter().map(|p| p.tau).collect(),
        se: predictions
            .iter()
            .map(|p| p.variance.max(0.0).sqrt())
            .collect(),
        scores,
    })
}

/// Fits a causal (`instrumented = false`) or instrumental forest: its average
/// effect and per-unit effects, and the fitted forest for predictions at new points.
fn fit_grf(
    name: &str,
    params: &ForestParams,
    data: &Dataset,
    instrumented: bool,
    seed: u64,
) -> Result<(Estimate, FittedForest)> {
    let (y, w) = (data.y.to_vec(), data.w.to_vec());
    if let Some(i) = w
        .iter()
        .position(|&v| v != 0.0 && v != 1.0)
        .filter(|_| !instrumented)
    {
        return Err(Error::Estimate(format!(
            "{name} needs a binary 0/1 treatment for its average effect; found {} at row {}{}",
            w[i],
            i + 1,
            crate::estimate::DOSE_HINT
        )));
    }
    let z = if instrumented {
        Some(data.instrument(name)?.to_vec())
    } else {
        None
    };
    let zs = z.as_deref().unwrap_or(&w);
    let clusters = data.clusters.clone().filter(|_| params.clusters);
    let fitted = match &data.codes {
        Some(coded) => {
            let coded = (coded.bins.clone(), coded.binned.clone());
            FittedForest::fit_binned(coded, (&y, &w, zs), params, clusters, seed)?
        }
        None => FittedForest::fit(data.x.view(), (&y, &w, zs), params, clusters, seed)?,
    };
    let oob = fitted.predict_oob();
    // Check before scoring, so a degenerate first stage is named as such.
    unit_effects(name, &oob, Vec::new())?;
    let mut scores = match &z {
        Some(z) => iv_scores(&fitted, (&y, &w, z), &oob, params, seed)?,
        None => aipw_scores((&y, &w), &fitted.nuisances, &oob, fitted.clusters.clone())?,
    };
    let (mean, se) = scores
        .average()
        .ok_or_else(|| Error::Estimate(format!("{name}: too few units for an average effect")))?;
    let estimand = if instrumented {
        Estimand::Late
    } else {
        Estimand::Ate
    };
    let mut estimate = Estimate::normal(estimand, mean, se)
        .with("trees", fitted.trees() as f64)
        .with("n", y.len() as f64);
    if let Some(c) = &fitted.clusters {
        estimate = estimate.with("clusters", c.count() as f64);
    }
    if let Some(t) = &fitted.tuning {
        let p = &t.params;
        let chosen = [
            ("tuned", f64::from(u8::from(t.tuned))),
            ("tuned_min_node_size", p.min_node_size as f64),
            ("tuned_sample_fraction", p.sample_fraction),
            ("tuned_mtry", p.mtry_for(fitted.binned.features()) as f64),
            ("tuning_loss", t.loss),
            ("tuning_default_loss", t.default_loss),
            ("tuning_difference_se", t.difference_se),
        ];
        // The losses are NaN where too few units had an out-of-bag estimate.
        for (name, value) in chosen.into_iter().filter(|(_, v)| v.is_finite()) {
            estimate = estimate.with(name, value);
        }
    }
    if let Some(z) = &z {
        let compliance = std::mem::take(&mut scores.compliance);
        let pieces = IvPieces::fit(&fitted, (&y, z), (&oob, compliance), params, seed)?;
        estimate = with_iv_checks(estimate, &pieces.parts(&fitted, (&y, &w, z)));
    }
    estimate.units = Some(unit_effects(name, &oob, scores.scores)?);
    Ok((estimate, fitted))
}

/// An instrumental forest's estimate with its overlap and weak-instrument
/// diagnostics and its doubly robust averages beside the headline
/// (`dr_wald`, `partialled_out_wald`, ... with `_se`), and the warnings the
/// diagnostics raise.
fn with_iv_checks(mut estimate: Estimate, parts: &IvParts<'_>) -> Estimate {
    let averages = match robust_averages(parts) {
        Ok(averages) => averages,
        Err(e) => {
            estimate.warnings.push(e.to_string());
            return estimate;
        }
    };
    let mut finite = |name: &str, value: f64| {
        if value.is_finite() {
            estimate.diagnostics.insert(name.to_string(), value);
        }
    };
    for a in &averages {
        finite(a.key, a.estimate);
        finite(&format!("{}_se", a.key), a.se);
    }
    let Some(grf) = averages.first().map(|a| (a.estimate, a.se)) else {
        return estimate;
    };
    let d = diagnose(parts, grf);
    finite("propensity_min", d.propensity_min);
    finite("propensity_max", d.propensity_max);
    finite("propensity_outside_band", d.outside_band);
    finite("compliance_negative", d.share_negative);
    finite("compliance_near_zero", d.share_near_zero);
    estimate.warnings = d.warnings();
    estimate
}

/// A forest estimator: one fit gives the average effect, per-unit effects on
/// the fitted units, and optionally effects at new points. Implementing it
/// makes the forest an [`Estimator`].
trait ForestEstimator: Send + Sync {
    /// What the average effect estimates.
    const ESTIMAND: Estimand;
    /// Fits on `data`, predicting at `x_new` when given.
    fn run(
        &self,
        data: &Dataset,
        seed: u64,
        x_new: Option<ArrayView2<f64>>,
    ) -> Result<(Estimate, Option<UnitEffects>)>;
}

/// A grf fit's estimate with the fitted forest's effects at `x_new`, if given.
fn predicting(
    name: &str,
    (estimate, fitted): (Estimate, FittedForest),
    x_new: Option<ArrayView2<f64>>,
) -> Result<(Estimate, Option<UnitEffects>)> {
    let new = match x_new {
        Some(x) => Some(unit_effects(name, &fitted.predict(x)?, Vec::new())?),
        None => None,
    };
    Ok((estimate, new))
}

impl<T: ForestEstimator> Estimator for T {
    fn estimand(&self) -> Estimand {
        T::ESTIMAND
    }

    fn fit(&self, data: &Dataset, seed: u64) -> Result<Estimate> {
        self.run(data, seed, None).map(|(e, _)| e)
    }

    fn fit_predict(
        &self,
        data: &Dataset,
        seed: u64,
        x_new: ArrayView2<f64>,
    ) -> Result<(Estimate, Option<UnitEffects>)> {
        self.run(data, seed, Some(x_new))
    }
}

impl ForestEstimator for CausalForest {
    const ESTIMAND: Estimand = Estimand::Ate;

    fn run(
        &self,
        data: &Dataset,
        seed: u64,
        x_new: Option<ArrayView2<f64>>,
    ) -> Result<(Estimate, Option<UnitEffects>)> {
        predicting("causal_forest", self.fit_forest(data, seed)?, x_new)
    }
}

impl CausalForest {
    /// Fits like [`Estimator::fit`] and keeps the fitted forest, for
    /// predictions at new points (the placement policies predict with it at
    /// the busyness each placement would create).
    pub fn fit_forest(&self, data: &Dataset, seed: u64) -> Result<(Estimate, FittedForest)> {
        fit_grf("causal_forest", &self.0, data, false, seed)
    }
}

impl ForestEstimator for InstrumentalForest {
    const ESTIMAND: Estimand = Estimand::Late;

    fn run(
        &self,
        data: &Dataset,
        seed: u64,
        x_new: Option<ArrayView2<f64>>,
    ) -> Result<(Estimate, Option<UnitEffects>)> {
        predicting("instrumental_forest", self.fit_forest(data, seed)?, x_new)
    }
}

impl InstrumentalForest {
    /// Fits like [`Estimator::fit`] and keeps the fitted forest, for
    /// predictions at new points (the placement policies predict with it at
    /// the busyness each placement would create).
    pub fn fit_forest(&self, data: &Dataset, seed: u64) -> Result<(Estimate, FittedForest)> {
        fit_grf("instrumental_forest", &self.0, data, true, seed)
    }
}
