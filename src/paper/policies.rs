//! The paper's placement policies on the test days (Tables 6, 11 and 12):
//! welfare maximization and minimax regret at the frequentist, Manski and
//! Balke-Pearl lower bounds, with the effects and bounds predicted at the
//! busyness each configuration creates, solved exactly, and judged both by
//! the model (estimated welfare and the three regrets) and by the world (true
//! survival of the whole cohort, congestion included).

use ndarray::Array2;
use rayon::prelude::*;

use super::placement_tables::Placed;
use super::{PaperFigure, PaperPanel, PaperRow, PaperTable};
use crate::bounds::BoundKind;
use crate::data::Cohorts;
use crate::estimate::forest::FittedForest;
use crate::evaluate::placement::{name_day, placement_days, Outcome};
use crate::policy::placement::{Model, PlacementRule, Training};
use crate::policy::Solver;
use crate::sim::PlacementTruth;
use crate::Result;

/// The rules of the paper's columns, in its order.
const RULES: [(&str, PlacementRule); 4] = [
    ("Welfare max", PlacementRule::WelfareMax),
    (
        "Frequentist minimax",
        PlacementRule::MinimaxRegret(BoundKind::Frequentist),
    ),
    (
        "Manski minimax",
        PlacementRule::MinimaxRegret(BoundKind::Manski),
    ),
    (
        "Balke-Pearl minimax",
        PlacementRule::MinimaxRegret(BoundKind::BalkePearl),
    ),
];

/// A reassignment setting and the paper's table for it.
struct Setting {
    /// Table id.
    id: &'static str,
    /// Title suffix.
    suffix: &'static str,
    /// Largest share of a cohort that may be moved; None for no limit.
    limit: Option<f64>,
    /// Published `[measure][rule]`: welfare, then the frequentist, Manski and
    /// Pearl regrets (rows), of each rule in `RULES` order (columns).
    published: [[f64; 4]; 4],
}

/// Tables 6, 11 and 12.
const SETTINGS: [Setting; 3] = [
    Setting {
        id: "table_6",
        suffix: "without reassignment limit",
        limit: None,
        published: [
            [0.00373, 0.00363, 0.00373, 0.00359],
            [0.00036, 0.00015, 0.00036, 0.00049],
            [0.00000, 0.00010, 0.00000, 0.00014],
            [0.00049, 0.00051, 0.00049, 0.00034],
        ],
    },
    Setting {
        id: "table_11",
        suffix: "with a 20% reassignment limit",
        limit: Some(0.2),
        published: [
            [0.00136, 0.00127, 0.00119, 0.00123],
            [0.00031, 0.00014, 0.00054, 0.00043],
            [0.00051, 0.00057, 0.00028, 0.00052],
            [0.00036, 0.00038, 0.00042, 0.00025],
        ],
    },
    Setting {
        id: "table_12",
        suffix: "with a 10% reassignment limit",
        limit: Some(0.1),
        published: [
            [0.00096, 0.00088, 0.00082, 0.00096],
            [0.00030, 0.00013, 0.00047, 0.00030],
            [0.00043, 0.00048, 0.00023, 0.00043],
            [0.00000, 0.00008, 0.00014, 0.00000],
        ],
    },
];

/// One rule's totals over the test days.
#[derive(Default, Clone, Copy)]
struct Totals {
    estimated: f64,
    regrets: [f64; 3],
    truth: f64,
    moves: f64,
    greedy_losses: f64,
    greedy_gap: f64,
    unproven: f64,
}

impl Totals {
    fn add(&mut self, exact: &Outcome, greedy: &Outcome) {
        self.estimated += exact.estimated.unwrap_or(f64::NAN);
        for (k, bound) in BoundKind::ALL.iter().enumerate() {
            self.regrets[k] += exact
                .regrets
                .iter()
                .find(|(b, _)| b == bound)
                .map_or(f64::NAN, |(_, r)| *r);
        }
        self.truth += exact.truth;
        self.moves += exact.moves as f64;
        self.unproven += f64::from(u8::from(!exact.proven));
        let loss = exact.criterion - greedy.criterion;
        if loss > 1e-12 {
            self.greedy_losses += 1.0;
            self.greedy_gap += loss;
        }
    }
}

/// One test day under one setting: each rule's exact and greedy outcomes.
type DayOutcomes = Vec<(Outcome, Outcome)>;

