//! Placement policies judged on a hospital world's days: every patient's
//! effect and lower bounds predicted at the busyness each count in internal
//! medicine creates, each day's problem solved under its free beds and a
//! reassignment limit, and each placement judged twice: by the model
//! (estimated welfare, regrets at the lower bounds) and by the world (the
//! true change in the cohort's expected survivors, congestion included).

use std::collections::BTreeMap;

use ndarray::Array2;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::bounds::{local_bounds, BoundKind};
use crate::core::stats::Z_95;
use crate::estimate::forest::{FittedForest, Path};
use crate::policy::{exact, greedy, Objective, Problem, Rule, Solution};
use crate::sim::hospital::{Cohorts, Unit};
use crate::spec::{PolicyRule, Solver};
use crate::{Error, Result};

/// The training data behind a forest's local bounds: outcome, treatment and
/// instrument (`None` for a causal forest, whose bounds use no instrument).
#[derive(Debug, Clone, Copy)]
pub struct Training<'a> {
    /// Outcome (binary for the bounds).
    pub y: &'a [f64],
    /// Treatment.
    pub w: &'a [f64],
    /// Instrument, if the forest has one.
    pub z: Option<&'a [f64]>,
}

/// A fitted forest and what the policies need from it.
#[derive(Debug, Clone, Copy)]
pub struct Model<'a> {
    /// The forest predicting each patient's effect.
    pub forest: &'a FittedForest,
    /// Columns of `x` holding the [surgical, internal-medicine] busyness.
    pub busyness: [usize; 2],
    /// The lower bounds to compute (the frequentist one needs little bags).
    pub bounds: &'a [BoundKind],
    /// The data the forest was trained on, for the Manski and Balke-Pearl bounds.
    pub training: Training<'a>,
}

/// One day's placement problem, with every objective a policy or a regret needs.
#[derive(Debug, Clone)]
pub struct PlacementDay {
    /// Index into the cohorts' days.
    pub day: usize,
    /// The observed placement (true = internal medicine).
    pub observed: Vec<bool>,
    /// Free [surgical, internal-medicine] beds.
    pub free: [usize; 2],
    /// Estimated welfare against the observed placement (with a model).
    pub estimated: Option<Objective>,
    /// Welfare at each bound's lower ends, against the observed placement.
    pub lower: Vec<(BoundKind, Objective)>,
    /// The true change in the cohort's expected survivors against the observed placement.
    pub truth: Objective,
    /// How many of the day's (patient, count) effects were clipped to [-1, 1].
    pub clipped: usize,
}

/// An objective valuing a placement against the observed one: `gain[j * n + i]`
/// for patient i in internal medicine at count j, less the observed placement's.
fn against_observed(n: usize, observed: &[bool], gain: Vec<f64>) -> Objective {
    let base = (0..=n)
        .map(|j| {
            -observed
                .iter()
                .enumerate()
                .filter(|(_, &o)| o)
                .map(|(i, _)| gain[j * n + i])
                .sum::<f64>()
        })
        .collect();
    Objective { base, gain }
}

/// The world's objective: the change in the cohort's expected survivors when
/// it is placed so, every placement at the busyness it creates itself.
fn true_objective(cohorts: &Cohorts, d: usize, observed: &[bool]) -> Objective {
    let day = &cohorts.days[d];
    let n = day.size();
    let mut gain = Vec::with_capacity((n + 1) * n);
    for j in 0..=n {
        for i in day.start..day.end {
            gain.push(
                cohorts.survival(i, Unit::InternalMedicine, j)
                    - cohorts.survival(i, Unit::Surgical, j),
            );
        }
    }
    let observed_welfare = cohorts.welfare(d, observed);
    let base = (0..=n)
        .map(|j| {
            (day.start..day.end)
                .map(|i| cohorts.survival(i, Unit::Surgical, j))
                .sum::<f64>()
                - observed_welfare
        })
        .collect();
    Objective { base, gain }
}

/// The logical range of an effect on a probability: a forest's estimate
/// beyond it (where the local first stage is near zero) is clipped to it.
const EFFECT_RANGE: (f64, f64) = (-1.0, 1.0);

