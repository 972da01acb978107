//! The hospital world's conditional truth: each patient's effect given what
//! is observed, with the unobserved severity integrated out.

use std::collections::BTreeMap;

use super::cohorts::{Survival, REFERENCE_LOAD};
use super::HospitalSim;
use crate::core::stats::logistic;
use crate::sim::Sample;
use crate::{Error, Result};

impl HospitalSim {
    /// Fills the sample's `cate` and `clate` and each group's
    /// `conditional_cate_<code>`.
    pub(super) fn conditional_truth(&self, sample: &mut Sample) -> Result<()> {
        let survival = sample
            .truth
            .placement
            .as_ref()
            .and_then(|p| p.as_any().downcast_ref::<Survival>())
            .ok_or_else(|| {
                Error::Data(
                    "a hospital sample without its survival model cannot give conditional truth"
                        .into(),
                )
            })?
            .clone();
        let cohorts = &survival.cohorts;
        let world = &self.world;
        let (nodes, weights) = &self.quadrature;
        let severity_effect = world.survival.severity;
        let x = &sample.data.x;
        let bcol = self.columns().busyness();
        let mut cate = Vec::with_capacity(sample.data.n());
        for i in 0..sample.data.n() {
            // Severity is independent of everything observed, so E[tau | x]
            // integrates it over N(0, 1) around the patient's risk without it.
            let cohort = &cohorts.days[cohorts.day_of[i]];
            let loads = [
                x[[i, bcol]] / cohort.capacity[0],
                x[[i, bcol + 1]] / cohort.capacity[1],
            ];
            let rest = survival.risk[i] + severity_effect * survival.severity[i];
            let gain = survival.specialization[i];
            let spill = world.spillover;
            let effect: f64 = nodes
                .iter()
                .zip(weights)
                .map(|(&s, &wt)| {
                    let r = rest - severity_effect * s;
                    let p1 = logistic(r + gain - spill * (loads[1] - REFERENCE_LOAD));
                    let p0 = logistic(r - spill * (loads[0] - REFERENCE_LOAD));
                    wt * (p1 - p0)
                })
                .sum();
            cate.push(effect);
        }
        let codes = cohorts.diagnoses.clone();
        let diagnosis = cohorts.diagnosis.clone();
        group_means(
            &mut sample.truth.values,
            "conditional_cate",
            &codes,
            &diagnosis,
            &cate,
        );
        // Compliance does not depend on severity, so compliers' conditional
        // effect equals everyone's.
        sample.truth.clate = Some(cate.clone());
        sample.truth.cate = cate;
        Ok(())
    }
}

/// Inserts `<prefix>_<code>`, the mean of `values` over the units of each group.
pub(super) fn group_means(
    out: &mut BTreeMap<String, f64>,
    prefix: &str,
    codes: &[String],
    group: &[usize],
    values: &[f64],
) {
    let mut sums = vec![(0.0, 0usize); codes.len()];
    for (&g, &v) in group.iter().zip(values) {
        sums[g].0 += v;
        sums[g].1 += 1;
    }
    for (code, (sum, count)) in codes.iter().zip(sums) {
        if count > 0 {
            out.insert(format!("{prefix}_{code}"), sum / count as f64);
        }
    }
}
