//! `causim fit`: the experiment's estimators on a user's own CSV.

mod groups;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{bail, Context};
use ndarray::{Array1, Array2};
use rayon::prelude::*;
use toml::Value;

use super::simulate::{parse_assignment, TRUTH_COLUMNS};
use crate::core::stats::Z_95;
use crate::core::text::{elide, number, plural, significant};
use crate::data::binning::{Binned, Bins, Coded, MAX_BINS};
use crate::data::{read_csv, write_csv, Column, Dataset, Table};
use crate::estimate::{Estimate, UnitEffects};
use crate::spec::EstimatorSpec;
use groups::{clusters, group_effects, group_levels, group_table, MAX_GROUPS};

/// What `causim fit --help` says after the options: how it treats bad input
/// and results that are not numbers.
fn after_help() -> String {
    format!("\
Input: the CSV needs a header row with distinct column names; a cell of a \
column the model uses must be a finite number within ±1e150, else the error \
names the file, the column, the row and its line.

Covariates: without --x, every column other than --y, --w, --z and \
--cluster, except the truth columns causim simulate writes (tau, cate, \
clate, complier_type; a note says which were left out) and a text --group \
column. Naming a truth column in --x uses it, with a warning.

Groups: --group COL takes a column of numbers or text (e.g. a diagnosis) \
with at most {MAX_GROUPS} distinct values; more is an error naming the column \
and its count.

Results: an estimate, standard error or confidence limit that is not finite \
(an overflow to inf, a NaN) is an error with exit status 1, never a table of \
NaNs; so are such per-unit predictions (--predict) and group effects \
(--group). Estimators that cannot fit more covariates than units (psm, \
entropy_balancing, ols, two_stage_least_squares) say so before fitting; \
dml with --param learner=lasso and the forests can.

Clusters: --cluster COL makes the forests sample units that share a value of COL together (grf's `clusters`): out-of-bag fits never use a unit's cluster-mates, and SEs of averages and --group effects are cluster-robust. Pass it when the instrument or the treatment is shared, e.g. one value per hospital-day.

Warnings: instrumental_forest checks its own overlap and instrument \
strength and prints warnings on stderr (poor overlap, a weak instrument, an \
average whose 10 most extreme scores carry more than half its variance), as \
does any estimate outside [-1, 1] on a binary outcome; its doubly robust \
alternatives (dr_wald, partialled_out_wald, ...) are among the diagnostics.")
}

/// Arguments of `causim fit`.
#[derive(Debug, clap::Args)]
#[command(after_help = after_help())]
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
    /// Estimator kind, as in `causim list` (hyphens work too; aliases: naive, dim, 2sls, tsls, iv).
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
    /// Also report the average effect within each value of this column
    /// (forests), numbers or text, e.g. a diagnosis (a limit on its values below).
    #[arg(long)]
    pub group: Option<String>,
    /// Cluster columns, comma-separated (forests): units that share their
    /// values, e.g. `hospital,date` for a hospital-day, are sampled together
    /// and the SEs of averages are cluster-robust, as grf's `clusters`; text
    /// or numbers, never covariates.
    #[arg(long, value_delimiter = ',')]
    pub cluster: Option<Vec<String>>,
}

/// Builds an estimator spec from a kind (or alias, [`crate::spec::KIND_ALIASES`])
/// and `key=value` parameters, through the same serde path as experiment
/// files (same validation, same errors). An error names the flag that is
/// wrong: `--estimator` for an unknown kind, else the first `--param KEY=VALUE`
/// whose key or value is refused, or `--param` for a combination that is.
pub fn estimator_spec(kind: &str, params: &[String]) -> anyhow::Result<EstimatorSpec> {
    let mut table = toml::Table::new();
    table.insert(
        "kind".into(),
        Value::String(EstimatorSpec::resolve_kind(kind)),
    );
    let mut spec = spec_of(&table).map_err(|e| anyhow::anyhow!("--estimator: {e}"))?;
    for p in params {
        let shown = elide(p);
        let (key, value) = parse_assignment(p).map_err(|e| anyhow::anyhow!("--param: {e}"))?;
        if key == "kind" {
            bail!("--param {shown}: the estimator's kind is set by --estimator");
        }
        table.insert(key, value);
        spec = spec_of(&table).map_err(|e| anyhow::anyhow!("--param {shown}: {e}"))?;
    }
    let flag = if params.is_empty() {
        format!("--estimator {}", spec.kind())
    } else {
        "--param".to_string()
    };
    spec.check().map_err(|e| anyhow::anyhow!("{flag}: {e}"))?;
    Ok(spec)
}

/// An estimator spec from its table, or serde's message for why not.
fn spec_of(table: &toml::Table) -> Result<EstimatorSpec, String> {
    Value::Table(table.clone())
        .try_into()
        .map_err(|e: toml::de::Error| e.message().trim().to_string())
}

/// The covariate columns: `--x` as given (a truth column named there is
/// used, with a warning), else every named column other than the outcome,
/// treatment, instrument and clusters, a text `--group` column and the
/// truth columns of `causim simulate` ([`TRUTH_COLUMNS`], with a note
/// naming those left out).
fn covariate_names(args: &FitArgs, table: &Table, used: &[&str]) -> anyhow::Result<Vec<String>> {
    let names: Vec<String> = match &args.x {
        Some(names) => {
            let names: Vec<String> = names
                .iter()
                .map(|s| s.trim().to_string())
                .filter(|s| !s.is_empty())
                .collect();
            for name in names.iter().filter(|n| TRUTH_COLUMNS.contains(&n.as_str())) {
                eprintln!(
                    "warning: --x: `{name}` is one of the truth columns causim simulate writes \
                     ({}); as a covariate it hands the model the answer",
                    TRUTH_COLUMNS.join(", ")
                );
            }
            names
        }
        None => {
            if let Some(k) = table.names().iter().position(String::is_empty) {
                bail!(
                    "{}: line 1: column {} of the header has no name, so it cannot be a \
                     covariate; name it (an unnamed first column is often a row index: write \
                     the file without it), or list the covariates with --x",
                    table.path(),
                    k + 1
                );
            }
            let text_group = args.group.as_deref().filter(|g| table.column(g).is_err());
            let truth: Vec<&str> = table
                .names()
                .iter()
                .map(String::as_str)
                .filter(|n| TRUTH_COLUMNS.contains(n) && !used.contains(n))
                .collect();
            if !truth.is_empty() {
                eprintln!(
                    "note: left out of the covariates, as truth columns of causim simulate: {}; \
                     name one in --x to use it",
                    truth.join(", ")
                );
            }
            table
                .names()
                .iter()
                .filter(|n| {
                    !used.contains(&n.as_str())
                        && !truth.contains(&n.as_str())
                        && Some(n.as_str()) != text_group
                })
                .cloned()
                .collect()
        }
    };
    if let Some(name) = names.iter().find(|n| used.contains(&n.as_str())) {
        bail!(
            "--x: column `{}` is both a covariate and the outcome, treatment or instrument",
            elide(name)
        );
    }
    Ok(names)
}

/// Fails when `values` (the column `name` in `role`) is the same in every
/// row, naming the file, the column's place and the rows.
fn check_varies(
    table: &Table,
    role: &str,
    name: &str,
    values: &[f64],
    why: &str,
) -> anyhow::Result<()> {
    let Some(first) = values.first() else {
        return Ok(());
    };
    if values.iter().all(|v| v == first) {
        bail!(
            "{}: {role} column `{name}` is constant ({}): it is {} in all {} rows \
             (lines {} to {}); {why}",
            table.path(),
            table.position_label(name),
            number(*first),
            values.len(),
            table.line(0),
            table.line(values.len() - 1),
        );
    }
    Ok(())
}

/// The covariates of a fit: their values, or for a forest that reads only
/// bin codes, the codes.
enum Covariates {
    Values(Array2<f64>),
    Codes(Coded),
}

/// The columns `names` of `table` as bin codes, the bins learned as
/// [`Bins::fit`] would learn them from the values: a small column's codes
/// are looked up from its bytes, another column's computed from its
/// values, one column at a time, so no matrix of `f64` is ever made.
fn coded(table: &Table, names: &[String]) -> anyhow::Result<Coded> {
    let distinct = names
        .par_iter()
        .map(|name| match table.small_column(name) {
            Some(bytes) => {
                let mut seen = [false; 256];
                for &b in bytes {
                    seen[usize::from(b)] = true;
                }
                Ok((0..=255u8)
                    .filter(|&b| seen[usize::from(b)])
                    .map(f64::from)
                    .collect())
            }
            None => Ok(table.column(name)?.to_vec()),
        })
        .collect::<crate::Result<Vec<Vec<f64>>>>()?;
    let bins = Bins::from_distinct(distinct, MAX_BINS);
    let columns: Vec<Vec<u8>> = names
        .par_iter()
        .enumerate()
        .map(|(j, name)| match table.small_column(name) {
            Some(bytes) => {
                let lut: Vec<u8> = (0..=255u8).map(|b| bins.code(j, f64::from(b))).collect();
                Ok(bytes.iter().map(|&b| lut[usize::from(b)]).collect())
            }
            None => Ok(table
                .column(name)?
                .iter()
                .map(|&v| bins.code(j, v))
                .collect()),
        })
        .collect::<crate::Result<_>>()?;
    let binned = Binned::from_columns(table.rows(), &bins, &columns);
    Ok(Coded { bins, binned })
}

/// Reads the CSV into a dataset by the columns `args` names, checking the
/// columns and that treatment and instrument vary; with `codes`, its
/// covariates as bin codes only ([`Dataset::from_codes`]).
pub fn dataset(args: &FitArgs, table: &Table, codes: bool) -> anyhow::Result<Dataset> {
    let y = Array1::from(table.column(&args.y)?.to_vec());
    let w = Array1::from(table.column(&args.w)?.to_vec());
    let z = match &args.z {
        Some(name) => Some(Array1::from(table.column(name)?.to_vec())),
        None => None,
    };
    let mut used: Vec<&str> = [
        Some(args.y.as_str()),
        Some(args.w.as_str()),
        args.z.as_deref(),
    ]
    .into_iter()
    .flatten()
    .collect();
    used.extend(args.cluster.iter().flatten().map(String::as_str));
    let x_names = covariate_names(args, table, &used)?;
    let x = if codes {
        Covariates::Codes(coded(table, &x_names)?)
    } else {
        let mut x = Array2::zeros((table.rows(), x_names.len()));
        for (j, name) in x_names.iter().enumerate() {
            x.column_mut(j)
                .assign(&Array1::from(table.column(name)?.to_vec()));
        }
        Covariates::Values(x)
    };
    check_varies(
        table,
        "treatment",
        &args.w,
        w.as_slice().unwrap_or_default(),
        "an effect needs treated and untreated units",
    )?;
    if let (Some(z), Some(name)) = (&z, &args.z) {
        check_varies(
            table,
            "instrument",
            name,
            z.as_slice().unwrap_or_default(),
            "an instrument must vary",
        )?;
    }
    let data = match x {
        Covariates::Values(x) => Dataset::new(y, w, z, x, x_names)?,
        Covariates::Codes(x) => Dataset::from_codes(y, w, z, x, x_names)?,
    };
    match &args.cluster {
        Some(names) => Ok(data.with_clusters(Arc::new(clusters(table, names)?))?),
        None => Ok(data),
    }
}

/// Fits on the data and predicts per-unit effects for the rows of the CSV
/// at `path`, returning the estimate, the predictions and that CSV.
fn fit_and_predict(
    spec: &EstimatorSpec,
    data: &Dataset,
    seed: u64,
    path: &Path,
) -> anyhow::Result<(Estimate, UnitEffects, Table)> {
    let table = read_csv(path)?;
    let mut x = Array2::zeros((table.rows(), data.x_names.len()));
    for (j, name) in data.x_names.iter().enumerate() {
        x.column_mut(j)
            .assign(&Array1::from(table.column(name)?.to_vec()));
    }
    let (estimate, units) = spec.estimator().fit_predict(data, seed, x.view())?;
    let Some(units) = units else {
        bail!(
            "{} gives no per-unit effects; --predict needs a forest (causal_forest, \
             instrumental_forest, regression_forest)",
            spec.kind()
        );
    };
    Ok((estimate, units, table))
}

/// Runs `causim fit`.
///
/// # Errors
/// Bad arguments or CSV input, an estimator that fails, and a result that
/// is not finite (estimate, SE, CI, a prediction or a group's effect).
pub fn fit(args: FitArgs) -> anyhow::Result<()> {
    let spec = estimator_spec(&args.estimator, &args.params)?;
    if args.cluster.is_some() && spec.forest_params().is_none() {
        let forests: Vec<&str> = EstimatorSpec::all_defaults()
            .iter()
            .filter(|s| s.forest_params().is_some())
            .map(EstimatorSpec::kind)
            .collect();
        bail!(
            "--cluster: {} does not sample clusters; the forests do ({})",
            spec.kind(),
            forests.join(", ")
        );
    }
    let csv = read_csv(&args.data)?;
    let levels = match &args.group {
        Some(column) => {
            Some(group_levels(&csv, column).with_context(|| format!("--group {}", elide(column)))?)
        }
        None => None,
    };
    let data = dataset(&args, &csv, spec.fits_codes())?;
    let context = || format!("{} on {}", spec.kind(), args.data.display());
    let (mut estimate, predictions) = match &args.predict {
        Some(path) => {
            let (estimate, units, table) =
                fit_and_predict(&spec, &data, args.seed, path).with_context(context)?;
            (estimate, Some((units, table)))
        }
        None => (
            spec.estimator()
                .fit(&data, args.seed)
                .with_context(context)?,
            None,
        ),
    };
    check_finite(&estimate, &args, &data, &csv).with_context(context)?;
    if let Some((units, table)) = &predictions {
        check_predictions(units, table).with_context(context)?;
    }
    let groups = match (&args.group, &levels) {
        (Some(column), Some(levels)) => Some(
            group_effects(levels, &estimate, spec.kind(), data.clusters.as_deref())
                .with_context(|| format!("--group {}", elide(column)))?,
        ),
        _ => None,
    };
    if let Some(warning) = impossible(&estimate, &data) {
        estimate.warnings.push(warning);
    }
    for warning in &estimate.warnings {
        eprintln!("warning: {warning}");
    }
    if args.json {
        let mut value = json(spec.kind(), data.n(), &estimate);
        if let Some(groups) = &groups {
            value["groups"] = serde_json::json!(groups
                .iter()
                .map(|(level, estimate, se)| serde_json::json!({
                    "group": level.value,
                    "estimate": estimate,
                    "se": se,
                    "n": level.rows.len(),
                }))
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
    if let (Some((units, _)), Some(out)) = (predictions, &args.out) {
        write_predictions(&units, out, args.json)?;
    }
    Ok(())
}

/// A warning when the outcome is binary (every value 0 or 1) and the
/// estimate lies outside [-1, 1], where no effect on a probability can be
/// (a confidence limit alone beyond it is only imprecision).
fn impossible(estimate: &Estimate, data: &Dataset) -> Option<String> {
    let binary = data.y.iter().all(|v| *v == 0.0 || *v == 1.0);
    let outside = estimate.estimate.abs() > 1.0;
    (binary && outside).then(|| {
        format!(
            "the estimate {} lies outside [-1, 1]: impossible for an effect on a binary outcome's \
             probability (SE {})",
            significant(estimate.estimate),
            significant(estimate.se)
        )
    })
}

/// Magnitudes beyond which (or, for a column's largest value, below which)
/// arithmetic on a column is likely to overflow or underflow.
const EXTREME: (f64, f64) = (1e-100, 1e100);

/// The used columns whose values are extreme in magnitude, described with
/// the row of their largest value: the likely cause of a result that is not
/// finite.
fn extreme_columns(args: &FitArgs, data: &Dataset, table: &Table) -> Vec<String> {
    let mut columns: Vec<(&str, ndarray::ArrayView1<'_, f64>)> =
        vec![(&args.y, data.y.view()), (&args.w, data.w.view())];
    if let (Some(z), Some(name)) = (&data.z, &args.z) {
        columns.push((name, z.view()));
    }
    for (name, col) in data.x_names.iter().zip(data.x.columns()) {
        columns.push((name, col));
    }
    columns
        .into_iter()
        .filter_map(|(name, col)| {
            let (i, largest) =
                col.iter()
                    .map(|v| v.abs())
                    .enumerate()
                    .fold(
                        (0, 0.0),
                        |best, (i, v)| if v > best.1 { (i, v) } else { best },
                    );
            let extreme = largest > EXTREME.1 || (largest > 0.0 && largest < EXTREME.0);
            extreme.then(|| {
                format!(
                    "the largest magnitude of `{}` is {}, at {}",
                    elide(name),
                    number(largest),
                    table.row_label(i)
                )
            })
        })
        .take(3)
        .collect()
}

/// Fails when the estimate, its SE or a confidence limit is not finite,
/// saying which and what in the data may have caused it.
fn check_finite(
    estimate: &Estimate,
    args: &FitArgs,
    data: &Dataset,
    table: &Table,
) -> anyhow::Result<()> {
    let parts = [
        ("estimate", estimate.estimate),
        ("standard error", estimate.se),
        ("lower confidence limit", estimate.ci_lower),
        ("upper confidence limit", estimate.ci_upper),
    ];
    let Some((what, value)) = parts.iter().find(|(_, v)| !v.is_finite()) else {
        return Ok(());
    };
    let extreme = extreme_columns(args, data, table);
    let hint = if extreme.is_empty() {
        "look for an outlier, or a covariate that nearly repeats another or the treatment"
            .to_string()
    } else {
        format!(
            "columns of extreme magnitude are the likely cause: {}; rescale them \
             (e.g. divide by a power of ten) or fix those rows",
            extreme.join("; ")
        )
    };
    bail!(
        "the {what} is {}, not a finite number (estimate {}, SE {}, 95% CI {} to {}); {hint}",
        number(*value),
        number(estimate.estimate),
        number(estimate.se),
        number(estimate.ci_lower),
        number(estimate.ci_upper),
    )
}

/// Fails at the first prediction row whose effect or SE is not finite.
fn check_predictions(units: &UnitEffects, table: &Table) -> anyhow::Result<()> {
    let bad = units
        .tau
        .iter()
        .zip(&units.se)
        .position(|(t, s)| !(t.is_finite() && s.is_finite()));
    if let Some(i) = bad {
        bail!(
            "{}: {}: the predicted effect is {} with SE {}, not finite numbers; check that \
             row's covariates against the training data's range",
            table.path(),
            table.row_label(i),
            number(units.tau[i]),
            number(units.se[i])
        );
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
        eprintln!(
            "wrote {} to {}",
            plural(units.tau.len(), "prediction"),
            out.display()
        );
    }
    Ok(())
}

/// A number for the printed tables: six decimals in the usual range, six
/// significant digits in scientific form beyond it (never hundreds of
/// digits), `nan` and `inf` as such.
pub(super) fn fixed(x: f64) -> String {
    if !x.is_finite() {
        number(x)
    } else if x == 0.0 || (1e-4..1e9).contains(&x.abs()) {
        format!("{x:.6}")
    } else {
        format!("{x:.5e}")
    }
}

/// A diagnostic for the printed table: a whole number (a count such as
/// `n`, `clusters` or `trees`) without decimals, any other as [`fixed`].
fn diagnostic(x: f64) -> String {
    if x.is_finite() && x.fract() == 0.0 && x.abs() < 1e15 {
        format!("{x:.0}")
    } else {
        fixed(x)
    }
}

/// The result as one JSON object.
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
        "confidence_set": e.confidence_set,
        "warnings": e.warnings,
    })
}

/// The result as a table, with the diagnostics under it.
fn table(kind: &str, data: &Dataset, e: &Estimate) -> String {
    let mut out = format!(
        "{kind}  (n = {}, {})\n\n{:<15} {:>12} {:>12} {:>12} {:>12}\n{:<15} {:>12} {:>12} {:>12} {:>12}\n",
        data.n(),
        plural(data.x_names.len(), "covariate"),
        "estimand",
        "estimate",
        "se",
        "ci_lower",
        "ci_upper",
        e.estimand.label(),
        fixed(e.estimate),
        fixed(e.se),
        fixed(e.ci_lower),
        fixed(e.ci_upper)
    );
    if let Some(set) = &e.confidence_set {
        out.push_str(&format!(
            "\nAnderson-Rubin 95% set {set} ({}): robust to a weak instrument\n",
            set.shape()
        ));
    }
    if !e.diagnostics.is_empty() {
        out.push_str("\ndiagnostics\n");
        for (name, value) in &e.diagnostics {
            out.push_str(&format!("  {name:<22} {:>12}\n", diagnostic(*value)));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A CSV of 400 rows: a continuous covariate, two binary codes (one
    /// rare), a small count, and an instrument, treatment and outcome.
    fn table() -> Table {
        let dir = std::env::temp_dir().join(format!("causim_fit_codes_{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        let path = dir.join("codes.csv");
        let mut text = String::from("age,code_1,code_2,visits,z,w,y\n");
        for i in 0..400u32 {
            let age = 40.0 + f64::from(i * 37 % 101) / 3.0;
            let (c1, c2, visits) = (i % 3 == 0, i % 41 == 5, i % 6);
            let z = i % 2;
            let w = u32::from(z == 1 || i % 5 == 0);
            let y = f64::from(w) * (0.5 + f64::from(u8::from(c1))) + f64::from(i % 7) / 7.0;
            text.push_str(&format!(
                "{age},{},{},{visits},{z},{w},{y}\n",
                u8::from(c1),
                u8::from(c2)
            ));
        }
        std::fs::write(&path, text).expect("write");
        read_csv(&path).expect("reads")
    }

    #[test]
    fn codes_read_from_a_csv_equal_the_codes_of_its_values() {
        let table = table();
        let names: Vec<String> = ["age", "code_1", "code_2", "visits"]
            .map(String::from)
            .to_vec();
        let coded = coded(&table, &names).expect("codes");
        let mut x = Array2::zeros((table.rows(), names.len()));
        for (j, name) in names.iter().enumerate() {
            x.column_mut(j)
                .assign(&Array1::from(table.column(name).expect("numbers").to_vec()));
        }
        let bins = Bins::fit(x.view(), MAX_BINS).expect("bins");
        let binned = bins.transform(x.view()).expect("codes");
        assert!(coded.binned.is_sparse(2), "the rare code is stored sparse");
        for i in 0..table.rows() {
            assert_eq!(coded.binned.row(i), binned.row(i), "row {i}");
        }
        let new = x.slice(ndarray::s![..50, ..]);
        assert_eq!(
            coded.bins.transform(new).expect("codes").row(7),
            bins.transform(new).expect("codes").row(7)
        );

        // An instrumental forest on the codes alone fits as on the values.
        let column = |name: &str| Array1::from(table.column(name).expect("numbers").to_vec());
        let (y, w, z) = (column("y"), column("w"), Some(column("z")));
        let values = Dataset::new(y.clone(), w.clone(), z.clone(), x, names.clone()).expect("data");
        let codes = Dataset::from_codes(y, w, z, coded, names).expect("data");
        let spec = estimator_spec("instrumental_forest", &["num_trees=200".into()]).expect("spec");
        let fit = |data: &Dataset| spec.estimator().fit(data, 3).expect("fits");
        let (a, b) = (fit(&values), fit(&codes));
        assert_eq!((a.estimate, a.se), (b.estimate, b.se));
    }
}
