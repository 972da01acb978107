//! Datasets: the columns an estimator sees (outcome, treatment, instrument,
//! covariates), whether they come from a sim or from a user's CSV.

mod csv_io;

pub use csv_io::{read_csv, write_csv, write_csv_to, Column, Table};

use ndarray::{Array1, Array2};

use crate::{Error, Result};

/// One sample as estimators see it: outcome `y`, treatment `w`, an optional
/// instrument `z`, and covariates `x` (one row per unit), with column names.
#[derive(Debug, Clone)]
pub struct Dataset {
    /// Outcome, one entry per unit.
    pub y: Array1<f64>,
    /// Treatment (0/1 for binary treatments), one entry per unit.
    pub w: Array1<f64>,
    /// Instrument, when the data has one.
    pub z: Option<Array1<f64>>,
    /// Covariates, `n` rows by `p` columns.
    pub x: Array2<f64>,
    /// Names of the covariate columns, in the order of `x`'s columns.
    pub x_names: Vec<String>,
}

impl Dataset {
    /// Builds a dataset after checking that every column has `n` finite entries.
    pub fn new(
        y: Array1<f64>,
        w: Array1<f64>,
        z: Option<Array1<f64>>,
        x: Array2<f64>,
        x_names: Vec<String>,
    ) -> Result<Self> {
        let n = y.len();
        let mismatch = |what: &str, len: usize| {
            Error::Data(format!("{what} has {len} rows but the outcome has {n}"))
        };
        if w.len() != n {
            return Err(mismatch("treatment", w.len()));
        }
        if let Some(z) = &z {
            if z.len() != n {
                return Err(mismatch("instrument", z.len()));
            }
        }
        if x.nrows() != n {
            return Err(mismatch("covariate matrix", x.nrows()));
        }
        if x_names.len() != x.ncols() {
            return Err(Error::Data(format!(
                "{} covariate names for {} covariate columns",
                x_names.len(),
                x.ncols()
            )));
        }
        Ok(Dataset {
            y,
            w,
            z,
            x,
            x_names,
        })
    }

    /// Number of units.
    pub fn n(&self) -> usize {
        self.y.len()
    }

    /// The instrument, or an error naming the estimator that needs one.
    pub fn instrument(&self, estimator: &str) -> Result<&Array1<f64>> {
        self.z.as_ref().ok_or_else(|| {
            Error::Data(format!(
                "{estimator} needs an instrument, but the data has none (pass --z COLUMN)"
            ))
        })
    }
}
