//! Linear estimators: the difference in means, OLS with robust standard
//! errors, and just-identified two-stage least squares. Each config struct
//! from the experiment spec is also the estimator.

use ndarray::{s, Array2, ArrayView1};
use serde::{Deserialize, Serialize};

use super::linalg::{sandwich, LeastSquares};
use super::{Estimate, Estimator};
use crate::core::Estimand;
use crate::data::Dataset;
use crate::{Error, Result};

/// A first stage whose partial R² for the instrument is at most this is
/// treated as exactly zero: 2SLS is then not identified.
const DEGENERATE_FIRST_STAGE: f64 = 1e-10;

/// Variation of W beyond the covariates below this share of `WᵀW` is
/// rounding noise: W is then an exact function of the covariates.
const EXACT_FIT_TOL: f64 = 1e-20;

/// Which standard errors to report.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum SeKind {
    /// Homoskedastic: `σ² (XᵀX)⁻¹` with `σ² = e'e / (n − k)`.
    Classical,
    /// White's heteroskedasticity-robust sandwich, without correction.
    Hc0,
    /// HC0 scaled by `n / (n − k)`; the usual default (Stata's `robust`).
    #[default]
    Hc1,
    /// Squared residuals divided by `1 − hᵢ`; unbiased under homoskedasticity.
    Hc2,
    /// Squared residuals divided by `(1 − hᵢ)²`; conservative in small samples.
    Hc3,
}

/// Difference in mean outcomes between treated and control units, with the
/// Neyman standard error `√(s₁²/n₁ + s₀²/n₀)`; targets the ATE under
/// randomization. Has no parameters; needs a 0/1 treatment with at least two
/// units per arm. Diagnostics: `n_treated`, `n_control`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DifferenceInMeans {}

/// Ordinary least squares of `Y` on `[1, W, X]`, reporting the coefficient of
/// `W` as the ATE (valid when treatment is unconfounded given `X` and effects
/// are homogeneous or the model is saturated). Diagnostics: `n`, `r2`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Ols {
    /// Standard errors to report (default HC1).
    pub se: SeKind,
    /// Whether to adjust for the covariates `X` (default true).
    pub covariates: bool,
}

impl Default for Ols {
    fn default() -> Self {
        Ols {
            se: SeKind::Hc1,
            covariates: true,
        }
    }
}

/// Two-stage least squares of `Y` on `[1, W, X]` with `[1, Z, X]` as
/// instruments (one instrument `Z`, just identified), reporting the
/// coefficient of `W` as the LATE. Without covariates it is the Wald
/// estimator `cov(Y, Z) / cov(W, Z)`.
///
/// Diagnostics: `first_stage_coef` (coefficient of `Z` in `W ~ 1 + Z + X`),
/// `first_stage_f` (homoskedastic F for excluding `Z`; infinite when `W` is
/// an exact function of `Z` and `X`), `first_stage_f_robust` (squared robust
/// t of `Z`, with the same `se` kind), `partial_r2` (share of `W`'s variation
/// net of `X` explained by `Z`) and `n`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TwoStageLeastSquares {
    /// Standard errors to report (default HC1); also used for the robust
    /// first-stage F.
    pub se: SeKind,
    /// Whether to include the covariates `X` in both stages (default true).
    pub covariates: bool,
}

impl Default for TwoStageLeastSquares {
    fn default() -> Self {
        TwoStageLeastSquares {
            se: SeKind::Hc1,
            covariates: true,
        }
    }
}

impl Estimator for DifferenceInMeans {
    fn estimand(&self) -> Estimand {
        Estimand::Ate
    }

