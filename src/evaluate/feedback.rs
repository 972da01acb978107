//! Feedback policies played against the world over its periods: each
//! period the rule decides from what it has seen, the world's dynamics say
//! what that decision truly gains and what the best decision of the period
//! would have (the per-period oracle, given the regions' funding so far),
//! and every region's outcome is drawn for the rule to learn from.
//!
//! The outcome noise is the same for every rule (its seed names no rule),
//! so rules are compared on common random numbers.

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, StandardNormal};
use serde::{Deserialize, Serialize};

use super::allocation::gini;
use crate::data::Dataset;
use crate::policy::feedback::{choose, FeedbackSpec, Learner, PeriodState, Rule};
use crate::policy::{column, weights, Policy};
use crate::sim::periods::Dynamics;
use crate::Result;

/// One feedback rule's results over the periods of one sample.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FeedbackSummary {
    /// The true health gain of the rule's decision in each period (1, 2, ...).
    pub gain: Vec<f64>,
    /// The true gain of the period's best decision, given the regions'
    /// funding so far under the rule.
    pub oracle_gain: Vec<f64>,
    /// The first shock's first and last period, when the world has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shock: Option<(usize, usize)>,
    /// Periods from the first shock's start until the rule's regret share is
    /// back within the tolerance of its share before the shock; censored at
    /// the shock's length when it never is.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recovery: Option<f64>,
    /// Whether the rule recovered before the shock ended.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recovered: Option<bool>,
    /// Gini coefficient of the per-head resource level before the periods (with a `level`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gini_before: Option<f64>,
    /// The same after the last period.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gini_after: Option<f64>,
}

impl FeedbackSummary {
    /// The regret of each period: the oracle's gain less the rule's.
    pub fn regret(&self) -> Vec<f64> {
        self.oracle_gain
            .iter()
            .zip(&self.gain)
            .map(|(o, g)| o - g)
            .collect()
    }

    /// The mean regret per period over periods `from..=to` (1-based), when any.
    pub fn mean_regret(&self, from: usize, to: usize) -> Option<f64> {
        let regret = self.regret();
        let window: Vec<f64> = (from.max(1)..=to.min(regret.len()))
            .map(|t| regret[t - 1])
            .collect();
        (!window.is_empty()).then(|| window.iter().sum::<f64>() / window.len() as f64)
    }
}

/// The share of the period's best gain that a decision missed (0 when the
/// best gain is not positive).
fn share(regret: f64, oracle: f64) -> f64 {
    if oracle > 0.0 {
        regret / oracle
    } else {
        0.0
    }
}

/// Periods from the shock's start until the regret share is within
/// `tolerance` of its mean before the shock (0 when it never left), censored
/// at the shock's length, and whether it came back within the shock.
fn recovery(summary: &FeedbackSummary, (from, to): (usize, usize), tolerance: f64) -> (f64, bool) {
    let shares: Vec<f64> = summary
        .regret()
        .iter()
        .zip(&summary.oracle_gain)
        .map(|(r, o)| share(*r, *o))
        .collect();
    let before = &shares[..from - 1];
    let level = if before.is_empty() {
        0.0
    } else {
        before.iter().sum::<f64>() / before.len() as f64
    };
    match (from..=to).find(|&t| shares[t - 1] <= level + tolerance) {
        Some(t) => ((t - from) as f64, true),
        None => ((to - from + 1) as f64, false),
    }
}

