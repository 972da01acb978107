//! Stages: what a task does with its sample, one after another. Each stage
//! (the estimators, the paper's pipeline, placement, allocation and
//! feedback policies, and any later one) is made of parts (one estimator, one
//! policy), each with its own settings and outcome, so that a run can reuse
//! the outcomes of parts that did not change and run only the others. The
//! record keeps a stage's outcomes under its name; the runner and the store
//! name none of them.
//!
//! Adding a stage is one new file here with a type that implements
//! [`Stage`], and one line in [`build`].
//!
//! Records hold finite numbers only (JSON has no NaN): a stage records a
//! result with a number that is not finite as a failure with its reason
//! (an estimator's fit, a policy, the paper's pipeline), and [`encode`]
//! refuses an outcome that still holds one.

pub mod allocation;
pub mod estimators;
pub mod feedback;
pub mod paper;
pub mod placement;

use crate::estimate::forest::FittedForest;
use crate::estimate::Estimate;
use crate::record::find_non_finite;
use crate::sim::{Sample, Sim};
use crate::spec::Experiment;
use crate::Result;

/// One part of a stage: what has its own outcome in every record and its
/// own print in the layout, so that a change to it invalidates its own
/// results and those of the parts that read it, and no others.
#[derive(Debug, Clone)]
pub struct Part {
    /// Its label in the experiment (an estimator's or a policy's name).
    pub name: String,
    /// Its settings as they enter its print.
    pub settings: serde_json::Value,
    /// The parts of earlier stages whose results it reads, as (stage name,
    /// part label): a policy reads its estimator's fit.
    pub reads: Vec<(&'static str, String)>,
}

/// One step of every task: a plain function of the task's state and seed.
pub trait Stage: Send + Sync {
    /// The key of this stage's outcomes in every record.
    fn name(&self) -> &'static str;

    /// The stage's parts, in the order of their outcomes in a record.
    fn parts(&self) -> Result<Vec<Part>>;

    /// Runs the parts flagged in `run` (one flag per part, in order) on one
    /// task and returns each one's outcome, encoded, and `None` for a part
    /// not run. A part's outcome never depends on which others run: each
    /// draws from its own seed. A failure of the method on this sample (an
    /// estimator that cannot fit, a policy whose cohort does not fit)
    /// belongs in the outcome; an error here stops the run.
    fn run(&self, task: &mut TaskState<'_>, run: &[bool])
        -> Result<Vec<Option<serde_json::Value>>>;
}

/// An estimator's fit as later stages see it: the estimate and, for the
/// forests, the fitted forest (placement policies predict with it at the
/// busyness each placement would create).
#[derive(Debug)]
pub struct Fitted {
    /// The estimate, per-unit effects included where the estimator has them.
    pub estimate: Estimate,
    /// The fitted forest, for estimators that are forests and feed a policy.
    pub forest: Option<FittedForest>,
}

/// One estimator's fit on the task's sample, or why it failed.
#[derive(Debug)]
pub struct Fit {
    /// The estimator's label in the experiment.
    pub name: String,
    /// The fit, or the reason it failed.
    pub result: std::result::Result<Fitted, String>,
}

/// What the stages of one task share: the sample, the task's seed, and the
/// estimators' fits once the estimators stage has run.
pub struct TaskState<'a> {
    /// The generated sample: data and truth.
    pub sample: Sample,
    /// The task's seed; each stage derives its own from it by name.
    pub seed: u64,
    /// Every estimator's fit, in the experiment's order.
    pub fits: Vec<Fit>,
    sim: &'a dyn Sim,
    conditional: bool,
}

impl<'a> TaskState<'a> {
    /// The state of a task whose sample `sim` drew with `seed`.
    pub fn new(sim: &'a dyn Sim, sample: Sample, seed: u64) -> Self {
        TaskState {
            sample,
            seed,
            fits: Vec::new(),
            sim,
            conditional: false,
        }
    }

    /// Adds the per-unit conditional truth to the sample, once: it costs more
    /// than drawing the sample, so only stages that compare per-unit effects ask.
    pub fn ensure_conditional_truth(&mut self) -> Result<()> {
        if !self.conditional {
            self.sim.add_conditional_truth(&mut self.sample)?;
            self.conditional = true;
        }
        Ok(())
    }

