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
        let Value::Table(table) = Value::try_from(&est)? else {
            continue;
        };
        for (key, value) in table.iter().filter(|(k, _)| *k != "kind") {
            let doc = docs.iter().find(|(k, _)| k == key).map_or("", |(_, d)| d);
            writeln!(out, "    {:<26} = {:<12} {doc}", key, show(value))?;
        }
        // Optional parameters whose default is computed from the data.
        for (key, doc) in docs.iter().filter(|(k, _)| !table.contains_key(*k)) {
            writeln!(out, "    {:<26} = {:<12} {doc}", key, "(auto)")?;
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
