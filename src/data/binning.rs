//! Quantile binning: every feature is cut once per dataset into at most 256
//! bins and stored as `u8` codes, so split search runs on small histograms
//! instead of sorted raw values.
//!
//! Codes are stored in one of two layouts per feature, chosen from the
//! data: dense (one byte per row, rows side by side) or sparse (only the
//! rows whose code differs from the feature's most common one, listed per
//! row). Wide sparse data, like diagnosis and procedure codes, then costs
//! memory and split search in proportion to its non-zeros rather than its
//! width.

use ndarray::ArrayView2;
use rayon::prelude::*;

use crate::{Error, Result};

/// The most bins a feature gets (codes are `u8`).
pub const MAX_BINS: usize = 256;

/// Covariates as bin codes, with the bins that made them: what the forests
/// fit on, read straight from a CSV without a matrix of `f64` values.
#[derive(Debug, Clone)]
pub struct Coded {
    /// The bins each feature's values were coded with.
    pub bins: Bins,
    /// The codes, one per row and feature.
    pub binned: Binned,
}

/// Bin edges learned from training data: bin `b` of feature `j` holds values
/// `x <= edges[j][b]` (and above the previous edge); the last bin is unbounded.
#[derive(Debug, Clone)]
pub struct Bins {
    edges: Vec<Vec<f64>>,
}

/// A feature is stored sparse when at most one row in this many has a code
/// other than its most common one: at the paper's density (about 8 of
/// 2,099 codes per patient) a node's split search then reads each unit's
/// few entries once instead of one byte per drawn feature.
pub const SPARSE_RATIO: usize = 20;

/// Where a feature's codes live: its column among the dense features, or
/// [`SPARSE`].
const SPARSE: u32 = u32::MAX;

/// Features as bin codes. Dense features are row-major (`dense[i * width +
/// place[j]]`): a unit's codes share cache lines, so gathering a node's
/// units for the drawn features (and routing a unit down a tree) costs one
/// miss per unit, not one per feature. Sparse features keep, per row, the
/// (feature, code) pairs whose code is not the feature's default, sorted by
/// feature.
#[derive(Debug, Clone)]
pub struct Binned {
    n: usize,
    bins: Vec<u16>,
    place: Vec<u32>,
    default: Vec<u8>,
    skewed: Vec<bool>,
    width: usize,
    dense: Vec<u8>,
    offsets: Vec<usize>,
    entry_feature: Vec<u32>,
    entry_code: Vec<u8>,
}

/// The edges of one column's values: every distinct value its own bin when
/// there are at most `max_bins`, quantile cut points of the distinct values
/// otherwise.
fn edges_of(mut values: Vec<f64>, max_bins: usize) -> Vec<f64> {
    let max_bins = max_bins.clamp(2, MAX_BINS);
    values.sort_by(f64::total_cmp);
    values.dedup();
    if values.len() <= max_bins {
        values.truncate(values.len().saturating_sub(1));
        values
    } else {
        let mut cuts: Vec<f64> = (1..max_bins)
            .map(|q| values[q * values.len() / max_bins - 1])
            .collect();
        cuts.dedup();
        cuts
    }
}

