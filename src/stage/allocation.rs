//! The allocation stage: each `kind = "allocate"` policy distributes its
//! budget across the sample's regions from its estimator's effects, judged
//! by the world's per-region effects (a failure is recorded with the policy).

use super::{encode, policy_part, Part, PolicyOutcome, Stage, TaskState};
use crate::core::seed;
use crate::evaluate::allocation::{evaluate_allocation, AllocationSummary};
use crate::policy::allocation::AllocationSpec;
use crate::record::Record;
use crate::spec::Experiment;
use crate::Result;

/// The key of this stage's outcome in records.
pub const NAME: &str = "allocation";

/// Runs every allocation policy of the experiment.
pub struct AllocationStage {
    policies: Vec<AllocationSpec>,
}

impl AllocationStage {
    /// The stage of an experiment with allocation policies; `None` without any.
    pub fn build(experiment: &Experiment) -> Result<Option<Box<dyn Stage>>> {
        if experiment.allocations.is_empty() {
            return Ok(None);
        }
        Ok(Some(Box::new(AllocationStage {
            policies: experiment.allocations.clone(),
        })))
    }
}

impl Stage for AllocationStage {
    fn name(&self) -> &'static str {
        NAME
    }

    fn parts(&self) -> Result<Vec<Part>> {
        self.policies
            .iter()
            .map(|p| policy_part(NAME, &p.name, p.estimator.as_ref(), p))
            .collect()
    }

    fn run(
        &self,
        task: &mut TaskState<'_>,
        run: &[bool],
    ) -> Result<Vec<Option<serde_json::Value>>> {
        self.policies
            .iter()
            .zip(run)
            .map(|(policy, &on)| on.then(|| self.allocate(policy, task)).transpose())
            .collect()
    }
}

impl AllocationStage {
    /// One policy's allocation on the task's sample, judged and encoded.
    fn allocate(&self, policy: &AllocationSpec, task: &TaskState<'_>) -> Result<serde_json::Value> {
        let estimate = match &policy.estimator {
            None => Ok(None),
            Some(name) => task.fit(name).map(|f| Some(&f.estimate)),
        };
        let seed = seed::estimator_seed(task.seed, &format!("allocate {}", policy.name));
        let sample = &task.sample;
        let summary = estimate.and_then(|estimate| {
            evaluate_allocation(policy, &sample.data, &sample.truth.tau, estimate, seed)
                .map_err(|e| e.to_string())
        });
        encode(NAME, &PolicyOutcome::new(&policy.name, summary))
    }
}

/// The allocation policies' results of a record, in the experiment's order;
/// empty when the record has none.
pub fn results(record: &Record) -> Result<Vec<AllocationResult>> {
    record.outcome(NAME).unwrap_or_else(|| Ok(Vec::new()))
}

/// One allocation policy's outcome on one task.
pub type AllocationResult = PolicyOutcome<AllocationSummary>;
