//! The paper's placement policies on the test days (Tables 6, 11 and 12):
//! welfare maximization and frequentist minimax regret, with the effects
//! predicted at the busyness each configuration creates, solved exactly, and
//! judged both by the model (estimated welfare and regret) and by the world
//! (true survival of the whole cohort, congestion included).

use ndarray::Array2;
use rayon::prelude::*;

use super::placement_tables::Placed;
use super::{PaperRow, PaperTable};
use crate::estimate::forest::FittedForest;
use crate::estimate::Z_95;
use crate::policy::{exact, greedy, Objective, Problem, Rule};
use crate::sim::hospital::{Cohorts, Unit};
use crate::{Error, Result};

/// The rules the pipeline runs, with the paper's column of Tables 6, 11, 12.
const RULES: [(&str, Rule, usize); 2] = [
    ("Welfare max", Rule::WelfareMax, 0),
    ("Frequentist minimax", Rule::MinimaxRegret, 1),
];

/// A reassignment setting and the paper's table for it.
struct Setting {
    /// Table id.
    id: &'static str,
    /// Title suffix.
    suffix: &'static str,
    /// Largest share of a cohort that may be moved; None for no limit.
    limit: Option<f64>,
    /// Published (welfare, frequentist regret) of each rule in `RULES` order.
    published: [[f64; 2]; 2],
}

/// Tables 6, 11 and 12.
const SETTINGS: [Setting; 3] = [
    Setting {
        id: "table_6",
        suffix: "without reassignment limit",
        limit: None,
        published: [[0.00373, 0.00036], [0.00363, 0.00015]],
    },
    Setting {
        id: "table_11",
        suffix: "with a 20% reassignment limit",
        limit: Some(0.2),
        published: [[0.00136, 0.00031], [0.00127, 0.00014]],
    },
    Setting {
        id: "table_12",
        suffix: "with a 10% reassignment limit",
        limit: Some(0.1),
        published: [[0.00096, 0.00030], [0.00088, 0.00013]],
    },
];

/// Per-day objectives: estimated gain and frequentist lower-bound gain
/// against the observed placement (as the paper: the effects at the
/// configuration's busyness), and the true change in expected survivors (the oracle's).
struct Day {
    index: usize,
    estimated: Objective,
    lower: Objective,
    truth: Objective,
    observed: Vec<bool>,
    free: [usize; 2],
}

/// An objective valuing a placement against the observed one: `gain[j][i]`
/// for patient i in internal medicine at count j, less the observed placement's.
fn against_observed(n: usize, observed: &[bool], gain: Vec<f64>) -> Objective {
    let base = (0..=n)
        .map(|j| {
            -observed
                .iter()
                .enumerate()
                .filter(|(_, &o)| o)
                .map(|(i, _)| gain[j * n + i])
                .sum::<f64>()
        })
        .collect();
    Objective { base, gain }
}

