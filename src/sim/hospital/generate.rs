//! Drawing a sample of the hospital world: cohort days, patients, placement,
//! busyness, the instrument, survival and the truth.

use std::collections::BTreeMap;

use ndarray::{Array1, Array2};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, Gamma, Poisson, StandardNormal};

use super::calendar::{draw_series, Calendar};
use super::cohorts::{CohortDay, Cohorts, REFERENCE_LOAD};
use super::HospitalWorld;
use crate::core::stats::{logistic, logit};
use crate::data::Dataset;
use crate::sim::iv::iv_truth;
use crate::sim::quadrature::gauss_hermite;
use crate::sim::{ComplianceType, Sample, Sim};
use crate::{Error, Result};

/// Reference age of the placement and survival models.
const AGE_CENTRE: f64 = 70.0;

/// Share of patients who are female, Swiss, emergency admissions.
const FEMALE: f64 = 0.4;
const SWISS: f64 = 0.78;
const EMERGENCY: f64 = 0.6;

/// Prevalence of comorbidity k (0-based): 0.25, 0.2, 0.17, ...
fn comorbidity_prevalence(k: usize) -> f64 {
    0.25 / (1.0 + 0.25 * k as f64)
}

/// Gauss-Hermite nodes for integrating severity out of a patient's effect.
const QUADRATURE_NODES: usize = 24;

/// The hospital world ready to generate samples.
#[derive(Debug, Clone)]
pub struct HospitalSim {
    world: HospitalWorld,
    names: Vec<String>,
    /// Gauss-Hermite nodes and weights for severity ~ N(0, 1).
    quadrature: (Vec<f64>, Vec<f64>),
}

