//! Runner overhead: 10,000 tasks of the IV world at n = 1,000 with 2SLS, run
//! through `causim::run::run` versus the same generate + fit calls in a bare
//! loop. Run with `cargo bench --bench runner`; prints tasks/second for both
//! and the runner's overhead in percent.

use std::time::Instant;

use causim::core::seed::task_seed;
use causim::run::{run, run_task, tasks, RunOptions};
use causim::spec::Experiment;

const SIM: &str = r#"
kind = "iv"
n = 1000
covariates = 10
tau = "max(x1, 0) + 0.5 * x2"
baseline = "x3 + x4^2"
[instrument]
strength = 0.5
propensity = "0.35 + 0.3 * (x5 > 0)"
"#;

const EXPERIMENT: &str = r#"
sim = "sim.toml"
replications = 10000
seed = 1
[[estimators]]
kind = "two_stage_least_squares"
"#;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let dir = std::env::temp_dir().join(format!("causim-bench-runner-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    std::fs::write(dir.join("sim.toml"), SIM)?;
    std::fs::write(dir.join("experiment.toml"), EXPERIMENT)?;
    let experiment = Experiment::load(&dir.join("experiment.toml"))?;
    let sims = vec![experiment.cells[0].sim.build()?];
    let estimator = experiment.estimators[0].spec.estimator();
    let all = tasks(&experiment);

    for jobs in [1, 2] {
        let pool = rayon::ThreadPoolBuilder::new().num_threads(jobs).build()?;
        let options = RunOptions {
            out: dir.join(format!("out-{jobs}")),
            jobs: Some(jobs),
            shard: None,
            fresh: true,
            max_tasks: None,
            progress: false,
        };
        // Best of three, alternating, so that a busy moment hurts neither side.
        let (mut bare, mut runner) = (f64::INFINITY, f64::INFINITY);
        for _ in 0..3 {
            // Bare: the sim and the estimator alone, same tasks, same threads.
            let started = Instant::now();
            pool.install(|| {
                use rayon::prelude::*;
                all.par_iter().try_for_each(|t| {
                    let sample = sims[0].generate(task_seed(experiment.seed, t.replication))?;
                    estimator.fit(&sample.data, 0).map(|_| ())
                })
            })?;
            bare = bare.min(started.elapsed().as_secs_f64());

            // Runner: seeding, records, JSON lines, the store.
            let started = Instant::now();
            run(&experiment, &options)?;
            runner = runner.min(started.elapsed().as_secs_f64());
        }
        let n = all.len() as f64;
        println!(
            "jobs {jobs}: bare {:.0} tasks/s, runner {:.0} tasks/s, overhead {:+.1}%",
            n / bare,
            n / runner,
            100.0 * (runner - bare) / bare
        );
    }
    // One task through the public per-task entry point, as a smoke check.
    let stages = causim::stage::build(&experiment)?;
    let plan = causim::run::Plan::new(&experiment, &stages)?;
    let every = plan.every_part();
    run_task(&stages, &sims, &plan, all[0], &every, experiment.seed)?;
    std::fs::remove_dir_all(&dir)?;
    Ok(())
}
