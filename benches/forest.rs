//! Instrumental forest accuracy and speed on a sim file (default: the grf
//! paper's IV design, `benches/peers/grf_iv.toml`): fit on the sample drawn
//! with seed 1, predict 5,000 units drawn with seed 2 (the same samples that
//! `causim simulate SIM --seed 1` and `--seed 2 --set n=5000` write, which the
//! EconML script in `benches/peers/` reads), and print one JSON line: wall
//! time, test-set IATE RMSE against the true conditional LATE, per-unit 95% CI
//! coverage and width, and the average effect.
//!
//! Run with `cargo bench --bench forest -- [SIM] [TREES] [N]`
//! (defaults: benches/peers/grf_iv.toml, 2000 trees, the sim's n).

use std::path::Path;
use std::time::Instant;

use causim::core::Estimand;
use causim::estimate::forest::{ForestParams, InstrumentalForest};
use causim::estimate::Estimator;
use causim::spec::load_sim;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| a != "--bench")
        .collect();
    let sim_path = args
        .first()
        .map_or("benches/peers/grf_iv.toml", String::as_str);
    let trees: usize = args.get(1).map_or(Ok(2000), |a| a.parse())?;
    let (_, mut spec) = load_sim(Path::new(sim_path))?;
    if let Some(n) = args.get(2) {
        spec = spec.with("n", toml::Value::Integer(n.parse()?))?;
    }
    let train = spec.build()?.generate(1)?;
    let test_sim = spec.with("n", toml::Value::Integer(5000))?.build()?;
    let mut test = test_sim.generate(2)?;
    test_sim.add_conditional_truth(&mut test)?;
    let truth = test
        .truth
        .conditional(Estimand::Late)
        .ok_or("the sim has no compliers")?
        .to_vec();

    let forest = InstrumentalForest(ForestParams {
        num_trees: trees,
        ..ForestParams::default()
    });
    let started = Instant::now();
    let (estimate, units) = forest.fit_predict(&train.data, 7, test.data.x.view())?;
    let seconds = started.elapsed().as_secs_f64();
    let units = units.ok_or("the forest gave no predictions")?;
    let m = truth.len() as f64;
    let rmse = (units
        .tau
        .iter()
        .zip(&truth)
        .map(|(a, b)| (a - b).powi(2))
        .sum::<f64>()
        / m)
        .sqrt();
    let covered = (0..truth.len())
        .filter(|&i| (units.tau[i] - truth[i]).abs() <= 1.96 * units.se[i])
        .count() as f64
        / m;
    let width = units.se.iter().map(|s| 2.0 * 1.96 * s).sum::<f64>() / m;
    println!(
        "{{\"tool\": \"causim\", \"sim\": \"{sim_path}\", \"n_train\": {}, \"n_test\": 5000, \"trees\": {trees}, \
         \"threads\": {}, \"fit_predict_seconds\": {seconds:.2}, \"iate_rmse\": {rmse:.4}, \"coverage\": {covered:.3}, \
         \"mean_ci_width\": {width:.3}, \"late\": {:.4}, \"late_se\": {:.4}, \"true_late\": {:.4}}}",
        train.data.n(),
        rayon::current_num_threads(),
        estimate.estimate,
        estimate.se,
        train.truth.values.get("late").copied().unwrap_or(f64::NAN),
    );
    Ok(())
}
