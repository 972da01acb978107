//! Placement solvers on synthetic days shaped like the paper's test set:
//! 1,427 cohorts with gamma-Poisson sizes (mean 17.45 as the hospital world,
//! or `--paper-sizes`: mean 29, the paper's median) capped at 59, gains that
//! fall with busyness, and the four rules (welfare maximization and minimax
//! regret against three lower-bound objectives) under three reassignment
//! settings (none, 10%, 20%). Prints one JSON line per solver with the wall
//! time and, for greedy, how often and by how much it loses to the exact optimum.
//!
//! Run with `cargo bench --bench policy [-- --paper-sizes]`.

use std::time::Instant;

use causim::policy::placement::{exact, greedy, Criterion as Rule, Objective, Problem};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, Gamma, Poisson};
use rayon::prelude::*;

const DAYS: usize = 1427;

fn objective(rng: &mut ChaCha8Rng, n: usize, noise: f64) -> Objective {
    let level: Vec<f64> = (0..n).map(|_| rng.random_range(-0.02..0.02)).collect();
    let mut gain = Vec::with_capacity((n + 1) * n);
    for j in 0..=n {
        for &l in &level {
            gain.push(l - 0.0004 * j as f64 + noise * rng.random_range(-1.0..1.0));
        }
    }
    let base = (0..=n).map(|j| -0.0002 * (n - j) as f64).collect();
    Objective { base, gain }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let paper_sizes = std::env::args().any(|a| a == "--paper-sizes");
    let mean = if paper_sizes { 29.0 } else { 17.45 };
    let mut rng = ChaCha8Rng::seed_from_u64(1);
    let gamma = Gamma::new(4.0, mean / 4.0)?;
    let mut days = Vec::with_capacity(DAYS);
    for _ in 0..DAYS {
        let n = (Poisson::new(gamma.sample(&mut rng))?.sample(&mut rng) as usize).clamp(1, 59);
        let welfare = objective(&mut rng, n, 0.0);
        let lower: Vec<Objective> = (0..3).map(|_| objective(&mut rng, n, 0.01)).collect();
        let observed: Vec<bool> = (0..n).map(|_| rng.random_bool(0.6)).collect();
        days.push((n, welfare, lower, observed));
    }
    let problems: Vec<(Problem, Rule)> = days
        .iter()
        .flat_map(|(n, welfare, lower, observed)| {
            let n = *n;
            [None, Some(0.1), Some(0.2)]
                .into_iter()
                .flat_map(move |limit| {
                    let max_moves = limit.map(|r: f64| (r * n as f64).floor() as usize);
                    let base = Problem {
                        n,
                        objectives: vec![welfare.clone()],
                        observed: observed.clone(),
                        max_internal: n,
                        max_surgical: n,
                        max_moves,
                    };
                    let mut out = vec![(base.clone(), Rule::WelfareMax)];
                    for l in lower {
                        let mut p = base.clone();
                        p.objectives.push(l.clone());
                        out.push((p, Rule::MinimaxRegret));
                    }
                    out
                })
        })
        .collect();
    let start = Instant::now();
    let exact_solutions: Vec<_> = problems
        .par_iter()
        .map(|(p, r)| exact(p, *r))
        .collect::<Result<_, _>>()?;
    let exact_s = start.elapsed().as_secs_f64();
    let start = Instant::now();
    let greedy_solutions: Vec<_> = problems
        .par_iter()
        .map(|(p, r)| greedy(p, *r))
        .collect::<Result<_, _>>()?;
    let greedy_s = start.elapsed().as_secs_f64();
    // Judge greedy placements by the exact optima of each objective.
    let (mut lost, mut gap) = (0usize, 0.0f64);
    for (((p, r), e), g) in problems.iter().zip(&exact_solutions).zip(&greedy_solutions) {
        let best: Vec<f64> = (0..p.objectives.len())
            .map(|o| {
                let single = Problem {
                    objectives: vec![p.objectives[o].clone()],
                    ..p.clone()
                };
                exact(&single, Rule::WelfareMax).map(|s| s.values[0])
            })
            .collect::<Result<_, _>>()?;
        let judged = p.criterion(*r, &best, &g.placement);
        if judged < e.criterion - 1e-12 {
            lost += 1;
            gap += e.criterion - judged;
        }
    }
    let largest = days.iter().map(|d| d.0).max().unwrap_or(0);
    println!(
        "{{\"days\": {DAYS}, \"largest_cohort\": {largest}, \"problems\": {}, \"exact_s\": {exact_s:.3}, \
         \"greedy_s\": {greedy_s:.3}, \"greedy_lost\": {lost}, \"greedy_mean_gap_when_lost\": {:.6}}}",
        problems.len(),
        if lost > 0 { gap / lost as f64 } else { 0.0 }
    );
    Ok(())
}
