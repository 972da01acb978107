//! Path predictions against point predictions on the rows the steps stand
//! for, walks against walks of single paths, and errors on bad paths.

use super::stats::WIDTH;
use super::*;
use crate::estimate::forest::tree::{PathBatch, Walks};
use crate::estimate::forest::ForestParams;
use ndarray::Array2;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// Covariates: two continuous, one discrete, and two "busyness" counts
/// (columns 3 and 4); a binary instrument, treatment and outcome whose
/// effect depends on the counts.
fn world(n: usize, seed: u64) -> (Array2<f64>, Vec<f64>, Vec<f64>, Vec<f64>) {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let x = Array2::from_shape_fn((n, 5), |(_, j)| match j {
        0 | 1 => rng.random_range(-1.0..1.0),
        2 => f64::from(rng.random_range(0..4u8)),
        _ => f64::from(rng.random_range(0..40u8)),
    });
    let mut y = Vec::with_capacity(n);
    let mut w = Vec::with_capacity(n);
    let mut z = Vec::with_capacity(n);
    for i in 0..n {
        let zi = f64::from(u8::from(rng.random_bool(0.5)));
        let pw = 0.2 + 0.5 * zi + 0.1 * x[[i, 0]].signum() * 0.5;
        let wi = f64::from(u8::from(rng.random_bool(pw.clamp(0.05, 0.95))));
        let tau = 0.3 * (x[[i, 3]] - x[[i, 4]]) / 40.0 + 0.2 * x[[i, 1]];
        let py = 0.4 + tau * wi + 0.1 * x[[i, 2]] / 4.0;
        let yi = f64::from(u8::from(rng.random_bool(py.clamp(0.02, 0.98))));
        y.push(yi);
        w.push(wi);
        z.push(zi);
    }
    (x, y, w, z)
}

fn params(group: usize, prune: bool) -> ForestParams {
    ForestParams {
        num_trees: 200,
        ci_group_size: group,
        honesty_prune_leaves: prune,
        nuisance_trees: Some(50),
        ..Default::default()
    }
}

/// Random paths over columns 3 (nonincreasing) and 4 (nondecreasing):
/// 1 to 40 steps, some values repeating, some beyond the training range.
fn paths(x: &Array2<f64>, count: usize, seed: u64) -> (Vec<Vec<f64>>, Vec<Vec<f64>>) {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let (mut bases, mut values) = (Vec::new(), Vec::new());
    for _ in 0..count {
        let mut base = x.row(rng.random_range(0..x.nrows())).to_vec();
        base[0] += rng.random_range(-0.05..0.05);
        let steps = if rng.random_bool(0.1) {
            1
        } else {
            rng.random_range(1..=40)
        };
        let (mut s, mut im) = (rng.random_range(0.0..60.0), rng.random_range(-5.0..30.0));
        let mut v = Vec::with_capacity(2 * steps);
        for _ in 0..steps {
            v.extend([s, im]);
            match rng.random_range(0..4) {
                0 => {}
                1 => im += rng.random_range(0.0..3.0),
                _ => {
                    s -= 1.0;
                    im += 1.0;
                }
            }
            if rng.random_bool(0.2) {
                s -= rng.random_range(0.0..2.0);
            }
        }
        bases.push(base);
        values.push(v);
    }
    (bases, values)
}

/// The rows the paths' steps stand for.
fn materialize(bases: &[Vec<f64>], values: &[Vec<f64>]) -> Array2<f64> {
    let rows: usize = values.iter().map(|v| v.len() / 2).sum();
    let mut x = Array2::zeros((rows, bases[0].len()));
    let mut r = 0;
    for (base, v) in bases.iter().zip(values) {
        for step in v.chunks_exact(2) {
            for (j, &b) in base.iter().enumerate() {
                x[[r, j]] = b;
            }
            x[[r, 3]] = step[0];
            x[[r, 4]] = step[1];
            r += 1;
        }
    }
    x
}

fn close(a: f64, b: f64) -> bool {
    (a.is_nan() && b.is_nan()) || (a - b).abs() <= 1e-9 * a.abs().max(1.0)
}

fn as_paths<'a>(bases: &'a [Vec<f64>], values: &'a [Vec<f64>]) -> Vec<Path<'a>> {
    bases
        .iter()
        .zip(values)
        .map(|(base, values)| Path { base, values })
        .collect()
}

