//! Small dense linear algebra for the linear estimators: a Cholesky factor
//! that names the regressor making a design collinear, least squares on
//! centered and scaled columns, and sandwich (classical and HC0–HC3)
//! covariances.
//!
//! Systems are k×k with k at most a few hundred, built from n×k designs, so
//! forming the Gram matrix (O(n k²)) dominates the cost. Centering and scaling
//! the columns first keeps the Cholesky factor of that Gram matrix accurate.
//!
//! `cholesky` holds the factor, `least_squares` the fit on a prepared design,
//! `sandwich` the covariances with the kinds of standard error and `scale`
//! the exact power-of-two scaling that lets zero and constant columns be
//! judged relative to their magnitude.

mod cholesky;
mod least_squares;
mod sandwich;
mod scale;
#[cfg(test)]
mod testing;

use ndarray::Array2;

pub use cholesky::Cholesky;
pub use least_squares::LeastSquares;
pub use sandwich::{sandwich, SeKind};
pub use scale::{largest, ldexp, scale_exponent, Spread, SPREAD_TOL};

use crate::Error;

/// The error for column `j` being collinear, with the reason.
fn collinear(names: &[String], j: usize, why: &str) -> Error {
    Error::Estimate(format!(
        "regressors are collinear: column `{}` {why}",
        column_name(names, j)
    ))
}

/// The name of column `j`, or its 1-based position when unnamed.
fn column_name(names: &[String], j: usize) -> String {
    names
        .get(j)
        .cloned()
        .unwrap_or_else(|| format!("#{}", j + 1))
}

/// Copies the lower triangle onto the upper one, removing rounding asymmetry.
fn symmetrize(a: &mut Array2<f64>) {
    for i in 0..a.nrows() {
        for j in 0..i {
            a[(j, i)] = a[(i, j)];
        }
    }
}
