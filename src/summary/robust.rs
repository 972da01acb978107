//! Summaries that stay meaningful when an estimator has no finite moments
//! (2SLS with a weak instrument): quantiles with bootstrap Monte Carlo SEs,
//! and shares with Wilson intervals, which stay honest at 0 and 1 where the
//! plug-in SE `sqrt(p(1-p)/R)` collapses to zero.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use super::Mc;
use crate::core::stats::{median, Z_95};

/// Bootstrap resamples behind a robust diagnosand's Monte Carlo SE: enough
/// for an SE good to about 5% of itself, cheap beside any estimator.
pub const BOOTSTRAP: usize = 200;

/// The `p`-quantile of `sorted` (ascending, finite) by linear interpolation
/// between order statistics (R's type 7, numpy's default); NaN when empty.
pub fn quantile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let h = (sorted.len() - 1) as f64 * p.clamp(0.0, 1.0);
    let (lo, frac) = (h.floor() as usize, h - h.floor());
    let hi = (lo + 1).min(sorted.len() - 1);
    sorted[lo] + frac * (sorted[hi] - sorted[lo])
}

/// The interquartile range of `values`; NaN when there are none.
pub fn iqr(values: &[f64]) -> f64 {
    let mut sorted: Vec<f64> = values.iter().copied().filter(|v| v.is_finite()).collect();
    sorted.sort_by(f64::total_cmp);
    quantile(&sorted, 0.75) - quantile(&sorted, 0.25)
}

/// The median of `values`.
pub fn median_of(values: &[f64]) -> f64 {
    median(values.to_vec())
}

/// `statistic` of `values` with a bootstrap Monte Carlo SE: the SD of the
/// statistic over [`BOOTSTRAP`] resamples of the replications, drawn from
/// `seed` so that a report is the same on every render.
pub fn bootstrap(values: &[f64], statistic: fn(&[f64]) -> f64, seed: u64) -> Mc {
    let value = statistic(values);
    if values.len() < 2 {
        return Mc::plain(value, f64::NAN);
    }
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut resample = vec![0.0; values.len()];
    let draws: Vec<f64> = (0..BOOTSTRAP)
        .map(|_| {
            for slot in resample.iter_mut() {
                *slot = values[rng.random_range(0..values.len())];
            }
            statistic(&resample)
        })
        .collect();
    let m = draws.iter().sum::<f64>() / draws.len() as f64;
    let var = draws.iter().map(|d| (d - m).powi(2)).sum::<f64>() / (draws.len() - 1) as f64;
    Mc::plain(value, var.sqrt())
}

/// A share of replications (coverage, power) with its plug-in Monte Carlo
/// SE and its 95% Wilson score interval, which is never a point: 0 of 300
/// covers reads [0, 0.013], not 0 ± 0.
pub fn share(hits: &[bool]) -> Mc {
    let n = hits.len() as f64;
    if hits.is_empty() {
        return Mc::plain(f64::NAN, f64::NAN);
    }
    let k = hits.iter().filter(|&&h| h).count();
    let p = k as f64 / n;
    let z2 = Z_95 * Z_95;
    let centre = (p + z2 / (2.0 * n)) / (1.0 + z2 / n);
    let half = Z_95 / (1.0 + z2 / n) * (p * (1.0 - p) / n + z2 / (4.0 * n * n)).sqrt();
    Mc {
        value: p,
        mcse: (p * (1.0 - p) / n).sqrt(),
        // The ends are exactly 0 and 1 at no hits and all hits; rounding
        // would leave them a hair inside.
        interval: Some([
            if k == 0 { 0.0 } else { centre - half },
            if k == hits.len() { 1.0 } else { centre + half },
        ]),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantiles_interpolate_like_type_7() {
        let v = [1.0, 2.0, 3.0, 4.0];
        assert_eq!(quantile(&v, 0.0), 1.0);
        assert_eq!(quantile(&v, 1.0), 4.0);
        assert!((quantile(&v, 0.25) - 1.75).abs() < 1e-12);
        assert!((iqr(&v) - 1.5).abs() < 1e-12);
        assert!(quantile(&[], 0.5).is_nan());
    }

    #[test]
    fn wilson_interval_is_open_at_the_edges_and_brackets_the_share() {
        let none = share(&[false; 300]);
        assert_eq!((none.value, none.mcse), (0.0, 0.0));
        let [lo, hi] = none.interval.unwrap();
        assert_eq!(lo, 0.0);
        // The textbook Wilson upper end for 0 of 300 is z²/(n + z²) = 0.0126.
        assert!((hi - Z_95 * Z_95 / (300.0 + Z_95 * Z_95)).abs() < 1e-12);
        let mut hits = vec![true; 285];
        hits.extend([false; 15]);
        let s = share(&hits);
        let [lo, hi] = s.interval.unwrap();
        assert!(
            lo < 0.95 && 0.95 < hi && (0.91..0.93).contains(&lo),
            "{lo} {hi}"
        );
    }

    /// The bootstrap SE of a median of normal draws is near the asymptotic
    /// sqrt(pi / 2) sigma / sqrt(n).
    #[test]
    fn bootstrap_se_of_a_median_matches_its_asymptotic_se() {
        let mut rng = ChaCha8Rng::seed_from_u64(3);
        let draws: Vec<f64> = (0..400)
            .map(|_| rand_distr::Distribution::sample(&rand_distr::StandardNormal, &mut rng))
            .collect();
        let mc = bootstrap(&draws, median_of, 11);
        let asymptotic = (std::f64::consts::PI / 2.0).sqrt() / 20.0;
        assert!((mc.mcse / asymptotic - 1.0).abs() < 0.3, "{}", mc.mcse);
        assert_eq!(mc, bootstrap(&draws, median_of, 11));
    }
}