/// How many runs of steps sharing a leaf the paths' walks give over all
/// trees, and how many of those leaves are empty; checks that the runs
/// of each walk tile the path's steps in order, and that walking many
/// paths at once gives each the runs it gets alone.
fn segments(fitted: &FittedForest, bases: &[Vec<f64>], values: &[Vec<f64>]) -> (usize, usize) {
    let bins = PathBins::new(&fitted.bins, &[3, 4], &as_paths(bases, values)).expect("bins");
    let x = Array2::from_shape_fn((bases.len(), 5), |(r, j)| bases[r][j]);
    let base = fitted.bins.transform(x.view()).expect("codes");
    let n = bases.len();
    let base: Vec<u8> = (0..5 * n).map(|i| base.code(i % n, i / n)).collect();
    let mut codes: Vec<u8> = Vec::new();
    let mut starts = vec![0];
    for v in values {
        codes.extend(v.iter().step_by(2).map(|&a| bins.code(0, a)));
        codes.extend(v.iter().skip(1).step_by(2).map(|&a| bins.code(1, a)));
        starts.push(starts[starts.len() - 1] + v.len() / 2);
    }
    let slots = [FIXED, FIXED, FIXED, 0, 1];
    let batch = PathBatch {
        base: &base,
        slots: &slots,
        columns: 2,
        codes: &codes,
        starts: &starts,
    };
    let mut walks = Walks::default();
    let (mut out, mut ranges) = (Vec::new(), Vec::new());
    let (mut alone, mut one) = (Vec::new(), Vec::new());
    let (mut runs, mut empty) = (0, 0);
    for t in 0..fitted.forest.trees() {
        let tree = fitted.forest.tree(t);
        out.clear();
        tree.segments(&batch, &mut walks, &mut out, &mut ranges);
        for r in 0..bases.len() {
            let steps = starts[r + 1] - starts[r];
            let walk = &out[ranges[r].0 as usize..ranges[r].1 as usize];
            assert_eq!(walk[0].lo, 0);
            assert_eq!(walk[walk.len() - 1].hi as usize, steps);
            assert!(walk.windows(2).all(|s| s[0].hi == s[1].lo));
            assert!(walk.iter().all(|s| s.lo < s.hi));
            assert!(walk
                .iter()
                .all(|s| s.filled == tree.values(s.leaf as usize, WIDTH).is_some()));
            // Walked alone, the path meets the same leaves.
            let row: Vec<u8> = (0..5).map(|f| base[f * n + r]).collect();
            let single = PathBatch {
                base: &row,
                codes: &codes[starts[r] * 2..starts[r + 1] * 2],
                starts: &[0, steps],
                ..batch
            };
            alone.clear();
            tree.segments(&single, &mut walks, &mut alone, &mut one);
            assert_eq!(walk, &alone[..]);
            runs += walk.len();
            empty += walk.iter().filter(|s| !s.filled).count();
        }
    }
    (runs, empty)
}

/// Checks `predict_paths` against `predict` on the materialized rows.
fn agrees(fitted: &FittedForest, bases: &[Vec<f64>], values: &[Vec<f64>]) -> usize {
    let x = materialize(bases, values);
    let expected = fitted.predict(x.view()).expect("predict");
    let paths = as_paths(bases, values);
    let got = fitted.predict_paths(&[3, 4], &paths, None).expect("paths");
    assert_eq!(got.offsets.len(), paths.len() + 1);
    assert_eq!(got.offsets[paths.len()], expected.len());
    assert!(got.means.is_empty());
    for (r, (e, g)) in expected.iter().zip(&got.predictions).enumerate() {
        assert!(close(e.tau, g.tau), "row {r}: tau {} vs {}", e.tau, g.tau);
        assert!(
            close(e.variance, g.variance),
            "row {r}: variance {} vs {}",
            e.variance,
            g.variance
        );
    }
    expected.iter().filter(|p| p.variance.is_nan()).count()
}

#[test]
fn instrumental_paths_match_predict_on_materialized_rows() {
    let (x, y, w, z) = world(3000, 1);
    let fitted = FittedForest::fit(x.view(), (&y, &w, &z), &params(2, true), None, 7).expect("fit");
    let (bases, values) = paths(&x, 150, 2);
    assert!(values.iter().any(|v| v.len() == 2));
    // The trees split on the path columns: walks break into several runs.
    let (runs, empty) = segments(&fitted, &bases, &values);
    assert!(runs > 2 * 150 * fitted.trees(), "{runs} runs");
    assert_eq!(empty, 0);
    assert_eq!(agrees(&fitted, &bases, &values), 0);
}

#[test]
fn empty_leaves_and_no_little_bags_match_predict() {
    let (x, y, w, z) = world(1500, 3);
    // Unpruned honest trees have empty leaves: trees and bags drop out per step.
    let tiny = ForestParams {
        min_node_size: 1,
        ..params(4, false)
    };
    let fitted = FittedForest::fit(x.view(), (&y, &w, &z), &tiny, None, 8).expect("fit");
    let (bases, values) = paths(&x, 60, 4);
    let (runs, empty) = segments(&fitted, &bases, &values);
    assert!(
        empty > 0 && empty < runs,
        "{empty} of {runs} runs in empty leaves"
    );
    agrees(&fitted, &bases, &values);
    // Without little bags every variance is NaN.
    let fitted = FittedForest::fit(x.view(), (&y, &w, &z), &params(1, true), None, 9).expect("fit");
    let nan = agrees(&fitted, &bases, &values);
    assert_eq!(nan, values.iter().map(|v| v.len() / 2).sum::<usize>());
}

