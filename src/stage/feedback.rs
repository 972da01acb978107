//! The feedback stage: each `kind = "feedback"` policy funds regions period
//! after period from what it has seen, judged by the world's dynamics over
//! its periods (a failure is recorded with the policy).

use super::{encode, policy_part, Part, PolicyOutcome, Stage, TaskState};
use crate::core::seed;
use crate::evaluate::feedback::{evaluate_feedback, FeedbackSummary};
use crate::policy::feedback::FeedbackSpec;
use crate::record::Record;
use crate::spec::Experiment;
use crate::Result;

/// The key of this stage's outcome in records.
pub const NAME: &str = "feedback";

/// Runs every feedback policy of the experiment.
pub struct FeedbackStage {
    policies: Vec<FeedbackSpec>,
}

impl FeedbackStage {
    /// The stage of an experiment with feedback policies; `None` without any.
    pub fn build(experiment: &Experiment) -> Result<Option<Box<dyn Stage>>> {
        if experiment.feedback.is_empty() {
            return Ok(None);
        }
        Ok(Some(Box::new(FeedbackStage {
            policies: experiment.feedback.clone(),
        })))
    }
}

impl Stage for FeedbackStage {
    fn name(&self) -> &'static str {
        NAME
    }

    fn parts(&self) -> Result<Vec<Part>> {
        self.policies
            .iter()
            .map(|p| policy_part(NAME, &p.name, None, p))
            .collect()
    }

    fn run(
        &self,
        task: &mut TaskState<'_>,
        run: &[bool],
    ) -> Result<Vec<Option<serde_json::Value>>> {
        // One noise stream for every rule: they are compared on the same draws.
        let noise_seed = seed::estimator_seed(task.seed, "feedback outcomes");
        self.policies
            .iter()
            .zip(run)
            .map(|(policy, &on)| {
                on.then(|| {
                    let seed =
                        seed::estimator_seed(task.seed, &format!("feedback {}", policy.name));
                    let sample = &task.sample;
                    let summary = match &sample.truth.periods {
                        None => Err("the world runs no periods: give it [periods]".to_string()),
                        Some(dynamics) => {
                            evaluate_feedback(policy, &sample.data, dynamics, noise_seed, seed)
                                .map_err(|e| e.to_string())
                        }
                    };
                    encode(NAME, &PolicyOutcome::new(&policy.name, summary))
                })
                .transpose()
            })
            .collect()
    }
}

/// The feedback policies' results of a record, in the experiment's order;
/// empty when the record has none.
pub fn results(record: &Record) -> Result<Vec<FeedbackResult>> {
    record.outcome(NAME).unwrap_or_else(|| Ok(Vec::new()))
}

/// One feedback policy's outcome on one task.
pub type FeedbackResult = PolicyOutcome<FeedbackSummary>;
