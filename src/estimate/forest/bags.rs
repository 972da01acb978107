//! Averaging leaf values over trees and grf's little-bags variance: the
//! between-group and within-group second moments of per-tree scores, with
//! the objective-Bayes correction that keeps the estimate non-negative.

use super::ensemble::LeafValues;

/// grf's objective-Bayes correction of a little-bags variance: the
/// method-of-moments estimate `var_between - group_noise` kept from going
/// negative by a uniform prior on [0, inf) for the true variance.
pub fn debias(var_between: f64, group_noise: f64, groups: f64) -> f64 {
    let initial = var_between - group_noise;
    let se = var_between.max(group_noise) * (2.0 / groups).sqrt();
    if se <= 0.0 || !se.is_finite() {
        return initial.max(0.0);
    }
    let ratio = initial / se;
    let numerator = (-ratio * ratio / 2.0).exp() / (2.0 * std::f64::consts::PI).sqrt();
    let denominator = 0.5 * erfc(-ratio / std::f64::consts::SQRT_2);
    initial + se * numerator / denominator
}

/// Complementary error function (W. J. Cody's rational approximations via
/// the Numerical Recipes Chebyshev fit; relative error below 1.2e-7).
pub fn erfc(x: f64) -> f64 {
    let z = x.abs();
    let t = 1.0 / (1.0 + 0.5 * z);
    let r = t
        * (-z * z - 1.265_512_23
            + t * (1.000_023_68
                + t * (0.374_091_96
                    + t * (0.096_784_18
                        + t * (-0.186_288_06
                            + t * (0.278_868_07
                                + t * (-1.135_203_98
                                    + t * (1.488_515_87
                                        + t * (-0.822_152_23 + t * 0.170_872_77)))))))))
            .exp();
    if x >= 0.0 {
        r
    } else {
        2.0 - r
    }
}

/// Mean of each tree's leaf values over the trees that have one; `None` if none do.
pub fn average(values: &LeafValues<'_>, width: usize) -> Option<(Vec<f64>, usize)> {
    let mut sum = vec![0.0; width];
    let mut count = 0;
    for v in values.iter().flatten() {
        for (s, x) in sum.iter_mut().zip(v.iter()) {
            *s += x;
        }
        count += 1;
    }
    (count > 0).then(|| {
        let inv = 1.0 / count as f64;
        (sum.into_iter().map(|s| s * inv).collect(), count)
    })
}

/// Little-bags variance of a scalar prediction built from per-tree scores
/// `psi(values) -> [psi_1, psi_2]` and a quadratic form `q`: grf's
/// between-group and within-group second moments, corrected by [`debias`].
/// Groups with any empty tree are skipped; `None` without usable groups.
pub fn little_bags<const K: usize>(
    values: &LeafValues<'_>,
    group: usize,
    psi: impl Fn(&[f64]) -> [f64; K],
    q: impl Fn(&[[f64; K]; K]) -> f64,
) -> Option<f64> {
    if group < 2 {
        return None;
    }
    let mut total = [[0.0; K]; K];
    let mut between = [[0.0; K]; K];
    let mut good = 0usize;
    for chunk in values.chunks_exact(group) {
        if chunk.iter().any(Option::is_none) {
            continue;
        }
        good += 1;
        let mut mean = [0.0; K];
        for v in chunk.iter().flatten() {
            let s = psi(v);
            for a in 0..K {
                mean[a] += s[a] / group as f64;
                for c in 0..K {
                    total[a][c] += s[a] * s[c];
                }
            }
        }
        for a in 0..K {
            for c in 0..K {
                between[a][c] += mean[a] * mean[c];
            }
        }
    }
    if good == 0 {
        return None;
    }
    let g = good as f64;
    for a in 0..K {
        for c in 0..K {
            total[a][c] /= g * group as f64;
            between[a][c] /= g;
        }
    }
    Some(bag_variance(q(&between), q(&total), group, g))
}

/// The little-bags variance from the between-group and total second
/// moments of a prediction (`var_between`, `var_total`) over `groups` usable
/// groups of `group` trees: the within-group noise is removed and the
/// difference corrected by [`debias`].
pub fn bag_variance(var_between: f64, var_total: f64, group: usize, groups: f64) -> f64 {
    let group_noise = (var_total - var_between) / (group as f64 - 1.0);
    debias(var_between, group_noise, groups)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn average_skips_trees_without_a_leaf() {
        let (a, b) = ([1.0, 10.0], [3.0, 20.0]);
        let values: Vec<Option<&[f64]>> = vec![Some(&a), None, Some(&b)];
        let (mean, count) = average(&values, 2).expect("two trees");
        assert_eq!((mean, count), (vec![2.0, 15.0], 2));
        assert!(average(&[None, None], 2).is_none());
    }

    #[test]
    fn little_bags_compare_bag_means_with_trees() {
        // Bags {1, 3} and {5, 7}: mean square of trees 21, of bag means 20.
        let v: Vec<[f64; 1]> = [1.0, 3.0, 5.0, 7.0].iter().map(|&x| [x]).collect();
        let values: Vec<Option<&[f64]>> = v.iter().map(|x| Some(&x[..])).collect();
        let variance = |values: &[Option<&[f64]>]| {
            little_bags(values, 2, |x| [x[0]], |m| m[0][0]).expect("usable bags")
        };
        let got = variance(&values);
        assert_eq!(got, bag_variance(20.0, 21.0, 2, 2.0));
        assert_eq!(got, debias(20.0, 1.0, 2.0));
        // A bag with an empty tree is skipped.
        let mut holed = values.clone();
        holed.extend([Some(&v[0][..]), None]);
        assert_eq!(variance(&holed), got);
        assert!(little_bags(&values, 1, |x| [x[0]], |m| m[0][0]).is_none());
    }

    #[test]
    fn debias_keeps_the_variance_positive_and_large_ones_unchanged() {
        assert!((debias(100.0, 1.0, 1e8) - 99.0).abs() < 1e-6);
        let small = debias(1.0, 5.0, 10.0);
        assert!(small > 0.0 && small < 1.0, "{small}");
        assert!((erfc(0.0) - 1.0).abs() < 1e-7);
        assert!((erfc(1.0) - 0.157_299_207).abs() < 1e-7);
        assert!((erfc(-1.0) - 1.842_700_793).abs() < 1e-7);
    }
}
