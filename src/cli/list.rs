//! `causim list`: every sim, estimator, policy and diagnosand, generated from the spec
//! types themselves so that the defaults shown are the defaults used.

use std::fmt::Write;

use toml::Value;

use crate::spec::{EstimatorSpec, SimSpec};
use crate::summary::DIAGNOSANDS;

/// The catalogue as text.
pub fn catalogue() -> anyhow::Result<String> {
    let mut out = String::from("SIMS (sims/*.toml, `kind = ...`)\n");
    for sim in SimSpec::all_defaults() {
        let (summary, docs) = sim.docs();
        writeln!(out, "\n  {}: {summary}", sim.kind())?;
        let parameters = sim.parameters()?;
        for (key, value) in &parameters {
            let doc = docs.iter().find(|(k, _)| k == key).map_or("", |(_, d)| d);
            writeln!(out, "    {:<26} = {:<12} {doc}", key, show(value))?;
        }
        // Keys of named entries (`hospitals.<H>.share`), and optional
        // sections a world leaves out until they are set (`missingness`).
        for (key, doc) in docs
            .iter()
            .filter(|(k, _)| k.contains('.') && !parameters.iter().any(|(p, _)| p == k))
        {
            let shown = if key.contains('<') {
                "(per entry)"
            } else {
                "(off)"
            };
            writeln!(out, "    {:<26} = {:<12} {doc}", key, shown)?;
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
    out.push_str(
        "\nDATA STRATEGIES (`data = [...]` on an estimator: steps applied to the sample before fitting)\n\n",
    );
    for (kind, doc) in DATA_STEPS {
        writeln!(out, "  {kind:<16} {doc}")?;
    }
    out.push_str("\nPOLICIES ([[policies]] in experiments, `kind = ...`; placement rules on a hospital world)\n\n");
    for (kind, doc) in POLICY_KINDS {
        writeln!(out, "  {kind:<16} {doc}")?;
    }
    out.push('\n');
    for (key, doc) in POLICY_PARAMETERS {
        writeln!(out, "    {key:<26} {doc}")?;
    }
    out.push_str(
        "\n  allocate         distribute a budget of resource units across regions (any world)\n\n",
    );
    for (key, doc) in ALLOCATION_PARAMETERS {
        writeln!(out, "    {key:<26} {doc}")?;
    }
    out.push_str(
        "\n  feedback         fund regions period after period, learning from the outcomes (a world with [periods])\n\n",
    );
    for (key, doc) in FEEDBACK_PARAMETERS {
        writeln!(out, "    {key:<26} {doc}")?;
    }
    out.push_str("\nDIAGNOSANDS (per cell and estimator, each with its Monte Carlo SE)\n\n");
    for (key, doc) in DIAGNOSANDS {
        writeln!(out, "  {key:<12} {doc}")?;
    }
    Ok(out)
}

/// The steps of a data strategy, with their settings.
const DATA_STEPS: &[(&str, &str)] = &[
    ("complete_cases", "drop every row with a missing covariate"),
    ("mean", "fill each missing value with its column's observed mean"),
    (
        "mice",
        "multiple imputation by chained equations, pooled by Rubin's rules: imputations (10), iterations (10)",
    ),
    (
        "smote",
        "synthetic units of a scarce 0/1 stratum: stratum (required), neighbors (5), ratio (1: as many as the rest)",
    ),
    (
        "pca",
        "covariates replaced by the leading principal components: variance (0.9, the share kept)",
    ),
];

/// The placement rules a `[[policies]]` entry can name.
const POLICY_KINDS: &[(&str, &str)] = &[
    (
        "observed",
        "the recorded placement: the baseline every gain is measured against",
    ),
    (
        "welfare_max",
        "maximize the estimated welfare (the forest's effects at each busyness)",
    ),
    (
        "minimax_regret",
        "minimize the larger regret of estimated welfare and welfare at the lower bounds",
    ),
    (
        "oracle",
        "maximize the true welfare the world knows: the ceiling",
    ),
];

/// The parameters of a `[[policies]]` entry.
const POLICY_PARAMETERS: &[(&str, &str)] = &[
    (
        "estimator",
        "the [[estimators]] name whose effects it reads (a causal or instrumental forest; default: the only one)",
    ),
    (
        "bound",
        "minimax_regret only: frequentist (default), manski or balke_pearl (instrumental forest)",
    ),
    (
        "reassignment_limit",
        "largest share of a day's cohort moved from the observed placement, in [0, 1]; default none",
    ),
    ("solver", "exact (default) or greedy (the paper's rule)"),
    ("name", "label in records and reports; default from kind, bound, limit and solver"),
];

/// The parameters of a `kind = "allocate"` entry.
const ALLOCATION_PARAMETERS: &[(&str, &str)] = &[
    (
        "estimator",
        "the [[estimators]] name whose effects it reads (per-region effects where it has them, else its average)",
    ),
    ("oracle", "true: allocate by the world's true effects (the ceiling)"),
    ("budget", "resource units to distribute (required)"),
    ("cap", "most units one region may receive; default 1"),
    (
        "returns",
        "share of the previous unit's gain the next unit in a region yields, in (0, 1]; default 1",
    ),
    ("weight", "covariate column scaling each region's gain (its population); default none"),
    ("eligible", "untreated (default: regions without the resource) or all"),
    ("level", "covariate column with the per-head resource level (for the floor and the Gini)"),
    ("step", "how much one unit raises a region's level; default 1"),
    ("min_level", "fairness floor: every eligible region ends at least at this level"),
    (
        "robust",
        "true: maximize the gain's lower quantile over Monte Carlo draws of the effects",
    ),
    ("draws", "robust only: Monte Carlo draws; default 200"),
    ("quantile", "robust only: the quantile maximized; default 0.1"),
    (
        "solver",
        "greedy (default; optimal for these concave gains) or exact (dynamic programming)",
    ),
    ("name", "label in records and reports; default from the estimator"),
];

/// The parameters of a `kind = "feedback"` entry.
const FEEDBACK_PARAMETERS: &[(&str, &str)] = &[
    (
        "rule",
        "oracle (true effects), once (estimate on the observational sample, keep the allocation), reestimate, thompson, ucb or random (required)",
    ),
    ("budget", "regions funded per period (required)"),
    (
        "model",
        "effect modifiers of the learning rules' model: covariates, \"stock\" (funded periods so far), \"period\"; default every covariate and stock",
    ),
    ("window", "fit on the latest periods only; default all periods so far"),
    ("kappa", "ucb only: standard errors added to the estimate; default 1"),
    ("weight", "covariate column scaling each region's gain (its population); default none"),
    ("level", "covariate column with the per-head resource level, for the Gini"),
    ("step", "how much one funded period raises a region's level; default 1"),
    (
        "tolerance",
        "recovered once the regret share is within this of its level before the shock; default 0.02",
    ),
    ("name", "label in records and reports; default from the rule and window"),
];

/// A parameter's value as TOML; an array of tables (a world's `[[nodes]]`)
/// is summarized by its length.
fn show(value: &Value) -> String {
    match value {
        Value::Array(items) if items.iter().any(Value::is_table) => {
            format!("[{} entries]", items.len())
        }
        _ => value.to_string(),
    }
}
