//! Datasets: the columns an estimator sees (outcome, treatment, instrument,
//! covariates), whether they come from a sim or from a user's CSV.

pub mod binning;
mod clusters;
mod cohorts;
mod csv_io;
mod date;
pub(crate) mod dense;
pub mod discovery;
pub mod graph;
pub mod missing;
pub mod strategy;

pub use clusters::Clusters;
pub use cohorts::{CohortDay, Cohorts, Unit};
pub use csv_io::{read_csv, write_csv, write_csv_to, Column, Table, MAX_MAGNITUDE};
pub use date::Date;

use std::sync::Arc;

use ndarray::{Array1, Array2};

use crate::{Error, Result};
use binning::Coded;
use graph::CausalGraph;

/// One sample as estimators see it: outcome `y`, treatment `w`, an optional
/// instrument `z`, and covariates `x` (one row per unit), with column names;
/// a world with a causal graph also hands over the graph and its observed
/// mediators.
#[derive(Debug, Clone)]
pub struct Dataset {
    /// Outcome, one entry per unit.
    pub y: Array1<f64>,
    /// Treatment (0/1 for binary treatments), one entry per unit.
    pub w: Array1<f64>,
    /// Instrument, when the data has one.
    pub z: Option<Array1<f64>>,
    /// Covariates, `n` rows by `p` columns; no columns when the data holds
    /// its covariates as [`Dataset::codes`] only.
    pub x: Array2<f64>,
    /// Names of the covariate columns, in the order of `x`'s columns.
    pub x_names: Vec<String>,
    /// The causal graph that generated the data, where the world has one
    /// (the regions world): graph-based estimators (`scm`) identify the
    /// effect from it. Its observed nodes are the columns of `x` and
    /// `mediators`, its treatment is `w` and its outcome `y`.
    pub graph: Option<CausalGraph>,
    /// Observed mediators (post-treatment variables on the way from `w` to
    /// `y`), named, one entry per unit each. Kept apart from `x` so that
    /// estimators that adjust for all covariates never adjust for them.
    pub mediators: Vec<(String, Array1<f64>)>,
    /// The cohorts units were decided in, where they were decided together
    /// (a placement world's hospital-days): placement policies decide a
    /// day's cohort as a whole, within its free beds.
    pub cohorts: Option<Arc<Cohorts>>,
    /// Clusters of units that share shocks (a hospital-day's patients, or a
    /// user's `--cluster` column): forests sample them whole and average
    /// effects get cluster-robust standard errors.
    pub clusters: Option<Arc<Clusters>>,
    /// The covariates as bin codes, when the data was read for a forest
    /// straight into codes ([`Dataset::from_codes`]): the forests fit on
    /// them and `x` holds no columns, so a wide CSV never becomes a matrix
    /// of `f64`.
    pub codes: Option<Arc<Coded>>,
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
            graph: None,
            mediators: Vec::new(),
            cohorts: None,
            clusters: None,
            codes: None,
        })
    }

    /// A dataset whose covariates (named `x_names`) are held as bin codes
    /// only, for the forests: the estimators that need the covariates'
    /// values must be given [`Dataset::new`]'s data instead.
    pub fn from_codes(
        y: Array1<f64>,
        w: Array1<f64>,
        z: Option<Array1<f64>>,
        codes: Coded,
        x_names: Vec<String>,
    ) -> Result<Self> {
        let n = y.len();
        if codes.binned.rows() != n || codes.binned.features() != x_names.len() {
            return Err(Error::Data(format!(
                "{} rows of {} coded covariates for {n} outcomes and {} covariate names",
                codes.binned.rows(),
                codes.binned.features(),
                x_names.len()
            )));
        }
        let mut data = Dataset::new(y, w, z, Array2::zeros((n, 0)), Vec::new())?;
        data.x_names = x_names;
        data.codes = Some(Arc::new(codes));
        Ok(data)
    }

    /// This dataset with the causal graph that generated it.
    pub fn with_graph(mut self, graph: CausalGraph) -> Self {
        self.graph = Some(graph);
        self
    }

    /// This dataset with the cohorts its units were decided in, after
    /// checking that every unit belongs to one.
    pub fn with_cohorts(mut self, cohorts: Arc<Cohorts>) -> Result<Self> {
        if cohorts.day_of.len() != self.n() {
            return Err(Error::Data(format!(
                "{} units have a cohort but the outcome has {} rows",
                cohorts.day_of.len(),
                self.n()
            )));
        }
        self.cohorts = Some(cohorts);
        Ok(self)
    }

    /// This dataset with clusters of its units, after checking that every
    /// unit has one.
    pub fn with_clusters(mut self, clusters: Arc<Clusters>) -> Result<Self> {
        if clusters.units() != self.n() {
            return Err(Error::Data(format!(
                "{} units have a cluster but the outcome has {} rows",
                clusters.units(),
                self.n()
            )));
        }
        self.clusters = Some(clusters);
        Ok(self)
    }

    /// This dataset with named mediator columns, after checking that each
    /// has `n` entries.
    pub fn with_mediators(mut self, mediators: Vec<(String, Array1<f64>)>) -> Result<Self> {
        if let Some((name, m)) = mediators.iter().find(|(_, m)| m.len() != self.n()) {
            return Err(Error::Data(format!(
                "mediator `{name}` has {} rows but the outcome has {}",
                m.len(),
                self.n()
            )));
        }
        self.mediators = mediators;
        Ok(self)
    }

    /// The column called `name` among the covariates and the mediators.
    pub fn column(&self, name: &str) -> Option<ndarray::ArrayView1<'_, f64>> {
        if let Some(j) = self.x_names.iter().position(|n| n == name) {
            return Some(self.x.column(j));
        }
        self.mediators
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, m)| m.view())
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