/// Builds every test day's objectives from forest predictions at the busyness of each count.
fn days(
    cohorts: &Cohorts,
    x: &Array2<f64>,
    w: &[f64],
    test_days: &[usize],
    forest: &FittedForest,
    busyness: [usize; 2],
) -> Result<Vec<Day>> {
    let rows: usize = test_days
        .iter()
        .map(|&d| cohorts.days[d].size() * (cohorts.days[d].size() + 1))
        .sum();
    let p = x.ncols();
    let mut counterfactual = Array2::<f64>::zeros((rows, p));
    let mut r = 0;
    for &d in test_days {
        let day = &cohorts.days[d];
        for j in 0..=day.size() {
            let busy = day.busyness(j);
            for i in day.start..day.end {
                let mut row = counterfactual.row_mut(r);
                row.assign(&x.row(i));
                row[busyness[0]] = busy[0];
                row[busyness[1]] = busy[1];
                r += 1;
            }
        }
    }
    let predictions = forest.predict(counterfactual.view())?;
    let mut out = Vec::with_capacity(test_days.len());
    let mut r = 0;
    for &d in test_days {
        let day = &cohorts.days[d];
        let n = day.size();
        let m = n * (n + 1);
        let slice = &predictions[r..r + m];
        r += m;
        let observed: Vec<bool> = (day.start..day.end).map(|i| w[i] > 0.5).collect();
        let tau: Vec<f64> = slice.iter().map(|p| p.tau).collect();
        let lower: Vec<f64> = slice
            .iter()
            .map(|p| p.tau - Z_95 * p.variance.max(0.0).sqrt())
            .collect();
        let mut true_gain = Vec::with_capacity(m);
        for j in 0..=n {
            for i in day.start..day.end {
                true_gain.push(
                    cohorts.survival(i, Unit::InternalMedicine, j)
                        - cohorts.survival(i, Unit::Surgical, j),
                );
            }
        }
        // The true objective is the change in the cohort's expected
        // survivors: every patient in surgery at count j, plus the gains of
        // those sent to internal medicine, less the observed placement's
        // survivors at its own count.
        let observed_welfare = cohorts.welfare(d, &observed);
        let truth = Objective {
            base: (0..=n)
                .map(|j| {
                    (day.start..day.end)
                        .map(|i| cohorts.survival(i, Unit::Surgical, j))
                        .sum::<f64>()
                        - observed_welfare
                })
                .collect(),
            gain: true_gain,
        };
        let free = day.free_beds();
        out.push(Day {
            index: d,
            estimated: against_observed(n, &observed, tau),
            lower: against_observed(n, &observed, lower),
            truth,
            observed,
            free: [free[0].max(0.0) as usize, free[1].max(0.0) as usize],
        });
    }
    Ok(out)
}

/// One test day under one setting: each rule's totals, the oracle's true
/// gain, and each rule's placement.
type DayOutcome = ([Totals; 2], f64, [Vec<bool>; 2]);

/// One rule's totals over the test days.
#[derive(Default, Clone, Copy)]
struct Totals {
    estimated: f64,
    regret: f64,
    truth: f64,
    moves: f64,
    greedy_losses: f64,
    greedy_gap: f64,
    unproven: f64,
}