/// Every patient's effect at each count `j` of a day (`tau[j * n + i]`) and
/// the lower ends of the requested bounds, all clipped to [`EFFECT_RANGE`],
/// and how many effects were clipped.
struct Effects {
    tau: Vec<f64>,
    lower: Vec<(BoundKind, Vec<f64>)>,
    clipped: usize,
}

/// An effect or bound clipped to [`EFFECT_RANGE`].
fn clip(v: f64) -> f64 {
    v.clamp(EFFECT_RANGE.0, EFFECT_RANGE.1)
}

/// The training data as the eight (z, w, y) cell indicators (cell
/// `4z + 2w + y`), whose forest-weighted means are the local P(Z, W, Y | x)
/// behind the Manski and Balke-Pearl bounds; `None` without those bounds.
fn cell_columns(model: &Model<'_>) -> Result<Option<Vec<Vec<f64>>>> {
    if !model
        .bounds
        .iter()
        .any(|b| matches!(b, BoundKind::Manski | BoundKind::BalkePearl))
    {
        return Ok(None);
    }
    let t = model.training;
    let n = t.y.len();
    if t.w.len() != n || t.z.is_some_and(|z| z.len() != n) {
        return Err(Error::Data(format!(
            "the bounds' training data has {n} outcomes but {} treatments",
            t.w.len()
        )));
    }
    let binary = |what: &str, r: usize, v: f64| -> Result<usize> {
        match v {
            0.0 => Ok(0),
            1.0 => Ok(1),
            _ => Err(Error::Data(format!(
                "the Manski and Balke-Pearl bounds need a binary {what}; unit {r} has {v}"
            ))),
        }
    };
    let mut columns = vec![vec![0.0; n]; 8];
    for r in 0..n {
        let z = match t.z {
            Some(z) => binary("instrument", r, z[r])?,
            None => 0,
        };
        let cell = 4 * z + 2 * binary("treatment", r, t.w[r])? + binary("outcome", r, t.y[r])?;
        columns[cell][r] = 1.0;
    }
    Ok(Some(columns))
}

/// The local bounds at a point from the forest-weighted cell masses
/// (`masses[4z + 2w + y]`), through [`local_bounds`] on the eight cells as
/// weighted units.
fn bounds_from_cells(masses: &[f64]) -> Result<crate::bounds::LocalBounds> {
    const Y: [f64; 8] = [0.0, 1.0, 0.0, 1.0, 0.0, 1.0, 0.0, 1.0];
    const W: [f64; 8] = [0.0, 0.0, 1.0, 1.0, 0.0, 0.0, 1.0, 1.0];
    const Z: [f64; 8] = [0.0, 0.0, 0.0, 0.0, 1.0, 1.0, 1.0, 1.0];
    // Sums along a path carry rounding: a mass of -1e-20 is an empty cell.
    let weights: Vec<(usize, f64)> = masses.iter().map(|m| m.max(0.0)).enumerate().collect();
    local_bounds(&weights, &Y, &W, &Z)
}

