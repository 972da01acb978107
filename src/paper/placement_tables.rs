//! Where the unconstrained policies put patients (Tables 7-10): unit
//! occupancy by hospital, the share placed in internal medicine, and the
//! gain and reassignment rate by diagnosis group.

use super::published as paper;
use super::{PaperRow, PaperTable};
use crate::data::{Cohorts, Unit};
use crate::policy::placement::Objective;
use crate::sim::PlacementTruth;

/// One test day's observed placement and the placements the rules chose.
pub(super) struct Placed<'a> {
    /// Index of the cohort day.
    pub day: usize,
    /// The estimated-gain objective of the day.
    pub estimated: &'a Objective,
    /// The observed placement.
    pub observed: &'a [bool],
    /// Welfare max's and frequentist minimax's placements.
    pub placements: [Vec<bool>; 2],
}

fn count(p: &[bool]) -> usize {
    p.iter().filter(|&&x| x).count()
}

fn row(label: String, published: Option<f64>, estimated: f64, truth: Option<f64>) -> PaperRow {
    PaperRow {
        label,
        published,
        published_se: None,
        estimated: Some(estimated).filter(|v| v.is_finite()),
        se: None,
        truth,
        flag: None,
    }
}

/// Tables 7 and 8: mean occupancy of each unit by hospital on the test days, observed and under welfare max.
fn occupancy(cohorts: &Cohorts, placed: &[Placed]) -> Vec<PaperTable> {
    let mut tables = Vec::new();
    for (id, unit, name) in [
        ("table_7", Unit::InternalMedicine, "Internal medicine"),
        ("table_8", Unit::Surgical, "Surgical"),
    ] {
        let u = unit as usize;
        let mut rows = Vec::new();
        for (h, hospital) in cohorts.hospitals.iter().enumerate() {
            let days: Vec<&Placed> = placed
                .iter()
                .filter(|p| cohorts.days[p.day].hospital == h)
                .collect();
            if days.is_empty() {
                continue;
            }
            let mean = |f: &dyn Fn(&Placed) -> f64| {
                days.iter().map(|p| f(p)).sum::<f64>() / days.len() as f64
            };
            let observed = mean(&|p| cohorts.days[p.day].busyness(count(p.observed))[u]);
            let policy = mean(&|p| cohorts.days[p.day].busyness(count(&p.placements[0]))[u]);
            let published = paper::OCCUPANCY
                .iter()
                .find(|(name, _)| name == hospital)
                .map(|(_, v)| v[u]);
            rows.push(row(
                format!("{hospital}: observed mean"),
                published.map(|v| v.0),
                observed,
                None,
            ));
            rows.push(row(
                format!("{hospital}: welfare max mean"),
                published.map(|v| v.1),
                policy,
                None,
            ));
        }
        let number = id.trim_start_matches("table_");
        tables.push(PaperTable {
            id: id.into(),
            title: format!("Table {number}: {name} NCU occupancy on the test days, observed and under welfare max"),
            note: "Patients in the unit once the day's cohort is placed, averaged over the test \
                   days of each hospital (no reassignment limit)."
                .into(),
            grid: false,
            rows,
        });
    }
    tables
}

/// Per diagnosis group: patients, observed / welfare max / minimax in
/// internal medicine, moved under welfare max, estimated and true gain.
fn group_sums(cohorts: &Cohorts, world: &dyn PlacementTruth, placed: &[Placed]) -> Vec<[f64; 7]> {
    let groups = cohorts.diagnoses.len();
    let mut sums = vec![[0.0f64; 7]; groups];
    for p in placed {
        let day = &cohorts.days[p.day];
        let n = day.size();
        let (j_obs, j_new) = (count(p.observed), count(&p.placements[0]));
        for (k, i) in (day.start..day.end).enumerate() {
            let g = cohorts.diagnosis[i];
            let (obs, new, minimax) = (p.observed[k], p.placements[0][k], p.placements[1][k]);
            let unit = |b: bool| {
                if b {
                    Unit::InternalMedicine
                } else {
                    Unit::Surgical
                }
            };
            let tau = p.estimated.gain[j_new * n + k];
            let s = &mut sums[g];
            s[0] += 1.0;
            s[1] += f64::from(u8::from(obs));
            s[2] += f64::from(u8::from(new));
            s[3] += f64::from(u8::from(minimax));
            s[4] += f64::from(u8::from(obs != new));
            s[5] += tau * (f64::from(u8::from(new)) - f64::from(u8::from(obs)));
            s[6] += world.survival(i, unit(new), j_new) - world.survival(i, unit(obs), j_obs);
        }
    }
    sums
}

/// Tables 9 and 10: share in internal medicine, gain and reassignment by diagnosis group.
fn by_group(cohorts: &Cohorts, world: &dyn PlacementTruth, placed: &[Placed]) -> Vec<PaperTable> {
    let sums = group_sums(cohorts, world, placed);
    let mut shares = Vec::new();
    let mut gains = Vec::new();
    for (g, code) in cohorts.diagnoses.iter().enumerate() {
        let s = sums[g];
        if s[0] == 0.0 {
            continue;
        }
        let published = paper::SHARE_INTERNAL
            .iter()
            .find(|(c, _)| c == code)
            .map(|(_, v)| *v);
        for (k, rule) in ["observed", "welfare max", "frequentist minimax"]
            .iter()
            .enumerate()
        {
            shares.push(row(
                format!("{code}: {rule}"),
                published.map(|v| v[k]),
                s[k + 1] / s[0],
                None,
            ));
        }
        let published = paper::GAIN_BY_GROUP.iter().find(|(c, _, _)| c == code);
        gains.push(row(format!("{code}: patients"), None, s[0], None));
        gains.push(row(
            format!("{code}: welfare gain per patient"),
            published.map(|p| p.1),
            s[5] / s[0],
            Some(s[6] / s[0]),
        ));
        gains.push(row(
            format!("{code}: share reassigned"),
            published.map(|p| p.2),
            s[4] / s[0],
            None,
        ));
    }
    vec![
        PaperTable {
            id: "table_9".into(),
            title: "Table 9: Share of test patients placed in internal medicine by diagnosis group"
                .into(),
            note: "Observed placement and the unconstrained policies' placements on the test days."
                .into(),
            grid: false,
            rows: shares,
        },
        PaperTable {
            id: "table_10".into(),
            title: "Table 10: Welfare max's gains by diagnosis group (test days)".into(),
            note:
                "Estimated: the forest's effect at the policy's busyness for each moved patient. \
                   Truth: the change in the patient's true survival between the observed and the \
                   policy's placement, each at its own busyness. Reassigned: share of the group's \
                   patients whose unit changes (published: the text of section 2.5)."
                    .into(),
            grid: false,
            rows: gains,
        },
    ]
}

/// Tables 7-10 from the unconstrained placements.
pub(super) fn tables(
    cohorts: &Cohorts,
    world: &dyn PlacementTruth,
    placed: &[Placed],
) -> Vec<PaperTable> {
    let mut out = occupancy(cohorts, placed);
    out.extend(by_group(cohorts, world, placed));
    out
}
