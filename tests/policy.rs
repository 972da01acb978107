//! Placement solvers: the exact solver equals brute force on thousands of
//! random cohorts, for both rules, with random capacities and reassignment
//! limits; the greedy rule never beats it; bad problems are clear errors.

use causim::policy::placement::{
    brute_force, exact, greedy, Criterion as Rule, Objective, Problem,
};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// A random objective whose gains move with the count in internal medicine
/// (as busyness does), on one of three scales.
fn objective(rng: &mut ChaCha8Rng, n: usize) -> Objective {
    let scale = [0.01, 1.0, 100.0][rng.random_range(0..3)];
    let level: Vec<f64> = (0..n)
        .map(|_| rng.random_range(-1.0..1.0) * scale)
        .collect();
    let slope: Vec<f64> = (0..n)
        .map(|_| rng.random_range(-1.0..0.2) * scale)
        .collect();
    let mut gain = Vec::with_capacity((n + 1) * n);
    for j in 0..=n {
        let busy = j as f64 / n.max(1) as f64;
        for i in 0..n {
            gain.push(level[i] + slope[i] * busy + rng.random_range(-0.05..0.05) * scale);
        }
    }
    let base = (0..=n)
        .map(|j| -(j as f64) * rng.random_range(0.0..0.1) * scale)
        .collect();
    Objective { base, gain }
}

fn problem(rng: &mut ChaCha8Rng, n: usize) -> Problem {
    let observed: Vec<bool> = (0..n).map(|_| rng.random_bool(0.6)).collect();
    let o = observed.iter().filter(|&&p| p).count();
    // Capacities that always fit the observed placement, sometimes tightly.
    let max_internal = o + rng.random_range(0..=n - o);
    let max_surgical = (n - o) + rng.random_range(0..=o);
    let max_moves = match rng.random_range(0..3) {
        0 => None,
        _ => Some(((n as f64) * [0.1, 0.2, 0.5][rng.random_range(0..3)]).floor() as usize),
    };
    Problem {
        n,
        objectives: vec![objective(rng, n), objective(rng, n)],
        observed,
        max_internal,
        max_surgical,
        max_moves,
    }
}

#[test]
fn exact_equals_brute_force_on_random_cohorts() {
    let mut rng = ChaCha8Rng::seed_from_u64(2026);
    let mut checked = 0;
    for case in 0..3000 {
        let n = rng.random_range(1..=16);
        let p = problem(&mut rng, n);
        for rule in [Rule::WelfareMax, Rule::MinimaxRegret] {
            let e = exact(&p, rule).expect("exact");
            let b = brute_force(&p, rule).expect("brute force");
            assert!(
                p.feasible(&e.placement),
                "case {case}: exact placement infeasible"
            );
            assert!(e.proven, "case {case}: small cohorts are solved to proof");
            for (eb, bb) in e.best.iter().zip(&b.best) {
                assert!(
                    (eb - bb).abs() <= 1e-9 * (1.0 + bb.abs()),
                    "case {case}: best values"
                );
            }
            let tol = 1e-9 * (1.0 + b.criterion.abs());
            assert!(
                (e.criterion - b.criterion).abs() <= tol,
                "case {case} (n = {n}, {rule:?}): exact {} vs brute force {}",
                e.criterion,
                b.criterion
            );
            for (ev, bv) in e
                .values
                .iter()
                .zip(&b.values)
                .take(usize::from(rule == Rule::WelfareMax))
            {
                assert!((ev - bv).abs() <= tol);
            }
            checked += 1;
        }
    }
    assert_eq!(checked, 6000);
}

#[test]
fn greedy_never_beats_exact_and_sometimes_loses() {
    let mut rng = ChaCha8Rng::seed_from_u64(7);
    let (mut worse, mut total) = (0, 0);
    for _ in 0..500 {
        let n = rng.random_range(2..=16);
        let p = problem(&mut rng, n);
        for rule in [Rule::WelfareMax, Rule::MinimaxRegret] {
            let e = exact(&p, rule).expect("exact");
            let b = brute_force(&p, rule).expect("brute force");
            let g = greedy(&p, rule).expect("greedy");
            assert!(p.feasible(&g.placement));
            // Judge the greedy placement by the true optima of each objective.
            let best: Vec<f64> = match rule {
                Rule::WelfareMax => vec![b.values[0]],
                Rule::MinimaxRegret => (0..2).map(|o| brute_force_best(&p, o)).collect(),
            };
            let judged = p.criterion(rule, &best, &g.placement);
            assert!(judged <= e.criterion + 1e-9 * (1.0 + e.criterion.abs()));
            if judged < e.criterion - 1e-9 * (1.0 + e.criterion.abs()) {
                worse += 1;
            }
            total += 1;
        }
    }
    assert!(
        worse > 0 && worse < total,
        "greedy lost on {worse} of {total}"
    );
}

/// Objective `o`'s best feasible value, by brute force.
fn brute_force_best(p: &Problem, o: usize) -> f64 {
    let single = Problem {
        objectives: vec![p.objectives[o].clone()],
        ..p.clone()
    };
    brute_force(&single, Rule::WelfareMax)
        .expect("brute force")
        .values[0]
}

#[test]
fn the_exact_solver_handles_the_papers_largest_cohorts() {
    let mut rng = ChaCha8Rng::seed_from_u64(59);
    for _ in 0..5 {
        let p = problem(&mut rng, 59);
        for rule in [Rule::WelfareMax, Rule::MinimaxRegret] {
            let e = exact(&p, rule).expect("exact");
            assert!(p.feasible(&e.placement));
            let g = greedy(&p, rule).expect("greedy");
            assert!(
                p.criterion(rule, &exact_best(&p, rule), &g.placement)
                    <= e.criterion + 1e-9 * (1.0 + e.criterion.abs())
            );
        }
    }
}

/// Each objective's best value by the exact solver (one objective at a time).
fn exact_best(p: &Problem, rule: Rule) -> Vec<f64> {
    let count = match rule {
        Rule::WelfareMax => 1,
        Rule::MinimaxRegret => 2,
    };
    (0..count)
        .map(|o| {
            let single = Problem {
                objectives: vec![p.objectives[o].clone()],
                ..p.clone()
            };
            exact(&single, Rule::WelfareMax).expect("exact").values[0]
        })
        .collect()
}

#[test]
fn bad_problems_are_clear_errors() {
    let mut rng = ChaCha8Rng::seed_from_u64(1);
    let mut p = problem(&mut rng, 10);
    p.max_internal = 3;
    p.max_surgical = 4;
    let message = exact(&p, Rule::WelfareMax)
        .expect_err("must fail")
        .to_string();
    assert!(message.contains("do not fit"), "{message}");
    let mut q = problem(&mut rng, 21);
    q.max_moves = None;
    let message = brute_force(&q, Rule::WelfareMax)
        .expect_err("too large")
        .to_string();
    assert!(message.contains("exact solver"), "{message}");
    let mut r = problem(&mut rng, 5);
    r.objectives.truncate(1);
    let message = exact(&r, Rule::MinimaxRegret)
        .expect_err("one objective")
        .to_string();
    assert!(message.contains("2 objective"), "{message}");
}
