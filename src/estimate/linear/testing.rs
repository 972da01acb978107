//! Helpers shared by the linear estimators' tests: datasets, simulated
//! experiments and confounded worlds, and tolerant comparisons.

use ndarray::{Array1, Array2};
use rand::{Rng, SeedableRng};
use rand_distr::{Distribution, Normal};

use super::{Ols, SeKind, TwoStageLeastSquares};
use crate::data::Dataset;
use crate::estimate::Estimator;

/// A dataset with covariates named x1, x2, ...
pub(super) fn dataset(
    y: Array1<f64>,
    w: Array1<f64>,
    z: Option<Array1<f64>>,
    x: Array2<f64>,
) -> Dataset {
    let names = (1..=x.ncols()).map(|j| format!("x{j}")).collect();
    Dataset::new(y, w, z, x, names).expect("consistent columns")
}

/// An n×0 covariate matrix.
pub(super) fn no_covariates(n: usize) -> Array2<f64> {
    Array2::zeros((n, 0))
}

/// OLS with the given standard errors and adjustment.
pub(super) fn ols(se: SeKind, covariates: bool) -> Ols {
    Ols { se, covariates }
}

/// 2SLS with the given standard errors and covariates.
pub(super) fn tsls(se: SeKind, covariates: bool) -> TwoStageLeastSquares {
    TwoStageLeastSquares { se, covariates }
}

/// Whether `a` is within `tol` of `b`, relative to 1 + |b|.
pub(super) fn close(a: f64, b: f64, tol: f64) -> bool {
    (a - b).abs() <= tol * (1.0 + b.abs())
}

/// The error message of a fit that must fail.
pub(super) fn err_of(estimator: &dyn Estimator, data: &Dataset) -> String {
    estimator.fit(data, 0).expect_err("should fail").to_string()
}

/// A randomized experiment with two covariates and a heterogeneous,
/// noisy outcome; `w` is binary.
pub(super) fn experiment(n: usize, seed: u64) -> Dataset {
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
    let normal = Normal::new(0.0, 1.0).expect("valid normal");
    let x = Array2::from_shape_fn((n, 2), |_| normal.sample(&mut rng));
    let w = Array1::from_shape_fn(n, |_| if rng.random::<f64>() < 0.4 { 1.0 } else { 0.0 });
    let y = Array1::from_shape_fn(n, |i| {
        1.0 + (2.0 + x[(i, 0)]) * w[i] + 0.5 * x[(i, 1)] + normal.sample(&mut rng) * (1.0 + w[i])
    });
    dataset(y, w, None, x)
}

/// A confounded world: `U` drives both `W` and `Y`; `Z` shifts `W` with
/// strength `pi`. The effect of `W` on `Y` is 1 for everyone.
pub(super) fn confounded(n: usize, pi: f64, seed: u64) -> Dataset {
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
    let normal = Normal::new(0.0, 1.0).expect("valid normal");
    let x = Array2::from_shape_fn((n, 1), |_| normal.sample(&mut rng));
    let z = Array1::from_shape_fn(n, |_| normal.sample(&mut rng));
    let u = Array1::from_shape_fn(n, |_| normal.sample(&mut rng));
    let w = Array1::from_shape_fn(n, |i| {
        pi * z[i] + u[i] + 0.3 * x[(i, 0)] + normal.sample(&mut rng)
    });
    let y = Array1::from_shape_fn(n, |i| {
        w[i] + 2.0 * u[i] + 0.5 * x[(i, 0)] + normal.sample(&mut rng)
    });
    dataset(y, w, Some(z), x)
}
