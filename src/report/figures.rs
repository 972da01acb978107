//! The report's figures: for each swept axis and each diagnosand, the
//! diagnosand against the axis, one line per estimator, one panel per
//! combination of the other axes' values. When nothing is swept (no axis has
//! two values or more), one figure per diagnosand instead places the
//! estimators side by side on x, so the plots still compare them. The
//! per-unit diagnosands get figures of their own, with only the estimators
//! that estimate per-unit effects (forests) as series. The robust
//! diagnosands come first; an axis is cut to the bulk of the values, with
//! the values beyond it marked at the edge, so one estimator without finite
//! moments does not flatten the others. The report's `against` diagnostics
//! (e.g. the first-stage F) give figures of their own, each cell at the
//! diagnostic's mean. The section is the report's "Plots".

use std::collections::HashMap;

use serde::Serialize;

use super::diagnostics::{diagnostic_means, Means};
use super::plot::{render_svg, Figure, Panel, Point};
use super::section::{Rendered, ReportInput, Section};
use super::tables::show_value;
use crate::core::stats::Z_95;
use crate::spec::Experiment;
use crate::summary::{quantile, Diagnosands, DIAGNOSANDS, IATE_DIAGNOSANDS, SHARES};
use crate::Result;

/// One rendered figure: an anchor, the diagnosand's name for the contents,
/// a caption saying how to read it, and the SVG markup.
#[derive(Debug, Serialize)]
struct FigureView {
    pub id: String,
    pub name: String,
    pub caption: String,
    pub svg: String,
}

/// The figures drawn against one axis (or across estimators).
#[derive(Debug, Serialize)]
struct FigureGroup {
    pub id: String,
    pub title: String,
    pub figures: Vec<FigureView>,
}

/// Readable label of a diagnosand key for an axis.
fn label(key: &str) -> &str {
    match key {
        "bias" => "mean bias",
        "median_bias" => "median bias",
        "median_abs_error" => "median |error|",
        "far" => "share far off",
        "rmse" => "RMSE",
        "ci_width" => "CI width",
        "iate_rmse" => "per-unit RMSE",
        "iate_coverage" => "per-unit coverage",
        "iate_corr" => "per-unit correlation",
        other => other,
    }
}

/// The value a diagnosand should have: 0 bias, 95% coverage, a correlation
/// of 1 with the true per-unit effects; none for the rest.
fn ideal(key: &str) -> Option<f64> {
    match key {
        "bias" | "median_bias" => Some(0.0),
        "coverage" | "iate_coverage" => Some(0.95),
        "iate_corr" => Some(1.0),
        _ => None,
    }
}

/// The diagnosands plotted for every estimator, robust ones first.
const PLOTTED: &[&str] = &[
    "median_bias",
    "bias",
    "median_abs_error",
    "rmse",
    "far",
    "coverage",
    "ci_width",
    "power",
];

/// What a figure of `key` summarizes, for its caption.
fn summary_of(key: &str) -> &'static str {
    match key {
        "median_bias" | "median_abs_error" => {
            "Each point is a median over replications, which a heavy tail cannot move."
        }
        "far" | "coverage" | "power" => "Each point is a share of replications.",
        "bias" | "rmse" | "ci_width" => {
            "Each point is a mean over replications: a few wild replications can decide it."
        }
        _ => "Each point is a mean over replications.",
    }
}

/// A diagnosand as a plotted point with a ±1.96 MCSE bar (a share's bar
/// reaches the farther end of its Wilson interval); `None` when undefined.
fn point(x: f64, d: Option<&&Diagnosands>, key: &str) -> Option<Point> {
    let mc = d?.get(key)?;
    let err = match mc.interval {
        Some([low, high]) => Some((mc.value - low).max(high - mc.value)),
        None => mc.mcse.is_finite().then_some(Z_95 * mc.mcse),
    };
    mc.value.is_finite().then_some(Point {
        x,
        y: mc.value,
        err,
    })
}

/// The y range that holds the bulk of a figure's values: two interquartile
/// ranges beyond the quartiles, and the ideal value. A mean without finite
/// moments (2SLS with a weak instrument) falls outside and is marked at
/// the edge instead of flattening every other line.
fn bulk(panels: &[Panel], ideal: Option<f64>) -> Option<(f64, f64)> {
    let mut ys: Vec<f64> = panels
        .iter()
        .flat_map(|p| p.lines.iter().flatten())
        .map(|p| p.y)
        .filter(|y| y.is_finite())
        .collect();
    ys.sort_by(f64::total_cmp);
    let (q1, q3) = (quantile(&ys, 0.25), quantile(&ys, 0.75));
    let spread = (q3 - q1).max(1e-9 * q3.abs().max(1.0));
    let (mut lo, mut hi) = (q1 - 2.0 * spread, q3 + 2.0 * spread);
    if let Some(r) = ideal {
        (lo, hi) = (lo.min(r), hi.max(r));
    }
    let (first, last) = (*ys.first()?, *ys.last()?);
    (first < lo || last > hi).then_some((lo, hi))
}

