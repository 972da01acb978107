//! A world over periods (`[periods]` in a regions world): after the
//! observational sample (period 0), each period a feedback policy funds some
//! regions and the world gives every region's outcome under that decision.
//! The effect of funding a region moves over the periods: it drifts along a
//! covariate, a declared shock (an epidemic surge) raises or lowers it in
//! some regions for some periods, and each period a region is funded leaves
//! only a share of its effect for the next (diminishing returns).
//!
//! The world's side is [`Periods`] (the spec) and [`Dynamics`] (one
//! sample's truth: what funding any region in any period truly gives). The
//! policies never see the dynamics; `crate::evaluate::feedback` plays them
//! against each rule.

use serde::{Deserialize, Serialize};

use crate::core::stats::mean_and_sd;
use crate::core::text::{elide, number};
use crate::data::Dataset;
use crate::formula::{Formula, FormulaText};
use crate::sim::limits;
use crate::{Error, Result};

/// Most periods a world may run after its observational one.
pub const MAX_PERIODS: usize = 1_000;

/// Most shocks a world may declare.
pub const MAX_SHOCKS: usize = 100;

/// A shock: in the regions its formula picks and the periods `from..=to`,
/// the effect of funding moves by `effect` and the untreated outcome by
/// `outcome` (an epidemic surge: health falls, care matters more).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Shock {
    /// A formula of the region's covariates; the regions where it is
    /// nonzero are hit (e.g. "east == 0", "burden > 0.5").
    pub regions: FormulaText,
    /// The first period hit (1 is the first period after the observational one).
    pub from: usize,
    /// The last period hit.
    pub to: usize,
    /// Added to the effect of funding a hit region while the shock lasts.
    #[serde(default)]
    pub effect: f64,
    /// Added to a hit region's untreated outcome while the shock lasts.
    #[serde(default)]
    pub outcome: f64,
}

/// How the world moves over periods; without `count` it has none.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Periods {
    /// Periods after the observational one (0: a one-period world).
    pub count: usize,
    /// Standard deviation of each region's outcome noise in each period.
    pub noise: f64,
    /// Each period a region is funded leaves this share of its effect for
    /// later periods, in (0, 1] (1: constant returns).
    pub returns: f64,
    /// Change of the effect per period, per standard deviation of `drift_along`.
    pub drift: f64,
    /// The covariate the effect drifts along (needed when `drift` is not 0).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub drift_along: Option<String>,
    /// The shocks, in any order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub shocks: Vec<Shock>,
}

impl Default for Periods {
    fn default() -> Self {
        Periods {
            count: 0,
            noise: 1.0,
            returns: 1.0,
            drift: 0.0,
            drift_along: None,
            shocks: Vec::new(),
        }
    }
}

/// A spec error about `[periods]`.
fn spec<T>(message: String) -> Result<T> {
    Err(Error::Spec(format!("periods: {message}")))
}

impl Periods {
    /// Whether these are the defaults (no periods), so that a world without
    /// them serializes as it did before the setting existed.
    pub fn is_default(&self) -> bool {
        *self == Periods::default()
    }

