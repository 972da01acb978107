//! Experiments: a sim, parameter overrides, a sweep grid, estimators,
//! replications and a seed; parsed, validated and expanded into cells.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use toml::{Spanned, Value};

use super::allocation::AllocationEntry;
use super::feedback::FeedbackEntry;
use super::lint::{self, Key};
use super::policy::PolicyEntry;
use super::sweep::{self, Axis, Cell, SpannedTable};
use super::{EstimatorSpec, NamedEstimator, SimSpec, SourceFile};
use crate::core::text::elide;
use crate::data::strategy::DataStep;
use crate::paper::PaperSpec;
use crate::policy::allocation::{AllocationSpec, Eligible};
use crate::policy::feedback::FeedbackSpec;
use crate::policy::placement::PlacementSpec;
use crate::{Error, Result};

/// How the report reads the results: its title and description, and two
/// choices of the reader's that change no result (so they stay out of the
/// fingerprint).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ReportSpec {
    /// Report title (defaults to the experiment's name).
    pub title: Option<String>,
    /// A paragraph saying what the experiment asks.
    pub description: Option<String>,
    /// The distance from the truth beyond which an estimate counts as far
    /// off in the `far` diagnosand (default [`crate::summary::FAR`]).
    pub far: Option<f64>,
    /// Diagnostics (e.g. `first_stage_f`) to plot the diagnosands against,
    /// each cell placed at the mean of the diagnostic over its replications.
    pub against: Vec<String>,
}

impl ReportSpec {
    /// The distance that makes an estimate far off.
    pub fn far(&self) -> f64 {
        self.far.unwrap_or(crate::summary::FAR)
    }
}

/// Refuses a `far` distance that is not a positive number.
fn check_report(file: &SourceFile, report: &ReportSpec) -> Result<()> {
    match report.far {
        Some(far) if !(far.is_finite() && far > 0.0) => Err(file.error_at(
            None,
            &format!("`report.far` is {far}; it must be a positive distance from the truth"),
        )),
        _ => Ok(()),
    }
}

/// The experiment file as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ExperimentFile {
    name: Option<Spanned<String>>,
    sim: Spanned<String>,
    #[serde(default = "default_replications")]
    replications: Spanned<usize>,
    #[serde(default)]
    seed: u64,
    #[serde(default)]
    overrides: SpannedTable,
    #[serde(default)]
    sweep: SpannedTable,
    #[serde(default)]
    estimators: Vec<Spanned<toml::Table>>,
    #[serde(default)]
    policies: Vec<Spanned<toml::Table>>,
    #[serde(default)]
    report: ReportSpec,
    paper: Option<Spanned<PaperSpec>>,
}

fn default_replications() -> Spanned<usize> {
    Spanned::new(0..0, 100)
}

/// Most replications per cell: a million runs of a cell pin its bias and
/// coverage to the third decimal, and the task list stays small.
pub const MAX_REPLICATIONS: usize = 1_000_000;

/// A parsed, validated and expanded experiment.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Experiment {
    /// Name (the file stem unless `name` is set); the report folder is named after it.
    pub name: String,
    /// Replications per cell.
    pub replications: usize,
    /// Master seed; a task's seed derives from it and the replication.
    pub seed: u64,
    /// The swept parameters.
    pub axes: Vec<Axis>,
    /// Every cell of the grid.
    pub cells: Vec<Cell>,
    /// The estimators run on every sample (none is allowed with `[paper]`).
    pub estimators: Vec<NamedEstimator>,
    /// The placement paper's pipeline, run on every sample of a hospital
    /// world when the experiment has a `[paper]` section.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub paper: Option<PaperSpec>,
    /// The placement policies run on every sample of a hospital world.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub policies: Vec<PlacementSpec>,
    /// The allocation policies (`kind = "allocate"`) run on every sample.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub allocations: Vec<AllocationSpec>,
    /// The feedback policies (`kind = "feedback"`) run over the periods of
    /// every sample of a world with `[periods]`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub feedback: Vec<FeedbackSpec>,
    /// Report title and description.
    pub report: ReportSpec,
    /// The experiment file's text, as run.
    pub experiment_source: String,
    /// The sim file's text, as run.
    pub sim_source: String,
}

