//! The paper's figure series from the pipeline's results.

use super::forest::ForestRun;
use crate::bounds::Interval;
use crate::core::stats::{mean, median};
use crate::data::Dataset;
use crate::data::{Cohorts, Unit};
use crate::estimate::forest::HISTOGRAM_BINS;
use crate::paper::{PaperFigure, PaperPanel};

/// A figure with the given labels, series and panels.
fn figure(
    id: &str,
    title: &str,
    x_label: &str,
    y_label: &str,
    series: &[&str],
    panels: Vec<PaperPanel>,
) -> PaperFigure {
    PaperFigure {
        id: id.into(),
        title: title.into(),
        x_label: x_label.into(),
        y_label: y_label.into(),
        categories: None,
        series: series.iter().map(|s| s.to_string()).collect(),
        panels,
        diagonal: false,
        bars: false,
        y_from_zero: false,
        x_range: None,
    }
}

fn panel(title: Option<String>, lines: Vec<Vec<[f64; 2]>>) -> PaperPanel {
    PaperPanel { title, lines }
}

/// Figure 2: patients per diagnosis group and unit, as bars from zero.
pub(super) fn figure_2(cohorts: &Cohorts, data: &Dataset) -> PaperFigure {
    let mut counts = vec![[0.0; 2]; cohorts.diagnoses.len()];
    for (i, &g) in cohorts.diagnosis.iter().enumerate() {
        counts[g][usize::from(data.w[i] > 0.5)] += 1.0;
    }
    let line = |u: usize| {
        counts
            .iter()
            .enumerate()
            .map(|(g, c)| [g as f64, c[u]])
            .collect()
    };
    let mut f = figure(
        "figure_2",
        "Figure 2: Patients by diagnosis group and unit",
        "diagnosis group",
        "patients",
        &["internal medicine", "surgical"],
        vec![panel(None, vec![line(1), line(0)])],
    );
    f.categories = Some(cohorts.diagnoses.clone());
    f.bars = true;
    f
}

/// Days over which Figure 3 averages occupancy: four weeks, so that nine
/// years make about 120 points a line rather than 470 that overplot.
const OCCUPANCY_DAYS: usize = 28;

/// Figure 3: four-weekly mean occupancy of each unit, by hospital.
pub(super) fn figure_3(cohorts: &Cohorts) -> PaperFigure {
    let start = cohorts.first_date.year as f64;
    let panels = cohorts
        .hospitals
        .iter()
        .zip(&cohorts.occupancy)
        .map(|(name, occ)| {
            let averaged = |u: usize| -> Vec<[f64; 2]> {
                occ[u]
                    .chunks(OCCUPANCY_DAYS)
                    .enumerate()
                    .map(|(k, days)| {
                        let middle = (k * OCCUPANCY_DAYS) as f64 + days.len() as f64 / 2.0;
                        [start + middle / 365.25, mean(days.iter().copied())]
                    })
                    .collect()
            };
            panel(
                Some(format!("hospital {name}")),
                vec![
                    averaged(Unit::InternalMedicine as usize),
                    averaged(Unit::Surgical as usize),
                ],
            )
        })
        .collect();
    figure(
        "figure_3",
        "Figure 3: Busyness over time (mean occupancy over four weeks)",
        "year",
        "patients in the unit",
        &["internal medicine", "surgical"],
        panels,
    )
}

/// Figure 4: estimated and true effect against each unit's busyness, by
/// hospital: test patients in quintiles of busyness, the median estimate
/// (a weak instrument gives a few wild ones) beside the median truth, so
/// that like is compared with like.
pub(super) fn figure_4(
    cohorts: &Cohorts,
    data: &Dataset,
    test: &[usize],
    tau_hat: &[f64],
    cate: &[f64],
) -> PaperFigure {
    let column = |unit: Unit| {
        let name = format!("busyness_{}", unit.name());
        data.x_names.iter().position(|n| *n == name)
    };
    let mut panels = Vec::new();
    for unit in [Unit::InternalMedicine, Unit::Surgical] {
        let Some(col) = column(unit) else { continue };
        for (h, name) in cohorts.hospitals.iter().enumerate() {
            let mut members: Vec<usize> = (0..test.len())
                .filter(|&k| cohorts.days[cohorts.day_of[test[k]]].hospital == h)
                .collect();
            members.sort_by(|&a, &b| data.x[[test[a], col]].total_cmp(&data.x[[test[b], col]]));
            let bins = 5.min(members.len());
            let (mut est, mut tru) = (Vec::new(), Vec::new());
            for b in 0..bins {
                let part = &members[b * members.len() / bins..(b + 1) * members.len() / bins];
                let x = mean(part.iter().map(|&k| data.x[[test[k], col]]));
                est.push([x, median(part.iter().map(|&k| tau_hat[k]).collect())]);
                tru.push([x, median(part.iter().map(|&k| cate[k]).collect())]);
            }
            let unit_label = match unit {
                Unit::InternalMedicine => "int. med.",
                Unit::Surgical => "surgical",
            };
            panels.push(panel(
                Some(format!("{name}, {unit_label} busyness")),
                vec![est, tru],
            ));
        }
    }
    figure(
        "figure_4",
        "Figure 4: Effect of internal medicine against busyness (test patients by quintile of busyness: median estimate, median truth)",
        "patients in the unit",
        "effect on survival",
        &["estimated (forest): median of the quintile", "truth: median of the quintile"],
        panels,
    )
}

