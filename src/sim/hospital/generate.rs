//! Drawing a sample of the hospital world: cohort days, patients, placement,
//! busyness, the instrument, survival and the truth.

use std::sync::Arc;

use ndarray::{Array1, Array2};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rand_distr::Gamma;

use super::admission::{draw_patient, draw_size, Patient, AGE_CENTRE, EMERGENCY};
use super::calendar::{draw_series, Calendar, HospitalSeries};
use super::cohorts::{Survival, REFERENCE_LOAD};
use super::truth::group_means;
use super::{DiagnosisParams, HospitalParams, HospitalWorld};
use crate::core::stats::{logistic, logit};
use crate::data::Dataset;
use crate::data::{Clusters, CohortDay, Cohorts, Date};
use crate::sim::iv::iv_truth;
use crate::sim::quadrature::gauss_hermite;
use crate::sim::{ComplianceType, Sample, Sim};
use crate::{Error, Result};

/// Gauss-Hermite nodes for integrating severity out of a patient's effect.
const QUADRATURE_NODES: usize = 24;

/// The hospital world ready to generate samples.
#[derive(Debug, Clone)]
pub struct HospitalSim {
    pub(super) world: HospitalWorld,
    names: Vec<String>,
    /// Gauss-Hermite nodes and weights for severity ~ N(0, 1).
    pub(super) quadrature: (Vec<f64>, Vec<f64>),
}

/// Column layout of the covariate matrix.
pub(super) struct Columns {
    hospitals: usize,
    diagnoses: usize,
    comorbidities: usize,
    codes: usize,
}

impl Columns {
    fn hospital(&self) -> usize {
        0
    }
    fn diagnosis(&self) -> usize {
        self.hospitals
    }
    fn age(&self) -> usize {
        self.hospitals + self.diagnoses
    }
    fn comorbidity(&self) -> usize {
        self.age() + 4
    }
    fn weekday(&self) -> usize {
        self.comorbidity() + self.comorbidities
    }
    pub(super) fn busyness(&self) -> usize {
        self.weekday() + 3
    }
    fn code(&self) -> usize {
        self.busyness() + 2
    }
    fn count(&self) -> usize {
        self.code() + self.codes
    }
}

impl HospitalSim {
    /// Wraps validated parameters.
    pub(super) fn new(world: HospitalWorld) -> HospitalSim {
        let mut names: Vec<String> = Vec::new();
        names.extend(world.hospitals.keys().map(|h| format!("hospital_{h}")));
        names.extend(world.diagnoses.keys().map(|d| format!("diagnosis_{d}")));
        names.extend(["age", "female", "swiss", "emergency"].map(String::from));
        names.extend((1..=world.comorbidities).map(|k| format!("comorbidity_{k}")));
        names.extend(["weekday", "month", "year"].map(String::from));
        names.extend(["busyness_surgical", "busyness_internal_medicine"].map(String::from));
        names.extend((1..=world.codes).map(|k| format!("code_{k}")));
        HospitalSim {
            world,
            names,
            quadrature: gauss_hermite(QUADRATURE_NODES),
        }
    }

    /// The column layout of the covariate matrix.
    pub(super) fn columns(&self) -> Columns {
        Columns {
            hospitals: self.world.hospitals.len(),
            diagnoses: self.world.diagnoses.len(),
            comorbidities: self.world.comorbidities,
            codes: self.world.codes,
        }
    }
}

/// What every hospital's draw shares: the calendar, the hospitals and
/// diagnosis groups with their total shares, and the cohort-size law.
struct Setup<'a> {
    calendar: Calendar,
    hospitals: Vec<&'a HospitalParams>,
    diagnoses: Vec<&'a DiagnosisParams>,
    h_share: f64,
    d_share: f64,
    d_cumulative: Vec<f64>,
    total_days: usize,
    size_gamma: Option<Gamma<f64>>,
    stay_p: f64,
    defy_logit: f64,
}