impl Experiment {
    /// Reads, validates and expands an experiment file (and the sim it names).
    pub fn load(path: &Path) -> Result<Experiment> {
        let file = SourceFile::read(path)?;
        let raw: ExperimentFile = file.parse()?;
        let name = experiment_name(&file, path, raw.name)?;
        let replications = check_replications(&file, &raw.replications)?;
        sweep::check_overrides_not_swept(&file, &raw.overrides, &raw.sweep)?;
        let (sim_file, base) = base_sim(&file, path, &raw.sim, &raw.overrides)?;
        let axes = sweep::sweep_axes(&file, &base, &raw.sweep)?;
        sweep::check_grid(&file, &raw.sweep, &axes, replications)?;
        let cells = sweep::expand_cells(&file, &base, &axes, &raw.sweep)?;
        let paper = match raw.paper {
            Some(paper) => Some(check_paper(&file, &raw.sim, paper, &cells)?),
            None => None,
        };
        if raw.estimators.is_empty() && paper.is_none() && raw.policies.is_empty() {
            return Err(nothing_to_run(&file, &base));
        }
        check_report(&file, &raw.report)?;
        let estimators = parse_estimators(&file, raw.estimators, &cells)?;
        let Policies {
            placements: policies,
            allocations,
            feedback,
        } = parse_policies(&file, &raw.sim, raw.policies, &estimators, &cells)?;
        Ok(Experiment {
            name,
            replications,
            seed: raw.seed,
            axes,
            cells,
            estimators,
            paper,
            policies,
            allocations,
            feedback,
            report: raw.report,
            experiment_source: file.text,
            sim_source: sim_file.text,
        })
    }

    /// Whether a placement policy predicts with the forest of the estimator
    /// named `name` (so its fit must keep the forest).
    pub fn forest_feeds_a_policy(&self, name: &str) -> bool {
        self.policies
            .iter()
            .any(|p| p.estimator.as_deref() == Some(name))
    }

    /// The experiment recorded in a report folder's manifest (by `causim run`).
    pub fn recorded(dir: &Path) -> Result<Experiment> {
        Self::from_manifest(dir, crate::record::read_manifest(dir)?)
    }

    /// The experiment recorded in `manifest`, read from the folder `dir`
    /// (named in the error when it cannot be read).
    pub fn from_manifest(dir: &Path, manifest: crate::record::Manifest) -> Result<Experiment> {
        serde_json::from_value(manifest.experiment).map_err(|e| {
            Error::Store(format!(
                "{}: the experiment in its manifest cannot be read ({e}); rerun with --fresh",
                dir.display()
            ))
        })
    }

    /// Number of tasks: cells × replications.
    pub fn task_count(&self) -> usize {
        self.cells.len() * self.replications
    }

    /// "key = value, key = value" for a cell, or "base" when nothing is swept.
    pub fn cell_label(&self, cell: &Cell) -> String {
        sweep::describe_cell(&self.axes, &cell.values)
    }
}

/// Longest experiment name: it names a folder, and file systems limit names
/// to 255 bytes.
pub const MAX_NAME_CHARS: usize = 100;

/// The experiment's name: `name` if set, else the file stem. It names the
/// report folder inside `--out`, so it must be a plain folder name: no path
/// separator, not `.` or `..`, no control character, at most
/// [`MAX_NAME_CHARS`] characters.
fn experiment_name(
    file: &SourceFile,
    path: &Path,
    name: Option<Spanned<String>>,
) -> Result<String> {
    let (name, span) = match name {
        Some(name) => (name.get_ref().clone(), Some(name.span())),
        None => (
            path.file_stem()
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_else(|| "experiment".to_string()),
            None,
        ),
    };
    let problem = if name.is_empty() {
        Some("is empty")
    } else if name == "." || name == ".." {
        Some("would name the output folder itself or its parent")
    } else if name.contains(['/', '\\']) {
        Some("holds a path separator")
    } else if name.chars().any(char::is_control) {
        Some("holds a control character")
    } else if name.chars().count() > MAX_NAME_CHARS {
        Some("is too long")
    } else {
        None
    };
    match problem {
        Some(problem) => Err(file.error_at(
            span,
            &format!(
                "the experiment's name \"{}\" {problem}; it names the report folder, so set \
                 `name` to a plain folder name of at most {MAX_NAME_CHARS} characters, e.g. \
                 name = \"quickstart\"",
                elide(&name.escape_debug().to_string())
            ),
        )),
        None => Ok(name),
    }
}

