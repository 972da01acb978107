//! Propensity scores by ridge-penalized logistic regression of the treatment
//! on the covariates, fitted by Newton's method with a backtracking line
//! search.

use ndarray::{Array1, Array2, ArrayView1, ArrayView2};

use crate::core::stats::logistic;
use crate::estimate::linalg::{Cholesky, Spread};
use crate::{Error, Result};

/// Newton iterations before the fit is declared not to converge.
const MAX_ITERATIONS: usize = 100;

/// Converged when half the Newton decrement `gᵀH⁻¹g` (the predicted gain
/// in the penalized log-likelihood) falls below this.
const DECREMENT_TOL: f64 = 1e-10;

/// A line search that stalls with half the Newton decrement below this is
/// at the optimum up to rounding.
const STALL_TOL: f64 = 1e-6;

/// An unpenalized fit with a logit beyond this (a probability within 1e-13
/// of 0 or 1) has separated the arms rather than converged.
const SEPARATED_LOGIT: f64 = 30.0;

/// A fitted propensity model: the logit of each unit's score.
#[derive(Debug, Clone)]
pub(crate) struct Propensity {
    /// Linear predictor `log(e / (1 − e))` per unit.
    pub(crate) logit: Vec<f64>,
    /// Covariates in the model (constant ones are left out).
    pub(crate) covariates: usize,
    /// Newton iterations used.
    pub(crate) iterations: usize,
}

/// Indices of the covariates that vary, with their spreads: constant
/// columns (judged relative to each column's magnitude, see [`Spread`])
/// carry no information about treatment.
pub(crate) fn varying_columns(x: ArrayView2<f64>) -> Vec<(usize, Spread)> {
    x.columns()
        .into_iter()
        .enumerate()
        .map(|(j, col)| (j, Spread::of(col)))
        .filter(|(_, spread)| !spread.is_constant())
        .collect()
}

/// Fits `P(W = 1 | X)` by logistic regression on an intercept and the
/// covariates, each standardized to mean 0 and standard deviation 1, with
/// the penalty `penalty / 2 · Σ βⱼ²` on the standardized slopes (never on the
/// intercept).
///
/// The penalty is a N(0, 1/penalty) prior on the change in log-odds per
/// standard deviation of each covariate. It is absolute, not per unit, so
/// against the log-likelihood's curvature (about n · e(1 − e) per slope) it
/// is negligible when n is large relative to the dimension, yet it keeps the
/// maximum finite and the Hessian positive definite when the covariates
/// separate the arms or outnumber the units, where the unpenalized
/// maximum-likelihood estimate does not exist.
///
/// # Errors
/// [`Error::Estimate`] when more covariates vary than there are units, and
/// when Newton's method does not converge in
/// [`MAX_ITERATIONS`] steps, which happens only with `penalty = 0` when the
/// covariates separate the arms.
pub(crate) fn fit(
    estimator: &str,
    x: ArrayView2<f64>,
    w: ArrayView1<f64>,
    penalty: f64,
) -> Result<Propensity> {
    let n = x.nrows();
    let columns = varying_columns(x);
    if columns.len() > n {
        return Err(too_many_covariates(estimator, columns.len(), n));
    }
    let k = columns.len() + 1;
    let (z, names) = standardized_design(x, &columns);
    let share = w.sum() / n as f64;
    let mut beta = Array1::<f64>::zeros(k);
    beta[0] = (share / (1.0 - share)).ln();
    let objective = |beta: &Array1<f64>, eta: &Array1<f64>| {
        let nll: f64 = eta
            .iter()
            .zip(w.iter())
            .map(|(&e, &wi)| softplus(e) - wi * e)
            .sum();
        let ridge: f64 = beta.iter().skip(1).map(|b| b * b).sum();
        nll + 0.5 * penalty * ridge
    };
    let mut eta = z.dot(&beta);
    let mut value = objective(&beta, &eta);
    for iteration in 1..=MAX_ITERATIONS {
        let Some((step, decrement)) = newton_step(&z, w, &eta, &beta, penalty, &names) else {
            break;
        };
        if !decrement.is_finite() {
            break;
        }
        let converged = Propensity {
            logit: eta.to_vec(),
            covariates: columns.len(),
            iterations: iteration,
        };
        if decrement / 2.0 < DECREMENT_TOL {
            // Unpenalized, the likelihood flattens as a separating fit runs
            // off to infinity: probabilities of 0 or 1 mean no maximum.
            if penalty == 0.0 && eta.iter().any(|e| e.abs() > SEPARATED_LOGIT) {
                break;
            }
            return Ok(converged);
        }
        // Backtracking (Armijo) on the convex penalized negative log-likelihood.
        let mut t = 1.0;
        loop {
            let candidate = &beta - &(&step * t);
            let candidate_eta = z.dot(&candidate);
            let candidate_value = objective(&candidate, &candidate_eta);
            if candidate_value <= value - 1e-4 * t * decrement {
                beta = candidate;
                eta = candidate_eta;
                value = candidate_value;
                break;
            }
            t /= 2.0;
            if t < 1e-12 {
                // No progress is possible in floating point: accept a fit
                // that is already near its optimum, else give up.
                if decrement / 2.0 < STALL_TOL {
                    return Ok(converged);
                }
                return Err(not_converged(estimator));
            }
        }
    }
    Err(not_converged(estimator))
}

