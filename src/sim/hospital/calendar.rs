//! Calendar days, and the daily series every hospital lives through:
//! background occupancy of each unit and emergency admissions.

use rand::Rng;
use rand_distr::{Distribution, Poisson, StandardNormal};

use super::{HospitalParams, HospitalWorld};
use crate::data::Date;
use crate::{Error, Result};

/// The simulated calendar: every day from January 1 of the first year to
/// December 31 of the last.
#[derive(Debug, Clone)]
pub struct Calendar {
    /// Epoch day of the first day.
    pub start: i64,
    /// Number of days.
    pub days: usize,
}

impl Calendar {
    /// The calendar of a world.
    pub fn new(world: &HospitalWorld) -> Calendar {
        let start = Date {
            year: world.first_year,
            month: 1,
            day: 1,
        }
        .epoch_days();
        let end = Date {
            year: world.last_year + 1,
            month: 1,
            day: 1,
        }
        .epoch_days();
        Calendar {
            start,
            days: (end - start) as usize,
        }
    }

    /// The date of day `d` of the calendar.
    pub fn date(&self, d: usize) -> Date {
        Date::from_epoch_days(self.start + d as i64)
    }
}

/// One hospital's daily series over the calendar.
#[derive(Debug, Clone)]
pub struct HospitalSeries {
    /// Background occupancy (patients outside the study cohort) of [surgical, internal medicine].
    pub background: [Vec<f64>; 2],
    /// Emergency admissions to the hospital that day.
    pub emergencies: Vec<u32>,
    /// The day's standard-normal shock to emergency admissions.
    pub shock: Vec<f64>,
    /// The median of `emergencies` over each calendar year, by year offset.
    pub yearly_median: Vec<f64>,
}

/// Relative seasonal level on day-of-year `doy`: a cosine peaking in mid-January.
fn season(amplitude: f64, doy: i64) -> f64 {
    amplitude * (2.0 * std::f64::consts::PI * (doy as f64 - 15.0) / 365.25).cos()
}

/// Emergency admissions by weekday (Monday first): busiest on Mondays, quietest at weekends.
const EMERGENCY_WEEKDAY: [f64; 7] = [0.12, 0.04, 0.02, 0.02, 0.04, -0.1, -0.14];

/// Draws one hospital's background occupancy and emergency admissions.
///
/// Background occupancy of a unit is its mean (`background_mean`, the
/// published mean less the study patients expected in the unit) times a
/// log-AR(1) deviation with the unit's volatility, a weekend dip, a winter
/// peak and, for internal medicine, the day's emergency shock; it is not yet
/// clipped to the capacity (that happens once study patients are placed).
pub fn draw_series<R: Rng>(
    rng: &mut R,
    world: &HospitalWorld,
    hospital: &HospitalParams,
    background_mean: [f64; 2],
    calendar: &Calendar,
) -> Result<HospitalSeries> {
    let occ = &world.occupancy;
    let ins = &world.instrument;
    let units = [&hospital.surgical, &hospital.internal_medicine];
    let phi = occ.persistence;
    let mut ar = [0.0f64; 2];
    for (a, u) in ar.iter_mut().zip(units) {
        let e: f64 = StandardNormal.sample(rng);
        *a = u.volatility * e;
    }
    let mut background = [
        Vec::with_capacity(calendar.days),
        Vec::with_capacity(calendar.days),
    ];
    let mut emergencies = Vec::with_capacity(calendar.days);
    let mut shocks = Vec::with_capacity(calendar.days);
    for d in 0..calendar.days {
        let date = calendar.date(d);
        let weekend = if date.weekday() >= 6 {
            occ.weekend
        } else {
            0.0
        };
        let seasonal = season(occ.seasonal, date.day_of_year());
        let shock: f64 = StandardNormal.sample(rng);
        for k in 0..2 {
            let e: f64 = StandardNormal.sample(rng);
            let vol = units[k].volatility;
            ar[k] = phi * ar[k] + (1.0 - phi * phi).sqrt() * vol * e;
            let link = if k == 1 { ins.occupancy * shock } else { 0.0 };
            let level = (ar[k] - vol * vol / 2.0).exp() * (1.0 + weekend + seasonal + link);
            background[k].push((background_mean[k] * level).max(0.0));
        }
        let log_rate = ins.emergencies.ln()
            + EMERGENCY_WEEKDAY[date.weekday() as usize - 1]
            + ins.volatility * shock
            - ins.volatility * ins.volatility / 2.0;
        let poisson = Poisson::new(log_rate.exp())
            .map_err(|e| Error::Spec(format!("`instrument.emergencies`: {e}")))?;
        emergencies.push(poisson.sample(rng) as u32);
        shocks.push(shock);
    }
    let years = (world.last_year - world.first_year + 1) as usize;
    let mut by_year: Vec<Vec<u32>> = vec![Vec::new(); years];
    for (d, &count) in emergencies.iter().enumerate() {
        by_year[(calendar.date(d).year - world.first_year) as usize].push(count);
    }
    let mut yearly_median = Vec::with_capacity(years);
    for mut counts in by_year {
        counts.sort_unstable();
        let m = counts.len();
        let median = if m % 2 == 1 {
            f64::from(counts[m / 2])
        } else {
            (f64::from(counts[m / 2 - 1]) + f64::from(counts[m / 2])) / 2.0
        };
        yearly_median.push(median);
    }
    Ok(HospitalSeries {
        background,
        emergencies,
        shock: shocks,
        yearly_median,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_round_trip_and_know_their_weekday() {
        let d = Date {
            year: 2012,
            month: 1,
            day: 1,
        };
        assert_eq!(d.weekday(), 7, "2012-01-01 was a Sunday");
        assert_eq!(Date::from_epoch_days(d.epoch_days()), d);
        let leap = Date {
            year: 2020,
            month: 2,
            day: 29,
        };
        assert_eq!(
            Date::from_epoch_days(leap.epoch_days() + 1).to_string(),
            "2020-03-01"
        );
        assert_eq!(leap.day_of_year(), 59);
        let calendar = Calendar::new(&HospitalWorld::default());
        assert_eq!(calendar.days, 3288, "2012-2020 has three leap years");
        assert_eq!(calendar.date(calendar.days - 1).to_string(), "2020-12-31");
    }
}