impl Setup<'_> {
    fn new(world: &HospitalWorld) -> Result<Setup<'_>> {
        let calendar = Calendar::new(world);
        let hospitals: Vec<_> = world.hospitals.values().collect();
        let diagnoses: Vec<_> = world.diagnoses.values().collect();
        let h_share: f64 = hospitals.iter().map(|h| h.share).sum();
        let d_share: f64 = diagnoses.iter().map(|d| d.share).sum();
        let d_cumulative: Vec<f64> = diagnoses
            .iter()
            .scan(0.0, |acc, d| {
                *acc += d.share / d_share;
                Some(*acc)
            })
            .collect();
        let total_days = (world.cohort_days as f64 * world.scale).round().max(1.0) as usize;
        let size_gamma = if world.cohort.dispersion > 0.0 {
            let shape = 1.0 / (world.cohort.dispersion * world.cohort.dispersion);
            Some(
                Gamma::new(shape, world.cohort.mean_size / shape)
                    .map_err(|e| Error::Spec(format!("`cohort`: {e}")))?,
            )
        } else {
            None
        };
        Ok(Setup {
            calendar,
            hospitals,
            diagnoses,
            h_share,
            d_share,
            d_cumulative,
            total_days,
            size_gamma,
            stay_p: 1.0 / world.length_of_stay,
            defy_logit: logit(world.compliance.defiers),
        })
    }
}

/// The sample as it is drawn: covariate rows, outcomes, treatment,
/// instrument, truth and the cohorts' bookkeeping, in row order.
#[derive(Default)]
struct Drawn {
    rows: Vec<f64>,
    y: Vec<f64>,
    w: Vec<f64>,
    z: Vec<f64>,
    tau: Vec<f64>,
    types: Vec<ComplianceType>,
    days: Vec<CohortDay>,
    day_of: Vec<usize>,
    diagnosis: Vec<usize>,
    risk: Vec<f64>,
    specialization: Vec<f64>,
    severity: Vec<f64>,
    occupancy: Vec<[Vec<f64>; 2]>,
}

/// One hospital while its days are drawn: its fixed quantities, and the
/// study patients present on each day, by unit, from earlier cohorts.
struct Ward {
    h: usize,
    capacity: [f64; 2],
    mean_load: [f64; 2],
    series: HospitalSeries,
    study: [Vec<f64>; 2],
}

/// One placed cohort day: where and when, and the units' busyness once the
/// whole cohort is placed.
struct Cohort {
    h: usize,
    capacity: [f64; 2],
    date: Date,
    day_index: usize,
    busyness: [f64; 2],
}

/// A patient's placement: treated (internal medicine), the instrument, the
/// compliance type and the number of informative codes.
struct Placement {
    treated: bool,
    instrument: bool,
    kind: ComplianceType,
    informative: f64,
}

impl Sim for HospitalSim {
    fn generate(&self, seed: u64) -> Result<Sample> {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let setup = Setup::new(&self.world)?;
        let mut drawn = Drawn::default();
        for h in 0..setup.hospitals.len() {
            self.draw_hospital(&mut rng, &setup, h, &mut drawn)?;
        }
        self.assemble(&setup, drawn)
    }

    fn add_conditional_truth(&self, sample: &mut Sample) -> Result<()> {
        self.conditional_truth(sample)
    }
}

