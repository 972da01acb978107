//! `causim fit`: the experiment's estimators on a user's own CSV.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context};
use ndarray::{Array1, Array2};
use toml::Value;

use super::simulate::parse_assignment;
use crate::core::stats::Z_95;
use crate::data::{read_csv, write_csv, Column, Dataset, Table};
use crate::estimate::forest::average_effect;
use crate::estimate::{Estimate, UnitEffects};
use crate::spec::EstimatorSpec;

/// Arguments of `causim fit`.
#[derive(Debug, clap::Args)]
pub struct FitArgs {
    /// CSV file with a header row.
    #[arg(long)]
    pub data: PathBuf,
    /// Outcome column.
    #[arg(long)]
    pub y: String,
    /// Treatment column (0/1 for binary treatments).
    #[arg(long)]
    pub w: String,
    /// Instrument column (needed by two_stage_least_squares).
    #[arg(long)]
    pub z: Option<String>,
    /// Covariate columns, comma-separated [default: every other column]; "" for none.
    #[arg(long, value_delimiter = ',')]
    pub x: Option<Vec<String>>,
    /// Estimator kind, as in `causim list` (hyphens work too; aliases: naive, 2sls).
    #[arg(long)]
    pub estimator: String,
    /// Estimator parameter, e.g. --param se=hc3 --param covariates=false (repeatable).
    #[arg(long = "param", value_name = "KEY=VALUE")]
    pub params: Vec<String>,
    /// Seed for estimators that use randomness.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Print one JSON object instead of a table.
    #[arg(long)]
    pub json: bool,
    /// CSV of units to predict per-unit effects for (forests); needs the covariate columns.
    #[arg(long, requires = "out")]
    pub predict: Option<PathBuf>,
    /// Where to write the predictions: tau_hat,tau_se,ci_lower,ci_upper, one row per --predict row.
    #[arg(long, requires = "predict")]
    pub out: Option<PathBuf>,
    /// Also report the average effect within each value of this column (forests), e.g. a diagnosis.
    #[arg(long)]
    pub group: Option<String>,
}

/// Builds an estimator spec from a kind (or alias) and `key=value` parameters,
/// through the same serde path as experiment files (same validation, same errors).
pub fn estimator_spec(kind: &str, params: &[String]) -> anyhow::Result<EstimatorSpec> {
    let kind = match kind.replace('-', "_").as_str() {
        "naive" | "dim" => "difference_in_means".to_string(),
        "2sls" | "tsls" | "iv" => "two_stage_least_squares".to_string(),
        other => other.to_string(),
    };
    let mut table = toml::Table::new();
    table.insert("kind".into(), Value::String(kind));
    for p in params {
        let (key, value) = parse_assignment(p)?;
        table.insert(key, value);
    }
    let spec: EstimatorSpec = Value::Table(table)
        .try_into()
        .map_err(|e: toml::de::Error| anyhow::anyhow!("--estimator: {}", e.message().trim()))?;
    spec.check()
        .map_err(|e| anyhow::anyhow!("--estimator {}: {e}", spec.kind()))?;
    Ok(spec)
}

/// Reads the CSV into a dataset, checking the columns and that treatment and
/// instrument vary.
pub fn dataset(args: &FitArgs, table: &Table) -> anyhow::Result<Dataset> {
    let y = Array1::from(table.column(&args.y)?.to_vec());
    let w = Array1::from(table.column(&args.w)?.to_vec());
    let z = match &args.z {
        Some(name) => Some(Array1::from(table.column(name)?.to_vec())),
        None => None,
    };
    let used: Vec<&str> = [
        Some(args.y.as_str()),
        Some(args.w.as_str()),
        args.z.as_deref(),
    ]
    .into_iter()
    .flatten()
    .collect();
    let x_names: Vec<String> = match &args.x {
        Some(names) => names
            .iter()
            .map(|s| s.trim().to_string())
            .filter(|s| !s.is_empty())
            .collect(),
        None => table
            .names()
            .iter()
            .filter(|n| !used.contains(&n.as_str()))
            .cloned()
            .collect(),
    };
    for name in &x_names {
        if used.contains(&name.as_str()) {
            bail!("column `{name}` is both a covariate and the outcome, treatment or instrument");
        }
    }
    let mut x = Array2::zeros((table.rows(), x_names.len()));
    for (j, name) in x_names.iter().enumerate() {
        x.column_mut(j)
            .assign(&Array1::from(table.column(name)?.to_vec()));
    }
    let constant = |v: &Array1<f64>| v.iter().all(|a| *a == v[0]);
    if constant(&w) {
        bail!(
            "treatment column `{}` is constant (all {}); an effect needs treated and untreated units",
            args.w,
            w[0]
        );
    }
    if let (Some(z), Some(name)) = (&z, &args.z) {
        if constant(z) {
            bail!(
                "instrument column `{name}` is constant (all {}); an instrument must vary",
                z[0]
            );
        }
    }
    Ok(Dataset::new(y, w, z, x, x_names)?)
}

