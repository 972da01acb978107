//! The registry of estimators: `kind = "..."` in `[[estimators]]` picks a variant,
//! whose payload is the estimator itself (its parameters are its config).

use serde::{Deserialize, Serialize};

use crate::estimate::linear::{DifferenceInMeans, Ols, TwoStageLeastSquares};
use crate::estimate::Estimator;

/// An estimator's spec, tagged by `kind`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum EstimatorSpec {
    /// Difference in mean outcomes between treated and untreated (the naive estimator).
    DifferenceInMeans(DifferenceInMeans),
    /// Least squares of Y on W and the covariates, robust SE.
    Ols(Ols),
    /// Two-stage least squares with the instrument, robust SE (Wald without covariates).
    TwoStageLeastSquares(TwoStageLeastSquares),
}

impl EstimatorSpec {
    /// The estimator as a trait object the runner can call.
    pub fn estimator(&self) -> &dyn Estimator {
        match self {
            EstimatorSpec::DifferenceInMeans(e) => e,
            EstimatorSpec::Ols(e) => e,
            EstimatorSpec::TwoStageLeastSquares(e) => e,
        }
    }

    /// One default-parameter spec of every estimator, for `causim list`.
    pub fn all_defaults() -> Vec<EstimatorSpec> {
        vec![
            EstimatorSpec::DifferenceInMeans(DifferenceInMeans::default()),
            EstimatorSpec::Ols(Ols::default()),
            EstimatorSpec::TwoStageLeastSquares(TwoStageLeastSquares::default()),
        ]
    }

    /// A one-line description and a description of each parameter, for `causim list`.
    pub fn docs(&self) -> (&'static str, &'static [(&'static str, &'static str)]) {
        const LINEAR: &[(&str, &str)] = &[
            ("se", "standard errors: classical, hc0, hc1, hc2 or hc3"),
            (
                "covariates",
                "adjust for the covariates (false: Y on W only; Wald for 2SLS)",
            ),
        ];
        match self {
            EstimatorSpec::DifferenceInMeans(_) => (
                "mean outcome of the treated minus the untreated; Neyman SE (the naive comparison)",
                &[],
            ),
            EstimatorSpec::Ols(_) => ("least squares of Y on W and covariates, robust SE", LINEAR),
            EstimatorSpec::TwoStageLeastSquares(_) => (
                "two-stage least squares, W instrumented by Z, covariates as controls; reports first-stage F and partial R2",
                LINEAR,
            ),
        }
    }

    /// The `kind` string of this estimator.
    pub fn kind(&self) -> &'static str {
        match self {
            EstimatorSpec::DifferenceInMeans(_) => "difference_in_means",
            EstimatorSpec::Ols(_) => "ols",
            EstimatorSpec::TwoStageLeastSquares(_) => "two_stage_least_squares",
        }
    }
}

/// An estimator with the label it carries in records and reports.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NamedEstimator {
    /// Unique label within the experiment (defaults to the kind).
    pub name: String,
    /// The estimator's spec.
    pub spec: EstimatorSpec,
}
