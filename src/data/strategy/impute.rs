//! Imputation: each missing value replaced by its column's mean, or, by
//! multiple imputation by chained equations (van Buuren and
//! Groothuis-Oudshoorn 2011), by draws from each incomplete column's
//! Bayesian linear model given every other column, the outcome and the
//! treatment included, cycled until the draws settle; several completed
//! datasets carry the uncertainty of the missing values into the pooled
//! standard error.

use ndarray::Array2;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::{ChiSquared, Distribution, StandardNormal};
use serde::{Deserialize, Serialize};

use crate::data::dense::Lower;
use crate::data::Dataset;
use crate::{Error, Result};

/// Most imputations: each one is a fit of the estimator.
pub const MAX_IMPUTATIONS: usize = 200;

/// Most cycles through the incomplete columns.
pub const MAX_ITERATIONS: usize = 200;

/// Multiple imputation by chained equations (`kind = "mice"`).
///
/// Each incomplete covariate is imputed from a linear model on every
/// other covariate, the treatment, the outcome, the instrument and the
/// mediators, with its coefficients and residual variance drawn from
/// their posterior (a flat prior), so that the imputations vary as much as
/// the missing values could; a binary column (0/1 where observed) is drawn
/// as a Bernoulli of the model's prediction clipped to [0.001, 0.999].
/// Imputation starts from random observed values and cycles `iterations`
/// times through the columns. Including the outcome is what keeps the
/// effect unbiased under MAR: a model without it would impute toward no
/// association.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Mice {
    /// Completed datasets, each fitted and pooled by Rubin's rules.
    pub imputations: usize,
    /// Cycles through the incomplete columns per imputation.
    pub iterations: usize,
}

impl Default for Mice {
    fn default() -> Self {
        Mice {
            imputations: 10,
            iterations: 10,
        }
    }
}

/// Ridge added to each imputation model's normal equations, relative to
/// their largest diagonal entry, so that collinear predictors still give a
/// model.
const RIDGE: f64 = 1e-8;

impl Mice {
    /// Checks the settings before any data is seen.
    pub fn validate(&self) -> Result<()> {
        if !(2..=MAX_IMPUTATIONS).contains(&self.imputations) {
            return Err(Error::Spec(format!(
                "mice: imputations is {}; Rubin's rules need 2 to {MAX_IMPUTATIONS} (10 to 20 \
                 is usual)",
                self.imputations
            )));
        }
        if !(1..=MAX_ITERATIONS).contains(&self.iterations) {
            return Err(Error::Spec(format!(
                "mice: iterations is {}; 1 to {MAX_ITERATIONS} cycles (10 is usual)",
                self.iterations
            )));
        }
        Ok(())
    }

    /// The completed datasets and the number of values imputed in each.
    pub fn impute(&self, data: &Dataset, seed: u64) -> Result<(Vec<Dataset>, usize)> {
        let p = data.x.ncols();
        let missing: Vec<Vec<usize>> = (0..p)
            .map(|j| (0..data.n()).filter(|&i| data.x[[i, j]].is_nan()).collect())
            .collect();
        let count: usize = missing.iter().map(Vec::len).sum();
        for (j, rows) in missing.iter().enumerate() {
            if rows.len() + 3 > data.n() {
                return Err(Error::Data(format!(
                    "mice: covariate `{}` is observed in only {} of {} rows; too few to model",
                    data.x_names[j],
                    data.n() - rows.len(),
                    data.n()
                )));
            }
        }
        let mut extra: Vec<&ndarray::Array1<f64>> = vec![&data.y, &data.w];
        extra.extend(data.z.as_ref());
        extra.extend(data.mediators.iter().map(|(_, m)| m));
        let binary: Vec<bool> = (0..p)
            .map(|j| {
                data.x
                    .column(j)
                    .iter()
                    .all(|v| v.is_nan() || *v == 0.0 || *v == 1.0)
            })
            .collect();
        let mut out = Vec::with_capacity(self.imputations);
        for m in 0..self.imputations {
            let mut rng = ChaCha8Rng::seed_from_u64(seed ^ (m as u64).wrapping_mul(0x9E37));
            let mut x = data.x.clone();
            for (j, rows) in missing.iter().enumerate() {
                let observed: Vec<f64> = (0..data.n())
                    .map(|i| data.x[[i, j]])
                    .filter(|v| !v.is_nan())
                    .collect();
                for &i in rows {
                    x[[i, j]] = observed[rng.random_range(0..observed.len())];
                }
            }
            for _ in 0..self.iterations {
                for (j, rows) in missing.iter().enumerate() {
                    if !rows.is_empty() {
                        draw_column(&mut x, j, rows, &extra, binary[j], &mut rng);
                    }
                }
            }
            let mut completed = data.clone();
            completed.x = x;
            out.push(completed);
        }
        Ok((out, count))
    }
}