    fn fit(&self, data: &Dataset, _seed: u64) -> Result<Estimate> {
        const NAME: &str = "difference_in_means";
        check_columns(NAME, data, false)?;
        if let Some(i) = data.w.iter().position(|&w| w != 0.0 && w != 1.0) {
            return Err(Error::Data(format!(
                "{NAME} needs a binary 0/1 treatment; found value {} at row {}",
                data.w[i],
                i + 1
            )));
        }
        let (mut n1, mut n0, mut sum1, mut sum0) = (0usize, 0usize, 0.0, 0.0);
        for (&y, &w) in data.y.iter().zip(data.w.iter()) {
            if w == 1.0 {
                n1 += 1;
                sum1 += y;
            } else {
                n0 += 1;
                sum0 += y;
            }
        }
        check_arm(NAME, "treated", n1, 0.0)?;
        check_arm(NAME, "control", n0, 1.0)?;
        let (mean1, mean0) = (sum1 / n1 as f64, sum0 / n0 as f64);
        let (mut ss1, mut ss0) = (0.0, 0.0);
        for (&y, &w) in data.y.iter().zip(data.w.iter()) {
            if w == 1.0 {
                ss1 += (y - mean1) * (y - mean1);
            } else {
                ss0 += (y - mean0) * (y - mean0);
            }
        }
        let var1 = ss1 / (n1 - 1) as f64;
        let var0 = ss0 / (n0 - 1) as f64;
        let se = (var1 / n1 as f64 + var0 / n0 as f64).sqrt();
        Ok(Estimate::normal(Estimand::Ate, mean1 - mean0, se)
            .with("n_treated", n1 as f64)
            .with("n_control", n0 as f64))
    }
}

impl Estimator for Ols {
    fn estimand(&self) -> Estimand {
        Estimand::Ate
    }

    fn fit(&self, data: &Dataset, _seed: u64) -> Result<Estimate> {
        const NAME: &str = "ols";
        check_columns(NAME, data, self.covariates)?;
        let (x, names) = design(data, self.covariates, data.w.view(), "treatment");
        let (n, k) = x.dim();
        check_size(NAME, n, k)?;
        let fit = LeastSquares::fit(x.view(), data.y.view(), &names)?;
        let cov = sandwich(fit.xtx_inv.view(), x.view(), fit.residuals.view(), self.se)?;
        let mean = data.y.sum() / n as f64;
        let tss = data.y.iter().map(|y| (y - mean) * (y - mean)).sum::<f64>();
        // A constant outcome is fitted perfectly by the intercept.
        let r2 = if tss > 0.0 {
            1.0 - fit.rss() / tss
        } else {
            1.0
        };
        Ok(
            Estimate::normal(Estimand::Ate, fit.beta[k - 1], cov[(k - 1, k - 1)].sqrt())
                .with("n", n as f64)
                .with("r2", r2),
        )
    }
}

impl Estimator for TwoStageLeastSquares {
    fn estimand(&self) -> Estimand {
        Estimand::Late
    }

