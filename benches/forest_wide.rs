//! The placement paper's width: an instrumental forest, nuisance forests
//! included, on 55,766 patients with 23 dense covariates and 2,099 sparse
//! binary diagnosis and procedure codes (about 8 per patient, a few common
//! and most rare), binary instrument, treatment and survival, then
//! predictions for 5,000 new patients. Prints fit and predict time and peak
//! resident memory as one JSON line.
//!
//! Run with `cargo bench --bench forest_wide -- [N] [CODES] [TREES]`
//! (defaults 55766 2099 2000).

#[path = "common/memory.rs"]
mod memory;

use std::time::Instant;

use causim::estimate::forest::{Binned, Bins, FittedForest, ForestParams};
use ndarray::Array2;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, Poisson, StandardNormal};

/// Dense covariates: age, busyness and the like, each its own quantile bins.
const DENSE: usize = 23;

/// Codes per patient, on average.
const CODES_PER_PATIENT: f64 = 8.0;

/// `n` patients' covariates as bin codes, row-major: a dense column's code
/// uniform on its 256 quantile bins, code `k` present with a probability
/// falling as 1/(k + 10) (a few codes are common, most rare), about
/// [`CODES_PER_PATIENT`] per patient.
fn covariates(n: usize, codes: usize, rng: &mut ChaCha8Rng) -> Vec<u8> {
    let p = DENSE + codes;
    let weights: Vec<f64> = (0..codes).map(|k| 1.0 / (k as f64 + 10.0)).collect();
    let total: f64 = weights.iter().sum();
    let cumulative: Vec<f64> = weights
        .iter()
        .scan(0.0, |acc, w| {
            *acc += w / total;
            Some(*acc)
        })
        .collect();
    let count = Poisson::new(CODES_PER_PATIENT).expect("a rate");
    let mut x = vec![0u8; n * p];
    for row in x.chunks_mut(p) {
        for c in &mut row[..DENSE] {
            *c = rng.random();
        }
        for _ in 0..count.sample(rng) as usize {
            let u: f64 = rng.random();
            row[DENSE + cumulative.partition_point(|&c| c < u).min(codes - 1)] = 1;
        }
    }
    x
}

/// The bins of such codes: a dense column's values 0 to 255, a code's 0 and 1.
fn bins(codes: usize) -> Result<Bins, causim::Error> {
    let levels = Array2::from_shape_fn((256, DENSE + codes), |(r, j)| {
        if j < DENSE {
            r as f64
        } else {
            (r % 2) as f64
        }
    });
    Bins::fit(levels.view(), causim::estimate::forest::MAX_BINS)
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<usize> = std::env::args()
        .skip(1)
        .filter(|a| a != "--bench")
        .map(|a| a.parse())
        .collect::<Result<_, _>>()?;
    let n = args.first().copied().unwrap_or(55_766);
    let codes = args.get(1).copied().unwrap_or(2_099);
    let trees = args.get(2).copied().unwrap_or(2_000);

    let mut rng = ChaCha8Rng::seed_from_u64(1);
    let p = DENSE + codes;
    let x = covariates(n, codes, &mut rng);
    let at = |i: usize, j: usize| f64::from(x[i * p + j]);
    let (mut y, mut w, mut z) = (vec![0.0; n], vec![0.0; n], vec![0.0; n]);
    for i in 0..n {
        let u: f64 = StandardNormal.sample(&mut rng);
        let pz = 1.0 / (1.0 + (-(at(i, 0) - 127.5) / 74.0).exp());
        z[i] = f64::from(u8::from(rng.random::<f64>() < pz));
        let complier = rng.random::<f64>() < 0.6;
        let always = rng.random::<f64>() < 1.0 / (1.0 + (-u).exp());
        w[i] = if complier {
            z[i]
        } else {
            f64::from(u8::from(always))
        };
        let tau = -0.02 - 0.05 * at(i, DENSE) + 0.02 * (at(i, 1) - 127.5).max(0.0) / 74.0;
        let survival =
            (0.9 + 0.03 * (at(i, 2) - 127.5) / 74.0 - 0.03 * u + tau * w[i]).clamp(0.0, 1.0);
        y[i] = f64::from(u8::from(rng.random::<f64>() < survival));
    }
    let new = covariates(5_000, codes, &mut rng);
    let new = Array2::from_shape_fn((5_000, p), |(i, j)| f64::from(new[i * p + j]));
    let bins = bins(codes)?;
    let binned = Binned::from_codes(
        n,
        x,
        (0..p).map(|j| if j < DENSE { 256 } else { 2 }).collect(),
    )?;
    let before = memory::peak_rss_mb();
    let params = ForestParams {
        num_trees: trees,
        ..ForestParams::default()
    };
    let started = Instant::now();
    let fitted = FittedForest::fit_binned((bins, binned), (&y, &w, &z), &params, None, 7)?;
    let fit_seconds = started.elapsed().as_secs_f64();
    let started = Instant::now();
    let predictions = fitted.predict(new.view())?;
    let predict_seconds = started.elapsed().as_secs_f64();
    let finite = predictions.iter().filter(|p| p.tau.is_finite()).count();
    let mean = predictions.iter().map(|p| p.tau).sum::<f64>() / predictions.len() as f64;
    println!(
        "{{\"tool\": \"causim\", \"n\": {n}, \"p\": {}, \"trees\": {trees}, \"threads\": {}, \
         \"fit_seconds\": {fit_seconds:.1}, \
         \"predict_seconds\": {predict_seconds:.1}, \"peak_rss_mb_data\": {before:.0}, \
         \"peak_rss_mb\": {:.0}, \"finite_predictions\": {finite}, \"mean_tau\": {mean:.5}}}",
        p,
        rayon::current_num_threads(),
        memory::peak_rss_mb()
    );
    Ok(())
}
