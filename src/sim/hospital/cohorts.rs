//! The truth of a placement world: who is placed together on each
//! hospital-day, the occupancy those patients meet, and each patient's
//! survival under any placement of the day's cohort.

use super::calendar::Date;
use crate::core::stats::logistic;

/// Load (occupancy / capacity) at which a diagnosis group's `survival` parameter holds.
pub const REFERENCE_LOAD: f64 = 0.8;

/// A normal care unit; the index is the treatment value W.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unit {
    /// The surgical NCU (W = 0).
    Surgical = 0,
    /// The internal-medicine NCU (W = 1).
    InternalMedicine = 1,
}

impl Unit {
    /// Both units, indexed by W.
    pub const BOTH: [Unit; 2] = [Unit::Surgical, Unit::InternalMedicine];

    /// Short name used in columns and reports.
    pub fn name(self) -> &'static str {
        match self {
            Unit::Surgical => "surgical",
            Unit::InternalMedicine => "internal_medicine",
        }
    }
}

/// One hospital-day's cohort: the patients placed that day and what they meet.
#[derive(Debug, Clone, PartialEq)]
pub struct CohortDay {
    /// Index into [`Cohorts::hospitals`].
    pub hospital: usize,
    /// The admission date.
    pub date: Date,
    /// The cohort's patients are rows `start..end` of the sample.
    pub start: usize,
    /// One past the cohort's last row.
    pub end: usize,
    /// Occupancy of [surgical, internal medicine] before the cohort is placed
    /// (background patients and study patients admitted on earlier days).
    pub base: [f64; 2],
    /// Beds of [surgical, internal medicine].
    pub capacity: [f64; 2],
}

impl CohortDay {
    /// Number of patients in the cohort.
    pub fn size(&self) -> usize {
        self.end - self.start
    }

    /// Free beds of [surgical, internal medicine] before the cohort is placed.
    pub fn free_beds(&self) -> [f64; 2] {
        [
            self.capacity[0] - self.base[0],
            self.capacity[1] - self.base[1],
        ]
    }

    /// Occupancy of [surgical, internal medicine] when `in_internal_medicine` of the cohort go there.
    pub fn busyness(&self, in_internal_medicine: usize) -> [f64; 2] {
        let j = in_internal_medicine as f64;
        [self.base[0] + self.size() as f64 - j, self.base[1] + j]
    }
}

/// Every cohort of a sample with the survival model behind it, so the true
/// welfare of any placement can be computed.
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
pub struct Cohorts {
    /// Hospital names, indexed by [`CohortDay::hospital`].
    pub hospitals: Vec<String>,
    /// Diagnosis group codes, indexed by [`Cohorts::diagnosis`].
    pub diagnoses: Vec<String>,
    /// Every cohort day, in row order.
    pub days: Vec<CohortDay>,
    /// Each patient's cohort, an index into `days`.
    pub day_of: Vec<usize>,
    /// Each patient's diagnosis group, an index into `diagnoses`.
    pub diagnosis: Vec<usize>,
    /// Each patient's survival log-odds in the surgical unit at the reference
    /// load, unobserved severity included.
    pub risk: Vec<f64>,
    /// Each patient's log-odds gain from internal medicine.
    pub specialization: Vec<f64>,
    /// Each patient's unobserved severity (standard normal), which `risk` includes.
    pub severity: Vec<f64>,
    /// Log-odds of survival lost per unit of the own unit's load.
    pub spillover: f64,
    /// Occupancy of [surgical, internal medicine] of each hospital on every calendar day, study patients included.
    pub occupancy: Vec<[Vec<f64>; 2]>,
    /// The first calendar day, for `occupancy`.
    pub first_date: Date,
}

impl Cohorts {
    /// Survival probability of patient `i` in `unit` when the unit's occupancy is `busyness`.
    pub fn survival_at(&self, i: usize, unit: Unit, busyness: f64) -> f64 {
        let day = &self.days[self.day_of[i]];
        let w = unit as usize;
        let load = busyness / day.capacity[w];
        let gain = if w == 1 { self.specialization[i] } else { 0.0 };
        logistic(self.risk[i] + gain - self.spillover * (load - REFERENCE_LOAD))
    }

    /// Survival probability of patient `i` in `unit` when `in_internal_medicine`
    /// patients of its cohort (itself included if placed there) go to internal medicine.
    pub fn survival(&self, i: usize, unit: Unit, in_internal_medicine: usize) -> f64 {
        let day = &self.days[self.day_of[i]];
        let busyness = day.busyness(in_internal_medicine)[unit as usize];
        self.survival_at(i, unit, busyness)
    }

    /// Expected survivors of cohort `day` under `placement` (true = internal
    /// medicine, one entry per patient of the cohort in row order): the true
    /// welfare of that placement, congestion spillover included.
    pub fn welfare(&self, day: usize, placement: &[bool]) -> f64 {
        let cohort = &self.days[day];
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
}
