//! The generalized propensity score (Hirano and Imbens 2004) for a
//! continuous treatment (a dose): a normal model of the dose given the
//! covariates gives each unit's score, a quadratic outcome model in the dose
//! and the score gives the dose response, and its average over the units at
//! their own scores gives the effect of one more unit of dose.

use ndarray::{Array1, Array2, ArrayView2};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use super::linalg::LeastSquares;
use super::{Estimate, Estimator, UnitEffects};
use crate::core::text::plural;
use crate::core::Estimand;
use crate::data::Dataset;
use crate::{Error, Result};

/// The estimator's name in errors.
const NAME: &str = "gps";

/// Fewest units a fit takes: the outcome model alone has six coefficients.
pub const MIN_UNITS: usize = 20;

/// Fewest bootstrap replicates: fewer give a standard error that is itself
/// mostly noise.
pub const MIN_BOOTSTRAP: usize = 10;

/// Most bootstrap replicates: ten thousand pin an SE to 1%.
pub const MAX_BOOTSTRAP: usize = 10_000;

/// When one more unit of dose lies more than this many residual standard
/// deviations of the dose model beyond a unit's own dose, the outcome model
/// is read where few units with such covariates were seen, and the
/// estimate warns.
pub const WARN_INCREMENT_SDS: f64 = 2.0;

/// Names of the outcome model's columns, in errors.
const OUTCOME_COLUMNS: [&str; 6] = ["intercept", "dose", "dose^2", "gps", "gps^2", "dose*gps"];

/// What the generalized propensity score estimates.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum GpsTarget {
    /// The average effect of one more unit of dose at each unit's own dose,
    /// mean_i [μ_i(D_i + 1) − μ_i(D_i)] (the regions world's `ate` for a dose).
    #[default]
    Ate,
    /// The average derivative of the dose response at each unit's own
    /// dose, mean_i dμ_i/dd at D_i (the regions world's `slope`).
    Slope,
}

/// The generalized propensity score estimator (`kind = "gps"`).
///
/// Treatment model: `D | X ~ N(X'γ, σ²)` by least squares (with an
/// intercept), σ² its residual variance over `n − p − 1`. Each unit's score at
/// dose `d` is `r(d, X_i) = φ((d − X_i'γ)/σ)/σ`, and `R_i = r(D_i, X_i)`.
/// Outcome model: `E[Y | D, R] = α₀ + α₁D + α₂D² + α₃R + α₄R² + α₅DR` by
/// least squares. Each unit's dose response is `μ_i(d) = E[Y | d, r(d, X_i)]`
/// under the fitted model, and the dose response is `μ(d) = mean_i μ_i(d)`.
/// The estimate is the average effect of one more unit of dose at the
/// units' own doses, `mean_i [μ_i(D_i + 1) − μ_i(D_i)]`, or with
/// `estimand = "slope"` the average derivative `mean_i μ_i'(D_i)`. Per-unit
/// effects are the `μ_i(D_i + 1) − μ_i(D_i)` (or `μ_i'(D_i)`), which an
/// allocation reads as the gain of one more unit in each region.
///
/// Standard errors by the nonparametric pairs bootstrap: each replicate
/// resamples the units, refits both models and averages over its own
/// units; a unit's SE is the spread of its effect under the replicates'
/// models. Replicate `b` draws from its own ChaCha stream of the
/// estimator's seed, so results do not depend on the number of threads.
///
/// Diagnostics: `n`, `dose_mean`, `dose_sd`, `treatment_r2` (the share of the
/// dose's variance the covariates explain), `residual_sd` (σ),
/// `increment_sds` (one unit of dose in residual SDs, 1/σ), `outcome_r2`,
/// `bootstrap`. A warning, for the effect of one more unit, when `increment_sds` exceeds
/// [`WARN_INCREMENT_SDS`]: one more unit is then far outside the doses seen
/// at each unit's covariates, and the quadratic outcome model extrapolates.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Gps {
    /// `ate` (default): the effect of one more unit; `slope`: the average derivative.
    pub estimand: GpsTarget,
    /// Bootstrap replicates for the standard errors (default 200).
    pub bootstrap: usize,
}

impl Default for Gps {
    fn default() -> Self {
        Gps {
            estimand: GpsTarget::Ate,
            bootstrap: 200,
        }
    }
}