/// Runs `causim fit`.
pub fn fit(args: FitArgs) -> anyhow::Result<()> {
    let spec = estimator_spec(&args.estimator, &args.params)?;
    let csv = read_csv(&args.data)?;
    let data = dataset(&args, &csv)?;
    let context = || format!("{} on {}", spec.kind(), args.data.display());
    let (estimate, predictions) = match &args.predict {
        Some(path) => {
            let table = read_csv(path)?;
            let mut x = Array2::zeros((table.rows(), data.x_names.len()));
            for (j, name) in data.x_names.iter().enumerate() {
                x.column_mut(j)
                    .assign(&Array1::from(table.column(name)?.to_vec()));
            }
            let (estimate, units) = spec
                .estimator()
                .fit_predict(&data, args.seed, x.view())
                .with_context(context)?;
            let Some(units) = units else {
                bail!(
                    "{} gives no per-unit effects; --predict needs a forest (causal_forest, instrumental_forest, regression_forest)",
                    spec.kind()
                );
            };
            (estimate, Some(units))
        }
        None => (
            spec.estimator()
                .fit(&data, args.seed)
                .with_context(context)?,
            None,
        ),
    };
    let groups = match &args.group {
        Some(column) => Some(group_effects(csv.column(column)?, &estimate, spec.kind())?),
        None => None,
    };
    if args.json {
        let mut value = json(spec.kind(), data.n(), &estimate);
        if let Some(groups) = &groups {
            value["groups"] = serde_json::json!(groups
                .iter()
                .map(|g| serde_json::json!({"group": g.0, "estimate": g.1, "se": g.2, "n": g.3}))
                .collect::<Vec<_>>());
        }
        println!("{value}");
    } else {
        print!("{}", table(spec.kind(), &data, &estimate));
        if let Some(groups) = &groups {
            print!(
                "{}",
                group_table(args.group.as_deref().unwrap_or_default(), groups)
            );
        }
    }
    if let (Some(units), Some(out)) = (predictions, &args.out) {
        write_predictions(&units, out, args.json)?;
    }
    Ok(())
}

/// Writes per-unit effects with their 95% intervals to `out`.
fn write_predictions(units: &UnitEffects, out: &Path, json: bool) -> anyhow::Result<()> {
    let lower: Vec<f64> = units
        .tau
        .iter()
        .zip(&units.se)
        .map(|(t, s)| t - Z_95 * s)
        .collect();
    let upper: Vec<f64> = units
        .tau
        .iter()
        .zip(&units.se)
        .map(|(t, s)| t + Z_95 * s)
        .collect();
    write_csv(
        out,
        &[
            ("tau_hat", Column::Numbers(&units.tau)),
            ("tau_se", Column::Numbers(&units.se)),
            ("ci_lower", Column::Numbers(&lower)),
            ("ci_upper", Column::Numbers(&upper)),
        ],
    )?;
    if !json {
        eprintln!("wrote {} predictions to {}", units.tau.len(), out.display());
    }
    Ok(())
}

/// (group value, estimate, SE, units) per distinct value of a column, from
/// the mean and spread of the estimator's doubly robust scores in the group.
fn group_effects(
    values: &[f64],
    estimate: &Estimate,
    kind: &str,
) -> anyhow::Result<Vec<(f64, f64, f64, usize)>> {
    let scores = estimate
        .units
        .as_ref()
        .map(|u| &u.scores)
        .filter(|s| !s.is_empty())
        .with_context(|| {
            format!("{kind} has no doubly robust scores; --group needs a forest estimator")
        })?;
    let mut levels: Vec<f64> = values.to_vec();
    levels.sort_by(f64::total_cmp);
    levels.dedup();
    Ok(levels
        .into_iter()
        .map(|level| {
            let members: Vec<f64> = scores
                .iter()
                .zip(values)
                .filter(|(_, v)| **v == level)
                .map(|(s, _)| *s)
                .collect();
            let (mean, se) = average_effect(&members).unwrap_or((f64::NAN, f64::NAN));
            (level, mean, se, members.len())
        })
        .collect())
}

fn group_table(column: &str, groups: &[(f64, f64, f64, usize)]) -> String {
    let mut out = format!(
        "\nby {column}\n  {:<12} {:>12} {:>12} {:>8}\n",
        "value", "estimate", "se", "n"
    );
    for (level, estimate, se, n) in groups {
        out.push_str(&format!(
            "  {level:<12} {estimate:>12.6} {se:>12.6} {n:>8}\n"
        ));
    }
    out
}

fn json(kind: &str, n: usize, e: &Estimate) -> serde_json::Value {
    serde_json::json!({
        "estimator": kind,
        "estimand": e.estimand.label(),
        "estimate": e.estimate,
        "se": e.se,
        "ci_lower": e.ci_lower,
        "ci_upper": e.ci_upper,
        "n": n,
        "diagnostics": e.diagnostics,
    })
}

fn table(kind: &str, data: &Dataset, e: &Estimate) -> String {
    let mut out = format!(
        "{kind}  (n = {}, {} covariates)\n\n{:<15} {:>12} {:>12} {:>12} {:>12}\n{:<15} {:>12.6} {:>12.6} {:>12.6} {:>12.6}\n",
        data.n(),
        data.x_names.len(),
        "estimand",
        "estimate",
        "se",
        "ci_lower",
        "ci_upper",
        e.estimand.label(),
        e.estimate,
        e.se,
        e.ci_lower,
        e.ci_upper
    );
    if !e.diagnostics.is_empty() {
        out.push_str("\ndiagnostics\n");
        for (name, value) in &e.diagnostics {
            out.push_str(&format!("  {name:<22} {value:>12.6}\n"));
        }
    }
    out
}