impl HospitalSim {
    /// Draws hospital `h`'s background series, its cohort days and their
    /// patients, appending them to `drawn`.
    fn draw_hospital(
        &self,
        rng: &mut ChaCha8Rng,
        setup: &Setup,
        h: usize,
        drawn: &mut Drawn,
    ) -> Result<()> {
        let world = &self.world;
        let (calendar, hospital) = (&setup.calendar, setup.hospitals[h]);
        let cohort_days = ((setup.total_days as f64 * hospital.share / setup.h_share).round()
            as usize)
            .min(calendar.days);
        // Study patients a unit holds on an average cohort day: those
        // admitted on earlier days and still present, and the day's own
        // cohort; the published means are read as means over cohort days.
        let patients = cohort_days as f64 * world.cohort.mean_size;
        let earlier = patients * (world.length_of_stay - 1.0) / calendar.days as f64;
        let im_share: f64 = setup
            .diagnoses
            .iter()
            .map(|d| d.share / setup.d_share * d.internal_medicine)
            .sum();
        let units = [&hospital.surgical, &hospital.internal_medicine];
        let shares = [1.0 - im_share, im_share];
        let background_mean: [f64; 2] = std::array::from_fn(|k| {
            (units[k].mean - (earlier + world.cohort.mean_size) * shares[k]).max(0.0)
        });
        let mean_load = [
            units[0].mean / f64::from(units[0].capacity),
            units[1].mean / f64::from(units[1].capacity),
        ];
        let capacity = [f64::from(units[0].capacity), f64::from(units[1].capacity)];
        let series = draw_series(rng, world, hospital, background_mean, calendar)?;
        let mut ward = Ward {
            h,
            capacity,
            mean_load,
            series,
            // Study patients present on each day, by unit, from earlier cohorts.
            study: [vec![0.0; calendar.days], vec![0.0; calendar.days]],
        };
        let mut chosen: Vec<usize> =
            rand::seq::index::sample(rng, calendar.days, cohort_days).into_vec();
        chosen.sort_unstable();
        let total = self.draw_days(rng, setup, &mut ward, &chosen, drawn)?;
        drawn.occupancy.push(total);
        Ok(())
    }

    /// Walks one hospital's calendar, drawing a cohort on each of its
    /// `chosen` days; returns each day's occupancy of both units.
    fn draw_days(
        &self,
        rng: &mut ChaCha8Rng,
        setup: &Setup,
        ward: &mut Ward,
        chosen: &[usize],
        drawn: &mut Drawn,
    ) -> Result<[Vec<f64>; 2]> {
        let world = &self.world;
        let (calendar, capacity) = (&setup.calendar, ward.capacity);
        let mut total = [
            Vec::with_capacity(calendar.days),
            Vec::with_capacity(calendar.days),
        ];
        let mut next_cohort = chosen.iter().peekable();
        for d in 0..calendar.days {
            let date = calendar.date(d);
            let is_cohort_day = next_cohort.peek() == Some(&&d);
            let size = if is_cohort_day {
                next_cohort.next();
                draw_size(rng, world.cohort.mean_size, setup.size_gamma.as_ref())?
            } else {
                0
            };
            // Background occupancy leaves room for the study patients present
            // and for the whole cohort in either unit.
            let (study, series) = (&ward.study, &ward.series);
            let base: [f64; 2] = std::array::from_fn(|k| {
                let room = (capacity[k] - study[k][d] - size as f64).max(0.0);
                series.background[k][d].round().min(room) + study[k][d]
            });
            if size == 0 {
                total[0].push(base[0]);
                total[1].push(base[1]);
                continue;
            }
            let start = drawn.y.len();
            let day = CohortDay {
                hospital: ward.h,
                date,
                start,
                end: start + size,
                base,
                capacity,
            };
            let busyness = self.draw_cohort(rng, setup, ward, d, day, drawn)?;
            total[0].push(busyness[0]);
            total[1].push(busyness[1]);
        }
        Ok(total)
    }

    /// Draws the cohort of calendar day `d`, places its patients and records
    /// them; returns both units' busyness once the cohort is placed.
    fn draw_cohort(
        &self,
        rng: &mut ChaCha8Rng,
        setup: &Setup,
        ward: &mut Ward,
        d: usize,
        day: CohortDay,
        drawn: &mut Drawn,
    ) -> Result<[f64; 2]> {
        let world = &self.world;
        world.check_drawn(day.end)?;
        let (series, capacity, date, base) = (&ward.series, day.capacity, day.date, day.base);
        let patients: Vec<Patient> = (0..day.size())
            .map(|_| {
                draw_patient(
                    rng,
                    world,
                    &setup.d_cumulative,
                    setup.stay_p,
                    series.shock[d],
                )
            })
            .collect();
        let high = series.emergencies[d];
        let median = series.yearly_median[(date.year - world.first_year) as usize];
        let pre_load = [base[0] / capacity[0], base[1] / capacity[1]];
        let busy_shift = (pre_load[1] - ward.mean_load[1]) - (pre_load[0] - ward.mean_load[0]);
        let placed: Vec<Placement> = patients
            .iter()
            .map(|p| self.place(setup, p, high, median, busy_shift))
            .collect();
        let j = placed.iter().filter(|p| p.treated).count();
        let day_index = drawn.days.len();
        drawn.days.push(day);
        let busyness = drawn.days[day_index].busyness(j);
        let cohort = Cohort {
            h: ward.h,
            capacity,
            date,
            day_index,
            busyness,
        };
        for (p, placement) in patients.iter().zip(placed) {
            self.record(setup, &cohort, p, &placement, drawn);
            // The patient occupies its unit from the day after admission on.
            let unit = usize::from(placement.treated);
            for later in ward.study[unit].iter_mut().skip(d + 1).take(p.stay - 1) {
                *later += 1.0;
            }
        }
        Ok(busyness)
    }