/// Every rule's exact and greedy placement of each test day under `limit`,
/// with the day's oracle welfare, solved in parallel and returned in day order.
fn solve_days(
    cohorts: &Cohorts,
    days: &[crate::evaluate::placement::PlacementDay],
    limit: Option<f64>,
) -> Vec<Result<(DayOutcomes, f64)>> {
    days.par_iter()
        .map(|day| {
            let named = |e| name_day(cohorts, day.input.day, e);
            let bests = day.input.bests(limit).map_err(named)?;
            let oracle = day.oracle(limit).map_err(named)?;
            let outcomes = RULES
                .iter()
                .map(|(_, rule)| {
                    let exact = day.place(*rule, Solver::Exact, limit, &bests, oracle)?;
                    let greedy = day.place(*rule, Solver::Greedy, limit, &bests, oracle)?;
                    Ok((exact, greedy))
                })
                .collect::<Result<DayOutcomes>>()
                .map_err(named)?;
            Ok((outcomes, oracle))
        })
        .collect()
}

/// One setting's results summed over the test days.
struct SettingSums {
    /// Each rule's totals, in `RULES` order.
    sums: [Totals; 4],
    /// The oracle's total welfare gain.
    oracle: f64,
    /// Welfare max's and frequentist minimax's exact placement of each day.
    chosen: Vec<[Vec<bool>; 2]>,
}

/// Sums the days' outcomes in day order (the first failed day is the error).
fn sum_days(results: Vec<Result<(DayOutcomes, f64)>>) -> Result<SettingSums> {
    let mut sums = [Totals::default(); 4];
    let mut oracle = 0.0;
    let mut chosen = Vec::with_capacity(results.len());
    for r in results {
        let (outcomes, o) = r?;
        oracle += o;
        for (k, (exact, greedy)) in outcomes.iter().enumerate() {
            sums[k].add(exact, greedy);
        }
        let mut placements = outcomes.into_iter().map(|(exact, _)| exact.placement);
        chosen.push([
            placements.next().unwrap_or_default(),
            placements.next().unwrap_or_default(),
        ]);
    }
    Ok(SettingSums {
        sums,
        oracle,
        chosen,
    })
}

/// A table row without a standard error.
fn row(
    label: String,
    published: Option<f64>,
    estimated: Option<f64>,
    truth: Option<f64>,
) -> PaperRow {
    PaperRow {
        label,
        published,
        published_se: None,
        estimated,
        se: None,
        truth,
        flag: None,
    }
}

/// Flags a change in survival per patient (times `per`, e.g. 1,000) that no
/// placement can make: outside [-per, per].
fn flag_change(mut r: PaperRow, per: f64) -> PaperRow {
    if r.estimated.is_some_and(|v| v.abs() > per) {
        r.flag = Some(if per == 1.0 {
            "outside [-1, 1]: impossible for a change in survival per patient".into()
        } else {
            format!(
                "outside ±{}: impossible per {} patients",
                crate::core::text::number(per),
                crate::core::text::number(per)
            )
        });
    }
    r
}

/// One rule's rows of a setting's table: welfare, the three regrets, deaths
/// prevented, reassignments, the greedy rule's losses and, for minimax
/// regret, the days not proven optimal.
fn rule_rows(
    rows: &mut Vec<PaperRow>,
    k: usize,
    (name, rule): &(&str, PlacementRule),
    s: Totals,
    published: &[[f64; 4]; 4],
    patients: f64,
    days: usize,
) {
    let per = |v: f64| v / patients;
    rows.push(flag_change(
        row(
            format!("{name}: welfare gain per patient"),
            Some(published[0][k]),
            Some(per(s.estimated)),
            Some(per(s.truth)),
        ),
        1.0,
    ));
    for (b, bound) in BoundKind::ALL.iter().enumerate() {
        rows.push(flag_change(
            row(
                format!("{name}: {} regret per patient", bound.label()),
                Some(published[b + 1][k]),
                Some(per(s.regrets[b])),
                None,
            ),
            1.0,
        ));
    }
    rows.push(flag_change(
        row(
            format!("{name}: deaths prevented per 1,000 patients"),
            None,
            Some(1000.0 * per(s.estimated)),
            Some(1000.0 * per(s.truth)),
        ),
        1000.0,
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
        Some(s.greedy_losses / days as f64),
        None,
    ));
    rows.push(row(
        format!("{name}: greedy loss per patient (criterion)"),
        None,
        Some(per(s.greedy_gap)),
        None,
    ));
    if matches!(rule, PlacementRule::MinimaxRegret(_)) {
        rows.push(row(
            format!("{name}: share of days not proven optimal"),
            None,
            Some(s.unproven / days as f64),
            None,
        ));
    }
}

