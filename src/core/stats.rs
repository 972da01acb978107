//! Small statistics shared by every floor above: means, medians, the
//! logistic link and the standard normal distribution. One copy each, so a
//! sim, an estimator and a report compute them the same way.

use std::borrow::Borrow;

/// The mean of `values` (numbers or references to them); NaN when there are none.
pub fn mean<T: Borrow<f64>>(values: impl IntoIterator<Item = T>) -> f64 {
    let (sum, n) = values
        .into_iter()
        .fold((0.0, 0usize), |(s, n), v| (s + *v.borrow(), n + 1));
    sum / n as f64
}

/// The mean and the population standard deviation (the squared deviations
/// divided by n) of a column: how every standardization of the data layer
/// (tests of independence, missingness, SMOTE's distances, PCA) centres and
/// scales; NaN for an empty column.
pub fn mean_and_sd(column: ndarray::ArrayView1<f64>) -> (f64, f64) {
    let n = column.len() as f64;
    let mean = column.sum() / n;
    let sd = (column.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / n).sqrt();
    (mean, sd)
}

/// The median of the finite entries of `values` (the mean of the middle two
/// for an even count); NaN when none is finite. Non-finite entries (a forest
/// variance that exploded under a weak instrument) are left out.
pub fn median(mut values: Vec<f64>) -> f64 {
    values.retain(|v| v.is_finite());
    if values.is_empty() {
        return f64::NAN;
    }
    values.sort_by(f64::total_cmp);
    let m = values.len() / 2;
    if values.len() % 2 == 1 {
        values[m]
    } else {
        (values[m - 1] + values[m]) / 2.0
    }
}

/// The logistic function, 1 / (1 + e^-a): log-odds to probability.
pub fn logistic(a: f64) -> f64 {
    1.0 / (1.0 + (-a).exp())
}

/// The log-odds of a probability (infinite at 0 and 1).
pub fn logit(p: f64) -> f64 {
    (p / (1.0 - p)).ln()
}

/// Two-sided normal critical value for a 95% interval.
pub const Z_95: f64 = 1.959_963_984_540_054;

/// The standard normal quantile function (Acklam's rational approximation,
/// relative error below 1.2e-9): the `z` with P(N(0, 1) <= z) = `p`, for
/// `p` in (0, 1); infinite at 0 and 1.
pub fn normal_quantile(p: f64) -> f64 {
    const A: [f64; 6] = [
        -3.969_683_028_665_376e1,
        2.209_460_984_245_205e2,
        -2.759_285_104_469_687e2,
        1.383_577_518_672_69e2,
        -3.066_479_806_614_716e1,
        2.506_628_277_459_239,
    ];
    const B: [f64; 5] = [
        -5.447_609_879_822_406e1,
        1.615_858_368_580_409e2,
        -1.556_989_798_598_866e2,
        6.680_131_188_771_972e1,
        -1.328_068_155_288_572e1,
    ];
    const C: [f64; 6] = [
        -7.784_894_002_430_293e-3,
        -3.223_964_580_411_365e-1,
        -2.400_758_277_161_838,
        -2.549_732_539_343_734,
        4.374_664_141_464_968,
        2.938_163_982_698_783,
    ];
    const D: [f64; 4] = [
        7.784_695_709_041_462e-3,
        3.224_671_290_700_398e-1,
        2.445_134_137_142_996,
        3.754_408_661_907_416,
    ];
    const LOW: f64 = 0.024_25;
    if p <= 0.0 {
        return f64::NEG_INFINITY;
    }
    if p >= 1.0 {
        return f64::INFINITY;
    }
    let tail = |q: f64| {
        (((((C[0] * q + C[1]) * q + C[2]) * q + C[3]) * q + C[4]) * q + C[5])
            / ((((D[0] * q + D[1]) * q + D[2]) * q + D[3]) * q + 1.0)
    };
    if p < LOW {
        tail((-2.0 * p.ln()).sqrt())
    } else if p > 1.0 - LOW {
        -tail((-2.0 * (1.0 - p).ln()).sqrt())
    } else {
        let q = p - 0.5;
        let r = q * q;
        (((((A[0] * r + A[1]) * r + A[2]) * r + A[3]) * r + A[4]) * r + A[5]) * q
            / (((((B[0] * r + B[1]) * r + B[2]) * r + B[3]) * r + B[4]) * r + 1.0)
    }
}

