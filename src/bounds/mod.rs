//! Partial-identification bounds on the average effect of a binary treatment
//! W on an outcome Y in [0, 1], set beside the frequentist interval of a point
//! estimate so a report can show how much of an estimate's precision comes
//! from its assumptions.
//!
//! * [`manski`]: no assumptions at all; the interval always has width 1.
//! * [`balke_pearl`]: a binary instrument Z that is as good as random and
//!   affects Y only through W; sharp, and much narrower with a strong
//!   instrument. [`balke_pearl_lp`] computes the same bounds as a linear
//!   program and serves as the cross-check of the closed form.
//! * [`local_bounds`]: both, from kernel (forest) weights around one unit, for
//!   individualized bounds from estimates of P(Y, W | Z, X).

mod balke_pearl;
mod manski;
mod weighted;

pub use balke_pearl::{balke_pearl, balke_pearl_lp, CellProbabilities};
pub use manski::{manski, manski_from_weighted};
pub use weighted::{local_bounds, LocalBounds};

use serde::{Deserialize, Serialize};

use crate::core::stats::Z_95;
use crate::{Error, Result};

/// An interval [lower, upper] on an effect: a confidence interval or an
/// identified set.
///
/// Closed-form bounds computed from estimated probabilities can cross
/// (lower > upper) when sampling noise puts the estimates outside the model;
/// such an interval is kept as computed and reports [`Interval::crossed`].
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Interval {
    /// Lower end.
    pub lower: f64,
    /// Upper end.
    pub upper: f64,
}

impl Interval {
    /// Upper minus lower end; negative for a crossed interval.
    pub fn width(&self) -> f64 {
        self.upper - self.lower
    }

    /// Whether `v` lies in the closed interval (never for a crossed one).
    pub fn contains(&self, v: f64) -> bool {
        self.lower <= v && v <= self.upper
    }

    /// Whether the lower end lies above the upper end, which signals
    /// estimated probabilities that the assumed model cannot produce.
    pub fn crossed(&self) -> bool {
        self.lower > self.upper
    }
}

/// Which kind of interval on an effect, for specs and reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BoundKind {
    /// The normal-approximation 95% confidence interval of a point estimate.
    Frequentist,
    /// Manski's worst-case bounds, with no assumptions.
    Manski,
    /// Balke and Pearl's sharp bounds under a binary instrument.
    BalkePearl,
}

impl BoundKind {
    /// Every kind, in the order reports show them.
    pub const ALL: [BoundKind; 3] = [
        BoundKind::Frequentist,
        BoundKind::Manski,
        BoundKind::BalkePearl,
    ];

    /// Human-readable label for tables ("Frequentist", "Manski", "Balke-Pearl").
    pub fn label(self) -> &'static str {
        match self {
            BoundKind::Frequentist => "Frequentist",
            BoundKind::Manski => "Manski",
            BoundKind::BalkePearl => "Balke-Pearl",
        }
    }

    /// The snake_case key used in specs and stored results, as serde writes it.
    pub fn key(self) -> &'static str {
        match self {
            BoundKind::Frequentist => "frequentist",
            BoundKind::Manski => "manski",
            BoundKind::BalkePearl => "balke_pearl",
        }
    }
}

/// The 95% normal-approximation confidence interval tau ± z·se, the
/// frequentist counterpart that the identified sets are compared with.
pub fn frequentist(tau: f64, se: f64) -> Interval {
    Interval {
        lower: tau - Z_95 * se,
        upper: tau + Z_95 * se,
    }
}

/// Checks a unit's weight: finite and non-negative.
fn check_weight(unit: usize, weight: f64) -> Result<f64> {
    if weight.is_finite() && weight >= 0.0 {
        Ok(weight)
    } else {
        Err(Error::Data(format!(
            "unit {unit}: weight {weight} must be a finite non-negative number"
        )))
    }
}

/// Reads a binary variable (0 or 1) as an index, with an error naming the
/// variable and unit otherwise.
fn binary(what: &str, unit: usize, value: f64) -> Result<usize> {
    if value == 0.0 {
        Ok(0)
    } else if value == 1.0 {
        Ok(1)
    } else {
        Err(Error::Data(format!(
            "unit {unit}: {what} must be 0 or 1 for these bounds, got {value}"
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn interval_width_contains_and_crossing() {
        let i = Interval {
            lower: -0.25,
            upper: 0.5,
        };
        assert_eq!(i.width(), 0.75);
        assert!(i.contains(-0.25) && i.contains(0.5) && i.contains(0.0));
        assert!(!i.contains(0.6) && !i.crossed());
        let crossed = Interval {
            lower: 0.2,
            upper: 0.1,
        };
        assert!(crossed.crossed() && !crossed.contains(0.15));
    }

    #[test]
    fn bound_kind_keys_match_serde_names() {
        for kind in BoundKind::ALL {
            let json = serde_json::to_string(&kind).expect("serializes");
            assert_eq!(json, format!("\"{}\"", kind.key()));
            let back: BoundKind = serde_json::from_str(&json).expect("parses");
            assert_eq!(back, kind);
        }
        assert_eq!(BoundKind::BalkePearl.label(), "Balke-Pearl");
    }

    #[test]
    fn binary_values_are_checked() {
        assert_eq!(binary("w", 0, 1.0).expect("binary"), 1);
        assert!(binary("w", 3, 0.5).is_err());
        assert!(check_weight(0, -1.0).is_err());
        assert!(check_weight(0, f64::NAN).is_err());
    }
}