/// Tables 6, 11 and 12 on the test days.
pub(super) fn tables(
    cohorts: &Cohorts,
    x: &Array2<f64>,
    w: &[f64],
    test_days: &[usize],
    forest: &FittedForest,
    busyness: [usize; 2],
) -> Result<Vec<PaperTable>> {
    let days = days(cohorts, x, w, test_days, forest, busyness)?;
    let patients: f64 = days.iter().map(|d| d.observed.len() as f64).sum();
    let mut tables = Vec::new();
    let mut unlimited = None;
    for Setting {
        id,
        suffix,
        limit,
        published,
    } in SETTINGS
    {
        let results: Vec<Result<DayOutcome>> = days
            .par_iter()
            .map(|day| {
                let n = day.observed.len();
                let problem = |objectives: Vec<Objective>| Problem {
                    n,
                    objectives,
                    observed: day.observed.clone(),
                    max_internal: day.free[1],
                    max_surgical: day.free[0],
                    max_moves: limit.map(|l| (l * n as f64).floor() as usize),
                };
                let named = |e: Error| {
                    Error::Data(format!(
                        "test day {} ({}): {e}",
                        cohorts.days[day.index].date,
                        cohorts.hospitals[cohorts.days[day.index].hospital]
                    ))
                };
                let both = problem(vec![day.estimated.clone(), day.lower.clone()]);
                let truth = problem(vec![day.truth.clone()]);
                let oracle = exact(&truth, Rule::WelfareMax).map_err(named)?.values[0];
                // Minimax regret finds both objectives' best values on the way;
                // the regrets of both rules are judged against them.
                let minimax = exact(&both, Rule::MinimaxRegret).map_err(named)?;
                let best = [minimax.best[0], minimax.best[1]];
                let solutions = [exact(&both, Rule::WelfareMax).map_err(named)?, minimax];
                let mut totals = [Totals::default(); 2];
                let mut placements = [Vec::new(), Vec::new()];
                for (k, ((_, rule, _), solved)) in RULES.iter().zip(solutions).enumerate() {
                    let fast = greedy(&both, *rule).map_err(named)?;
                    let judged = both.criterion(*rule, &best, &fast.placement);
                    let t = &mut totals[k];
                    t.estimated = solved.values[0];
                    t.regret = best[1] - solved.values[1];
                    t.truth = truth.value(0, &solved.placement);
                    t.moves = both.moves(&solved.placement) as f64;
                    t.unproven = f64::from(u8::from(!solved.proven));
                    let loss = solved.criterion - judged;
                    if loss > 1e-12 {
                        t.greedy_losses = 1.0;
                        t.greedy_gap = loss;
                    }
                    placements[k] = solved.placement;
                }
                Ok((totals, oracle, placements))
            })
            .collect();
        let mut sums = [Totals::default(); 2];
        let mut oracle = 0.0;
        let mut chosen = Vec::with_capacity(days.len());
        for r in results {
            let (t, o, placements) = r?;
            chosen.push(placements);
            oracle += o;
            for k in 0..2 {
                sums[k].estimated += t[k].estimated;
                sums[k].regret += t[k].regret;
                sums[k].truth += t[k].truth;
                sums[k].moves += t[k].moves;
                sums[k].greedy_losses += t[k].greedy_losses;
                sums[k].greedy_gap += t[k].greedy_gap;
                sums[k].unproven += t[k].unproven;
            }
        }
        let per = |v: f64| v / patients;
        let mut rows = Vec::new();
        for (k, (name, rule, column)) in RULES.iter().enumerate() {
            let s = sums[k];
            let row = |label: String,
                       published: Option<f64>,
                       estimated: Option<f64>,
                       truth: Option<f64>| PaperRow {
                label,
                published,
                estimated,
                se: None,
                truth,
            };
            rows.push(row(
                format!("{name}: welfare gain per patient"),
                Some(published[*column][0]),
                Some(per(s.estimated)),
                Some(per(s.truth)),
            ));
            rows.push(row(
                format!("{name}: frequentist regret per patient"),
                Some(published[*column][1]),
                Some(per(s.regret)),
                None,
            ));
            rows.push(row(
                format!("{name}: deaths prevented per 1,000 patients"),
                None,
                Some(1000.0 * per(s.estimated)),
                Some(1000.0 * per(s.truth)),
            ));
            rows.push(row(
                format!("{name}: share of patients reassigned"),
                None,
                Some(per(s.moves)),
                None,
            ));
            rows.push(row(
                format!("{name}: share of days the greedy rule loses"),
                None,
                Some(s.greedy_losses / days.len() as f64),
                None,
            ));
            if *rule == Rule::MinimaxRegret {
                rows.push(row(
                    format!("{name}: share of days not proven optimal"),
                    None,
                    Some(s.unproven / days.len() as f64),
                    None,
                ));
            }
            rows.push(row(
                format!("{name}: greedy loss per patient (criterion)"),
                None,
                Some(per(s.greedy_gap)),
                None,
            ));
        }
        rows.push(PaperRow {
            label: "Oracle (true model): welfare gain per patient".into(),
            published: None,
            estimated: None,
            se: None,
            truth: Some(per(oracle)),
        });
        if limit.is_none() {
            unlimited = Some(chosen);
        }
        let number = id.trim_start_matches("table_");
        tables.push(PaperTable {
            id: id.into(),
            title: format!("Table {number}: Placement policies on the test days {suffix}"),
            note: "Per test patient, against the observed placement. Estimated: by the forest's \
                   effects at the busyness each configuration creates (exact solver, capacities = \
                   free beds). Truth: the same placements' change in the world's true survival of \
                   the whole cohort, congestion included; the oracle solves for the true model. \
                   Greedy: the paper's rule, judged by the exact optima."
                .into(),
            rows,
        });
    }
    if let Some(chosen) = unlimited {
        let placed: Vec<Placed> = days
            .iter()
            .zip(chosen)
            .map(|(day, placements)| Placed {
                day: day.index,
                estimated: &day.estimated,
                observed: &day.observed,
                placements,
            })
            .collect();
        tables.extend(super::placement_tables::tables(cohorts, &placed));
    }
    Ok(tables)
}
