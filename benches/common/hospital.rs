//! The setup the placement benchmarks share: the hospital world at a scale,
//! a random share of its days held out as test days (as the paper's
//! pipeline), and an instrumental forest fitted on the other days.

use std::time::Instant;

use causim::data::Unit;
use causim::estimate::forest::{FittedForest, ForestParams};
use causim::sim::hospital::HospitalWorld;
use causim::sim::{Sample, Sim};
use ndarray::Axis;
use rand::seq::SliceRandom;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

/// A world's sample, its test days, and a forest fitted on the train days.
pub struct Fitted {
    /// The sample (its cohorts hold the test days).
    pub sample: Sample,
    /// Test days, sorted.
    pub test_days: Vec<usize>,
    /// Training outcome, treatment and instrument.
    pub y: Vec<f64>,
    /// Training treatment.
    pub w: Vec<f64>,
    /// Training instrument.
    pub z: Vec<f64>,
    /// The instrumental forest fitted on the train days.
    pub forest: FittedForest,
    /// Columns of [surgical, internal-medicine] busyness.
    pub busyness: [usize; 2],
    /// Seconds the fit took.
    pub fit_s: f64,
}

/// Draws the world (seed 1), holds out `share` of its days and fits a forest
/// of `trees` trees on the rest.
pub fn fitted(scale: f64, trees: usize, share: f64) -> Result<Fitted, Box<dyn std::error::Error>> {
    let world = HospitalWorld {
        scale,
        ..Default::default()
    };
    let sample = world.build()?.generate(1)?;
    let cohorts = sample
        .data
        .cohorts
        .clone()
        .ok_or("the hospital world has cohorts")?;
    let data = &sample.data;
    let mut days: Vec<usize> = (0..cohorts.days.len()).collect();
    days.shuffle(&mut ChaCha8Rng::seed_from_u64(1));
    let mut test_days = days[..(days.len() as f64 * share).round() as usize].to_vec();
    test_days.sort_unstable();
    let mut is_test = vec![false; cohorts.days.len()];
    for &d in &test_days {
        is_test[d] = true;
    }
    let train: Vec<usize> = (0..data.n())
        .filter(|&i| !is_test[cohorts.day_of[i]])
        .collect();
    let x_train = data.x.select(Axis(0), &train);
    let pick = |v: &ndarray::Array1<f64>| -> Vec<f64> { train.iter().map(|&i| v[i]).collect() };
    let (y, w, z) = (
        pick(&data.y),
        pick(&data.w),
        pick(data.instrument("bench")?),
    );
    let params = ForestParams {
        num_trees: trees,
        ..Default::default()
    };
    let started = Instant::now();
    let forest = FittedForest::fit(x_train.view(), (&y, &w, &z), &params, None, 1)?;
    let fit_s = started.elapsed().as_secs_f64();
    let column = |unit: Unit| {
        let name = format!("busyness_{}", unit.name());
        data.x_names
            .iter()
            .position(|n| *n == name)
            .ok_or(format!("no `{name}` column"))
    };
    let busyness = [column(Unit::Surgical)?, column(Unit::InternalMedicine)?];
    Ok(Fitted {
        test_days,
        y,
        w,
        z,
        forest,
        busyness,
        fit_s,
        sample,
    })
}
