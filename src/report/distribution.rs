//! The distribution section: per cell, a box of each estimator's errors
//! (estimate − truth, so the truth is the dashed zero line in every panel):
//! the box spans the quartiles, the bar inside it is the median and the
//! whiskers reach the 5th and 95th percentiles. The axis is shared by the
//! panels and cut to the whiskers, so a heavy tail shows as a long whisker
//! and a count of estimates beyond the edge instead of flattening every
//! other box. Where a mean hides a heavy tail (2SLS with a weak
//! instrument), this is the view that shows it.

use std::collections::BTreeMap;
use std::fmt::Write;

use serde::Serialize;

use super::plot::{ticks, PALETTE};
use super::section::{Rendered, ReportInput, Section};
use super::tables::count;
use crate::summary::quantile;
use crate::Result;

/// The distribution section; hidden when nothing was estimated.
pub(super) struct Distribution;

/// Most panels (cells) drawn; `estimates.csv` holds every estimate.
const MAX_PANELS: usize = 24;

/// Panels per row, and each panel's height and least width in pixels (a
/// panel widens until its title fits).
const COLUMNS: usize = 4;
const PANEL_W: f64 = 300.0;
const PANEL_H: f64 = 230.0;
/// Width of a character of 12 px sans-serif, generously: the SVG cannot
/// measure its text.
const CHAR_W: f64 = 6.8;
/// Space for the y ticks on the left, the panel title on top and the
/// estimator labels below.
const LEFT: f64 = 52.0;
const TOP: f64 = 40.0;
const BOTTOM: f64 = 34.0;

/// The five numbers a box shows, and the estimates beyond the axis.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct BoxStats {
    /// 5th percentile, first quartile, median, third quartile, 95th percentile.
    pub five: [f64; 5],
    /// Estimates recorded.
    pub n: usize,
}

impl BoxStats {
    /// The box of `errors`; `None` when there are none.
    pub fn of(errors: &mut [f64]) -> Option<BoxStats> {
        errors.sort_by(f64::total_cmp);
        (!errors.is_empty()).then(|| BoxStats {
            five: [0.05, 0.25, 0.5, 0.75, 0.95].map(|p| quantile(errors, p)),
            n: errors.len(),
        })
    }
}

/// One panel: a cell's label and a box per estimator (in the experiment's
/// order), with the errors themselves to count those off the axis.
struct PanelData {
    title: String,
    boxes: Vec<Option<(BoxStats, Vec<f64>)>>,
}

/// What the distribution partial shows.
#[derive(Debug, Serialize)]
struct View {
    svg: String,
    note: Option<String>,
}

impl Section for Distribution {
    fn id(&self) -> &'static str {
        "distribution"
    }

    fn template(&self) -> &'static str {
        include_str!("templates/sections/distribution.html.tera")
    }

    fn render(&self, input: &ReportInput) -> Result<Option<Rendered>> {
        let experiment = &input.experiment;
        if experiment.estimators.is_empty() || input.records.is_empty() {
            return Ok(None);
        }
        let mut errors: BTreeMap<(usize, usize), Vec<f64>> = BTreeMap::new();
        for (record, results) in input.records.iter().zip(&input.results) {
            for (k, named) in experiment.estimators.iter().enumerate() {
                let key = named.spec.estimator().estimand().key();
                let estimate = results.get(k).and_then(|r| r.estimate.as_ref());
                if let (Some(e), Some(t)) = (estimate, record.truth.get(key)) {
                    errors
                        .entry((record.cell, k))
                        .or_default()
                        .push(e.estimate - t);
                }
            }
        }
        let mut panels: Vec<PanelData> = experiment
            .cells
            .iter()
            .map(|cell| PanelData {
                title: experiment.cell_label(cell),
                boxes: (0..experiment.estimators.len())
                    .map(|k| {
                        let mut e = errors.remove(&(cell.index, k))?;
                        BoxStats::of(&mut e).map(|b| (b, e))
                    })
                    .collect(),
            })
            .filter(|p| p.boxes.iter().any(Option::is_some))
            .collect();
        let shown = panels.len();
        let note = (shown > MAX_PANELS).then(|| {
            format!(
                "Only the first {MAX_PANELS} of the {} cells are drawn; estimates.csv holds \
                 every estimate.",
                count(shown)
            )
        });
        panels.truncate(MAX_PANELS);
        let names: Vec<&str> = experiment
            .estimators
            .iter()
            .map(|e| e.name.as_str())
            .collect();
        let svg = draw(&panels, &names);
        Rendered::new(View { svg, note }, Vec::new()).map(Some)
    }
}

