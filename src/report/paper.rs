//! The placement paper's section of the report: each of the paper's tables
//! regenerated (published number, estimate, standard error and truth,
//! averaged over replications, per cell when the experiment sweeps), written
//! also as `paper_<id>.csv`, and the paper's figures from one replication.
//! A table whose rows are `policy: measure` is shown as a grid (policies
//! down, measures across); its CSV stays one row per value, like every
//! other paper table, so that machines read all of them alike.

use serde::Serialize;

use super::plot::{render_svg_styled, Figure, Panel, Point, Style};
use super::section::{Rendered, ReportInput, Section};
use super::tables::{axis_keys, axis_values, bounded_groups, raw, sig, Csv, Group, More};
use crate::paper::{PaperFigure, PaperTable};
use crate::record::Record;
use crate::spec::Experiment;
use crate::Result;

/// Every paper table's CSV is named `paper_<id>.csv`.
const CSV_PREFIX: &str = "paper_";

/// The placement paper's section; hidden when the experiment has no
/// `[paper]` section and no record carries a pipeline result.
pub(super) struct Paper;

impl Section for Paper {
    fn id(&self) -> &'static str {
        "paper"
    }

    fn template(&self) -> &'static str {
        include_str!("templates/sections/paper.html.tera")
    }

    fn render(&self, input: &ReportInput) -> Result<Option<Rendered>> {
        match section(&input.experiment, &input.records)? {
            Some((csvs, view)) => Rendered::new(view, csvs).map(Some),
            None => Ok(None),
        }
    }
}

/// How many records say the paper's pipeline failed, for the line under
/// the report's title.
pub(super) fn failures(records: &[Record]) -> Result<usize> {
    let mut failures = 0;
    for record in records {
        if let Some(outcome) = crate::stage::paper::outcome(record) {
            failures += usize::from(outcome?.error.is_some());
        }
    }
    Ok(failures)
}

/// The paper's section as the template shows it.
#[derive(Debug, Serialize)]
pub(super) struct PaperView {
    /// Records that carry the pipeline's result.
    pub replications: usize,
    /// Records where the pipeline failed.
    pub failures: usize,
    /// The first failure's message, to say why.
    pub first_error: Option<String>,
    /// The tables in the order the pipeline wrote them.
    pub tables: Vec<TableView>,
    /// The figures of one replication.
    pub figures: Vec<FigureView>,
    /// Which replication the figures are drawn from.
    pub figures_note: Option<String>,
}

/// One figure: an anchor, its title for the contents, and the SVG markup.
#[derive(Debug, Serialize)]
pub(super) struct FigureView {
    /// The anchor, e.g. `paper-figure_4`.
    pub id: String,
    /// The caption, for the contents.
    pub title: String,
    /// The drawing.
    pub svg: String,
}

/// One table: an anchor, caption, the pipeline's note, how many replications
/// its numbers average over, its CSV, and its rows grouped by cell.
#[derive(Debug, Serialize)]
pub(super) struct TableView {
    /// The anchor, e.g. `paper-table_3`.
    pub id: String,
    /// The caption.
    pub title: String,
    /// How to read the table.
    pub note: String,
    /// How many replications its numbers average over, when more than one.
    pub averaging: String,
    /// The CSV file with every row.
    pub csv: String,
    /// The rows by cell (shown when the table is not a grid).
    pub groups: Vec<GroupView>,
    /// The same rows as a grid of policies by measures, when the table is one.
    pub grid: Option<GridView>,
    /// The line about rows left out of a long table.
    pub more: Option<More>,
    /// Some shown row carries a flag: the table gets a flag column.
    pub flagged: bool,
    /// Some row has a published SE: the table gets a "Published SE" column.
    pub published_se: bool,
    /// How many columns the list has, for its group headings.
    pub span: usize,
}

/// A table of `row: column` labels as a grid: one row per policy, one
/// column per measure, one block of rows per cell.
#[derive(Debug, Serialize)]
pub(super) struct GridView {
    /// The measures, in the order they first appear.
    pub columns: Vec<String>,
    /// The policies of each cell.
    pub groups: Vec<Group<GridRow>>,
    /// Each distinct flag with the mark its cells carry ("⚑1: ...").
    pub flags: Vec<String>,
    /// How many columns the grid has, for its group headings.
    pub span: usize,
}