/// Column layout of the covariate matrix.
struct Columns {
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
    fn busyness(&self) -> usize {
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

    fn columns(&self) -> Columns {
        Columns {
            hospitals: self.world.hospitals.len(),
            diagnoses: self.world.diagnoses.len(),
            comorbidities: self.world.comorbidities,
            codes: self.world.codes,
        }
    }
}

/// One drawn patient before placement.
struct Patient {
    diagnosis: usize,
    age: f64,
    female: bool,
    swiss: bool,
    emergency: bool,
    comorbidities: Vec<bool>,
    codes: Vec<bool>,
    severity: f64,
    responder: f64,
    defier: f64,
    taker: f64,
    survival_draw: f64,
    stay: usize,
}

impl Sim for HospitalSim {
    fn generate(&self, seed: u64) -> Result<Sample> {
        let world = &self.world;
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
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
        let stay_p = 1.0 / world.length_of_stay;

        let cols = self.columns();
        let mut rows: Vec<f64> = Vec::new();
        let (mut y, mut w, mut z) = (Vec::new(), Vec::new(), Vec::new());
        let (mut tau, mut types) = (Vec::new(), Vec::new());
        let mut days: Vec<CohortDay> = Vec::new();
        let (mut day_of, mut diagnosis, mut risk, mut specialization, mut severity) =
            (Vec::new(), Vec::new(), Vec::new(), Vec::new(), Vec::new());
        let mut occupancy = Vec::with_capacity(hospitals.len());
        let defy_logit = logit(world.compliance.defiers);

        for (h, hospital) in hospitals.iter().enumerate() {
            let cohort_days = ((total_days as f64 * hospital.share / h_share).round() as usize)
                .min(calendar.days);
            // Study patients a unit holds on an average cohort day: those
            // admitted on earlier days and still present, and the day's own
            // cohort; the published means are read as means over cohort days.
            let patients = cohort_days as f64 * world.cohort.mean_size;
            let earlier = patients * (world.length_of_stay - 1.0) / calendar.days as f64;
            let im_share: f64 = diagnoses
                .iter()
                .map(|d| d.share / d_share * d.internal_medicine)
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
            let series = draw_series(&mut rng, world, hospital, background_mean, &calendar)?;
            let mut chosen: Vec<usize> =
                rand::seq::index::sample(&mut rng, calendar.days, cohort_days).into_vec();
            chosen.sort_unstable();
            // Study patients present on each day, by unit, from earlier cohorts.
            let mut study = [vec![0.0; calendar.days], vec![0.0; calendar.days]];
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
                    draw_size(&mut rng, world.cohort.mean_size, size_gamma.as_ref())?
                } else {
                    0
                };
                // Background occupancy leaves room for the study patients present
                // and for the whole cohort in either unit.
                let base: [f64; 2] = std::array::from_fn(|k| {
                    let room = (capacity[k] - study[k][d] - size as f64).max(0.0);
                    series.background[k][d].round().min(room) + study[k][d]
                });
                if size == 0 {
                    total[0].push(base[0]);
                    total[1].push(base[1]);
                    continue;
                }
                let start = y.len();
                let patients: Vec<Patient> = (0..size)
                    .map(|_| draw_patient(&mut rng, world, &d_cumulative, stay_p, series.shock[d]))
                    .collect();
                let high = series.emergencies[d];
                let median = series.yearly_median[(date.year - world.first_year) as usize];
                let pre_load = [base[0] / capacity[0], base[1] / capacity[1]];
                let busy_shift = (pre_load[1] - mean_load[1]) - (pre_load[0] - mean_load[0]);
                let mut placed = Vec::with_capacity(size);
                for p in &patients {
                    let zi = f64::from(high - u32::from(p.emergency)) > median;
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
                    let kind = if p.responder < world.instrument.strength {
                        if p.defier < logistic(defy_logit) {
                            ComplianceType::Defier
                        } else {
                            ComplianceType::Complier
                        }
                    } else {
                        let pl = &world.placement;
                        let log_odds = logit(diagnoses[p.diagnosis].internal_medicine)
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
                    placed.push((wi, zi, kind, informative));
                }
                let j = placed.iter().filter(|p| p.0).count();
                let day_index = days.len();
                days.push(CohortDay {
                    hospital: h,
                    date,
                    start,
                    end: start + size,
                    base,
                    capacity,
                });
                let cohort = days.last().expect("just pushed");
                let busyness = cohort.busyness(j);
                for (p, (wi, zi, kind, informative)) in patients.iter().zip(placed) {
                    let sv = &world.survival;
                    let dx = diagnoses[p.diagnosis];
                    let comorbid = p.comorbidities.iter().filter(|&&c| c).count() as f64;
                    let r = logit(dx.survival) - sv.severity * p.severity
                        + sv.age * (p.age - AGE_CENTRE) / 10.0
                        + sv.emergency * f64::from(u8::from(p.emergency))
                        + sv.comorbidity * comorbid
                        + sv.codes * informative;
                    let at = |unit: usize| {
                        let load = busyness[unit] / capacity[unit];
                        let gain = if unit == 1 { dx.specialization } else { 0.0 };
                        logistic(r + gain - world.spillover * (load - REFERENCE_LOAD))
                    };
                    let (p0, p1) = (at(0), at(1));
                    let survived = p.survival_draw < if wi { p1 } else { p0 };
                    y.push(f64::from(u8::from(survived)));
                    w.push(f64::from(u8::from(wi)));
                    z.push(f64::from(u8::from(zi)));
                    tau.push(p1 - p0);
                    types.push(kind);
                    day_of.push(day_index);
                    diagnosis.push(p.diagnosis);
                    risk.push(r);
                    specialization.push(dx.specialization);
                    severity.push(p.severity);
                    let mut row = vec![0.0; cols.count()];
                    row[cols.hospital() + h] = 1.0;
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
                    // The patient occupies its unit from the day after admission on.
                    let unit = usize::from(wi);
                    for later in study[unit].iter_mut().skip(d + 1).take(p.stay - 1) {
                        *later += 1.0;
                    }
                }
                total[0].push(busyness[0]);
                total[1].push(busyness[1]);
            }
            occupancy.push(total);
        }
        let n = y.len();
        if n == 0 {
            return Err(Error::Spec(
                "the hospital world drew no patients; raise `scale`, `cohort_days` or \
                 `cohort.mean_size`"
                    .into(),
            ));
        }
        let x = Array2::from_shape_vec((n, cols.count()), rows)
            .map_err(|e| Error::Data(format!("covariate matrix: {e}")))?;
        let mut truth = iv_truth(tau, Vec::new(), None, types);
        let codes: Vec<String> = world.diagnoses.keys().cloned().collect();
        group_means(&mut truth.values, "cate", &codes, &diagnosis, &truth.tau);
        let data = Dataset::new(
            Array1::from(y),
            Array1::from(w),
            Some(Array1::from(z)),
            x,
            self.names.clone(),
        )?;
        let cohorts = Cohorts {
            hospitals: world.hospitals.keys().cloned().collect(),
            diagnoses: codes,
            days,
            day_of,
            diagnosis,
            risk,
            specialization,
            severity,
            spillover: world.spillover,
            occupancy,
            first_date: calendar.date(0),
        };
        Ok(Sample {
            data,
            truth,
            cohorts: Some(cohorts),
        })
    }