/// `replications`, between 1 and [`MAX_REPLICATIONS`].
fn check_replications(file: &SourceFile, replications: &Spanned<usize>) -> Result<usize> {
    let r = *replications.get_ref();
    if (1..=MAX_REPLICATIONS).contains(&r) {
        return Ok(r);
    }
    let span = Some(replications.span()).filter(|s| !s.is_empty());
    Err(file.error_at(
        span,
        &format!("`replications` is {r}; it must lie between 1 and {MAX_REPLICATIONS}"),
    ))
}

/// The sim file named by `sim` (relative to the experiment) and its sim with
/// the `[overrides]` applied; an unreadable sim is reported at `sim`.
fn base_sim(
    file: &SourceFile,
    path: &Path,
    sim: &Spanned<String>,
    overrides: &SpannedTable,
) -> Result<(SourceFile, SimSpec)> {
    let sim_path = resolve(path, sim.get_ref());
    let (sim_file, mut base) = super::load_sim(&sim_path).map_err(|e| match e {
        Error::Io { error: source, .. } => file.error_at(
            Some(sim.span()),
            &format!(
                "cannot read sim `{}` ({source}); `sim` is a path relative to this file",
                sim_path.display()
            ),
        ),
        other => other,
    })?;
    for (key, value, span) in sweep::flatten(overrides) {
        let v = sweep::display_value(&value);
        base = base
            .with(&key, value)
            .and_then(|sim| sim.build().map(|_| sim).map_err(|e| e.to_string()))
            .map_err(|m| file.error_at(Some(span), &format!("override `{key}` = {v}: {m}")))?;
    }
    Ok((sim_file, base))
}

/// The error for an experiment with nothing to run: no estimators, policies
/// or (on a hospital world, the one it suggests) `[paper]` section.
fn nothing_to_run(file: &SourceFile, base: &SimSpec) -> Error {
    let or_paper = if base.places_cohorts() {
        "\nor a `[paper]` section, to run the placement paper's pipeline"
    } else {
        ""
    };
    file.error_at(
        None,
        &format!(
            "no `[[estimators]]`; add at least one, e.g.\n[[estimators]]\n\
             kind = \"two_stage_least_squares\"{or_paper}"
        ),
    )
}

/// Resolves `sim` relative to the experiment file's folder.
fn resolve(experiment: &Path, sim: &str) -> PathBuf {
    let sim = Path::new(sim);
    if sim.is_absolute() {
        return sim.to_path_buf();
    }
    experiment
        .parent()
        .map_or_else(|| sim.to_path_buf(), |dir| dir.join(sim))
}

/// Checks a `[paper]` section: valid settings, and a hospital world in
/// every cell (the pipeline needs its placement days and cohorts).
fn check_paper(
    file: &SourceFile,
    sim: &Spanned<String>,
    paper: Spanned<PaperSpec>,
    cells: &[Cell],
) -> Result<PaperSpec> {
    let span = paper.span();
    let paper = paper.into_inner();
    let default = Value::try_from(PaperSpec::default())
        .map_err(|e| Error::Spec(format!("cannot serialize the paper's defaults: {e}")))?;
    lint::check_shapes(file, &[Key::Name("paper")], &default)?;
    paper
        .validate()
        .map_err(|e| file.error_at(Some(span), &e.to_string()))?;
    if let Some(cell) = cells.iter().find(|c| !c.sim.places_cohorts()) {
        return Err(file.error_at(
            Some(sim.span()),
            &format!(
                "`[paper]` runs the placement paper's pipeline, which needs a sim of \
                 kind = \"hospital\" (such as sims/swiss_ncu.toml); `{}` is of kind `{}`",
                sim.get_ref(),
                cell.sim.kind()
            ),
        ));
    }
    Ok(paper)
}

