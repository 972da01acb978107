//! Regression forests of one target, as nuisance fits: the out-of-bag
//! centering regressions of causal and instrumental forests, and the
//! cross-fitted nuisance regressions of double/debiased machine learning.

use super::bags::average;
use super::ensemble::{Forest, LeafValues};
use super::params::ForestParams;
use super::rules::Regression;
use crate::data::binning::Binned;
use crate::data::Clusters;
use crate::{Error, Result};

/// A regression forest of one target on binned covariates, fitted by
/// [`fit_regression`]: it predicts the conditional mean at new points or,
/// out of bag, at its training rows.
#[derive(Debug, Clone)]
pub struct RegressionFit {
    forest: Forest,
}

/// Fits a regression forest of `target` (one value per row of `x`) on the
/// binned covariates `x`, sampling whole `clusters` when given; results
/// depend only on the data, `params`, the clusters and `seed`.
pub fn fit_regression(
    x: &Binned,
    target: &[f64],
    params: &ForestParams,
    clusters: Option<&Clusters>,
    seed: u64,
) -> Result<RegressionFit> {
    if target.len() != x.rows() {
        return Err(Error::Data(format!(
            "a regression forest got {} target values for {} covariate rows",
            target.len(),
            x.rows()
        )));
    }
    let forest = Forest::train(x, Regression { y: target }, params, clusters, seed)?;
    Ok(RegressionFit { forest })
}

impl RegressionFit {
    /// Predictions at the rows of `points` (binned like the training
    /// covariates); `fallback` where no tree has a filled leaf.
    pub fn predict(&self, points: &Binned, fallback: f64) -> Result<Vec<f64>> {
        self.check(points, false)?;
        Ok(self
            .forest
            .map_points(points, false, |v| mean_or(v, fallback)))
    }

    /// Out-of-bag predictions at the training rows `x` (each from the trees
    /// that did not draw it); `fallback` for a row every tree drew.
    pub fn predict_oob(&self, x: &Binned, fallback: f64) -> Result<Vec<f64>> {
        self.check(x, true)?;
        Ok(self.forest.map_points(x, true, |v| mean_or(v, fallback)))
    }

    /// Fails unless `points` has the training features (and, out of bag, the training rows).
    fn check(&self, points: &Binned, oob: bool) -> Result<()> {
        if points.features() != self.forest.features() {
            return Err(Error::Data(format!(
                "the points have {} features but the regression forest was grown on {}",
                points.features(),
                self.forest.features()
            )));
        }
        if oob && points.rows() != self.forest.rows() {
            return Err(Error::Data(format!(
                "out-of-bag predictions need the {} training rows; got {}",
                self.forest.rows(),
                points.rows()
            )));
        }
        Ok(())
    }
}

/// The mean of the trees' leaf means, or `fallback` without any.
fn mean_or(values: &LeafValues<'_>, fallback: f64) -> f64 {
    average(values, 1).map_or(fallback, |(a, _)| a[0])
}

/// Out-of-bag predictions of a regression forest of `target` on `x`, the
/// target's mean for a unit every tree drew. With `clusters`, a unit is out
/// of bag only in trees that drew none of its cluster, so its cluster-mates
/// cannot leak its value into its own prediction.
pub fn regression_oob(
    x: &Binned,
    target: &[f64],
    params: &ForestParams,
    clusters: Option<&Clusters>,
    seed: u64,
) -> Result<Vec<f64>> {
    let fit = fit_regression(x, target, params, clusters, seed)?;
    let mean = target.iter().sum::<f64>() / target.len() as f64;
    fit.predict_oob(x, mean)
}