    fn add_conditional_truth(&self, sample: &mut Sample) -> Result<()> {
        let cohorts = sample.cohorts.as_ref().ok_or_else(|| {
            Error::Data(
                "a hospital sample without its cohorts cannot give conditional truth".into(),
            )
        })?;
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
            let rest = cohorts.risk[i] + severity_effect * cohorts.severity[i];
            let gain = cohorts.specialization[i];
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
fn group_means(
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

/// A cohort size: gamma-Poisson with the given mean, at least 1.
fn draw_size<R: Rng>(rng: &mut R, mean: f64, gamma: Option<&Gamma<f64>>) -> Result<usize> {
    for _ in 0..1000 {
        let rate = gamma.map_or(mean, |g| g.sample(rng)).max(1e-9);
        let poisson =
            Poisson::new(rate).map_err(|e| Error::Spec(format!("`cohort.mean_size`: {e}")))?;
        let size = poisson.sample(rng) as usize;
        if size > 0 {
            return Ok(size);
        }
    }
    Ok(1)
}

/// Draws a patient's characteristics on a day with emergency shock `shock`; every patient consumes the same draws
/// in the same order whatever the parameters' values, so cells of a sweep
/// share common random numbers.
fn draw_patient<R: Rng>(
    rng: &mut R,
    world: &HospitalWorld,
    d_cumulative: &[f64],
    stay_p: f64,
    shock: f64,
) -> Patient {
    let u: f64 = rng.random();
    let diagnosis = d_cumulative
        .iter()
        .position(|&c| u < c)
        .unwrap_or(d_cumulative.len() - 1);
    let age_draw: f64 = StandardNormal.sample(rng);
    let age = (AGE_CENTRE - 2.0 + 13.0 * age_draw)
        .clamp(18.0, 99.0)
        .round();
    let female = rng.random::<f64>() < FEMALE;
    let swiss = rng.random::<f64>() < SWISS;
    // More of a day's cohort are emergency admissions when the hospital's
    // emergency admissions run high.
    let emergency =
        rng.random::<f64>() < logistic(logit(EMERGENCY) + world.instrument.emergency_mix * shock);
    let comorbidities = (0..world.comorbidities)
        .map(|k| rng.random::<f64>() < comorbidity_prevalence(k))
        .collect();
    let codes = (0..world.codes)
        .map(|_| rng.random::<f64>() < world.code_prevalence)
        .collect();
    let severity: f64 = StandardNormal.sample(rng);
    let stay_draw: f64 = rng.random();
    // Geometric number of extra days with mean length_of_stay - 1.
    let extra = if stay_p >= 1.0 {
        0
    } else {
        ((1.0 - stay_draw).ln() / (1.0 - stay_p).ln()).floor() as usize
    };
    Patient {
        diagnosis,
        age,
        female,
        swiss,
        emergency,
        comorbidities,
        codes,
        severity,
        responder: rng.random(),
        defier: rng.random(),
        taker: rng.random(),
        survival_draw: rng.random(),
        stay: 1 + extra.min(365),
    }
}
