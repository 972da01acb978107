//! The `[[policies]]` of one task. Each placement rule places every day's
//! cohort of the sample's hospital world, from the named forest's effects and
//! bounds at the busyness each placement creates; each allocation distributes
//! its budget across the sample's regions. Both are judged against the truth.

use std::collections::BTreeMap;

use super::seed;
use super::store::{AllocationResult, PolicyResult};
use crate::estimate::forest::FittedForest;
use crate::estimate::Estimate;
use crate::evaluate::allocation::evaluate_allocation;
use crate::evaluate::placement::{placement_days, summarize_policy, Model, PlacementDay, Training};
use crate::sim::hospital::Unit;
use crate::sim::Sample;
use crate::spec::policy::available_bounds;
use crate::spec::Experiment;
use crate::{Error, Result};

/// Every policy of the experiment on one sample; a failure is recorded with
/// the policy, not raised, like an estimator's.
pub(super) fn run(
    experiment: &Experiment,
    sample: &Sample,
    forests: &BTreeMap<String, FittedForest>,
    fits: &[Result<Estimate>],
) -> Vec<PolicyResult> {
    let mut days: BTreeMap<Option<&str>, std::result::Result<Vec<PlacementDay>, String>> =
        BTreeMap::new();
    experiment
        .policies
        .iter()
        .map(|policy| {
            let key = policy.estimator.as_deref();
            let built = days
                .entry(key)
                .or_insert_with(|| {
                    build_days(experiment, sample, key, forests, fits).map_err(|e| e.to_string())
                })
                .as_ref();
            let summary = built.map_err(String::clone).and_then(|days| {
                let cohorts = sample.cohorts.as_ref().ok_or("the sample has no cohorts")?;
                summarize_policy(
                    cohorts,
                    days,
                    policy.rule,
                    policy.solver,
                    policy.reassignment_limit,
                )
                .map_err(|e| e.to_string())
            });
            match summary {
                Ok(summary) => PolicyResult {
                    policy: policy.name.clone(),
                    summary: Some(summary),
                    error: None,
                },
                Err(e) => PolicyResult {
                    policy: policy.name.clone(),
                    summary: None,
                    error: Some(format!("policy `{}`: {e}", policy.name)),
                },
            }
        })
        .collect()
}

/// Every allocation policy of the experiment on one sample, judged by the
/// world's per-region effects; a failure is recorded with the policy.
pub(super) fn allocations(
    experiment: &Experiment,
    sample: &Sample,
    fits: &[Result<Estimate>],
    task_seed: u64,
) -> Vec<AllocationResult> {
    experiment
        .allocations
        .iter()
        .map(|policy| {
            let estimate = match &policy.estimator {
                None => Ok(None),
                Some(name) => experiment
                    .estimators
                    .iter()
                    .zip(fits)
                    .find(|(e, _)| e.name == *name)
                    .ok_or_else(|| format!("no estimator `{name}`"))
                    .and_then(|(_, fit)| {
                        fit.as_ref()
                            .map(Some)
                            .map_err(|e| format!("its estimator `{name}` failed: {e}"))
                    }),
            };
            let seed = seed::estimator_seed(task_seed, &format!("allocate {}", policy.name));
            let summary = estimate.and_then(|estimate| {
                evaluate_allocation(policy, &sample.data, &sample.truth.tau, estimate, seed)
                    .map_err(|e| e.to_string())
            });
            match summary {
                Ok(summary) => AllocationResult {
                    policy: policy.name.clone(),
                    summary: Some(summary),
                    error: None,
                },
                Err(e) => AllocationResult {
                    policy: policy.name.clone(),
                    summary: None,
                    error: Some(format!("policy `{}`: {e}", policy.name)),
                },
            }
        })
        .collect()
}

/// Every day's objectives for the policies reading `estimator` (or none).
fn build_days(
    experiment: &Experiment,
    sample: &Sample,
    estimator: Option<&str>,
    forests: &BTreeMap<String, FittedForest>,
    fits: &[Result<Estimate>],
) -> Result<Vec<PlacementDay>> {
    let cohorts = sample.cohorts.as_ref().ok_or_else(|| {
        Error::Spec(
            "placement policies need a hospital world's cohorts; this sample has none".into(),
        )
    })?;
    let data = &sample.data;
    let w = data.w.to_vec();
    let all: Vec<usize> = (0..cohorts.days.len()).collect();
    let Some(name) = estimator else {
        return placement_days(cohorts, &data.x, &w, &all, None);
    };
    let forest = forests.get(name).ok_or_else(|| {
        let why = experiment
            .estimators
            .iter()
            .zip(fits)
            .find(|(e, _)| e.name == name)
            .and_then(|(_, fit)| fit.as_ref().err())
            .map_or_else(|| "it gave no forest".to_string(), |e| e.to_string());
        Error::Estimate(format!("its estimator `{name}` failed: {why}"))
    })?;
    let column = |unit: Unit| {
        let wanted = format!("busyness_{}", unit.name());
        data.x_names
            .iter()
            .position(|n| *n == wanted)
            .ok_or_else(|| Error::Data(format!("the sample has no `{wanted}` column")))
    };
    let bounds = available_bounds(&experiment.estimators, name);
    let (y, z) = (data.y.to_vec(), data.z.as_ref().map(|z| z.to_vec()));
    let instrumented = experiment
        .estimators
        .iter()
        .any(|e| e.name == name && e.spec.kind() == "instrumental_forest");
    let model = Model {
        forest,
        busyness: [column(Unit::Surgical)?, column(Unit::InternalMedicine)?],
        bounds: &bounds,
        training: Training {
            y: &y,
            w: &w,
            z: if instrumented { z.as_deref() } else { None },
        },
    };
    placement_days(cohorts, &data.x, &w, &all, Some(&model))
}
