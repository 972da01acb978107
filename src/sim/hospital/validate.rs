//! Checking the hospital world's parameters before it is built: each
//! error names the key and the range it must lie in, and the sizes of a
//! sample (patients, covariate values, hospital-days) are bounded.

use super::calendar::Calendar;
use super::{
    HospitalSim, HospitalWorld, MAX_BEDS, MAX_CODES, MAX_COHORT_DAYS, MAX_COMORBIDITIES,
    MAX_GROUPS, MAX_HOSPITAL_DAYS, YEARS,
};
use crate::core::text::{elide, number};
use crate::sim::limits::{self, MAX_CELLS, MAX_UNITS};
use crate::{Error, Result};

/// A spec error naming the parameter.
fn invalid(key: &str, message: impl std::fmt::Display) -> Error {
    Error::Spec(format!("`{key}` {message}"))
}

/// Fails unless `value` lies in [lo, hi].
fn within(key: &str, value: f64, lo: f64, hi: f64) -> Result<()> {
    if value.is_finite() && (lo..=hi).contains(&value) {
        Ok(())
    } else {
        Err(invalid(
            key,
            format!(
                "is {}; it must lie in [{}, {}]",
                number(value),
                number(lo),
                number(hi)
            ),
        ))
    }
}

impl HospitalWorld {
    /// Checks every parameter and builds the runnable world.
    pub fn build(&self) -> Result<HospitalSim> {
        self.check_scalars()?;
        self.check_hospitals()?;
        self.check_diagnoses()?;
        self.check_sizes()?;
        Ok(HospitalSim::new(self.clone()))
    }

    /// Checks the counts against their bounds, and that a sample's expected
    /// patients and covariate values and its hospital-days fit.
    fn check_sizes(&self) -> Result<()> {
        limits::count("cohort_days", self.cohort_days, 1, MAX_COHORT_DAYS)?;
        limits::count("comorbidities", self.comorbidities, 0, MAX_COMORBIDITIES)?;
        limits::count("codes", self.codes, 0, MAX_CODES)?;
        let days = Calendar::new(self).days;
        let hospital_days = self.hospitals.len() * days;
        if hospital_days > MAX_HOSPITAL_DAYS {
            return Err(invalid(
                "hospitals",
                format!(
                    "{} hospitals over {days} calendar days make {hospital_days} \
                     hospital-days; at most {MAX_HOSPITAL_DAYS} fit, so simulate fewer years \
                     or hospitals",
                    self.hospitals.len()
                ),
            ));
        }
        let patients = self.expected_patients(days);
        let columns = self.columns();
        if patients > MAX_UNITS as f64 {
            return Err(Error::Spec(format!(
                "a sample would hold about {} patients (`cohort_days` × `scale` × \
                 `cohort.mean_size`); at most {MAX_UNITS} fit, so lower one of them",
                number(patients.round())
            )));
        }
        limits::cells(
            &format!("about {} patients", number(patients.round())),
            patients.ceil() as usize,
            columns,
        )
    }

    /// The number of covariate columns of a sample.
    pub(super) fn columns(&self) -> usize {
        self.hospitals.len() + self.diagnoses.len() + 9 + self.comorbidities + self.codes
    }

    /// The expected number of patients of a sample over `days` calendar
    /// days: each hospital's cohort days, as the generator spreads them,
    /// times the mean cohort size (at least 1).
    fn expected_patients(&self, days: usize) -> f64 {
        let total_days = (self.cohort_days as f64 * self.scale).round().max(1.0);
        let h_share: f64 = self.hospitals.values().map(|h| h.share).sum();
        let cohort_days: f64 = self
            .hospitals
            .values()
            .map(|h| (total_days * h.share / h_share).round().min(days as f64))
            .sum();
        cohort_days * self.cohort.mean_size.max(1.0)
    }

    /// Fails when `patients` drawn so far (a cohort's size can exceed its
    /// mean by far) no longer fit a sample.
    pub(super) fn check_drawn(&self, patients: usize) -> Result<()> {
        if patients <= MAX_UNITS && patients as u128 * self.columns() as u128 <= MAX_CELLS as u128 {
            return Ok(());
        }
        Err(Error::Spec(format!(
            "the hospital world drew more than {patients} patients, more than a sample can \
             hold ({MAX_UNITS} patients, {MAX_CELLS} covariate values); lower \
             `cohort.mean_size` or `cohort.dispersion`"
        )))
    }

