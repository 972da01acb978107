//! Lasso nuisance learners for double machine learning: cyclic coordinate
//! descent on standardized covariates with warm starts, for least squares
//! and (by iteratively reweighted least squares) logistic regression, with
//! the penalty chosen by the plug-in rule of Belloni, Chernozhukov and
//! Hansen (2012, 2014): no inner cross-validation, so every nuisance fit is
//! one short path.

use ndarray::ArrayView2;

use crate::core::stats::{logistic, normal_quantile};
use crate::{Error, Result};

/// Sweeps of coordinate descent allowed per penalty level before giving up on
/// the tolerance (the last iterate is kept: it is still a valid fit).
const MAX_SWEEPS: usize = 2000;

/// A sweep that moves no standardized coefficient by more than this has converged.
const TOLERANCE: f64 = 1e-7;

/// The plug-in rule's constant `c` (BCH's 1.1).
const PLUG_IN_C: f64 = 1.1;

/// Iterations of the plug-in rule's penalty loadings (hdm's `numIter`).
const LOADING_ITERATIONS: usize = 15;

/// Logistic IRLS weights are floored here, so that fitted probabilities of
/// 0 or 1 (separation) do not stall the inner least-squares problems.
const MIN_WEIGHT: f64 = 1e-5;

/// Covariates standardized to mean 0 and variance 1, stored column by column
/// (coordinate descent reads one column at a time). Constant columns keep
/// scale 0 and never enter a model.
#[derive(Debug, Clone)]
pub struct Design {
    n: usize,
    columns: Vec<Vec<f64>>,
    mean: Vec<f64>,
    scale: Vec<f64>,
}

impl Design {
    /// Standardizes the columns of `x`; fails on an empty sample or non-finite values.
    pub fn new(x: ArrayView2<f64>) -> Result<Design> {
        let n = x.nrows();
        if n < 2 {
            return Err(Error::Estimate(format!(
                "a lasso needs at least 2 units; found {n}"
            )));
        }
        let mut columns = Vec::with_capacity(x.ncols());
        let (mut mean, mut scale) = (Vec::new(), Vec::new());
        for (j, column) in x.columns().into_iter().enumerate() {
            if column.iter().any(|v| !v.is_finite()) {
                return Err(Error::Data(format!(
                    "covariate {} has a non-finite value",
                    j + 1
                )));
            }
            let m = column.sum() / n as f64;
            let sd = (column.iter().map(|v| (v - m).powi(2)).sum::<f64>() / n as f64).sqrt();
            let s = if sd > 1e-12 * (1.0 + m.abs()) {
                sd
            } else {
                0.0
            };
            let inv = if s > 0.0 { 1.0 / s } else { 0.0 };
            columns.push(column.iter().map(|v| (v - m) * inv).collect());
            mean.push(m);
            scale.push(s);
        }
        Ok(Design {
            n,
            columns,
            mean,
            scale,
        })
    }

    fn p(&self) -> usize {
        self.columns.len()
    }
}

/// A fitted linear index `intercept + x · coef` on the original covariate scale.
#[derive(Debug, Clone, PartialEq)]
pub struct LinearIndex {
    /// Intercept.
    pub intercept: f64,
    /// One coefficient per covariate (zero where the lasso left it out).
    pub coef: Vec<f64>,
}

impl LinearIndex {
    /// The index at each row of `x`.
    pub fn predict(&self, x: ArrayView2<f64>) -> Vec<f64> {
        x.rows()
            .into_iter()
            .map(|row| self.intercept + row.iter().zip(&self.coef).map(|(a, b)| a * b).sum::<f64>())
            .collect()
    }

    /// Number of nonzero coefficients.
    pub fn selected(&self) -> usize {
        self.coef.iter().filter(|c| **c != 0.0).count()
    }
}

/// Coefficients on the standardized scale during a fit.
#[derive(Debug, Clone)]
struct State {
    intercept: f64,
    beta: Vec<f64>,
}

