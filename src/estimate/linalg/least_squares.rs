//! Least squares on centered and scaled columns, with the transformations
//! undone in the coefficients and in `(XᵀX)⁻¹`. A column of extreme
//! magnitude is first divided by an exact power of two, so that a column
//! near 1e300 is not called constant nor one near 5e-320 all zeros.

use ndarray::{Array1, Array2, ArrayView1, ArrayView2, Zip};

use super::scale::{ldexp, scale_exponent};
use super::{collinear, column_name, Cholesky};
use crate::{Error, Result};

/// A column with an intercept in the design counts as constant when its
/// root-mean-square deviation from its mean is below this share of its
/// root-mean-square: it varies only by rounding noise.
const CONSTANT_TOL: f64 = 1e-10;

/// An ordinary least-squares fit of `y` on the columns of `X`, keeping what
/// standard errors need: the coefficients, `(XᵀX)⁻¹` and the residuals.
#[derive(Debug, Clone)]
pub struct LeastSquares {
    /// Coefficients, one per column of `X`.
    pub beta: Array1<f64>,
    /// `(XᵀX)⁻¹`, k×k: the bread of sandwich covariances.
    pub xtx_inv: Array2<f64>,
    /// Residuals `y − X beta`, one per row.
    pub residuals: Array1<f64>,
}

impl LeastSquares {
    /// Fits `y` on `x` (n×k); `names` names the k columns in errors.
    ///
    /// Columns are centered when the design has a constant (intercept) column
    /// and scaled to unit root-mean-square before forming `XᵀX`; both
    /// transformations are undone in `beta` and `xtx_inv`.
    ///
    /// # Errors
    /// [`Error::Data`] for a non-finite value in `x` or `y`;
    /// [`Error::Estimate`] for fewer rows than columns and for collinear
    /// columns (all zeros, constant besides an intercept, or a linear
    /// combination of earlier columns), naming the first offending column.
    ///
    /// # Panics
    /// If `y` does not have one entry per row of `x`.
    pub fn fit(x: ArrayView2<f64>, y: ArrayView1<f64>, names: &[String]) -> Result<Self> {
        let [fit] = Self::fit_many(x, [y], names)?;
        Ok(fit)
    }

    /// Fits each of the `M` responses `ys` on the same `x`, preparing and
    /// factoring the design once.
    ///
    /// # Errors
    /// As for [`LeastSquares::fit`].
    ///
    /// # Panics
    /// If a response does not have one entry per row of `x`.
    pub fn fit_many<const M: usize>(
        x: ArrayView2<f64>,
        ys: [ArrayView1<f64>; M],
        names: &[String],
    ) -> Result<[Self; M]> {
        for y in &ys {
            assert_eq!(y.len(), x.nrows(), "least squares: y and x differ in rows");
            if let Some(i) = y.iter().position(|v| !v.is_finite()) {
                return Err(Error::Data(format!(
                    "the response has a non-finite value ({}) at row {}",
                    y[i],
                    i + 1
                )));
            }
        }
        let solver = Solver::new(x, names)?;
        Ok(ys.map(|y| solver.fit(y)))
    }

    /// Residual sum of squares `Σ eᵢ²`.
    pub fn rss(&self) -> f64 {
        self.residuals.dot(&self.residuals)
    }
}

/// A design prepared for least squares: a working copy whose column `j` is
/// `(x_j / 2^e_j − shift_j) / scale_j`, the Cholesky factor of its Gram
/// matrix, and what maps a fit on it back to the original columns.
///
/// With a constant column `c` (an intercept) the other columns are centered
/// at their means, so that large offsets do not swamp their variation;
/// without one, columns are only scaled.
struct Solver {
    /// The centered and scaled design, n×k.
    xs: Array2<f64>,
    /// The power of two each column was divided by first (0 for columns
    /// whose magnitude needs none, which is nearly every column).
    exponents: Vec<i32>,
    /// Root-mean-square of each (centered) column.
    scale: Array1<f64>,
    /// The constant column and each column's shift divided by its value
    /// (zero at the constant column itself), when centering was done.
    centering: Option<(usize, Array1<f64>)>,
    /// Cholesky factor of `xsᵀ xs`.
    chol: Cholesky,
    /// `(XᵀX)⁻¹` of the original design.
    xtx_inv: Array2<f64>,
}

