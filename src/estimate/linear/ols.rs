//! Ordinary least squares with robust standard errors.

use serde::{Deserialize, Serialize};

use super::{check_columns, check_size, design, SeKind};
use crate::core::Estimand;
use crate::data::Dataset;
use crate::estimate::linalg::{sandwich, LeastSquares};
use crate::estimate::{Estimate, Estimator};
use crate::Result;

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

#[cfg(test)]
mod tests {
    use ndarray::{array, Array1};

    use crate::core::Estimand;
    use crate::estimate::linear::testing::{
        close, dataset, err_of, experiment, no_covariates, ols,
    };
    use crate::estimate::linear::{DifferenceInMeans, SeKind};
    use crate::estimate::Estimator;

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
}
