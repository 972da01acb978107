//! `causim list`: every sim, estimator and diagnosand, generated from the spec
//! types themselves so that the defaults shown are the defaults used.

use std::fmt::Write;

use toml::Value;

use crate::evaluate::DIAGNOSANDS;
use crate::spec::{EstimatorSpec, SimSpec};

/// The catalogue as text.
pub fn catalogue() -> anyhow::Result<String> {
    let mut out = String::from("SIMS (sims/*.toml, `kind = ...`)\n");
    for sim in SimSpec::all_defaults() {
        let (summary, docs) = sim.docs();
        writeln!(out, "\n  {}: {summary}", sim.kind())?;
        for (key, value) in sim.parameters()? {
            let doc = docs.iter().find(|(k, _)| *k == key).map_or("", |(_, d)| d);
            writeln!(out, "    {:<26} = {:<12} {doc}", key, show(&value))?;
        }
    }
    out.push_str("\nESTIMATORS ([[estimators]] in experiments, `causim fit --estimator ...`)\n");
    for est in EstimatorSpec::all_defaults() {
        let (summary, docs) = est.docs();
        writeln!(
            out,
            "\n  {} (targets {}): {summary}",
            est.kind(),
            est.estimator().estimand().label()
        )?;
        let params = Value::try_from(&est)?;
        if let Value::Table(table) = params {
            for (key, value) in table.iter().filter(|(k, _)| *k != "kind") {
                let doc = docs.iter().find(|(k, _)| k == key).map_or("", |(_, d)| d);
                writeln!(out, "    {:<26} = {:<12} {doc}", key, show(value))?;
            }
        }
    }
    out.push_str("\nDIAGNOSANDS (per cell and estimator, each with its Monte Carlo SE)\n\n");
    for (key, doc) in DIAGNOSANDS {
        writeln!(out, "  {key:<12} {doc}")?;
    }
    Ok(out)
}

fn show(value: &Value) -> String {
    value.to_string()
}
