//! The placement rules as policies: welfare maximization and minimax regret
//! (and the observed placement) decide a day's placement from the day's
//! estimated objectives alone.

use super::{exact, greedy, Bests, Criterion, Day, PlacementRule, Problem, Solution};
use crate::policy::{Policy, Solver};
use crate::{Error, Result};

/// A placement rule with its solver and reassignment limit.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PlacementPolicy {
    /// The rule; [`PlacementRule::Oracle`] is refused: it needs the truth.
    pub rule: PlacementRule,
    /// The solver.
    pub solver: Solver,
    /// Largest share of the cohort that may be moved; `None` for no limit.
    pub limit: Option<f64>,
}

/// A day's placement and what the rule made of it.
#[derive(Debug, Clone, PartialEq)]
pub struct Placement {
    /// The placement (true = internal medicine).
    pub placement: Vec<bool>,
    /// Whether the solver proved it optimal.
    pub proven: bool,
    /// The rule's criterion at the placement, judged by the exact best
    /// values (so a greedy and an exact placement compare).
    pub criterion: f64,
}

/// Solves a day's problem with the chosen solver.
pub fn solve(problem: &Problem, criterion: Criterion, solver: Solver) -> Result<Solution> {
    match solver {
        Solver::Exact => exact(problem, criterion),
        Solver::Greedy => greedy(problem, criterion),
    }
}

impl Policy for PlacementPolicy {
    type Input<'a> = (&'a Day, &'a Bests);
    type Decision = Placement;

    fn decide(&self, (day, bests): (&Day, &Bests)) -> Result<Placement> {
        let estimated = || {
            day.estimated.clone().ok_or_else(|| {
                Error::Spec(format!("{} needs an estimator's effects", self.rule.kind()))
            })
        };
        match self.rule {
            PlacementRule::Observed => Ok(Placement {
                placement: day.observed.clone(),
                proven: true,
                criterion: 0.0,
            }),
            PlacementRule::WelfareMax => {
                let p = day.problem(vec![estimated()?], self.limit);
                let s = solve(&p, Criterion::WelfareMax, self.solver)?;
                Ok(Placement {
                    criterion: s.values[0],
                    placement: s.placement,
                    proven: s.proven,
                })
            }
            PlacementRule::MinimaxRegret(bound) => {
                let p = day.problem(vec![estimated()?, day.lower(bound)?.clone()], self.limit);
                let s = solve(&p, Criterion::MinimaxRegret, self.solver)?;
                let best = [
                    bests.estimated.unwrap_or(f64::NAN),
                    bests.lower_of(bound).unwrap_or(f64::NAN),
                ];
                // Judged by the exact best values, whatever the solver believed.
                let criterion = p.criterion(Criterion::MinimaxRegret, &best, &s.placement);
                Ok(Placement {
                    placement: s.placement,
                    proven: s.proven,
                    criterion,
                })
            }
            PlacementRule::Oracle => Err(Error::Spec(
                "the oracle places by the truth, which a policy never sees; the evaluation runs it"
                    .into(),
            )),
        }
    }
}
