//! Placement of one day's cohort into two units: the welfare-maximizing and
//! minimax-regret rules of the placement paper under bed capacity and a
//! reassignment limit, solved exactly, greedily (as the paper) or by brute
//! force.
//!
//! A day's problem is described by its objectives. Objective `o` values a
//! placement `S` (the patients sent to internal medicine, `j = |S|`) as
//! `base[o][j] + sum over i in S of gain[o][j][i]`: what every patient would
//! get in the surgical unit, plus the gain of each patient sent to internal
//! medicine, all at the busyness that `j` creates. Welfare maximization has
//! one objective (estimated welfare); minimax regret has two (estimated
//! welfare and welfare at the lower bounds).
//!
//! What a policy sees of a day ([`Day`]) is built from a fitted forest by
//! [`days`]; [`PlacementPolicy`] decides; `crate::evaluate::placement` judges.

mod brute;
mod decide;
mod exact;
mod greedy;
mod inputs;
mod spec;

pub use brute::{brute_force, BRUTE_FORCE_LIMIT};
pub use decide::{solve, Placement, PlacementPolicy};
pub use exact::exact;
pub use greedy::greedy;
pub use inputs::{days, Model, Training};
pub use spec::{PlacementRule, PlacementSpec};

use crate::bounds::BoundKind;
use crate::{Error, Result};

/// One objective: its value for every count `j` in internal medicine.
#[derive(Debug, Clone, PartialEq)]
pub struct Objective {
    /// `base[j]`: the objective when nobody goes to internal medicine, at the
    /// busyness of `j` patients there (length n + 1).
    pub base: Vec<f64>,
    /// `gain[j * n + i]`: patient i's gain from internal medicine when `j`
    /// patients go there (length (n + 1) * n).
    pub gain: Vec<f64>,
}

/// One day's placement problem.
#[derive(Debug, Clone, PartialEq)]
pub struct Problem {
    /// Patients in the cohort.
    pub n: usize,
    /// The objectives (one for welfare maximization, two for minimax regret).
    pub objectives: Vec<Objective>,
    /// The observed placement (true = internal medicine).
    pub observed: Vec<bool>,
    /// Free internal-medicine beds: at most this many go there.
    pub max_internal: usize,
    /// Free surgical beds: at most this many go there.
    pub max_surgical: usize,
    /// At most this many patients may be placed differently from `observed`.
    pub max_moves: Option<usize>,
}

/// What a day's solver optimizes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Criterion {
    /// Maximize the first objective.
    WelfareMax,
    /// Minimize the largest regret over the objectives: the objective's best
    /// feasible value less its value at the placement.
    MinimaxRegret,
}

/// A placement and what it scores.
#[derive(Debug, Clone, PartialEq)]
pub struct Solution {
    /// The placement (true = internal medicine).
    pub placement: Vec<bool>,
    /// Each objective's value at the placement.
    pub values: Vec<f64>,
    /// The rule's criterion: the welfare for `WelfareMax`, minus the largest
    /// regret for `MinimaxRegret` (so larger is better for both).
    pub criterion: f64,
    /// Each objective's best feasible value the rule's criterion was judged
    /// against (for `WelfareMax` only the first objective's); the greedy
    /// rule's are its own greedy estimates of them.
    pub best: Vec<f64>,
    /// Whether the solver proved the placement optimal (false only when the
    /// exact minimax-regret search ran out of its node budget).
    pub proven: bool,
}

impl Problem {
    /// Checks sizes and feasibility; the error says what to change.
    pub fn validate(&self, criterion: Criterion) -> Result<()> {
        let n = self.n;
        let want = match criterion {
            Criterion::WelfareMax => 1,
            Criterion::MinimaxRegret => 2,
        };
        if self.objectives.len() < want {
            return Err(Error::Spec(format!(
                "{criterion:?} needs {want} objective(s), the problem has {}",
                self.objectives.len()
            )));
        }
        for o in &self.objectives {
            if o.base.len() != n + 1 || o.gain.len() != (n + 1) * n {
                return Err(Error::Data(format!(
                    "an objective of a {n}-patient cohort needs {} base values and {} gains",
                    n + 1,
                    (n + 1) * n
                )));
            }
            if o.base.iter().chain(&o.gain).any(|v| !v.is_finite()) {
                return Err(Error::Data(
                    "an objective has a value that is not finite".into(),
                ));
            }
        }
        if self.observed.len() != n {
            return Err(Error::Data(format!(
                "{} observed placements for {n} patients",
                self.observed.len()
            )));
        }
        if self.max_internal + self.max_surgical < n {
            return Err(Error::Data(format!(
                "{n} patients do not fit {} free internal-medicine and {} free surgical beds \
                 (raise the units' `capacity` in the world, or lower their `mean` occupancy)",
                self.max_internal, self.max_surgical
            )));
        }
        Ok(())
    }

