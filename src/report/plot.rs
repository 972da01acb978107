//! Plots as inline SVG: one figure is a grid of small-multiple panels that
//! share their axes, one coloured line with point markers and ±error bars per
//! series, a legend above the panels and an optional dashed reference line.
//! A [`Style`] draws bars instead of lines, fixes the x axis, starts y at
//! zero, or tells series apart by marker and dash as well as colour. Titles
//! wrap to the figure's width by [`text_width_px`], the same estimate that
//! sizes panels and the legend.

use std::ops::Range;

use plotters::coord::ranged1d::{DefaultFormatting, KeyPointHint};
use plotters::element::DashedPathElement;
use plotters::prelude::*;

use super::tables::count;
use crate::{Error, Result};

/// Tableau 10: distinct on white and reasonably safe for colour-blind readers.
pub(super) const PALETTE: [RGBColor; 10] = [
    RGBColor(78, 121, 167),
    RGBColor(242, 142, 43),
    RGBColor(225, 87, 89),
    RGBColor(118, 183, 178),
    RGBColor(89, 161, 79),
    RGBColor(237, 201, 72),
    RGBColor(176, 122, 161),
    RGBColor(255, 157, 167),
    RGBColor(156, 117, 95),
    RGBColor(186, 176, 172),
];
const FONT: &str = "sans-serif";
/// Font sizes as plotters takes them; its SVG backend writes `size / 1.24` px.
const TITLE_SIZE: f64 = 20.0;
const TEXT_SIZE: f64 = 16.0;
const TICK_SIZE: f64 = 14.0;
const GRID: RGBColor = RGBColor(225, 225, 225);
const REFERENCE: RGBColor = RGBColor(110, 110, 110);
/// Most panels in one row of a figure.
const MAX_COLUMNS: usize = 4;
/// Most panels [`Figure::bound`] leaves in a figure.
pub const MAX_PANELS: usize = 24;
/// Most points [`Figure::bound`] leaves on a line.
pub const MAX_POINTS: usize = 200;
/// Most labels a categorical x axis writes; with more categories only every
/// k-th is labelled.
const MAX_LABELS: usize = 30;
/// Height of the title's first line with its margins, and of every further line.
const TITLE_HEIGHT: u32 = 34;
const TITLE_LINE: u32 = 22;
/// Left (and right) margin of the title.
const TITLE_MARGIN: u32 = 10;
/// Average width of a sans-serif character in em: an overestimate for most
/// text, so that what is sized by it fits.
const CHAR_EM: f64 = 0.56;
/// Most markers [`Style::distinct`] draws on a line.
const MARKERS_PER_LINE: usize = 12;
/// Dash and gap lengths in pixels of each series' line under
/// [`Style::distinct`]; `(0, 0)` is solid.
const DASHES: [(u32, u32); 4] = [(0, 0), (8, 4), (2, 3), (14, 4)];
/// Number of marker shapes [`Style::distinct`] cycles through.
const SHAPES: usize = 5;
const LEGEND_ROW: u32 = 22;

/// One plotted point: x, y and an optional half-width of an error bar.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Point {
    /// Position on the x axis (the index of the label when x is categorical).
    pub x: f64,
    /// The value plotted.
    pub y: f64,
    /// Half-width of the error bar drawn around `y`, if any.
    pub err: Option<f64>,
}

/// One small multiple: its title and one line per series of the figure.
#[derive(Debug, Clone, PartialEq)]
pub struct Panel {
    /// Shown above the panel (the values of the axes not on x), if any.
    pub title: Option<String>,
    /// `lines[k]` belongs to the figure's `series[k]`; non-finite points are skipped.
    pub lines: Vec<Vec<Point>>,
}

/// A figure: labelled axes shared by all panels, series named in one legend.
#[derive(Debug, Clone, PartialEq)]
pub struct Figure {
    /// Title drawn at the top of the figure.
    pub title: String,
    /// Label of the x axis.
    pub x_label: String,
    /// Label of the y axis.
    pub y_label: String,
    /// Series names; the legend lists them.
    pub series: Vec<String>,
    /// The palette slot of each series, so that a series keeps its colour in
    /// a figure that shows only some of them; `None`: series k takes slot k.
    pub colours: Option<Vec<usize>>,
    /// When x is categorical: the label at x = 0, 1, 2, ... (equal spacing).
    pub categories: Option<Vec<String>>,
    /// A horizontal reference line at the ideal value, if there is one.
    pub reference: Option<f64>,
    /// Draw y on a log scale (for errors spanning orders of magnitude);
    /// ignored when a value is not positive.
    pub log_y: bool,
    /// Draw x on a log scale (a first-stage F from 2 to 500); ignored when
    /// a value is not positive.
    pub log_x: bool,
    /// Clip the y axis to this range: a point beyond it is drawn at the
    /// panel's edge as a hollow triangle, so one wild value (a mean without
    /// finite moments) cannot flatten every other line.
    pub y_limits: Option<(f64, f64)>,
    /// Draw the dashed line y = x (estimated against true): points above it
    /// did better than estimated, points below worse.
    pub diagonal: bool,
    /// The panels, laid out left to right, at most four per row.
    pub panels: Vec<Panel>,
}