/// The estimators shown in one set of figures: their indices in the
/// experiment (which fix their colours) and their names.
struct Series {
    slots: Vec<usize>,
    names: Vec<String>,
}

impl Series {
    /// The estimators of the experiment that `keep` accepts, by name.
    fn of(experiment: &Experiment, keep: impl Fn(&str) -> bool) -> Series {
        let (slots, names) = experiment
            .estimators
            .iter()
            .enumerate()
            .filter(|(_, e)| keep(&e.name))
            .map(|(k, e)| (k, e.name.clone()))
            .unzip();
        Series { slots, names }
    }
}

/// The plots section; hidden when the experiment has no estimators.
pub(super) struct Plots;

/// What the plots partial shows: the figures, grouped by axis.
#[derive(Debug, Serialize)]
struct View {
    plots: Vec<FigureGroup>,
}

impl Section for Plots {
    fn id(&self) -> &'static str {
        "plots"
    }

    fn template(&self) -> &'static str {
        include_str!("templates/sections/plots.html.tera")
    }

    fn render(&self, input: &ReportInput) -> Result<Option<Rendered>> {
        if input.experiment.estimators.is_empty() {
            return Ok(None);
        }
        let means = diagnostic_means(&input.records, &input.results);
        let plots = figures(&input.experiment, &input.diagnosands, &means)?;
        Rendered::new(View { plots }, Vec::new()).map(Some)
    }
}

/// The diagnosands looked up by (cell, estimator).
type ByCell<'a> = HashMap<(usize, &'a str), &'a Diagnosands>;

/// The sets of figures: each list of diagnosands with the estimators that
/// have them as series.
type Sets<'a> = [(&'a [(&'static str, &'static str)], &'a Series)];

/// Every figure of the report, grouped by axis; empty when nothing was
/// recorded. The per-unit diagnosands follow the others, with only the
/// estimators that have them as series, and are left out when none has.
fn figures(
    experiment: &Experiment,
    diagnosands: &[Diagnosands],
    means: &Means,
) -> Result<Vec<FigureGroup>> {
    if diagnosands.is_empty() {
        return Ok(Vec::new());
    }
    let by: ByCell<'_> = diagnosands
        .iter()
        .map(|d| ((d.cell, d.estimator.as_str()), d))
        .collect();
    let all = Series::of(experiment, |_| true);
    let per_unit = Series::of(experiment, |name| {
        diagnosands
            .iter()
            .any(|d| d.estimator == name && d.iate_rmse.is_some())
    });
    let plotted: Vec<(&str, &str)> = PLOTTED
        .iter()
        .filter_map(|key| DIAGNOSANDS.iter().find(|(k, _)| k == key).copied())
        .collect();
    let sets: Vec<(&[(&str, &str)], &Series)> =
        [(plotted.as_slice(), &all), (IATE_DIAGNOSANDS, &per_unit)]
            .into_iter()
            .filter(|(_, s)| !s.names.is_empty())
            .collect();
    let swept: Vec<usize> = (0..experiment.axes.len())
        .filter(|&a| experiment.axes[a].values.len() > 1)
        .collect();
    if swept.is_empty() {
        return Ok(vec![across_estimators(&sets, &by)?]);
    }
    let mut groups = swept
        .iter()
        .map(|&a| against_axis(experiment, a, &sets, &by))
        .collect::<Result<Vec<_>>>()?;
    for key in &experiment.report.against {
        groups.extend(against_diagnostic(
            experiment, swept[0], key, means, &sets, &by,
        )?);
    }
    Ok(groups)
}

/// Each cell's mean of the diagnostic `key`, from the first estimator (in
/// the experiment's order) that reports it there.
fn cell_diagnostic(means: &Means, key: &str) -> HashMap<usize, f64> {
    let mut out = HashMap::new();
    for ((cell, _), values) in means {
        if let Some(&v) = values.get(key) {
            out.entry(*cell).or_insert(v);
        }
    }
    out
}