#[test]
fn causal_paths_match_predict() {
    let (x, y, w, _) = world(2000, 5);
    let fitted =
        FittedForest::fit(x.view(), (&y, &w, &w), &params(2, true), None, 10).expect("fit");
    let (bases, values) = paths(&x, 80, 6);
    assert_eq!(agrees(&fitted, &bases, &values), 0);
}

#[test]
fn weighted_means_match_forest_weights() {
    let (x, y, w, z) = world(1500, 11);
    let fitted =
        FittedForest::fit(x.view(), (&y, &w, &z), &params(2, true), None, 12).expect("fit");
    let cell: Vec<f64> = y.iter().zip(&z).map(|(a, b)| a * b).collect();
    let column: Vec<f64> = (0..y.len()).map(|i| x[[i, 1]]).collect();
    let columns: [&[f64]; 3] = [&y, &cell, &column];
    let leaf_means = fitted.leaf_means(&columns).expect("leaf means");
    assert_eq!(leaf_means.columns(), 3);
    let (bases, values) = paths(&x, 25, 13);
    let paths = as_paths(&bases, &values);
    let got = fitted
        .predict_paths(&[3, 4], &paths, Some(&leaf_means))
        .expect("paths");
    let rows = materialize(&bases, &values);
    assert_eq!(got.means.len(), rows.nrows() * 3);
    for (r, row) in rows.outer_iter().enumerate() {
        let weights = fitted
            .weights(row.as_slice().expect("row"))
            .expect("weights");
        for (c, column) in columns.iter().enumerate() {
            let expected: f64 = weights.iter().map(|&(i, a)| a * column[i]).sum();
            let mean = got.means[r * 3 + c];
            assert!(
                close(expected, mean),
                "row {r} column {c}: {expected} vs {mean}"
            );
        }
    }
    assert!(fitted.leaf_means(&[&y[1..]]).is_err());
}

#[test]
fn results_do_not_depend_on_threads() {
    let (x, y, w, z) = world(1500, 14);
    let fitted =
        FittedForest::fit(x.view(), (&y, &w, &z), &params(2, true), None, 15).expect("fit");
    let (bases, values) = paths(&x, 100, 16);
    let paths = as_paths(&bases, &values);
    let leaf_means = fitted.leaf_means(&[&y]).expect("leaf means");
    let run = || {
        fitted
            .predict_paths(&[3, 4], &paths, Some(&leaf_means))
            .expect("paths")
    };
    let many = run();
    let one = rayon::ThreadPoolBuilder::new()
        .num_threads(1)
        .build()
        .expect("pool")
        .install(run);
    let bits = |p: &PathPredictions| -> Vec<u64> {
        p.predictions
            .iter()
            .flat_map(|q| [q.tau.to_bits(), q.variance.to_bits()])
            .chain(p.means.iter().map(|m| m.to_bits()))
            .collect()
    };
    assert_eq!(bits(&many), bits(&one));
}

#[test]
fn bad_paths_are_errors() {
    let (x, y, w, z) = world(800, 17);
    let fitted =
        FittedForest::fit(x.view(), (&y, &w, &z), &params(2, true), None, 18).expect("fit");
    let base = x.row(0).to_vec();
    let run = |columns: &[usize], values: &[f64]| {
        let path = Path {
            base: &base,
            values,
        };
        fitted.predict_paths(columns, &[path], None)
    };
    let message = |r: Result<PathPredictions>| match r {
        Err(Error::Data(m)) => m,
        other => panic!("expected a data error, got {other:?}"),
    };
    // Column 4 goes up then down.
    let m = message(run(&[3, 4], &[5.0, 1.0, 4.0, 2.0, 3.0, 1.5]));
    assert!(m.contains("not monotone") && m.contains("column 4"), "{m}");
    assert!(message(run(&[3], &[1.0, f64::NAN])).contains("not monotone"));
    assert!(message(run(&[3], &[f64::NAN])).contains("not monotone"));
    assert!(message(run(&[3, 4], &[1.0, 2.0, 3.0])).contains("whole steps"));
    assert!(message(run(&[], &[])).contains("at least one"));
    assert!(message(run(&[3, 3], &[1.0, 1.0])).contains("twice"));
    assert!(message(run(&[9], &[1.0])).contains("does not exist"));
    let short = Path {
        base: &base[1..],
        values: &[1.0],
    };
    assert!(fitted.predict_paths(&[3], &[short], None).is_err());
    // Leaf means of another forest.
    let other = FittedForest::fit(x.view(), (&y, &w, &z), &params(2, true), None, 19).expect("fit");
    let foreign = other.leaf_means(&[&y]).expect("leaf means");
    let path = Path {
        base: &base,
        values: &[1.0],
    };
    assert!(fitted.predict_paths(&[3], &[path], Some(&foreign)).is_err());
    // Constant, decreasing and empty paths are fine.
    let ok = run(&[3, 4], &[2.0, 2.0, 2.0, 2.0, 1.0, 2.0]).expect("monotone");
    assert_eq!(ok.predictions.len(), 3);
    assert_eq!(run(&[3], &[]).expect("empty").predictions.len(), 0);
}
