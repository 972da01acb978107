//! The placement paper's pipeline (seed document `004_130554c110108b29.txt`)
//! run on a sample of the hospital world: a day-based train/test split, the
//! first stage, the instrumental forest's ATE and CATE by diagnosis,
//! individualized bounds, and the paper's descriptive figures. Each table
//! row carries the **published** number, the **estimated** one on the
//! synthetic world and the **truth** the world knows.

mod pipeline;
mod placement_tables;
mod policies;
mod published;

use serde::{Deserialize, Serialize};

pub use pipeline::run;

use crate::core::text::number;
use crate::estimate::forest::ForestParams;
use crate::{Error, Result};

/// The `[paper]` section of an experiment: how to run the paper's pipeline.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PaperSpec {
    /// Share of hospital-days held out as the test set (the paper: 0.25).
    pub test_share: f64,
    /// The instrumental forest (grf's defaults; `[paper.forest]`).
    pub forest: ForestParams,
}

impl Default for PaperSpec {
    fn default() -> Self {
        PaperSpec {
            test_share: 0.25,
            forest: ForestParams::default(),
        }
    }
}

impl PaperSpec {
    /// Checks the split share and the forest's parameters.
    pub fn validate(&self) -> Result<()> {
        if !(self.test_share > 0.0 && self.test_share < 1.0) {
            return Err(Error::Spec(format!(
                "`paper.test_share` is {}; it must lie strictly between 0 and 1 (the paper: 0.25)",
                number(self.test_share)
            )));
        }
        self.forest
            .validate()
            .map_err(|e| Error::Spec(format!("`paper.forest`: {e}")))
    }
}

/// Everything the pipeline produced on one sample.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PaperResult {
    /// Tables 1-5, each row published / estimated / truth.
    pub tables: Vec<PaperTable>,
    /// Figures 2-7 as plottable series.
    pub figures: Vec<PaperFigure>,
}

/// One of the paper's tables, regenerated.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PaperTable {
    /// Stable identifier, e.g. `table_3`; names the CSV file.
    pub id: String,
    /// Caption, e.g. "Table 3: Average treatment effect".
    pub title: String,
    /// What the truth column means and how to read the table.
    pub note: String,
    /// The rows in the paper's order, extra rows after.
    pub rows: Vec<PaperRow>,
    /// The rows are labelled `row: column` (a policy and a measure) and the
    /// report shows them as a grid.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub grid: bool,
}

/// One row: the paper's number, causim's estimate on the synthetic world, and the truth.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PaperRow {
    /// Row label, e.g. "IV causal forest: ATE".
    pub label: String,
    /// The published number, where the paper prints one.
    pub published: Option<f64>,
    /// The published number's standard error, where the paper prints one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub published_se: Option<f64>,
    /// The estimate (or descriptive figure) on the synthetic world.
    pub estimated: Option<f64>,
    /// The estimate's standard error, where it has one.
    pub se: Option<f64>,
    /// What the world knows, where the row has a truth.
    pub truth: Option<f64>,
    /// Why the estimate should not be believed as it stands (outside the
    /// range an effect on a probability can take, or resting on a few
    /// patients), where it should not.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub flag: Option<String>,
}

/// One of the paper's figures as line series over shared axes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PaperFigure {
    /// Stable identifier, e.g. `figure_4`.
    pub id: String,
    /// Caption.
    pub title: String,
    /// Label of the x axis.
    pub x_label: String,
    /// Label of the y axis.
    pub y_label: String,
    /// Labels at x = 0, 1, 2, ... when x is categorical.
    pub categories: Option<Vec<String>>,
    /// Series names, one line per series in every panel.
    pub series: Vec<String>,
    /// Small multiples sharing the axes.
    pub panels: Vec<PaperPanel>,
    /// Draw the line y = x (for estimated against true figures).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub diagonal: bool,
    /// Draw the series as bars from zero (counts over categories).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub bars: bool,
    /// The y axis starts at zero (counts and shares).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub y_from_zero: bool,
    /// The x axis spans exactly this range (percentiles: 0 to 100).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub x_range: Option<[f64; 2]>,
}

/// One small multiple of a figure.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PaperPanel {
    /// Shown above the panel, if any.
    pub title: Option<String>,
    /// `lines[k]` holds the (x, y) points of series k.
    pub lines: Vec<Vec<[f64; 2]>>,
}
