//! Columns of extreme magnitude brought into range by an exact power of two
//! before their sums of squares are formed, so that whether a column is
//! zero or constant is judged relative to its own magnitude: a column of
//! values near 1e300 (whose squares overflow) is not called constant, nor
//! one near 5e-320 (whose squares underflow) all zeros.
//!
//! Scaling by a power of two is exact, so a column already in range is left
//! as it is and gives bit for bit the same results as before.

use ndarray::ArrayView1;

/// Columns whose largest magnitude lies within `2^±RANGE` are left as they
/// are: their squares, summed over up to 2^60 rows, neither overflow nor
/// underflow.
const RANGE: i32 = 480;

/// Relative tolerance under which a column counts as constant: its standard
/// deviation is at most this share of its largest magnitude.
pub const SPREAD_TOL: f64 = 1e-12;

/// `x · 2^e`, exact unless the result leaves the range of `f64`.
pub fn ldexp(x: f64, e: i32) -> f64 {
    let mut x = x;
    let mut e = e;
    // 2^±1000 are both normal numbers; larger shifts are done in steps.
    while e != 0 {
        let step = e.clamp(-1000, 1000);
        x *= f64::from_bits(((1023 + step) as u64) << 52);
        e -= step;
    }
    x
}

/// The power of two a column with largest magnitude `largest` is divided
/// by: 0 in range (and for a column of zeros), else the exponent that
/// brings its largest value near 1.
pub fn scale_exponent(largest: f64) -> i32 {
    if largest == 0.0 || !largest.is_finite() {
        return 0;
    }
    let e = largest.log2().floor() as i32;
    if (-RANGE..=RANGE).contains(&e) {
        0
    } else {
        e
    }
}

/// The largest magnitude in `values` (0 when empty).
pub fn largest(values: impl IntoIterator<Item = f64>) -> f64 {
    values.into_iter().fold(0.0, |m, v| m.max(v.abs()))
}

/// The mean and (population) standard deviation of a column and its
/// largest magnitude, computed on the column scaled by `2^-exponent`, so
/// that neither overflows nor underflows.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Spread {
    /// The power of two the column was divided by.
    pub exponent: i32,
    /// Mean of the scaled column.
    pub mean: f64,
    /// Standard deviation of the scaled column (divisor n).
    pub sd: f64,
    /// Largest magnitude of the scaled column.
    pub largest: f64,
}

impl Spread {
    /// The spread of `column`, which must be finite.
    pub fn of(column: ArrayView1<f64>) -> Spread {
        let exponent = scale_exponent(largest(column.iter().copied()));
        let scaled = || column.iter().map(move |&v| ldexp(v, -exponent));
        let n = column.len().max(1) as f64;
        let mean = scaled().sum::<f64>() / n;
        let sd = (scaled().map(|v| (v - mean) * (v - mean)).sum::<f64>() / n).sqrt();
        Spread {
            exponent,
            mean,
            sd,
            largest: largest(scaled()),
        }
    }

    /// Whether the column is constant: zero everywhere, or varying by at
    /// most [`SPREAD_TOL`] of its largest magnitude (rounding noise).
    pub fn is_constant(&self) -> bool {
        self.sd <= SPREAD_TOL * self.largest
    }

    /// `v` of the column standardized: `(v − mean) / sd`.
    pub fn standardize(&self, v: f64) -> f64 {
        (ldexp(v, -self.exponent) - self.mean) / self.sd
    }
}

#[cfg(test)]
mod tests {
    use ndarray::{array, Array1};

    use super::*;

    #[test]
    fn powers_of_two_scale_exactly_and_far() {
        assert_eq!(ldexp(3.0, 4), 48.0);
        assert_eq!(
            ldexp(5e-320, 1100),
            5e-320 * 2f64.powi(550) * 2f64.powi(550)
        );
        assert_eq!(ldexp(ldexp(1e300, -1500), 1500), 1e300);
        assert_eq!(scale_exponent(90.0), 0);
        assert_eq!(scale_exponent(1e300), 996);
        assert!(scale_exponent(5e-320) < -1000);
    }

    #[test]
    fn constant_and_zero_are_judged_relative_to_magnitude() {
        let base = array![0.3, -0.7, 0.1, 0.9, -0.2];
        for scale in [1.0, 1e300, 1e-300, 5e-320 / 0.9] {
            let spread = Spread::of((&base * scale).view());
            assert!(!spread.is_constant(), "scale {scale}");
            let z: Array1<f64> = (&base * scale).mapv(|v| spread.standardize(v));
            let reference = Spread::of(base.view());
            for (a, b) in z.iter().zip(base.iter()) {
                assert!(
                    (a - reference.standardize(*b)).abs() < 1e-2,
                    "scale {scale}"
                );
            }
        }
        assert!(Spread::of(array![0.0, 0.0].view()).is_constant());
        assert!(Spread::of(array![1e300, 1e300, 1e300].view()).is_constant());
        assert!(Spread::of(array![7.1, 7.1, 7.1].view()).is_constant());
    }
}