/// The design for the propensity model: an intercept, then each varying
/// column `(j, spread)` of `x` standardized; with the columns' names.
fn standardized_design(
    x: ArrayView2<f64>,
    columns: &[(usize, Spread)],
) -> (Array2<f64>, Vec<String>) {
    let k = columns.len() + 1;
    let mut z = Array2::<f64>::ones((x.nrows(), k));
    let mut names = vec!["intercept".to_string()];
    for (c, (j, spread)) in columns.iter().enumerate() {
        let j = *j;
        z.column_mut(c + 1)
            .assign(&x.column(j).mapv(|v| spread.standardize(v)));
        names.push(format!("covariate {}", j + 1));
    }
    (z, names)
}

/// The Newton step of the penalized negative log-likelihood at `beta`
/// (linear predictor `eta`) and its Newton decrement; `None` when the
/// Hessian cannot be factored.
fn newton_step(
    z: &Array2<f64>,
    w: ArrayView1<f64>,
    eta: &Array1<f64>,
    beta: &Array1<f64>,
    penalty: f64,
    names: &[String],
) -> Option<(Array1<f64>, f64)> {
    let k = z.ncols();
    let p = eta.mapv(logistic);
    let mut gradient = z.t().dot(&(&p - &w));
    let mut weighted = z.clone();
    for (mut row, &pi) in weighted.rows_mut().into_iter().zip(p.iter()) {
        row *= (pi * (1.0 - pi)).sqrt();
    }
    let mut hessian = weighted.t().dot(&weighted);
    for c in 1..k {
        gradient[c] += penalty * beta[c];
        hessian[(c, c)] += penalty;
    }
    // With a positive penalty the Hessian is positive definite; without
    // one it degenerates only as the fit runs off to infinity.
    let chol = Cholesky::factor(hessian.view(), names).ok()?;
    let step = chol.solve(gradient.view());
    let decrement = gradient.dot(&step);
    Some((step, decrement))
}

/// The error for a propensity fit whose maximum does not exist or was not
/// reached.
fn not_converged(estimator: &str) -> Error {
    Error::Estimate(format!(
        "{estimator}: the propensity model did not converge in {MAX_ITERATIONS} Newton steps \
         (the covariates separate treated from control units, so the unpenalized maximum \
         does not exist); set `penalty` above 0"
    ))
}

/// The error for more covariates than units, raised before any Newton step:
/// such a score fits the treatment exactly and each step costs `p³`.
fn too_many_covariates(estimator: &str, p: usize, n: usize) -> Error {
    Error::Estimate(format!(
        "{estimator}: {p} covariates that vary for n = {n} units: a propensity model with more \
         covariates than units predicts every unit's treatment (the score separates the arms, \
         so no unit finds a match within the caliper) and each of its Newton steps costs p³; \
         use fewer covariates (causim fit --x a,b,c), more units, or an estimator made for \
         many covariates: dml with learner = \"lasso\""
    ))
}

