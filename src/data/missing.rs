//! Missing covariate values a world injects after drawing a sample, so that
//! the data strategies (imputation, complete cases) can be judged against
//! the truth of the full sample: missing completely at random (MCAR), at
//! random given an observed column (MAR), or not at random, driven by the
//! missing value itself (MNAR). Missing values are NaN in the covariates.

use ndarray::ArrayView1;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use super::Dataset;
use crate::core::stats::{logistic, mean_and_sd};
use crate::{Error, Result};

/// Why a value goes missing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Mechanism {
    /// Every unit has the same chance: complete cases are a random subsample.
    #[default]
    Mcar,
    /// The chance depends on an observed column (`driver`): complete cases
    /// are selected on it, imputation that uses it can undo that.
    Mar,
    /// The chance depends on the missing value itself: no method that sees
    /// only the data can undo it.
    Mnar,
}

/// Which covariates lose values, how many and why (`[missingness]` in a
/// world that supports it). Without `columns` nothing is missing.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Missingness {
    /// Covariates that lose values (each independently).
    pub columns: Vec<String>,
    /// Expected share of units missing each column, in [0, 0.9].
    pub share: f64,
    /// MCAR, MAR or MNAR.
    pub mechanism: Mechanism,
    /// MAR: the fully observed column that drives missingness: a covariate
    /// not in `columns`, or `y` (the outcome) or `w` (the treatment).
    pub driver: String,
    /// Slope of the log-odds of missingness on the standardized driver
    /// (MAR) or on the standardized value itself (MNAR).
    pub strength: f64,
}

impl Default for Missingness {
    fn default() -> Self {
        Missingness {
            columns: Vec::new(),
            share: 0.2,
            mechanism: Mechanism::Mcar,
            driver: "y".into(),
            strength: 1.5,
        }
    }
}

/// Largest `share` a column may lose: imputation needs observed values.
pub const MAX_SHARE: f64 = 0.9;

impl Missingness {
    /// Whether these are the defaults (nothing missing), so that a world
    /// without missingness serializes as it did before the setting existed.
    pub fn is_default(&self) -> bool {
        *self == Missingness::default()
    }

    /// Whether any value goes missing.
    pub fn is_active(&self) -> bool {
        !self.columns.is_empty() && self.share > 0.0
    }

    /// Checks the settings against the world's covariate names.
    pub fn validate(&self, x_names: &[String]) -> Result<()> {
        let spec = |m: String| Err(Error::Spec(format!("missingness: {m}")));
        if !(0.0..=MAX_SHARE).contains(&self.share) {
            return spec(format!(
                "share is {}; it must be in [0, {MAX_SHARE}] (the share of units missing each \
                 column)",
                self.share
            ));
        }
        if !self.strength.is_finite() || self.strength.abs() > 20.0 {
            return spec(format!(
                "strength is {}; it must be finite and at most 20 in size (a log-odds slope \
                 per SD)",
                self.strength
            ));
        }
        for (i, column) in self.columns.iter().enumerate() {
            if !x_names.contains(column) {
                return spec(format!(
                    "column `{column}` is not a covariate of this world; its covariates are {}",
                    x_names.join(", ")
                ));
            }
            if self.columns[..i].contains(column) {
                return spec(format!("column `{column}` is listed twice"));
            }
        }
        if self.mechanism == Mechanism::Mar && self.is_active() {
            let known = self.driver == "y" || self.driver == "w" || x_names.contains(&self.driver);
            if !known {
                return spec(format!(
                    "driver `{}` is not a column; give a covariate, `y` or `w`",
                    self.driver
                ));
            }
            if self.columns.contains(&self.driver) {
                return spec(format!(
                    "driver `{}` is itself made missing; MAR needs a fully observed driver",
                    self.driver
                ));
            }
        }
        Ok(())
    }