impl Solver {
    /// Checks, centers, scales and factors the design `x`.
    fn new(x: ArrayView2<f64>, names: &[String]) -> Result<Self> {
        check_design(x, names)?;
        let (n, k) = x.dim();
        let nf = n as f64;
        // A row-major working copy, so that the passes below run over slices.
        let mut xs = x.as_standard_layout().into_owned();
        let buf = xs
            .as_slice_mut()
            .expect("an array in standard layout is one slice");
        let exponents = bring_into_range(buf, k);
        let first = buf[..k].to_vec();
        let mut sum = vec![0.0; k];
        let mut raw_ss = vec![0.0; k];
        for row in buf.chunks_exact(k) {
            for ((s, q), &v) in sum.iter_mut().zip(raw_ss.iter_mut()).zip(row) {
                *s += v;
                *q += v * v;
            }
        }
        // In range, a square underflows to zero only for values 1e-140 times
        // smaller than the column's largest: a zero sum of squares means zeros.
        if let Some(j) = raw_ss.iter().position(|&q| q == 0.0) {
            return Err(collinear(names, j, "is all zeros"));
        }
        let varies: Vec<bool> = (0..k)
            .map(|j| buf.iter().skip(j).step_by(k).any(|&v| v != first[j]))
            .collect();
        let constant = varies.iter().position(|&d| !d);
        let (shift, ss) = match constant {
            Some(c) => centered_ss(buf, c, &sum, &raw_ss, names)?,
            None => (vec![0.0; k], raw_ss),
        };
        let scale: Array1<f64> = ss.iter().map(|q| (q / nf).sqrt()).collect();
        let inv_scale: Vec<f64> = scale.iter().map(|s| 1.0 / s).collect();
        for row in buf.chunks_exact_mut(k) {
            for ((v, &m), &r) in row.iter_mut().zip(&shift).zip(&inv_scale) {
                *v = (*v - m) * r;
            }
        }
        let chol = Cholesky::factor(xs.t().dot(&xs).view(), names)?;
        let centering = constant.map(|c| {
            let value = first[c];
            (c, shift.iter().map(|m| m / value).collect())
        });
        let mut xtx_inv = original_inverse(chol.inverse(), &scale, centering.as_ref());
        if exponents.iter().any(|&e| e != 0) {
            for ((i, j), v) in xtx_inv.indexed_iter_mut() {
                *v = ldexp(*v, -(exponents[i] + exponents[j]));
            }
        }
        Ok(Solver {
            xs,
            exponents,
            scale,
            centering,
            chol,
            xtx_inv,
        })
    }

    /// Least squares of `y` (finite, one entry per row) on the prepared design.
    fn fit(&self, y: ArrayView1<f64>) -> LeastSquares {
        let mut xty = Array1::<f64>::zeros(self.xs.ncols());
        for (row, &yi) in self.xs.rows().into_iter().zip(y) {
            xty.scaled_add(yi, &row);
        }
        let gamma = self.chol.solve(xty.view());
        let mut residuals = Array1::<f64>::zeros(y.len());
        Zip::from(&mut residuals)
            .and(self.xs.rows())
            .and(y)
            .for_each(|r, row, &yi| *r = yi - row.dot(&gamma));
        LeastSquares {
            beta: self.to_original_beta(gamma),
            xtx_inv: self.xtx_inv.clone(),
            residuals,
        }
    }

    /// Maps coefficients of the working design back to the original one.
    ///
    /// The design brought into range is `X = Xc (I + e_c gᵀ)` with `Xc` the
    /// centered design, so `β = (I − e_c gᵀ) βc`; then each coefficient is
    /// divided by the power of two its column was.
    fn to_original_beta(&self, gamma: Array1<f64>) -> Array1<f64> {
        let mut beta = gamma / &self.scale;
        if let Some((c, g)) = &self.centering {
            beta[*c] -= g.dot(&beta);
        }
        for (b, &e) in beta.iter_mut().zip(&self.exponents) {
            *b = ldexp(*b, -e);
        }
        beta
    }
}

