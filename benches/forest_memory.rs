//! Memory at the placement paper's scale: an instrumental forest on
//! n = 100,000 units with p = 2,000 sparse binary features (the paper fits
//! 55,766 cases x 2,122 features), fitted from bin codes so the covariates
//! take one byte per cell. Prints fit time and peak resident memory.
//!
//! Run with `cargo bench --bench forest_memory -- [N] [P] [TREES]`
//! (defaults 100000 2000 2000).

#[path = "common/memory.rs"]
mod memory;

use std::time::Instant;

use causim::estimate::forest::{Binned, Bins, FittedForest, ForestParams};
use ndarray::Array2;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, StandardNormal};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<usize> = std::env::args()
        .skip(1)
        .filter(|a| a != "--bench")
        .map(|a| a.parse())
        .collect::<Result<_, _>>()?;
    let n = args.first().copied().unwrap_or(100_000);
    let p = args.get(1).copied().unwrap_or(2000);
    let trees = args.get(2).copied().unwrap_or(2000);

    let mut rng = ChaCha8Rng::seed_from_u64(1);
    let mut codes = vec![0u8; n * p];
    for (k, c) in codes.iter_mut().enumerate() {
        // Code j is present with probability between 2% and 30%.
        let share = 0.02 + 0.28 * ((k / n) % 7) as f64 / 6.0;
        *c = u8::from(rng.random::<f64>() < share);
    }
    let (mut y, mut w, mut z) = (vec![0.0; n], vec![0.0; n], vec![0.0; n]);
    for i in 0..n {
        let u: f64 = StandardNormal.sample(&mut rng);
        let (x1, x2) = (f64::from(codes[i]), f64::from(codes[n + i]));
        z[i] = f64::from(u8::from(rng.random::<f64>() < 0.5));
        let complier = rng.random::<f64>() < 0.5;
        let always = rng.random::<f64>() < 1.0 / (1.0 + (-u).exp());
        w[i] = if complier {
            z[i]
        } else {
            f64::from(u8::from(always))
        };
        let tau = 0.5 * x1 + 0.3 * x2;
        let noise: f64 = StandardNormal.sample(&mut rng);
        y[i] = 0.2 * x2 + tau * w[i] + u + noise;
    }
    let binary = Array2::from_shape_fn((2, p), |(r, _)| r as f64);
    let bins = Bins::fit(binary.view(), 2)?;
    let binned = Binned::from_codes(n, codes, vec![2; p])?;
    let before = memory::peak_rss_mb();
    let params = ForestParams {
        num_trees: trees,
        ..ForestParams::default()
    };
    let started = Instant::now();
    let fitted = FittedForest::fit_binned((bins, binned), (&y, &w, &z), &params, None, 7)?;
    let fit_seconds = started.elapsed().as_secs_f64();
    let oob = fitted.predict_oob();
    let seconds = started.elapsed().as_secs_f64();
    let finite = oob.iter().filter(|p| p.tau.is_finite()).count();
    println!(
        "{{\"tool\": \"causim\", \"n\": {n}, \"p\": {p}, \"trees\": {trees}, \"threads\": {}, \
         \"fit_seconds\": {fit_seconds:.1}, \"fit_and_oob_seconds\": {seconds:.1}, \
         \"peak_rss_mb_data\": {before:.0}, \"peak_rss_mb\": {:.0}, \"finite_predictions\": {finite}}}",
        rayon::current_num_threads(),
        memory::peak_rss_mb()
    );
    Ok(())
}
