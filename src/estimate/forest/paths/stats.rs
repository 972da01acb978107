//! The statistics a path's difference arrays hold per step and how a
//! step's prediction is evaluated from them by the formula of point
//! predictions.

use crate::estimate::forest::bags::bag_variance;
use crate::estimate::forest::grf::{IvSolution, Prediction};
use crate::estimate::forest::rules::{Instrumental, SplitRule};

/// Numbers per leaf of an instrumental forest: means of y, w, z, yz, wz.
pub const WIDTH: usize = <Instrumental<'static> as SplitRule>::WIDTH;
/// The upper triangle of a symmetric `WIDTH × WIDTH` matrix, packed row by row.
pub const PAIRS: usize = WIDTH * (WIDTH + 1) / 2;

// The statistics summed over each step's trees, in order.
/// Little bags all of whose trees have a filled leaf ("good" bags).
pub const GOOD: usize = 0;
/// Leaf values summed over the good bags' trees.
pub const TREE_SUM: usize = GOOD + 1;
/// Deviations of leaf values from the path's center (a typical leaf's
/// values) summed over the good bags' trees: the variance's scores are
/// formed from sums of products of deviations, which lose less to rounding
/// than those of the values, whose large common part the formula would cancel.
pub const DEV_SUM: usize = TREE_SUM + WIDTH;
/// Products of deviations (packed pairs) summed over the good bags' trees.
pub const TREE_PROD: usize = DEV_SUM + WIDTH;
/// Products of bag means of deviations (packed pairs) summed over the good bags.
pub const BAG_PROD: usize = TREE_PROD + PAIRS;
/// Trees with a filled leaf outside good bags (all of them without little bags).
pub const LONE: usize = BAG_PROD + PAIRS;
/// Their leaf values, summed.
pub const LONE_SUM: usize = LONE + 1;
/// Where the column means' sums start.
pub const MEANS: usize = LONE_SUM + WIDTH;

/// Adds `values` to the statistics from step `lo` on and removes them from
/// step `hi` on (a difference array over one path's steps, `ns` numbers a step).
#[inline]
pub fn spread(stats: &mut [f64], ns: usize, lo: u32, hi: u32, at: usize, values: &[f64]) {
    let start = lo as usize * ns + at;
    for (s, v) in stats[start..start + values.len()].iter_mut().zip(values) {
        *s += v;
    }
    let end = hi as usize * ns + at;
    if end < stats.len() {
        for (s, v) in stats[end..end + values.len()].iter_mut().zip(values) {
            *s -= v;
        }
    }
}

/// Adds the products `v_a v_b` (`a <= b`, packed row by row) to `out`.
#[inline]
pub fn add_products(out: &mut [f64], v: &[f64]) {
    let mut k = 0;
    for a in 0..WIDTH {
        for b in a..WIDTH {
            out[k] += v[a] * v[b];
            k += 1;
        }
    }
}

/// `a' M b` for the symmetric matrix of second moments of `(v, 1)`:
/// products `prod` (packed), sums `sum`, and `count` in the corner.
fn form(prod: &[f64], sum: &[f64], count: f64, a: &[f64; WIDTH + 1], b: &[f64; WIDTH + 1]) -> f64 {
    let mut total = a[WIDTH] * b[WIDTH] * count;
    let mut k = 0;
    for i in 0..WIDTH {
        total += (a[i] * b[WIDTH] + a[WIDTH] * b[i]) * sum[i];
        for j in i..WIDTH {
            let weight = if i == j {
                a[i] * b[i]
            } else {
                a[i] * b[j] + a[j] * b[i]
            };
            total += weight * prod[k];
            k += 1;
        }
    }
    total
}

/// The effect and its little-bags variance from one step's statistics (with
/// deviations from `center`), by the formula of `predict` (the IV moment,
/// grf's scores, [`bag_variance`]).
pub fn evaluate(stats: &[f64], group: usize, center: &[f64; WIDTH]) -> Prediction {
    let good = stats[GOOD];
    let in_bags = good * group as f64;
    let count = in_bags + stats[LONE];
    if count == 0.0 {
        return Prediction {
            tau: f64::NAN,
            variance: f64::NAN,
        };
    }
    let inv = 1.0 / count;
    let mut avg = [0.0; WIDTH];
    let sums = stats[TREE_SUM..TREE_SUM + WIDTH]
        .iter()
        .zip(&stats[LONE_SUM..LONE_SUM + WIDTH]);
    for (a, (s, l)) in avg.iter_mut().zip(sums) {
        *a = (s + l) * inv;
    }
    let iv = IvSolution::new(&avg);
    if group < 2 || good == 0.0 {
        return Prediction {
            tau: iv.tau,
            variance: f64::NAN,
        };
    }
    // The scores [yz - wz tau - z main, y - w tau - main] as linear forms
    // in (v - center, 1).
    let mut scores = [
        [0.0, 0.0, -iv.main, 1.0, -iv.tau, 0.0],
        [1.0, -iv.tau, 0.0, 0.0, 0.0, -iv.main],
    ];
    for score in &mut scores {
        score[WIDTH] += (0..WIDTH).map(|a| score[a] * center[a]).sum::<f64>();
    }
    let moments = |sum: &[f64], prod: &[f64], n: f64| {
        let cross = form(prod, sum, n, &scores[0], &scores[1]) / n;
        [
            [form(prod, sum, n, &scores[0], &scores[0]) / n, cross],
            [cross, form(prod, sum, n, &scores[1], &scores[1]) / n],
        ]
    };
    let dev_sum = &stats[DEV_SUM..DEV_SUM + WIDTH];
    // The bag means summed over good bags are the good bags' trees' sums over the bag size.
    let mut bag_sum = [0.0; WIDTH];
    for (b, s) in bag_sum.iter_mut().zip(dev_sum) {
        *b = s / group as f64;
    }
    let total = moments(dev_sum, &stats[TREE_PROD..TREE_PROD + PAIRS], in_bags);
    let between = moments(&bag_sum, &stats[BAG_PROD..BAG_PROD + PAIRS], good);
    Prediction {
        tau: iv.tau,
        variance: bag_variance(
            iv.variance_form(&between),
            iv.variance_form(&total),
            group,
            good,
        ),
    }
}
