//! Overlap and weak-instrument diagnostics of an instrumental forest: how
//! close the estimated instrument propensities come to 0 or 1, how the
//! compliance scores spread around zero, how large the doubly robust
//! weights get, and how far grf's average moves when its most extreme
//! scores are left out. They say whether the forest's average can be
//! believed before anyone reads it.

use super::robust::{IvParts, NO_FLOOR};
use super::scores::MIN_COMPLIANCE;

/// Instrument propensities outside `[BAND, 1 - BAND]` count as poor overlap.
pub const BAND: f64 = 0.05;

/// Bins of the propensity histogram over [0, 1].
pub const HISTOGRAM_BINS: usize = 20;

/// How many scores the leave-out checks drop.
pub const LEAVE_OUT: [usize; 3] = [1, 10, 100];

/// Warn when more than this share of units lie outside the overlap band,
/// or has compliance below [`MIN_COMPLIANCE`] in magnitude.
const WARN_SHARE: f64 = 0.01;

/// Warn when more than this share of compliance scores are negative.
const WARN_NEGATIVE: f64 = 0.05;

/// An average is fragile when its [`FEW`] most extreme scores carry more
/// than this share of the scores' squared deviations: then a handful of
/// patients, not the sample, set its value and its SE.
pub const FRAGILE_SHARE: f64 = 0.5;

/// How many patients count as a handful for [`FRAGILE_SHARE`].
pub const FEW: usize = 10;

/// The diagnostics of one fit, on its training units.
#[derive(Debug, Clone, PartialEq)]
pub struct IvDiagnostics {
    /// Training units.
    pub units: usize,
    /// Smallest estimated instrument propensity.
    pub propensity_min: f64,
    /// Largest estimated instrument propensity.
    pub propensity_max: f64,
    /// Share of units with the propensity outside `[BAND, 1 - BAND]`.
    pub outside_band: f64,
    /// Out-of-bag R² of the propensity for Z: near 1 means the propensity
    /// predicts the instrument itself (leakage, or no overlap).
    pub propensity_r2: f64,
    /// Counts of the propensity in `HISTOGRAM_BINS` equal bins of [0, 1].
    pub histogram: Vec<usize>,
    /// Mean of the compliance scores.
    pub compliance_mean: f64,
    /// Standard deviation of the compliance scores.
    pub compliance_sd: f64,
    /// Smallest compliance score.
    pub compliance_min: f64,
    /// Share of negative compliance scores.
    pub share_negative: f64,
    /// Share of compliance scores below [`MIN_COMPLIANCE`] in magnitude.
    pub share_near_zero: f64,
    /// The pooled first stage on the partialled-out data, which the Wald
    /// ratios divide by (half of it floors the compliance in one average).
    pub pooled_first_stage: f64,
    /// The largest doubly robust weights `|(Z - z_hat) / (z_hat (1 - z_hat)) / delta(x)|`, largest first (five).
    pub largest_weights: Vec<f64>,
    /// grf's average (compliance not floored) over all units.
    pub average: f64,
    /// Its standard error.
    pub average_se: f64,
    /// `(k, average)`: grf's average with the `k` scores farthest from it
    /// left out, for each `k` in [`LEAVE_OUT`] smaller than the sample.
    pub leave_out: Vec<(usize, f64)>,
    /// The share of the scores' squared deviations from their mean that the
    /// [`FEW`] most extreme scores carry.
    pub extreme_share: f64,
}

/// Computes the diagnostics from the forest's out-of-bag parts; `average`
/// and `average_se` are grf's average (compliance not floored) and its SE.
pub fn diagnose(parts: &IvParts<'_>, (average, average_se): (f64, f64)) -> IvDiagnostics {
    let n = parts.y.len();
    let len = n as f64;
    let z_hat = &parts.nuisances.z_hat;
    let share = |f: &dyn Fn(usize) -> bool| (0..n).filter(|&i| f(i)).count() as f64 / len;
    let mut histogram = vec![0usize; HISTOGRAM_BINS];
    for e in z_hat {
        let bin = (e.clamp(0.0, 1.0) * HISTOGRAM_BINS as f64) as usize;
        histogram[bin.min(HISTOGRAM_BINS - 1)] += 1;
    }
    let z_mean = parts.z.iter().sum::<f64>() / len;
    let tss: f64 = parts.z.iter().map(|z| (z - z_mean).powi(2)).sum();
    let rss: f64 = parts
        .z
        .iter()
        .zip(z_hat)
        .map(|(z, e)| (z - e).powi(2))
        .sum();
    let c = parts.compliance;
    let compliance_mean = c.iter().sum::<f64>() / len;
    let compliance_sd = (c.iter().map(|v| (v - compliance_mean).powi(2)).sum::<f64>()
        / (len - 1.0).max(1.0))
    .sqrt();
    let grf = parts.scores(NO_FLOOR);
    let mut weights: Vec<f64> = (0..n).map(|i| parts.dr_weight(i, NO_FLOOR).abs()).collect();
    weights.sort_by(|a, b| b.total_cmp(a));
    weights.truncate(5);
    IvDiagnostics {
        units: n,
        propensity_min: z_hat.iter().copied().fold(f64::INFINITY, f64::min),
        propensity_max: z_hat.iter().copied().fold(f64::NEG_INFINITY, f64::max),
        outside_band: share(&|i| !(BAND..=1.0 - BAND).contains(&z_hat[i])),
        propensity_r2: 1.0 - rss / tss,
        histogram,
        compliance_mean,
        compliance_sd,
        compliance_min: c.iter().copied().fold(f64::INFINITY, f64::min),
        share_negative: share(&|i| c[i] < 0.0),
        share_near_zero: share(&|i| c[i].abs() < MIN_COMPLIANCE),
        pooled_first_stage: parts.pooled_first_stage(),
        largest_weights: weights,
        average,
        average_se,
        leave_out: leave_out(&grf, average),
        extreme_share: extreme_share(&grf, FEW),
    }
}