impl State {
    fn new(p: usize) -> State {
        State {
            intercept: 0.0,
            beta: vec![0.0; p],
        }
    }

    fn index(&self, design: &Design) -> Vec<f64> {
        let mut eta = vec![self.intercept; design.n];
        for (column, b) in design.columns.iter().zip(&self.beta) {
            if *b != 0.0 {
                for (e, x) in eta.iter_mut().zip(column) {
                    *e += b * x;
                }
            }
        }
        eta
    }

    fn original(&self, design: &Design) -> LinearIndex {
        let mut intercept = self.intercept;
        let coef = (0..design.p())
            .map(|j| {
                if design.scale[j] > 0.0 && self.beta[j] != 0.0 {
                    let c = self.beta[j] / design.scale[j];
                    intercept -= c * design.mean[j];
                    c
                } else {
                    0.0
                }
            })
            .collect();
        LinearIndex { intercept, coef }
    }
}

/// Minimizes `(1/2n) Σ w_i (y_i − b0 − x_i·b)² + Σ_j penalty_j |b_j|` over the
/// standardized design by cyclic coordinate descent, starting from `state`
/// (a warm start) and leaving the solution there. `weights` of `None` are all
/// one; an infinite penalty keeps a coefficient at zero, a zero penalty
/// leaves it unpenalized.
fn descend(
    design: &Design,
    y: &[f64],
    weights: Option<&[f64]>,
    penalty: &[f64],
    state: &mut State,
) {
    let n = design.n as f64;
    let weight = |i: usize| weights.map_or(1.0, |w| w[i]);
    let mut residual: Vec<f64> = y
        .iter()
        .zip(state.index(design))
        .map(|(y, e)| y - e)
        .collect();
    let total_weight: f64 = (0..design.n).map(weight).sum();
    let curvature: Vec<f64> = design
        .columns
        .iter()
        .map(|c| {
            c.iter()
                .enumerate()
                .map(|(i, x)| weight(i) * x * x)
                .sum::<f64>()
                / n
        })
        .collect();
    for _ in 0..MAX_SWEEPS {
        let shift = (0..design.n).map(|i| weight(i) * residual[i]).sum::<f64>() / total_weight;
        state.intercept += shift;
        residual.iter_mut().for_each(|r| *r -= shift);
        let mut largest = shift.abs();
        for (j, column) in design.columns.iter().enumerate() {
            if design.scale[j] == 0.0 || curvature[j] <= 0.0 || penalty[j].is_infinite() {
                continue;
            }
            let old = state.beta[j];
            let gradient = column
                .iter()
                .zip(&residual)
                .enumerate()
                .map(|(i, (x, r))| weight(i) * x * r)
                .sum::<f64>()
                / n;
            let z = gradient + curvature[j] * old;
            let new = soft_threshold(z, penalty[j]) / curvature[j];
            if new != old {
                let delta = new - old;
                for (r, x) in residual.iter_mut().zip(column) {
                    *r -= delta * x;
                }
                state.beta[j] = new;
                largest = largest.max(delta.abs() * curvature[j].sqrt());
            }
        }
        if largest < TOLERANCE {
            break;
        }
    }
}

fn soft_threshold(z: f64, t: f64) -> f64 {
    if z > t {
        z - t
    } else if z < -t {
        z + t
    } else {
        0.0
    }
}

/// Which loss the lasso minimizes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Family {
    /// Least squares, for conditional means.
    Gaussian,
    /// Logistic log-likelihood, for probabilities of a 0/1 outcome.
    Binomial,
}