/// How a figure is drawn beyond its data; [`render_svg`] draws with the
/// default: coloured lines with a circle at every point, axes padded around
/// the points.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Style {
    /// Draw each series as bars from zero, side by side at each x (counts
    /// over categories); the y axis then starts at zero.
    pub bars: bool,
    /// The x axis spans exactly this range (e.g. percentiles 0 to 100)
    /// instead of the points' padded range.
    pub x_range: Option<(f64, f64)>,
    /// The y axis starts at zero when no value is negative (counts, shares).
    pub y_from_zero: bool,
    /// Tell series apart by marker shape and dash as well as colour, with at
    /// most about a dozen markers per line (staggered between series) so
    /// that long or overlapping lines stay readable.
    pub distinct: bool,
}

/// Estimated width in pixels of `text` drawn at `font_px` pixels: the SVG
/// backend cannot measure text, and a sans-serif character averages less
/// than 0.56 em.
pub fn text_width_px(text: &str, font_px: f64) -> f64 {
    text.chars().count() as f64 * font_px * CHAR_EM
}

/// The size in pixels of the title's font as the SVG writes it (plotters
/// writes `size / 1.24` px).
pub fn title_px() -> f64 {
    TITLE_SIZE / 1.24
}

/// The lines of a figure's title wrapped at spaces so that each fits a
/// figure `width` pixels wide by [`text_width_px`] (a word too long for a
/// line is cut).
pub fn title_lines(title: &str, width: u32) -> Vec<String> {
    let room = f64::from(width.saturating_sub(2 * TITLE_MARGIN));
    let fits = |t: &str| text_width_px(t, title_px()) <= room;
    let mut lines: Vec<String> = Vec::new();
    let mut line = String::new();
    for word in title.split_whitespace() {
        let joined = if line.is_empty() {
            word.to_string()
        } else {
            format!("{line} {word}")
        };
        if fits(&joined) {
            line = joined;
            continue;
        }
        if !line.is_empty() {
            lines.push(std::mem::take(&mut line));
        }
        for c in word.chars() {
            line.push(c);
            if !fits(&line) && line.chars().count() > 1 {
                line.pop();
                lines.push(std::mem::take(&mut line));
                line.push(c);
            }
        }
    }
    if !line.is_empty() || lines.is_empty() {
        lines.push(line);
    }
    lines
}

impl Figure {
    /// Keeps the figure small whatever the sweep behind it: panels without
    /// a point are left out, then all but the first [`MAX_PANELS`], and a
    /// line of more than [`MAX_POINTS`] points is drawn as the means of runs
    /// of consecutive points, without error bars. Returns what was left
    /// out, in sentences ending with the `csv` that holds every value, or
    /// `None` when the figure was small already.
    pub fn bound(&mut self, csv: &str) -> Option<String> {
        let mut notes = Vec::new();
        let total = self.panels.len();
        self.panels.retain(|p| {
            p.lines
                .iter()
                .flatten()
                .any(|q| q.x.is_finite() && q.y.is_finite())
        });
        let empty = total - self.panels.len();
        if empty > 0 {
            notes.push(format!(
                "{} of its {} panels have no result yet and are not drawn.",
                count(empty),
                count(total)
            ));
        }
        if self.panels.len() > MAX_PANELS {
            notes.push(format!(
                "Only the first {MAX_PANELS} of the {} panels with results are drawn.",
                count(self.panels.len())
            ));
            self.panels.truncate(MAX_PANELS);
        }
        let longest = self
            .panels
            .iter()
            .flat_map(|p| &p.lines)
            .map(Vec::len)
            .max()
            .unwrap_or(0);
        if longest > MAX_POINTS {
            let run = longest.div_ceil(MAX_POINTS);
            for line in self.panels.iter_mut().flat_map(|p| &mut p.lines) {
                if line.len() > MAX_POINTS {
                    *line = run_means(line, run);
                }
            }
            notes.push(format!(
                "Lines of more than {MAX_POINTS} points are drawn as the mean of each {run} \
                 consecutive points, without error bars."
            ));
        }
        (!notes.is_empty()).then(|| {
            notes.push(format!("{csv} holds every value."));
            notes.join(" ")
        })
    }
}