impl Bins {
    /// Learns edges for each column of `x`: every distinct value its own bin
    /// when there are at most `max_bins`, quantile cut points of the
    /// distinct values otherwise.
    pub fn fit(x: ArrayView2<f64>, max_bins: usize) -> Result<Bins> {
        let edges = (0..x.ncols())
            .into_par_iter()
            .map(|j| {
                let values: Vec<f64> = x.column(j).to_vec();
                if let Some(bad) = values.iter().position(|v| !v.is_finite()) {
                    return Err(Error::Data(format!(
                        "covariate {} has a non-finite value at row {}",
                        j + 1,
                        bad + 1
                    )));
                }
                Ok(edges_of(values, max_bins))
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(Bins { edges })
    }

    /// The bins [`Bins::fit`] learns, from each column's distinct values
    /// (any multiplicity, finite): the edges depend on nothing else, so a
    /// reader can learn them without holding the columns whole.
    pub fn from_distinct(columns: Vec<Vec<f64>>, max_bins: usize) -> Bins {
        let edges = columns
            .into_par_iter()
            .map(|values| edges_of(values, max_bins))
            .collect();
        Bins { edges }
    }

    /// The code of value `v` of feature `j`.
    #[inline]
    pub fn code(&self, j: usize, v: f64) -> u8 {
        self.edges[j].partition_point(|&e| e < v) as u8
    }

    /// Number of bins of feature `j`.
    pub fn bins(&self, j: usize) -> u16 {
        self.edges[j].len() as u16 + 1
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
        let n = x.nrows();
        let columns: Vec<Vec<u8>> = (0..self.edges.len())
            .into_par_iter()
            .map(|j| x.column(j).iter().map(|&v| self.code(j, v)).collect())
            .collect();
        Ok(Binned::from_columns(n, self, &columns))
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
        Ok(Binned::build(
            n,
            bins,
            |i, j| codes[i * p + j],
            sparse_enough,
        ))
    }

    /// Codes of `n` rows given column by column (`columns[j][i]`), in the
    /// bins `bins`.
    pub fn from_columns(n: usize, bins: &Bins, columns: &[Vec<u8>]) -> Binned {
        let counts = (0..bins.features()).map(|j| bins.bins(j)).collect();
        Binned::build(n, counts, |i, j| columns[j][i], sparse_enough)
    }

    /// Lays out the codes `code(i, j)` of `n` rows, each feature sparse when
    /// `sparse(n, off)` says so of the `off` rows off its most common code.
    fn build(
        n: usize,
        bins: Vec<u16>,
        code: impl Fn(usize, usize) -> u8 + Sync,
        sparse: impl Fn(usize, usize) -> bool,
    ) -> Binned {
        let p = bins.len();
        let (default, off): (Vec<u8>, Vec<usize>) = (0..p)
            .into_par_iter()
            .map(|j| {
                let mut counts = [0usize; MAX_BINS];
                for i in 0..n {
                    counts[usize::from(code(i, j))] += 1;
                }
                let (mode, &most) = counts
                    .iter()
                    .enumerate()
                    .max_by_key(|&(c, &k)| (k, std::cmp::Reverse(c)))
                    .unwrap_or((0, &0));
                (mode as u8, n - most)
            })
            .unzip();
        let mut place = vec![SPARSE; p];
        let mut width = 0;
        for j in 0..p {
            if !sparse(n, off[j]) {
                place[j] = width as u32;
                width += 1;
            }
        }
        let dense_features: Vec<usize> = (0..p).filter(|&j| place[j] != SPARSE).collect();
        let sparse_features: Vec<usize> = (0..p).filter(|&j| place[j] == SPARSE).collect();
        let mut dense = Vec::with_capacity(n * width);
        let mut offsets = Vec::with_capacity(n + 1);
        let entries: usize = sparse_features.iter().map(|&j| off[j]).sum();
        let (mut entry_feature, mut entry_code) =
            (Vec::with_capacity(entries), Vec::with_capacity(entries));
        offsets.push(0);
        for i in 0..n {
            dense.extend(dense_features.iter().map(|&j| code(i, j)));
            for &j in &sparse_features {
                let c = code(i, j);
                if c != default[j] {
                    entry_feature.push(j as u32);
                    entry_code.push(c);
                }
            }
            offsets.push(entry_feature.len());
        }
        let skewed = off.iter().map(|&o| sparse_enough(n, o)).collect();
        Binned {
            n,
            bins,
            place,
            default,
            skewed,
            width,
            dense,
            offsets,
            entry_feature,
            entry_code,
        }
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

    /// Whether feature `j` is stored sparse.
    #[inline]
    pub fn is_sparse(&self, j: usize) -> bool {
        self.place[j] == SPARSE
    }

    /// Whether feature `j` is skewed enough to be stored sparse (at most one
    /// row in [`SPARSE_RATIO`] off its most common code), whichever layout
    /// holds it: the split search breaks its near-ties the same way in both.
    #[inline]
    pub fn is_skewed(&self, j: usize) -> bool {
        self.skewed[j]
    }

    /// Feature `j`'s most common code: a sparse feature's code on every row
    /// that lists no entry for it.
    #[inline]
    pub fn default_code(&self, j: usize) -> u8 {
        self.default[j]
    }

    /// Row `i`'s code for feature `j`.
    #[inline]
    pub fn code(&self, i: usize, j: usize) -> u8 {
        match self.place[j] {
            SPARSE => {
                let (features, codes) = self.sparse_row(i);
                match features.binary_search(&(j as u32)) {
                    Ok(k) => codes[k],
                    Err(_) => self.default[j],
                }
            }
            at => self.dense[i * self.width + at as usize],
        }
    }

    /// Row `i`'s codes of the dense features, in feature order; feature `j`
    /// is at [`Binned::dense_place`]`(j)`.
    #[inline]
    pub fn dense_row(&self, i: usize) -> &[u8] {
        &self.dense[i * self.width..(i + 1) * self.width]
    }

    /// Where a dense feature's code lies in [`Binned::dense_row`].
    #[inline]
    pub fn dense_place(&self, j: usize) -> usize {
        self.place[j] as usize
    }

    /// Row `i`'s sparse entries: the features whose code is not their
    /// default (increasing) and those codes.
    #[inline]
    pub fn sparse_row(&self, i: usize) -> (&[u32], &[u8]) {
        let range = self.offsets[i]..self.offsets[i + 1];
        (&self.entry_feature[range.clone()], &self.entry_code[range])
    }

    /// Writes row `i`'s codes, one per feature, into `out`.
    pub fn row_into(&self, i: usize, out: &mut [u8]) {
        for (j, o) in out.iter_mut().enumerate() {
            *o = match self.place[j] {
                SPARSE => self.default[j],
                at => self.dense[i * self.width + at as usize],
            };
        }
        let (features, codes) = self.sparse_row(i);
        for (&j, &c) in features.iter().zip(codes) {
            out[j as usize] = c;
        }
    }

    /// Row `i`'s codes, one per feature.
    pub fn row(&self, i: usize) -> Vec<u8> {
        let mut out = vec![0; self.features()];
        self.row_into(i, &mut out);
        out
    }

    /// The rows `rows` of these codes, in order, in the same bins.
    pub fn select(&self, rows: &[usize]) -> Binned {
        let code = |i: usize, j: usize| self.code(rows[i], j);
        Binned::build(rows.len(), self.bins.clone(), code, sparse_enough)
    }

    /// The same codes with every feature stored the way `sparse` says, for
    /// tests that compare the layouts.
    #[cfg(test)]
    pub(crate) fn laid_out(&self, sparse: bool) -> Binned {
        let code = |i: usize, j: usize| self.code(i, j);
        Binned::build(self.n, self.bins.clone(), code, |_, _| sparse)
    }
}

/// Whether a feature with `off` of `n` rows off its most common code is
/// stored sparse ([`SPARSE_RATIO`]).
fn sparse_enough(n: usize, off: usize) -> bool {
    off.saturating_mul(SPARSE_RATIO) <= n
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
        assert_eq!(b.row(1), [1, 0]);
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

    /// Two dense features and three binary ones at 2%, 4% and 50%, on 1,000 rows.
    fn mixed() -> Binned {
        let n = 1000;
        let codes = (0..n)
            .flat_map(|i| {
                [
                    (i % 7) as u8,
                    (i * 31 % 256) as u8,
                    u8::from(i % 50 == 3),
                    u8::from(i % 25 != 0),
                    u8::from(i % 2 == 0),
                ]
            })
            .collect();
        Binned::from_codes(n, codes, vec![7, 256, 2, 2, 2]).expect("codes")
    }

    #[test]
    fn rare_codes_are_stored_sparse_and_read_back_the_same() {
        let b = mixed();
        let sparse: Vec<bool> = (0..5).map(|j| b.is_sparse(j)).collect();
        assert_eq!(sparse, [false, false, true, true, false]);
        assert_eq!((b.default_code(2), b.default_code(3)), (0, 1));
        assert_eq!(b.sparse_row(3), (&[2u32][..], &[1u8][..]));
        assert_eq!(b.sparse_row(25), (&[3u32][..], &[0u8][..]));
        let (dense, all_sparse) = (b.laid_out(false), b.laid_out(true));
        for i in 0..b.rows() {
            let row = b.row(i);
            assert_eq!(row, dense.row(i));
            assert_eq!(row, all_sparse.row(i));
            for (j, &c) in row.iter().enumerate() {
                assert_eq!((b.code(i, j), all_sparse.code(i, j)), (c, c));
            }
        }
        let picked = b.select(&[25, 3, 3]);
        assert_eq!(picked.rows(), 3);
        assert_eq!(picked.row(0), b.row(25));
        assert_eq!(picked.row(2), b.row(3));
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
