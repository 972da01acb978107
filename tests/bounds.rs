//! Partial-identification bounds: the Balke-Pearl closed form against its
//! linear program on tables generated from known response-type distributions,
//! the truth inside every bound, Manski containing Balke-Pearl, and the
//! formulas on hand-computed examples.

use causim::bounds::{
    balke_pearl, balke_pearl_lp, frequentist, local_bounds, manski, manski_from_weighted,
    CellProbabilities, Interval,
};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// A distribution over the 16 response types, indexed `4 * compliance +
/// outcome`, each of the two in 0..4 = (always 0, follows, opposes, always 1):
/// compliance types map Z to W (never-taker, complier, defier, always-taker)
/// and outcome types map W to Y (never, helped, hurt, always).
type Types = [f64; 16];

fn respond(kind: usize, input: usize) -> usize {
    [0, input, 1 - input, 1][kind]
}

/// The P(y, w | z) that a type distribution produces.
fn table(q: &Types) -> CellProbabilities {
    let mut p = [[[0.0; 2]; 2]; 2];
    for (t, share) in q.iter().enumerate() {
        for (z, slice) in p.iter_mut().enumerate() {
            let w = respond(t / 4, z);
            slice[w][respond(t % 4, w)] += share;
        }
    }
    CellProbabilities { p }
}

/// The true ATE of a type distribution: helped minus hurt.
fn ate(q: &Types) -> f64 {
    (0..16)
        .map(|t| q[t] * (respond(t % 4, 1) as f64 - respond(t % 4, 0) as f64))
        .sum()
}

/// Normalized exponentials (a flat Dirichlet); when `sparse`, about half the
/// types are absent.
fn random_types(rng: &mut ChaCha8Rng, sparse: bool) -> Types {
    let mut q = [0.0; 16];
    for share in &mut q {
        let keep = !sparse || rng.random::<f64>() < 0.5;
        *share = if keep {
            -(1.0 - rng.random::<f64>()).ln()
        } else {
            0.0
        };
    }
    if q.iter().all(|&s| s == 0.0) {
        q[rng.random_range(0..16)] = 1.0;
    }
    let total: f64 = q.iter().sum();
    q.map(|s| s / total)
}

/// Manski's bounds from the same world, with P(W), E[Y | W] marginalized over
/// an instrument with P(Z = 1) = `pz`.
fn marginal_manski(cells: &CellProbabilities, pz: f64) -> Interval {
    let mut units = Vec::new();
    for (z, share) in [(0, 1.0 - pz), (1, pz)] {
        for w in 0..2 {
            for y in 0..2 {
                units.push((share * cells.p[z][w][y], y as f64, w as f64));
            }
        }
    }
    manski_from_weighted(units).expect("positive weight")
}

fn close(a: Interval, b: Interval, tol: f64) -> bool {
    (a.lower - b.lower).abs() <= tol && (a.upper - b.upper).abs() <= tol
}

#[test]
fn closed_form_equals_the_lp_and_contains_the_truth_on_random_worlds() {
    let mut rng = ChaCha8Rng::seed_from_u64(20_240_601);
    for case in 0..3000 {
        let q = random_types(&mut rng, case % 3 == 0);
        let cells = table(&q);
        assert!(cells.satisfies_iv_inequalities(1e-12), "case {case}");
        let closed = balke_pearl(&cells);
        let lp = balke_pearl_lp(&cells).expect("a table from a type distribution is feasible");
        assert!(
            close(closed, lp, 1e-9),
            "case {case}: {closed:?} vs LP {lp:?}"
        );
        let truth = ate(&q);
        assert!(
            closed.lower <= truth + 1e-12 && truth <= closed.upper + 1e-12,
            "case {case}: truth {truth} outside {closed:?}"
        );
        let pz = 0.05 + 0.9 * rng.random::<f64>();
        let wide = marginal_manski(&cells, pz);
        assert!((wide.width() - 1.0).abs() < 1e-12);
        assert!(wide.lower <= closed.lower + 1e-12 && closed.upper <= wide.upper + 1e-12);
        assert!(wide.lower <= truth + 1e-12 && truth <= wide.upper + 1e-12);
    }
}