/// The means of x and y over each run of `run` consecutive finite points.
fn run_means(line: &[Point], run: usize) -> Vec<Point> {
    line.chunks(run)
        .filter_map(|chunk| {
            let finite: Vec<&Point> = chunk
                .iter()
                .filter(|p| p.x.is_finite() && p.y.is_finite())
                .collect();
            let n = finite.len() as f64;
            (!finite.is_empty()).then(|| Point {
                x: finite.iter().map(|p| p.x).sum::<f64>() / n,
                y: finite.iter().map(|p| p.y).sum::<f64>() / n,
                err: None,
            })
        })
        .collect()
}

fn fail(e: impl std::fmt::Display) -> Error {
    Error::Report(format!("cannot draw a plot: {e}"))
}

impl Figure {
    /// The colour of series `k`: its palette slot, shared by every figure so
    /// that an estimator keeps its colour.
    fn colour(&self, k: usize) -> RGBColor {
        let slot = self
            .colours
            .as_ref()
            .and_then(|c| c.get(k))
            .copied()
            .unwrap_or(k);
        PALETTE[slot % PALETTE.len()]
    }
}

/// Ends of a range padded by 6% (or by a unit when it is a single value).
fn padded(lo: f64, hi: f64) -> (f64, f64) {
    if !(lo.is_finite() && hi.is_finite()) {
        return (0.0, 1.0);
    }
    let span = hi - lo;
    if span <= f64::EPSILON * hi.abs().max(1.0) {
        let pad = if hi.abs() > 0.0 { hi.abs() * 0.1 } else { 0.5 };
        return (lo - pad, hi + pad);
    }
    (lo - 0.06 * span, hi + 0.06 * span)
}

/// Round tick positions (steps of 1, 2 or 5 × 10^k) inside `[lo, hi]`, at
/// most about `most` of them, with the decimals a label needs.
pub(super) fn ticks(lo: f64, hi: f64, most: usize) -> (Vec<f64>, usize) {
    let raw = (hi - lo) / most.max(1) as f64;
    if !(raw.is_finite() && raw > 0.0) {
        return (vec![lo], 2);
    }
    let magnitude = 10f64.powf(raw.log10().floor());
    let step = [1.0, 2.0, 5.0, 10.0]
        .iter()
        .map(|m| m * magnitude)
        .find(|s| *s >= raw)
        .unwrap_or(10.0 * magnitude);
    let decimals = (-step.log10().floor()).max(0.0) as usize;
    let first = (lo / step).ceil() as i64;
    let last = (hi / step).floor() as i64;
    let values = (first..=last).map(|i| i as f64 * step).collect();
    (values, decimals)
}

/// Tick positions at 1, 2 and 5 × 10^k inside `[lo, hi]` (only 10^k when
/// the range spans many decades), for a log axis.
fn log_ticks(lo: f64, hi: f64) -> Vec<f64> {
    let (first, last) = (lo.log10().floor() as i32, hi.log10().ceil() as i32);
    let multiples: &[f64] = if last - first <= 2 {
        &[1.0, 2.0, 5.0]
    } else {
        &[1.0]
    };
    let every = ((last - first) / 6).max(1) as usize;
    (first..=last)
        .step_by(every)
        .flat_map(|e| multiples.iter().map(move |m| m * 10f64.powi(e)))
        .filter(|v| (lo..=hi).contains(v))
        .collect()
}

/// An axis with its range and ticks, linear or logarithmic. (Plotters'
/// `WithKeyPoints` over `f64` loses the label formatter, hence this type.)
#[derive(Debug, Clone)]
struct Ticked {
    lo: f64,
    hi: f64,
    ticks: Vec<f64>,
    /// Decimals of the tick labels; shortest form when `None` (log axes).
    decimals: Option<usize>,
    log: bool,
}

impl Ticked {
    /// A linear axis over `[lo, hi]` with round ticks.
    fn linear((lo, hi): (f64, f64)) -> Self {
        let (ticks, decimals) = ticks(lo, hi, 6);
        Ticked {
            lo,
            hi,
            ticks,
            decimals: Some(decimals),
            log: false,
        }
    }

    /// A log axis over `[lo, hi]`, both positive.
    fn log(lo: f64, hi: f64) -> Self {
        Ticked {
            lo,
            hi,
            ticks: log_ticks(lo, hi),
            decimals: None,
            log: true,
        }
    }

    /// The label of a tick.
    fn label(&self, v: f64) -> String {
        match self.decimals {
            Some(d) => format!("{v:.d$}"),
            None if (1e-3..1e5).contains(&v.abs()) => format!("{v}"),
            None => format!("{v:e}"),
        }
    }

    /// `v` moved inside the axis range (error bars never leave the panel).
    fn clamp(&self, v: f64) -> f64 {
        v.clamp(self.lo, self.hi)
    }
}

impl Ranged for Ticked {
    type FormatOption = DefaultFormatting;
    type ValueType = f64;

    fn map(&self, value: &f64, (from, to): (i32, i32)) -> i32 {
        let t = if self.log {
            (value.ln() - self.lo.ln()) / (self.hi.ln() - self.lo.ln())
        } else {
            (value - self.lo) / (self.hi - self.lo)
        };
        from + (t * f64::from(to - from)).round() as i32
    }