/// Effects of every patient of `days` at the busyness of each count, and the
/// requested lower bounds, from one walk of each tree per patient
/// ([`FittedForest::predict_paths`]).
fn effects(
    cohorts: &Cohorts,
    x: &Array2<f64>,
    days: &[usize],
    model: &Model<'_>,
) -> Result<Vec<Effects>> {
    let x = x.as_standard_layout();
    let cells = cell_columns(model)?;
    let leaf_means = match &cells {
        Some(columns) => {
            let refs: Vec<&[f64]> = columns.iter().map(Vec::as_slice).collect();
            Some(model.forest.leaf_means(&refs)?)
        }
        None => None,
    };
    // The busyness of [surgical, internal medicine] at each count, per day.
    let steps: Vec<Vec<f64>> = days
        .iter()
        .map(|&d| {
            let day = &cohorts.days[d];
            (0..=day.size()).flat_map(|j| day.busyness(j)).collect()
        })
        .collect();
    let mut paths = Vec::new();
    for (k, &d) in days.iter().enumerate() {
        let day = &cohorts.days[d];
        for i in day.start..day.end {
            let base = x
                .row(i)
                .to_slice()
                .ok_or_else(|| Error::Data("the covariate matrix is not contiguous".into()))?;
            paths.push(Path {
                base,
                values: &steps[k],
            });
        }
    }
    let predicted = model
        .forest
        .predict_paths(&model.busyness, &paths, leaf_means.as_ref())?;
    let mut out = Vec::with_capacity(days.len());
    let mut first = 0;
    for &d in days {
        let n = cohorts.days[d].size();
        // Path `first + i`, step `j` is patient i at count j.
        let at = |i: usize, j: usize| predicted.offsets[first + i] + j;
        let mut tau = vec![0.0; (n + 1) * n];
        let mut clipped = 0;
        let mut lower: Vec<(BoundKind, Vec<f64>)> = model
            .bounds
            .iter()
            .map(|&b| (b, vec![0.0; (n + 1) * n]))
            .collect();
        for i in 0..n {
            for j in 0..=n {
                let r = at(i, j);
                let p = predicted.predictions[r];
                if !(EFFECT_RANGE.0..=EFFECT_RANGE.1).contains(&p.tau) {
                    clipped += 1;
                }
                tau[j * n + i] = clip(p.tau);
                let local = match &leaf_means {
                    Some(m) => Some(bounds_from_cells(
                        &predicted.means[r * m.columns()..(r + 1) * m.columns()],
                    )?),
                    None => None,
                };
                for (b, ends) in &mut lower {
                    ends[j * n + i] = clip(match (*b, &local) {
                        (BoundKind::Manski, Some(l)) => l.manski.lower,
                        (BoundKind::BalkePearl, Some(l)) => l.balke_pearl.lower,
                        _ => p.tau - Z_95 * p.variance.max(0.0).sqrt(),
                    });
                }
            }
        }
        first += n;
        out.push(Effects {
            tau,
            lower,
            clipped,
        });
    }
    Ok(out)
}

/// Builds each day's objectives: the truth always, the estimated welfare and
/// the lower-bound welfare when a model is given.
pub fn placement_days(
    cohorts: &Cohorts,
    x: &Array2<f64>,
    w: &[f64],
    days: &[usize],
    model: Option<&Model<'_>>,
) -> Result<Vec<PlacementDay>> {
    let effects = match model {
        Some(m) => Some(effects(cohorts, x, days, m)?),
        None => None,
    };
    days.iter()
        .enumerate()
        .map(|(k, &d)| {
            let day = &cohorts.days[d];
            let n = day.size();
            let observed: Vec<bool> = (day.start..day.end).map(|i| w[i] > 0.5).collect();
            let (estimated, lower, clipped) = match &effects {
                Some(e) => {
                    let Effects {
                        tau,
                        lower,
                        clipped,
                    } = &e[k];
                    let lower = lower
                        .iter()
                        .map(|(b, ends)| (*b, against_observed(n, &observed, ends.clone())))
                        .collect();
                    (
                        Some(against_observed(n, &observed, tau.clone())),
                        lower,
                        *clipped,
                    )
                }
                None => (None, Vec::new(), 0),
            };
            let free = day.free_beds();
            Ok(PlacementDay {
                day: d,
                truth: true_objective(cohorts, d, &observed),
                observed,
                free: [free[0].max(0.0) as usize, free[1].max(0.0) as usize],
                estimated,
                lower,
                clipped,
            })
        })
        .collect()
}

impl PlacementDay {
    /// The day's problem with these objectives under a reassignment limit.
    fn problem(&self, objectives: Vec<Objective>, limit: Option<f64>) -> Problem {
        let n = self.observed.len();
        Problem {
            n,
            objectives,
            observed: self.observed.clone(),
            max_internal: self.free[1],
            max_surgical: self.free[0],
            max_moves: limit.map(|l| (l * n as f64 + 1e-9).floor() as usize),
        }
    }

    /// The lower-bound objective of a bound kind, or an error saying it was not computed.
    fn lower(&self, bound: BoundKind) -> Result<&Objective> {
        self.lower
            .iter()
            .find(|(b, _)| *b == bound)
            .map(|(_, o)| o)
            .ok_or_else(|| {
                Error::Spec(format!(
                    "no {} lower bounds were computed for this policy",
                    bound.label()
                ))
            })
    }

    /// The best value of every objective under a reassignment limit, which
    /// regrets are measured from.
    pub fn bests(&self, limit: Option<f64>) -> Result<Bests> {
        let best = |o: &Objective| -> Result<f64> {
            Ok(exact(&self.problem(vec![o.clone()], limit), Rule::WelfareMax)?.values[0])
        };
        Ok(Bests {
            estimated: self.estimated.as_ref().map(best).transpose()?,
            lower: self
                .lower
                .iter()
                .map(|(b, o)| Ok((*b, best(o)?)))
                .collect::<Result<_>>()?,
            oracle: best(&self.truth)?,
        })
    }