    /// The counts `j` in internal medicine that the capacities allow.
    pub fn feasible_counts(&self) -> std::ops::RangeInclusive<usize> {
        self.n.saturating_sub(self.max_surgical)..=self.max_internal.min(self.n)
    }

    /// Patients placed differently from the observed placement.
    pub fn moves(&self, placement: &[bool]) -> usize {
        placement
            .iter()
            .zip(&self.observed)
            .filter(|(a, b)| a != b)
            .count()
    }

    /// Whether `placement` satisfies the capacities and the reassignment limit.
    pub fn feasible(&self, placement: &[bool]) -> bool {
        let j = placement.iter().filter(|&&p| p).count();
        self.feasible_counts().contains(&j)
            && self.max_moves.is_none_or(|m| self.moves(placement) <= m)
    }

    /// Objective `o`'s value at `placement`.
    pub fn value(&self, o: usize, placement: &[bool]) -> f64 {
        let j = placement.iter().filter(|&&p| p).count();
        let obj = &self.objectives[o];
        let gains = &obj.gain[j * self.n..(j + 1) * self.n];
        obj.base[j]
            + placement
                .iter()
                .zip(gains)
                .filter(|(p, _)| **p)
                .map(|(_, g)| g)
                .sum::<f64>()
    }

    /// The rule's criterion at `placement`, given each objective's best value.
    pub fn criterion(&self, criterion: Criterion, best: &[f64], placement: &[bool]) -> f64 {
        match criterion {
            Criterion::WelfareMax => self.value(0, placement),
            Criterion::MinimaxRegret => (0..2)
                .map(|o| self.value(o, placement) - best[o])
                .fold(f64::INFINITY, f64::min),
        }
    }

    /// A scored solution.
    pub fn solution(&self, criterion: Criterion, best: &[f64], placement: Vec<bool>) -> Solution {
        let values = (0..self.objectives.len())
            .map(|o| self.value(o, &placement))
            .collect();
        let criterion = self.criterion(criterion, best, &placement);
        Solution {
            placement,
            values,
            criterion,
            best: best.to_vec(),
            proven: true,
        }
    }
}

/// One day's placement problem as a policy sees it: the observed placement,
/// the free beds, and the objectives the estimates give.
#[derive(Debug, Clone)]
pub struct Day {
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
    /// How many of the day's (patient, count) effects were clipped to [-1, 1].
    pub clipped: usize,
}

impl Day {
    /// The day's problem with these objectives under a reassignment limit.
    pub fn problem(&self, objectives: Vec<Objective>, limit: Option<f64>) -> Problem {
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
    pub fn lower(&self, bound: BoundKind) -> Result<&Objective> {
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

    /// The best feasible value of an objective under a reassignment limit.
    pub fn best(&self, objective: &Objective, limit: Option<f64>) -> Result<f64> {
        Ok(exact(
            &self.problem(vec![objective.clone()], limit),
            Criterion::WelfareMax,
        )?
        .values[0])
    }

    /// The best value of every estimated objective under a reassignment
    /// limit, which regrets are measured from.
    pub fn bests(&self, limit: Option<f64>) -> Result<Bests> {
        Ok(Bests {
            estimated: self
                .estimated
                .as_ref()
                .map(|o| self.best(o, limit))
                .transpose()?,
            lower: self
                .lower
                .iter()
                .map(|(b, o)| Ok((*b, self.best(o, limit)?)))
                .collect::<Result<_>>()?,
        })
    }
}

/// Each estimated objective's best feasible value on a day under one
/// reassignment limit.
#[derive(Debug, Clone, PartialEq)]
pub struct Bests {
    /// Best estimated welfare (with a model).
    pub estimated: Option<f64>,
    /// Best welfare at each bound's lower ends.
    pub lower: Vec<(BoundKind, f64)>,
}

impl Bests {
    /// The best welfare at the lower ends of `bound`, if computed.
    pub fn lower_of(&self, bound: BoundKind) -> Option<f64> {
        self.lower
            .iter()
            .find(|(b, _)| *b == bound)
            .map(|(_, v)| *v)
    }
}