/// Fits `family` with per-coordinate penalties from a warm start: one
/// coordinate descent for least squares, reweighted ones (IRLS) for the
/// logistic loss `-(1/n) log-likelihood + Σ_j penalty_j |b_j|`.
fn solve(design: &Design, y: &[f64], family: Family, penalty: &[f64], state: &mut State) {
    match family {
        Family::Gaussian => descend(design, y, None, penalty, state),
        Family::Binomial => {
            for _ in 0..50 {
                let eta = state.index(design);
                let mut weights = Vec::with_capacity(design.n);
                let mut working = Vec::with_capacity(design.n);
                for (e, yi) in eta.iter().zip(y) {
                    let prob = logistic(*e);
                    let w = (prob * (1.0 - prob)).max(MIN_WEIGHT);
                    weights.push(w);
                    working.push(e + (yi - prob) / w);
                }
                let before = state.clone();
                descend(design, &working, Some(&weights), penalty, state);
                let moved = (state.intercept - before.intercept).abs().max(
                    state
                        .beta
                        .iter()
                        .zip(&before.beta)
                        .map(|(a, b)| (a - b).abs())
                        .fold(0.0, f64::max),
                );
                if moved < 1e-6 {
                    break;
                }
            }
        }
    }
}

/// The responses' fitted values under `family` (means or probabilities).
fn fitted(design: &Design, family: Family, state: &State) -> Vec<f64> {
    let eta = state.index(design);
    match family {
        Family::Gaussian => eta,
        Family::Binomial => eta.into_iter().map(logistic).collect(),
    }
}

/// Checks the response: finite, and 0/1 for the logistic loss.
fn check_response(design: &Design, y: &[f64], family: Family) -> Result<()> {
    if y.len() != design.n {
        return Err(Error::Data(format!(
            "{} responses for {} covariate rows",
            y.len(),
            design.n
        )));
    }
    if y.iter().any(|v| !v.is_finite()) {
        return Err(Error::Data(
            "the lasso's response has a non-finite value".into(),
        ));
    }
    if family == Family::Binomial && y.iter().any(|v| *v != 0.0 && *v != 1.0) {
        return Err(Error::Data("a logistic lasso needs a 0/1 response".into()));
    }
    Ok(())
}

/// The lasso at one penalty `lambda` with unit loadings on the standardized
/// covariates, reached along a geometric path from the smallest penalty that
/// keeps every coefficient at zero (each step warm-started from the last).
/// With `lambda = 0` and a full-rank design it is least squares (or the
/// logistic maximum likelihood).
pub fn lasso(x: ArrayView2<f64>, y: &[f64], family: Family, lambda: f64) -> Result<LinearIndex> {
    if !(lambda >= 0.0 && lambda.is_finite()) {
        return Err(Error::Estimate(format!(
            "the lasso penalty is {lambda}; it must be finite and >= 0"
        )));
    }
    let design = Design::new(x)?;
    check_response(&design, y, family)?;
    let loadings = vec![1.0; design.p()];
    let mut state = State::new(design.p());
    path(&design, y, family, lambda, &loadings, &mut state);
    Ok(state.original(&design))
}

/// Solves at `lambda × loadings` through ten geometric steps down from the
/// penalty at which every coefficient is zero, warm-starting each step.
fn path(
    design: &Design,
    y: &[f64],
    family: Family,
    lambda: f64,
    loadings: &[f64],
    state: &mut State,
) {
    let n = design.n as f64;
    let center = y.iter().sum::<f64>() / n;
    let start = design
        .columns
        .iter()
        .zip(loadings)
        .filter(|(_, l)| **l > 0.0)
        .map(|(c, l)| (c.iter().zip(y).map(|(x, y)| x * (y - center)).sum::<f64>() / n).abs() / l)
        .fold(0.0, f64::max);
    const STEPS: i32 = 10;
    if start > lambda && lambda > 0.0 {
        let ratio = (lambda / start).powf(1.0 / f64::from(STEPS));
        for k in 1..STEPS {
            let level = start * ratio.powi(k);
            let penalty: Vec<f64> = loadings.iter().map(|l| level * l).collect();
            solve(design, y, family, &penalty, state);
        }
    }
    let penalty: Vec<f64> = loadings.iter().map(|l| lambda * l).collect();
    solve(design, y, family, &penalty, state);
}