/// The figures against the cells' mean of the diagnostic `key` (the
/// first-stage F, say): lines along swept axis `a`, each point at its
/// cell's mean diagnostic, one panel per combination of the other axes'
/// values; a log axis when the means span orders of magnitude. `None` when
/// no estimator reports the diagnostic.
fn against_diagnostic(
    experiment: &Experiment,
    a: usize,
    key: &str,
    means: &Means,
    sets: &Sets<'_>,
    by: &ByCell<'_>,
) -> Result<Option<FigureGroup>> {
    let at = cell_diagnostic(means, key);
    if at.is_empty() {
        return Ok(None);
    }
    let lo = at.values().copied().fold(f64::INFINITY, f64::min);
    let hi = at.values().copied().fold(f64::NEG_INFINITY, f64::max);
    let log_x = lo > 0.0 && hi / lo > 30.0;
    let x_of = |cell: usize, _: usize| at.get(&cell).copied();
    let mut figures = Vec::new();
    for &(keys, series) in sets {
        for (diagnosand, description) in keys {
            let figure = Figure {
                title: format!("{} by mean {key}: {description}", label(diagnosand)),
                x_label: if log_x {
                    format!("mean {key} (log scale)")
                } else {
                    format!("mean {key}")
                },
                y_label: label(diagnosand).into(),
                series: series.names.clone(),
                colours: Some(series.slots.clone()),
                categories: None,
                reference: ideal(diagnosand),
                log_y: false,
                log_x,
                y_limits: None,
                diagonal: false,
                panels: panels(experiment, a, &series.names, by, diagnosand, &x_of),
            };
            push(
                &mut figures,
                format!("plot-{key}-{diagnosand}"),
                diagnosand,
                figure,
            )?;
        }
    }
    Ok(Some(FigureGroup {
        id: format!("plots-{key}"),
        title: format!("against mean {key}"),
        figures,
    }))
}

/// When nothing is swept: one figure per diagnosand with the estimators
/// side by side on x.
fn across_estimators(sets: &Sets<'_>, by: &ByCell<'_>) -> Result<FigureGroup> {
    let mut figures = Vec::new();
    for &(keys, series) in sets {
        for (key, description) in keys {
            let lines = series
                .names
                .iter()
                .enumerate()
                .map(|(k, name)| {
                    point(k as f64, by.get(&(0, name.as_str())), key)
                        .into_iter()
                        .collect()
                })
                .collect();
            let panel = Panel { title: None, lines };
            let figure = Figure {
                title: format!("{}: {description}", label(key)),
                x_label: "estimator".into(),
                y_label: label(key).into(),
                series: series.names.clone(),
                colours: Some(series.slots.clone()),
                categories: Some(series.names.clone()),
                reference: ideal(key),
                log_y: false,
                log_x: false,
                y_limits: None,
                diagonal: false,
                panels: vec![panel],
            };
            push(&mut figures, format!("plot-{key}"), key, figure)?;
        }
    }
    Ok(FigureGroup {
        id: "plots-estimators".into(),
        title: "across estimators".into(),
        figures,
    })
}

/// The figures against swept axis `a`: one per diagnosand, one line per
/// estimator, one panel per combination of the other axes' values.
fn against_axis(
    experiment: &Experiment,
    a: usize,
    sets: &Sets<'_>,
    by: &ByCell<'_>,
) -> Result<FigureGroup> {
    let axis = &experiment.axes[a];
    let categorical = categories(&axis.values).is_some();
    let x_of = |_: usize, i: usize| {
        if categorical {
            Some(i as f64)
        } else {
            number(&axis.values[i])
        }
    };
    let mut figures = Vec::new();
    for &(keys, series) in sets {
        for (key, description) in keys {
            let figure = Figure {
                title: format!("{} by {}: {description}", label(key), axis.key),
                x_label: axis.key.clone(),
                y_label: label(key).into(),
                series: series.names.clone(),
                colours: Some(series.slots.clone()),
                categories: categories(&axis.values),
                reference: ideal(key),
                log_y: false,
                log_x: false,
                y_limits: None,
                diagonal: false,
                panels: panels(experiment, a, &series.names, by, key, &x_of),
            };
            push(&mut figures, format!("plot-{a}-{key}"), key, figure)?;
        }
    }
    Ok(FigureGroup {
        id: format!("plots-{a}"),
        title: format!("against {}", axis.key),
        figures,
    })
}

/// Whether the plotted values are all positive and span more than a factor
/// of 30, so that a linear axis would flatten all but the largest.
fn spans_decades(panels: &[Panel]) -> bool {
    let ys = || {
        panels
            .iter()
            .flat_map(|p| p.lines.iter().flatten())
            .map(|p| p.y)
    };
    let lo = ys().fold(f64::INFINITY, f64::min);
    let hi = ys().fold(f64::NEG_INFINITY, f64::max);
    lo > 0.0 && hi / lo > 30.0
}

