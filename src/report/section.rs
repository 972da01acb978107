//! The seam between the report's page and its sections: what a section is
//! given ([`ReportInput`]), what it gives back ([`Rendered`]: the context its
//! template partial shows and the CSV files it writes), and the one path that
//! writes every section's CSVs and removes those an earlier render left.

use std::collections::HashSet;
use std::path::Path;

use super::tables::Csv;
use crate::record::{load_stored, read_manifest, Provenance, Record};
use crate::spec::Experiment;
use crate::stage::estimators::EstimatorResult;
use crate::summary::{summarize, Diagnosands};
use crate::{Error, Result};

/// One section of the report: an anchor, a template partial and what that
/// partial shows, with the CSV files that go with it.
pub(super) trait Section {
    /// The section's anchor on the page, which also names its partial
    /// (`sections/<id>.html`).
    fn id(&self) -> &'static str;

    /// The section's template partial, embedded with `include_str!`. It is
    /// rendered twice: with `part = "contents"` for its entry in the table
    /// of contents, and with `part = "body"` for the section itself.
    fn template(&self) -> &'static str;

    /// The section's context and CSVs for this experiment and its records;
    /// `None` hides the section (and writes none of its CSVs).
    fn render(&self, input: &ReportInput) -> Result<Option<Rendered>>;
}

/// What a section shows and writes.
pub(super) struct Rendered {
    /// The context its partial is rendered with.
    pub context: serde_json::Value,
    /// The CSV files it writes beside the report.
    pub csvs: Vec<Csv>,
}

impl Rendered {
    /// A section's context (anything serializable) and its CSVs.
    pub fn new(context: impl serde::Serialize, csvs: Vec<Csv>) -> Result<Rendered> {
        let context = serde_json::to_value(context)
            .map_err(|e| Error::Report(format!("a section's context: {e}")))?;
        Ok(Rendered { context, csvs })
    }
}

/// What every section is rendered from: the experiment as recorded, its
/// records, and what several sections need, computed once.
pub(super) struct ReportInput {
    /// The experiment as recorded in the report folder.
    pub experiment: Experiment,
    /// Every task's record, in (cell, replication) order.
    pub records: Vec<Record>,
    /// Each record's estimator results, in the records' order.
    pub results: Vec<Vec<EstimatorResult>>,
    /// The diagnosands per cell and estimator.
    pub diagnosands: Vec<Diagnosands>,
    /// Which causim wrote the results, when, on how many threads, how fast.
    pub provenance: Provenance,
}

impl ReportInput {
    /// Loads the experiment and records of the report folder `dir` and
    /// computes the estimator results and diagnosands from them.
    pub fn load(dir: &Path) -> Result<ReportInput> {
        let manifest = read_manifest(dir)?;
        let (layout, provenance) = (manifest.layout.clone(), manifest.provenance.clone());
        let experiment = Experiment::from_manifest(dir, manifest)?;
        // Results of replications, cells or parts the experiment no longer
        // has (its replications lowered, an estimator removed) are kept on
        // disk for a later run, but the report is over the current tasks.
        let records = load_stored(dir)?.records(&layout);
        let diagnosands = summarize(&experiment, &records)?;
        let results = records
            .iter()
            .map(crate::stage::estimators::results)
            .collect::<Result<Vec<_>>>()?;
        Ok(ReportInput {
            experiment,
            records,
            results,
            diagnosands,
            provenance,
        })
    }
}

/// Writes every CSV into `dir` and removes any other `*.csv` there: a table
/// an earlier render wrote that this one does not (a section now hidden, a
/// paper table no longer made).
pub(super) fn write_csvs<'a>(dir: &Path, csvs: impl IntoIterator<Item = &'a Csv>) -> Result<()> {
    let mut written = HashSet::new();
    for csv in csvs {
        csv.write(dir)?;
        written.insert(csv.name.as_str());
    }
    for entry in std::fs::read_dir(dir).map_err(|e| Error::io(dir, e))? {
        let path = entry.map_err(|e| Error::io(dir, e))?.path();
        let stale = path
            .file_name()
            .and_then(|n| n.to_str())
            .is_some_and(|n| n.ends_with(".csv") && !written.contains(n));
        if stale && path.is_file() {
            match std::fs::remove_file(&path) {
                Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                    return Err(Error::io(&path, e))
                }
                _ => {}
            }
        }
    }
    Ok(())
}
