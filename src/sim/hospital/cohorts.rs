//! The truth of a placement world: each patient's survival under any
//! placement of the day's cohort, congestion included.

use std::sync::Arc;

use crate::core::stats::logistic;
use crate::data::{Cohorts, Unit};
use crate::sim::PlacementTruth;

/// Load (occupancy / capacity) at which a diagnosis group's `survival` parameter holds.
pub const REFERENCE_LOAD: f64 = 0.8;

/// The survival model behind a sample's cohorts: the world's truth of any
/// placement.
///
/// Patient `i`'s survival in unit `w` is
/// `logistic(risk[i] + w * specialization[i] - spillover * (load_w - REFERENCE_LOAD))`,
/// where `load_w` is unit `w`'s occupancy over its capacity once the whole
/// cohort is placed. Through `load_w` one patient's placement changes the
/// survival of everyone else placed in the same unit that day (the congestion
/// spillover); with `spillover = 0` it does not, and SUTVA holds. Occupancy on
/// later days is held at its observed level: the truth of a placement is its
/// effect on the day's own cohort.
#[derive(Debug, Clone, PartialEq)]
pub struct Survival {
    /// The cohorts the model applies to.
    pub cohorts: Arc<Cohorts>,
    /// Each patient's survival log-odds in the surgical unit at the reference
    /// load, unobserved severity included.
    pub risk: Vec<f64>,
    /// Each patient's log-odds gain from internal medicine.
    pub specialization: Vec<f64>,
    /// Each patient's unobserved severity (standard normal), which `risk` includes.
    pub severity: Vec<f64>,
    /// Log-odds of survival lost per unit of the own unit's load.
    pub spillover: f64,
}

impl Survival {
    /// Survival probability of patient `i` in `unit` when the unit's occupancy is `busyness`.
    pub fn survival_at(&self, i: usize, unit: Unit, busyness: f64) -> f64 {
        let day = &self.cohorts.days[self.cohorts.day_of[i]];
        let w = unit as usize;
        let load = busyness / day.capacity[w];
        let gain = if w == 1 { self.specialization[i] } else { 0.0 };
        logistic(self.risk[i] + gain - self.spillover * (load - REFERENCE_LOAD))
    }
}

impl PlacementTruth for Survival {
    fn survival(&self, i: usize, unit: Unit, in_internal_medicine: usize) -> f64 {
        let day = &self.cohorts.days[self.cohorts.day_of[i]];
        let busyness = day.busyness(in_internal_medicine)[unit as usize];
        self.survival_at(i, unit, busyness)
    }

    fn welfare(&self, day: usize, placement: &[bool]) -> f64 {
        let cohort = &self.cohorts.days[day];
        assert_eq!(placement.len(), cohort.size(), "one placement per patient");
        let j = placement.iter().filter(|&&p| p).count();
        (cohort.start..cohort.end)
            .zip(placement)
            .map(|(i, &p)| {
                let unit = if p {
                    Unit::InternalMedicine
                } else {
                    Unit::Surgical
                };
                self.survival(i, unit, j)
            })
            .sum()
    }

    fn as_any(&self) -> &dyn std::any::Any {
        self
    }
}