/// The quantile of Student's t with `df` degrees of freedom, by the
/// Cornish-Fisher expansion around the normal quantile (four terms: within
/// 0.001 of the exact value for `df` ≥ 4 at the 97.5% point, 2.5706 at
/// `df` = 5); the normal quantile for infinite `df`. For Rubin's rules,
/// whose degrees of freedom are at least the imputations less one.
pub fn t_quantile(p: f64, df: f64) -> f64 {
    let z = normal_quantile(p);
    if !df.is_finite() || !z.is_finite() {
        return z;
    }
    let (z2, v) = (z * z, df.max(1.0));
    let g1 = z * (z2 + 1.0) / 4.0;
    let g2 = z * ((5.0 * z2 + 16.0) * z2 + 3.0) / 96.0;
    let g3 = z * (((3.0 * z2 + 19.0) * z2 + 17.0) * z2 - 15.0) / 384.0;
    let g4 = z * ((((79.0 * z2 + 776.0) * z2 + 1482.0) * z2 - 1920.0) * z2 - 945.0) / 92_160.0;
    z + g1 / v + g2 / (v * v) + g3 / (v * v * v) + g4 / (v * v * v * v)
}

/// Standard normal CDF Φ(x), by Hart's rational approximation (double precision, as given by
/// G. West, "Better approximations to cumulative normal functions", 2005).
pub fn normal_cdf(x: f64) -> f64 {
    const P: [f64; 7] = [
        3.526_249_659_989_11e-2,
        0.700_383_064_443_688,
        6.373_962_203_531_65,
        33.912_866_078_383,
        112.079_291_497_871,
        221.213_596_169_931,
        220.206_867_912_376,
    ];
    const Q: [f64; 8] = [
        8.838_834_764_831_84e-2,
        1.755_667_163_182_64,
        16.064_177_579_207,
        86.780_732_202_946_1,
        296.564_248_779_674,
        637.333_633_378_831,
        793.826_512_519_948,
        440.413_735_824_752,
    ];
    let z = x.abs();
    let tail = if z > 37.0 {
        0.0
    } else if z < 7.071_067_811_865_47 {
        let p = P.iter().fold(0.0, |acc, c| acc * z + c);
        let q = Q.iter().fold(0.0, |acc, c| acc * z + c);
        (-0.5 * z * z).exp() * p / q
    } else {
        let cf = z + 1.0 / (z + 2.0 / (z + 3.0 / (z + 4.0 / (z + 0.65))));
        (-0.5 * z * z).exp() / cf / 2.506_628_274_631_000_5
    };
    if x > 0.0 {
        1.0 - tail
    } else if x.is_nan() {
        x
    } else {
        tail
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn t_quantiles_match_published_tables() {
        for (df, exact) in [
            (4.0, 2.776_445),
            (5.0, 2.570_582),
            (10.0, 2.228_139),
            (30.0, 2.042_272),
        ] {
            let t = t_quantile(0.975, df);
            assert!((t - exact).abs() < 2e-3, "df {df}: {t} vs {exact}");
        }
        assert!((t_quantile(0.975, f64::INFINITY) - Z_95).abs() < 1e-8);
        assert!((t_quantile(0.025, 10.0) + 2.228_139).abs() < 2e-3);
    }

    #[test]
    fn means_and_medians() {
        assert_eq!(mean([1.0, 2.0, 6.0]), 3.0);
        let slice: &[f64] = &[1.0, 2.0];
        assert_eq!(mean(slice), 1.5);
        assert!(mean(Vec::<f64>::new()).is_nan());
        assert_eq!(median(vec![3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median(vec![4.0, 1.0, f64::NAN, 2.0, 3.0]), 2.5);
        assert!(median(vec![f64::INFINITY]).is_nan());
    }

    #[test]
    fn the_logistic_link_inverts_the_logit() {
        for p in [0.01, 0.3, 0.5, 0.9] {
            assert!((logistic(logit(p)) - p).abs() < 1e-12);
        }
        assert_eq!(logistic(0.0), 0.5);
    }

    #[test]
    fn the_normal_quantile_inverts_the_cdf() {
        for p in [1e-6, 0.025, 0.3, 0.5, 0.975] {
            assert!((normal_cdf(normal_quantile(p)) - p).abs() < 1e-7 * p);
        }
        assert!((normal_quantile(0.975) - Z_95).abs() < 1e-8);
        assert!((normal_cdf(1.0) - 0.841_344_746_068_543).abs() < 1e-14);
    }
}
