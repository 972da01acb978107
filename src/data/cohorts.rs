//! Cohorts: units decided on together. On a placement world each
//! hospital-day's patients are placed at once into two units whose beds
//! they share, so a placement policy decides a day's cohort as a whole,
//! within the day's free beds. This is observed structure, like a column's
//! role; a user's own data can carry it too.

use super::Date;

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

/// Every cohort of a sample as an analyst sees it: who was placed together
/// on each hospital-day, the occupancy and beds those patients met, and each
/// patient's diagnosis group. What each placement would do to survival is
/// the world's truth (`crate::sim::PlacementTruth`), not part of this.
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
    /// Occupancy of [surgical, internal medicine] of each hospital on every calendar day, study patients included.
    pub occupancy: Vec<[Vec<f64>; 2]>,
    /// The first calendar day, for `occupancy`.
    pub first_date: Date,
}
