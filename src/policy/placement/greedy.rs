//! The paper's greedy rule: rank patients by a policy-specific score and,
//! for each count the capacities allow, send the top-ranked patients to
//! internal medicine; keep the best count.

use super::{Criterion, Problem, Solution};
use crate::{Error, Result};

/// The placement sending the `j` patients with the largest `score` to internal medicine.
fn top(n: usize, j: usize, score: &[f64]) -> Vec<bool> {
    let mut order: Vec<usize> = (0..n).collect();
    order.sort_by(|&a, &b| score[b].total_cmp(&score[a]));
    let mut placement = vec![false; n];
    for &i in &order[..j] {
        placement[i] = true;
    }
    placement
}

/// The greedy placement under `criterion`, as the paper describes it (section
/// 2.4): the score is the estimated gain for welfare maximization and the
/// mean of the estimated and the lower-bound gain for minimax regret, both at
/// the busyness of each count `j`; counts whose top-`j` placement breaks the
/// reassignment limit are skipped, and the observed placement is the fallback.
/// Each objective's best value, which the regrets need, is also found
/// greedily (the top-`j` patients by that objective's gain), so the returned
/// criterion is what the greedy rule itself believes.
pub fn greedy(problem: &Problem, criterion: Criterion) -> Result<Solution> {
    problem.validate(criterion)?;
    let n = problem.n;
    let objectives = match criterion {
        Criterion::WelfareMax => 1,
        Criterion::MinimaxRegret => 2,
    };
    let candidates = |score: &dyn Fn(usize, usize) -> f64| -> Vec<Vec<bool>> {
        let mut out: Vec<Vec<bool>> = problem
            .feasible_counts()
            .map(|j| {
                let s: Vec<f64> = (0..n).map(|i| score(j, i)).collect();
                top(n, j, &s)
            })
            .filter(|p| problem.feasible(p))
            .collect();
        if problem.feasible(&problem.observed) {
            out.push(problem.observed.clone());
        }
        out
    };
    let gain = |o: usize, j: usize, i: usize| problem.objectives[o].gain[j * n + i];
    let best: Vec<f64> = (0..objectives)
        .map(|o| {
            candidates(&|j, i| gain(o, j, i))
                .iter()
                .map(|p| problem.value(o, p))
                .fold(f64::NEG_INFINITY, f64::max)
        })
        .collect();
    let score = |j: usize, i: usize| match criterion {
        Criterion::WelfareMax => gain(0, j, i),
        Criterion::MinimaxRegret => (gain(0, j, i) + gain(1, j, i)) / 2.0,
    };
    let chosen = candidates(&score)
        .into_iter()
        .map(|p| (problem.criterion(criterion, &best, &p), p))
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .ok_or_else(|| {
            Error::Data(
                "the greedy criterion found no placement within the capacities and the reassignment \
                 limit"
                    .into(),
            )
        })?;
    Ok(problem.solution(criterion, &best, chosen.1))
}
