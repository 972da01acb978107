//! The "Spec as run" section: the experiment's name, seed, replications,
//! estimators and paper settings, and the experiment and sim files verbatim,
//! so that a report says exactly what produced it.

use serde::Serialize;

use super::section::{Rendered, ReportInput, Section};
use super::tables::count;
use crate::Result;

/// The spec-as-run section; always shown.
pub(super) struct Spec;

/// An estimator as listed under "Spec as run".
#[derive(Debug, Serialize)]
struct EstimatorView {
    name: String,
    kind: String,
    estimand: String,
}

/// What the spec partial shows.
#[derive(Debug, Serialize)]
struct View {
    name: String,
    seed: String,
    replications: usize,
    estimators: Vec<EstimatorView>,
    /// The `[paper]` settings in words, when the experiment has them.
    paper_settings: Option<String>,
    experiment_source: String,
    sim_source: String,
}

impl Section for Spec {
    fn id(&self) -> &'static str {
        "spec"
    }

    fn template(&self) -> &'static str {
        include_str!("templates/sections/spec.html.tera")
    }

    fn render(&self, input: &ReportInput) -> Result<Option<Rendered>> {
        let experiment = &input.experiment;
        let view = View {
            name: experiment.name.clone(),
            seed: experiment.seed.to_string(),
            replications: experiment.replications,
            estimators: experiment
                .estimators
                .iter()
                .map(|e| EstimatorView {
                    name: e.name.clone(),
                    kind: e.spec.kind().to_string(),
                    estimand: e.spec.estimator().estimand().label().to_string(),
                })
                .collect(),
            paper_settings: experiment.paper.as_ref().map(|p| {
                format!(
                    "test share {} of the hospital-days; instrumental forest of {} trees",
                    p.test_share, p.forest.num_trees
                )
            }),
            experiment_source: excerpt(&experiment.experiment_source),
            sim_source: excerpt(&experiment.sim_source),
        };
        Rendered::new(view, Vec::new()).map(Some)
    }
}

/// Most characters of a spec file the page shows (a sweep of ten thousand
/// values is a long file); `experiment.json` beside it holds it whole.
const SOURCE_LIMIT: usize = 20_000;

/// `text` cut after [`SOURCE_LIMIT`] characters, saying how many more
/// there are and where they are.
fn excerpt(text: &str) -> String {
    let chars = text.chars().count();
    if chars <= SOURCE_LIMIT {
        return text.to_string();
    }
    let head: String = text.chars().take(SOURCE_LIMIT).collect();
    format!(
        "{head} …\n\n[{} more characters are not shown here; experiment.json beside this \
         report holds the experiment as run]",
        count(chars - SOURCE_LIMIT)
    )
}