    /// Places a patient: the instrument is on when the day's emergency
    /// admissions (less the patient's own) exceed the year's median; a
    /// non-responder's unit follows diagnosis, severity, age, emergency,
    /// codes and how much busier internal medicine is than surgery.
    fn place(
        &self,
        setup: &Setup,
        p: &Patient,
        high: u32,
        median: f64,
        busy_shift: f64,
    ) -> Placement {
        let world = &self.world;
        let zi = f64::from(high.saturating_sub(u32::from(p.emergency))) > median;
        let informative: f64 = p.codes[..world.informative_codes]
            .iter()
            .map(|&c| f64::from(u8::from(c)))
            .sum();
        // Odd-numbered informative codes (procedures, say) point to
        // internal medicine, even-numbered ones to surgery.
        let leaning: f64 = p.codes[..world.informative_codes]
            .iter()
            .enumerate()
            .filter(|(_, &c)| c)
            .map(|(k, _)| if k % 2 == 0 { 1.0 } else { -1.0 })
            .sum();
        let strength = world.instrument.strength
            + if p.emergency {
                world.instrument.emergency_shift
            } else {
                0.0
            };
        let kind = if p.responder < strength {
            if p.defier < logistic(setup.defy_logit) {
                ComplianceType::Defier
            } else {
                ComplianceType::Complier
            }
        } else {
            let pl = &world.placement;
            let log_odds = logit(setup.diagnoses[p.diagnosis].internal_medicine)
                + pl.severity * p.severity
                + pl.age * (p.age - AGE_CENTRE) / 10.0
                + pl.emergency * (f64::from(u8::from(p.emergency)) - EMERGENCY)
                + pl.codes * leaning
                - pl.busyness * busy_shift;
            if p.taker < logistic(log_odds) {
                ComplianceType::AlwaysTaker
            } else {
                ComplianceType::NeverTaker
            }
        };
        let wi = match kind {
            ComplianceType::Complier => zi,
            ComplianceType::Defier => !zi,
            ComplianceType::AlwaysTaker => true,
            ComplianceType::NeverTaker => false,
        };
        Placement {
            treated: wi,
            instrument: zi,
            kind,
            informative,
        }
    }

    /// Draws a placed patient's survival and appends the patient's row,
    /// outcome, treatment, instrument and truth to `drawn`.
    fn record(
        &self,
        setup: &Setup,
        cohort: &Cohort,
        p: &Patient,
        placement: &Placement,
        drawn: &mut Drawn,
    ) {
        let world = &self.world;
        let (busyness, capacity) = (cohort.busyness, cohort.capacity);
        let sv = &world.survival;
        let dx = setup.diagnoses[p.diagnosis];
        let comorbid = p.comorbidities.iter().filter(|&&c| c).count() as f64;
        let specialization = dx.specialization + sv.internal_medicine;
        let r = logit(dx.survival) - sv.severity * p.severity
            + sv.age * (p.age - AGE_CENTRE) / 10.0
            + sv.emergency * f64::from(u8::from(p.emergency))
            + sv.comorbidity * comorbid
            + sv.codes * placement.informative;
        let at = |unit: usize| {
            let load = busyness[unit] / capacity[unit];
            let gain = if unit == 1 { specialization } else { 0.0 };
            logistic(r + gain - world.spillover * (load - REFERENCE_LOAD))
        };
        let (p0, p1) = (at(0), at(1));
        let wi = placement.treated;
        let survived = p.survival_draw < if wi { p1 } else { p0 };
        drawn.y.push(f64::from(u8::from(survived)));
        drawn.w.push(f64::from(u8::from(wi)));
        drawn.z.push(f64::from(u8::from(placement.instrument)));
        drawn.tau.push(p1 - p0);
        drawn.types.push(placement.kind);
        drawn.day_of.push(cohort.day_index);
        drawn.diagnosis.push(p.diagnosis);
        drawn.risk.push(r);
        drawn.specialization.push(specialization);
        drawn.severity.push(p.severity);
        self.push_row(cohort, p, &mut drawn.rows);
    }