    fn fit(&self, data: &Dataset, _seed: u64) -> Result<Estimate> {
        const NAME: &str = "two_stage_least_squares";
        let z = data.instrument(NAME)?;
        check_columns(NAME, data, self.covariates)?;
        if z.len() != data.n() {
            return Err(Error::Data(format!(
                "{NAME}: the instrument has {} rows but the outcome has {}",
                z.len(),
                data.n()
            )));
        }
        if let Some(i) = first_non_finite(z.view()) {
            return Err(non_finite(NAME, "the instrument", z[i], i));
        }
        // Design [1, X, Z], instrument last so that a collinearity failure
        // found in its column is the instrument's alone.
        let (zd, names) = design(data, self.covariates, z.view(), "instrument");
        let (n, k) = zd.dim();
        check_size(NAME, n, k)?;
        let z0 = z[0];
        if z.iter().all(|&v| v == z0) {
            return Err(Error::Estimate(format!(
                "{NAME}: the instrument is constant (all Z = {z0}); 2SLS needs variation in Z"
            )));
        }
        // One factorization serves the first stage (W on [1, X, Z]) and the
        // reduced form (Y on [1, X, Z]).
        let [first, reduced] =
            match LeastSquares::fit_many(zd.view(), [data.w.view(), data.y.view()], &names) {
                Ok(fits) => fits,
                Err(err) => {
                    // Blame the covariates when they are collinear on their own.
                    LeastSquares::fit(zd.slice(s![.., ..k - 1]), data.w.view(), &names[..k - 1])?;
                    return Err(Error::Estimate(format!(
                        "{NAME}: the instrument is collinear with the covariates (Z is a \
                         linear combination of the intercept and X), so nothing is left to \
                         identify the effect ({err})"
                    )));
                }
            };
        let pi = first.beta[k - 1];
        // By Frisch–Waugh–Lovell, 1 / [(ZdᵀZd)⁻¹]_kk is the sum of squares of
        // Z net of [1, X], so this is RSS(W ~ 1 + X) − RSS(W ~ 1 + X + Z).
        let explained = pi * pi / first.xtx_inv[(k - 1, k - 1)];
        let rss_full = first.rss();
        let rss_restricted = rss_full + explained;
        let partial_r2 = explained / rss_restricted;
        if rss_restricted <= EXACT_FIT_TOL * data.w.dot(&data.w)
            || partial_r2.is_nan()
            || partial_r2 <= DEGENERATE_FIRST_STAGE
        {
            return Err(Error::Estimate(format!(
                "{NAME}: the first stage is degenerate: W does not move with Z once the \
                 covariates are held fixed (first-stage coefficient of Z = {pi:e}, partial \
                 R² = {partial_r2:e}); 2SLS is not identified"
            )));
        }
        let first_stage_f = explained / (rss_full / (n - k) as f64);
        let first_cov = sandwich(
            first.xtx_inv.view(),
            zd.view(),
            first.residuals.view(),
            self.se,
        )?;
        let first_stage_f_robust = pi * pi / first_cov[(k - 1, k - 1)];

        // The fitted design X̂ = [1, X, Ŵ] is Zd Γ, with Γ the identity but
        // for its last column, the first-stage coefficients. So the 2SLS
        // coefficient of W is (last row of Γ⁻¹) · (reduced form) = ρ / π, and
        // the last row of (X̂ᵀX̂)⁻¹ X̂ᵀ is that of (ZdᵀZd)⁻¹ Zdᵀ divided by π:
        // the 2SLS sandwich for τ is the Zd sandwich for Z, with structural
        // residuals, over π². X̂ and Zd span the same space, so their
        // leverages (for HC2/HC3) coincide.
        let tau = reduced.beta[k - 1] / pi;
        // Structural residuals Y − [1, X] γ − τ W = (reduced-form residuals)
        // − τ (first-stage residuals).
        let structural = &reduced.residuals - &(&first.residuals * tau);
        let cov = sandwich(first.xtx_inv.view(), zd.view(), structural.view(), self.se)?;
        let se = cov[(k - 1, k - 1)].sqrt() / pi.abs();
        Ok(Estimate::normal(Estimand::Late, tau, se)
            .with("first_stage_coef", pi)
            .with("first_stage_f", first_stage_f)
            .with("first_stage_f_robust", first_stage_f_robust)
            .with("partial_r2", partial_r2)
            .with("n", n as f64))
    }
}

/// The design `[1, X, last]` (with `X` only when `covariates`) and its
/// column names; the coefficient of interest is that of the last column.
fn design(
    data: &Dataset,
    covariates: bool,
    last: ArrayView1<f64>,
    last_name: &str,
) -> (Array2<f64>, Vec<String>) {
    let p = if covariates { data.x.ncols() } else { 0 };
    let mut x = Array2::<f64>::zeros((data.n(), p + 2));
    x.column_mut(0).fill(1.0);
    let mut names = Vec::with_capacity(p + 2);
    names.push("intercept".to_string());
    if covariates {
        x.slice_mut(s![.., 1..=p]).assign(&data.x);
        names.extend(data.x_names.iter().cloned());
    }
    x.column_mut(p + 1).assign(&last);
    names.push(last_name.to_string());
    (x, names)
}

