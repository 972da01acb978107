//! Placement policies judged on a hospital world's days: each placement a
//! policy decided (or the oracle's, which alone reads the truth) is valued
//! by the model (estimated welfare, regrets at the lower bounds) and by the
//! world (the true change in the cohort's expected survivors, congestion
//! included).

use std::collections::BTreeMap;

use ndarray::Array2;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::bounds::BoundKind;
use crate::data::{Cohorts, Unit};
use crate::policy::placement::{
    days, solve, Bests, Criterion, Day, Model, Objective, PlacementPolicy, PlacementRule,
};
use crate::policy::{Policy, Solver};
use crate::sim::PlacementTruth;
use crate::{Error, Result};

/// The world's objective: the change in the cohort's expected survivors when
/// it is placed so, every placement at the busyness it creates itself.
fn true_objective(
    cohorts: &Cohorts,
    world: &dyn PlacementTruth,
    d: usize,
    observed: &[bool],
) -> Objective {
    let day = &cohorts.days[d];
    let n = day.size();
    let mut gain = Vec::with_capacity((n + 1) * n);
    for j in 0..=n {
        for i in day.start..day.end {
            gain.push(
                world.survival(i, Unit::InternalMedicine, j) - world.survival(i, Unit::Surgical, j),
            );
        }
    }
    let observed_welfare = world.welfare(d, observed);
    let base = (0..=n)
        .map(|j| {
            (day.start..day.end)
                .map(|i| world.survival(i, Unit::Surgical, j))
                .sum::<f64>()
                - observed_welfare
        })
        .collect();
    Objective { base, gain }
}

/// A day as a policy sees it, with the world's objective beside it.
#[derive(Debug, Clone)]
pub struct PlacementDay {
    /// What policies see of the day.
    pub input: Day,
    /// The true change in the cohort's expected survivors against the observed placement.
    pub truth: Objective,
}

/// Builds each day's objectives: the estimated and lower-bound welfare from
/// the model (none without one), and the truth beside them.
pub fn placement_days(
    cohorts: &Cohorts,
    world: &dyn PlacementTruth,
    x: &Array2<f64>,
    w: &[f64],
    selected: &[usize],
    model: Option<&Model<'_>>,
) -> Result<Vec<PlacementDay>> {
    Ok(days(cohorts, x, w, selected, model)?
        .into_iter()
        .map(|input| PlacementDay {
            truth: true_objective(cohorts, world, input.day, &input.observed),
            input,
        })
        .collect())
}

impl PlacementDay {
    /// Places the day's cohort by `rule` (the oracle by the truth, every
    /// other rule by its policy) and judges the placement.
    pub fn place(
        &self,
        rule: PlacementRule,
        solver: Solver,
        limit: Option<f64>,
        bests: &Bests,
        oracle: f64,
    ) -> Result<Outcome> {
        let day = &self.input;
        let (placement, proven, criterion) = match rule {
            PlacementRule::Oracle => {
                let p = day.problem(vec![self.truth.clone()], limit);
                let s = solve(&p, Criterion::WelfareMax, solver)?;
                (s.placement, s.proven, s.values[0])
            }
            rule => {
                let policy = PlacementPolicy {
                    rule,
                    solver,
                    limit,
                };
                let decided = policy.decide((day, bests))?;
                (decided.placement, decided.proven, decided.criterion)
            }
        };
        let judge = day.problem(Vec::new(), limit);
        let value = |o: &Objective| day.problem(vec![o.clone()], limit).value(0, &placement);
        Ok(Outcome {
            estimated: day.estimated.as_ref().map(value),
            truth: value(&self.truth),
            oracle,
            regrets: day
                .lower
                .iter()
                .map(|(b, o)| (*b, bests.lower_of(*b).unwrap_or(f64::NAN) - value(o)))
                .collect(),
            moves: judge.moves(&placement),
            proven,
            criterion,
            placement,
        })
    }

    /// The oracle's true gain under a reassignment limit: the best the
    /// world allows, which regret against the truth is measured from.
    pub fn oracle(&self, limit: Option<f64>) -> Result<f64> {
        self.input.best(&self.truth, limit)
    }
}