    /// The fit of the estimator named `name`, or why there is none.
    pub fn fit(&self, name: &str) -> std::result::Result<&Fitted, String> {
        let fit = self
            .fits
            .iter()
            .find(|f| f.name == name)
            .ok_or_else(|| format!("no estimator `{name}`"))?;
        fit.result
            .as_ref()
            .map_err(|e| format!("its estimator `{name}` failed: {e}"))
    }
}

/// One policy's outcome on one task: its summary, or the reason it failed
/// (its estimator failed, a day's cohort cannot be placed, the floor does
/// not fit the budget, ...). Placement and allocation share it.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(bound(deserialize = "S: serde::Deserialize<'de>"))]
pub struct PolicyOutcome<S> {
    /// The policy's label in the experiment.
    pub policy: String,
    /// Its results, when it ran.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub summary: Option<S>,
    /// Why it failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

impl<S: serde::Serialize> PolicyOutcome<S> {
    /// The outcome of the policy named `name`; a failure is prefixed with
    /// the policy's name. A summary with a number that is not finite is a
    /// failure that names the number.
    pub fn new(name: &str, result: std::result::Result<S, String>) -> Self {
        let result = result.and_then(|summary| match find_non_finite(&summary) {
            None => Ok(summary),
            Some(found) => Err(format!("its result is not finite: {found}")),
        });
        match result {
            Ok(summary) => PolicyOutcome {
                policy: name.to_string(),
                summary: Some(summary),
                error: None,
            },
            Err(e) => PolicyOutcome {
                policy: name.to_string(),
                summary: None,
                error: Some(format!("policy `{name}`: {e}")),
            },
        }
    }
}

/// Encodes a stage's outcome for the record. An outcome holding a number
/// that is not finite is an error (JSON would hold it as `null`): a stage
/// records such a result as a failure before it gets here.
pub(crate) fn encode<T: serde::Serialize>(name: &str, outcome: &T) -> Result<serde_json::Value> {
    if let Some(found) = find_non_finite(outcome) {
        return Err(crate::Error::Store(format!(
            "cannot record the `{name}` outcome: {found}; a record holds finite numbers only"
        )));
    }
    serde_json::to_value(outcome)
        .map_err(|e| crate::Error::Store(format!("cannot encode the `{name}` outcome: {e}")))
}

/// Encodes a part's settings for its print. A number that is not finite is
/// an error: it could not be told from another in the print, nor be
/// recorded in the manifest.
pub(crate) fn settings<T: serde::Serialize>(name: &str, settings: &T) -> Result<serde_json::Value> {
    if let Some(found) = find_non_finite(settings) {
        return Err(crate::Error::Store(format!(
            "the experiment's `{name}` settings hold a number that is not finite ({found}); \
             every number of an experiment must be finite"
        )));
    }
    serde_json::to_value(settings)
        .map_err(|e| crate::Error::Store(format!("cannot encode the `{name}` settings: {e}")))
}

/// The part of one policy of the stage `stage`: its settings, and the fit
/// of its estimator when it names one.
pub(crate) fn policy_part<P: serde::Serialize>(
    stage: &str,
    name: &str,
    estimator: Option<&String>,
    policy: &P,
) -> Result<Part> {
    Ok(Part {
        name: name.to_string(),
        settings: settings(stage, policy)?,
        reads: estimator
            .map(|e| (estimators::NAME, e.clone()))
            .into_iter()
            .collect(),
    })
}

/// The registry: the stages an experiment runs, in order. Each line builds
/// one stage from the experiment's spec, or nothing when the experiment does
/// not ask for it.
pub fn build(experiment: &Experiment) -> Result<Vec<Box<dyn Stage>>> {
    let stages: [Option<Box<dyn Stage>>; 5] = [
        estimators::EstimatorsStage::build(experiment)?,
        paper::PaperStage::build(experiment)?,
        placement::PlacementStage::build(experiment)?,
        allocation::AllocationStage::build(experiment)?,
        feedback::FeedbackStage::build(experiment)?,
    ];
    Ok(stages.into_iter().flatten().collect())
}
