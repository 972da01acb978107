//! The placement paper's pipeline at a given scale of the hospital world:
//! times drawing the sample (with its conditional truth) and the pipeline
//! (split, linear and forest first stages, the instrumental forest, scores,
//! predictions and bounds for every test patient), and prints one JSON line.
//!
//! Run with `cargo bench --bench paper -- [SCALE] [TREES]`
//! (defaults: scale 1, the paper's 74,355 patients, and 2,000 trees).

use std::time::Instant;

use causim::estimate::forest::ForestParams;
use causim::paper::{run, PaperSpec};
use causim::sim::hospital::HospitalWorld;
use causim::sim::Sim;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| a != "--bench")
        .collect();
    let scale: f64 = args.first().map_or(Ok(1.0), |a| a.parse())?;
    let trees: usize = args.get(1).map_or(Ok(2000), |a| a.parse())?;
    let world = HospitalWorld {
        scale,
        ..Default::default()
    };
    let start = Instant::now();
    let sim = world.build()?;
    let mut sample = sim.generate(1)?;
    sim.add_conditional_truth(&mut sample)?;
    let generated = start.elapsed().as_secs_f64();
    let spec = PaperSpec {
        forest: ForestParams {
            num_trees: trees,
            ..Default::default()
        },
        ..Default::default()
    };
    let start = Instant::now();
    let result = run(&sample, &spec, 1)?;
    let pipeline = start.elapsed().as_secs_f64();
    let ate = result
        .tables
        .iter()
        .find(|t| t.id == "table_3")
        .and_then(|t| t.rows.first())
        .and_then(|r| r.estimated);
    println!(
        "{{\"scale\": {scale}, \"patients\": {}, \"trees\": {trees}, \"generate_s\": {generated:.2}, \
         \"pipeline_s\": {pipeline:.2}, \"forest_ate\": {}}}",
        sample.data.n(),
        ate.map_or("null".to_string(), |a| format!("{a:.4}"))
    );
    Ok(())
}