    /// Checks the scalar parameters and coefficients against their ranges.
    fn check_scalars(&self) -> Result<()> {
        within("scale", self.scale, 1e-4, 100.0)?;
        let (first, last) = YEARS;
        let years = first..=last;
        if !years.contains(&self.first_year)
            || !years.contains(&self.last_year)
            || self.last_year < self.first_year
        {
            return Err(invalid(
                "first_year",
                format!(
                    "{} and `last_year` {} must be a range of years within {first}..{last} \
                     with first <= last",
                    self.first_year, self.last_year
                ),
            ));
        }
        within("cohort.mean_size", self.cohort.mean_size, 0.1, 10_000.0)?;
        within("cohort.dispersion", self.cohort.dispersion, 0.0, 10.0)?;
        within("length_of_stay", self.length_of_stay, 1.0, 365.0)?;
        if self.informative_codes > self.codes {
            return Err(invalid(
                "informative_codes",
                format!(
                    "is {} but there are only {} codes; raise `codes` or lower it",
                    self.informative_codes, self.codes
                ),
            ));
        }
        within("code_prevalence", self.code_prevalence, 0.0, 1.0)?;
        within(
            "noise_code_prevalence",
            self.noise_code_prevalence,
            0.0,
            1.0,
        )?;
        within(
            "occupancy.persistence",
            self.occupancy.persistence,
            0.0,
            0.999,
        )?;
        within("occupancy.weekend", self.occupancy.weekend, -0.9, 0.9)?;
        within("occupancy.seasonal", self.occupancy.seasonal, 0.0, 0.9)?;
        self.check_instrument()?;
        within("compliance.defiers", self.compliance.defiers, 0.0, 1.0)?;
        let coefficients = [
            ("spillover", self.spillover),
            ("placement.severity", self.placement.severity),
            ("placement.busyness", self.placement.busyness),
            ("placement.age", self.placement.age),
            ("placement.emergency", self.placement.emergency),
            ("placement.codes", self.placement.codes),
            ("survival.severity", self.survival.severity),
            (
                "survival.internal_medicine",
                self.survival.internal_medicine,
            ),
            ("survival.age", self.survival.age),
            ("survival.emergency", self.survival.emergency),
            ("survival.comorbidity", self.survival.comorbidity),
            ("survival.codes", self.survival.codes),
        ];
        for (key, value) in coefficients {
            within(key, value, -50.0, 50.0)?;
        }
        Ok(())
    }

    /// Checks the instrument's parameters, and that the share of emergency
    /// admissions that respond is a share.
    fn check_instrument(&self) -> Result<()> {
        let ins = &self.instrument;
        within("instrument.strength", ins.strength, 0.0, 1.0)?;
        within("instrument.emergency_shift", ins.emergency_shift, -1.0, 1.0)?;
        let responding = ins.strength + ins.emergency_shift;
        if !(0.0..=1.0).contains(&responding) {
            return Err(Error::Spec(format!(
                "`instrument.emergency_shift` plus `instrument.strength` is {}: the share of \
                 emergency admissions that respond must lie in [0, 1]",
                number(responding)
            )));
        }
        within("instrument.emergencies", ins.emergencies, 0.1, 1e6)?;
        within("instrument.volatility", ins.volatility, 0.0, 3.0)?;
        within("instrument.occupancy", ins.occupancy, -0.9, 0.9)?;
        within("instrument.emergency_mix", ins.emergency_mix, -20.0, 20.0)?;
        Ok(())
    }

    /// Checks each hospital's share and units, and that some share is positive.
    fn check_hospitals(&self) -> Result<()> {
        if self.hospitals.is_empty() || self.hospitals.len() > MAX_GROUPS {
            return Err(invalid(
                "hospitals",
                format!("must name between 1 and {MAX_GROUPS} hospitals"),
            ));
        }
        for (name, h) in &self.hospitals {
            let name = elide(name);
            within(&format!("hospitals.{name}.share"), h.share, 0.0, 1e6)?;
            for (unit, u) in [
                ("internal_medicine", &h.internal_medicine),
                ("surgical", &h.surgical),
            ] {
                let key = format!("hospitals.{name}.{unit}");
                within(&format!("{key}.volatility"), u.volatility, 0.0, 2.0)?;
                if !(1..=MAX_BEDS).contains(&u.capacity) {
                    return Err(invalid(
                        &format!("{key}.capacity"),
                        format!(
                            "is {}; a unit has between 1 and {MAX_BEDS} beds",
                            u.capacity
                        ),
                    ));
                }
                if !(u.mean > 0.0 && u.mean < f64::from(u.capacity)) {
                    return Err(invalid(
                        &key,
                        format!(
                            "has mean occupancy {} and capacity {}; the mean must be positive \
                             and below the capacity",
                            number(u.mean),
                            u.capacity
                        ),
                    ));
                }
            }
        }
        if self.hospitals.values().map(|h| h.share).sum::<f64>() <= 0.0 {
            return Err(invalid(
                "hospitals",
                "shares sum to 0; give some hospital a positive share",
            ));
        }
        Ok(())
    }

    /// Checks each diagnosis group's parameters, and that some share is positive.
    fn check_diagnoses(&self) -> Result<()> {
        if self.diagnoses.is_empty() || self.diagnoses.len() > MAX_GROUPS {
            return Err(invalid(
                "diagnoses",
                format!("must name between 1 and {MAX_GROUPS} diagnosis groups"),
            ));
        }
        for (code, d) in &self.diagnoses {
            let code = elide(code);
            let key = |field: &str| format!("diagnoses.{code}.{field}");
            within(&key("share"), d.share, 0.0, 1e6)?;
            within(
                &key("internal_medicine"),
                d.internal_medicine,
                1e-6,
                1.0 - 1e-6,
            )?;
            within(&key("survival"), d.survival, 1e-6, 1.0 - 1e-6)?;
            within(&key("specialization"), d.specialization, -20.0, 20.0)?;
        }
        if self.diagnoses.values().map(|d| d.share).sum::<f64>() <= 0.0 {
            return Err(invalid(
                "diagnoses",
                "shares sum to 0; give some group a positive share",
            ));
        }
        Ok(())
    }
}