/// One policy's measures, in the grid's column order.
#[derive(Debug, Serialize)]
pub(super) struct GridRow {
    /// The policy.
    pub label: String,
    /// One cell per column; empty where the policy lacks the measure.
    pub cells: Vec<GridCell>,
}

/// One measure of one policy: causim's estimate, with the published number
/// and the truth beneath it where there are.
#[derive(Debug, Default, Serialize)]
pub(super) struct GridCell {
    /// causim's estimate.
    pub estimated: String,
    /// The paper's number.
    pub published: String,
    /// What the world knows.
    pub truth: String,
    /// The flag, for the cell's tooltip; empty without one.
    pub flag: String,
    /// The flag's number in the grid's list of flags; 0 without one.
    pub mark: usize,
}

/// The rows of one cell; labelled (non-empty) only when the experiment has
/// several cells.
pub(super) type GroupView = Group<RowView>;

/// One row, formatted; blank where there is no number.
#[derive(Debug, Serialize)]
pub(super) struct RowView {
    /// The row's label.
    pub label: String,
    /// The paper's number.
    pub published: String,
    /// The paper's standard error.
    pub published_se: String,
    /// causim's estimate.
    pub estimated: String,
    /// Its standard error.
    pub se: String,
    /// What the world knows.
    pub truth: String,
    /// Why the estimate should not be believed as it stands; empty when it can be.
    pub flag: String,
}

/// The running mean of a value over the replications that have it.
#[derive(Debug, Default)]
struct Mean {
    sum: f64,
    count: usize,
}

impl Mean {
    fn add(&mut self, value: Option<f64>) {
        if let Some(v) = value {
            self.sum += v;
            self.count += 1;
        }
    }

    fn get(&self) -> Option<f64> {
        (self.count > 0).then(|| self.sum / self.count as f64)
    }
}

/// One row summed over the replications of a cell.
#[derive(Debug)]
struct RowSum {
    label: String,
    /// Which row of that label this is (labels may repeat within a table).
    occurrence: usize,
    published: Option<f64>,
    published_se: Option<f64>,
    estimated: Mean,
    se: Mean,
    truth: Mean,
    replications: usize,
    /// Every published, estimated and true value so far is an integer.
    integers: bool,
    /// The largest of them in absolute value.
    largest: f64,
    /// The first replication's flag, and how many replications flagged the row.
    flag: Option<String>,
    flagged: usize,
}

impl RowSum {
    /// A count: integers, the largest at least 100; shown without decimals.
    fn is_count(&self) -> bool {
        self.integers && self.largest >= 100.0
    }

    /// The row's flag as the report shows it, with how many replications
    /// raised it when not all did; empty without one.
    fn flag_text(&self) -> String {
        match &self.flag {
            None => String::new(),
            Some(flag) if self.flagged == self.replications => flag.clone(),
            Some(flag) => format!(
                "{flag} (in {} of {} replications)",
                self.flagged, self.replications
            ),
        }
    }
}

/// One table's rows in one cell, summed over its replications.
#[derive(Debug)]
struct CellSum {
    cell: usize,
    replications: usize,
    rows: Vec<RowSum>,
}

/// One table across cells, in the order the tables first appear.
#[derive(Debug)]
struct TableSum {
    id: String,
    title: String,
    note: String,
    grid: bool,
    cells: Vec<CellSum>,
}

impl CellSum {
    /// Adds one replication's table, matching rows by label (and by
    /// occurrence, for a label that repeats); new rows go last.
    fn add(&mut self, table: &PaperTable) {
        self.replications += 1;
        let mut seen: Vec<&str> = Vec::new();
        for row in &table.rows {
            let occurrence = seen.iter().filter(|l| **l == row.label).count();
            seen.push(&row.label);
            let at = match self
                .rows
                .iter()
                .position(|r| r.label == row.label && r.occurrence == occurrence)
            {
                Some(at) => at,
                None => {
                    self.rows.push(RowSum {
                        label: row.label.clone(),
                        occurrence,
                        published: None,
                        published_se: None,
                        estimated: Mean::default(),
                        se: Mean::default(),
                        truth: Mean::default(),
                        replications: 0,
                        integers: true,
                        largest: 0.0,
                        flag: None,
                        flagged: 0,
                    });
                    self.rows.len() - 1
                }
            };
            let sum = &mut self.rows[at];
            sum.published = sum.published.or(row.published);
            sum.published_se = sum.published_se.or(row.published_se);
            sum.estimated.add(row.estimated);
            sum.se.add(row.se);
            sum.truth.add(row.truth);
            sum.replications += 1;
            if let Some(flag) = &row.flag {
                sum.flag.get_or_insert_with(|| flag.clone());
                sum.flagged += 1;
            }
            for v in [row.published, row.estimated, row.truth]
                .into_iter()
                .flatten()
            {
                sum.integers &= v.fract() == 0.0;
                sum.largest = sum.largest.max(v.abs());
            }
        }
    }
}

