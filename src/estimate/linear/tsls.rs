//! Just-identified two-stage least squares with first-stage diagnostics.

use ndarray::{s, Array2, ArrayView1};
use serde::{Deserialize, Serialize};

use super::anderson_rubin::{ReducedForms, AR_CRITICAL_95};
use super::{check_columns, check_size, design, first_non_finite, non_finite, SeKind};
use crate::core::Estimand;
use crate::data::Dataset;
use crate::estimate::linalg::{sandwich, LeastSquares};
use crate::estimate::{Estimate, Estimator};
use crate::{Error, Result};

/// The estimator's name in errors.
const NAME: &str = "two_stage_least_squares";

/// A first stage whose partial R² for the instrument is at most this is
/// treated as exactly zero: 2SLS is then not identified.
const DEGENERATE_FIRST_STAGE: f64 = 1e-10;

/// Variation of W beyond the covariates below this share of `WᵀW` is
/// rounding noise: W is then an exact function of the covariates.
const EXACT_FIT_TOL: f64 = 1e-20;

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
///
/// Besides the Wald interval it reports the Anderson–Rubin 95% confidence
/// set (`Estimate::confidence_set`), with the same `se` kind, which keeps its
/// coverage however weak the instrument; it is bounded exactly when
/// `first_stage_f_robust` exceeds 3.84.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TwoStageLeastSquares {
    /// Standard errors to report (default HC1); also used for the robust
    /// first-stage F and the Anderson–Rubin set.
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

/// The first stage `W ~ [1, X, Z]` summarized for 2SLS and its diagnostics.
struct FirstStage {
    /// Coefficient of `Z`.
    pi: f64,
    /// Homoskedastic F for excluding `Z`.
    f: f64,
    /// Share of `W`'s variation net of `X` explained by `Z`.
    partial_r2: f64,
}

impl Estimator for TwoStageLeastSquares {
    fn estimand(&self) -> Estimand {
        Estimand::Late
    }

    fn fit(&self, data: &Dataset, _seed: u64) -> Result<Estimate> {
        let z = data.instrument(NAME)?;
        check_columns(NAME, data, self.covariates)?;
        check_instrument(data, z.view())?;
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
        let [first, reduced] = stages(data, &zd, &names)?;
        let stage = first_stage(data, &zd, &first)?;
        let pi = stage.pi;
        let forms = ReducedForms::new(&reduced, &first, zd.view(), self.se)?;

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
            .with_confidence_set(forms.confidence_set(AR_CRITICAL_95))
            .with("first_stage_coef", pi)
            .with("first_stage_f", stage.f)
            .with("first_stage_f_robust", forms.first_stage_wald())
            .with("partial_r2", stage.partial_r2)
            .with("n", n as f64))
    }
}

/// Summarizes the first stage `first` on the design `zd`; fails when it
/// is degenerate (W does not move with Z given the covariates).
fn first_stage(data: &Dataset, zd: &Array2<f64>, first: &LeastSquares) -> Result<FirstStage> {
    let (n, k) = zd.dim();
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
    Ok(FirstStage {
        pi,
        f: explained / (rss_full / (n - k) as f64),
        partial_r2,
    })
}

/// Checks that the instrument has one finite entry per unit.
fn check_instrument(data: &Dataset, z: ArrayView1<f64>) -> Result<()> {
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
    Ok(())
}

/// The first stage (W on [1, X, Z]) and the reduced form (Y on [1, X, Z]),
/// from one factorization; blames the covariates when they are collinear on
/// their own, and the instrument otherwise.
fn stages(data: &Dataset, zd: &Array2<f64>, names: &[String]) -> Result<[LeastSquares; 2]> {
    let k = zd.ncols();
    // One factorization serves the first stage (W on [1, X, Z]) and the
    // reduced form (Y on [1, X, Z]).
    let fits = match LeastSquares::fit_many(zd.view(), [data.w.view(), data.y.view()], names) {
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
    Ok(fits)
}

#[cfg(test)]
mod tests {
    use ndarray::{s, Array1};

    use crate::core::Estimand;
    use crate::estimate::linalg::{sandwich, LeastSquares};
    use crate::estimate::linear::testing::{close, confounded, err_of, ols, tsls};
    use crate::estimate::linear::{design, SeKind};
    use crate::estimate::Estimator;

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
}
