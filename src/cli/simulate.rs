//! `causim simulate`: one sample of a sim as CSV, truth columns included, so
//! people can analyse causim's worlds in R or Python.

use std::path::PathBuf;

use anyhow::Context;
use toml::Value;

use crate::core::text::plural;
use crate::data::Cohorts;
use crate::data::{write_csv, write_csv_to, Column};
use crate::spec::load_sim;

/// The truth columns `simulate` writes after the data, in this order (the
/// last two only in worlds that have compliers): each unit's effect `tau`,
/// its effect given the covariates `cate`, the same among compliers `clate`,
/// and its `complier_type`. `causim fit` leaves them out of its default
/// covariates, since a model given them would be handed the answer.
pub const TRUTH_COLUMNS: [&str; 4] = ["tau", "cate", "clate", "complier_type"];

/// Arguments of `causim simulate`.
#[derive(Debug, clap::Args)]
pub struct SimulateArgs {
    /// The sim file.
    pub sim: PathBuf,
    /// Seed of the sample.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Override a parameter, e.g. --set n=500 --set instrument.strength=0.2 (repeatable).
    #[arg(long = "set", value_name = "KEY=VALUE")]
    pub set: Vec<String>,
    /// Output CSV file [default: standard output].
    #[arg(long)]
    pub out: Option<PathBuf>,
}

/// Parses `key=value`; the value is read as TOML (number, bool, array) and
/// falls back to a plain string, so `--set tau=max(x1,0)` needs no quotes.
pub fn parse_assignment(text: &str) -> anyhow::Result<(String, Value)> {
    let (key, value) = text
        .split_once('=')
        .with_context(|| format!("`{text}` must look like KEY=VALUE, e.g. n=500"))?;
    let value = value.trim();
    let parsed = format!("v = {value}")
        .parse::<toml::Table>()
        .ok()
        .and_then(|mut t| t.remove("v"))
        .unwrap_or_else(|| Value::String(value.to_string()));
    Ok((key.trim().to_string(), parsed))
}

/// Each patient's hospital, admission date and diagnosis group, as text columns.
fn cohort_labels(cohorts: &Cohorts) -> (Vec<&str>, Vec<String>, Vec<&str>) {
    let day = |i: usize| &cohorts.days[cohorts.day_of[i]];
    let n = cohorts.day_of.len();
    (
        (0..n)
            .map(|i| cohorts.hospitals[day(i).hospital].as_str())
            .collect(),
        (0..n).map(|i| day(i).date.to_string()).collect(),
        cohorts
            .diagnosis
            .iter()
            .map(|&d| cohorts.diagnoses[d].as_str())
            .collect(),
    )
}

/// Runs `causim simulate`.
pub fn simulate(args: SimulateArgs) -> anyhow::Result<()> {
    let (_, mut spec) = load_sim(&args.sim)?;
    for assignment in &args.set {
        let (key, value) = parse_assignment(assignment)?;
        spec = spec
            .with(&key, value)
            .map_err(|m| anyhow::anyhow!("--set {assignment}: {m}"))?;
    }
    let sim = spec.build()?;
    let mut sample = sim.generate(args.seed)?;
    sim.add_conditional_truth(&mut sample)?;
    let data = &sample.data;
    let x_columns: Vec<Vec<f64>> = data.x.columns().into_iter().map(|c| c.to_vec()).collect();
    let (y, w) = (data.y.to_vec(), data.w.to_vec());
    let z = data.z.as_ref().map(|z| z.to_vec());
    let types: Option<Vec<&str>> = sample
        .truth
        .complier_type
        .as_ref()
        .map(|t| t.iter().map(|k| k.name()).collect());

    let labels = sample.data.cohorts.as_deref().map(cohort_labels);
    let dates: Option<Vec<&str>> = labels
        .as_ref()
        .map(|(_, dates, _)| dates.iter().map(String::as_str).collect());
    let mut columns: Vec<(&str, Column)> = Vec::new();
    if let (Some((hospital, _, diagnosis)), Some(dates)) = (&labels, &dates) {
        columns.push(("hospital", Column::Text(hospital)));
        columns.push(("date", Column::Text(dates)));
        columns.push(("diagnosis", Column::Text(diagnosis)));
    }
    columns.extend(
        data.x_names
            .iter()
            .zip(&x_columns)
            .map(|(name, c)| (name.as_str(), Column::Numbers(c))),
    );
    columns.push(("w", Column::Numbers(&w)));
    if let Some(z) = &z {
        columns.push(("z", Column::Numbers(z)));
    }
    let mediators: Vec<(&str, Vec<f64>)> = data
        .mediators
        .iter()
        .map(|(name, m)| (name.as_str(), m.to_vec()))
        .collect();
    columns.extend(
        mediators
            .iter()
            .map(|(name, m)| (*name, Column::Numbers(m))),
    );
    columns.push(("y", Column::Numbers(&y)));
    let [tau, cate, clate, complier_type] = TRUTH_COLUMNS;
    columns.push((tau, Column::Numbers(&sample.truth.tau)));
    columns.push((cate, Column::Numbers(&sample.truth.cate)));
    if let Some(values) = &sample.truth.clate {
        columns.push((clate, Column::Numbers(values)));
    }
    if let Some(types) = &types {
        columns.push((complier_type, Column::Text(types)));
    }
    match &args.out {
        Some(out) => {
            write_csv(out, &columns)?;
            eprintln!("wrote {} to {}", plural(data.n(), "row"), out.display());
        }
        None => write_csv_to(std::io::stdout().lock(), &columns)
            .context("writing to standard output")?,
    }
    Ok(())
}