    /// Checks the settings against the world's covariate names and parses
    /// the shocks' formulas; `None` for a world without periods.
    pub fn plan(&self, x_names: &[String]) -> Result<Option<PeriodsPlan>> {
        if self.count == 0 {
            if !self.is_default() {
                return spec(
                    "`count` is 0, so the other settings have no period to act in; set \
                     `count` to the number of periods after the observational one"
                        .into(),
                );
            }
            return Ok(None);
        }
        limits::count("periods.count", self.count, 1, MAX_PERIODS)?;
        limits::count("periods.shocks", self.shocks.len(), 0, MAX_SHOCKS)?;
        if !(self.noise.is_finite() && self.noise >= 0.0) {
            return spec(format!(
                "`noise` is {}; it is a standard deviation, finite and non-negative",
                number(self.noise)
            ));
        }
        if !(self.returns > 0.0 && self.returns <= 1.0) {
            return spec(format!(
                "`returns` is {}; it is the share of a region's effect left after each period \
                 it is funded, in (0, 1] (1: constant returns)",
                number(self.returns)
            ));
        }
        limits::finite("periods.drift", self.drift)?;
        let column = |name: &str, key: &str| {
            x_names.iter().position(|n| n == name).ok_or_else(|| {
                Error::Spec(format!(
                    "periods: `{key} = \"{}\"` is not a covariate of this world; its covariates \
                     are {}",
                    elide(name),
                    x_names.join(", ")
                ))
            })
        };
        let drift_column = match (&self.drift_along, self.drift) {
            (Some(name), _) => Some(column(name, "drift_along")?),
            (None, 0.0) => None,
            (None, _) => {
                return spec(
                    "`drift` needs `drift_along`: the covariate whose standardized value \
                     scales each region's drift (e.g. drift_along = \"burden\")"
                        .into(),
                )
            }
        };
        let names: Vec<&str> = x_names.iter().map(String::as_str).collect();
        let mut shocks = Vec::with_capacity(self.shocks.len());
        for (k, shock) in self.shocks.iter().enumerate() {
            let label = format!("shock {}", k + 1);
            if !(1 <= shock.from && shock.from <= shock.to && shock.to <= self.count) {
                return spec(format!(
                    "{label} runs from period {} to {}; it must lie within periods 1 to {} \
                     with `from` at most `to`",
                    shock.from, shock.to, self.count
                ));
            }
            limits::finite(&format!("periods.{label}.effect"), shock.effect)?;
            limits::finite(&format!("periods.{label}.outcome"), shock.outcome)?;
            let formula = Formula::parse(shock.regions.as_str(), &names).map_err(|e| {
                Error::Formula(format!(
                    "periods: {label}: regions \"{}\": {e}",
                    elide(shock.regions.as_str())
                ))
            })?;
            shocks.push(formula);
        }
        Ok(Some(PeriodsPlan {
            periods: self.clone(),
            drift_column,
            shocks,
        }))
    }
}

/// `[periods]` checked against a world, ready to give each sample its dynamics.
#[derive(Debug, Clone)]
pub struct PeriodsPlan {
    periods: Periods,
    drift_column: Option<usize>,
    shocks: Vec<Formula>,
}

impl PeriodsPlan {
    /// The dynamics of one sample: `effect` holds each region's effect of
    /// funding at period 0, `baseline` its expected untreated outcome; the
    /// drift and the shocks' regions come from the sample's full covariates
    /// (before any value goes missing).
    pub fn dynamics(&self, data: &Dataset, effect: Vec<f64>, baseline: Vec<f64>) -> Dynamics {
        let n = data.n();
        let drift = match self.drift_column {
            Some(j) => {
                let (mean, sd) = mean_and_sd(data.x.column(j));
                let sd = if sd > 0.0 { sd } else { 1.0 };
                data.x
                    .column(j)
                    .iter()
                    .map(|v| self.periods.drift * (v - mean) / sd)
                    .collect()
            }
            None => vec![0.0; n],
        };
        let shocks = self
            .periods
            .shocks
            .iter()
            .zip(&self.shocks)
            .map(|(shock, formula)| ShockTruth {
                from: shock.from,
                to: shock.to,
                effect: shock.effect,
                outcome: shock.outcome,
                hit: data
                    .x
                    .rows()
                    .into_iter()
                    .map(|row| {
                        let values = row.to_vec();
                        let v = formula.eval(&values);
                        v != 0.0 && !v.is_nan()
                    })
                    .collect(),
            })
            .collect();
        Dynamics {
            periods: self.periods.count,
            effect,
            baseline,
            noise: self.periods.noise,
            returns: self.periods.returns,
            drift,
            shocks,
        }
    }
}

/// One shock as it hits one sample.
#[derive(Debug, Clone)]
pub struct ShockTruth {
    /// The first period hit.
    pub from: usize,
    /// The last period hit.
    pub to: usize,
    /// Added to a hit region's effect of funding.
    pub effect: f64,
    /// Added to a hit region's untreated outcome.
    pub outcome: f64,
    /// Whether each region is hit.
    pub hit: Vec<bool>,
}

impl ShockTruth {
    /// Whether the shock lasts in period `t`.
    pub fn active(&self, t: usize) -> bool {
        self.from <= t && t <= self.to
    }
}

/// One sample's truth over periods: what funding any region in any period
/// gives, and every region's untreated outcome, for the evaluator to play
/// each feedback rule against. Policies never see it.
#[derive(Debug, Clone)]
pub struct Dynamics {
    periods: usize,
    effect: Vec<f64>,
    baseline: Vec<f64>,
    noise: f64,
    returns: f64,
    drift: Vec<f64>,
    shocks: Vec<ShockTruth>,
}