/// A record with the paper stage's outcome decoded.
struct Papered<'a> {
    record: &'a Record,
    outcome: crate::stage::paper::PaperOutcome,
}

/// Sums every table over the records, per cell; tables in the order they
/// first appear (the first record's order, then any later extras).
fn sum_tables(records: &[Papered<'_>]) -> Vec<TableSum> {
    let mut tables: Vec<TableSum> = Vec::new();
    for record in records {
        let Some(result) = &record.outcome.result else {
            continue;
        };
        for table in &result.tables {
            let at = match tables.iter().position(|t| t.id == table.id) {
                Some(at) => at,
                None => {
                    tables.push(TableSum {
                        id: table.id.clone(),
                        title: table.title.clone(),
                        note: table.note.clone(),
                        grid: table.grid,
                        cells: Vec::new(),
                    });
                    tables.len() - 1
                }
            };
            let cells = &mut tables[at].cells;
            let cell = match cells.iter().position(|c| c.cell == record.record.cell) {
                Some(at) => at,
                None => {
                    cells.push(CellSum {
                        cell: record.record.cell,
                        replications: 0,
                        rows: Vec::new(),
                    });
                    cells.len() - 1
                }
            };
            cells[cell].add(table);
        }
    }
    for table in &mut tables {
        table.cells.sort_by_key(|c| c.cell);
    }
    tables
}

/// 74355 as "74,355".
fn thousands(x: f64) -> String {
    let digits = format!("{:.0}", x.abs());
    let mut out = String::new();
    for (i, d) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(d);
    }
    if x < 0.0 && digits != "0" {
        out.insert(0, '-');
    }
    out
}

/// A number for the HTML table: a count without decimals (and with
/// thousands separators), anything else to 4 significant digits in fixed
/// notation (so that a small effect such as -0.0007910 stays readable);
/// blank when there is none.
fn show(value: Option<f64>, count: bool) -> String {
    match value {
        None => String::new(),
        Some(v) if count => thousands(v.round()),
        Some(0.0) => "0".into(),
        Some(v) => {
            let magnitude = v.abs().log10().floor();
            if (-6.0..15.0).contains(&magnitude) {
                let decimals = (3.0 - magnitude).max(0.0) as usize;
                format!("{v:.decimals$}")
            } else {
                sig(v, 4)
            }
        }
    }
}

/// A published number as the paper prints it: [`show`] without trailing
/// zeros (0.97, not 0.9700).
fn show_published(value: Option<f64>, count: bool) -> String {
    let text = show(value, count);
    if count || !text.contains('.') {
        return text;
    }
    text.trim_end_matches('0').trim_end_matches('.').to_string()
}

/// "mean over 20 replications", or "one replication".
fn over(replications: usize) -> String {
    if replications == 1 {
        "one replication".into()
    } else {
        format!("mean over {replications} replications")
    }
}

/// A table id as a file-name part: letters, digits, `-` and `_` only.
fn file_part(id: &str) -> String {
    id.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' {
                c
            } else {
                '_'
            }
        })
        .collect()
}

/// The CSV header of a paper table; with several cells it starts with the
/// cell and the swept values, as the other tables do.
fn table_header(experiment: &Experiment) -> Vec<String> {
    let mut header: Vec<String> = Vec::new();
    if experiment.cells.len() > 1 {
        header.push("cell".into());
        header.extend(axis_keys(experiment));
    }
    header.extend(
        [
            "row",
            "published",
            "published_se",
            "estimated",
            "se",
            "truth",
            "replications",
            "flag",
        ]
        .map(String::from),
    );
    header
}

