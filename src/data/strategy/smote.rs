//! SMOTE (Chawla et al. 2002) applied to a scarce stratum of units, as the
//! review proposes for remote regions: synthetic units are made on the
//! segment between a unit of the stratum and one of its nearest neighbours
//! of the same stratum and treatment arm, until the stratum reaches a set
//! share of the other units. Covariates, mediators and the outcome are
//! interpolated; 0/1 columns are rounded, the treatment and instrument
//! copied. The synthetic units are counted as real by every estimator that
//! follows, and the sample now over-represents the stratum: both are what
//! the experiment measures.

use ndarray::{Array1, Array2};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use super::{rebuild, refuse_groups, Applied};
use crate::core::stats::mean_and_sd;
use crate::data::Dataset;
use crate::{Error, Result};

/// Most neighbours a synthetic unit is drawn toward.
pub const MAX_NEIGHBORS: usize = 100;

/// Most units of the stratum: the neighbour search compares every pair.
pub const MAX_STRATUM: usize = 20_000;

/// SMOTE oversampling of a scarce stratum (`kind = "smote"`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Smote {
    /// The 0/1 covariate that marks the stratum; its rarer value is the
    /// scarce stratum.
    pub stratum: String,
    /// Nearest neighbours (same stratum and arm) a synthetic unit may be
    /// drawn toward.
    pub neighbors: usize,
    /// Size the scarce stratum is brought to, as a share of the other
    /// units (1: as many as the rest).
    pub ratio: f64,
}

impl Default for Smote {
    fn default() -> Self {
        Smote {
            stratum: String::new(),
            neighbors: 5,
            ratio: 1.0,
        }
    }
}

impl Smote {
    /// Checks the settings before any data is seen.
    pub fn validate(&self) -> Result<()> {
        let spec = |m: String| Err(Error::Spec(format!("smote: {m}")));
        if self.stratum.is_empty() {
            return spec("give `stratum`, the 0/1 covariate marking the scarce units".into());
        }
        if !(1..=MAX_NEIGHBORS).contains(&self.neighbors) {
            return spec(format!(
                "neighbors is {}; 1 to {MAX_NEIGHBORS} (5 is usual)",
                self.neighbors
            ));
        }
        if !(self.ratio > 0.0 && self.ratio <= 10.0) {
            return spec(format!(
                "ratio is {}; it must be in (0, 10] (the stratum's size over the rest's)",
                self.ratio
            ));
        }
        Ok(())
    }

    /// The dataset with synthetic units of the scarce stratum appended.
    pub(super) fn apply(&self, data: &Dataset, seed: u64) -> Result<Applied> {
        refuse_groups(data)?;
        let Some(s) = data.x_names.iter().position(|n| *n == self.stratum) else {
            return Err(Error::Data(format!(
                "smote: stratum `{}` is not a covariate; the covariates are {}",
                self.stratum,
                data.x_names.join(", ")
            )));
        };
        let column = data.x.column(s);
        if let Some(v) = column.iter().find(|v| **v != 0.0 && **v != 1.0) {
            return Err(Error::Data(format!(
                "smote: stratum `{}` must be 0/1; found {v}",
                self.stratum
            )));
        }
        let ones = column.iter().filter(|v| **v == 1.0).count();
        let scarce_value = if ones * 2 <= data.n() { 1.0 } else { 0.0 };
        let members: Vec<usize> = (0..data.n())
            .filter(|&i| data.x[[i, s]] == scarce_value)
            .collect();
        let rest = data.n() - members.len();
        if members.len() > MAX_STRATUM {
            return Err(Error::Data(format!(
                "smote: the stratum has {} units; at most {MAX_STRATUM} (it is meant for a \
                 scarce one)",
                members.len()
            )));
        }
        let target = (self.ratio * rest as f64).round() as usize;
        let to_make = target.saturating_sub(members.len());
        let (x, y, w, z, mediators) = self.synthesize(data, &members, to_make, seed)?;
        let share_before = members.len() as f64 / data.n() as f64;
        let n_after = data.n() + to_make;
        let share_after = (members.len() + to_make) as f64 / n_after as f64;
        let made = rebuild(data, x, data.x_names.clone(), y, w, z, mediators, true)?;
        let warnings = if to_make > 0 {
            vec![format!(
                "smote made {to_make} synthetic units: the stratum `{}` = {} is {:.0}% of the \
                 sample instead of {:.0}%, so an average is over a different population, and \
                 standard errors count the synthetic units as real",
                self.stratum,
                scarce_value,
                100.0 * share_after,
                100.0 * share_before
            )]
        } else {
            Vec::new()
        };
        Ok((
            vec![made],
            vec![
                ("synthetic_units", to_make as f64),
                ("stratum_share_before", share_before),
                ("stratum_share_after", share_after),
            ],
            warnings,
        ))
    }