/// The plug-in penalty level of Belloni, Chernozhukov and Hansen on the
/// `(1/2n) RSS` scale: `c Φ⁻¹(1 − γ / 2p) / √n` with `c = 1.1` and
/// `γ = 0.1 / ln n`, to be multiplied by each covariate's loading.
pub fn plug_in_lambda(n: usize, p: usize) -> f64 {
    let n = n.max(3) as f64;
    let gamma = 0.1 / n.ln();
    PLUG_IN_C * normal_quantile(1.0 - gamma / (2.0 * p.max(1) as f64)) / n.sqrt()
}

/// Heteroskedasticity-robust penalty loadings `sqrt(mean(x_ij² e_i²))` from residuals `e`.
fn loadings(design: &Design, residual: &[f64]) -> Vec<f64> {
    let n = design.n as f64;
    design
        .columns
        .iter()
        .map(|c| {
            (c.iter()
                .zip(residual)
                .map(|(x, e)| x * x * e * e)
                .sum::<f64>()
                / n)
                .sqrt()
        })
        .collect()
}

/// The lasso with the plug-in penalty and heteroskedasticity-robust loadings
/// (BCH 2012; Belloni, Chernozhukov and Wei 2016 for the logistic loss):
/// the loadings start from the centered response, and are recomputed from
/// the fit's residuals `y − fitted` up to 15 times, warm-starting each fit.
/// For least squares the final model is the post-lasso: least squares on the
/// selected covariates (BCH's recommendation, which removes the lasso's
/// shrinkage bias); the logistic model stays penalized, so that separation
/// on a few covariates cannot drive probabilities to 0 or 1.
pub fn plug_in(x: ArrayView2<f64>, y: &[f64], family: Family) -> Result<LinearIndex> {
    let design = Design::new(x)?;
    check_response(&design, y, family)?;
    let lambda = plug_in_lambda(design.n, design.p());
    let mean = y.iter().sum::<f64>() / y.len() as f64;
    let centered: Vec<f64> = y.iter().map(|v| v - mean).collect();
    let mut psi = loadings(&design, &centered);
    let mut state = State::new(design.p());
    path(&design, y, family, lambda, &psi, &mut state);
    let mut refit = state.clone();
    for _ in 0..LOADING_ITERATIONS {
        refit = match family {
            Family::Gaussian => post_lasso(&design, y, &state),
            Family::Binomial => state.clone(),
        };
        let residual: Vec<f64> = y
            .iter()
            .zip(fitted(&design, family, &refit))
            .map(|(y, f)| y - f)
            .collect();
        let next = loadings(&design, &residual);
        let change = next
            .iter()
            .zip(&psi)
            .map(|(a, b)| (a - b).abs())
            .fold(0.0, f64::max);
        let largest = next.iter().copied().fold(0.0, f64::max);
        psi = next;
        if change <= 1e-5 * largest.max(f64::MIN_POSITIVE) {
            break;
        }
        let penalty: Vec<f64> = psi.iter().map(|l| lambda * l).collect();
        solve(&design, y, family, &penalty, &mut state);
    }
    Ok(refit.original(&design))
}