/// A setting's table (every rule's rows, then the oracle's) and its figure
/// panel of estimated against true deaths prevented per rule.
fn setting_table(
    setting: &Setting,
    summed: &SettingSums,
    patients: f64,
    days: usize,
) -> (PaperTable, PaperPanel) {
    let per = |v: f64| v / patients;
    let mut rows = Vec::new();
    for (k, rule) in RULES.iter().enumerate() {
        rule_rows(
            &mut rows,
            k,
            rule,
            summed.sums[k],
            &setting.published,
            patients,
            days,
        );
    }
    rows.push(row(
        "Oracle (true model): welfare gain per patient".into(),
        None,
        None,
        Some(per(summed.oracle)),
    ));
    let panel = PaperPanel {
        title: Some(match setting.limit {
            None => "no reassignment limit".to_string(),
            Some(l) => format!("{:.0}% reassignment limit", 100.0 * l),
        }),
        lines: summed
            .sums
            .iter()
            .map(|s| vec![[1000.0 * per(s.estimated), 1000.0 * per(s.truth)]])
            .collect(),
    };
    let number = setting.id.trim_start_matches("table_");
    let table = PaperTable {
        id: setting.id.into(),
        title: format!(
            "Table {number}: Placement policies on the test days {}",
            setting.suffix
        ),
        note: "Per test patient, against the observed placement. Estimated: by the forest's \
               effects and local bounds at the busyness each configuration creates (exact \
               solver, capacities = free beds); a regret is the best welfare at that bound's \
               lower ends less the policy's. Truth: the same placements' change in the \
               world's true survival of the whole cohort, congestion included; the oracle \
               solves for the true model. Greedy: the paper's rule, judged by the exact optima."
            .into(),
        grid: true,
        rows,
    };
    (table, panel)
}

/// Tables 7-10 of where the unlimited rules put the patients of each test
/// day with estimated effects.
fn placement_tables(
    (cohorts, world): (&Cohorts, &dyn PlacementTruth),
    days: &[crate::evaluate::placement::PlacementDay],
    chosen: Vec<[Vec<bool>; 2]>,
) -> Vec<PaperTable> {
    let placed: Vec<Placed> = days
        .iter()
        .zip(chosen)
        .filter_map(|(day, placements)| {
            Some(Placed {
                day: day.input.day,
                estimated: day.input.estimated.as_ref()?,
                observed: &day.input.observed,
                placements,
            })
        })
        .collect();
    super::placement_tables::tables(cohorts, world, &placed)
}

/// Tables 6-12 on the test days, and the figure of estimated against true
/// welfare gain per policy.
pub(super) fn tables(
    (cohorts, world): (&Cohorts, &dyn PlacementTruth),
    x: &Array2<f64>,
    w: &[f64],
    test_days: &[usize],
    forest: &FittedForest,
    busyness: [usize; 2],
    training: Training<'_>,
) -> Result<(Vec<PaperTable>, PaperFigure)> {
    let model = Model {
        forest,
        busyness,
        bounds: &BoundKind::ALL,
        training,
    };
    let days = placement_days(cohorts, world, x, w, test_days, Some(&model))?;
    let patients: f64 = days.iter().map(|d| d.input.observed.len() as f64).sum();
    let mut tables = Vec::new();
    let mut panels = Vec::new();
    let mut unlimited = None;
    for setting in &SETTINGS {
        let summed = sum_days(solve_days(cohorts, &days, setting.limit))?;
        let (table, panel) = setting_table(setting, &summed, patients, days.len());
        panels.push(panel);
        if setting.limit.is_none() {
            unlimited = Some(summed.chosen);
        }
        tables.push(table);
    }
    if let Some(chosen) = unlimited {
        tables.extend(placement_tables((cohorts, world), &days, chosen));
    }
    let figure = PaperFigure {
        id: "figure_policies".into(),
        title: "Estimated against true welfare gain per policy (test days)".into(),
        x_label: "estimated deaths prevented per 1,000".into(),
        y_label: "true deaths prevented per 1,000".into(),
        categories: None,
        series: RULES.iter().map(|(name, _)| name.to_string()).collect(),
        panels,
        bars: false,
        y_from_zero: false,
        x_range: None,
        diagonal: true,
    };
    Ok((tables, figure))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn impossible_changes_in_survival_are_flagged() {
        let welfare = |v: f64| row("Welfare max: welfare gain".into(), None, Some(v), None);
        assert!(flag_change(welfare(0.2), 1.0).flag.is_none());
        let flag = flag_change(welfare(-1.5), 1.0).flag.unwrap_or_default();
        assert!(flag.starts_with("outside [-1, 1]"), "{flag}");
        let per_1000 = flag_change(welfare(1500.0), 1000.0)
            .flag
            .unwrap_or_default();
        assert!(per_1000.contains("1000"), "{per_1000}");
        assert!(flag_change(welfare(199.3), 1000.0).flag.is_none());
    }
}
