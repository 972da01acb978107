//! The registry of feedback policies: `[[policies]]` entries of
//! `kind = "feedback"`, parsed and checked into a [`FeedbackSpec`], which
//! fund regions period after period on a world with `[periods]`, learning
//! from the outcomes of their own decisions, and are judged each period
//! against the best decision the world's dynamics allow.

use serde::Deserialize;

use crate::core::text::number;
use crate::policy::feedback::{FeedbackSpec, Rule};
use crate::sim::periods::MAX_PERIODS;

/// Most regions a feedback policy may fund per period.
pub const MAX_BUDGET: usize = 10_000_000;

/// A `[[policies]]` entry of `kind = "feedback"`, as written (without its `kind`).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct FeedbackEntry {
    name: Option<String>,
    rule: Option<Rule>,
    budget: Option<usize>,
    weight: Option<String>,
    model: Option<Vec<String>>,
    window: Option<usize>,
    kappa: Option<f64>,
    level: Option<String>,
    step: Option<f64>,
    tolerance: Option<f64>,
}

impl FeedbackEntry {
    /// Checks the entry; the error says what to change.
    pub(crate) fn check(self) -> Result<FeedbackSpec, String> {
        let rule = self.rule.ok_or(
            "kind = \"feedback\" needs `rule`: oracle, once (estimate once and keep the \
             allocation), reestimate, thompson, ucb or random",
        )?;
        let budget = self
            .budget
            .ok_or("kind = \"feedback\" needs `budget`: the regions funded per period")?;
        if !(1..=MAX_BUDGET).contains(&budget) {
            return Err(format!(
                "`budget` is {budget}; fund between 1 and {MAX_BUDGET} regions per period"
            ));
        }
        if !rule.learns() {
            let given = [
                ("model", self.model.is_some()),
                ("window", self.window.is_some()),
                ("kappa", self.kappa.is_some()),
            ];
            if let Some((key, _)) = given.iter().find(|(_, set)| *set) {
                return Err(format!(
                    "rule = \"{}\" learns no model; it takes no `{key}`",
                    rule.key()
                ));
            }
        }
        if let Some(window) = self.window {
            if rule == Rule::Once {
                return Err(
                    "rule = \"once\" estimates on the observational sample only; it \
                     takes no `window`"
                        .into(),
                );
            }
            if !(1..=MAX_PERIODS + 1).contains(&window) {
                return Err(format!(
                    "`window` is {window}; it is the number of latest periods the model is fit \
                     on, between 1 and {}",
                    MAX_PERIODS + 1
                ));
            }
        }
        let kappa = match (rule, self.kappa) {
            (Rule::Ucb, k) => {
                let k = k.unwrap_or(1.0);
                if !(k.is_finite() && k >= 0.0) {
                    return Err(format!(
                        "`kappa` is {}; it is the standard errors added to the estimate, a \
                         finite number at least 0",
                        number(k)
                    ));
                }
                Some(k)
            }
            (_, Some(_)) => return Err("`kappa` belongs to rule = \"ucb\"".into()),
            (_, None) => None,
        };
        let step = self.step.unwrap_or(1.0);
        if self.level.is_none() && self.step.is_some() {
            return Err(
                "`step` needs `level`: the column with each region's resource level \
                 per head (e.g. level = \"beds\")"
                    .into(),
            );
        }
        if !(step.is_finite() && step > 0.0) {
            return Err(format!(
                "`step` is {}; it is how much one funded period raises a region's level, a \
                 positive number",
                number(step)
            ));
        }
        let tolerance = self.tolerance.unwrap_or(0.02);
        if !(0.0..=1.0).contains(&tolerance) {
            return Err(format!(
                "`tolerance` is {}; it is a share of the period's best gain, in [0, 1]",
                number(tolerance)
            ));
        }
        let name = self.name.unwrap_or_else(|| {
            let mut name = format!("feedback: {}", rule.key());
            if let Some(w) = self.window {
                name.push_str(&format!(", window {w}"));
            }
            name
        });
        Ok(FeedbackSpec {
            name,
            rule,
            budget,
            weight: self.weight,
            model: self.model.unwrap_or_default(),
            window: self.window,
            kappa,
            level: self.level,
            step,
            tolerance,
        })
    }
}
