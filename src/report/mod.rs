//! The HTML report: re-rendered from a report folder alone (the manifest and
//! the recorded results), as one self-contained `index.html` with inline CSS
//! and inline SVG plots, and every table also written as CSV beside it.

mod allocation;
mod figures;
mod iate;
mod paper;
pub mod plot;
mod policies;
mod tables;
#[cfg(test)]
mod tests;

use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::record::load_records;
use crate::spec::Experiment;
use crate::summary::{summarize, truth_means};
use crate::{Error, Result};

/// The report's template, embedded so the binary needs no files at run time.
const TEMPLATE: &str = include_str!("templates/report.html.tera");

/// The file name of the rendered report inside a report folder.
pub const INDEX: &str = "index.html";

/// The line under the title: how much of the experiment has run.
#[derive(Debug, Serialize)]
struct Summary {
    cells: usize,
    replications: usize,
    estimators: usize,
    /// Whether the experiment runs the placement paper's pipeline.
    paper: bool,
    recorded: usize,
    total: usize,
    failures: usize,
    cells_pending: usize,
}

/// An estimator as listed under "Spec as run".
#[derive(Debug, Serialize)]
struct EstimatorView {
    name: String,
    kind: String,
    estimand: String,
}

/// A diagnosand's key and what it measures, for the legend under the table.
#[derive(Debug, Serialize)]
struct Note {
    key: String,
    description: String,
}

/// Everything the template shows.
#[derive(Debug, Serialize)]
struct Context {
    title: String,
    description: Option<String>,
    name: String,
    seed: String,
    summary: Summary,
    /// The placement paper's section; `None` hides it.
    paper: Option<paper::PaperView>,
    /// The placement policies' section; `None` hides it.
    policies: Option<policies::PolicyView>,
    /// The allocation policies' section; `None` hides it.
    allocations: Option<allocation::AllocationView>,
    cells: tables::HtmlTable,
    diagnosands: Vec<tables::DiagnosandGroup>,
    /// The per-unit effects table; `None` hides its section.
    iate: Option<Vec<iate::IateGroup>>,
    diagnostics: Vec<tables::DiagnosticsTable>,
    plots: Vec<figures::FigureGroup>,
    estimators: Vec<EstimatorView>,
    /// The `[paper]` settings in words, when the experiment has them.
    paper_settings: Option<String>,
    diagnosand_notes: Vec<Note>,
    iate_notes: Vec<Note>,
    experiment_source: String,
    sim_source: String,
}

/// A template error with its causes (tera puts the useful part in the source chain).
fn template_error(e: tera::Error) -> Error {
    let mut message = e.to_string();
    let mut source = std::error::Error::source(&e);
    while let Some(cause) = source {
        message.push_str(": ");
        message.push_str(&cause.to_string());
        source = cause.source();
    }
    Error::Report(message)
}

/// The notes of a list of (key, description) diagnosands.
fn notes(diagnosands: &[(&str, &str)]) -> Vec<Note> {
    diagnosands
        .iter()
        .map(|(key, description)| Note {
            key: key.to_string(),
            description: description.to_string(),
        })
        .collect()
}

/// Removes a file left by an earlier render that this one does not write.
fn remove_stale(path: &Path) -> Result<()> {
    match std::fs::remove_file(path) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(Error::io(path, e)),
        _ => Ok(()),
    }
}

