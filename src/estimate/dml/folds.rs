//! Cross-fitting: the data checks a model needs, the stratified fold split
//! and the out-of-fold nuisance predictions of one split.

use rand::seq::SliceRandom;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

use super::{is_binary, Dml, DmlModel, Nuisance, MIN_ARM};
use crate::core::seed::mix;
use crate::data::Dataset;
use crate::{Error, Result};

/// The out-of-fold nuisance predictions of one fold split, full length.
pub(super) struct CrossFit {
    /// Outcome: E[Y|X] (PLR), μ0 (IRM) or E[Y|Z=0,X] (IV).
    pub(super) y0: Vec<f64>,
    /// μ1 (IRM) or E[Y|Z=1,X] (IV); empty for PLR.
    pub(super) y1: Vec<f64>,
    /// E[W|X] (PLR, IRM: the propensity) or E[W|Z=0,X] (IV).
    pub(super) w0: Vec<f64>,
    /// E[W|Z=1,X] (IV); empty otherwise.
    pub(super) w1: Vec<f64>,
    /// P(Z=1|X) (IV); empty otherwise.
    pub(super) z: Vec<f64>,
}

/// The columns every fold's nuisances are fitted on.
struct Columns<'a> {
    y: &'a [f64],
    w: &'a [f64],
    /// The treatment, or the instrument for `iv`.
    strata: &'a [f64],
    w_binary: bool,
}

impl Dml {
    /// Checks the data against the model: 0/1 columns where needed, and
    /// enough units of every arm in every training fold.
    pub(super) fn check_data(&self, data: &Dataset, strata: &[f64]) -> Result<()> {
        let n = data.n();
        let w = data.w.to_vec();
        if data.x.ncols() == 0 {
            return Err(Error::Estimate("dml needs at least one covariate".into()));
        }
        if self.model != DmlModel::Plr && !is_binary(&data.w.to_vec()) {
            return Err(Error::Estimate(
                "dml: the irm and iv models need a 0/1 treatment; use model = \"plr\" (or gps) for a continuous one"
                    .into(),
            ));
        }
        if self.model == DmlModel::Plr && w.iter().all(|v| *v == w[0]) {
            return Err(Error::Estimate("dml: the treatment does not vary".into()));
        }
        if n < 2 * self.folds {
            return Err(Error::Estimate(format!(
                "dml: {n} units are too few for {} folds (at least {} needed)",
                self.folds,
                2 * self.folds
            )));
        }
        if self.model != DmlModel::Plr || is_binary(strata) {
            let (what, arm) = match self.model {
                DmlModel::Iv => ("instrument", "Z"),
                _ => ("treatment", "W"),
            };
            for value in [0.0, 1.0] {
                let count = strata.iter().filter(|s| **s == value).count();
                // Stratified folds leave at least count - ceil(count / folds) in each training fold.
                let training = count - count.div_ceil(self.folds);
                if training < MIN_ARM {
                    return Err(Error::Estimate(format!(
                        "dml: {count} units have {arm} = {value}, so a training fold holds only \
                         {training} of them; each needs at least {MIN_ARM} to fit the {what} arm's \
                         nuisances (use fewer folds or more data)"
                    )));
                }
            }
        }
        Ok(())
    }

    /// A fold per unit: units are shuffled within each arm of a 0/1
    /// `strata` (all together otherwise) and dealt to folds in turn, so every
    /// fold has each arm in proportion.
    fn split(&self, strata: &[f64], seed: u64) -> Vec<usize> {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let key = |i: usize| if is_binary(strata) { strata[i] } else { 0.0 };
        let mut order: Vec<usize> = (0..strata.len()).collect();
        order.sort_by(|a, b| key(*a).total_cmp(&key(*b)));
        let mut fold = vec![0; strata.len()];
        let mut next = 0;
        for group in order.chunk_by_mut(|a, b| key(*a) == key(*b)) {
            group.shuffle(&mut rng);
            for &i in group.iter() {
                fold[i] = next % self.folds;
                next += 1;
            }
        }
        fold
    }

