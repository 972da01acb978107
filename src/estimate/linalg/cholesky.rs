//! The Cholesky factor of a Gram matrix, which names the column that makes
//! a design collinear.

use ndarray::{s, Array1, Array2, ArrayView1, ArrayView2};

use super::{collinear, symmetrize};
use crate::{Error, Result};

/// A column counts as collinear when less than this share of its sum of
/// squares is left after projecting it on the earlier columns (1 − R² ≤ tol).
const COLLINEARITY_TOL: f64 = 1e-10;

/// Lower-triangular Cholesky factor `L` of a symmetric positive-definite
/// matrix `A = L Lᵀ`: factored once, then used for solves and the inverse.
#[derive(Debug, Clone)]
pub struct Cholesky {
    /// The factor `L`, lower triangular; zeros above the diagonal.
    l: Array2<f64>,
}

impl Cholesky {
    /// Factors the symmetric matrix `a`, reading only its lower triangle.
    ///
    /// `a` is meant to be a Gram matrix `XᵀX`, and `names[j]` names column `j`
    /// of `X` in errors (unnamed columns are called by position).
    ///
    /// # Errors
    /// [`Error::Estimate`] when `a` has a non-finite entry, when a column is
    /// all zeros, or when a pivot keeps at most a relative 1e-10 of its
    /// diagonal entry, i.e. the column is numerically a linear combination of
    /// the columns before it; the message names the first such column.
    ///
    /// # Panics
    /// If `a` is not square.
    pub fn factor(a: ArrayView2<f64>, names: &[String]) -> Result<Self> {
        let k = a.nrows();
        assert_eq!(a.ncols(), k, "Cholesky::factor needs a square matrix");
        if let Some(((i, j), v)) = a.indexed_iter().find(|(_, v)| !v.is_finite()) {
            return Err(Error::Estimate(format!(
                "cannot factor a matrix with a non-finite entry ({v} at row {}, column {})",
                i + 1,
                j + 1
            )));
        }
        let mut l = Array2::<f64>::zeros((k, k));
        for j in 0..k {
            let ajj = a[(j, j)];
            if ajj <= 0.0 {
                return Err(collinear(names, j, "is all zeros"));
            }
            let row_j = l.slice(s![j, ..j]);
            let pivot = ajj - row_j.dot(&row_j);
            if pivot <= COLLINEARITY_TOL * ajj {
                return Err(collinear(
                    names,
                    j,
                    "is a linear combination of earlier columns",
                ));
            }
            let ljj = pivot.sqrt();
            l[(j, j)] = ljj;
            for i in j + 1..k {
                let off = a[(i, j)] - l.slice(s![i, ..j]).dot(&l.slice(s![j, ..j]));
                l[(i, j)] = off / ljj;
            }
        }
        Ok(Cholesky { l })
    }

    /// Solves `A x = b` by forward and back substitution.
    ///
    /// # Panics
    /// If `b` does not have one entry per row of `A`.
    pub fn solve(&self, b: ArrayView1<f64>) -> Array1<f64> {
        let k = self.l.nrows();
        assert_eq!(
            b.len(),
            k,
            "Cholesky::solve: right-hand side has the wrong length"
        );
        let mut x = b.to_owned();
        for i in 0..k {
            let done = self.l.slice(s![i, ..i]).dot(&x.slice(s![..i]));
            x[i] = (x[i] - done) / self.l[(i, i)];
        }
        for i in (0..k).rev() {
            let done = self.l.slice(s![i + 1.., i]).dot(&x.slice(s![i + 1..]));
            x[i] = (x[i] - done) / self.l[(i, i)];
        }
        x
    }

    /// The inverse `A⁻¹ = L⁻ᵀ L⁻¹`, exactly symmetric.
    pub fn inverse(&self) -> Array2<f64> {
        let k = self.l.nrows();
        let mut linv = Array2::<f64>::zeros((k, k));
        for j in 0..k {
            linv[(j, j)] = 1.0 / self.l[(j, j)];
            for i in j + 1..k {
                let acc = self.l.slice(s![i, j..i]).dot(&linv.slice(s![j..i, j]));
                linv[(i, j)] = -acc / self.l[(i, i)];
            }
        }
        let mut inv = linv.t().dot(&linv);
        symmetrize(&mut inv);
        inv
    }
}

#[cfg(test)]
mod tests {
    use ndarray::{array, s, Array2};

    use super::Cholesky;
    use crate::estimate::linalg::testing::{max_abs_diff, names, random_design};

    #[test]
    fn cholesky_solves_a_known_system() {
        let a = array![[4.0, 2.0, 0.4], [2.0, 5.0, 1.0], [0.4, 1.0, 3.0]];
        let x_true = array![1.0, -2.0, 0.5];
        let b = a.dot(&x_true);
        let chol = Cholesky::factor(a.view(), &names(&["a", "b", "c"])).expect("SPD");
        let x = chol.solve(b.view());
        for (got, want) in x.iter().zip(x_true.iter()) {
            assert!((got - want).abs() < 1e-14, "{got} vs {want}");
        }
        // The factor of [[4, 2], [2, 5]] is [[2, 0], [1, 2]].
        let small = Cholesky::factor(a.slice(s![..2, ..2]), &[]).expect("SPD");
        assert_eq!(small.l, array![[2.0, 0.0], [1.0, 2.0]]);
    }

    #[test]
    fn inverse_times_matrix_is_identity() {
        let x = random_design(200, 8, 3);
        let a = x.t().dot(&x);
        let chol = Cholesky::factor(a.view(), &[]).expect("SPD");
        let inv = chol.inverse();
        assert_eq!(inv, inv.t());
        let eye = Array2::<f64>::eye(8);
        assert!(max_abs_diff(&inv.dot(&a), &eye) < 1e-12);
        assert!(max_abs_diff(&a.dot(&inv), &eye) < 1e-12);
    }
}