/// Re-renders the report of the experiment recorded in `dir` (by `causim run`)
/// from its manifest and results alone: writes `cells.csv`, `diagnosands.csv`,
/// `diagnostics.csv` and `estimates.csv` (when the experiment has estimators),
/// `iate.csv` (only when some estimator has per-unit effects), `policies.csv`
/// (only when the experiment has placement policies), one
/// `paper_<id>.csv` per table of the placement paper (when the records carry
/// the paper pipeline's results) and `index.html` there, removing such files
/// left by an earlier render that this one does not write, and returns the
/// path of `index.html`. Cells without records yet are shown as not run.
pub fn render(dir: &Path) -> Result<PathBuf> {
    let experiment = Experiment::recorded(dir)?;
    let records = load_records(dir)?;
    let diagnosands = summarize(&experiment, &records)?;
    let truths = truth_means(&records);

    let (cells_csv, cells) = tables::cells(&experiment, &records, &truths);
    let (diagnosands_csv, diagnosand_groups) = tables::diagnosands(&experiment, &diagnosands);
    let results = records
        .iter()
        .map(crate::stage::estimators::results)
        .collect::<Result<Vec<_>>>()?;
    let (diagnostics_csv, diagnostics) = tables::diagnostics(&experiment, &records, &results);
    let estimates_csv = tables::estimates(&experiment, &records, &results);
    let iate = iate::table(&experiment, &diagnosands);
    let paper = paper::section(&experiment, &records)?;
    let policy_section = policies::section(&experiment, &records)?;
    let allocation_section = allocation::section(&experiment, &records)?;
    cells_csv.write(dir)?;
    match &policy_section {
        Some((csv, _)) => csv.write(dir)?,
        None => remove_stale(&dir.join(policies::CSV))?,
    }
    match &allocation_section {
        Some((csv, _)) => csv.write(dir)?,
        None => remove_stale(&dir.join(allocation::CSV))?,
    }
    // An experiment of the paper's pipeline alone has no estimator tables.
    for csv in [&diagnosands_csv, &diagnostics_csv, &estimates_csv] {
        if experiment.estimators.is_empty() {
            remove_stale(&dir.join(&csv.name))?;
        } else {
            csv.write(dir)?;
        }
    }
    paper::write(dir, paper.as_ref().map_or(&[], |(csvs, _)| csvs.as_slice()))?;
    match &iate {
        Some((csv, _)) => csv.write(dir)?,
        None => remove_stale(&dir.join(iate::CSV))?,
    }

    let counts = tables::record_counts(&records);
    let summary = Summary {
        cells: experiment.cells.len(),
        replications: experiment.replications,
        estimators: experiment.estimators.len(),
        paper: experiment.paper.is_some(),
        recorded: records.len(),
        total: experiment.task_count(),
        failures: results
            .iter()
            .flatten()
            .filter(|r| r.estimate.is_none())
            .count(),
        cells_pending: experiment
            .cells
            .iter()
            .filter(|c| !counts.contains_key(&c.index))
            .count(),
    };
    let context = Context {
        title: experiment
            .report
            .title
            .clone()
            .unwrap_or_else(|| experiment.name.clone()),
        description: experiment.report.description.clone(),
        name: experiment.name.clone(),
        seed: experiment.seed.to_string(),
        summary,
        paper: paper.map(|(_, view)| view),
        policies: policy_section.map(|(_, view)| view),
        allocations: allocation_section.map(|(_, view)| view),
        cells,
        diagnosands: diagnosand_groups,
        iate: iate.map(|(_, groups)| groups),
        diagnostics,
        plots: figures::figures(&experiment, &diagnosands)?,
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
        diagnosand_notes: notes(crate::summary::DIAGNOSANDS),
        iate_notes: notes(crate::summary::IATE_DIAGNOSANDS),
        experiment_source: experiment.experiment_source.clone(),
        sim_source: experiment.sim_source.clone(),
    };

    let mut tera = tera::Tera::default();
    tera.add_raw_template("report.html", TEMPLATE)
        .map_err(template_error)?;
    tera.autoescape_on(vec![".html"]);
    let context = tera::Context::from_serialize(&context).map_err(template_error)?;
    let html = tera
        .render("report.html", &context)
        .map_err(template_error)?;
    let path = dir.join(INDEX);
    std::fs::write(&path, html).map_err(|e| Error::io(&path, e))?;
    Ok(path)
}