    /// Cross-fits every nuisance of the model on one fold split.
    pub(super) fn cross_fit(
        &self,
        learner: &Nuisance<'_>,
        data: &Dataset,
        strata: &[f64],
        seed: u64,
    ) -> Result<CrossFit> {
        let n = data.n();
        let (y, w) = (data.y.to_vec(), data.w.to_vec());
        let folds = self.split(strata, mix(seed));
        let mut out = CrossFit {
            y0: vec![0.0; n],
            y1: Vec::new(),
            w0: vec![0.0; n],
            w1: Vec::new(),
            z: Vec::new(),
        };
        if self.model != DmlModel::Plr {
            out.y1 = vec![0.0; n];
        }
        if self.model == DmlModel::Iv {
            out.w1 = vec![0.0; n];
            out.z = vec![0.0; n];
        }
        let columns = Columns {
            y: &y,
            w: &w,
            strata,
            w_binary: is_binary(&w),
        };
        for k in 0..self.folds {
            let test: Vec<usize> = (0..n).filter(|&i| folds[i] == k).collect();
            let train: Vec<usize> = (0..n).filter(|&i| folds[i] != k).collect();
            let seed_of = |nuisance: u64| mix(seed ^ mix((k as u64) << 8 | nuisance));
            self.fit_fold(learner, &columns, &train, &test, seed_of, &mut out)?;
        }
        Ok(out)
    }

    /// Fits the model's nuisances on one fold's `train` units and writes
    /// their predictions at its `test` units into `out`.
    fn fit_fold(
        &self,
        learner: &Nuisance<'_>,
        columns: &Columns<'_>,
        train: &[usize],
        test: &[usize],
        seed_of: impl Fn(u64) -> u64,
        out: &mut CrossFit,
    ) -> Result<()> {
        let (y, w, strata) = (columns.y, columns.w, columns.strata);
        let arm = |value: f64| -> Vec<usize> {
            train
                .iter()
                .copied()
                .filter(|&i| strata[i] == value)
                .collect()
        };
        let put = |slot: &mut Vec<f64>, values: Vec<f64>| {
            for (&i, v) in test.iter().zip(values) {
                slot[i] = v;
            }
        };
        match self.model {
            DmlModel::Plr => {
                put(
                    &mut out.y0,
                    learner.fit_predict(y, train, test, false, seed_of(1))?,
                );
                put(
                    &mut out.w0,
                    learner.fit_predict(w, train, test, columns.w_binary, seed_of(2))?,
                );
            }
            DmlModel::Irm => {
                let (control, treated) = (arm(0.0), arm(1.0));
                put(
                    &mut out.y0,
                    learner.fit_predict(y, &control, test, false, seed_of(1))?,
                );
                put(
                    &mut out.y1,
                    learner.fit_predict(y, &treated, test, false, seed_of(2))?,
                );
                put(
                    &mut out.w0,
                    learner.fit_predict(w, train, test, true, seed_of(3))?,
                );
            }
            DmlModel::Iv => {
                let (off, on) = (arm(0.0), arm(1.0));
                put(
                    &mut out.y0,
                    learner.fit_predict(y, &off, test, false, seed_of(1))?,
                );
                put(
                    &mut out.y1,
                    learner.fit_predict(y, &on, test, false, seed_of(2))?,
                );
                put(
                    &mut out.w0,
                    learner.fit_predict(w, &off, test, true, seed_of(3))?,
                );
                put(
                    &mut out.w1,
                    learner.fit_predict(w, &on, test, true, seed_of(4))?,
                );
                put(
                    &mut out.z,
                    learner.fit_predict(strata, train, test, true, seed_of(5))?,
                );
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use crate::estimate::dml::Dml;

    #[test]
    fn folds_are_stratified_balanced_and_seeded() {
        let strata: Vec<f64> = (0..103).map(|i| f64::from(i % 4 == 0)).collect();
        let dml = Dml::default();
        let folds = dml.split(&strata, 1);
        for k in 0..5 {
            let size = folds.iter().filter(|f| **f == k).count();
            let treated = (0..103)
                .filter(|&i| folds[i] == k && strata[i] == 1.0)
                .count();
            assert!((20..=21).contains(&size), "fold {k} has {size}");
            assert!((5..=6).contains(&treated), "fold {k} has {treated} treated");
        }
        assert_eq!(folds, dml.split(&strata, 1));
        assert_ne!(folds, dml.split(&strata, 2));
    }
}
