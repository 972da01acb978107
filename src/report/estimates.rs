//! The raw estimates, as `estimates.csv` only: one row per task and
//! estimator, with the truth of the estimand it targets and the error of a
//! failed fit. On the page it is an entry of the contents, with no section.

use serde::Serialize;

use super::section::{Rendered, ReportInput, Section};
use super::tables::{raw, Csv};
use crate::core::Estimand;
use crate::record::Record;
use crate::spec::Experiment;
use crate::stage::estimators::EstimatorResult;
use crate::Result;

/// The raw estimates; hidden when the experiment has no estimators.
pub(super) struct Estimates;

/// The estimates partial shows nothing but its fixed entry in the contents.
#[derive(Debug, Serialize)]
struct View {}

impl Section for Estimates {
    fn id(&self) -> &'static str {
        "estimates"
    }

    fn template(&self) -> &'static str {
        include_str!("templates/sections/estimates.html.tera")
    }

    fn render(&self, input: &ReportInput) -> Result<Option<Rendered>> {
        if input.experiment.estimators.is_empty() {
            return Ok(None);
        }
        let csv = csv(&input.experiment, &input.records, &input.results);
        Rendered::new(View {}, vec![csv]).map(Some)
    }
}

/// The raw estimates: one row per task and estimator, with the truth of the
/// estimand it targets and the error of a failed fit.
fn csv(experiment: &Experiment, records: &[Record], results: &[Vec<EstimatorResult>]) -> Csv {
    let header = [
        "cell",
        "replication",
        "estimator",
        "estimand",
        "truth",
        "estimate",
        "se",
        "ci_lower",
        "ci_upper",
        "error",
    ]
    .map(String::from)
    .to_vec();
    let mut rows = Vec::new();
    for (record, results) in records.iter().zip(results) {
        for (k, result) in results.iter().enumerate() {
            let estimand: Option<Estimand> =
                result.estimate.as_ref().map(|e| e.estimand).or_else(|| {
                    experiment
                        .estimators
                        .get(k)
                        .map(|n| n.spec.estimator().estimand())
                });
            let truth = estimand.and_then(|e| record.truth.get(e.key())).copied();
            let mut row = vec![
                record.cell.to_string(),
                record.replication.to_string(),
                result.estimator.clone(),
                estimand.map_or("", |e| e.label()).to_string(),
                truth.map_or_else(String::new, raw),
            ];
            match &result.estimate {
                Some(e) => row.extend([e.estimate, e.se, e.ci_lower, e.ci_upper].map(raw)),
                None => row.extend((0..4).map(|_| String::new())),
            }
            row.push(result.error.clone().unwrap_or_default());
            rows.push(row);
        }
    }
    Csv {
        name: "estimates.csv".into(),
        header,
        rows,
    }
}