#[test]
fn lp_is_feasible_exactly_when_the_instrumental_inequalities_hold() {
    let mut rng = ChaCha8Rng::seed_from_u64(7);
    let (mut feasible, mut infeasible) = (0, 0);
    for case in 0..2000 {
        // Each arm an arbitrary distribution over the four (w, y) cells.
        let mut p = [[[0.0; 2]; 2]; 2];
        for slice in &mut p {
            let draws: [f64; 4] = std::array::from_fn(|_| -(1.0 - rng.random::<f64>()).ln());
            let total: f64 = draws.iter().sum();
            *slice = [[draws[0], draws[1]], [draws[2], draws[3]]].map(|r| r.map(|d| d / total));
        }
        let cells = CellProbabilities { p };
        let slack = (0..2)
            .map(|w| (0..2).map(|y| p[0][w][y].max(p[1][w][y])).sum::<f64>() - 1.0)
            .fold(f64::NEG_INFINITY, f64::max);
        if slack.abs() < 1e-6 {
            continue;
        }
        assert_eq!(cells.satisfies_iv_inequalities(0.0), slack < 0.0);
        match balke_pearl_lp(&cells) {
            Ok(lp) => {
                assert!(slack < 0.0, "case {case}: LP feasible on a violating table");
                assert!(
                    close(balke_pearl(&cells), lp, 1e-9),
                    "case {case}: {:?} vs {lp:?}, {p:?}, slack {slack}",
                    balke_pearl(&cells)
                );
                feasible += 1;
            }
            Err(e) => {
                assert!(slack > 0.0, "case {case}: {e}");
                infeasible += 1;
            }
        }
    }
    assert!(
        feasible > 100 && infeasible > 100,
        "{feasible} / {infeasible}"
    );
}

#[test]
fn a_strong_monotone_instrument_narrows_the_bounds_far_below_manski() {
    let mut rng = ChaCha8Rng::seed_from_u64(99);
    for case in 0..500 {
        let compliers = 0.8 + 0.2 * rng.random::<f64>();
        let never = (1.0 - compliers) * rng.random::<f64>();
        // never-takers, compliers, no defiers, always-takers
        let compliance = [never, compliers, 0.0, 1.0 - compliers - never];
        let mut q = [0.0; 16];
        for (c, share) in compliance.iter().enumerate() {
            let outcomes: [f64; 4] = std::array::from_fn(|_| -(1.0 - rng.random::<f64>()).ln());
            let total: f64 = outcomes.iter().sum();
            for (o, draw) in outcomes.iter().enumerate() {
                q[4 * c + o] = share * draw / total;
            }
        }
        let cells = table(&q);
        let bp = balke_pearl(&cells);
        assert!(bp.width() < 0.4, "case {case}: width {}", bp.width());
        assert!(bp.width() <= 1.0 - compliers + 1e-9, "case {case}");
        assert!(bp.contains(ate(&q)), "case {case}");
        assert!((marginal_manski(&cells, 0.5).width() - 1.0).abs() < 1e-12);
    }
}

#[test]
fn a_table_violating_the_iv_model_is_infeasible_and_its_closed_form_crosses() {
    // Within W = 0, Y = 0 under Z = 0 and Y = 1 under Z = 1 for 90% each:
    // the instrument moves Y by far more than it moves W.
    let cells = CellProbabilities {
        p: [[[0.9, 0.0], [0.0, 0.1]], [[0.0, 0.9], [0.1, 0.0]]],
    };
    assert!(!cells.satisfies_iv_inequalities(1e-9));
    assert!(balke_pearl_lp(&cells).is_err());
    let closed = balke_pearl(&cells);
    assert!(closed.crossed(), "{closed:?}");
}