/// Checks that outcome, treatment and (when used) covariates have one
/// finite entry per unit.
fn check_columns(estimator: &str, data: &Dataset, covariates: bool) -> Result<()> {
    let n = data.n();
    if data.w.len() != n || (covariates && data.x.nrows() != n) {
        return Err(Error::Data(format!(
            "{estimator}: the treatment and covariates must have one row per outcome ({n})"
        )));
    }
    if let Some(i) = first_non_finite(data.y.view()) {
        return Err(non_finite(estimator, "the outcome", data.y[i], i));
    }
    if let Some(i) = first_non_finite(data.w.view()) {
        return Err(non_finite(estimator, "the treatment", data.w[i], i));
    }
    if covariates {
        for (j, col) in data.x.columns().into_iter().enumerate() {
            if let Some(i) = first_non_finite(col) {
                let name = data.x_names.get(j).map_or("?", String::as_str);
                return Err(non_finite(
                    estimator,
                    &format!("covariate `{name}`"),
                    col[i],
                    i,
                ));
            }
        }
    }
    Ok(())
}

/// Position of the first NaN or infinite entry.
fn first_non_finite(col: ArrayView1<f64>) -> Option<usize> {
    col.iter().position(|v| !v.is_finite())
}

/// The error for a non-finite `value` of `what` at 0-based row `i`.
fn non_finite(estimator: &str, what: &str, value: f64, i: usize) -> Error {
    Error::Data(format!(
        "{estimator}: {what} has a non-finite value ({value}) at row {}",
        i + 1
    ))
}

/// Checks that there are more units than coefficients, so that residual
/// variance (and HC1/classical standard errors) are defined.
fn check_size(estimator: &str, n: usize, k: usize) -> Result<()> {
    if n > k {
        return Ok(());
    }
    Err(Error::Estimate(format!(
        "{estimator} needs more units than coefficients: n = {n}, but the model has {k} \
         (intercept, treatment and {} covariates)",
        k - 2
    )))
}