/// Replaces column `j`'s missing `rows` in `x` by draws from its Bayesian
/// linear model on the other columns of `x` and `extra`, fitted on the
/// rows where it is observed.
fn draw_column(
    x: &mut Array2<f64>,
    j: usize,
    rows: &[usize],
    extra: &[&ndarray::Array1<f64>],
    binary: bool,
    rng: &mut ChaCha8Rng,
) {
    let (n, p) = x.dim();
    let q = p + extra.len();
    let mut is_missing = vec![false; n];
    for &i in rows {
        is_missing[i] = true;
    }
    let predictors = |x: &Array2<f64>, i: usize, out: &mut Vec<f64>| {
        out.clear();
        out.push(1.0);
        out.extend((0..p).filter(|&k| k != j).map(|k| x[[i, k]]));
        out.extend(extra.iter().map(|e| e[i]));
    };
    let mut gram = vec![0.0; q * q];
    let mut cross = vec![0.0; q];
    let mut row = Vec::with_capacity(q);
    let mut used = 0usize;
    for i in (0..n).filter(|&i| !is_missing[i]) {
        predictors(x, i, &mut row);
        let target = x[[i, j]];
        for a in 0..q {
            cross[a] += row[a] * target;
            for b in 0..=a {
                gram[a * q + b] += row[a] * row[b];
            }
        }
        used += 1;
    }
    for a in 0..q {
        for b in 0..a {
            gram[b * q + a] = gram[a * q + b];
        }
    }
    let largest = (0..q).map(|a| gram[a * q + a]).fold(0.0, f64::max);
    for a in 0..q {
        gram[a * q + a] += RIDGE * largest.max(1.0);
    }
    let Some(factor) = Lower::factor(gram, q) else {
        return;
    };
    let mut beta = cross;
    factor.solve(&mut beta);
    let mut rss = 0.0;
    for i in (0..n).filter(|&i| !is_missing[i]) {
        predictors(x, i, &mut row);
        let fit: f64 = row.iter().zip(&beta).map(|(a, b)| a * b).sum();
        rss += (x[[i, j]] - fit).powi(2);
    }
    let dof = used.saturating_sub(q).max(1) as f64;
    let chi = ChiSquared::new(dof).map_or(dof, |c| c.sample(rng));
    let sigma = (rss / chi.max(1e-12)).sqrt();
    // β* = β̂ + σ* L⁻ᵀ z has covariance σ*² (XᵀX)⁻¹.
    let mut shake: Vec<f64> = (0..q).map(|_| rng.sample(StandardNormal)).collect();
    factor.backward(&mut shake);
    let drawn: Vec<f64> = beta
        .iter()
        .zip(&shake)
        .map(|(b, s)| b + sigma * s)
        .collect();
    for &i in rows {
        predictors(x, i, &mut row);
        let mean: f64 = row.iter().zip(&drawn).map(|(a, b)| a * b).sum();
        x[[i, j]] = if binary {
            f64::from(u8::from(rng.random::<f64>() < mean.clamp(0.001, 0.999)))
        } else {
            mean + sigma * rng.sample::<f64, _>(StandardNormal)
        };
    }
}