/// One cell's rows of a summed table: raw for the CSV (appended to `rows`)
/// and formatted; the group is labelled only when the experiment has
/// several cells.
fn cell_group(experiment: &Experiment, sum: &CellSum, rows: &mut Vec<Vec<String>>) -> GroupView {
    let several = experiment.cells.len() > 1;
    let cell = experiment.cells.iter().find(|c| c.index == sum.cell);
    let mut group = GroupView {
        label: if several {
            let label = cell.map_or_else(
                || format!("cell {}", sum.cell),
                |c| experiment.cell_label(c),
            );
            format!("{label}: {}", over(sum.replications))
        } else {
            String::new()
        },
        rows: Vec::new(),
    };
    for row in &sum.rows {
        let mut line = Vec::new();
        if several {
            line.push(sum.cell.to_string());
            line.extend(cell.map(axis_values).unwrap_or_default());
        }
        line.push(row.label.clone());
        let values = [
            row.published,
            row.published_se,
            row.estimated.get(),
            row.se.get(),
            row.truth.get(),
        ];
        line.extend(values.map(|v| v.map_or_else(String::new, raw)));
        line.push(row.replications.to_string());
        line.push(row.flag_text());
        rows.push(line);
        let count = row.is_count();
        group.rows.push(RowView {
            label: row.label.clone(),
            published: show_published(row.published, count),
            published_se: show_published(row.published_se, false),
            estimated: show(row.estimated.get(), count),
            se: show(row.se.get(), false),
            truth: show(row.truth.get(), count),
            flag: row.flag_text(),
        });
    }
    group
}

/// The CSV and the HTML view of one summed table.
fn table_view(experiment: &Experiment, table: &TableSum) -> (Csv, TableView) {
    let several = experiment.cells.len() > 1;
    let mut rows = Vec::new();
    let groups = table
        .cells
        .iter()
        .map(|sum| cell_group(experiment, sum, &mut rows))
        .collect();
    let uneven = table
        .cells
        .iter()
        .any(|sum| sum.rows.iter().any(|r| r.replications != sum.replications));
    // With several cells, each cell's heading says how many replications.
    let mut averaging = match table.cells.first() {
        Some(sum) if !several && sum.replications > 1 => {
            format!("Estimated, SE and truth: {}.", over(sum.replications))
        }
        _ => String::new(),
    };
    if uneven {
        averaging.push_str(
            " A row missing from some replications is averaged over those that have it \
             (the CSV's `replications` column counts them).",
        );
    }
    let name = format!("{CSV_PREFIX}{}.csv", file_part(&table.id));
    let (groups, more) = bounded_groups(groups, &name);
    let flagged = groups
        .iter()
        .any(|g| g.rows.iter().any(|r: &RowView| !r.flag.is_empty()));
    let published_se = groups
        .iter()
        .any(|g| g.rows.iter().any(|r| !r.published_se.is_empty()));
    let grid = table.grid.then(|| grid(&groups));
    let view = TableView {
        id: format!("paper-{}", file_part(&table.id)),
        title: table.title.clone(),
        note: table.note.clone(),
        averaging,
        csv: name.clone(),
        groups,
        grid,
        more,
        flagged,
        published_se,
        span: 5 + usize::from(flagged) + usize::from(published_se),
    };
    let header = table_header(experiment);
    (Csv { name, header, rows }, view)
}

/// A row label `policy: measure` split at its first ": " (a label without
/// one is a policy with an unnamed measure).
fn split_label(label: &str) -> (&str, &str) {
    label.split_once(": ").unwrap_or((label, ""))
}

/// The rows of each cell as a grid: policies down, measures across, in the
/// order they first appear; each distinct flag numbered once.
fn grid(groups: &[GroupView]) -> GridView {
    let mut columns: Vec<String> = Vec::new();
    for row in groups.iter().flat_map(|g| &g.rows) {
        let (_, measure) = split_label(&row.label);
        if !columns.iter().any(|c| c == measure) {
            columns.push(measure.to_string());
        }
    }
    let mut flags: Vec<String> = Vec::new();
    let mut out = Vec::new();
    for group in groups {
        let mut rows: Vec<GridRow> = Vec::new();
        for row in &group.rows {
            let (policy, measure) = split_label(&row.label);
            let at = match rows.iter().position(|r| r.label == policy) {
                Some(at) => at,
                None => {
                    rows.push(GridRow {
                        label: policy.to_string(),
                        cells: columns.iter().map(|_| GridCell::default()).collect(),
                    });
                    rows.len() - 1
                }
            };
            let mark = if row.flag.is_empty() {
                0
            } else {
                match flags.iter().position(|f| *f == row.flag) {
                    Some(k) => k + 1,
                    None => {
                        flags.push(row.flag.clone());
                        flags.len()
                    }
                }
            };
            let column = columns.iter().position(|c| c == measure).unwrap_or(0);
            rows[at].cells[column] = GridCell {
                estimated: row.estimated.clone(),
                published: row.published.clone(),
                truth: row.truth.clone(),
                flag: row.flag.clone(),
                mark,
            };
        }
        out.push(Group {
            label: group.label.clone(),
            rows,
        });
    }
    GridView {
        span: columns.len() + 1,
        columns,
        groups: out,
        flags: flags
            .iter()
            .enumerate()
            .map(|(k, f)| format!("⚑{}: {f}", k + 1))
            .collect(),
    }
}