/// Figure 5: the width of each patient's bounds, sorted, up to the 95th
/// percentile (beyond it a weak instrument's frequentist widths dwarf the rest).
pub(super) fn figure_5(intervals: &[[Interval; 3]]) -> PaperFigure {
    let lines = (0..3)
        .map(|k| {
            let mut widths: Vec<f64> = intervals.iter().map(|b| b[k].width()).collect();
            widths.sort_by(f64::total_cmp);
            (0..=95)
                .map(|q| {
                    let i = ((widths.len() - 1) * q) / 100;
                    [q as f64, widths[i]]
                })
                .collect()
        })
        .collect();
    let mut f = figure(
        "figure_5",
        "Figure 5: Width of the individualized bounds across test patients (up to the 95th percentile)",
        "patient percentile",
        "width of the interval",
        &["Frequentist", "Manski", "Balke-Pearl"],
        vec![panel(None, lines)],
    );
    f.x_range = Some([0.0, 100.0]);
    f.y_from_zero = true;
    f
}

/// Shares of `values` in `bins` equal bins over [lo, hi], as (bin centre, share).
fn histogram(values: impl Iterator<Item = f64>, lo: f64, hi: f64, bins: usize) -> Vec<[f64; 2]> {
    let mut counts = vec![0.0; bins];
    let mut total = 0.0;
    for v in values.filter(|v| v.is_finite()) {
        let b = (((v - lo) / (hi - lo) * bins as f64).floor().max(0.0) as usize).min(bins - 1);
        counts[b] += 1.0;
        total += 1.0;
    }
    let width = (hi - lo) / bins as f64;
    counts
        .iter()
        .enumerate()
        .map(|(b, c)| {
            [
                lo + (b as f64 + 0.5) * width,
                if total > 0.0 { c / total } else { 0.0 },
            ]
        })
        .collect()
}

/// A histogram figure: shares of patients on a y axis from zero.
fn shares(mut f: PaperFigure) -> PaperFigure {
    f.y_from_zero = true;
    f
}

/// Figure 6: common support, the estimated propensity of internal medicine by unit (train, out of bag).
pub(super) fn figure_6(w_hat: &[f64], w: &[f64]) -> PaperFigure {
    let by = |t: bool| {
        histogram(
            w_hat
                .iter()
                .zip(w)
                .filter(|(_, &wi)| (wi > 0.5) == t)
                .map(|(p, _)| *p),
            0.0,
            1.0,
            20,
        )
    };
    shares(figure(
        "figure_6",
        "Figure 6: Common support, estimated P(internal medicine | x) by unit",
        "estimated propensity",
        "share of patients",
        &["internal medicine", "surgical"],
        vec![panel(None, vec![by(true), by(false)])],
    ))
}

/// Figure 6b: overlap of the instrument, the out-of-bag estimated
/// P(Z = 1 | x) of every train patient, for each forest.
pub(super) fn figure_6b(runs: &[&ForestRun]) -> PaperFigure {
    let names: Vec<&str> = runs.iter().map(|r| r.name).collect();
    let lines = runs
        .iter()
        .map(|r| {
            histogram(
                r.forest.nuisances.z_hat.iter().copied(),
                0.0,
                1.0,
                HISTOGRAM_BINS,
            )
        })
        .collect();
    shares(figure(
        "figure_6b",
        "Figure 6b: Overlap of the instrument, estimated P(Z = 1 | x) (train patients, out of bag)",
        "estimated instrument propensity",
        "share of patients",
        &names,
        vec![panel(None, lines)],
    ))
}

/// Figure 7: distribution of the compliance scores: the out-of-bag effect of
/// Z on W of every train patient from the compliance forest behind the
/// average effect (grf's `compliance.score`), for each forest.
pub(super) fn figure_7(runs: &[&ForestRun], truth: f64) -> PaperFigure {
    let mut lines: Vec<Vec<[f64; 2]>> = runs
        .iter()
        .map(|r| histogram(r.pieces.compliance.iter().copied(), -0.5, 0.5, 40))
        .collect();
    let peak = lines.iter().flatten().map(|p| p[1]).fold(0.0, f64::max);
    lines.push(vec![[truth, 0.0], [truth, peak]]);
    let mut names: Vec<&str> = runs.iter().map(|r| r.name).collect();
    names.push("truth (compliers less defiers)");
    shares(figure(
        "figure_7",
        "Figure 7: Estimated compliance scores, the effect of Z on W given x (train patients, out of bag)",
        "compliance score",
        "share of patients",
        &names,
        vec![panel(None, lines)],
    ))
}