/// The `[[estimators]]` entries, named and checked; a `kind` may be written
/// with hyphens or as an alias ([`super::KIND_ALIASES`]).
fn parse_estimators(
    file: &SourceFile,
    entries: Vec<Spanned<toml::Table>>,
    cells: &[Cell],
) -> Result<Vec<NamedEstimator>> {
    let mut out: Vec<NamedEstimator> = Vec::new();
    for (i, entry) in entries.into_iter().enumerate() {
        let span = entry.span();
        let mut table = entry.into_inner();
        if let Some(Value::String(kind)) = table.get_mut("kind") {
            *kind = EstimatorSpec::resolve_kind(kind);
        }
        let kind = table.get("kind").and_then(Value::as_str);
        if let Some(default) = EstimatorSpec::all_defaults()
            .into_iter()
            .find(|d| Some(d.kind()) == kind)
        {
            let default = Value::try_from(default)
                .map_err(|e| Error::Spec(format!("cannot serialize an estimator: {e}")))?;
            lint::check_shapes(file, &[Key::Item("estimators", i)], &default)?;
        }
        let name = match table.remove("name") {
            Some(Value::String(name)) => Some(name),
            Some(other) => {
                return Err(file.error_at(
                    Some(span),
                    &format!(
                        "estimator `name` must be a string, found {}",
                        other.type_str()
                    ),
                ))
            }
            None => None,
        };
        let data: Vec<DataStep> = match table.remove("data") {
            None => Vec::new(),
            Some(value) => {
                let value = match value {
                    Value::Table(step) => Value::Array(vec![Value::Table(step)]),
                    other => other,
                };
                let steps: Vec<DataStep> = value.try_into().map_err(|e: toml::de::Error| {
                    file.error_at(
                        Some(span.clone()),
                        &format!(
                            "estimator `data`: {} (steps are {{ kind = \"complete_cases\" | \
                             \"mean\" | \"mice\" | \"smote\" | \"pca\", ... }})",
                            e.message().trim()
                        ),
                    )
                })?;
                crate::data::strategy::validate(&steps)
                    .map_err(|e| file.error_at(Some(span.clone()), &format!("estimator: {e}")))?;
                steps
            }
        };
        let spec: EstimatorSpec =
            Value::Table(table)
                .try_into()
                .map_err(|e: toml::de::Error| {
                    file.error_at(
                        Some(span.clone()),
                        &format!("estimator: {}", e.message().trim()),
                    )
                })?;
        spec.check()
            .map_err(|e| file.error_at(Some(span.clone()), &format!("estimator: {e}")))?;
        let estimand = spec.estimator().estimand();
        if let Some(cell) = cells
            .iter()
            .find(|c| !c.sim.estimands().contains(&estimand))
        {
            let known: Vec<&str> = cell.sim.estimands().iter().map(|e| e.label()).collect();
            return Err(file.error_at(
                Some(span.clone()),
                &format!(
                    "estimator: {} targets the {}, which the `{}` world does not know, so \
                     nothing could judge it; this world knows the {}",
                    spec.kind(),
                    estimand.label(),
                    cell.sim.kind(),
                    known.join(", ")
                ),
            ));
        }
        let name = name.unwrap_or_else(|| spec.kind().to_string());
        if out.iter().any(|e| e.name == name) {
            return Err(file.error_at(
                Some(span),
                &format!("two estimators are named `{name}`; give one a distinct `name = \"...\"`"),
            ));
        }
        out.push(NamedEstimator { name, spec, data });
    }
    Ok(out)
}

/// The `[[policies]]` entries of an experiment, by family.
struct Policies {
    placements: Vec<PlacementSpec>,
    allocations: Vec<AllocationSpec>,
    feedback: Vec<FeedbackSpec>,
}