    fn key_points<H: KeyPointHint>(&self, hint: H) -> Vec<f64> {
        if hint.weight().allow_light_points() {
            Vec::new()
        } else {
            self.ticks.clone()
        }
    }

    fn range(&self) -> Range<f64> {
        self.lo..self.hi
    }
}

/// The axes shared by all panels of a figure: they span every finite point,
/// its error bar and the reference line (x exactly the style's range, when
/// it has one; y from zero for bars or when the style asks).
fn axes(figure: &Figure, style: &Style) -> (Ticked, Ticked) {
    let (mut x0, mut x1, mut y0, mut y1) = (
        f64::INFINITY,
        f64::NEG_INFINITY,
        f64::INFINITY,
        f64::NEG_INFINITY,
    );
    // Smallest positive value or error bar end, for a log axis.
    let mut positive = f64::INFINITY;
    for p in figure.panels.iter().flat_map(|p| p.lines.iter().flatten()) {
        if !(p.x.is_finite() && p.y.is_finite()) {
            continue;
        }
        let e = p.err.filter(|e| e.is_finite()).unwrap_or(0.0);
        x0 = x0.min(p.x);
        x1 = x1.max(p.x);
        y0 = y0.min(p.y - e);
        y1 = y1.max(p.y + e);
        positive = positive.min(if p.y - e > 0.0 { p.y - e } else { p.y });
    }
    if let Some(r) = figure.reference {
        y0 = y0.min(r);
        y1 = y1.max(r);
        positive = positive.min(r);
    }
    if let Some((lo, hi)) = figure.y_limits {
        y0 = y0.max(lo);
        y1 = y1.min(hi);
    }
    let smallest_x = figure
        .panels
        .iter()
        .flat_map(|p| p.lines.iter().flatten())
        .map(|p| p.x)
        .filter(|x| x.is_finite())
        .fold(f64::INFINITY, f64::min);
    let x = match &figure.categories {
        // Half a slot either side, so every label sits inside the panel.
        Some(c) => Ticked {
            lo: -0.5,
            hi: c.len().max(1) as f64 - 0.5,
            ticks: (0..c.len())
                .step_by(c.len().div_ceil(MAX_LABELS).max(1))
                .map(|i| i as f64)
                .collect(),
            decimals: Some(0),
            log: false,
        },
        None if figure.log_x && smallest_x > 0.0 && x1 > x0 => Ticked::log(x0 / 1.25, x1 * 1.25),
        None => Ticked::linear(style.x_range.unwrap_or_else(|| padded(x0, x1))),
    };
    let from_zero = (style.bars || style.y_from_zero) && y0 >= 0.0;
    let y = if figure.log_y && positive > 0.0 && positive.is_finite() && y1 > positive {
        Ticked::log(positive / 1.25, y1 * 1.25)
    } else if from_zero {
        let (_, hi) = padded(0.0, y1.max(0.0));
        Ticked::linear((0.0, hi))
    } else {
        Ticked::linear(padded(y0, y1))
    };
    (x, y)
}

/// Draws a figure as a self-contained SVG document (text as `<text>`, fonts
/// left to the browser), so it can be inlined in the HTML report.
pub fn render_svg(figure: &Figure) -> Result<String> {
    render_svg_styled(figure, &Style::default())
}