    /// Places the day's cohort by `rule` and judges the placement.
    pub fn place(
        &self,
        rule: PolicyRule,
        solver: Solver,
        limit: Option<f64>,
        bests: &Bests,
    ) -> Result<Outcome> {
        let estimated = || {
            self.estimated
                .clone()
                .ok_or_else(|| Error::Spec(format!("{} needs an estimator's effects", rule.kind())))
        };
        let solve = |problem: &Problem, rule: Rule| -> Result<Solution> {
            match solver {
                Solver::Exact => exact(problem, rule),
                Solver::Greedy => greedy(problem, rule),
            }
        };
        let (placement, proven, criterion) = match rule {
            PolicyRule::Observed => {
                let p = self.problem(vec![self.truth.clone()], None);
                (self.observed.clone(), true, p.value(0, &self.observed))
            }
            PolicyRule::WelfareMax => {
                let p = self.problem(vec![estimated()?], limit);
                let s = solve(&p, Rule::WelfareMax)?;
                (s.placement, s.proven, s.values[0])
            }
            PolicyRule::MinimaxRegret(bound) => {
                let p = self.problem(vec![estimated()?, self.lower(bound)?.clone()], limit);
                let s = solve(&p, Rule::MinimaxRegret)?;
                let best = [
                    bests.estimated.unwrap_or(f64::NAN),
                    bests.lower_of(bound).unwrap_or(f64::NAN),
                ];
                // Judged by the exact best values, whatever the solver believed.
                let criterion = p.criterion(Rule::MinimaxRegret, &best, &s.placement);
                (s.placement, s.proven, criterion)
            }
            PolicyRule::Oracle => {
                let p = self.problem(vec![self.truth.clone()], limit);
                let s = solve(&p, Rule::WelfareMax)?;
                (s.placement, s.proven, s.values[0])
            }
        };
        let judge = self.problem(Vec::new(), limit);
        let value = |o: &Objective| self.problem(vec![o.clone()], limit).value(0, &placement);
        Ok(Outcome {
            estimated: self.estimated.as_ref().map(value),
            truth: value(&self.truth),
            oracle: bests.oracle,
            regrets: self
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
}

/// Each objective's best feasible value on a day under one reassignment limit.
#[derive(Debug, Clone, PartialEq)]
pub struct Bests {
    /// Best estimated welfare (with a model).
    pub estimated: Option<f64>,
    /// Best welfare at each bound's lower ends.
    pub lower: Vec<(BoundKind, f64)>,
    /// Best true welfare: the oracle's.
    pub oracle: f64,
}

impl Bests {
    fn lower_of(&self, bound: BoundKind) -> Option<f64> {
        self.lower
            .iter()
            .find(|(b, _)| *b == bound)
            .map(|(_, v)| *v)
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
    rule: PolicyRule,
    solver: Solver,
    limit: Option<f64>,
) -> Result<PolicySummary> {
    let outcomes: Vec<Result<Outcome>> = days
        .par_iter()
        .map(|day| {
            day.bests(limit)
                .and_then(|bests| day.place(rule, solver, limit, &bests))
                .map_err(|e| name_day(cohorts, day.day, e))
        })
        .collect();
    let outcomes = outcomes.into_iter().collect::<Result<Vec<_>>>()?;
    let patients: usize = days.iter().map(|d| d.observed.len()).sum();
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
            .all(|d| d.estimated.is_some())
            .then(|| per(outcomes.iter().filter_map(|o| o.estimated).sum())),
        true_gain: per(outcomes.iter().map(|o| o.truth).sum()),
        oracle_gain: per(outcomes.iter().map(|o| o.oracle).sum()),
        regrets,
        reassigned: per(outcomes.iter().map(|o| o.moves as f64).sum()),
        unproven: outcomes.iter().filter(|o| !o.proven).count() as f64
            / outcomes.len().max(1) as f64,
        clipped: days.iter().map(|d| d.clipped as f64).sum::<f64>()
            / days
                .iter()
                .map(|d| (d.observed.len() * (d.observed.len() + 1)) as f64)
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