/// Least squares on the covariates the lasso selected (the others held at
/// zero by an infinite penalty), warm-started at the lasso's coefficients.
fn post_lasso(design: &Design, y: &[f64], lasso: &State) -> State {
    let penalty: Vec<f64> = lasso
        .beta
        .iter()
        .map(|b| if *b != 0.0 { 0.0 } else { f64::INFINITY })
        .collect();
    let mut state = lasso.clone();
    descend(design, y, None, &penalty, &mut state);
    state
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::Array2;
    use rand::{Rng, SeedableRng};
    use rand_chacha::ChaCha8Rng;
    use rand_distr::StandardNormal;

    fn draw(n: usize, p: usize, seed: u64) -> (Array2<f64>, ChaCha8Rng) {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let x = Array2::from_shape_fn((n, p), |_| rng.sample::<f64, _>(StandardNormal));
        (x, rng)
    }

    #[test]
    fn zero_penalty_is_least_squares() {
        let (x, mut rng) = draw(200, 4, 1);
        let y: Vec<f64> = x
            .rows()
            .into_iter()
            .map(|r| 1.0 + 2.0 * r[0] - r[1] + 0.5 * r[3] + rng.sample::<f64, _>(StandardNormal))
            .collect();
        let fit = lasso(x.view(), &y, Family::Gaussian, 0.0).expect("fit");
        let mut design = Array2::ones((200, 5));
        design.slice_mut(ndarray::s![.., 1..]).assign(&x);
        let names: Vec<String> = (0..5).map(|j| format!("c{j}")).collect();
        let ols = crate::estimate::linalg::LeastSquares::fit(
            design.view(),
            ndarray::ArrayView1::from(&y),
            &names,
        )
        .expect("ols");
        assert!((fit.intercept - ols.beta[0]).abs() < 1e-6);
        for j in 0..4 {
            assert!(
                (fit.coef[j] - ols.beta[j + 1]).abs() < 1e-6,
                "coefficient {j}"
            );
        }
    }

    #[test]
    fn plug_in_recovers_a_sparse_truth_among_many_noise_covariates() {
        let (x, mut rng) = draw(500, 100, 2);
        let y: Vec<f64> = x
            .rows()
            .into_iter()
            .map(|r| 3.0 * r[0] - 2.0 * r[5] + 1.5 * r[9] + rng.sample::<f64, _>(StandardNormal))
            .collect();
        let fit = plug_in(x.view(), &y, Family::Gaussian).expect("fit");
        for (j, truth) in [(0, 3.0), (5, -2.0), (9, 1.5)] {
            assert!(
                (fit.coef[j] - truth).abs() < 0.15,
                "coefficient {j}: {}",
                fit.coef[j]
            );
        }
        assert!(fit.selected() <= 6, "{} selected", fit.selected());
        // A penalty this large keeps every coefficient at zero.
        let empty = lasso(x.view(), &y, Family::Gaussian, 10.0).expect("fit");
        assert_eq!(empty.selected(), 0);
    }

    #[test]
    fn logistic_plug_in_finds_the_signal_and_predicts_probabilities() {
        let (x, mut rng) = draw(2000, 50, 3);
        let truth = |r: ndarray::ArrayView1<f64>| logistic(0.5 + 1.5 * r[0] - r[2]);
        let y: Vec<f64> = x
            .rows()
            .into_iter()
            .map(|r| f64::from(rng.random::<f64>() < truth(r)))
            .collect();
        let fit = plug_in(x.view(), &y, Family::Binomial).expect("fit");
        assert!(
            fit.coef[0] > 0.8 && fit.coef[2] < -0.5,
            "{:?}",
            &fit.coef[..3]
        );
        assert!(fit.selected() <= 8, "{} selected", fit.selected());
        let error = fit
            .predict(x.view())
            .iter()
            .zip(x.rows())
            .map(|(eta, r)| (logistic(*eta) - truth(r)).abs())
            .sum::<f64>()
            / 2000.0;
        // The shrunken fit errs by a fraction of what the constant share does.
        let share = y.iter().sum::<f64>() / 2000.0;
        let constant = x
            .rows()
            .into_iter()
            .map(|r| (share - truth(r)).abs())
            .sum::<f64>()
            / 2000.0;
        assert!(
            error < 0.06 && error < constant / 3.0,
            "mean absolute probability error {error} (constant {constant})"
        );
        assert!(plug_in(x.view(), &vec![0.5; 2000], Family::Binomial).is_err());
    }

    #[test]
    fn the_plug_in_penalty_and_the_normal_quantile_match_known_values() {
        assert!((normal_quantile(0.975) - 1.959_963_985).abs() < 1e-8);
        assert!((normal_quantile(0.001) + 3.090_232_306).abs() < 1e-8);
        assert!((normal_quantile(0.5)).abs() < 1e-12);
        let n = 1000.0_f64;
        let expected = 1.1 * normal_quantile(1.0 - 0.1 / n.ln() / 200.0) / n.sqrt();
        assert!((plug_in_lambda(1000, 100) - expected).abs() < 1e-15);
    }
}