    /// Sets values of `columns` to NaN in `data`, with draws from `seed`;
    /// the intercept of each column's log-odds is solved so that the
    /// sample's mean chance is `share`.
    pub fn apply(&self, data: &mut Dataset, seed: u64) -> Result<()> {
        if !self.is_active() {
            return Ok(());
        }
        self.validate(&data.x_names)?;
        let mut rng = ChaCha8Rng::seed_from_u64(seed ^ 0x6d69_7373_696e_6721);
        for column in &self.columns {
            let j = data
                .x_names
                .iter()
                .position(|n| n == column)
                .ok_or_else(|| Error::Spec(format!("missingness: no column `{column}`")))?;
            let score: Vec<f64> = match self.mechanism {
                Mechanism::Mcar => vec![0.0; data.n()],
                Mechanism::Mar => standardized(self.driver_column(data)?)
                    .into_iter()
                    .map(|v| self.strength * v)
                    .collect(),
                Mechanism::Mnar => standardized(data.x.column(j))
                    .into_iter()
                    .map(|v| self.strength * v)
                    .collect(),
            };
            let intercept = calibrate(&score, self.share);
            for (i, s) in score.iter().enumerate() {
                if rng.random::<f64>() < logistic(intercept + s) {
                    data.x[[i, j]] = f64::NAN;
                }
            }
        }
        Ok(())
    }

    fn driver_column<'a>(&self, data: &'a Dataset) -> Result<ArrayView1<'a, f64>> {
        match self.driver.as_str() {
            "y" => Ok(data.y.view()),
            "w" => Ok(data.w.view()),
            name => data.column(name).ok_or_else(|| {
                Error::Spec(format!("missingness: driver `{name}` is not a column"))
            }),
        }
    }
}

/// The column centred and scaled to SD 1 (left centred when constant).
fn standardized(column: ArrayView1<f64>) -> Vec<f64> {
    let (mean, sd) = mean_and_sd(column);
    let sd = if sd > 0.0 { sd } else { 1.0 };
    column.iter().map(|v| (v - mean) / sd).collect()
}

/// The intercept `a` with mean(logistic(a + score)) = `share`, by bisection.
fn calibrate(score: &[f64], share: f64) -> f64 {
    let mean = |a: f64| score.iter().map(|s| logistic(a + s)).sum::<f64>() / score.len() as f64;
    let (mut low, mut high) = (-60.0, 60.0);
    for _ in 0..100 {
        let mid = 0.5 * (low + high);
        if mean(mid) < share {
            low = mid;
        } else {
            high = mid;
        }
    }
    0.5 * (low + high)
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::{Array1, Array2};

    fn data(n: usize) -> Dataset {
        let x = Array2::from_shape_fn((n, 2), |(i, j)| ((i * 7 + j * 3) % 11) as f64);
        let y = Array1::from_shape_fn(n, |i| (i % 13) as f64);
        let w = Array1::from_shape_fn(n, |i| (i % 2) as f64);
        Dataset::new(y, w, None, x, vec!["a".into(), "b".into()]).expect("a dataset")
    }

    fn missing_share(d: &Dataset, j: usize) -> f64 {
        d.x.column(j).iter().filter(|v| v.is_nan()).count() as f64 / d.n() as f64
    }

    #[test]
    fn each_mechanism_hits_its_share_and_mar_follows_its_driver() {
        for mechanism in [Mechanism::Mcar, Mechanism::Mar, Mechanism::Mnar] {
            let mut d = data(20_000);
            let m = Missingness {
                columns: vec!["a".into()],
                share: 0.3,
                mechanism,
                driver: "y".into(),
                strength: 2.0,
            };
            m.apply(&mut d, 1).expect("applies");
            let share = missing_share(&d, 0);
            assert!((share - 0.3).abs() < 0.015, "{mechanism:?}: {share}");
            assert_eq!(missing_share(&d, 1), 0.0);
            if mechanism == Mechanism::Mar {
                let high_y = (0..d.n()).filter(|&i| d.y[i] > 6.0);
                let high = high_y.clone().filter(|&i| d.x[[i, 0]].is_nan()).count() as f64
                    / high_y.count() as f64;
                assert!(high > 0.45, "missing more where y is high: {high}");
            }
        }
    }

    #[test]
    fn bad_settings_name_the_column() {
        let names = vec!["a".to_string(), "b".to_string()];
        let err = |m: Missingness| m.validate(&names).expect_err("refused").to_string();
        let base = Missingness {
            columns: vec!["a".into()],
            ..Missingness::default()
        };
        assert!(err(Missingness {
            columns: vec!["q".into()],
            ..base.clone()
        })
        .contains("`q` is not a covariate"));
        assert!(err(Missingness {
            share: 0.95,
            ..base.clone()
        })
        .contains("share is 0.95"));
        assert!(err(Missingness {
            mechanism: Mechanism::Mar,
            driver: "a".into(),
            ..base.clone()
        })
        .contains("itself made missing"));
        assert!(err(Missingness {
            mechanism: Mechanism::Mar,
            driver: "zz".into(),
            ..base
        })
        .contains("driver `zz`"));
    }
}