/// Replaces each missing value of `x` by its column's observed mean (0
/// where a column has none); returns how many were replaced.
pub(super) fn mean(x: &mut Array2<f64>) -> usize {
    let mut replaced = 0;
    for mut column in x.columns_mut() {
        let (sum, count) = column
            .iter()
            .filter(|v| !v.is_nan())
            .fold((0.0, 0usize), |(s, c), v| (s + v, c + 1));
        let fill = if count > 0 { sum / count as f64 } else { 0.0 };
        for v in column.iter_mut().filter(|v| v.is_nan()) {
            *v = fill;
            replaced += 1;
        }
    }
    replaced
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::Array1;

    /// x2 = 1 + 2 x1 + noise, y = x1 + x2 + noise; x2 missing in a third of
    /// the rows, more where y is high (MAR on y).
    fn data(n: usize) -> (Dataset, Vec<f64>) {
        let mut rng = ChaCha8Rng::seed_from_u64(9);
        let mut x = Array2::zeros((n, 2));
        let mut y = Array1::zeros(n);
        let mut truth = Vec::new();
        for i in 0..n {
            let x1: f64 = rng.sample(StandardNormal);
            let e: f64 = rng.sample(StandardNormal);
            let x2 = 1.0 + 2.0 * x1 + e;
            x[[i, 0]] = x1;
            x[[i, 1]] = x2;
            y[i] = x1 + x2 + rng.sample::<f64, _>(StandardNormal);
            truth.push(x2);
        }
        for i in 0..n {
            if rng.random::<f64>() < crate::core::stats::logistic(-1.0 + y[i] / 3.0) {
                x[[i, 1]] = f64::NAN;
            }
        }
        let w = Array1::zeros(n);
        let d = Dataset::new(y, w, None, x, vec!["x1".into(), "x2".into()]).expect("data");
        (d, truth)
    }

    #[test]
    fn imputations_keep_the_columns_relations_and_vary_between_draws() {
        let (d, truth) = data(4000);
        let missing: Vec<usize> = (0..d.n()).filter(|&i| d.x[[i, 1]].is_nan()).collect();
        assert!(missing.len() > 800);
        let mice = Mice {
            imputations: 3,
            iterations: 5,
        };
        let (completed, count) = mice.impute(&d, 1).expect("imputes");
        assert_eq!((completed.len(), count), (3, missing.len()));
        for c in &completed {
            assert!(c.x.iter().all(|v| v.is_finite()));
            // The imputed values follow x2's model: given x1 and y, x2 has
            // variance 1/2, so a draw misses the removed value by variance
            // 1 (1/2 its own, 1/2 the value's), not by x2's spread (5).
            let mse = missing
                .iter()
                .map(|&i| (c.x[[i, 1]] - truth[i]).powi(2))
                .sum::<f64>()
                / missing.len() as f64;
            assert!((0.85..1.25).contains(&mse), "imputation error {mse}");
        }
        let i = missing[0];
        assert_ne!(completed[0].x[[i, 1]], completed[1].x[[i, 1]]);
        let again = mice.impute(&d, 1).expect("imputes").0;
        assert_eq!(again[2].x, completed[2].x, "the seed fixes the draws");
    }

    #[test]
    fn mean_imputation_fills_with_the_observed_mean() {
        let mut x = Array2::from_shape_vec((3, 1), vec![1.0, f64::NAN, 5.0]).expect("shape");
        assert_eq!(mean(&mut x), 1);
        assert_eq!(x[[1, 0]], 3.0);
    }

    #[test]
    fn settings_are_checked() {
        let bad = |m: Mice| m.validate().expect_err("refused").to_string();
        assert!(bad(Mice {
            imputations: 1,
            ..Mice::default()
        })
        .contains("imputations is 1"));
        assert!(bad(Mice {
            iterations: 0,
            ..Mice::default()
        })
        .contains("iterations is 0"));
    }
}