/// [`render_svg`] drawn in the given [`Style`].
pub fn render_svg_styled(figure: &Figure, style: &Style) -> Result<String> {
    let n = figure.panels.len().max(1);
    let columns = n.min(MAX_COLUMNS);
    let rows = n.div_ceil(columns);
    // Panels widen so that their titles (the other axes' values) fit.
    let longest = figure
        .panels
        .iter()
        .filter_map(|p| p.title.as_ref())
        .map(|t| text_width(t) + 30)
        .max()
        .unwrap_or(0);
    let (panel_w, panel_h) = if n == 1 {
        (640.max(longest), 380)
    } else {
        (330.max(longest), 270)
    };
    let width = (columns as u32 * panel_w).max(480);
    let title = title_lines(&figure.title, width);
    let title_height = TITLE_HEIGHT + TITLE_LINE * (title.len() as u32).saturating_sub(1);
    let legend = legend_layout(&figure.series, width);
    let legend_rows = legend.last().map_or(1, |(_, row, _)| row + 1);
    let header = title_height + LEGEND_ROW * legend_rows + 6;
    let height = header + rows as u32 * panel_h;

    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (width, height)).into_drawing_area();
        root.fill(&WHITE).map_err(fail)?;
        let (top, body) = root.split_vertically(header);
        for (i, line) in title.iter().enumerate() {
            top.draw_text(
                line,
                &TextStyle::from((FONT, TITLE_SIZE).into_font()).color(&BLACK),
                (TITLE_MARGIN as i32, 8 + (TITLE_LINE * i as u32) as i32),
            )
            .map_err(fail)?;
        }
        // Text is placed by its top edge; centre it on the legend's line.
        let half_text = (TEXT_SIZE / 1.24 / 2.0).round() as i32;
        for (k, (x, row, name)) in legend.iter().enumerate() {
            let y = (title_height + LEGEND_ROW * row + LEGEND_ROW / 2) as i32;
            let c = figure.colour(k);
            if style.bars {
                top.draw(&Rectangle::new(
                    [(*x + 5, y - 6), (*x + 17, y + 6)],
                    c.filled(),
                ))
                .map_err(fail)?;
            } else {
                let sample = vec![(*x, y), (*x + 22, y)];
                draw_path(&top, sample, dash(style, k), c)?;
                draw_marker(&top, (*x + 11, y), shape(style, k), c)?;
            }
            top.draw_text(
                name,
                &TextStyle::from((FONT, TEXT_SIZE).into_font()).color(&BLACK),
                (*x + 28, y - half_text),
            )
            .map_err(fail)?;
        }
        let (x, y) = axes(figure, style);
        let areas = body.split_evenly((rows, columns));
        for (panel, area) in figure.panels.iter().zip(&areas) {
            draw_panel((figure, style), panel, area, &x, &y)?;
        }
        root.present().map_err(fail)?;
    }
    Ok(svg)
}

/// Estimated width in pixels of text at `TEXT_SIZE` ([`text_width_px`]).
fn text_width(text: &str) -> u32 {
    text_width_px(text, TEXT_SIZE / 1.24).ceil() as u32
}

/// The dash pattern of series `k`: solid unless the style tells series apart.
fn dash(style: &Style, k: usize) -> (u32, u32) {
    if style.distinct {
        DASHES[k % DASHES.len()]
    } else {
        (0, 0)
    }
}

/// The marker shape of series `k`: a circle unless the style tells series apart.
fn shape(style: &Style, k: usize) -> usize {
    if style.distinct {
        k % SHAPES
    } else {
        0
    }
}

/// A line through `points` in `dash` (dash and gap in pixels; solid when 0).
fn draw_path<DB: DrawingBackend, CT: CoordTranslate>(
    area: &DrawingArea<DB, CT>,
    points: Vec<CT::From>,
    (on, off): (u32, u32),
    c: RGBColor,
) -> Result<()>
where
    CT::From: Clone,
{
    if on == 0 {
        area.draw(&PathElement::new(points, c.stroke_width(2)))
    } else {
        area.draw(&DashedPathElement::new(points, on, off, c.stroke_width(2)))
    }
    .map_err(fail)
}

/// A marker of shape `k` (circle, square, triangle, diamond, cross) at `at`.
fn draw_marker<DB: DrawingBackend, CT: CoordTranslate>(
    area: &DrawingArea<DB, CT>,
    at: CT::From,
    k: usize,
    c: RGBColor,
) -> Result<()> {
    let e = EmptyElement::at(at);
    match k % SHAPES {
        0 => area.draw(&(e + Circle::new((0, 0), 3, c.filled()))),
        1 => area.draw(&(e + Rectangle::new([(-3, -3), (3, 3)], c.filled()))),
        2 => area.draw(&(e + TriangleMarker::new((0, 0), 4, c.filled()))),
        3 => area.draw(&(e + Polygon::new(vec![(0, -4), (4, 0), (0, 4), (-4, 0)], c.filled()))),
        _ => area.draw(&(e + Cross::new((0, 0), 4, c.stroke_width(2)))),
    }
    .map_err(fail)
}

/// Legend entries as (x offset, row, name), wrapped to the figure's width.
fn legend_layout(series: &[String], width: u32) -> Vec<(i32, u32, String)> {
    let mut out = Vec::with_capacity(series.len());
    let (mut x, mut row) = (12i32, 0u32);
    for name in series {
        let w = 28 + text_width(name) as i32 + 28;
        if x > 12 && x + w > width as i32 {
            x = 12;
            row += 1;
        }
        out.push((x, row, name.clone()));
        x += w;
    }
    out
}