/// The two fitted models: what evaluates any unit's dose response.
#[derive(Debug, Clone)]
struct Models {
    /// Treatment model coefficients: intercept, then one per covariate.
    gamma: Array1<f64>,
    /// Residual standard deviation of the treatment model.
    sigma: f64,
    /// Outcome model coefficients, in the order of [`OUTCOME_COLUMNS`].
    alpha: [f64; 6],
    /// Share of the dose's variance the covariates explain.
    treatment_r2: f64,
    /// Share of the outcome's variance the outcome model explains.
    outcome_r2: f64,
}

/// The standard normal density.
fn phi(z: f64) -> f64 {
    (-0.5 * z * z).exp() / (2.0 * std::f64::consts::PI).sqrt()
}

/// One minus the residual over the total sum of squares of `y`.
fn r_squared(rss: f64, y: &Array1<f64>) -> f64 {
    let mean = y.mean().unwrap_or(0.0);
    let total: f64 = y.iter().map(|v| (v - mean).powi(2)).sum();
    if total > 0.0 {
        1.0 - rss / total
    } else {
        0.0
    }
}

impl Models {
    /// The covariates' prediction of unit `i`'s dose, X_i'γ.
    fn dose_mean(&self, x: ArrayView2<f64>, i: usize) -> f64 {
        self.gamma[0] + x.row(i).dot(&self.gamma.slice(ndarray::s![1..]))
    }

    /// The unit's dose response at `d` and its derivative in `d`, the unit's
    /// predicted dose being `m`.
    fn response(&self, d: f64, m: f64) -> (f64, f64) {
        let a = &self.alpha;
        let z = (d - m) / self.sigma;
        let r = phi(z) / self.sigma;
        // dr/dd = r · (−z/σ).
        let dr = -r * z / self.sigma;
        let value = a[0] + a[1] * d + a[2] * d * d + a[3] * r + a[4] * r * r + a[5] * d * r;
        let d_direct = a[1] + 2.0 * a[2] * d + a[5] * r;
        let d_score = a[3] + 2.0 * a[4] * r + a[5] * d;
        (value, d_direct + d_score * dr)
    }

    /// Unit `i`'s effect: of one more unit of dose at its own dose `d`
    /// (`Ate`) or the derivative there (`Slope`).
    fn effect(&self, target: GpsTarget, x: ArrayView2<f64>, d: f64, i: usize) -> f64 {
        let m = self.dose_mean(x, i);
        match target {
            GpsTarget::Ate => self.response(d + 1.0, m).0 - self.response(d, m).0,
            GpsTarget::Slope => self.response(d, m).1,
        }
    }
}

impl Gps {
    /// Checks the settings before any data is seen.
    pub fn validate(&self) -> Result<()> {
        if !(MIN_BOOTSTRAP..=MAX_BOOTSTRAP).contains(&self.bootstrap) {
            return Err(Error::Estimate(format!(
                "{NAME}: bootstrap is {}; it must be between {MIN_BOOTSTRAP} and \
                 {MAX_BOOTSTRAP} replicates (the standard errors come from them)",
                self.bootstrap
            )));
        }
        Ok(())
    }

    /// Fails unless the data can take the estimator: covariate values (not
    /// bin codes), a treatment that is not 0/1 and enough units.
    fn check_data(data: &Dataset) -> Result<()> {
        let (n, p) = (data.n(), data.x.ncols());
        if p == 0 && data.codes.is_some() {
            return Err(Error::Data(format!(
                "{NAME} needs the covariates' values for its treatment model, and this data \
                 holds its {} as bin codes only (as read for a forest); fit it on the \
                 covariates' values",
                plural(data.x_names.len(), "covariate")
            )));
        }
        if data.w.iter().all(|&w| w == 0.0 || w == 1.0) {
            return Err(Error::Data(format!(
                "{NAME} estimates a dose response and needs a continuous treatment (a dose); \
                 this one is 0/1: for a binary treatment use psm, cem, causal_forest or dml \
                 with model = \"irm\""
            )));
        }
        let least = MIN_UNITS.max(p + 1 + OUTCOME_COLUMNS.len() + 2);
        if n < least {
            return Err(Error::Data(format!(
                "{NAME} needs at least {least} units to fit its treatment model on {} and its \
                 six-coefficient outcome model; the data has {n}",
                plural(p, "covariate")
            )));
        }
        Ok(())
    }

