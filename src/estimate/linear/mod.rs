//! Linear estimators: the difference in means, OLS with robust standard
//! errors, and just-identified two-stage least squares with its
//! Anderson–Rubin confidence set. Each config struct from the experiment
//! spec is also the estimator.
//!
//! `diff_means`, `ols` and `tsls` hold one estimator each, `anderson_rubin`
//! the weak-instrument-robust set of 2SLS; this file holds the design and
//! the input checks they share.

mod anderson_rubin;
mod diff_means;
mod ols;
#[cfg(test)]
mod testing;
mod tsls;

use ndarray::{s, Array2, ArrayView1};

pub use super::linalg::SeKind;
pub use anderson_rubin::{ConfidenceSet, AR_CRITICAL_95};
pub use diff_means::DifferenceInMeans;
pub use ols::Ols;
pub use tsls::TwoStageLeastSquares;

use crate::data::Dataset;
use crate::{Error, Result};

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
         (intercept, treatment and {} covariates); use fewer covariates (causim fit --x \
         a,b,c; covariates = false leaves them all out), more units, or an estimator made for \
         many covariates: dml with learner = \"lasso\"",
        k - 2
    )))
}

#[cfg(test)]
mod tests {
    use serde::Deserialize;

    use super::testing::{ols, tsls};
    use super::{DifferenceInMeans, Ols, SeKind, TwoStageLeastSquares};

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
