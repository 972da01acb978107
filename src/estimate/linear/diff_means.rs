//! The difference in means with the Neyman standard error.

use serde::{Deserialize, Serialize};

use super::check_columns;
use crate::core::Estimand;
use crate::data::Dataset;
use crate::estimate::{Estimate, Estimator};
use crate::{Error, Result};

/// Difference in mean outcomes between treated and control units, with the
/// Neyman standard error `√(s₁²/n₁ + s₀²/n₀)`; targets the ATE under
/// randomization. Has no parameters; needs a 0/1 treatment with at least two
/// units per arm. Diagnostics: `n_treated`, `n_control`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DifferenceInMeans {}

impl Estimator for DifferenceInMeans {
    fn estimand(&self) -> Estimand {
        Estimand::Ate
    }

    fn fit(&self, data: &Dataset, _seed: u64) -> Result<Estimate> {
        const NAME: &str = "difference_in_means";
        check_columns(NAME, data, false)?;
        if let Some(i) = data.w.iter().position(|&w| w != 0.0 && w != 1.0) {
            return Err(Error::Data(format!(
                "{NAME} needs a binary 0/1 treatment; found value {} at row {}{}",
                data.w[i],
                i + 1,
                crate::estimate::DOSE_HINT
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
    use super::DifferenceInMeans;
    use crate::core::Estimand;
    use crate::estimate::linear::testing::{close, err_of, experiment, ols};
    use crate::estimate::linear::SeKind;
    use crate::estimate::Estimator;

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
}