/// Plays the feedback rule `spec` over the periods of `dynamics`, starting
/// from the observational sample `data`; `noise_seed` draws the outcomes
/// (shared by every rule), `seed` the rule's own draws.
pub fn evaluate_feedback(
    spec: &FeedbackSpec,
    data: &Dataset,
    dynamics: &Dynamics,
    noise_seed: u64,
    seed: u64,
) -> Result<FeedbackSummary> {
    let n = data.n();
    let weight = weights(spec.weight.as_deref(), data)?;
    let levels = match &spec.level {
        Some(name) => Some(column(data, name, "level")?),
        None => None,
    };
    let mut learner = match spec.rule {
        Rule::Oracle => None,
        _ => Some(Learner::new(spec, data, &weight, seed)?),
    };
    let mut noise = ChaCha8Rng::seed_from_u64(noise_seed);
    let mut stock = vec![0usize; n];
    let (mut gain, mut oracle_gain) = (Vec::new(), Vec::new());
    let mut y = vec![0.0; n];
    for t in 1..=dynamics.periods() {
        let effect: Vec<f64> = (0..n).map(|i| dynamics.effect(i, t, stock[i])).collect();
        let worth: Vec<f64> = effect.iter().zip(&weight).map(|(e, w)| e * w).collect();
        let best = choose(worth.clone(), spec.budget)?;
        let funded = match &learner {
            None => best.clone(),
            Some(l) => l.decide(PeriodState {
                period: t,
                stock: &stock,
            })?,
        };
        let total = |chosen: &[bool]| -> f64 {
            chosen
                .iter()
                .zip(&worth)
                .filter(|(c, _)| **c)
                .map(|(_, v)| v)
                .sum()
        };
        oracle_gain.push(total(&best));
        gain.push(total(&funded));
        for (i, yi) in y.iter_mut().enumerate() {
            let e: f64 = StandardNormal.sample(&mut noise);
            let treated = if funded[i] { effect[i] } else { 0.0 };
            *yi = dynamics.untreated(i, t) + treated + dynamics.noise() * e;
        }
        if let Some(l) = &mut learner {
            l.observe(t, &stock, &funded, &y);
        }
        for (s, f) in stock.iter_mut().zip(&funded) {
            *s += usize::from(*f);
        }
    }
    let mut summary = FeedbackSummary {
        gain,
        oracle_gain,
        shock: dynamics.shocks().first().map(|s| (s.from, s.to)),
        recovery: None,
        recovered: None,
        gini_before: None,
        gini_after: None,
    };
    if let Some(window) = summary.shock {
        let (periods, back) = recovery(&summary, window, spec.tolerance);
        summary.recovery = Some(periods);
        summary.recovered = Some(back);
    }
    if let Some(levels) = levels {
        let after: Vec<f64> = levels
            .iter()
            .zip(&stock)
            .map(|(l, &k)| l + spec.step * k as f64)
            .collect();
        summary.gini_before = gini(&levels, &weight);
        summary.gini_after = gini(&after, &weight);
    }
    Ok(summary)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn summary(gain: &[f64], oracle: &[f64]) -> FeedbackSummary {
        FeedbackSummary {
            gain: gain.to_vec(),
            oracle_gain: oracle.to_vec(),
            shock: None,
            recovery: None,
            recovered: None,
            gini_before: None,
            gini_after: None,
        }
    }

    #[test]
    fn recovery_counts_periods_until_the_regret_share_is_back() {
        // Shares 0.1, 0.1 before; the shock (periods 3 to 6) drives them to
        // 0.5, 0.3, then 0.12 at period 5.
        let s = summary(
            &[0.9, 0.9, 0.5, 0.7, 0.88, 0.9],
            &[1.0, 1.0, 1.0, 1.0, 1.0, 1.0],
        );
        assert_eq!(recovery(&s, (3, 6), 0.05), (2.0, true));
        // Never back within the shock: censored at its length.
        let s = summary(&[0.9, 0.9, 0.5, 0.5, 0.5, 0.5], &[1.0; 6]);
        assert_eq!(recovery(&s, (3, 6), 0.05), (4.0, false));
        // A shock from the first period measures against no regret.
        let s = summary(&[0.5, 0.97, 1.0], &[1.0; 3]);
        assert_eq!(recovery(&s, (1, 3), 0.05), (1.0, true));
        let mean = s.mean_regret(1, 2).expect("two periods");
        assert!((mean - 0.265).abs() < 1e-12, "{mean}");
        assert_eq!(s.mean_regret(4, 9), None);
    }
}
