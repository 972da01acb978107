//! Principal components in place of the covariates, as the review proposes
//! for high-dimensional regional indicators: the covariates are
//! standardized, and the fewest leading components of their correlation
//! matrix that explain a set share of the variance replace them. A
//! confounder that loads on a dropped component is no longer adjusted for:
//! that is the bias the experiment measures.

use ndarray::Array2;
use serde::{Deserialize, Serialize};

use super::{rebuild, Applied};
use crate::core::stats::mean_and_sd;
use crate::data::Dataset;
use crate::{Error, Result};

/// Most covariates PCA decomposes: the eigen solver is cubic in them.
pub const MAX_COLUMNS: usize = 500;

/// PCA on the covariates (`kind = "pca"`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Pca {
    /// Share of the standardized covariates' variance the kept components
    /// explain, in (0, 1].
    pub variance: f64,
}

impl Default for Pca {
    fn default() -> Self {
        Pca { variance: 0.9 }
    }
}

impl Pca {
    /// Checks the settings before any data is seen.
    pub fn validate(&self) -> Result<()> {
        if !(self.variance > 0.0 && self.variance <= 1.0) {
            return Err(Error::Spec(format!(
                "pca: variance is {}; the share of variance kept must be in (0, 1]",
                self.variance
            )));
        }
        Ok(())
    }

    /// The dataset with its covariates replaced by components `pc1..pck`;
    /// the causal graph, whose nodes were the covariates, is dropped.
    pub(super) fn apply(&self, data: &Dataset) -> Result<Applied> {
        let (n, p) = data.x.dim();
        if p > MAX_COLUMNS {
            return Err(Error::Data(format!(
                "pca: {p} covariates; at most {MAX_COLUMNS}"
            )));
        }
        let mut z = Array2::zeros((n, 0));
        let mut kept_columns = Vec::new();
        for j in 0..p {
            let c = data.x.column(j);
            let (mean, sd) = mean_and_sd(c);
            if sd > 1e-12 * mean.abs().max(1.0) {
                kept_columns.push(c.mapv(|v| (v - mean) / sd));
            }
        }
        if !kept_columns.is_empty() {
            let views: Vec<_> = kept_columns.iter().map(|c| c.view()).collect();
            z = ndarray::stack(ndarray::Axis(1), &views)
                .map_err(|e| Error::Data(format!("pca: {e}")))?;
        }
        let k = z.ncols();
        if k == 0 {
            return Err(Error::Data(
                "pca: every covariate is constant; there is nothing to decompose".into(),
            ));
        }
        let correlation = z.t().dot(&z) / n as f64;
        let (values, vectors) = jacobi(correlation);
        let total: f64 = values.iter().sum();
        let mut keep = 0;
        let mut explained = 0.0;
        while keep < k && explained < self.variance * total - 1e-12 {
            explained += values[keep];
            keep += 1;
        }
        let keep = keep.max(1);
        let scores = z.dot(&vectors.slice(ndarray::s![.., ..keep]));
        let names = (1..=keep).map(|c| format!("pc{c}")).collect();
        let made = rebuild(
            data,
            scores,
            names,
            data.y.clone(),
            data.w.clone(),
            data.z.clone(),
            data.mediators.clone(),
            false,
        )?;
        Ok((
            vec![made],
            vec![
                ("components", keep as f64),
                ("variance_explained", explained / total),
            ],
            Vec::new(),
        ))
    }
}

/// Eigenvalues (descending) and eigenvectors (columns) of a symmetric
/// matrix by cyclic Jacobi rotations.
fn jacobi(mut a: Array2<f64>) -> (Vec<f64>, Array2<f64>) {
    let k = a.nrows();
    let mut v = Array2::<f64>::eye(k);
    for _sweep in 0..100 {
        let off: f64 = (0..k)
            .flat_map(|i| (0..k).filter(move |&j| j != i).map(move |j| (i, j)))
            .map(|(i, j)| a[[i, j]].powi(2))
            .sum();
        if off < 1e-22 * k as f64 {
            break;
        }
        for p in 0..k {
            for q in p + 1..k {
                if a[[p, q]].abs() < 1e-300 {
                    continue;
                }
                let theta = (a[[q, q]] - a[[p, p]]) / (2.0 * a[[p, q]]);
                let t = theta.signum() / (theta.abs() + (theta * theta + 1.0).sqrt());
                let c = 1.0 / (t * t + 1.0).sqrt();
                let s = t * c;
                for r in 0..k {
                    let (arp, arq) = (a[[r, p]], a[[r, q]]);
                    a[[r, p]] = c * arp - s * arq;
                    a[[r, q]] = s * arp + c * arq;
                }
                for r in 0..k {
                    let (apr, aqr) = (a[[p, r]], a[[q, r]]);
                    a[[p, r]] = c * apr - s * aqr;
                    a[[q, r]] = s * apr + c * aqr;
                }
                for r in 0..k {
                    let (vrp, vrq) = (v[[r, p]], v[[r, q]]);
                    v[[r, p]] = c * vrp - s * vrq;
                    v[[r, q]] = s * vrp + c * vrq;
                }
            }
        }
    }
    let mut order: Vec<usize> = (0..k).collect();
    order.sort_by(|&i, &j| a[[j, j]].total_cmp(&a[[i, i]]));
    let values = order.iter().map(|&i| a[[i, i]].max(0.0)).collect();
    let vectors = Array2::from_shape_fn((k, k), |(r, c)| v[[r, order[c]]]);
    (values, vectors)
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::Array1;

    #[test]
    fn jacobi_diagonalizes_a_symmetric_matrix() {
        let a = Array2::from_shape_vec((3, 3), vec![4.0, 1.0, 0.5, 1.0, 3.0, 0.2, 0.5, 0.2, 1.0])
            .expect("shape");
        let (values, vectors) = jacobi(a.clone());
        assert!(values.windows(2).all(|w| w[0] >= w[1]));
        let back = vectors
            .dot(&Array2::from_diag(&Array1::from(values.clone())))
            .dot(&vectors.t());
        for (x, y) in back.iter().zip(a.iter()) {
            assert!((x - y).abs() < 1e-10);
        }
        let trace: f64 = values.iter().sum();
        assert!((trace - 8.0).abs() < 1e-10);
    }

    #[test]
    fn two_copies_of_a_signal_give_one_component() {
        let n = 500;
        let x = Array2::from_shape_fn((n, 3), |(i, j)| {
            let s = ((i * 37) % 101) as f64 / 50.0 - 1.0;
            let noise = ((i * 53 + j * 17) % 7) as f64 / 700.0;
            match j {
                0 => s + noise,
                1 => 2.0 * s - noise,
                _ => 5.0,
            }
        });
        let d = Dataset::new(
            Array1::zeros(n),
            Array1::zeros(n),
            None,
            x,
            vec!["a".into(), "b".into(), "constant".into()],
        )
        .expect("data");
        let (made, diagnostics, _) = Pca { variance: 0.99 }.apply(&d).expect("pca");
        assert_eq!(made[0].x_names, ["pc1"]);
        assert_eq!(diagnostics[0], ("components", 1.0));
        assert!(diagnostics[1].1 > 0.99);
        assert!(Pca { variance: 0.0 }.validate().is_err());
    }
}