/// `log(1 + eᵛ)` without overflow.
fn softplus(v: f64) -> f64 {
    v.max(0.0) + (-v.abs()).exp().ln_1p()
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::Array1;
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;
    use rand_distr::{Distribution, Normal};

    #[test]
    fn recovers_logistic_coefficients_and_survives_separation() {
        let mut rng = ChaCha8Rng::seed_from_u64(3);
        let normal = Normal::new(0.0, 1.0).expect("valid");
        let n = 20_000;
        let x = Array2::from_shape_fn((n, 2), |_| normal.sample(&mut rng));
        let eta_true = x.column(0).mapv(|v| 0.3 + 1.2 * v) - x.column(1).mapv(|v| 0.7 * v);
        let w: Array1<f64> = eta_true.mapv(|e| {
            let u: f64 = rand::Rng::random(&mut rng);
            f64::from(u < logistic(e))
        });
        let fit = fit("test", x.view(), w.view(), 1.0).expect("fits");
        let rms = (fit
            .logit
            .iter()
            .zip(eta_true.iter())
            .map(|(a, b)| (a - b).powi(2))
            .sum::<f64>()
            / n as f64)
            .sqrt();
        assert!(rms < 0.05, "RMS logit error {rms}");
        assert_eq!(fit.covariates, 2);

        // Perfect separation: the penalty keeps the fit finite, none does not.
        let w_sep = x.column(0).mapv(|v| f64::from(v > 0.0));
        let sep = fit_sep(&x, &w_sep, 1.0).expect("penalized fit exists");
        assert!(sep.logit.iter().all(|v| v.is_finite()));
        let msg = fit_sep(&x, &w_sep, 0.0)
            .map(|p| p.iterations)
            .expect_err("no MLE")
            .to_string();
        assert!(msg.contains("did not converge"), "{msg}");
    }

    fn fit_sep(x: &Array2<f64>, w: &Array1<f64>, penalty: f64) -> Result<Propensity> {
        fit("test", x.view(), w.view(), penalty)
    }

    #[test]
    fn constant_covariates_are_left_out() {
        let x = ndarray::array![[1.0, 5.0], [2.0, 5.0], [3.0, 5.0], [4.0, 5.0], [0.5, 5.0]];
        let w = ndarray::array![0.0, 1.0, 0.0, 1.0, 1.0];
        let with = fit("test", x.view(), w.view(), 1.0).expect("fits");
        let without = fit("test", x.slice(ndarray::s![.., ..1]), w.view(), 1.0).expect("fits");
        assert_eq!(with.covariates, 1);
        for (a, b) in with.logit.iter().zip(&without.logit) {
            assert!((a - b).abs() < 1e-12);
        }
    }

    #[test]
    fn more_covariates_than_units_fail_before_fitting() {
        let x = Array2::from_shape_fn((6, 7), |(i, j)| ((i * 7 + j) as f64).sin());
        let w = ndarray::array![0.0, 1.0, 0.0, 1.0, 1.0, 0.0];
        let msg = fit("psm", x.view(), w.view(), 1.0)
            .map(|p| p.covariates)
            .expect_err("p > n")
            .to_string();
        assert!(
            msg.contains("psm: 7 covariates that vary for n = 6 units"),
            "{msg}"
        );
        assert!(msg.contains("learner = \"lasso\""), "{msg}");
    }

    #[test]
    fn tiny_and_huge_covariates_are_kept_and_fit_as_if_rescaled() {
        let x = ndarray::array![[1.0], [2.0], [3.0], [4.0], [0.5], [2.5]];
        let w = ndarray::array![0.0, 1.0, 0.0, 1.0, 1.0, 0.0];
        let plain = fit("test", x.view(), w.view(), 1.0).expect("fits");
        for scale in [5e-320 / 4.0, 1e300] {
            let scaled = x.mapv(|v| v * scale);
            let got = fit("test", scaled.view(), w.view(), 1.0).expect("fits");
            assert_eq!(got.covariates, 1, "scale {scale}");
            for (a, b) in got.logit.iter().zip(&plain.logit) {
                assert!((a - b).abs() < 1e-2, "scale {scale}: {a} vs {b}");
            }
        }
    }
}
