//! An estimator fitted through a data strategy: on the one dataset the
//! strategy makes of the sample, or on each of several imputed ones,
//! pooled by Rubin's rules into one estimate whose standard error carries
//! the uncertainty of the missing values (Rubin 1987).

use std::collections::BTreeMap;

use super::Estimate;
use crate::core::stats::t_quantile;
use crate::data::strategy::{self, DataStep};
use crate::data::Dataset;
use crate::Result;

/// Fits `fit` on what `steps` make of `data` (randomness from `seed`):
/// one dataset's fit as it is, several pooled by [`rubin`]. The strategy's
/// diagnostics and warnings join the estimate's; per-unit effects are kept
/// only when they are still one per unit of `data`.
pub fn fit_with_strategy(
    steps: &[DataStep],
    data: &Dataset,
    seed: u64,
    fit: impl Fn(&Dataset) -> Result<Estimate>,
) -> Result<Estimate> {
    let prepared = strategy::prepare(steps, data, seed)?;
    let mut estimate = match prepared.datasets.as_slice() {
        [one] => fit(one)?,
        many => rubin(&many.iter().map(&fit).collect::<Result<Vec<_>>>()?),
    };
    for (key, value) in prepared.diagnostics {
        estimate.diagnostics.insert(key.to_string(), value);
    }
    estimate.warnings.extend(prepared.warnings);
    if estimate
        .units
        .as_ref()
        .is_some_and(|u| u.tau.len() != data.n())
    {
        estimate.units = None;
    }
    Ok(estimate)
}

/// Pools `fits` (at least two) by Rubin's rules: the mean estimate, total
/// variance `W + (1 + 1/m) B` (within-imputation variance `W`, the mean
/// squared SE; between-imputation variance `B`), and a t interval with
/// Rubin's degrees of freedom `(m − 1)(1 + W / ((1 + 1/m) B))²`. The
/// diagnostics are each fit's averaged, plus `imputations`,
/// `missing_information` (the share of the variance due to the missing
/// values) and `rubin_df`; the warnings are every fit's, once each.
/// Per-unit effects are not pooled.
pub fn rubin(fits: &[Estimate]) -> Estimate {
    let m = fits.len().max(1) as f64;
    let mean = fits.iter().map(|e| e.estimate).sum::<f64>() / m;
    let within = fits.iter().map(|e| e.se * e.se).sum::<f64>() / m;
    let between = if fits.len() > 1 {
        fits.iter()
            .map(|e| (e.estimate - mean).powi(2))
            .sum::<f64>()
            / (m - 1.0)
    } else {
        0.0
    };
    let inflated = (1.0 + 1.0 / m) * between;
    let total = within + inflated;
    let df = if inflated > 0.0 {
        (m - 1.0) * (1.0 + within / inflated).powi(2)
    } else {
        f64::INFINITY
    };
    let se = total.sqrt();
    let half = t_quantile(0.975, df) * se;
    let mut diagnostics: BTreeMap<String, f64> = BTreeMap::new();
    for fit in fits {
        for (key, value) in &fit.diagnostics {
            *diagnostics.entry(key.clone()).or_insert(0.0) += value / m;
        }
    }
    diagnostics.insert("imputations".into(), m);
    diagnostics.insert(
        "missing_information".into(),
        if total > 0.0 { inflated / total } else { 0.0 },
    );
    if df.is_finite() {
        diagnostics.insert("rubin_df".into(), df);
    }
    let mut warnings: Vec<String> = Vec::new();
    for w in fits.iter().flat_map(|f| &f.warnings) {
        if !warnings.contains(w) {
            warnings.push(w.clone());
        }
    }
    Estimate {
        estimand: fits
            .first()
            .map_or(crate::core::Estimand::Ate, |f| f.estimand),
        estimate: mean,
        se,
        ci_lower: mean - half,
        ci_upper: mean + half,
        confidence_set: None,
        diagnostics,
        units: None,
        warnings,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::Estimand;

    #[test]
    fn rubins_rules_follow_their_formulas() {
        let fits: Vec<Estimate> = [(1.0, 0.3), (1.2, 0.4), (0.8, 0.3)]
            .into_iter()
            .map(|(e, se)| Estimate::normal(Estimand::Ate, e, se).with("n", 100.0))
            .collect();
        let pooled = rubin(&fits);
        let within: f64 = (0.09 + 0.16 + 0.09) / 3.0;
        let between: f64 = (0.0 + 0.04 + 0.04) / 2.0;
        let total = within + (4.0 / 3.0) * between;
        assert!((pooled.estimate - 1.0).abs() < 1e-12);
        assert!((pooled.se - total.sqrt()).abs() < 1e-12);
        let df = 2.0 * (1.0 + within / ((4.0 / 3.0) * between)).powi(2);
        assert!((pooled.diagnostics["rubin_df"] - df).abs() < 1e-9);
        assert!(pooled.ci_upper - pooled.estimate > crate::core::stats::Z_95 * pooled.se);
        assert_eq!(pooled.diagnostics["n"], 100.0);
        assert_eq!(pooled.diagnostics["imputations"], 3.0);
    }
}