/// Divides each column of the row-major design `buf` (`k` columns) whose
/// largest magnitude is extreme by the power of two that brings it near 1
/// (exact), and returns those powers (0 for the others).
fn bring_into_range(buf: &mut [f64], k: usize) -> Vec<i32> {
    let mut top = vec![0.0f64; k];
    for row in buf.chunks_exact(k) {
        for (t, &v) in top.iter_mut().zip(row) {
            *t = t.max(v.abs());
        }
    }
    let exponents: Vec<i32> = top.into_iter().map(scale_exponent).collect();
    if exponents.iter().any(|&e| e != 0) {
        for row in buf.chunks_exact_mut(k) {
            for (v, &e) in row.iter_mut().zip(&exponents) {
                *v = ldexp(*v, -e);
            }
        }
    }
    exponents
}

/// Fails for a non-finite value in the design `x`, for no columns and for
/// fewer rows than columns.
fn check_design(x: ArrayView2<f64>, names: &[String]) -> Result<()> {
    let (n, k) = x.dim();
    if let Some(p) = x.iter().position(|v| !v.is_finite()) {
        let (i, j) = (p / k, p % k);
        return Err(Error::Data(format!(
            "column `{}` has a non-finite value ({}) at row {}",
            column_name(names, j),
            x[(i, j)],
            i + 1
        )));
    }
    if n < k || k == 0 {
        return Err(Error::Estimate(format!(
            "least squares needs at least one column and at least as many rows as \
                 columns: {n} rows, {k} columns"
        )));
    }
    Ok(())
}

/// Centers the row-major design `buf` at its column means (`sum` / n),
/// except the intercept column `c`: returns the shifts and the sums of
/// squares about them, and fails when another column is constant up to
/// rounding (its centered sum of squares is tiny next to `raw_ss`).
fn centered_ss(
    buf: &[f64],
    c: usize,
    sum: &[f64],
    raw_ss: &[f64],
    names: &[String],
) -> Result<(Vec<f64>, Vec<f64>)> {
    let k = sum.len();
    let nf = (buf.len() / k) as f64;
    let mut shift = vec![0.0; k];
    for (m, s) in shift.iter_mut().zip(sum) {
        *m = s / nf;
    }
    shift[c] = 0.0;
    let mut ss = vec![0.0; k];
    for row in buf.chunks_exact(k) {
        for ((q, &v), &m) in ss.iter_mut().zip(row).zip(&shift) {
            *q += (v - m) * (v - m);
        }
    }
    let tiny = CONSTANT_TOL * CONSTANT_TOL;
    if let Some(j) = (0..k).find(|&j| j != c && ss[j] <= tiny * raw_ss[j]) {
        let why = format!(
            "is constant, so it duplicates the intercept column `{}`",
            column_name(names, c)
        );
        return Err(collinear(names, j, &why));
    }
    Ok((shift, ss))
}

/// Maps `(XsᵀXs)⁻¹` of a working design with column scales `scale` and
/// optional centering `(c, g)` back to `(XᵀX)⁻¹` of the original design,
/// which is `(I − e_c gᵀ) (XcᵀXc)⁻¹ (I − g e_cᵀ)`.
fn original_inverse(
    gram_inv: Array2<f64>,
    scale: &Array1<f64>,
    centering: Option<&(usize, Array1<f64>)>,
) -> Array2<f64> {
    let mut inv = gram_inv;
    for ((i, j), v) in inv.indexed_iter_mut() {
        *v /= scale[i] * scale[j];
    }
    if let Some((c, g)) = centering {
        let c = *c;
        let v = inv.dot(g);
        let q = g.dot(&v);
        for (j, &vj) in v.iter().enumerate() {
            inv[(c, j)] -= vj;
            inv[(j, c)] -= vj;
        }
        inv[(c, c)] += q;
    }
    inv
}

#[cfg(test)]
mod tests {
    use ndarray::{array, s, Array1, Array2, Axis};
    use rand::SeedableRng;
    use rand_distr::{Distribution, Normal};

    use super::LeastSquares;
    use crate::estimate::linalg::testing::{max_abs_diff, names, random_design};
    use crate::estimate::linalg::Cholesky;