    /// Fits both models on `rows` of the data (repeats allowed).
    fn fit_models(data: &Dataset, rows: &[usize]) -> Result<Models> {
        let (n, p) = (rows.len(), data.x.ncols());
        let mut design = Array2::<f64>::ones((n, p + 1));
        let (mut d, mut y) = (Array1::zeros(n), Array1::zeros(n));
        for (k, &i) in rows.iter().enumerate() {
            design.slice_mut(ndarray::s![k, 1..]).assign(&data.x.row(i));
            d[k] = data.w[i];
            y[k] = data.y[i];
        }
        let mut names = vec!["intercept".to_string()];
        names.extend(data.x_names.iter().cloned());
        let treatment = LeastSquares::fit(design.view(), d.view(), &names).map_err(|e| {
            Error::Estimate(format!(
                "{NAME}: the treatment model (the dose on the covariates): {e}"
            ))
        })?;
        let dof = n.saturating_sub(p + 1).max(1) as f64;
        let sigma = (treatment.rss() / dof).sqrt();
        if !(sigma > 0.0 && sigma.is_finite()) {
            return Err(Error::Estimate(format!(
                "{NAME}: the covariates predict the dose exactly (the treatment model's \
                 residual SD is {sigma}), so no unit has a score; the dose must vary beyond \
                 what the covariates explain"
            )));
        }
        let mut outcome = Array2::<f64>::zeros((n, OUTCOME_COLUMNS.len()));
        for k in 0..n {
            let r = phi(treatment.residuals[k] / sigma) / sigma;
            let dk = d[k];
            let row = [1.0, dk, dk * dk, r, r * r, dk * r];
            for (j, v) in row.into_iter().enumerate() {
                outcome[(k, j)] = v;
            }
        }
        let names: Vec<String> = OUTCOME_COLUMNS.iter().map(|s| s.to_string()).collect();
        let fit = LeastSquares::fit(outcome.view(), y.view(), &names).map_err(|e| {
            Error::Estimate(format!(
                "{NAME}: the outcome model (on the dose, the score, their squares and \
                 product): {e}"
            ))
        })?;
        let mut alpha = [0.0; 6];
        alpha.copy_from_slice(fit.beta.as_slice().unwrap_or(&[0.0; 6]));
        Ok(Models {
            treatment_r2: r_squared(treatment.rss(), &d),
            outcome_r2: r_squared(fit.rss(), &y),
            gamma: treatment.beta,
            sigma,
            alpha,
        })
    }

    /// The target averaged over `rows` under `models`.
    fn average(&self, models: &Models, data: &Dataset, rows: &[usize]) -> f64 {
        let x = data.x.view();
        rows.iter()
            .map(|&i| models.effect(self.estimand, x, data.w[i], i))
            .sum::<f64>()
            / rows.len() as f64
    }
}

impl Estimator for Gps {
    fn estimand(&self) -> Estimand {
        match self.estimand {
            GpsTarget::Ate => Estimand::Ate,
            GpsTarget::Slope => Estimand::Slope,
        }
    }

