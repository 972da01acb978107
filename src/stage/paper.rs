//! The paper stage: the placement paper's pipeline on the task's sample of
//! a hospital world, its tables and figures kept in the record (a failure
//! on this sample is recorded, not raised).

use serde::{Deserialize, Serialize};

use super::{encode, settings, Part, Stage, TaskState};
use crate::core::seed;
use crate::paper::{PaperResult, PaperSpec};
use crate::record::{find_non_finite, Record};
use crate::spec::Experiment;
use crate::Result;

/// The key of this stage's outcome in records.
pub const NAME: &str = "paper";

/// The label of the stage's one part: the whole pipeline.
pub const PART: &str = "pipeline";

/// Runs the paper's pipeline with the experiment's `[paper]` settings.
pub struct PaperStage {
    spec: PaperSpec,
}

impl PaperStage {
    /// The stage of an experiment with a `[paper]` section; `None` without one.
    pub fn build(experiment: &Experiment) -> Result<Option<Box<dyn Stage>>> {
        Ok(experiment
            .paper
            .clone()
            .map(|spec| Box::new(PaperStage { spec }) as Box<dyn Stage>))
    }
}

/// The pipeline's tables and figures on one sample, or why it failed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PaperOutcome {
    /// The tables and figures, when the pipeline succeeded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub result: Option<PaperResult>,
    /// Why the pipeline failed on this sample.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

impl Stage for PaperStage {
    fn name(&self) -> &'static str {
        NAME
    }

    fn parts(&self) -> Result<Vec<Part>> {
        Ok(vec![Part {
            name: PART.to_string(),
            settings: settings(NAME, &self.spec)?,
            reads: Vec::new(),
        }])
    }

    fn run(
        &self,
        task: &mut TaskState<'_>,
        run: &[bool],
    ) -> Result<Vec<Option<serde_json::Value>>> {
        if !run.first().copied().unwrap_or(false) {
            return Ok(vec![None]);
        }
        task.ensure_conditional_truth()?;
        let seed = seed::estimator_seed(task.seed, "paper");
        let outcome = match crate::paper::run(&task.sample, &self.spec, seed) {
            Ok(mut result) => {
                drop_non_finite(&mut result);
                match find_non_finite(&result) {
                    None => PaperOutcome {
                        result: Some(result),
                        error: None,
                    },
                    Some(found) => PaperOutcome {
                        result: None,
                        error: Some(format!("the pipeline's result is not finite: {found}")),
                    },
                }
            }
            Err(e) => PaperOutcome {
                result: None,
                error: Some(e.to_string()),
            },
        };
        Ok(vec![Some(encode(NAME, &outcome)?)])
    }
}

/// The paper stage's outcome of a record, if it ran.
pub fn outcome(record: &Record) -> Option<Result<PaperOutcome>> {
    record
        .outcome::<[PaperOutcome; 1]>(NAME)
        .map(|read| read.map(|[outcome]| outcome))
}

/// Blanks the paper pipeline's undefined numbers (a NaN or infinite value
/// becomes `None`, such a point of a figure is left out): JSON has no NaN,
/// and a record must read back as written.
fn drop_non_finite(result: &mut PaperResult) {
    for row in result.tables.iter_mut().flat_map(|t| &mut t.rows) {
        for value in [
            &mut row.published,
            &mut row.published_se,
            &mut row.estimated,
            &mut row.se,
            &mut row.truth,
        ] {
            *value = value.filter(|v| v.is_finite());
        }
    }
    for line in result
        .figures
        .iter_mut()
        .flat_map(|f| &mut f.panels)
        .flat_map(|p| &mut p.lines)
    {
        line.retain(|[x, y]| x.is_finite() && y.is_finite());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::paper::{PaperFigure, PaperPanel, PaperRow, PaperTable};

    #[test]
    fn undefined_paper_numbers_are_dropped_so_records_read_back() {
        let mut result = PaperResult {
            tables: vec![PaperTable {
                id: "table_3".into(),
                title: "Table 3".into(),
                note: String::new(),
                grid: false,
                rows: vec![PaperRow {
                    label: "ATE".into(),
                    published: Some(-0.02),
                    published_se: None,
                    estimated: Some(f64::NAN),
                    se: Some(f64::INFINITY),
                    truth: None,
                    flag: None,
                }],
            }],
            figures: vec![PaperFigure {
                bars: false,
                y_from_zero: false,
                x_range: None,
                diagonal: false,
                id: "figure_4".into(),
                title: "Figure 4".into(),
                x_label: "x".into(),
                y_label: "y".into(),
                categories: None,
                series: vec!["a".into()],
                panels: vec![PaperPanel {
                    title: None,
                    lines: vec![vec![[0.0, 1.0], [1.0, f64::NAN], [2.0, 3.0]]],
                }],
            }],
        };
        drop_non_finite(&mut result);
        let row = &result.tables[0].rows[0];
        assert_eq!(
            (row.published, row.estimated, row.se),
            (Some(-0.02), None, None)
        );
        assert_eq!(
            result.figures[0].panels[0].lines[0],
            [[0.0, 1.0], [2.0, 3.0]]
        );
        let json = serde_json::to_string(&result).expect("encodes");
        let back: PaperResult = serde_json::from_str(&json).expect("reads back");
        assert_eq!(back, result);
    }
}
