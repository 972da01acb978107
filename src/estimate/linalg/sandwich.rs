//! Sandwich covariances of linear estimators and the kinds of standard
//! error they give (classical and HC0–HC3).

use ndarray::{Array2, ArrayView1, ArrayView2, Axis};
use serde::{Deserialize, Serialize};

use super::symmetrize;
use crate::{Error, Result};

/// Leverages within this distance of 1 make HC2/HC3 weights blow up.
const LEVERAGE_TOL: f64 = 1e-10;

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

/// Covariance matrix of a linear estimator `β̂ = B Σᵢ dᵢ yᵢ`, where
/// `B = bread_inv` (k×k) and `dᵢ` is row `i` of `design` (n×k), given the
/// residuals `eᵢ` of the model.
///
/// For OLS, `B = (XᵀX)⁻¹` and `design = X`; for 2SLS, `B = (X̂ᵀX̂)⁻¹`,
/// `design = X̂` and the residuals are the structural ones. Classical:
/// `σ² B` with `σ² = Σ eᵢ² / (n − k)`. Robust: `B (Σᵢ ωᵢ dᵢ dᵢᵀ) B` with
/// `ωᵢ = eᵢ²` (HC0), times `n / (n − k)` (HC1), `eᵢ² / (1 − hᵢ)` (HC2) or
/// `eᵢ² / (1 − hᵢ)²` (HC3), where `hᵢ = dᵢᵀ B dᵢ` is the leverage.
///
/// # Errors
/// [`Error::Estimate`] unless `n > k`, and for HC2/HC3 when a row has
/// leverage 1.
///
/// # Panics
/// If the shapes of `bread_inv`, `design` and `residuals` disagree.
pub fn sandwich(
    bread_inv: ArrayView2<f64>,
    design: ArrayView2<f64>,
    residuals: ArrayView1<f64>,
    kind: SeKind,
) -> Result<Array2<f64>> {
    let (n, k) = design.dim();
    assert_eq!(
        bread_inv.dim(),
        (k, k),
        "sandwich: bread has the wrong shape"
    );
    assert_eq!(residuals.len(), n, "sandwich: one residual per row needed");
    if n <= k {
        return Err(Error::Estimate(format!(
            "standard errors need more units than coefficients: n = {n}, k = {k}"
        )));
    }
    let dof = (n - k) as f64;
    let leverage_power = match kind {
        SeKind::Classical => {
            let sigma2 = residuals.dot(&residuals) / dof;
            return Ok(&bread_inv * sigma2);
        }
        SeKind::Hc0 | SeKind::Hc1 => 0,
        SeKind::Hc2 => 1,
        SeKind::Hc3 => 2,
    };
    // Row i of `u` is B dᵢ, so hᵢ = uᵢ · dᵢ.
    let u = (leverage_power > 0).then(|| design.dot(&bread_inv));
    // Rows of `weighted` are √ωᵢ dᵢ, so its Gram matrix is the meat.
    let mut weighted = design.to_owned();
    for (i, mut row) in weighted.axis_iter_mut(Axis(0)).enumerate() {
        let mut root_weight = residuals[i].abs();
        if let Some(u) = &u {
            let slack = 1.0 - u.row(i).dot(&row);
            if slack <= LEVERAGE_TOL {
                return Err(Error::Estimate(format!(
                    "leverage-adjusted (HC2/HC3) standard errors are undefined: row {} has \
                     leverage 1, so the fit reproduces it exactly; use se = \"hc1\"",
                    i + 1
                )));
            }
            root_weight /= slack.powi(leverage_power).sqrt();
        }
        row *= root_weight;
    }
    let meat = weighted.t().dot(&weighted);
    let mut cov = bread_inv.dot(&meat).dot(&bread_inv);
    if kind == SeKind::Hc1 {
        cov *= n as f64 / dof;
    }
    symmetrize(&mut cov);
    Ok(cov)
}

#[cfg(test)]
mod tests {
    use ndarray::{s, Array1, Array2, Axis};
    use rand::SeedableRng;
    use rand_distr::{Distribution, Normal};

    use super::{sandwich, SeKind};
    use crate::estimate::linalg::testing::{max_abs_diff, random_design};
    use crate::estimate::linalg::LeastSquares;

    #[test]
    fn sandwich_kinds_follow_their_formulas() {
        let x = random_design(40, 3, 19);
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(20);
        let noise = Normal::new(0.0, 1.0).expect("valid normal");
        let y = Array1::from_shape_fn(40, |_| noise.sample(&mut rng));
        let fit = LeastSquares::fit(x.view(), y.view(), &[]).expect("full rank");
        let cov = |kind| {
            sandwich(fit.xtx_inv.view(), x.view(), fit.residuals.view(), kind).expect("n > k")
        };
        let sigma2 = fit.rss() / 37.0;
        assert!(max_abs_diff(&cov(SeKind::Classical), &(&fit.xtx_inv * sigma2)) < 1e-15);
        // HC0 by the textbook formula: B (Σ eᵢ² xᵢ xᵢᵀ) B.
        let mut meat = Array2::<f64>::zeros((3, 3));
        for (xi, e) in x.rows().into_iter().zip(fit.residuals.iter()) {
            let xi = xi.to_owned().insert_axis(Axis(1));
            meat += &(xi.dot(&xi.t()) * (e * e));
        }
        let hc0 = fit.xtx_inv.dot(&meat).dot(&fit.xtx_inv);
        assert!(max_abs_diff(&cov(SeKind::Hc0), &hc0) < 1e-14);
        assert!(max_abs_diff(&cov(SeKind::Hc1), &(&hc0 * (40.0 / 37.0))) < 1e-14);
        // HC2 ≤ HC3 on the diagonal, and both exceed HC0.
        let (hc2, hc3) = (cov(SeKind::Hc2), cov(SeKind::Hc3));
        for j in 0..3 {
            assert!(hc0[(j, j)] < hc2[(j, j)] && hc2[(j, j)] < hc3[(j, j)]);
        }
    }

    #[test]
    fn sandwich_rejects_leverage_one_and_too_few_units() {
        // A dummy that is 1 on a single row gives that row leverage 1.
        let mut x = random_design(10, 2, 23);
        x.column_mut(1).fill(0.0);
        x[(6, 1)] = 1.0;
        let y = Array1::from_shape_fn(10, |i| i as f64);
        let fit = LeastSquares::fit(x.view(), y.view(), &[]).expect("full rank");
        let err = sandwich(
            fit.xtx_inv.view(),
            x.view(),
            fit.residuals.view(),
            SeKind::Hc2,
        )
        .expect_err("leverage 1");
        assert!(err.to_string().contains("row 7 has leverage 1"), "{err}");
        assert!(sandwich(
            fit.xtx_inv.view(),
            x.view(),
            fit.residuals.view(),
            SeKind::Hc1
        )
        .is_ok());
        let square = x.slice(s![5..7, ..]);
        let fit = LeastSquares::fit(square, y.slice(s![5..7]), &[]).expect("square system");
        let err = sandwich(
            fit.xtx_inv.view(),
            square,
            fit.residuals.view(),
            SeKind::Hc0,
        )
        .expect_err("n = k");
        assert!(
            err.to_string().contains("more units than coefficients"),
            "{err}"
        );
    }
}