    fn fit(&self, data: &Dataset, seed: u64) -> Result<Estimate> {
        self.validate()?;
        Self::check_data(data)?;
        let n = data.n();
        let x = data.x.view();
        let all: Vec<usize> = (0..n).collect();
        let models = Self::fit_models(data, &all)?;
        let tau: Vec<f64> = (0..n)
            .map(|i| models.effect(self.estimand, x, data.w[i], i))
            .collect();
        let estimate = tau.iter().sum::<f64>() / n as f64;

        let replicates: Vec<(Models, f64)> = (0..self.bootstrap as u64)
            .into_par_iter()
            .map(|b| {
                let mut rng = ChaCha8Rng::seed_from_u64(seed);
                rng.set_stream(b + 1);
                let rows: Vec<usize> = (0..n).map(|_| rng.random_range(0..n)).collect();
                let fitted = Self::fit_models(data, &rows).map_err(|e| {
                    Error::Estimate(format!("{NAME}: bootstrap replicate {}: {e}", b + 1))
                })?;
                let average = self.average(&fitted, data, &rows);
                Ok((fitted, average))
            })
            .collect::<Result<_>>()?;
        let b = replicates.len() as f64;
        let spread = |values: &mut dyn Iterator<Item = f64>| {
            let values: Vec<f64> = values.collect();
            let mean = values.iter().sum::<f64>() / b;
            (values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (b - 1.0)).sqrt()
        };
        let se = spread(&mut replicates.iter().map(|(_, a)| *a));
        let unit_se: Vec<f64> = (0..n)
            .map(|i| {
                spread(
                    &mut replicates
                        .iter()
                        .map(|(m, _)| m.effect(self.estimand, x, data.w[i], i)),
                )
            })
            .collect();

        let (dose_mean, dose_sd) = crate::core::stats::mean_and_sd(data.w.view());
        let increment_sds = 1.0 / models.sigma;
        let mut out = Estimate::normal(self.estimand(), estimate, se)
            .with("n", n as f64)
            .with("dose_mean", dose_mean)
            .with("dose_sd", dose_sd)
            .with("treatment_r2", models.treatment_r2)
            .with("residual_sd", models.sigma)
            .with("increment_sds", increment_sds)
            .with("outcome_r2", models.outcome_r2)
            .with("bootstrap", b);
        if self.estimand == GpsTarget::Ate && increment_sds > WARN_INCREMENT_SDS {
            out.warnings.push(format!(
                "{NAME}: one more unit of dose is {increment_sds:.1} residual SDs of the \
                 treatment model beyond a unit's own dose, where few units with its \
                 covariates were seen: the quadratic outcome model extrapolates there"
            ));
        }
        out.units = Some(UnitEffects {
            tau,
            se: unit_se,
            scores: Vec::new(),
        });
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::Array2;

    /// A small dose dataset: one covariate, a dose confounded by it and an
    /// outcome with a dose-response curve, all from fixed formulas.
    fn dataset(n: usize) -> Dataset {
        let x: Vec<f64> = (0..n).map(|i| ((i * 7 % 11) as f64 - 5.0) / 3.0).collect();
        let noise = |i: usize, k: usize| (((i * k + 3) % 13) as f64 - 6.0) / 6.0;
        let w: Vec<f64> = (0..n).map(|i| 0.5 * x[i] + 0.8 * noise(i, 5)).collect();
        let y: Vec<f64> = (0..n)
            .map(|i| 1.0 + 0.7 * w[i] - 0.1 * w[i] * w[i] + x[i] + 0.5 * noise(i, 3))
            .collect();
        let x = Array2::from_shape_vec((n, 1), x).expect("shape");
        Dataset::new(y.into(), w.into(), None, x, vec!["x1".into()]).expect("consistent")
    }

    /// Solves `a b = c` by Gaussian elimination with partial pivoting.
    fn solve(mut a: Vec<Vec<f64>>, mut c: Vec<f64>) -> Vec<f64> {
        let k = c.len();
        for col in 0..k {
            let pivot = (col..k)
                .max_by(|&i, &j| a[i][col].abs().total_cmp(&a[j][col].abs()))
                .expect("rows");
            a.swap(col, pivot);
            c.swap(col, pivot);
            let (top, rest) = a.split_at_mut(col + 1);
            let pivot_row = &top[col];
            for (offset, row) in rest.iter_mut().enumerate() {
                let f = row[col] / pivot_row[col];
                for (v, p) in row[col..].iter_mut().zip(&pivot_row[col..]) {
                    *v -= f * p;
                }
                c[col + 1 + offset] -= f * c[col];
            }
        }
        let mut b = vec![0.0; k];
        for row in (0..k).rev() {
            let s: f64 = (row + 1..k).map(|j| a[row][j] * b[j]).sum();
            b[row] = (c[row] - s) / a[row][row];
        }
        b
    }

    /// Least squares by the normal equations, for the hand computation.
    fn normal_equations(rows: &[Vec<f64>], y: &[f64]) -> Vec<f64> {
        let k = rows[0].len();
        let mut a = vec![vec![0.0; k]; k];
        let mut c = vec![0.0; k];
        for (r, &yi) in rows.iter().zip(y) {
            for i in 0..k {
                c[i] += r[i] * yi;
                for j in 0..k {
                    a[i][j] += r[i] * r[j];
                }
            }
        }
        solve(a, c)
    }

    #[test]
    fn gps_matches_a_hand_computation() {
        let data = dataset(30);
        let n = data.n();
        let (x, w, y) = (data.x.column(0), data.w.view(), data.y.view());
        let design: Vec<Vec<f64>> = (0..n).map(|i| vec![1.0, x[i]]).collect();
        let g = normal_equations(&design, w.as_slice().expect("contiguous"));
        let m: Vec<f64> = (0..n).map(|i| g[0] + g[1] * x[i]).collect();
        let rss: f64 = (0..n).map(|i| (w[i] - m[i]).powi(2)).sum();
        let sigma = (rss / (n - 2) as f64).sqrt();
        let score = |d: f64, i: usize| {
            let z = (d - m[i]) / sigma;
            (-0.5 * z * z).exp() / (2.0 * std::f64::consts::PI).sqrt() / sigma
        };
        let row = |d: f64, r: f64| vec![1.0, d, d * d, r, r * r, d * r];
        let outcome: Vec<Vec<f64>> = (0..n).map(|i| row(w[i], score(w[i], i))).collect();
        let a = normal_equations(&outcome, y.as_slice().expect("contiguous"));
        let mu = |d: f64, i: usize| {
            row(d, score(d, i))
                .iter()
                .zip(&a)
                .map(|(f, c)| f * c)
                .sum::<f64>()
        };
        let want = (0..n).map(|i| mu(w[i] + 1.0, i) - mu(w[i], i)).sum::<f64>() / n as f64;
        let est = Gps {
            bootstrap: 20,
            ..Gps::default()
        }
        .fit(&data, 1)
        .expect("fits");
        assert!(
            (est.estimate - want).abs() < 1e-9,
            "{} vs {want}",
            est.estimate
        );
        assert!((est.diagnostics["residual_sd"] - sigma).abs() < 1e-12);
        let units = est.units.expect("per-unit effects");
        assert_eq!(units.tau.len(), n);
        assert!((units.tau[4] - (mu(w[4] + 1.0, 4) - mu(w[4], 4))).abs() < 1e-9);
        assert!(est.se > 0.0 && units.se.iter().all(|s| *s > 0.0));
        // The same seed gives the same bootstrap.
        let again = Gps {
            bootstrap: 20,
            ..Gps::default()
        }
        .fit(&data, 1)
        .expect("fits");
        assert_eq!(again.se, est.se);
    }

    #[test]
    fn gps_slope_is_the_derivative_of_the_dose_response() {
        let models = Models {
            gamma: ndarray::array![0.1, 0.5],
            sigma: 0.7,
            alpha: [0.3, 0.8, -0.2, 1.5, -0.9, 0.4],
            treatment_r2: 0.0,
            outcome_r2: 0.0,
        };
        for (d, m) in [(0.3, 0.1), (-1.2, 0.4), (2.0, 0.9)] {
            let h = 1e-6;
            let numeric = (models.response(d + h, m).0 - models.response(d - h, m).0) / (2.0 * h);
            let analytic = models.response(d, m).1;
            assert!((numeric - analytic).abs() < 1e-6, "{numeric} vs {analytic}");
        }
    }

    #[test]
    fn gps_refuses_what_it_cannot_fit_and_says_what_to_use() {
        let gps = Gps::default();
        let message = |data: &Dataset| gps.fit(data, 0).expect_err("refused").to_string();
        let mut binary = dataset(40);
        binary.w.mapv_inplace(|v| f64::from(u8::from(v > 0.0)));
        let m = message(&binary);
        assert!(
            m.contains("gps") && m.contains("psm") && m.contains("irm"),
            "{m}"
        );
        let m = message(&dataset(12));
        assert!(
            m.contains("at least 20 units") && m.contains("has 12"),
            "{m}"
        );
        let data = dataset(40);
        let x = ndarray::concatenate![
            ndarray::Axis(1),
            data.x.view(),
            data.x.mapv(|v| 2.0 * v).view()
        ];
        let collinear = Dataset::new(
            data.y.clone(),
            data.w.clone(),
            None,
            x,
            vec!["x1".into(), "x2".into()],
        )
        .expect("consistent");
        let m = message(&collinear);
        assert!(m.contains("treatment model") && m.contains("x2"), "{m}");
        for bootstrap in [0, 9, MAX_BOOTSTRAP + 1] {
            let m = Gps {
                bootstrap,
                ..Gps::default()
            }
            .validate()
            .expect_err("out of range")
            .to_string();
            assert!(m.contains("bootstrap"), "{m}");
        }
    }
}