    /// The columns with `count` synthetic units of `members` appended.
    #[allow(clippy::type_complexity)]
    fn synthesize(
        &self,
        data: &Dataset,
        members: &[usize],
        count: usize,
        seed: u64,
    ) -> Result<(
        Array2<f64>,
        Array1<f64>,
        Array1<f64>,
        Option<Array1<f64>>,
        Vec<(String, Array1<f64>)>,
    )> {
        let (n, p) = data.x.dim();
        let scale: Vec<f64> = (0..p)
            .map(|j| {
                let (_, sd) = mean_and_sd(data.x.column(j));
                if sd > 0.0 {
                    1.0 / sd
                } else {
                    0.0
                }
            })
            .collect();
        let binary: Vec<bool> = (0..p)
            .map(|j| data.x.column(j).iter().all(|v| *v == 0.0 || *v == 1.0))
            .collect();
        let distance = |a: usize, b: usize| -> f64 {
            (0..p)
                .map(|j| ((data.x[[a, j]] - data.x[[b, j]]) * scale[j]).powi(2))
                .sum()
        };
        let neighbours: Vec<Vec<usize>> = members
            .iter()
            .map(|&a| {
                let mut near: Vec<(f64, usize)> = members
                    .iter()
                    .filter(|&&b| b != a && data.w[b] == data.w[a])
                    .map(|&b| (distance(a, b), b))
                    .collect();
                near.sort_by(|u, v| u.0.total_cmp(&v.0).then(u.1.cmp(&v.1)));
                near.truncate(self.neighbors);
                near.into_iter().map(|(_, b)| b).collect()
            })
            .collect();
        let seeds: Vec<usize> = (0..members.len())
            .filter(|&k| !neighbours[k].is_empty())
            .collect();
        if count > 0 && seeds.is_empty() {
            return Err(Error::Data(format!(
                "smote: no unit of the stratum `{}` has a neighbour in its own arm; the \
                 stratum needs at least two treated or two control units",
                self.stratum
            )));
        }
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let mut x = Array2::zeros((n + count, p));
        x.slice_mut(ndarray::s![..n, ..]).assign(&data.x);
        let extend = |v: &Array1<f64>| {
            let mut out = Array1::zeros(n + count);
            out.slice_mut(ndarray::s![..n]).assign(v);
            out
        };
        let mut y = extend(&data.y);
        let mut w = extend(&data.w);
        let mut z = data.z.as_ref().map(extend);
        let mut mediators: Vec<(String, Array1<f64>)> = data
            .mediators
            .iter()
            .map(|(name, m)| (name.clone(), extend(m)))
            .collect();
        for made in 0..count {
            let k = seeds[rng.random_range(0..seeds.len())];
            let a = members[k];
            let b = neighbours[k][rng.random_range(0..neighbours[k].len())];
            let gap: f64 = rng.random();
            let at = n + made;
            for j in 0..p {
                let v = data.x[[a, j]] + gap * (data.x[[b, j]] - data.x[[a, j]]);
                x[[at, j]] = if binary[j] { v.round() } else { v };
            }
            y[at] = data.y[a] + gap * (data.y[b] - data.y[a]);
            w[at] = data.w[a];
            if let (Some(z), Some(source)) = (z.as_mut(), data.z.as_ref()) {
                z[at] = source[a];
            }
            for ((_, m), (_, source)) in mediators.iter_mut().zip(&data.mediators) {
                m[at] = source[a] + gap * (source[b] - source[a]);
            }
        }
        Ok((x, y, w, z, mediators))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn data() -> Dataset {
        let n = 200;
        let x = Array2::from_shape_fn((n, 2), |(i, j)| match j {
            0 => f64::from(u8::from(i % 10 == 0)),
            _ => i as f64 / 10.0,
        });
        let y = Array1::from_shape_fn(n, |i| 2.0 * i as f64);
        let w = Array1::from_shape_fn(n, |i| f64::from(u8::from(i < 100)));
        Dataset::new(y, w, None, x, vec!["remote".into(), "gdp".into()]).expect("data")
    }

    #[test]
    fn synthetic_units_lie_between_two_of_the_stratum_in_one_arm() {
        let d = data();
        let smote = Smote {
            stratum: "remote".into(),
            neighbors: 3,
            ratio: 0.5,
        };
        let (made, diagnostics, warnings) = smote.apply(&d, 1).expect("oversampled");
        let m = &made[0];
        assert_eq!(m.n(), 200 + 90 - 20);
        assert_eq!(diagnostics[0], ("synthetic_units", 70.0));
        assert!(warnings[0].contains("synthetic units"));
        for i in 200..m.n() {
            assert_eq!(m.x[[i, 0]], 1.0);
            // y = 20 gdp holds on every segment between two units.
            assert!((m.y[i] - 20.0 * m.x[[i, 1]]).abs() < 1e-9);
        }
        // The stratum's treated units sit at gdp 0..=9, its controls at
        // 10..=19: a synthetic unit between two of one arm stays on its side.
        for i in 200..m.n() {
            let g = m.x[[i, 1]];
            let side = if m.w[i] == 1.0 { g <= 9.0 } else { g >= 10.0 };
            assert!(side, "unit {i} at gdp {g} in arm {}", m.w[i]);
        }
        let arms: Vec<f64> = (200..m.n()).map(|i| m.w[i]).collect();
        assert!(arms.contains(&0.0) && arms.contains(&1.0));
        assert_eq!(
            smote.apply(&d, 1).expect("again").0[0].y,
            m.y,
            "the seed fixes the draws"
        );
    }

    #[test]
    fn a_bad_stratum_is_named() {
        let d = data();
        let err = Smote {
            stratum: "gdp".into(),
            ..Smote::default()
        }
        .apply(&d, 1)
        .expect_err("not 0/1")
        .to_string();
        assert!(err.contains("must be 0/1"), "{err}");
        let err = Smote {
            stratum: "nowhere".into(),
            ..Smote::default()
        }
        .apply(&d, 1)
        .expect_err("no column")
        .to_string();
        assert!(err.contains("`nowhere` is not a covariate"), "{err}");
        assert!(Smote::default().validate().is_err());
    }
}