/// A placement of one day and how it scores, every figure against the
/// observed placement.
#[derive(Debug, Clone, PartialEq)]
pub struct Outcome {
    /// The placement (true = internal medicine).
    pub placement: Vec<bool>,
    /// Its estimated welfare gain (with a model).
    pub estimated: Option<f64>,
    /// Its true gain in expected survivors.
    pub truth: f64,
    /// The oracle's true gain under the same constraints.
    pub oracle: f64,
    /// Its regret at each bound's lower-bound welfare.
    pub regrets: Vec<(BoundKind, f64)>,
    /// Patients placed differently from the observed placement.
    pub moves: usize,
    /// Whether the solver proved the placement optimal.
    pub proven: bool,
    /// The rule's criterion at the placement, judged by the exact best
    /// values (so a greedy and an exact placement compare).
    pub criterion: f64,
}

/// A policy's results over a sample's days, per patient.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PolicySummary {
    /// Days placed.
    pub days: usize,
    /// Patients placed.
    pub patients: usize,
    /// Estimated welfare gain per patient against the observed placement, by
    /// the estimator's effects (none for rules without an estimator).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub estimated_gain: Option<f64>,
    /// True gain in survival probability per patient, congestion included.
    pub true_gain: f64,
    /// The oracle's true gain per patient under the same reassignment limit.
    pub oracle_gain: f64,
    /// Regret per patient at each bound's lower-bound welfare (by bound key).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub regrets: BTreeMap<String, f64>,
    /// Share of patients placed differently from the observed placement.
    pub reassigned: f64,
    /// Share of days the solver could not prove optimal.
    pub unproven: f64,
    /// Share of the predicted (patient, count) effects that fell outside
    /// [-1, 1] and were clipped: a symptom of a near-zero local first stage.
    #[serde(default)]
    pub clipped: f64,
}

/// Runs one policy on every day and sums its results per patient; an error
/// names the day and hospital.
pub fn summarize_policy(
    cohorts: &Cohorts,
    days: &[PlacementDay],
    rule: PlacementRule,
    solver: Solver,
    limit: Option<f64>,
) -> Result<PolicySummary> {
    let outcomes: Vec<Result<Outcome>> = days
        .par_iter()
        .map(|day| {
            let place = || {
                let bests = day.input.bests(limit)?;
                let oracle = day.oracle(limit)?;
                day.place(rule, solver, limit, &bests, oracle)
            };
            place().map_err(|e| name_day(cohorts, day.input.day, e))
        })
        .collect();
    let outcomes = outcomes.into_iter().collect::<Result<Vec<_>>>()?;
    let patients: usize = days.iter().map(|d| d.input.observed.len()).sum();
    let per = |v: f64| v / patients.max(1) as f64;
    let mut regrets = BTreeMap::new();
    for o in &outcomes {
        for (b, r) in &o.regrets {
            *regrets.entry(b.key().to_string()).or_insert(0.0) += per(*r);
        }
    }
    Ok(PolicySummary {
        days: days.len(),
        patients,
        estimated_gain: days
            .iter()
            .all(|d| d.input.estimated.is_some())
            .then(|| per(outcomes.iter().filter_map(|o| o.estimated).sum())),
        true_gain: per(outcomes.iter().map(|o| o.truth).sum()),
        oracle_gain: per(outcomes.iter().map(|o| o.oracle).sum()),
        regrets,
        reassigned: per(outcomes.iter().map(|o| o.moves as f64).sum()),
        unproven: outcomes.iter().filter(|o| !o.proven).count() as f64
            / outcomes.len().max(1) as f64,
        clipped: days.iter().map(|d| d.input.clipped as f64).sum::<f64>()
            / days
                .iter()
                .map(|d| (d.input.observed.len() * (d.input.observed.len() + 1)) as f64)
                .sum::<f64>()
                .max(1.0),
    })
}

/// Prefixes an error with the day's date and hospital.
pub fn name_day(cohorts: &Cohorts, d: usize, e: Error) -> Error {
    let day = &cohorts.days[d];
    Error::Data(format!(
        "day {} at hospital {}: {e}",
        day.date, cohorts.hospitals[day.hospital]
    ))
}