/// Renders a figure unless it has no point at all (every estimator failed);
/// errors that span orders of magnitude (a weak instrument's RMSE) get a log
/// axis. A figure of a large sweep is bounded ([`Figure::bound`]) and its
/// caption says how.
fn push(figures: &mut Vec<FigureView>, id: String, key: &str, mut figure: Figure) -> Result<()> {
    if matches!(key, "rmse" | "ci_width" | "iate_rmse") && spans_decades(&figure.panels) {
        figure.log_y = true;
        figure.y_label = format!("{} (log scale)", figure.y_label);
    }
    if !figure.log_y && !SHARES.contains(&key) && !key.starts_with("iate_") {
        figure.y_limits = bulk(&figure.panels, figure.reference);
    }
    let any = figure
        .panels
        .iter()
        .any(|p| p.lines.iter().any(|l| !l.is_empty()));
    if any {
        let bounded = figure.bound("diagnosands.csv");
        let mut caption = format!("{} Error bars: ", summary_of(key));
        caption.push_str(if SHARES.contains(&key) {
            "the 95% Wilson interval (its farther end, both ways)."
        } else {
            "±1.96 Monte Carlo SE."
        });
        if let Some((lo, hi)) = figure.y_limits {
            caption.push_str(&format!(
                " The axis is cut to [{}, {}], where the bulk of the values lie: a hollow \
                 triangle at a panel's edge is a value beyond it (diagnosands.csv holds it).",
                super::tables::sig(lo, 2),
                super::tables::sig(hi, 2)
            ));
        }
        if let Some(r) = figure.reference {
            caption.push_str(&format!(" Dashed line: the ideal value, {r}."));
        }
        if figure.log_y {
            caption.push_str(" Log scale: the values span orders of magnitude.");
        }
        if let Some(note) = bounded {
            caption.push(' ');
            caption.push_str(&note);
        }
        figures.push(FigureView {
            id,
            name: label(key).to_string(),
            caption,
            svg: render_svg(&figure)?,
        });
    }
    Ok(())
}

/// The numeric value of an axis value, if it is a number.
fn number(value: &toml::Value) -> Option<f64> {
    match value {
        toml::Value::Integer(i) => Some(*i as f64),
        toml::Value::Float(f) => Some(*f),
        _ => None,
    }
}

/// Labels at equal spacing when some value of the axis is not a number.
fn categories(values: &[toml::Value]) -> Option<Vec<String>> {
    values
        .iter()
        .any(|v| number(v).is_none())
        .then(|| values.iter().map(show_value).collect())
}

/// One panel per combination of the values of the axes other than `a`
/// (in grid order), each holding one line per estimator along axis `a`.
fn panels(
    experiment: &Experiment,
    a: usize,
    names: &[String],
    by: &ByCell<'_>,
    key: &str,
    x_of: &dyn Fn(usize, usize) -> Option<f64>,
) -> Vec<Panel> {
    let axes = &experiment.axes;
    let lengths: Vec<usize> = axes.iter().map(|x| x.values.len()).collect();
    // Cells are expanded row-major with the last axis fastest.
    let mut strides = vec![1; axes.len()];
    for j in (0..axes.len().saturating_sub(1)).rev() {
        strides[j] = strides[j + 1] * lengths[j + 1];
    }
    let others: Vec<usize> = (0..axes.len()).filter(|&j| j != a).collect();
    let combinations: usize = others.iter().map(|&j| lengths[j]).product();
    let mut out = Vec::with_capacity(combinations);
    for c in 0..combinations {
        // Decode c into one value index per other axis (last fastest).
        let mut rest = c;
        let mut at = vec![0; axes.len()];
        for &j in others.iter().rev() {
            at[j] = rest % lengths[j];
            rest /= lengths[j];
        }
        let title = (!others.is_empty()).then(|| {
            others
                .iter()
                .map(|&j| format!("{} = {}", axes[j].key, show_value(&axes[j].values[at[j]])))
                .collect::<Vec<_>>()
                .join(", ")
        });
        let lines = names
            .iter()
            .map(|name| {
                let mut line: Vec<Point> = axes[a]
                    .values
                    .iter()
                    .enumerate()
                    .filter_map(|(i, _)| {
                        let cell: usize = (0..axes.len())
                            .map(|j| if j == a { i } else { at[j] } * strides[j])
                            .sum();
                        point(x_of(cell, i)?, by.get(&(cell, name.as_str())), key)
                    })
                    .collect();
                line.sort_by(|p, q| p.x.total_cmp(&q.x));
                line
            })
            .collect();
        out.push(Panel { title, lines });
    }
    out
}