/// One panel: mesh with axis labels, reference line, then each series.
fn draw_panel<DB: DrawingBackend>(
    (figure, style): (&Figure, &Style),
    panel: &Panel,
    area: &DrawingArea<DB, plotters::coord::Shift>,
    x: &Ticked,
    y: &Ticked,
) -> Result<()> {
    let mut builder = ChartBuilder::on(area);
    builder
        .margin(10)
        .margin_right(16)
        .x_label_area_size(42)
        .y_label_area_size(62);
    if let Some(title) = &panel.title {
        builder.caption(title, (FONT, TEXT_SIZE));
    }
    let mut chart = builder
        .build_cartesian_2d(x.clone(), y.clone())
        .map_err(fail)?;
    let categories = figure.categories.as_deref();
    let x_format = |v: &f64| match categories {
        Some(c) => c
            .get(v.round().max(0.0) as usize)
            .cloned()
            .unwrap_or_default(),
        None => x.label(*v),
    };
    let y_format = |v: &f64| y.label(*v);
    chart
        .configure_mesh()
        .x_desc(figure.x_label.as_str())
        .y_desc(figure.y_label.as_str())
        .axis_desc_style((FONT, TEXT_SIZE))
        .label_style((FONT, TICK_SIZE))
        .bold_line_style(GRID.stroke_width(1))
        .light_line_style(TRANSPARENT)
        .x_label_formatter(&x_format)
        .y_label_formatter(&y_format)
        .draw()
        .map_err(fail)?;

    draw_references(&mut chart, figure, x, y)?;
    if style.bars {
        draw_bars(&mut chart, figure, panel)
    } else {
        draw_lines(&mut chart, (figure, style), panel, x, y)
    }
}

/// One bar per series and x from zero, the series side by side in 80% of a slot.
fn draw_bars<DB: DrawingBackend>(
    chart: &mut Chart<'_, DB>,
    figure: &Figure,
    panel: &Panel,
) -> Result<()> {
    let count = panel.lines.len().max(1) as f64;
    let width = 0.8 / count;
    for (k, line) in panel.lines.iter().enumerate() {
        let c = figure.colour(k);
        let left = -0.4 + k as f64 * width;
        chart
            .draw_series(
                line.iter()
                    .filter(|p| p.x.is_finite() && p.y.is_finite())
                    .map(|p| {
                        Rectangle::new(
                            [(p.x + left, 0.0), (p.x + left + width * 0.92, p.y)],
                            c.filled(),
                        )
                    }),
            )
            .map_err(fail)?;
    }
    Ok(())
}

/// A panel's chart, on the figure's ticked axes.
type Chart<'a, DB> = ChartContext<'a, DB, plotters::coord::cartesian::Cartesian2d<Ticked, Ticked>>;

/// The dashed reference lines: the ideal value across the panel, and the
/// diagonal y = x where the figure asks for it.
fn draw_references<DB: DrawingBackend>(
    chart: &mut Chart<'_, DB>,
    figure: &Figure,
    x: &Ticked,
    y: &Ticked,
) -> Result<()> {
    if let Some(r) = figure.reference {
        chart
            .draw_series(DashedLineSeries::new(
                vec![(x.lo, r), (x.hi, r)],
                6,
                4,
                REFERENCE.stroke_width(1),
            ))
            .map_err(fail)?;
    }
    if figure.diagonal {
        let (lo, hi) = (x.lo.max(y.lo), x.hi.min(y.hi));
        if lo < hi {
            chart
                .draw_series(DashedLineSeries::new(
                    vec![(lo, lo), (hi, hi)],
                    6,
                    4,
                    REFERENCE.stroke_width(1),
                ))
                .map_err(fail)?;
        }
    }
    Ok(())
}

