//! Manski's (1990) worst-case bounds: what the data say about the average
//! effect of a binary treatment on an outcome in [0, 1] with no assumptions
//! about how units came to be treated.

use super::{binary, check_weight, Interval};
use crate::{Error, Result};

/// Manski's no-assumption bounds on the ATE for Y in [0, 1], from
/// `p1` = P(W = 1), `mu1` = E[Y | W = 1] and `mu0` = E[Y | W = 0] (all
/// possibly conditional on covariates x).
///
/// Each unobserved potential outcome is set to its worst case, 0 or 1:
/// tau in [mu1·p1 − mu0·p0 − p1, mu1·p1 + p0 − mu0·p0] with p0 = 1 − p1, an
/// interval of width exactly 1 that always contains zero: without assumptions
/// the data can never sign the effect.
pub fn manski(p1: f64, mu1: f64, mu0: f64) -> Interval {
    let p0 = 1.0 - p1;
    Interval {
        lower: mu1 * p1 - mu0 * p0 - p1,
        upper: mu1 * p1 + p0 - mu0 * p0,
    }
}

/// [`manski`] from a weighted sample of units `(weight, y, w)` with y in
/// [0, 1] and w in {0, 1}.
///
/// Errors on a negative or non-finite weight, y outside [0, 1], a non-binary
/// w, or zero total weight. A treatment arm with no weight has an unknown
/// mean but a share of zero, so its mean does not enter the bounds.
pub fn manski_from_weighted(units: impl IntoIterator<Item = (f64, f64, f64)>) -> Result<Interval> {
    let mut mass = [0.0; 2];
    let mut outcome = [0.0; 2];
    for (unit, (weight, y, w)) in units.into_iter().enumerate() {
        let weight = check_weight(unit, weight)?;
        if !(0.0..=1.0).contains(&y) {
            return Err(Error::Data(format!(
                "unit {unit}: outcome y must lie in [0, 1] for Manski's bounds, got {y}"
            )));
        }
        let w = binary("treatment w", unit, w)?;
        mass[w] += weight;
        outcome[w] += weight * y;
    }
    let total = mass[0] + mass[1];
    if total <= 0.0 {
        return Err(Error::Data(
            "Manski's bounds need units with positive total weight".into(),
        ));
    }
    let mean = |w: usize| {
        if mass[w] > 0.0 {
            outcome[w] / mass[w]
        } else {
            0.0
        }
    };
    Ok(manski(mass[1] / total, mean(1), mean(0)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_empty_arm_leaves_the_other_arm_unbounded_without_nan() {
        let all_treated =
            manski_from_weighted([(1.0, 1.0, 1.0), (1.0, 0.0, 1.0)]).expect("positive weight");
        // E[Y(1)] = 0.5 exactly, E[Y(0)] anywhere in [0, 1].
        assert!((all_treated.lower - -0.5).abs() < 1e-12);
        assert!((all_treated.upper - 0.5).abs() < 1e-12);
    }

    #[test]
    fn bad_units_are_refused() {
        assert!(manski_from_weighted([(0.0, 1.0, 1.0)]).is_err());
        assert!(manski_from_weighted([(1.0, 1.5, 1.0)]).is_err());
        assert!(manski_from_weighted([(1.0, 0.5, 2.0)]).is_err());
        assert!(manski_from_weighted(std::iter::empty()).is_err());
    }
}
