//! The placement stage: each placement `[[policies]]` entry places every
//! day's cohort of the sample's hospital world, from the named forest's
//! effects and bounds at the busyness each placement creates, and is judged
//! against the world's true survival (a failure is recorded with the policy).

use std::collections::BTreeMap;

use super::{encode, policy_part, Part, PolicyOutcome, Stage, TaskState};
use crate::bounds::BoundKind;
use crate::data::Unit;
use crate::evaluate::placement::PolicySummary;
use crate::evaluate::placement::{placement_days, summarize_policy, PlacementDay};
use crate::policy::placement::{Model, PlacementSpec, Training};
use crate::record::Record;
use crate::sim::Sample;
use crate::spec::policy::available_bounds;
use crate::spec::Experiment;
use crate::{Error, Result};

/// The key of this stage's outcome in records.
pub const NAME: &str = "placement";

/// What a policy's estimator gives it, fixed when the experiment is built.
#[derive(Debug, Clone)]
struct Source {
    /// The lower bounds the estimator can give every patient.
    bounds: Vec<BoundKind>,
    /// Whether its bounds use the instrument (an instrumental forest).
    instrumented: bool,
}

/// Places every day's cohort by each placement policy of the experiment.
pub struct PlacementStage {
    policies: Vec<PlacementSpec>,
    sources: BTreeMap<String, Source>,
}

impl PlacementStage {
    /// The stage of an experiment with placement policies; `None` without any.
    pub fn build(experiment: &Experiment) -> Result<Option<Box<dyn Stage>>> {
        if experiment.policies.is_empty() {
            return Ok(None);
        }
        let sources = experiment
            .policies
            .iter()
            .filter_map(|p| p.estimator.clone())
            .map(|name| {
                let instrumented = experiment
                    .estimators
                    .iter()
                    .any(|e| e.name == name && e.spec.is_instrumental());
                let bounds = available_bounds(&experiment.estimators, &name);
                (
                    name,
                    Source {
                        bounds,
                        instrumented,
                    },
                )
            })
            .collect();
        Ok(Some(Box::new(PlacementStage {
            policies: experiment.policies.clone(),
            sources,
        })))
    }
}

impl Stage for PlacementStage {
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
        let mut days: BTreeMap<Option<&str>, std::result::Result<Vec<PlacementDay>, String>> =
            BTreeMap::new();
        let sample = &task.sample;
        self.policies
            .iter()
            .zip(run)
            .map(|(policy, &on)| {
                if !on {
                    return Ok(None);
                }
                let key = policy.estimator.as_deref();
                let built = days
                    .entry(key)
                    .or_insert_with(|| self.build_days(task, key))
                    .as_ref();
                let summary = built.map_err(String::clone).and_then(|days| {
                    let cohorts = sample
                        .data
                        .cohorts
                        .as_deref()
                        .ok_or("the sample has no cohorts")?;
                    summarize_policy(
                        cohorts,
                        days,
                        policy.rule,
                        policy.solver,
                        policy.reassignment_limit,
                    )
                    .map_err(|e| e.to_string())
                });
                encode(NAME, &PolicyOutcome::new(&policy.name, summary)).map(Some)
            })
            .collect()
    }
}

impl PlacementStage {
    /// Every day's objectives for the policies reading `estimator` (or none).
    fn build_days(
        &self,
        task: &TaskState<'_>,
        estimator: Option<&str>,
    ) -> std::result::Result<Vec<PlacementDay>, String> {
        let sample: &Sample = &task.sample;
        let cohorts = sample.data.cohorts.as_deref().ok_or(
            "placement policies need a sample whose units are placed in cohorts (a hospital \
             world's days); this sample has none",
        )?;
        let world = sample
            .truth
            .placement
            .as_deref()
            .ok_or("the world knows no true welfare of a placement")?;
        let data = &sample.data;
        let w = data.w.to_vec();
        let all: Vec<usize> = (0..cohorts.days.len()).collect();
        let Some(name) = estimator else {
            return placement_days(cohorts, world, &data.x, &w, &all, None)
                .map_err(|e| e.to_string());
        };
        let fitted = task.fit(name)?;
        let forest = fitted
            .forest
            .as_ref()
            .ok_or_else(|| format!("its estimator `{name}` gave no forest"))?;
        let column = |unit: Unit| {
            let wanted = format!("busyness_{}", unit.name());
            data.x_names
                .iter()
                .position(|n| *n == wanted)
                .ok_or_else(|| format!("the sample has no `{wanted}` column"))
        };
        let source = self
            .sources
            .get(name)
            .ok_or_else(|| format!("no estimator `{name}`"))?;
        let (y, z) = (data.y.to_vec(), data.z.as_ref().map(|z| z.to_vec()));
        let model = Model {
            forest,
            busyness: [column(Unit::Surgical)?, column(Unit::InternalMedicine)?],
            bounds: &source.bounds,
            training: Training {
                y: &y,
                w: &w,
                z: if source.instrumented {
                    z.as_deref()
                } else {
                    None
                },
            },
        };
        placement_days(cohorts, world, &data.x, &w, &all, Some(&model))
            .map_err(|e: Error| e.to_string())
    }
}

/// The placement policies' results of a record, in the experiment's order;
/// empty when the record has none.
pub fn results(record: &Record) -> Result<Vec<PolicyResult>> {
    record.outcome(NAME).unwrap_or_else(|| Ok(Vec::new()))
}

/// One placement policy's outcome on one task.
pub type PolicyResult = PolicyOutcome<PolicySummary>;
