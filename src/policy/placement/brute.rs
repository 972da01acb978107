//! Brute force: every one of the 2^n placements, for checking the exact
//! solver on small cohorts.

use super::{Criterion, Problem, Solution};
use crate::{Error, Result};

/// The largest cohort brute force accepts (2^20 placements).
pub const BRUTE_FORCE_LIMIT: usize = 20;

fn placement(n: usize, mask: u32) -> Vec<bool> {
    (0..n).map(|i| mask >> i & 1 == 1).collect()
}

/// The optimal placement under `criterion` by enumerating all 2^n placements
/// (each objective's best value first, then the rule's criterion).
pub fn brute_force(problem: &Problem, criterion: Criterion) -> Result<Solution> {
    problem.validate(criterion)?;
    let n = problem.n;
    if n > BRUTE_FORCE_LIMIT {
        return Err(Error::Spec(format!(
            "brute force enumerates 2^n placements and takes cohorts of at most \
             {BRUTE_FORCE_LIMIT} patients; this one has {n} (use the exact solver)"
        )));
    }
    let feasible: Vec<Vec<bool>> = (0..1u32 << n)
        .map(|mask| placement(n, mask))
        .filter(|p| problem.feasible(p))
        .collect();
    if feasible.is_empty() {
        return Err(Error::Data(
            "no placement satisfies the capacities and the reassignment limit".into(),
        ));
    }
    let objectives = match criterion {
        Criterion::WelfareMax => 1,
        Criterion::MinimaxRegret => 2,
    };
    let best: Vec<f64> = (0..objectives)
        .map(|o| {
            feasible
                .iter()
                .map(|p| problem.value(o, p))
                .fold(f64::NEG_INFINITY, f64::max)
        })
        .collect();
    let chosen = feasible
        .into_iter()
        .map(|p| (problem.criterion(criterion, &best, &p), p))
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, p)| p)
        .unwrap_or_default();
    Ok(problem.solution(criterion, &best, chosen))
}
