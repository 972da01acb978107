//! A small dense Cholesky factor for the data layer's own least squares
//! (conditional-independence tests, imputation models), which work on
//! matrices of a few dozen rows and need the factor itself, not only solves.

/// The lower triangular `L` of `A = L Lᵀ` for a symmetric positive definite
/// `k × k` matrix.
pub(crate) struct Lower {
    /// The order of the matrix.
    k: usize,
    /// `L`, row-major; the upper triangle is unused.
    l: Vec<f64>,
}

impl Lower {
    /// Factors `a` (row-major, `k × k`); `None` when it is not positive
    /// definite (a pivot at or below `1e-14` of the largest diagonal).
    pub(crate) fn factor(mut a: Vec<f64>, k: usize) -> Option<Self> {
        let scale = (0..k).map(|i| a[i * k + i]).fold(0.0, f64::max).max(1e-300);
        for j in 0..k {
            let mut d = a[j * k + j];
            for m in 0..j {
                d -= a[j * k + m] * a[j * k + m];
            }
            if d <= 1e-14 * scale {
                return None;
            }
            let d = d.sqrt();
            a[j * k + j] = d;
            for i in j + 1..k {
                let mut s = a[i * k + j];
                for m in 0..j {
                    s -= a[i * k + m] * a[j * k + m];
                }
                a[i * k + j] = s / d;
            }
        }
        Some(Lower { k, l: a })
    }

    /// Solves `L v = b` in place.
    pub(crate) fn forward(&self, b: &mut [f64]) {
        let (k, l) = (self.k, &self.l);
        for i in 0..k {
            let s: f64 = (0..i).map(|m| l[i * k + m] * b[m]).sum();
            b[i] = (b[i] - s) / l[i * k + i];
        }
    }

    /// Solves `Lᵀ v = b` in place.
    pub(crate) fn backward(&self, b: &mut [f64]) {
        let (k, l) = (self.k, &self.l);
        for i in (0..k).rev() {
            let s: f64 = (i + 1..k).map(|m| l[m * k + i] * b[m]).sum();
            b[i] = (b[i] - s) / l[i * k + i];
        }
    }

    /// Solves `A v = b` in place.
    pub(crate) fn solve(&self, b: &mut [f64]) {
        self.forward(b);
        self.backward(b);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn solves_and_refuses_a_singular_matrix() {
        let a = vec![4.0, 2.0, 0.4, 2.0, 5.0, 1.0, 0.4, 1.0, 3.0];
        let f = Lower::factor(a.clone(), 3).expect("positive definite");
        let mut b = vec![1.0, -2.0, 0.5];
        f.solve(&mut b);
        for i in 0..3 {
            let back: f64 = (0..3).map(|j| a[i * 3 + j] * b[j]).sum();
            assert!((back - [1.0, -2.0, 0.5][i]).abs() < 1e-12);
        }
        assert!(Lower::factor(vec![1.0, 1.0, 1.0, 1.0], 2).is_none());
    }
}
