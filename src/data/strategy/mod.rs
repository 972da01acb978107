//! Data strategies: what an analyst does to the sample before estimating
//! (drop incomplete rows, impute missing values, oversample a scarce
//! stratum, reduce the covariates to principal components), declared per
//! estimator as `data = [...]` and judged, like the estimators, against
//! the truth of the full sample. The review (`000_*.txt`, sections 4.1 and
//! 4.2) says these make its models more robust; this is where that claim
//! is put on trial.
//!
//! A strategy turns one dataset into one (complete cases, mean imputation,
//! SMOTE, PCA) or several (multiple imputation); the estimator is fitted on
//! each, and several fits are pooled by Rubin's rules
//! ([`crate::estimate::pool`]).

mod impute;
mod pca;
mod smote;

use ndarray::{Array1, Array2, Axis};
use serde::{Deserialize, Serialize};

pub use impute::Mice;
pub use pca::Pca;
pub use smote::Smote;

use super::Dataset;
use crate::core::seed::{fnv1a, mix};
use crate::{Error, Result};

/// A step without settings; unknown keys are refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct NoSettings {}

/// One step of a data strategy, tagged by `kind`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum DataStep {
    /// Drop every row with a missing covariate (listwise deletion).
    CompleteCases(NoSettings),
    /// Replace each missing value by its column's observed mean.
    Mean(NoSettings),
    /// Multiple imputation by chained equations (Bayesian linear models),
    /// the fits pooled by Rubin's rules.
    Mice(Mice),
    /// Oversample a scarce stratum with synthetic units (SMOTE).
    Smote(Smote),
    /// Replace the covariates by their leading principal components.
    Pca(Pca),
}

/// Most steps in one strategy.
pub const MAX_STEPS: usize = 8;

impl DataStep {
    /// The step's `kind`, for messages.
    pub fn kind(&self) -> &'static str {
        match self {
            DataStep::CompleteCases(_) => "complete_cases",
            DataStep::Mean(_) => "mean",
            DataStep::Mice(_) => "mice",
            DataStep::Smote(_) => "smote",
            DataStep::Pca(_) => "pca",
        }
    }

    fn imputes(&self) -> bool {
        matches!(
            self,
            DataStep::CompleteCases(_) | DataStep::Mean(_) | DataStep::Mice(_)
        )
    }
}

