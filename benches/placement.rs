//! The placement policies of the paper on the full-scale hospital world's
//! test days: counterfactual predictions (each patient's effect and its
//! frequentist, Manski and Balke-Pearl lower bounds at the busyness of every
//! count of the day's cohort in internal medicine) and exact solving of the
//! four rules (welfare maximization, minimax regret at each bound) under
//! three reassignment settings (none, 20%, 10%). The forest's fit is set up
//! first and not timed. Prints one JSON line.
//!
//! Run with `cargo bench --bench placement -- [SCALE] [TREES]` (defaults:
//! scale 1, the paper's 74,355 patients; grf's 2,000 trees).

#[path = "common/hospital.rs"]
mod hospital;

use std::time::Instant;

use causim::bounds::BoundKind;
use causim::evaluate::placement::placement_days;
use causim::policy::placement::{Model, PlacementRule, Training};
use causim::policy::Solver;
use rayon::prelude::*;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| a != "--bench")
        .collect();
    let scale: f64 = args.first().map_or(Ok(1.0), |a| a.parse())?;
    let trees: usize = args.get(1).map_or(Ok(2000), |a| a.parse())?;
    let f = hospital::fitted(scale, trees, 0.25)?;
    let cohorts = f.sample.data.cohorts.as_deref().ok_or("cohorts")?;
    let world = f.sample.truth.placement.as_deref().ok_or("survival")?;
    let w_all = f.sample.data.w.to_vec();
    let model = Model {
        forest: &f.forest,
        busyness: f.busyness,
        bounds: &BoundKind::ALL,
        training: Training {
            y: &f.y,
            w: &f.w,
            z: Some(&f.z),
        },
    };

    let started = Instant::now();
    let days = placement_days(
        cohorts,
        world,
        &f.sample.data.x,
        &w_all,
        &f.test_days,
        Some(&model),
    )?;
    let predict_s = started.elapsed().as_secs_f64();

    let rules = [
        PlacementRule::WelfareMax,
        PlacementRule::MinimaxRegret(BoundKind::Frequentist),
        PlacementRule::MinimaxRegret(BoundKind::Manski),
        PlacementRule::MinimaxRegret(BoundKind::BalkePearl),
    ];
    let started = Instant::now();
    let unproven: usize = [None, Some(0.2), Some(0.1)]
        .into_iter()
        .map(|limit| {
            days.par_iter()
                .map(|day| {
                    let bests = day.input.bests(limit)?;
                    let oracle = day.oracle(limit)?;
                    rules.iter().try_fold(0usize, |k, &rule| {
                        let o = day.place(rule, Solver::Exact, limit, &bests, oracle)?;
                        Ok::<_, causim::Error>(k + usize::from(!o.proven))
                    })
                })
                .try_reduce(|| 0, |a, b| Ok(a + b))
        })
        .sum::<Result<usize, _>>()?;
    let solve_s = started.elapsed().as_secs_f64();
    let largest = days
        .iter()
        .map(|d| d.input.observed.len())
        .max()
        .unwrap_or(0);
    let patients: usize = days.iter().map(|d| d.input.observed.len()).sum();
    println!(
        "{{\"patients\": {}, \"trees\": {trees}, \"fit_s\": {:.1}, \"test_days\": {}, \
         \"test_patients\": {patients}, \"largest_cohort\": {largest}, \"problems\": {}, \
         \"threads\": {}, \"predict_s\": {predict_s:.2}, \"solve_s\": {solve_s:.2}, \
         \"total_s\": {:.2}, \"unproven\": {unproven}}}",
        f.sample.data.n(),
        f.fit_s,
        days.len(),
        days.len() * rules.len() * 3,
        rayon::current_num_threads(),
        predict_s + solve_s,
    );
    Ok(())
}
