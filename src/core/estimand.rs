//! Estimands: the named quantities a world knows the truth of and an
//! estimator targets. They sit on the ground floor because sims, estimators,
//! records and reports all speak of them.

use serde::{Deserialize, Serialize};

/// The quantity an estimator targets; diagnosands compare its estimates with
/// the sim's truth for this estimand.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Estimand {
    /// Average treatment effect over all units.
    Ate,
    /// Local average treatment effect: the average effect among compliers.
    Late,
    /// Average treatment effect on the treated: the average effect among
    /// units that took the treatment (what matching on the treated targets).
    Att,
    /// Average treatment effect on the controls: the average effect among
    /// units that did not take the treatment.
    Atc,
    /// Natural direct effect, E[Y(1, M(0)) - Y(0, M(0))]: the effect with the
    /// mediators held where the untreated world puts them.
    Direct,
    /// Natural indirect effect, E[Y(1, M(1)) - Y(1, M(0))]: the part of the
    /// effect that runs through the mediators (direct + indirect = ATE).
    Indirect,
    /// Average derivative of the outcome in a continuous treatment (a dose),
    /// E[dY/dD] at the units' own doses: the slope of the dose response.
    Slope,
}

impl Estimand {
    /// The key of this estimand in a sample's truth values.
    pub fn key(self) -> &'static str {
        match self {
            Estimand::Ate => "ate",
            Estimand::Late => "late",
            Estimand::Att => "att",
            Estimand::Atc => "atc",
            Estimand::Direct => "direct",
            Estimand::Indirect => "indirect",
            Estimand::Slope => "slope",
        }
    }

    /// Short upper-case label for tables ("ATE", "LATE").
    pub fn label(self) -> &'static str {
        match self {
            Estimand::Ate => "ATE",
            Estimand::Late => "LATE",
            Estimand::Att => "ATT",
            Estimand::Atc => "ATC",
            Estimand::Direct => "direct effect",
            Estimand::Indirect => "indirect effect",
            Estimand::Slope => "average slope",
        }
    }
}