impl Dynamics {
    /// Periods after the observational one.
    pub fn periods(&self) -> usize {
        self.periods
    }

    /// Regions.
    pub fn n(&self) -> usize {
        self.effect.len()
    }

    /// The standard deviation of each period's outcome noise.
    pub fn noise(&self) -> f64 {
        self.noise
    }

    /// The shocks, in the order declared.
    pub fn shocks(&self) -> &[ShockTruth] {
        &self.shocks
    }

    /// The true effect of funding region `i` in period `t` after it was
    /// funded in `stock` earlier periods.
    pub fn effect(&self, i: usize, t: usize, stock: usize) -> f64 {
        let shocked: f64 = self
            .shocks
            .iter()
            .filter(|s| s.active(t) && s.hit[i])
            .map(|s| s.effect)
            .sum();
        let base = self.effect[i] + self.drift[i] * t as f64 + shocked;
        base * self.returns.powi(stock.min(i32::MAX as usize) as i32)
    }

    /// Region `i`'s expected outcome in period `t` when it is not funded.
    pub fn untreated(&self, i: usize, t: usize) -> f64 {
        let shocked: f64 = self
            .shocks
            .iter()
            .filter(|s| s.active(t) && s.hit[i])
            .map(|s| s.outcome)
            .sum();
        self.baseline[i] + shocked
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::{array, Array1};

    #[test]
    fn effects_drift_shock_and_diminish_as_declared() {
        let names = vec!["a".to_string(), "b".to_string()];
        let periods = Periods {
            count: 6,
            noise: 0.5,
            returns: 0.5,
            drift: 0.1,
            drift_along: Some("a".into()),
            shocks: vec![Shock {
                regions: "b > 0".into(),
                from: 2,
                to: 3,
                effect: 1.0,
                outcome: -2.0,
            }],
        };
        let plan = periods.plan(&names).expect("valid").expect("periods");
        let x = array![[-1.0, 1.0], [1.0, -1.0]];
        let data = Dataset::new(Array1::zeros(2), Array1::zeros(2), None, x, names).expect("data");
        let dynamics = plan.dynamics(&data, vec![2.0, 3.0], vec![0.5, 0.7]);
        assert_eq!((dynamics.periods(), dynamics.n()), (6, 2));
        // Region 1 sits 1 SD below the mean of `a`: its effect falls by 0.1 a period.
        assert!((dynamics.effect(0, 1, 0) - 1.9).abs() < 1e-12);
        // The shock adds 1 in periods 2 and 3 to region 1 only, and lowers its health.
        assert!((dynamics.effect(0, 2, 0) - 2.8).abs() < 1e-12);
        assert!((dynamics.effect(1, 2, 0) - 3.2).abs() < 1e-12);
        assert!((dynamics.untreated(0, 3) + 1.5).abs() < 1e-12);
        assert!((dynamics.untreated(0, 4) - 0.5).abs() < 1e-12);
        // Two funded periods leave a quarter of the effect.
        assert!((dynamics.effect(1, 4, 2) - 0.25 * 3.4).abs() < 1e-12);
    }

    #[test]
    fn bad_periods_say_what_to_change() {
        let names = vec!["a".to_string()];
        let with = |f: &dyn Fn(&mut Periods)| {
            let mut p = Periods {
                count: 4,
                ..Periods::default()
            };
            f(&mut p);
            p.plan(&names).expect_err("an error").to_string()
        };
        assert!(with(&|p| p.returns = 1.5).contains("`returns` is 1.5"));
        assert!(with(&|p| p.noise = -1.0).contains("`noise` is -1"));
        assert!(with(&|p| p.drift = 0.1).contains("`drift` needs `drift_along`"));
        let idle = |p: &mut Periods| {
            p.count = 0;
            p.returns = 0.8;
        };
        assert!(with(&idle).contains("`count` is 0"));
        let shock = |from, to| Shock {
            regions: "a > 0".into(),
            from,
            to,
            effect: 1.0,
            outcome: 0.0,
        };
        assert!(with(&|p| p.shocks = vec![shock(0, 2)]).contains("shock 1 runs from period 0"));
        assert!(with(&|p| p.shocks = vec![shock(3, 2)]).contains("`from` at most `to`"));
        assert!(Periods::default().plan(&names).expect("none").is_none());
    }
}