/// The y range shared by every panel: the whiskers' ends and zero, padded.
fn range(panels: &[PanelData]) -> (f64, f64) {
    let (mut lo, mut hi) = (0.0f64, 0.0f64);
    for (b, _) in panels.iter().flat_map(|p| p.boxes.iter().flatten()) {
        lo = lo.min(b.five[0]);
        hi = hi.max(b.five[4]);
    }
    let pad = 0.08 * (hi - lo).max(1e-9);
    (lo - pad, hi + pad)
}

/// Escapes text for SVG.
fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// Draws the panels as one SVG: shared y axis of errors, a dashed zero line
/// (the truth), a box per estimator, and at each edge the count of
/// estimates beyond it.
fn draw(panels: &[PanelData], names: &[&str]) -> String {
    let (lo, hi) = range(panels);
    let (tick_values, decimals) = ticks(lo, hi, 5);
    let columns = panels.len().clamp(1, COLUMNS);
    let rows = panels.len().div_ceil(columns).max(1);
    let longest = panels
        .iter()
        .map(|p| p.title.chars().count())
        .max()
        .unwrap_or(0);
    let panel_w = PANEL_W.max(longest as f64 * CHAR_W + 20.0);
    let width = columns as f64 * panel_w;
    let height = rows as f64 * PANEL_H;
    let mut svg = String::new();
    let _ = write!(
        svg,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" viewBox="0 0 {width} {height}" font-family="sans-serif" font-size="12">"#
    );
    for (i, panel) in panels.iter().enumerate() {
        let (x0, y0) = (
            (i % columns) as f64 * panel_w,
            (i / columns) as f64 * PANEL_H,
        );
        let (plot_w, plot_h) = (panel_w - LEFT - 10.0, PANEL_H - TOP - BOTTOM);
        let y_of = |v: f64| y0 + TOP + plot_h * (hi - v.clamp(lo, hi)) / (hi - lo);
        let title = if panel.title.is_empty() {
            "all".to_string()
        } else {
            panel.title.clone()
        };
        let _ = write!(
            svg,
            r#"<text x="{}" y="{}" text-anchor="middle" font-size="12">{}</text>"#,
            x0 + LEFT + plot_w / 2.0,
            y0 + 16.0,
            escape(&title)
        );
        let _ = write!(
            svg,
            "<rect x=\"{}\" y=\"{}\" width=\"{plot_w}\" height=\"{plot_h}\" fill=\"none\" stroke=\"#d8dee4\"/>",
            x0 + LEFT,
            y0 + TOP
        );
        for t in &tick_values {
            let y = y_of(*t);
            let _ = write!(
                svg,
                "<line x1=\"{}\" x2=\"{}\" y1=\"{y:.1}\" y2=\"{y:.1}\" stroke=\"#eeeeee\"/><text x=\"{}\" y=\"{:.1}\" text-anchor=\"end\" font-size=\"11\">{t:.decimals$}</text>",
                x0 + LEFT,
                x0 + LEFT + plot_w,
                x0 + LEFT - 4.0,
                y + 4.0
            );
        }
        let zero = y_of(0.0);
        let _ = write!(
            svg,
            "<line x1=\"{}\" x2=\"{}\" y1=\"{zero:.1}\" y2=\"{zero:.1}\" stroke=\"#6e6e6e\" stroke-dasharray=\"6 4\"/>",
            x0 + LEFT,
            x0 + LEFT + plot_w
        );
        let slot = plot_w / names.len().max(1) as f64;
        for (k, entry) in panel.boxes.iter().enumerate() {
            let cx = x0 + LEFT + slot * (k as f64 + 0.5);
            let colour = PALETTE[k % PALETTE.len()];
            let fill = format!("rgb({},{},{})", colour.0, colour.1, colour.2);
            let _ = write!(
                svg,
                r#"<text x="{cx:.1}" y="{:.1}" text-anchor="middle" font-size="11">{}</text>"#,
                y0 + PANEL_H - BOTTOM + 14.0,
                escape(&short(names[k], slot))
            );
            let Some((b, errors)) = entry else { continue };
            let half = (slot * 0.3).min(22.0);
            let [p5, q1, m, q3, p95] = b.five.map(y_of);
            let _ = write!(
                svg,
                r#"<line x1="{cx:.1}" x2="{cx:.1}" y1="{p95:.1}" y2="{p5:.1}" stroke="{fill}"/><rect x="{:.1}" y="{q3:.1}" width="{:.1}" height="{:.1}" fill="{fill}" fill-opacity="0.35" stroke="{fill}"/><line x1="{:.1}" x2="{:.1}" y1="{m:.1}" y2="{m:.1}" stroke="{fill}" stroke-width="3"/>"#,
                cx - half,
                2.0 * half,
                (q1 - q3).max(1.0),
                cx - half,
                cx + half
            );
            let above = errors.iter().filter(|e| **e > hi).count();
            let below = errors.iter().filter(|e| **e < lo).count();
            for (n, y, mark) in [
                (above, y0 + TOP + 11.0, "▲"),
                (below, y0 + TOP + plot_h - 3.0, "▼"),
            ] {
                if n > 0 {
                    let _ = write!(
                        svg,
                        r#"<text x="{cx:.1}" y="{y:.1}" text-anchor="middle" font-size="10" fill="{fill}">{mark}{n}</text>"#
                    );
                }
            }
        }
        let _ = write!(
            svg,
            r#"<text x="{}" y="{:.1}" font-size="11" transform="rotate(-90 {} {:.1})" text-anchor="middle">estimate − truth</text>"#,
            x0 + 11.0,
            y0 + TOP + plot_h / 2.0,
            x0 + 11.0,
            y0 + TOP + plot_h / 2.0
        );
    }
    svg.push_str("</svg>");
    svg
}