/// Checks a strategy before any data is seen: at most one way of handling
/// missing values, and it comes first; each step's own settings.
pub fn validate(steps: &[DataStep]) -> Result<()> {
    let spec = |m: String| Err(Error::Spec(format!("data: {m}")));
    if steps.len() > MAX_STEPS {
        return spec(format!(
            "{} steps; at most {MAX_STEPS} in one strategy",
            steps.len()
        ));
    }
    for (i, step) in steps.iter().enumerate() {
        if step.imputes() && i > 0 {
            return spec(format!(
                "`{}` is step {}; missing values are handled first (one of complete_cases, \
                 mean, mice), before {}",
                step.kind(),
                i + 1,
                steps[..i]
                    .iter()
                    .map(DataStep::kind)
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
        }
        if let Some(twice) = steps[..i].iter().find(|s| s.kind() == step.kind()) {
            return spec(format!("`{}` appears twice", twice.kind()));
        }
        match step {
            DataStep::Mice(m) => m.validate()?,
            DataStep::Smote(s) => s.validate()?,
            DataStep::Pca(p) => p.validate()?,
            DataStep::CompleteCases(_) | DataStep::Mean(_) => {}
        }
    }
    Ok(())
}

/// The datasets a strategy makes of one sample, with what it did.
#[derive(Debug, Clone)]
pub struct Prepared {
    /// One dataset, or one per imputation.
    pub datasets: Vec<Dataset>,
    /// Numbers to report beside the estimate (rows kept, synthetic units,
    /// components kept).
    pub diagnostics: Vec<(&'static str, f64)>,
    /// What the strategy changed that the estimate's reader must know.
    pub warnings: Vec<String>,
}

/// The first covariate with missing values and how many, if any.
pub fn first_missing(data: &Dataset) -> Option<(&str, usize)> {
    data.x
        .columns()
        .into_iter()
        .zip(&data.x_names)
        .map(|(c, name)| (name.as_str(), c.iter().filter(|v| v.is_nan()).count()))
        .find(|&(_, count)| count > 0)
}

/// Applies `steps` to `data` in order, with randomness from `seed`.
pub fn prepare(steps: &[DataStep], data: &Dataset, seed: u64) -> Result<Prepared> {
    validate(steps)?;
    if let Some((name, count)) = first_missing(data) {
        if !steps.first().is_some_and(DataStep::imputes) {
            return Err(missing_error(name, count, data.n()));
        }
    }
    if data.codes.is_some() && data.x.ncols() == 0 {
        return Err(Error::Data(
            "data strategies need the covariates' values, and this data holds them as bin \
             codes only"
                .into(),
        ));
    }
    let mut prepared = Prepared {
        datasets: vec![data.clone()],
        diagnostics: Vec::new(),
        warnings: Vec::new(),
    };
    for (i, step) in steps.iter().enumerate() {
        let step_seed = derive(seed, &format!("data step {i}"));
        let mut next = Vec::with_capacity(prepared.datasets.len());
        for (k, current) in prepared.datasets.iter().enumerate() {
            let own = derive(step_seed, &format!("dataset {k}"));
            let (made, diagnostics, warnings) = apply(step, current, own)?;
            next.extend(made);
            if k == 0 {
                prepared.diagnostics.extend(diagnostics);
                prepared.warnings.extend(warnings);
            }
        }
        prepared.datasets = next;
    }
    Ok(prepared)
}

/// A seed for the part `what` of the work seeded by `seed`.
fn derive(seed: u64, what: &str) -> u64 {
    mix(seed ^ fnv1a(what.as_bytes()))
}

/// What one step made of one dataset: datasets, diagnostics, warnings.
type Applied = (Vec<Dataset>, Vec<(&'static str, f64)>, Vec<String>);

fn apply(step: &DataStep, data: &Dataset, seed: u64) -> Result<Applied> {
    match step {
        DataStep::CompleteCases(_) => {
            let rows: Vec<usize> = (0..data.n())
                .filter(|&i| data.x.row(i).iter().all(|v| !v.is_nan()))
                .collect();
            let kept = rows.len();
            if kept < 10 {
                return Err(Error::Data(format!(
                    "complete_cases: only {kept} of {} rows have every covariate; impute \
                     instead (mean or mice)",
                    data.n()
                )));
            }
            let dropped = data.n() - kept;
            let mut warnings = Vec::new();
            if dropped as f64 > 0.1 * data.n() as f64 {
                warnings.push(format!(
                    "complete cases dropped {dropped} of {} rows; unless values are missing \
                     completely at random, the rows kept are a selected sample",
                    data.n()
                ));
            }
            let subset = select_rows(data, &rows)?;
            Ok((vec![subset], vec![("rows_kept", kept as f64)], warnings))
        }
        DataStep::Mean(_) => {
            let mut filled = data.clone();
            let missing = impute::mean(&mut filled.x);
            Ok((
                vec![filled],
                vec![("values_imputed", missing as f64)],
                Vec::new(),
            ))
        }
        DataStep::Mice(mice) => {
            let (datasets, imputed) = mice.impute(data, seed)?;
            Ok((
                datasets,
                vec![
                    ("values_imputed", imputed as f64),
                    ("imputations", mice.imputations as f64),
                ],
                Vec::new(),
            ))
        }
        DataStep::Smote(smote) => smote.apply(data, seed),
        DataStep::Pca(pca) => pca.apply(data),
    }
}

/// The error for covariates with missing values and no strategy for them.
pub fn missing_error(name: &str, count: usize, n: usize) -> Error {
    Error::Data(format!(
        "the sample has missing covariate values (`{name}`: {count} of {n} rows); give the \
         estimator a data strategy that handles them first, e.g. data = [{{ kind = \"mice\" \
         }}] (or complete_cases, mean)"
    ))
}

/// The dataset of the rows `rows` (in that order, repeats allowed), with
/// its graph and mediators; a dataset of cohorts or clusters refuses, since
/// dropping or adding rows would break them.
pub(crate) fn select_rows(data: &Dataset, rows: &[usize]) -> Result<Dataset> {
    refuse_groups(data)?;
    let pick = |v: &Array1<f64>| rows.iter().map(|&i| v[i]).collect::<Array1<f64>>();
    let x = data.x.select(Axis(0), rows);
    let mediators = data
        .mediators
        .iter()
        .map(|(name, m)| (name.clone(), pick(m)))
        .collect();
    rebuild(
        data,
        x,
        data.x_names.clone(),
        pick(&data.y),
        pick(&data.w),
        data.z.as_ref().map(pick),
        mediators,
        true,
    )
}

/// Refuses a dataset whose units are decided in cohorts or share clusters.
pub(crate) fn refuse_groups(data: &Dataset) -> Result<()> {
    if data.cohorts.is_some() || data.clusters.is_some() {
        return Err(Error::Data(
            "this data strategy changes the rows, and the data's units are grouped in \
             cohorts or clusters that would no longer match them"
                .into(),
        ));
    }
    Ok(())
}

/// A dataset with new columns, keeping `data`'s graph when `keep_graph`.
#[allow(clippy::too_many_arguments)]
pub(crate) fn rebuild(
    data: &Dataset,
    x: Array2<f64>,
    x_names: Vec<String>,
    y: Array1<f64>,
    w: Array1<f64>,
    z: Option<Array1<f64>>,
    mediators: Vec<(String, Array1<f64>)>,
    keep_graph: bool,
) -> Result<Dataset> {
    let mut out = Dataset::new(y, w, z, x, x_names)?.with_mediators(mediators)?;
    if keep_graph {
        if let Some(graph) = &data.graph {
            out = out.with_graph(graph.clone());
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn data() -> Dataset {
        let mut x = Array2::from_shape_fn((40, 2), |(i, j)| (i + j) as f64);
        x[[3, 0]] = f64::NAN;
        x[[7, 1]] = f64::NAN;
        let y = Array1::from_shape_fn(40, |i| i as f64);
        let w = Array1::from_shape_fn(40, |i| (i % 2) as f64);
        Dataset::new(y, w, None, x, vec!["a".into(), "b".into()]).expect("a dataset")
    }

    #[test]
    fn complete_cases_drop_the_incomplete_rows_and_mean_fills_them() {
        let steps = [DataStep::CompleteCases(NoSettings {})];
        let p = prepare(&steps, &data(), 1).expect("prepared");
        assert_eq!(p.datasets.len(), 1);
        let d = &p.datasets[0];
        assert_eq!(d.n(), 38);
        assert!(!d.y.iter().any(|&v| v == 3.0 || v == 7.0));
        assert_eq!(p.diagnostics, vec![("rows_kept", 38.0)]);
        let p = prepare(&[DataStep::Mean(NoSettings {})], &data(), 1).expect("prepared");
        let d = &p.datasets[0];
        assert_eq!(d.n(), 40);
        let observed_mean = ((0..40).sum::<usize>() - 3) as f64 / 39.0;
        assert!((d.x[[3, 0]] - observed_mean).abs() < 1e-12);
    }

    #[test]
    fn missing_values_need_a_strategy_that_handles_them_first() {
        let err = prepare(&[DataStep::Pca(Pca::default())], &data(), 1)
            .expect_err("pca on missing values")
            .to_string();
        assert!(err.contains("`a`: 1 of 40 rows"), "{err}");
        let order = [DataStep::Pca(Pca::default()), DataStep::Mean(NoSettings {})];
        let err = validate(&order).expect_err("order").to_string();
        assert!(err.contains("`mean` is step 2"), "{err}");
        let twice = [
            DataStep::Mean(NoSettings {}),
            DataStep::Pca(Pca::default()),
            DataStep::Pca(Pca::default()),
        ];
        assert!(validate(&twice)
            .expect_err("twice")
            .to_string()
            .contains("`pca` appears twice"));
    }

    #[test]
    fn steps_read_from_toml_and_refuse_unknown_keys() {
        #[derive(Deserialize)]
        struct Holder {
            data: Vec<DataStep>,
        }
        let h: Holder = toml::from_str(
            "data = [{ kind = \"mice\", imputations = 7 }, { kind = \"pca\", variance = 0.8 }]",
        )
        .expect("parses");
        assert_eq!(h.data[0].kind(), "mice");
        assert!(toml::from_str::<Holder>("data = [{ kind = \"mean\", k = 1 }]").is_err());
    }
}