    #[test]
    fn collinear_design_names_the_column() {
        let mut x = random_design(50, 4, 5);
        let combo = &x.column(1) * 2.0 - x.column(2);
        x.column_mut(3).assign(&combo);
        let y = x.column(1).to_owned();
        let err = LeastSquares::fit(x.view(), y.view(), &names(&["one", "x1", "x2", "x3"]))
            .expect_err("collinear");
        assert_eq!(
            err.to_string(),
            "regressors are collinear: column `x3` is a linear combination of earlier columns"
        );
        // The same failure straight from the Gram matrix, without centering.
        let err = Cholesky::factor(x.t().dot(&x).view(), &names(&["one", "x1", "x2", "x3"]))
            .expect_err("collinear");
        assert!(err
            .to_string()
            .contains("column `x3` is a linear combination"));
    }

    #[test]
    fn zero_and_constant_columns_are_named() {
        let mut x = random_design(30, 3, 7);
        x.column_mut(2).fill(0.0);
        let y = x.column(1).to_owned();
        let err = LeastSquares::fit(x.view(), y.view(), &names(&["one", "a", "b"]))
            .expect_err("zero column");
        assert!(err.to_string().contains("column `b` is all zeros"), "{err}");
        x.column_mut(2).fill(3.0);
        let err = LeastSquares::fit(x.view(), y.view(), &names(&["one", "a", "b"]))
            .expect_err("constant column");
        assert!(
            err.to_string()
                .contains("column `b` is constant, so it duplicates the intercept column `one`"),
            "{err}"
        );
    }

    #[test]
    fn zero_and_constant_are_judged_relative_to_the_column() {
        // A column near 1e300 (squares overflow) is not constant, one near
        // 5e-320 (squares underflow) not all zeros: both fit like any other.
        // (The coefficient of `b` is small so that, divided by 5e-320, it
        // stays finite.)
        let x = random_design(40, 3, 8);
        let beta_true = array![0.5, 2.0, -1e-12];
        let y = x.dot(&beta_true);
        for (j, scale) in [(1, 1e300), (2, 5e-320), (1, 1e-300)] {
            let mut scaled = x.clone();
            scaled.column_mut(j).mapv_inplace(|v| v * scale);
            let fit = LeastSquares::fit(scaled.view(), y.view(), &names(&["one", "a", "b"]))
                .unwrap_or_else(|e| panic!("scale {scale}: {e}"));
            let got = fit.beta[j] * scale;
            assert!(
                (got / beta_true[j] - 1.0).abs() < 1e-2,
                "scale {scale}: {got}"
            );
            assert!((fit.beta[0] - beta_true[0]).abs() < 1e-6, "scale {scale}");
        }
        let mut shifted = x.clone();
        shifted.column_mut(1).fill(1e300);
        let err = LeastSquares::fit(shifted.view(), y.view(), &names(&["one", "a", "b"]))
            .expect_err("constant");
        assert!(err.to_string().contains("column `a` is constant"), "{err}");
    }

    #[test]
    fn badly_scaled_columns_give_the_right_beta() {
        let mut x = random_design(100, 4, 11);
        x.column_mut(2).mapv_inplace(|v| v * 1e6);
        let beta_true = array![0.7, -1.5, 2e-6, 0.25];
        let y = x.dot(&beta_true);
        let fit = LeastSquares::fit(x.view(), y.view(), &[]).expect("full rank");
        for (got, want) in fit.beta.iter().zip(beta_true.iter()) {
            assert!(((got - want) / want).abs() < 1e-12, "{got} vs {want}");
        }
        // (XᵀX)⁻¹ still inverts XᵀX: D (XᵀX)⁻¹ XᵀX D⁻¹ = I with D the column norms.
        let xtx = x.t().dot(&x);
        let d = xtx.diag().mapv(f64::sqrt);
        let product = fit.xtx_inv.dot(&xtx) * d.view().insert_axis(Axis(1)) / &d;
        assert!(max_abs_diff(&product, &Array2::eye(4)) < 1e-12);
    }