    /// Appends a patient's covariate row: one-hot hospital and diagnosis,
    /// demographics, comorbidities, the date, both units' busyness and codes.
    fn push_row(&self, cohort: &Cohort, p: &Patient, rows: &mut Vec<f64>) {
        let (cols, date, busyness) = (self.columns(), cohort.date, cohort.busyness);
        let mut row = vec![0.0; cols.count()];
        row[cols.hospital() + cohort.h] = 1.0;
        row[cols.diagnosis() + p.diagnosis] = 1.0;
        let a = cols.age();
        row[a] = p.age;
        row[a + 1] = f64::from(u8::from(p.female));
        row[a + 2] = f64::from(u8::from(p.swiss));
        row[a + 3] = f64::from(u8::from(p.emergency));
        for (k, &c) in p.comorbidities.iter().enumerate() {
            row[cols.comorbidity() + k] = f64::from(u8::from(c));
        }
        let t = cols.weekday();
        row[t] = f64::from(date.weekday());
        row[t + 1] = f64::from(date.month);
        row[t + 2] = f64::from(date.year);
        row[cols.busyness()] = busyness[0];
        row[cols.busyness() + 1] = busyness[1];
        for (k, &c) in p.codes.iter().enumerate() {
            row[cols.code() + k] = f64::from(u8::from(c));
        }
        rows.extend_from_slice(&row);
    }

    /// Turns the drawn columns into the sample: data, truth and cohorts.
    fn assemble(&self, setup: &Setup, drawn: Drawn) -> Result<Sample> {
        let world = &self.world;
        let n = drawn.y.len();
        if n == 0 {
            return Err(Error::Spec(
                "the hospital world drew no patients; raise `scale`, `cohort_days` or \
                 `cohort.mean_size`"
                    .into(),
            ));
        }
        let x = Array2::from_shape_vec((n, self.columns().count()), drawn.rows)
            .map_err(|e| Error::Data(format!("covariate matrix: {e}")))?;
        let mut truth = iv_truth(drawn.tau, Vec::new(), None, drawn.types);
        let codes: Vec<String> = world.diagnoses.keys().cloned().collect();
        group_means(
            &mut truth.values,
            "cate",
            &codes,
            &drawn.diagnosis,
            &truth.tau,
        );
        let cohorts = Arc::new(Cohorts {
            hospitals: world.hospitals.keys().cloned().collect(),
            diagnoses: codes,
            days: drawn.days,
            day_of: drawn.day_of,
            diagnosis: drawn.diagnosis,
            occupancy: drawn.occupancy,
            first_date: setup.calendar.date(0),
        });
        truth.placement = Some(Arc::new(Survival {
            cohorts: Arc::clone(&cohorts),
            risk: drawn.risk,
            specialization: drawn.specialization,
            severity: drawn.severity,
            spillover: world.spillover,
        }));
        // A hospital-day's patients share its instrument and busyness:
        // forests sample them together.
        let days = Arc::new(Clusters::from_labels(&cohorts.day_of)?);
        let data = Dataset::new(
            Array1::from(drawn.y),
            Array1::from(drawn.w),
            Some(Array1::from(drawn.z)),
            x,
            self.names.clone(),
        )?
        .with_cohorts(cohorts)?
        .with_clusters(days)?;
        Ok(Sample { data, truth })
    }
}