impl Policies {
    /// Every policy's name, in family then experiment order.
    fn names(&self) -> impl Iterator<Item = &String> {
        let placements = self.placements.iter().map(|p| &p.name);
        let allocations = self.allocations.iter().map(|a| &a.name);
        placements
            .chain(allocations)
            .chain(self.feedback.iter().map(|f| &f.name))
    }
}

/// The `[[policies]]` entries, checked against the estimators and named
/// uniquely: placement rules (only on a hospital world, whose cohorts they
/// place), allocations (`kind = "allocate"`, on any world) and feedback
/// rules (`kind = "feedback"`, on a world with `[periods]`).
fn parse_policies(
    file: &SourceFile,
    sim: &Spanned<String>,
    entries: Vec<Spanned<toml::Table>>,
    estimators: &[NamedEstimator],
    cells: &[Cell],
) -> Result<Policies> {
    let mut found = Policies {
        placements: Vec::new(),
        allocations: Vec::new(),
        feedback: Vec::new(),
    };
    for entry in entries {
        let span = entry.span();
        let mut table = entry.into_inner();
        let at = |m: String| file.error_at(Some(span.clone()), &format!("policy: {m}"));
        let kind = table
            .get("kind")
            .and_then(Value::as_str)
            .map(str::to_string);
        let name = match kind.as_deref() {
            Some("allocate") => {
                table.remove("kind");
                let entry: AllocationEntry = Value::Table(table)
                    .try_into()
                    .map_err(|e: toml::de::Error| at(e.message().trim().to_string()))?;
                let allocation = entry.check(estimators).map_err(at)?;
                if allocation.eligible == Eligible::Untreated {
                    if let Some(cell) = cells.iter().find(|c| c.sim.treatment_is_dose()) {
                        return Err(at(format!(
                            "`{}` funds only regions whose treatment is 0 (eligible = \
                             \"untreated\", the default), and the `{}` world's treatment is a \
                             dose, which no region has at exactly 0; set eligible = \"all\" to \
                             give extra units to any region",
                            allocation.name,
                            cell.sim.kind()
                        )));
                    }
                }
                let name = allocation.name.clone();
                found.allocations.push(allocation);
                name
            }
            Some("feedback") => {
                table.remove("kind");
                let entry: FeedbackEntry = Value::Table(table)
                    .try_into()
                    .map_err(|e: toml::de::Error| at(e.message().trim().to_string()))?;
                if let Some(cell) = cells.iter().find(|c| c.sim.periods() == 0) {
                    return Err(file.error_at(
                        Some(sim.span()),
                        &format!(
                            "feedback `[[policies]]` fund regions period after period, which \
                             needs a world over periods: a regions world with `[periods]` \
                             count = ... (such as sims/regions_feedback.toml); `{}` {}",
                            sim.get_ref(),
                            if cell.sim.kind() == "regions" {
                                "has none".to_string()
                            } else {
                                format!("is of kind `{}`", cell.sim.kind())
                            }
                        ),
                    ));
                }
                let feedback = entry.check().map_err(at)?;
                let name = feedback.name.clone();
                found.feedback.push(feedback);
                name
            }
            _ => {
                let entry: PolicyEntry = Value::Table(table)
                    .try_into()
                    .map_err(|e: toml::de::Error| at(e.message().trim().to_string()))?;
                if let Some(cell) = cells.iter().find(|c| !c.sim.places_cohorts()) {
                    return Err(file.error_at(
                        Some(sim.span()),
                        &format!(
                            "placement `[[policies]]` place each day's cohort of a hospital \
                             world, which needs a sim of kind = \"hospital\" (such as \
                             sims/swiss_ncu.toml); `{}` is of kind `{}` (on any world, kind = \
                             \"allocate\" distributes a budget instead)",
                            sim.get_ref(),
                            cell.sim.kind()
                        ),
                    ));
                }
                let policy = entry.check(estimators).map_err(at)?;
                let name = policy.name.clone();
                found.placements.push(policy);
                name
            }
        };
        if found.names().filter(|n| **n == name).count() > 1 {
            return Err(file.error_at(
                Some(span),
                &format!("two policies are named `{name}`; give one a distinct `name = \"...\"`"),
            ));
        }
    }
    Ok(found)
}