    #[test]
    fn large_offsets_alongside_an_intercept_are_centered_away() {
        // Column 3 is 1e6 + N(0, 1): uncentered, 1 − R² on the intercept
        // would be 1e-12 and the design would look collinear.
        let mut x = random_design(100, 4, 12);
        x.column_mut(3).mapv_inplace(|v| 1e6 + v);
        let beta_true = array![0.7, -1.5, 2.0, 0.25];
        let y = x.dot(&beta_true);
        let fit = LeastSquares::fit(x.view(), y.view(), &[]).expect("full rank");
        for (got, want) in fit.beta.iter().zip(beta_true.iter()).skip(1) {
            assert!(((got - want) / want).abs() < 1e-9, "{got} vs {want}");
        }
        // The intercept extrapolates column 3 from 1e6 to 0, which magnifies
        // the rounding of y (|y| ≈ 2.5e5) about a millionfold.
        assert!((fit.beta[0] - 0.7).abs() < 1e-4, "{}", fit.beta[0]);
        // By Frisch–Waugh–Lovell, diagonal j of (XᵀX)⁻¹ is 1 / RSS of
        // column j on the other columns.
        for j in 1..4 {
            let others: Vec<usize> = (0..4).filter(|&m| m != j).collect();
            let rest = x.select(Axis(1), &others);
            let rss = LeastSquares::fit(rest.view(), x.column(j), &[])
                .expect("full rank")
                .rss();
            let got = fit.xtx_inv[(j, j)] * rss;
            assert!((got - 1.0).abs() < 1e-8, "column {j}: {got}");
        }
    }

    #[test]
    fn least_squares_matches_the_normal_equations() {
        let base = random_design(80, 3, 13);
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(14);
        let noise = Normal::new(0.0, 1.0).expect("valid normal");
        let y = base.dot(&array![1.0, 2.0, -3.0])
            + Array1::from_shape_fn(80, |_| noise.sample(&mut rng));
        // With an intercept of ones, a negative constant column, and none.
        let mut negative = base.clone();
        negative.column_mut(0).fill(-2.5);
        for x in [base.clone(), negative, base.slice(s![.., 1..]).to_owned()] {
            let fit = LeastSquares::fit(x.view(), y.view(), &[]).expect("full rank");
            let xtx = x.t().dot(&x);
            let k = x.ncols();
            assert!(max_abs_diff(&fit.xtx_inv.dot(&xtx), &Array2::eye(k)) < 1e-12);
            let direct = fit.xtx_inv.dot(&x.t().dot(&y));
            assert!(
                max_abs_diff(
                    &fit.beta.clone().insert_axis(Axis(1)),
                    &direct.insert_axis(Axis(1))
                ) < 1e-12
            );
            // Residuals are y − Xβ and orthogonal to every column.
            let residuals = &y - &x.dot(&fit.beta);
            assert!(fit
                .residuals
                .iter()
                .zip(&residuals)
                .all(|(a, b)| (a - b).abs() < 1e-12));
            assert!(x.t().dot(&fit.residuals).iter().all(|v| v.abs() < 1e-10));
            assert_eq!(fit.rss(), fit.residuals.dot(&fit.residuals));
        }
    }

    #[test]
    fn fit_many_matches_separate_fits() {
        let x = random_design(60, 4, 15);
        let y1 = x.column(1).mapv(|v| v * v);
        let y2 = x.column(2).mapv(f64::exp);
        let [a, b] = LeastSquares::fit_many(x.view(), [y1.view(), y2.view()], &[]).expect("fits");
        let a1 = LeastSquares::fit(x.view(), y1.view(), &[]).expect("fits");
        let b1 = LeastSquares::fit(x.view(), y2.view(), &[]).expect("fits");
        assert_eq!((a.beta, a.residuals), (a1.beta, a1.residuals));
        assert_eq!((b.beta, b.xtx_inv), (b1.beta, b1.xtx_inv));
    }

    #[test]
    fn non_finite_inputs_are_errors() {
        let mut x = random_design(10, 2, 17);
        let mut y = x.column(1).to_owned();
        y[4] = f64::NAN;
        let err = LeastSquares::fit(x.view(), y.view(), &[]).expect_err("NaN in y");
        assert!(
            err.to_string().contains("non-finite value (NaN) at row 5"),
            "{err}"
        );
        y[4] = 0.0;
        x[(2, 1)] = f64::INFINITY;
        let err =
            LeastSquares::fit(x.view(), y.view(), &names(&["one", "age"])).expect_err("inf in x");
        assert!(
            err.to_string()
                .contains("column `age` has a non-finite value"),
            "{err}"
        );
    }
}