/// One line per series with its markers; with error bars, the points are
/// dodged a little along x.
fn draw_lines<DB: DrawingBackend>(
    chart: &mut Chart<'_, DB>,
    (figure, style): (&Figure, &Style),
    panel: &Panel,
    x: &Ticked,
    y: &Ticked,
) -> Result<()> {
    let count = panel.lines.len();
    // Dodge the series a little along x so that overlapping error bars stay apart.
    let bars = panel
        .lines
        .iter()
        .flatten()
        .any(|p| p.err.is_some_and(|e| e.is_finite() && e > 0.0));
    let dodge = if bars { (x.hi - x.lo) * 0.012 } else { 0.0 };
    for (k, line) in panel.lines.iter().enumerate() {
        let shift = (k as f64 - (count as f64 - 1.0) / 2.0) * dodge;
        let c = figure.colour(k);
        let points: Vec<(f64, f64, f64)> = line
            .iter()
            .filter(|p| p.x.is_finite() && p.y.is_finite())
            .map(|p| {
                let e = p.err.filter(|e| e.is_finite()).unwrap_or(0.0);
                (p.x + shift, p.y, e)
            })
            .collect();
        chart
            .draw_series(points.iter().filter(|p| p.2 > 0.0).map(|&(px, py, e)| {
                PathElement::new(
                    vec![(px, y.clamp(py - e)), (px, y.clamp(py + e))],
                    c.mix(0.7).stroke_width(1),
                )
            }))
            .map_err(fail)?;
        let area = chart.plotting_area();
        draw_path(
            area,
            points
                .iter()
                .map(|&(px, py, _)| (px, y.clamp(py)))
                .collect(),
            dash(style, k),
            c,
        )?;
        // Every point, or about a dozen staggered between the series; a
        // point beyond a cut axis is a hollow triangle at the edge.
        let (every, phase) = if style.distinct && points.len() > MARKERS_PER_LINE {
            let every = points.len().div_ceil(MARKERS_PER_LINE);
            (every, k * every / count.max(1))
        } else {
            (1, 0)
        };
        for &(px, py, _) in points.iter().skip(phase).step_by(every) {
            if (y.lo..=y.hi).contains(&py) {
                draw_marker(area, (px, py), shape(style, k), c)?;
            } else {
                area.draw(&TriangleMarker::new(
                    (px, y.clamp(py)),
                    7,
                    c.stroke_width(2),
                ))
                .map_err(fail)?;
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn figure(panels: usize, categories: Option<Vec<String>>) -> Figure {
        let line = |a: f64| {
            vec![
                Point {
                    x: 0.0,
                    y: a,
                    err: Some(0.1),
                },
                Point {
                    x: 1.0,
                    y: f64::NAN,
                    err: None,
                },
                Point {
                    x: 2.0,
                    y: a + 1.0,
                    err: None,
                },
            ]
        };
        Figure {
            title: "coverage against instrument.strength".into(),
            x_label: "instrument.strength".into(),
            y_label: "coverage".into(),
            series: vec![
                "difference_in_means".into(),
                "two_stage_least_squares".into(),
            ],
            colours: None,
            categories,
            reference: Some(0.95),
            log_y: false,
            log_x: false,
            y_limits: None,
            diagonal: false,
            panels: (0..panels)
                .map(|i| Panel {
                    title: Some(format!("compliance.defiers = {i}")),
                    lines: vec![line(0.0), line(0.5)],
                })
                .collect(),
        }
    }

    #[test]
    fn svg_has_labels_legend_and_panel_titles() {
        let svg = render_svg(&figure(5, None)).expect("renders");
        assert!(svg.starts_with("<svg"));
        for text in [
            "instrument.strength",
            "coverage",
            "difference_in_means",
            "two_stage_least_squares",
            "compliance.defiers = 4",
        ] {
            assert!(svg.contains(text), "missing {text}");
        }
        assert!(!svg.contains("NaN"));
    }

    #[test]
    fn categorical_labels_and_empty_panels_render() {
        let cats = vec!["low".to_string(), "mid".to_string(), "high".to_string()];
        let svg = render_svg(&figure(1, Some(cats))).expect("renders");
        assert!(svg.contains("\nlow\n") && svg.contains("\nhigh\n"));
        let mut empty = figure(1, None);
        empty.panels[0].lines.clear();
        empty.reference = None;
        assert!(render_svg(&empty).is_ok());
    }

    #[test]
    fn series_keep_their_palette_slot() {
        let mut subset = figure(1, None);
        let fourth = "#76B7B2";
        assert!(!render_svg(&subset).expect("renders").contains(fourth));
        subset.colours = Some(vec![3, 0]);
        assert!(render_svg(&subset).expect("renders").contains(fourth));
    }

    #[test]
    fn wide_errors_get_a_log_axis() {
        let mut wide = figure(2, None);
        wide.reference = None;
        wide.log_y = true;
        for panel in &mut wide.panels {
            panel.lines[0][0].y = 150.0;
            panel.lines[1][0].y = 0.2;
        }
        let svg = render_svg(&wide).expect("renders");
        assert!(svg.contains("\n100\n") && svg.contains("\n1\n"));
        assert_eq!(log_ticks(0.08, 190.0), vec![0.1, 1.0, 10.0, 100.0]);
        assert_eq!(log_ticks(0.3, 4.0), vec![0.5, 1.0, 2.0]);
    }

    #[test]
    fn a_huge_figure_is_bounded_and_says_so() {
        let mut huge = figure(3, None);
        let long: Vec<Point> = (0..10_000)
            .map(|i| Point {
                x: i as f64,
                y: (i % 7) as f64,
                err: Some(0.1),
            })
            .collect();
        huge.panels = (0..10_000)
            .map(|i| Panel {
                title: Some(format!("panel {i}")),
                lines: if i % 100 == 0 {
                    vec![long.clone(), Vec::new()]
                } else {
                    vec![Vec::new(), Vec::new()]
                },
            })
            .collect();
        let note = huge.bound("diagnosands.csv").expect("bounded");
        assert_eq!(huge.panels.len(), MAX_PANELS);
        assert!(huge.panels.iter().all(|p| p.lines[0].len() == MAX_POINTS));
        assert!(huge.panels[0].lines[0].iter().all(|p| p.err.is_none()));
        assert_eq!(
            (huge.panels[0].lines[0][0].x, huge.panels[0].lines[0][0].y),
            (24.5, 3.0 - 3.0 / 50.0)
        );
        for part in [
            "9,900 of its 10,000 panels have no result yet",
            "first 24 of the 100 panels",
            "mean of each 50 consecutive points",
            "diagnosands.csv holds every value.",
        ] {
            assert!(note.contains(part), "{part}: {note}");
        }
        let svg = render_svg(&huge).expect("renders");
        assert!(svg.len() < 2_000_000, "{} bytes", svg.len());
        let mut small = figure(3, None);
        assert_eq!(small.bound("x.csv"), None);
        assert_eq!(small.panels.len(), 3);
    }

    #[test]
    fn long_titles_wrap_to_fit_the_figure() {
        let mut long = figure(1, None);
        long.title = "Figure 5: Width of the individualized bounds across test patients \
                      (up to the 95th percentile) and a supercalifragilisticexpialidociouslylongword"
            .into();
        let one_line = render_svg(&figure(1, None)).expect("renders");
        let svg = render_svg(&long).expect("renders");
        let width = 640;
        let lines = title_lines(&long.title, width);
        assert!(lines.len() >= 2, "{lines:?}");
        for line in &lines {
            assert!(
                text_width_px(line, title_px()) <= f64::from(width - 2 * TITLE_MARGIN),
                "{line}"
            );
            assert!(svg.contains(&format!("\n{line}\n")), "{line} not drawn");
        }
        assert_eq!(lines.join(" "), long.title, "wrapped at spaces only");
        let height = |svg: &str| -> u32 {
            let at = svg.find("height=\"").expect("a height") + 8;
            svg[at..]
                .split('"')
                .next()
                .and_then(|h| h.parse().ok())
                .expect("a number")
        };
        assert!(height(&svg) > height(&one_line), "the header grows");
        let cut = title_lines(&"x".repeat(200), 480);
        assert!(cut.len() >= 2 && cut.iter().all(|l| text_width_px(l, title_px()) <= 460.0));
    }

    #[test]
    fn bars_and_counts_start_at_zero_and_a_fixed_x_range_is_kept() {
        let mut counts = figure(1, Some(vec!["C1".into(), "C2".into(), "C3".into()]));
        counts.reference = None;
        for line in &mut counts.panels[0].lines {
            for p in line.iter_mut() {
                p.y = 150.0 + p.x * 10.0;
                p.err = None;
            }
        }
        let (_, padded_y) = axes(&counts, &Style::default());
        assert!(padded_y.lo > 100.0, "lines keep a padded axis");
        let bars = Style {
            bars: true,
            ..Style::default()
        };
        let (_, y) = axes(&counts, &bars);
        assert_eq!(y.lo, 0.0);
        assert!(y.hi >= 170.0 && y.ticks.first() == Some(&0.0));
        let svg = render_svg_styled(&counts, &bars).expect("renders");
        assert!(svg.matches("<rect").count() >= 4, "bars are drawn");
        let shares = Style {
            y_from_zero: true,
            ..Style::default()
        };
        assert_eq!(axes(&counts, &shares).1.lo, 0.0);

        let mut percentiles = figure(1, None);
        percentiles.reference = None;
        let fixed = Style {
            x_range: Some((0.0, 100.0)),
            ..Style::default()
        };
        let (x, _) = axes(&percentiles, &fixed);
        assert_eq!((x.lo, x.hi), (0.0, 100.0));
        assert_eq!(x.ticks.first(), Some(&0.0));
        assert_eq!(x.ticks.last(), Some(&100.0));
    }

    #[test]
    fn distinct_series_differ_by_marker_and_dash_and_long_lines_are_not_blobs() {
        let mut long = figure(1, None);
        long.reference = None;
        let line: Vec<Point> = (0..120)
            .map(|i| Point {
                x: f64::from(i),
                y: f64::from(i % 9),
                err: None,
            })
            .collect();
        long.panels[0].lines = vec![line.clone(), line];
        let plain = render_svg(&long).expect("renders");
        assert!(
            plain.matches("<circle").count() >= 240,
            "a circle per point"
        );
        let distinct = Style {
            distinct: true,
            ..Style::default()
        };
        let svg = render_svg_styled(&long, &distinct).expect("renders");
        let circles = svg.matches("<circle").count();
        // Series 0: circles, at most a dozen (and one in the legend).
        assert!(
            (2..=MARKERS_PER_LINE + 1).contains(&circles),
            "{circles} circles"
        );
        // Series 1: squares, and a dashed line drawn as many short segments.
        assert!(svg.matches("<rect").count() >= MARKERS_PER_LINE / 2);
        assert!(svg.matches("<polyline").count() > plain.matches("<polyline").count() + 20);
    }

    #[test]
    fn ticks_are_round() {
        let (t, d) = ticks(-0.03, 0.97, 5);
        assert_eq!(d, 1);
        assert_eq!(t.len(), 5);
        assert!(t[0].abs() < 1e-12 && (t[4] - 0.8).abs() < 1e-12);
    }
}
