//! Who is admitted in the hospital world: cohort sizes and each patient's
//! characteristics, drawn before placement.

use rand::Rng;
use rand_distr::{Distribution, Gamma, Poisson, StandardNormal};

use super::HospitalWorld;
use crate::core::stats::{logistic, logit};
use crate::{Error, Result};

/// Reference age of the placement and survival models.
pub(super) const AGE_CENTRE: f64 = 70.0;

/// Share of patients who are female, Swiss, emergency admissions.
const FEMALE: f64 = 0.4;
const SWISS: f64 = 0.78;
pub(super) const EMERGENCY: f64 = 0.6;

/// Prevalence of comorbidity k (0-based): 0.25, 0.2, 0.17, ...
fn comorbidity_prevalence(k: usize) -> f64 {
    0.25 / (1.0 + 0.25 * k as f64)
}

/// One drawn patient before placement.
pub(super) struct Patient {
    pub(super) diagnosis: usize,
    pub(super) age: f64,
    pub(super) female: bool,
    pub(super) swiss: bool,
    pub(super) emergency: bool,
    pub(super) comorbidities: Vec<bool>,
    pub(super) codes: Vec<bool>,
    pub(super) severity: f64,
    pub(super) responder: f64,
    pub(super) defier: f64,
    pub(super) taker: f64,
    pub(super) survival_draw: f64,
    pub(super) stay: usize,
}

/// A cohort size: gamma-Poisson with the given mean, at least 1.
pub(super) fn draw_size<R: Rng>(
    rng: &mut R,
    mean: f64,
    gamma: Option<&Gamma<f64>>,
) -> Result<usize> {
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
pub(super) fn draw_patient<R: Rng>(
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
    let noise = world.noise_code_prevalence;
    let codes = (0..world.codes)
        .map(|k| {
            let prevalence = if k < world.informative_codes {
                world.code_prevalence
            } else {
                noise
            };
            rng.random::<f64>() < prevalence
        })
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
