//! Checking the hospital world's parameters before it is built: each
//! error names the key and the range it must lie in.

use super::{HospitalSim, HospitalWorld};
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
            format!("is {value}; it must lie in [{lo}, {hi}]"),
        ))
    }
}

impl HospitalWorld {
    /// Checks every parameter and builds the runnable world.
    pub fn build(&self) -> Result<HospitalSim> {
        self.check_scalars()?;
        self.check_hospitals()?;
        self.check_diagnoses()?;
        Ok(HospitalSim::new(self.clone()))
    }

    /// Checks the scalar parameters and coefficients against their ranges.
    fn check_scalars(&self) -> Result<()> {
        within("scale", self.scale, 1e-4, 100.0)?;
        if self.cohort_days == 0 {
            return Err(invalid(
                "cohort_days",
                "is 0; at least one cohort day is needed",
            ));
        }
        if !(1900..=2200).contains(&self.first_year) || self.last_year < self.first_year {
            return Err(invalid(
                "first_year",
                format!(
                    "{} and `last_year` {} must be a range of years with first <= last",
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
            "occupancy.persistence",
            self.occupancy.persistence,
            0.0,
            0.999,
        )?;
        within("occupancy.weekend", self.occupancy.weekend, -0.9, 0.9)?;
        within("occupancy.seasonal", self.occupancy.seasonal, 0.0, 0.9)?;
        within("instrument.strength", self.instrument.strength, 0.0, 1.0)?;
        within(
            "instrument.emergencies",
            self.instrument.emergencies,
            0.1,
            1e6,
        )?;
        within(
            "instrument.volatility",
            self.instrument.volatility,
            0.0,
            3.0,
        )?;
        within("instrument.occupancy", self.instrument.occupancy, -0.9, 0.9)?;
        within(
            "instrument.emergency_mix",
            self.instrument.emergency_mix,
            -20.0,
            20.0,
        )?;
        within("compliance.defiers", self.compliance.defiers, 0.0, 1.0)?;
        let coefficients = [
            ("spillover", self.spillover),
            ("placement.severity", self.placement.severity),
            ("placement.busyness", self.placement.busyness),
            ("placement.age", self.placement.age),
            ("placement.emergency", self.placement.emergency),
            ("placement.codes", self.placement.codes),
            ("survival.severity", self.survival.severity),
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

    /// Checks each hospital's share and units, and that some share is positive.
    fn check_hospitals(&self) -> Result<()> {
        if self.hospitals.is_empty() || self.hospitals.len() > 255 {
            return Err(invalid(
                "hospitals",
                "must name between 1 and 255 hospitals",
            ));
        }
        for (name, h) in &self.hospitals {
            within(&format!("hospitals.{name}.share"), h.share, 0.0, 1e6)?;
            for (unit, u) in [
                ("internal_medicine", &h.internal_medicine),
                ("surgical", &h.surgical),
            ] {
                let key = format!("hospitals.{name}.{unit}");
                within(&format!("{key}.volatility"), u.volatility, 0.0, 2.0)?;
                if u.capacity == 0 || !(u.mean > 0.0 && u.mean < f64::from(u.capacity)) {
                    return Err(invalid(
                        &key,
                        format!(
                            "has mean occupancy {} and capacity {}; the mean must be positive \
                             and below the capacity",
                            u.mean, u.capacity
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
        if self.diagnoses.is_empty() || self.diagnoses.len() > 255 {
            return Err(invalid(
                "diagnoses",
                "must name between 1 and 255 diagnosis groups",
            ));
        }
        for (code, d) in &self.diagnoses {
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
