//! Quantile binning: every feature is cut once per dataset into at most 256
//! bins and stored as `u8` codes, so split search runs on small histograms
//! instead of sorted raw values.

use ndarray::ArrayView2;
use rayon::prelude::*;

use crate::{Error, Result};

/// The most bins a feature gets (codes are `u8`).
pub const MAX_BINS: usize = 256;

/// Bin edges learned from training data: bin `b` of feature `j` holds values
/// `x <= edges[j][b]` (and above the previous edge); the last bin is unbounded.
#[derive(Debug, Clone)]
pub struct Bins {
    edges: Vec<Vec<f64>>,
}

/// Features as bin codes, row-major (`codes[i * p + j]`): a unit's codes
/// share cache lines, so gathering a node's units for the drawn features
/// (and routing a unit down a tree) costs one miss per unit, not one per feature.
#[derive(Debug, Clone)]
pub struct Binned {
    n: usize,
    codes: Vec<u8>,
    bins: Vec<u16>,
}

impl Bins {
    /// Learns edges for each column of `x`: every distinct value its own bin
    /// when there are at most `max_bins`, quantile cut points otherwise.
    pub fn fit(x: ArrayView2<f64>, max_bins: usize) -> Result<Bins> {
        let max_bins = max_bins.clamp(2, MAX_BINS);
        let edges = (0..x.ncols())
            .into_par_iter()
            .map(|j| {
                let mut values: Vec<f64> = x.column(j).to_vec();
                if let Some(bad) = values.iter().position(|v| !v.is_finite()) {
                    return Err(Error::Data(format!(
                        "covariate {} has a non-finite value at row {}",
                        j + 1,
                        bad + 1
                    )));
                }
                values.sort_by(f64::total_cmp);
                values.dedup();
                let edges = if values.len() <= max_bins {
                    values[..values.len().saturating_sub(1)].to_vec()
                } else {
                    let mut cuts: Vec<f64> = (1..max_bins)
                        .map(|q| values[q * values.len() / max_bins - 1])
                        .collect();
                    cuts.dedup();
                    cuts
                };
                Ok(edges)
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(Bins { edges })
    }

    /// Number of features the bins were learned on.
    pub fn features(&self) -> usize {
        self.edges.len()
    }

    /// Codes each row of `x` with these bins (training or new data).
    pub fn transform(&self, x: ArrayView2<f64>) -> Result<Binned> {
        if x.ncols() != self.edges.len() {
            return Err(Error::Data(format!(
                "the data has {} covariates but the forest was trained on {}",
                x.ncols(),
                self.edges.len()
            )));
        }
        let (n, p) = (x.nrows(), x.ncols());
        let columns: Vec<Vec<u8>> = self
            .edges
            .par_iter()
            .enumerate()
            .map(|(j, edges)| {
                x.column(j)
                    .iter()
                    .map(|&v| edges.partition_point(|&e| e < v) as u8)
                    .collect()
            })
            .collect();
        let mut codes = vec![0u8; n * p];
        for (j, column) in columns.iter().enumerate() {
            for (i, &c) in column.iter().enumerate() {
                codes[i * p + j] = c;
            }
        }
        Ok(Binned {
            n,
            codes,
            bins: self.edges.iter().map(|e| e.len() as u16 + 1).collect(),
        })
    }
}

impl Binned {
    /// Codes built directly (row-major, `codes[i * p + j]`), for data
    /// generated or stored as small integers: feature `j` has `bins[j]` bins.
    pub fn from_codes(n: usize, codes: Vec<u8>, bins: Vec<u16>) -> Result<Binned> {
        if codes.len() != n * bins.len() {
            return Err(Error::Data(format!(
                "{} codes for {n} rows and {} features",
                codes.len(),
                bins.len()
            )));
        }
        let p = bins.len();
        if let Some(k) = (0..codes.len()).find(|&k| u16::from(codes[k]) >= bins[k % p]) {
            return Err(Error::Data(format!(
                "feature {} has code {} at row {} but only {} bins",
                k % p + 1,
                codes[k],
                k / p + 1,
                bins[k % p]
            )));
        }
        Ok(Binned { n, codes, bins })
    }

    /// Number of rows.
    pub fn rows(&self) -> usize {
        self.n
    }

    /// Number of features.
    pub fn features(&self) -> usize {
        self.bins.len()
    }

    /// Number of bins of feature `j`.
    pub fn bins(&self, j: usize) -> usize {
        usize::from(self.bins[j])
    }

    /// Row `i`'s code for feature `j`.
    #[inline]
    pub fn code(&self, i: usize, j: usize) -> u8 {
        self.codes[i * self.bins.len() + j]
    }

    /// Row `i`'s codes, one per feature.
    #[inline]
    pub fn row(&self, i: usize) -> &[u8] {
        let p = self.bins.len();
        &self.codes[i * p..(i + 1) * p]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::array;

    #[test]
    fn few_distinct_values_get_a_bin_each() {
        let x = array![[0.0, 5.0], [1.0, 5.0], [0.0, 5.0], [2.0, 5.0]];
        let bins = Bins::fit(x.view(), 256).expect("bins");
        let b = bins.transform(x.view()).expect("codes");
        let column = |b: &Binned, j: usize| (0..b.rows()).map(|i| b.code(i, j)).collect::<Vec<_>>();
        assert_eq!(column(&b, 0), [0, 1, 0, 2]);
        assert_eq!(b.bins(0), 3);
        assert_eq!(column(&b, 1), [0, 0, 0, 0]);
        assert_eq!(b.row(1), &[1, 0]);
        assert_eq!(b.bins(1), 1);
        // New data: values between edges fall in the upper bin, beyond the last edge in the last.
        let new = array![[0.5, 1.0], [9.0, 7.0], [-3.0, 5.0]];
        let c = bins.transform(new.view()).expect("codes");
        assert_eq!(column(&c, 0), [1, 2, 0]);
    }

    #[test]
    fn many_values_are_cut_at_quantiles_and_keep_order() {
        let x = ndarray::Array2::from_shape_fn((10_000, 1), |(i, _)| ((i * 7919) % 10_000) as f64);
        let bins = Bins::fit(x.view(), 256).expect("bins");
        let b = bins.transform(x.view()).expect("codes");
        assert_eq!(b.bins(0), 256);
        let mut counts = [0usize; 256];
        for i in 0..b.rows() {
            counts[usize::from(b.code(i, 0))] += 1;
        }
        assert!(counts.iter().all(|&c| (35..=45).contains(&c)), "{counts:?}");
        for i in 0..10_000 {
            for k in 0..10_000 {
                if x[[i, 0]] < x[[k, 0]] {
                    assert!(b.code(i, 0) <= b.code(k, 0));
                }
                if k > 50 {
                    break;
                }
            }
        }
    }

    #[test]
    fn non_finite_values_and_wrong_width_are_errors() {
        let x = array![[0.0], [f64::NAN]];
        assert!(Bins::fit(x.view(), 256).is_err());
        let ok = array![[0.0], [1.0]];
        let bins = Bins::fit(ok.view(), 256).expect("bins");
        assert!(bins.transform(array![[0.0, 1.0]].view()).is_err());
    }
}
