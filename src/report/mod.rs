//! The HTML report: re-rendered from a report folder alone (the manifest and
//! the recorded results), as one self-contained `index.html` with inline CSS
//! and inline SVG plots, and every table also written as CSV beside it.
//!
//! The page is a fan-out over [`Section`]s: each section (one file here, one
//! template partial in `templates/sections/`) is given the same
//! [`ReportInput`] and returns its context and its CSV files, or `None` to
//! be hidden. The page template shows each section's entry in the contents
//! and then each section, in the order of [`SECTIONS`]; [`render`] writes
//! every section's CSVs and removes any other CSV left in the folder. Adding
//! a section is one new file implementing [`Section`], one partial, and one
//! line in [`SECTIONS`].

mod allocation;
mod cells;
mod diagnosands;
mod diagnostics;
mod distribution;
mod estimates;
mod feedback;
mod figures;
mod iate;
mod paper;
pub mod plot;
mod policies;
mod policy_table;
mod section;
mod spec;
mod tables;
#[cfg(test)]
mod tests;
mod verdict;

use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::{Error, Result};
use section::{write_csvs, Rendered, ReportInput, Section};
use tables::record_counts;

/// The page's template, embedded so the binary needs no files at run time.
const TEMPLATE: &str = include_str!("templates/report.html.tera");

/// The file name of the rendered report inside a report folder.
pub const INDEX: &str = "index.html";

/// The report's sections, in page order: the registry a new section joins.
const SECTIONS: &[&dyn Section] = &[
    &verdict::Verdict,
    &paper::Paper,
    &cells::Cells,
    &policies::Placement,
    &allocation::Allocation,
    &feedback::Feedback,
    &diagnosands::DiagnosandTable,
    &distribution::Distribution,
    &iate::PerUnit,
    &diagnostics::Diagnostics,
    &figures::Plots,
    &estimates::Estimates,
    &spec::Spec,
];

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
    /// Estimator fits that failed.
    failures: usize,
    /// Tasks in which the paper's pipeline failed.
    paper_failures: usize,
    cells_pending: usize,
    /// Which causim ran it, when, on how many threads and how long.
    provenance: crate::record::Provenance,
}

/// One shown section as the page places it: its entry in the contents and
/// its body, both rendered HTML.
#[derive(Debug, Serialize)]
struct PageSection {
    contents: String,
    body: String,
}

/// Everything the page template shows.
#[derive(Debug, Serialize)]
struct Page {
    title: String,
    description: Option<String>,
    name: String,
    summary: Summary,
    sections: Vec<PageSection>,
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

/// The template name of a section's partial.
fn partial(section: &dyn Section) -> String {
    format!("sections/{}.html", section.id())
}

/// The page template and every section's partial, autoescaped.
fn templates() -> Result<tera::Tera> {
    let mut tera = tera::Tera::default();
    tera.add_raw_template("report.html", TEMPLATE)
        .map_err(template_error)?;
    for section in SECTIONS {
        tera.add_raw_template(&partial(*section), section.template())
            .map_err(template_error)?;
    }
    tera.autoescape_on(vec![".html"]);
    Ok(tera)
}

/// A section's contents entry and body, from its partial and context.
fn place(tera: &tera::Tera, section: &dyn Section, rendered: &Rendered) -> Result<PageSection> {
    let mut context =
        tera::Context::from_value(rendered.context.clone()).map_err(template_error)?;
    let mut part = |part: &str| {
        context.insert("part", part);
        tera.render(&partial(section), &context)
            .map_err(template_error)
    };
    Ok(PageSection {
        contents: part("contents")?,
        body: part("body")?,
    })
}

/// The line under the title.
fn summary(input: &ReportInput) -> Result<Summary> {
    let experiment = &input.experiment;
    let counts = record_counts(&input.records);
    Ok(Summary {
        cells: experiment.cells.len(),
        replications: experiment.replications,
        estimators: experiment.estimators.len(),
        paper: experiment.paper.is_some(),
        recorded: input.records.len(),
        total: experiment.task_count(),
        failures: input
            .results
            .iter()
            .flatten()
            .filter(|r| r.estimate.is_none())
            .count(),
        paper_failures: paper::failures(&input.records)?,
        provenance: input.provenance.clone(),
        cells_pending: experiment
            .cells
            .iter()
            .filter(|c| !counts.contains_key(&c.index))
            .count(),
    })
}

/// Re-renders the report of the experiment recorded in `dir` (by `causim run`)
/// from its manifest and results alone: renders every section of
/// [`SECTIONS`] that has something to show, writes their CSV files
/// (`cells.csv` always; `diagnosands.csv`, `diagnostics.csv` and
/// `estimates.csv` when the experiment has estimators; `iate.csv` when some
/// estimator has per-unit effects; `policies.csv` and `allocation.csv` when
/// it has such policies; one `paper_<id>.csv` per table of the placement
/// paper) and `index.html` there, removes any other CSV file an earlier
/// render left, and returns the path of `index.html`. Cells without records
/// yet are shown as not run.
pub fn render(dir: &Path) -> Result<PathBuf> {
    let input = ReportInput::load(dir)?;
    let tera = templates()?;
    let mut csvs = Vec::new();
    let mut sections = Vec::new();
    for section in SECTIONS {
        if let Some(rendered) = section.render(&input)? {
            sections.push(place(&tera, *section, &rendered)?);
            csvs.extend(rendered.csvs);
        }
    }
    write_csvs(dir, &csvs)?;
    let experiment = &input.experiment;
    let page = Page {
        title: experiment
            .report
            .title
            .clone()
            .unwrap_or_else(|| experiment.name.clone()),
        description: experiment.report.description.clone(),
        name: experiment.name.clone(),
        summary: summary(&input)?,
        sections,
    };
    let context = tera::Context::from_serialize(&page).map_err(template_error)?;
    let html = tera
        .render("report.html", &context)
        .map_err(template_error)?;
    let path = dir.join(INDEX);
    std::fs::write(&path, html).map_err(|e| Error::io(&path, e))?;
    Ok(path)
}
