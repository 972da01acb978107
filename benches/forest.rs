//! Instrumental forest accuracy and speed on a sim file (default: the grf
//! paper's IV design, `benches/peers/grf_iv.toml`): fit on the sample drawn
//! with seed 1, predict 5,000 units drawn with seed 2 (the same samples that
//! `causim simulate SIM --seed 1` and `--seed 2 --set n=5000` write, which the
//! peer scripts in `benches/peers/` read), and print one JSON line: wall
//! time of the estimator (fit, average effect, predictions) and, separately,
//! of what grf's `instrumental_forest` + `predict` do (nuisance and main
//! forests, predictions with variances), test-set IATE RMSE against the true
//! conditional LATE, per-unit 95% CI coverage and width, and the average effect.
//!
//! Run with `cargo bench --bench forest -- [SIM] [TREES] [N] [KEY=VALUE ...]`
//! (defaults: benches/peers/grf_iv.toml, 2000 trees, the sim's n); each
//! `KEY=VALUE` sets a forest parameter, e.g. `criterion=moment` or
//! `tune=true`, or `seed=S`, the fit's seed (default 7); an `N` of 0 keeps
//! the sim's n.

use std::path::Path;
use std::time::Instant;

use causim::core::Estimand;
use causim::estimate::forest::{FittedForest, ForestParams, InstrumentalForest};
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
    if let Some(n) = args.get(2).map(|n| n.parse::<i64>()).transpose()? {
        if n > 0 {
            spec = spec.with("n", toml::Value::Integer(n))?;
        }
    }
    let mut settings = toml::Table::new();
    settings.insert("num_trees".into(), toml::Value::Integer(trees as i64));
    for pair in args.iter().skip(3) {
        let (key, value) = pair
            .split_once('=')
            .ok_or_else(|| format!("`{pair}` is not KEY=VALUE"))?;
        let value = value
            .parse::<toml::Value>()
            .unwrap_or_else(|_| toml::Value::String(value.to_string()));
        settings.insert(key.to_string(), value);
    }
    let seed = match settings.remove("seed") {
        Some(s) => s.as_integer().ok_or("seed must be an integer")? as u64,
        None => 7,
    };
    let params: ForestParams = settings.clone().try_into()?;
    let train = spec.build()?.generate(1)?;
    let test_sim = spec.with("n", toml::Value::Integer(5000))?.build()?;
    let mut test = test_sim.generate(2)?;
    test_sim.add_conditional_truth(&mut test)?;
    let truth = test
        .truth
        .conditional(Estimand::Late)
        .ok_or("the sim has no compliers")?
        .to_vec();

    let forest = InstrumentalForest(params.clone());
    let started = Instant::now();
    let (estimate, units) = forest.fit_predict(&train.data, seed, test.data.x.view())?;
    let seconds = started.elapsed().as_secs_f64();
    let units = units.ok_or("the forest gave no predictions")?;
    // What grf's instrumental_forest + predict do, without the average
    // effect (its compliance and ITT forests): the nuisance forests, the
    // main forest and the test predictions with their variances.
    let z = train.data.z.as_ref().ok_or("the sim has no instrument")?;
    let (y, w, z) = (train.data.y.to_vec(), train.data.w.to_vec(), z.to_vec());
    let started = Instant::now();
    let fitted = FittedForest::fit(train.data.x.view(), (&y, &w, &z), &params, None, seed)?;
    let predicted = fitted.predict(test.data.x.view())?;
    let forest_seconds = started.elapsed().as_secs_f64();
    assert_eq!(predicted.len(), truth.len());
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
         \"threads\": {}, \"fit_predict_seconds\": {seconds:.2}, \"forest_fit_predict_seconds\": {forest_seconds:.2}, \"iate_rmse\": {rmse:.4}, \"coverage\": {covered:.3}, \
         \"mean_ci_width\": {width:.3}, \"late\": {:.4}, \"late_se\": {:.4}, \"true_late\": {:.4}, \"seed\": {seed}, \"settings\": {}, \"tuned\": {}}}",
        train.data.n(),
        rayon::current_num_threads(),
        estimate.estimate,
        estimate.se,
        train.truth.values.get("late").copied().unwrap_or(f64::NAN),
        serde_json::to_string(&settings)?,
        serde_json::to_string(
            &estimate
                .diagnostics
                .iter()
                .filter(|(k, _)| k.starts_with("tun"))
                .collect::<std::collections::BTreeMap<_, _>>()
        )?,
    );
    Ok(())
}