#[test]
fn frequentist_and_manski_match_hand_computations() {
    let f = frequentist(1.0, 0.5);
    assert!((f.lower - (1.0 - 0.979_981_992_270_027)).abs() < 1e-12);
    assert!((f.upper - (1.0 + 0.979_981_992_270_027)).abs() < 1e-12);

    // p1 = 0.4, mu1 = 0.5, mu0 = 0.25: E[Y(1)] in [0.2, 0.8], E[Y(0)] in [0.15, 0.55].
    let m = manski(0.4, 0.5, 0.25);
    assert!((m.lower - -0.35).abs() < 1e-12 && (m.upper - 0.65).abs() < 1e-12);
    assert!((m.width() - 1.0).abs() < 1e-12);

    // The same world as a weighted sample: 4 of 10 treated, 2 of them with Y = 1;
    // 6 untreated, 1.5 of them with Y = 1 (weights, not counts).
    let sample = [
        (2.0, 1.0, 1.0),
        (2.0, 0.0, 1.0),
        (1.5, 1.0, 0.0),
        (4.5, 0.0, 0.0),
    ];
    let from_sample = manski_from_weighted(sample).expect("valid sample");
    assert!(close(from_sample, m, 1e-12), "{from_sample:?}");
}

#[test]
fn local_bounds_on_a_small_weighted_neighbourhood() {
    // Training units (y, w, z); unit 6 carries no weight.
    let y = [1.0, 0.0, 0.0, 1.0, 0.0, 1.0, 1.0];
    let w = [1.0, 1.0, 0.0, 0.0, 0.0, 1.0, 0.0];
    let z = [1.0, 1.0, 1.0, 0.0, 0.0, 0.0, 1.0];
    let weights = [
        (0, 0.25),
        (1, 0.125),
        (2, 0.125),
        (3, 0.25),
        (4, 0.125),
        (5, 0.125),
    ];
    let local = local_bounds(&weights, &y, &w, &z).expect("valid neighbourhood");
    let cells = local.cells.expect("both instrument arms present");
    // P(y, w | z = 1): (1, 1) 0.5, (0, 1) 0.25, (0, 0) 0.25.
    assert_eq!(cells.p[1], [[0.25, 0.0], [0.25, 0.5]]);
    // P(y, w | z = 0): (1, 0) 0.5, (0, 0) 0.25, (1, 1) 0.25.
    assert_eq!(cells.p[0], [[0.25, 0.5], [0.0, 0.25]]);
    // Balke-Pearl by hand: max of the lower terms is -1/4 (e.g. p11.1 + p00.0 - 1),
    // min of the upper terms is 1/4 (1 - p01.1 - p10.0).
    let bp = Interval {
        lower: -0.25,
        upper: 0.25,
    };
    assert!(
        close(local.balke_pearl, bp, 1e-12),
        "{:?}",
        local.balke_pearl
    );
    assert!(close(balke_pearl_lp(&cells).expect("feasible"), bp, 1e-9));
    // Manski on the pooled P(y, w): -P(0, 1) - P(1, 0) and P(1, 1) + P(0, 0).
    let m = Interval {
        lower: -0.375,
        upper: 0.625,
    };
    assert!(close(local.manski, m, 1e-12), "{:?}", local.manski);

    // Only Z = 1 units in the neighbourhood: Balke-Pearl falls back to Manski.
    let one_arm = local_bounds(&[(0, 0.5), (2, 0.5)], &y, &w, &z).expect("valid");
    assert!(one_arm.cells.is_none());
    assert_eq!(one_arm.balke_pearl, one_arm.manski);
    assert!(close(
        one_arm.manski,
        Interval {
            lower: 0.0,
            upper: 1.0
        },
        1e-12
    ));

    assert!(local_bounds(&[(7, 1.0)], &y, &w, &z).is_err());
    assert!(local_bounds(&weights, &y, &w[..3], &z).is_err());
    assert!(local_bounds(&[(0, 0.0)], &y, &w, &z).is_err());
}