/// An estimator's name cut to fit its slot (about 6.5 px a character).
fn short(name: &str, slot: f64) -> String {
    let most = ((slot / 6.5) as usize).max(3);
    if name.chars().count() <= most {
        name.to_string()
    } else {
        let cut: String = name.chars().take(most - 1).collect();
        format!("{cut}…")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_box_holds_the_percentiles_and_the_axis_cuts_a_heavy_tail() {
        let mut errors: Vec<f64> = (0..=100).map(f64::from).collect();
        let b = BoxStats::of(&mut errors).expect("a box");
        assert_eq!(b.five, [5.0, 25.0, 50.0, 75.0, 95.0]);
        errors.push(1e6);
        let panel = PanelData {
            title: "strength = 0.05".into(),
            boxes: vec![Some((b, errors))],
        };
        let (lo, hi) = range(std::slice::from_ref(&panel));
        assert!(lo < 0.0 && (95.0..110.0).contains(&hi), "{lo} {hi}");
        let svg = draw(&[panel], &["2sls"]);
        // 1e6 lies beyond the cut axis: counted at the top edge.
        assert!(svg.contains("▲1") && !svg.contains('▼'), "{svg}");
        assert!(svg.contains("strength = 0.05") && svg.ends_with("</svg>"));
    }
}
