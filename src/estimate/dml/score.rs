//! The models' Neyman-orthogonal scores on cross-fitted nuisances, solved
//! for the effect with the DML standard error.

use super::folds::CrossFit;
use super::{Dml, DmlModel};
use crate::core::stats::mean;
use crate::core::Estimand;
use crate::data::Dataset;
use crate::{Error, Result};

/// A linear score `a θ + b`, one `(a, b)` pair per unit, as two columns.
type Score = (Vec<f64>, Vec<f64>);

/// One repetition's estimate with its diagnostics.
pub(super) struct Solved {
    pub(super) theta: f64,
    pub(super) se: f64,
    pub(super) diagnostics: Vec<(&'static str, f64)>,
    /// The IRM ATE's doubly robust scores (their mean is `theta`); empty
    /// for the other models and estimands.
    pub(super) scores: Vec<f64>,
}

/// Out-of-fold R² of `fitted` for `target`.
fn r_squared(target: &[f64], fitted: &[f64]) -> f64 {
    let m = mean(target);
    let total: f64 = target.iter().map(|t| (t - m).powi(2)).sum();
    let residual: f64 = target
        .iter()
        .zip(fitted)
        .map(|(t, f)| (t - f).powi(2))
        .sum();
    1.0 - residual / total
}

/// Range and share clipped of raw propensities `p`, then `p` clipped to `[trim, 1 − trim]`.
fn clip(p: &mut [f64], trim: f64) -> [(&'static str, f64); 3] {
    let low = p.iter().copied().fold(f64::INFINITY, f64::min);
    let high = p.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let clipped = p.iter().filter(|v| **v < trim || **v > 1.0 - trim).count();
    let share = clipped as f64 / p.len() as f64;
    p.iter_mut().for_each(|v| *v = v.clamp(trim, 1.0 - trim));
    [
        ("propensity_min", low),
        ("propensity_max", high),
        ("share_trimmed", share),
    ]
}

/// Solves the mean of the linear score `a θ + b` for θ, with the DML
/// standard error `sqrt(mean(ψ²) / (mean(a)² n))`; `None` when the Jacobian
/// `mean(a)` is zero.
fn linear_score(a: &[f64], b: &[f64]) -> Option<(f64, f64)> {
    let n = a.len() as f64;
    let jacobian = mean(a);
    if jacobian.is_nan() || jacobian.abs() <= 1e-12 {
        return None;
    }
    let theta = -mean(b) / jacobian;
    let psi2 = a
        .iter()
        .zip(b)
        .map(|(a, b)| (a * theta + b).powi(2))
        .sum::<f64>()
        / n;
    Some((theta, (psi2 / (jacobian * jacobian * n)).sqrt()))
}

impl Dml {
    /// Solves the model's orthogonal score on one split's nuisances.
    pub(super) fn solve(&self, data: &Dataset, z: &[f64], mut fit: CrossFit) -> Result<Solved> {
        let (y, w) = (data.y.to_vec(), data.w.to_vec());
        let mut diagnostics = Vec::new();
        let (a, b): Score = match (self.model, self.target()?) {
            (DmlModel::Plr, _) => plr_score(&y, &w, &fit, &mut diagnostics),
            (DmlModel::Irm, target) => self.irm_score(&y, &w, &mut fit, target, &mut diagnostics),
            (DmlModel::Iv, _) => self.iv_score(&y, &w, z, &mut fit, &mut diagnostics),
        };
        let (theta, se) = linear_score(&a, &b).ok_or_else(|| {
            Error::Estimate(
                match self.model {
                    DmlModel::Plr => "dml: the treatment has no variation left once the covariates are partialled out",
                    DmlModel::Irm => "dml: no treated units to average over",
                    DmlModel::Iv => "dml: the instrument does not move the treatment (estimated complier share 0)",
                }
                .into(),
            )
        })?;
        if !(theta.is_finite() && se.is_finite()) {
            return Err(Error::Estimate(
                "dml: the score is not finite (a nuisance prediction is degenerate)".into(),
            ));
        }
        let scores = if (self.model, self.target()?) == (DmlModel::Irm, Estimand::Ate) {
            b
        } else {
            Vec::new()
        };
        Ok(Solved {
            theta,
            se,
            diagnostics,
            scores,
        })
    }

    /// The IRM's AIPW score for the ATE, or for the ATT, with the outcome
    /// model's R² and the propensity's range and clipping.
    fn irm_score(
        &self,
        y: &[f64],
        w: &[f64],
        fit: &mut CrossFit,
        target: Estimand,
        diagnostics: &mut Vec<(&'static str, f64)>,
    ) -> Score {
        let n = y.len();
        let observed: Vec<f64> = (0..n)
            .map(|i| if w[i] == 1.0 { fit.y1[i] } else { fit.y0[i] })
            .collect();
        diagnostics.push(("outcome_r2", r_squared(y, &observed)));
        diagnostics.extend(clip(&mut fit.w0, self.trim));
        let (mu0, mu1, e) = (&fit.y0, &fit.y1, &fit.w0);
        (0..n)
            .map(|i| {
                let (r0, r1) = (y[i] - mu0[i], y[i] - mu1[i]);
                if target == Estimand::Att {
                    let b = w[i] * r0 - e[i] * (1.0 - w[i]) * r0 / (1.0 - e[i]);
                    (-w[i], b)
                } else {
                    let b = mu1[i] - mu0[i] + w[i] * r1 / e[i] - (1.0 - w[i]) * r0 / (1.0 - e[i]);
                    (-1.0, b)
                }
            })
            .unzip()
    }

    /// The interactive IV model's score: the doubly robust effect of Z on Y
    /// against that on W, with the estimated complier share.
    fn iv_score(
        &self,
        y: &[f64],
        w: &[f64],
        z: &[f64],
        fit: &mut CrossFit,
        diagnostics: &mut Vec<(&'static str, f64)>,
    ) -> Score {
        let n = y.len();
        let observed: Vec<f64> = (0..n)
            .map(|i| if z[i] == 1.0 { fit.y1[i] } else { fit.y0[i] })
            .collect();
        diagnostics.push(("outcome_r2", r_squared(y, &observed)));
        diagnostics.extend(clip(&mut fit.z, self.trim));
        let r = &fit.z;
        let dr = |i: usize, v: f64, m0: f64, m1: f64| {
            m1 - m0 + z[i] * (v - m1) / r[i] - (1.0 - z[i]) * (v - m0) / (1.0 - r[i])
        };
        let pairs: Vec<(f64, f64)> = (0..n)
            .map(|i| {
                (
                    -dr(i, w[i], fit.w0[i], fit.w1[i]),
                    dr(i, y[i], fit.y0[i], fit.y1[i]),
                )
            })
            .collect();
        diagnostics.push((
            "compliance",
            -pairs.iter().map(|p| p.0).sum::<f64>() / n as f64,
        ));
        pairs.into_iter().unzip()
    }
}

/// The partially linear model's residual-on-residual score, with the
/// outcome and treatment models' R².
fn plr_score(
    y: &[f64],
    w: &[f64],
    fit: &CrossFit,
    diagnostics: &mut Vec<(&'static str, f64)>,
) -> Score {
    let n = y.len();
    diagnostics.push(("outcome_r2", r_squared(y, &fit.y0)));
    diagnostics.push(("treatment_r2", r_squared(w, &fit.w0)));
    (0..n)
        .map(|i| {
            let v = w[i] - fit.w0[i];
            (-v * v, v * (y[i] - fit.y0[i]))
        })
        .unzip()
}

#[cfg(test)]
mod tests {
    use super::linear_score;
    use crate::core::stats::median;

    #[test]
    fn the_linear_score_solves_for_theta_with_the_sandwich_se() {
        // psi = -1 * theta + b: theta is the mean of b, the SE its standard error.
        let b = [1.0, 2.0, 3.0, 6.0];
        let (theta, se) = linear_score(&[-1.0; 4], &b).expect("identified");
        assert!((theta - 3.0).abs() < 1e-12);
        assert!((se - (14.0_f64 / 4.0 / 4.0).sqrt()).abs() < 1e-12);
        assert!(linear_score(&[0.0; 4], &b).is_none());
        assert_eq!(median(vec![3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median(vec![4.0, 1.0, 2.0, 3.0]), 2.5);
    }
}