/// Checks that an arm of a difference in means has at least two units;
/// `other` is the treatment value all units have when the arm is empty.
fn check_arm(estimator: &str, arm: &str, size: usize, other: f64) -> Result<()> {
    let problem = match size {
        0 => format!("the {arm} arm is empty (all W = {other})"),
        1 => format!("the {arm} arm has only 1 unit"),
        _ => return Ok(()),
    };
    Err(Error::Estimate(format!(
        "{problem}; {estimator} needs at least 2 units in each arm to estimate its variance"
    )))
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::{array, Array1};
    use rand::{Rng, SeedableRng};
    use rand_distr::{Distribution, Normal};

    fn dataset(y: Array1<f64>, w: Array1<f64>, z: Option<Array1<f64>>, x: Array2<f64>) -> Dataset {
        let names = (1..=x.ncols()).map(|j| format!("x{j}")).collect();
        Dataset::new(y, w, z, x, names).expect("consistent columns")
    }

    fn no_covariates(n: usize) -> Array2<f64> {
        Array2::zeros((n, 0))
    }

    fn ols(se: SeKind, covariates: bool) -> Ols {
        Ols { se, covariates }
    }

    fn tsls(se: SeKind, covariates: bool) -> TwoStageLeastSquares {
        TwoStageLeastSquares { se, covariates }
    }

    fn close(a: f64, b: f64, tol: f64) -> bool {
        (a - b).abs() <= tol * (1.0 + b.abs())
    }

    fn err_of(estimator: &dyn Estimator, data: &Dataset) -> String {
        estimator.fit(data, 0).expect_err("should fail").to_string()
    }

    /// A randomized experiment with two covariates and a heterogeneous,
    /// noisy outcome; `w` is binary.
    fn experiment(n: usize, seed: u64) -> Dataset {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
        let normal = Normal::new(0.0, 1.0).expect("valid normal");
        let x = Array2::from_shape_fn((n, 2), |_| normal.sample(&mut rng));
        let w = Array1::from_shape_fn(n, |_| if rng.random::<f64>() < 0.4 { 1.0 } else { 0.0 });
        let y = Array1::from_shape_fn(n, |i| {
            1.0 + (2.0 + x[(i, 0)]) * w[i]
                + 0.5 * x[(i, 1)]
                + normal.sample(&mut rng) * (1.0 + w[i])
        });
        dataset(y, w, None, x)
    }

    /// A confounded world: `U` drives both `W` and `Y`; `Z` shifts `W` with
    /// strength `pi`. The effect of `W` on `Y` is 1 for everyone.
    fn confounded(n: usize, pi: f64, seed: u64) -> Dataset {
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

    #[test]
    fn ols_recovers_coefficients_on_noiseless_data() {
        let mut data = experiment(200, 1);
        data.y = Array1::from_shape_fn(200, |i| {
            -3.0 + 2.5 * data.w[i] + 4.0 * data.x[(i, 0)] - 0.75 * data.x[(i, 1)]
        });
        let est = ols(SeKind::Hc1, true).fit(&data, 0).expect("fits");
        assert!((est.estimate - 2.5).abs() < 1e-12, "{}", est.estimate);
        assert!(est.se < 1e-10);
        assert!((est.diagnostics["r2"] - 1.0).abs() < 1e-12);
        assert_eq!(est.diagnostics["n"], 200.0);
        assert_eq!(est.estimand, Estimand::Ate);
    }

    #[test]
    fn ols_matches_hand_computed_standard_errors() {
        let w = array![0.0, 1.0, 2.0, 3.0, 4.0, 5.0, 6.0];
        let y = array![1.0, 2.5, 2.0, 4.5, 4.0, 7.0, 6.0];
        let n = w.len() as f64;
        let (wbar, ybar) = (w.sum() / n, y.sum() / n);
        let sxx: f64 = w.iter().map(|v| (v - wbar) * (v - wbar)).sum();
        let sxy: f64 = w.iter().zip(&y).map(|(a, b)| (a - wbar) * (b - ybar)).sum();
        let slope = sxy / sxx;
        let e: Vec<f64> = w
            .iter()
            .zip(&y)
            .map(|(a, b)| b - ybar - slope * (a - wbar))
            .collect();
        let meat: f64 = w
            .iter()
            .zip(&e)
            .map(|(a, r)| (a - wbar).powi(2) * r * r)
            .sum();
        let hc0 = meat.sqrt() / sxx;
        let sigma2 = e.iter().map(|r| r * r).sum::<f64>() / (n - 2.0);
        let data = dataset(y, w, None, no_covariates(7));

        let est = ols(SeKind::Hc0, false).fit(&data, 0).expect("fits");
        assert!(close(est.estimate, slope, 1e-13));
        assert!(close(est.se, hc0, 1e-13), "{} vs {hc0}", est.se);
        assert!(close(
            est.ci_upper - est.estimate,
            crate::core::stats::Z_95 * hc0,
            1e-13
        ));
        let hc1 = ols(SeKind::Hc1, false).fit(&data, 0).expect("fits").se;
        assert!(close(hc1, hc0 * (n / (n - 2.0)).sqrt(), 1e-13));
        let classical = ols(SeKind::Classical, false)
            .fit(&data, 0)
            .expect("fits")
            .se;
        assert!(close(classical, (sigma2 / sxx).sqrt(), 1e-13));
    }

    #[test]
    fn covariates_flag_controls_adjustment() {
        let data = experiment(500, 2);
        let adjusted = ols(SeKind::Hc1, true).fit(&data, 0).expect("fits");
        let raw = ols(SeKind::Hc1, false).fit(&data, 0).expect("fits");
        let dim = DifferenceInMeans {}.fit(&data, 0).expect("fits");
        assert!(close(raw.estimate, dim.estimate, 1e-12));
        assert!((adjusted.estimate - raw.estimate).abs() > 1e-6);
        assert!(adjusted.diagnostics["r2"] > raw.diagnostics["r2"]);
    }

    #[test]
    fn difference_in_means_is_ols_without_covariates_with_hc2() {
        let data = experiment(300, 3);
        let dim = DifferenceInMeans {}.fit(&data, 0).expect("fits");
        let hc2 = ols(SeKind::Hc2, false).fit(&data, 0).expect("fits");
        assert!(close(dim.estimate, hc2.estimate, 1e-12));
        assert!(close(dim.se, hc2.se, 1e-12), "{} vs {}", dim.se, hc2.se);
        let n1 = data.w.sum();
        assert_eq!(dim.diagnostics["n_treated"], n1);
        assert_eq!(dim.diagnostics["n_control"], 300.0 - n1);
        assert_eq!(DifferenceInMeans {}.estimand(), Estimand::Ate);
    }

    #[test]
    fn two_stage_least_squares_is_the_wald_estimator_without_covariates() {
        let data = confounded(400, 0.8, 4);
        let z = data.z.clone().expect("has an instrument");
        let n = data.n() as f64;
        let cov = |a: &Array1<f64>, b: &Array1<f64>| {
            let (ma, mb) = (a.sum() / n, b.sum() / n);
            a.iter()
                .zip(b)
                .map(|(x, y)| (x - ma) * (y - mb))
                .sum::<f64>()
        };
        let wald = cov(&data.y, &z) / cov(&data.w, &z);
        let est = tsls(SeKind::Hc1, false).fit(&data, 0).expect("fits");
        assert!(
            close(est.estimate, wald, 1e-10),
            "{} vs {wald}",
            est.estimate
        );
        assert!(close(
            est.diagnostics["first_stage_coef"],
            cov(&data.w, &z) / cov(&z, &z),
            1e-10
        ));
        assert_eq!(est.estimand, Estimand::Late);
    }

    #[test]
    fn two_stage_least_squares_matches_the_partialled_out_formula() {
        // By Frisch–Waugh–Lovell, with residuals of Y, W, Z on [1, X]:
        // τ = Z̃'Ỹ / Z̃'W̃ and its HC0 SE is √(Σ z̃ᵢ² eᵢ²) / |Z̃'W̃|.
        let data = confounded(300, 0.7, 5);
        let z = data.z.clone().expect("has an instrument");
        let (base, _) = design(&data, true, data.w.view(), "treatment");
        let base = base.slice(s![.., ..2]);
        let partial = |v: &Array1<f64>| {
            LeastSquares::fit(base, v.view(), &[])
                .expect("fits")
                .residuals
        };
        let (yt, wt, zt) = (partial(&data.y), partial(&data.w), partial(&z));
        let tau = zt.dot(&yt) / zt.dot(&wt);
        let e = &yt - &(&wt * tau);
        let meat: f64 = zt.iter().zip(&e).map(|(a, r)| a * a * r * r).sum();
        let hc0 = meat.sqrt() / zt.dot(&wt).abs();
        let est = tsls(SeKind::Hc0, true).fit(&data, 0).expect("fits");
        assert!(close(est.estimate, tau, 1e-10), "{} vs {tau}", est.estimate);
        assert!(close(est.se, hc0, 1e-10), "{} vs {hc0}", est.se);
        let rss_f = wt.dot(&wt) - zt.dot(&wt).powi(2) / zt.dot(&zt);
        assert!(close(
            est.diagnostics["partial_r2"],
            1.0 - rss_f / wt.dot(&wt),
            1e-10
        ));
    }

    #[test]
    fn two_stage_least_squares_matches_the_explicit_second_stage() {
        // Textbook 2SLS: regress Y on X̂ = [1, X, Ŵ], then a sandwich on X̂
        // with structural residuals Y − [1, X, W] β.
        let data = confounded(250, 0.6, 13);
        let (zd, _) = design(
            &data,
            true,
            data.z.as_ref().expect("instrument").view(),
            "z",
        );
        let first = LeastSquares::fit(zd.view(), data.w.view(), &[]).expect("fits");
        let mut xhat = zd.clone();
        xhat.column_mut(2).assign(&(&data.w - &first.residuals));
        let second = LeastSquares::fit(xhat.view(), data.y.view(), &[]).expect("fits");
        let (x, _) = design(&data, true, data.w.view(), "w");
        let structural = &data.y - &x.dot(&second.beta);
        for kind in [
            SeKind::Classical,
            SeKind::Hc0,
            SeKind::Hc1,
            SeKind::Hc2,
            SeKind::Hc3,
        ] {
            let cov = sandwich(second.xtx_inv.view(), xhat.view(), structural.view(), kind)
                .expect("n > k");
            let est = tsls(kind, true).fit(&data, 0).expect("fits");
            assert!(close(est.estimate, second.beta[2], 1e-10));
            assert!(
                close(est.se, cov[(2, 2)].sqrt(), 1e-9),
                "{kind:?}: {}",
                est.se
            );
        }
    }

    #[test]
    fn two_stage_least_squares_removes_confounding_bias() {
        let data = confounded(20_000, 1.0, 6);
        let iv = tsls(SeKind::Hc1, true).fit(&data, 0).expect("fits");
        let naive = ols(SeKind::Hc1, true).fit(&data, 0).expect("fits");
        assert!((iv.estimate - 1.0).abs() < 0.05, "2SLS {}", iv.estimate);
        assert!((naive.estimate - 1.0).abs() > 0.2, "OLS {}", naive.estimate);
        assert!(iv.ci_lower < 1.0 && 1.0 < iv.ci_upper);
        assert!(iv.diagnostics["first_stage_f"] > 1000.0);
        assert!(iv.diagnostics["first_stage_f_robust"] > 1000.0);
        assert!((iv.diagnostics["first_stage_coef"] - 1.0).abs() < 0.05);
        assert_eq!(iv.diagnostics["n"], 20_000.0);
    }

    #[test]
    fn first_stage_f_flags_an_irrelevant_instrument() {
        let data = confounded(2_000, 0.0, 7);
        let est = tsls(SeKind::Hc1, true).fit(&data, 0).expect("fits");
        assert!(
            est.diagnostics["first_stage_f"] < 5.0,
            "{:?}",
            est.diagnostics
        );
        assert!(est.diagnostics["first_stage_f_robust"] < 5.0);
        assert!(est.diagnostics["partial_r2"] < 0.005);
        // With classical SEs the robust F is the conventional F.
        let classical = tsls(SeKind::Classical, true).fit(&data, 0).expect("fits");
        let d = &classical.diagnostics;
        assert!(close(d["first_stage_f_robust"], d["first_stage_f"], 1e-9));
    }

    #[test]
    fn difference_in_means_errors() {
        let mut data = experiment(20, 8);
        data.w[6] = 0.5;
        let msg = err_of(&DifferenceInMeans {}, &data);
        assert!(
            msg.contains(
                "difference_in_means needs a binary 0/1 treatment; found value 0.5 at row 7"
            ),
            "{msg}"
        );
        data.w.fill(0.0);
        let msg = err_of(&DifferenceInMeans {}, &data);
        assert!(
            msg.contains("the treated arm is empty (all W = 0)"),
            "{msg}"
        );
        data.w.fill(1.0);
        data.w[3] = 0.0;
        let msg = err_of(&DifferenceInMeans {}, &data);
        assert!(msg.contains("the control arm has only 1 unit"), "{msg}");
        data.w[4] = 0.0;
        data.y[2] = f64::NAN;
        let msg = err_of(&DifferenceInMeans {}, &data);
        assert!(
            msg.contains("the outcome has a non-finite value (NaN) at row 3"),
            "{msg}"
        );
    }

    #[test]
    fn ols_errors() {
        let data = experiment(4, 9);
        let msg = err_of(&ols(SeKind::Hc1, true), &data);
        assert!(
            msg.contains("ols needs more units than coefficients: n = 4"),
            "{msg}"
        );

        let mut data = experiment(50, 10);
        let combo = &data.x.column(0) * 3.0 + 1.0;
        data.x.column_mut(1).assign(&combo);
        let msg = err_of(&ols(SeKind::Hc1, true), &data);
        assert!(
            msg.contains("regressors are collinear: column `x2` is a linear combination"),
            "{msg}"
        );
        let mut data = experiment(50, 10);
        data.x[(9, 1)] = f64::INFINITY;
        let msg = err_of(&ols(SeKind::Hc1, true), &data);
        assert!(
            msg.contains("covariate `x2` has a non-finite value (inf) at row 10"),
            "{msg}"
        );
        // Without covariates the bad covariate is never used.
        assert!(ols(SeKind::Hc1, false).fit(&data, 0).is_ok());
        data.w.fill(1.0);
        let msg = err_of(&ols(SeKind::Hc1, false), &data);
        assert!(msg.contains("column `treatment` is constant"), "{msg}");
    }

    #[test]
    fn two_stage_least_squares_errors() {
        let estimator = tsls(SeKind::Hc1, true);
        let mut data = confounded(100, 1.0, 11);
        let z = data.z.take().expect("has an instrument");
        let msg = err_of(&estimator, &data);
        assert!(
            msg.contains("two_stage_least_squares needs an instrument"),
            "{msg}"
        );

        data.z = Some(Array1::from_elem(100, 1.0));
        let msg = err_of(&estimator, &data);
        assert!(
            msg.contains("the instrument is constant (all Z = 1); 2SLS needs variation in Z"),
            "{msg}"
        );

        data.z = Some(&data.x.column(0) * 2.0 - 5.0);
        let msg = err_of(&estimator, &data);
        assert!(
            msg.contains("the instrument is collinear with the covariates"),
            "{msg}"
        );
        // Without covariates the same instrument is fine.
        assert!(tsls(SeKind::Hc1, false).fit(&data, 0).is_ok());

        // W and Z exactly uncorrelated: the first stage is exactly zero.
        data.z = Some(Array1::from_shape_fn(100, |i| [0.0, 0.0, 1.0, 1.0][i % 4]));
        data.w = Array1::from_shape_fn(100, |i| [0.0, 1.0, 1.0, 0.0][i % 4]);
        let msg = err_of(&tsls(SeKind::Hc1, false), &data);
        assert!(msg.contains("the first stage is degenerate"), "{msg}");

        let small = confounded(3, 1.0, 12);
        let msg = err_of(&estimator, &small);
        assert!(
            msg.contains("needs more units than coefficients: n = 3"),
            "{msg}"
        );

        data.z = Some(z);
        data.z.as_mut().expect("just set")[5] = f64::NAN;
        let msg = err_of(&estimator, &data);
        assert!(
            msg.contains("the instrument has a non-finite value (NaN) at row 6"),
            "{msg}"
        );
    }

    #[test]
    fn configs_deserialize_with_defaults_and_reject_unknown_keys() {
        #[derive(Debug, Deserialize)]
        #[serde(tag = "kind", rename_all = "snake_case")]
        enum Spec {
            DifferenceInMeans(DifferenceInMeans),
            Ols(Ols),
            TwoStageLeastSquares(TwoStageLeastSquares),
        }
        #[derive(Debug, Deserialize)]
        struct File {
            estimators: Vec<Spec>,
        }
        let file: File = toml::from_str(
            r#"
            [[estimators]]
            kind = "difference_in_means"
            [[estimators]]
            kind = "ols"
            se = "hc3"
            [[estimators]]
            kind = "two_stage_least_squares"
            covariates = false
            "#,
        )
        .expect("valid spec");
        assert!(matches!(
            file.estimators[0],
            Spec::DifferenceInMeans(DifferenceInMeans {})
        ));
        assert!(matches!(&file.estimators[1], Spec::Ols(o) if *o == ols(SeKind::Hc3, true)));
        assert!(matches!(
            &file.estimators[2],
            Spec::TwoStageLeastSquares(t) if *t == tsls(SeKind::Hc1, false)
        ));
        assert_eq!(
            toml::from_str::<DifferenceInMeans>("").expect("empty"),
            DifferenceInMeans {}
        );
        assert_eq!(
            serde_json::from_str::<Ols>("{}").expect("defaults"),
            Ols::default()
        );
        assert!(toml::from_str::<Ols>("se = \"hc4\"").is_err());
        assert!(toml::from_str::<Ols>("robust = true").is_err());
        assert!(toml::from_str::<DifferenceInMeans>("se = \"hc1\"").is_err());
        assert!(toml::from_str::<File>(
            "[[estimators]]\nkind = \"difference_in_means\"\nse = \"hc1\""
        )
        .is_err());
    }
}
