//! The DR-learner's linear second stage, which turns the IRM's doubly
//! robust scores into per-unit effects.

use ndarray::{Array1, Array2, ArrayView2};

use super::lasso::{self, Family};
use crate::estimate::linalg::SeKind;
use crate::estimate::linalg::{sandwich, LeastSquares};
use crate::estimate::UnitEffects;
use crate::{Error, Result};

/// The DR-learner's linear second stage: the covariates a plug-in lasso
/// selects for the `scores`, least squares of the scores on them (with an
/// intercept), and each unit's fit with its HC1 standard error. Also returns
/// how many covariates were selected (0: every unit gets the average).
pub(super) fn dr_learner(x: ArrayView2<'_, f64>, scores: Vec<f64>) -> Result<(UnitEffects, usize)> {
    let chosen = lasso::plug_in(x, &scores, Family::Gaussian)?;
    let columns: Vec<usize> = (0..x.ncols()).filter(|&j| chosen.coef[j] != 0.0).collect();
    let n = scores.len();
    let mut design = Array2::<f64>::ones((n, columns.len() + 1));
    for (k, &j) in columns.iter().enumerate() {
        design.column_mut(k + 1).assign(&x.column(j));
    }
    let names: Vec<String> = std::iter::once("intercept".to_string())
        .chain(columns.iter().map(|j| format!("x column {}", j + 1)))
        .collect();
    let y = Array1::from(scores);
    let fit = LeastSquares::fit(design.view(), y.view(), &names)
        .map_err(|e| Error::Estimate(format!("dml: the linear CATE stage failed: {e}")))?;
    let cov = sandwich(
        fit.xtx_inv.view(),
        design.view(),
        fit.residuals.view(),
        SeKind::Hc1,
    )?;
    let tau = design.dot(&fit.beta).to_vec();
    let se = design
        .rows()
        .into_iter()
        .map(|row| row.dot(&cov.dot(&row)).max(0.0).sqrt())
        .collect();
    Ok((
        UnitEffects {
            tau,
            se,
            scores: y.to_vec(),
        },
        columns.len(),
    ))
}