/// How the report draws a figure of the pipeline: series told apart by
/// marker and dash as well as colour, with the figure's own bars and axes.
fn style(paper: &PaperFigure) -> Style {
    Style {
        bars: paper.bars,
        x_range: paper.x_range.map(|[lo, hi]| (lo, hi)),
        y_from_zero: paper.y_from_zero,
        distinct: true,
    }
}

/// A figure of the pipeline as the report's plot draws it; `None` when it
/// has no point to draw.
fn figure(paper: &PaperFigure) -> Option<Figure> {
    let panels: Vec<Panel> = paper
        .panels
        .iter()
        .map(|p| Panel {
            title: p.title.clone(),
            lines: p
                .lines
                .iter()
                .map(|l| l.iter().map(|&[x, y]| Point { x, y, err: None }).collect())
                .collect(),
        })
        .collect();
    let any = panels
        .iter()
        .flat_map(|p| p.lines.iter().flatten())
        .any(|p| p.x.is_finite() && p.y.is_finite());
    any.then(|| Figure {
        title: paper.title.clone(),
        x_label: paper.x_label.clone(),
        y_label: paper.y_label.clone(),
        series: paper.series.clone(),
        colours: None,
        categories: paper.categories.clone(),
        reference: None,
        log_y: false,
        log_x: false,
        y_limits: None,
        diagonal: paper.diagonal,
        panels,
    })
}

/// The paper's section and its CSVs; `None` when the experiment has no
/// `[paper]` section and no record carries a pipeline result.
pub(super) fn section(
    experiment: &Experiment,
    records: &[Record],
) -> Result<Option<(Vec<Csv>, PaperView)>> {
    let records: Vec<Papered<'_>> = records
        .iter()
        .filter_map(|r| {
            crate::stage::paper::outcome(r)
                .map(|outcome| outcome.map(|outcome| Papered { record: r, outcome }))
        })
        .collect::<Result<_>>()?;
    let with_paper = records
        .iter()
        .filter(|r| r.outcome.result.is_some())
        .count();
    let failed: Vec<&Papered<'_>> = records
        .iter()
        .filter(|r| r.outcome.error.is_some())
        .collect();
    if experiment.paper.is_none() && with_paper == 0 && failed.is_empty() {
        return Ok(None);
    }
    let (csvs, tables) = sum_tables(&records)
        .iter()
        .map(|t| table_view(experiment, t))
        .unzip();
    let mut figures = Vec::new();
    let mut figures_note = None;
    if let Some(first) = records.iter().find(|r| r.outcome.result.is_some()) {
        for paper in first.outcome.result.iter().flat_map(|p| &p.figures) {
            let Some(plot) = figure(paper) else {
                continue;
            };
            figures.push(FigureView {
                id: format!("paper-{}", file_part(&paper.id)),
                title: paper.title.clone(),
                svg: render_svg_styled(&plot, &style(paper))?,
            });
        }
        if with_paper > 1 && !figures.is_empty() {
            let cell = experiment
                .cells
                .iter()
                .find(|c| c.index == first.record.cell);
            let at = match cell {
                Some(c) if experiment.cells.len() > 1 => {
                    format!("cell {}, ", experiment.cell_label(c))
                }
                _ => String::new(),
            };
            figures_note = Some(format!(
                "The figures are drawn from one replication ({at}replication {}, seed {}); \
                 the tables above average over all of them.",
                first.record.replication, first.record.seed
            ));
        }
    }
    Ok(Some((
        csvs,
        PaperView {
            replications: with_paper,
            failures: failed.len(),
            first_error: failed.first().and_then(|r| r.outcome.error.clone()),
            tables,
            figures,
            figures_note,
        },
    )))
}

#[cfg(test)]
mod tests;