/// The share of `scores`' squared deviations from their mean carried by
/// the `k` largest.
fn extreme_share(scores: &[f64], k: usize) -> f64 {
    let mean = scores.iter().sum::<f64>() / scores.len().max(1) as f64;
    let mut squares: Vec<f64> = scores.iter().map(|s| (s - mean).powi(2)).collect();
    let total: f64 = squares.iter().sum();
    if total <= 0.0 {
        return 0.0;
    }
    squares.sort_by(|a, b| b.total_cmp(a));
    squares.iter().take(k).sum::<f64>() / total
}

/// The mean of `scores` with the `k` farthest from `centre` left out, for
/// each `k` in [`LEAVE_OUT`] that leaves at least two.
fn leave_out(scores: &[f64], centre: f64) -> Vec<(usize, f64)> {
    let mut by_distance: Vec<f64> = scores.to_vec();
    by_distance.sort_by(|a, b| (b - centre).abs().total_cmp(&(a - centre).abs()));
    let total: f64 = scores.iter().sum();
    LEAVE_OUT
        .iter()
        .filter(|&&k| k + 2 <= scores.len())
        .map(|&k| {
            let dropped: f64 = by_distance[..k].iter().sum();
            (k, (total - dropped) / (scores.len() - k) as f64)
        })
        .collect()
}

impl IvDiagnostics {
    /// Plain-language warnings, empty when none of the checks fires: poor
    /// overlap, a weak instrument, an average that rests on a few units.
    pub fn warnings(&self) -> Vec<String> {
        let mut out = Vec::new();
        let pct = |s: f64| format!("{:.1}%", 100.0 * s);
        if self.outside_band > WARN_SHARE {
            out.push(format!(
                "poor overlap: instrument propensities range from {:.3} to {:.3}, and {} of units lie \
                 outside [{BAND}, {}] (out-of-bag R² of the propensity for Z: {:.2}); if units share \
                 the instrument (a day, a site), pass them as clusters",
                self.propensity_min,
                self.propensity_max,
                pct(self.outside_band),
                1.0 - BAND,
                self.propensity_r2
            ));
        }
        if self.share_near_zero > WARN_SHARE || self.share_negative > WARN_NEGATIVE {
            out.push(format!(
                "weak instrument: compliance scores have mean {:.3} and sd {:.3}; {} are negative and {} \
                 lie within ±{MIN_COMPLIANCE} of zero (as low as {:.3}), where the doubly robust weight \
                 reaches {:.3e}",
                self.compliance_mean,
                self.compliance_sd,
                pct(self.share_negative),
                pct(self.share_near_zero),
                self.compliance_min,
                self.largest_weights.first().copied().unwrap_or(0.0)
            ));
        }
        if self.fragile() {
            let without = self.without_few().unwrap_or(f64::NAN);
            out.push(format!(
                "fragile average: grf's {FEW} most extreme doubly robust scores carry {} of their \
                 variance; the average is {:.4} (SE {:.4}) with them and {:.4} without; prefer the \
                 doubly robust Wald ratio",
                pct(self.extreme_share),
                self.average,
                self.average_se,
                without
            ));
        }
        out
    }

    /// Whether grf's average rests on a handful of patients: its [`FEW`]
    /// most extreme scores carry more than [`FRAGILE_SHARE`] of the
    /// scores' squared deviations.
    pub fn fragile(&self) -> bool {
        self.extreme_share > FRAGILE_SHARE
    }

    /// grf's average with its [`FEW`] most extreme scores left out.
    pub fn without_few(&self) -> Option<f64> {
        self.leave_out
            .iter()
            .find(|(k, _)| *k == FEW)
            .map(|(_, a)| *a)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_handful_of_extreme_scores_carrying_the_variance_is_fragile() {
        let mut scores: Vec<f64> = (0..1000).map(|i| f64::from(i % 2)).collect();
        // Squared deviations 0.25 each: the ten largest carry 1%.
        assert!((extreme_share(&scores, 10) - 0.01).abs() < 1e-9);
        scores[3] = 1e4;
        assert!(extreme_share(&scores, 10) > 0.99);
        assert_eq!(extreme_share(&[2.0; 5], 10), 0.0);
    }

    #[test]
    fn leaving_out_drops_the_scores_farthest_from_the_centre() {
        let mut scores = vec![1.0; 200];
        scores[7] = 1000.0;
        let got = leave_out(&scores, 6.0);
        assert_eq!(got[0], (1, 1.0));
        assert_eq!(got.len(), 3);
        assert!((got[1].1 - 1.0).abs() < 1e-12);
        assert!(leave_out(&scores[..5], 1.0).len() == 1);
    }
}
