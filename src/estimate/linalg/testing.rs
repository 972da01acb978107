//! Helpers shared by the linear-algebra tests: named columns, matrix
//! distance and random designs.

use ndarray::Array2;
use rand::SeedableRng;
use rand_distr::{Distribution, Normal};

/// Column names from string literals.
pub(super) fn names(list: &[&str]) -> Vec<String> {
    list.iter().map(|s| s.to_string()).collect()
}

/// The largest absolute entry of `a - b`.
pub(super) fn max_abs_diff(a: &Array2<f64>, b: &Array2<f64>) -> f64 {
    (a - b).iter().fold(0.0, |m, v| m.max(v.abs()))
}

/// An n×k design: an intercept then standard normal columns.
pub(super) fn random_design(n: usize, k: usize, seed: u64) -> Array2<f64> {
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
    let normal = Normal::new(0.0, 1.0).expect("valid normal");
    Array2::from_shape_fn(
        (n, k),
        |(_, j)| {
            if j == 0 {
                1.0
            } else {
                normal.sample(&mut rng)
            }
        },
    )
}
