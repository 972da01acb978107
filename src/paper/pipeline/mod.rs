//! The paper's estimation pipeline on one hospital sample: split, first
//! stage, forest, average and group effects, bounds, and figure series.
//!
//! This file runs the phases and holds those that call the forest; `tables`
//! and `figures` turn their results into the paper's tables and figures.

mod figures;
mod forest;
mod tables;

use std::sync::Arc;

use ndarray::{Array1, Array2, Axis};
use rand::seq::SliceRandom;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rayon::prelude::*;

use super::published as paper;
use super::{PaperFigure, PaperResult, PaperSpec, PaperTable};
use crate::bounds::{frequentist, local_bounds, Interval, LocalBounds};
use crate::core::stats::mean;
use crate::data::Dataset;
use crate::data::{Clusters, Cohorts, Unit};
use crate::estimate::forest::{
    regression_oob, Bins, FittedForest, Prediction, RobustAverage, Target,
};
use crate::estimate::linear::{Ols, TwoStageLeastSquares};
use crate::estimate::{Estimate, Estimator};
use crate::policy::placement::Training;
use crate::sim::{ComplianceType, PlacementTruth, Sample, Truth};
use crate::{Error, Result};
use figures::{figure_2, figure_3, figure_4, figure_5, figure_6, figure_6b, figure_7};
use forest::{flag_effect, table_3b, table_diagnostics, ForestRun};
use tables::{linear_covariates, row, table_1, table_2, table_3, table_5};

/// Most bins a covariate gets in the forests (as the forest estimators).
const MAX_BINS: usize = 256;

/// The train and test rows of a day-based split.
struct Split {
    train: Vec<usize>,
    test: Vec<usize>,
    test_days: Vec<usize>,
}

/// Assigns a random `test_share` of hospital-days, with all their patients, to the test set.
fn split(cohorts: &Cohorts, test_share: f64, seed: u64) -> Split {
    let mut days: Vec<usize> = (0..cohorts.days.len()).collect();
    days.shuffle(&mut ChaCha8Rng::seed_from_u64(seed));
    let n_test = ((days.len() as f64) * test_share).round() as usize;
    let mut is_test = vec![false; cohorts.days.len()];
    for &d in &days[..n_test] {
        is_test[d] = true;
    }
    let (mut train, mut test) = (Vec::new(), Vec::new());
    for (i, &d) in cohorts.day_of.iter().enumerate() {
        if is_test[d] {
            test.push(i);
        } else {
            train.push(i);
        }
    }
    let test_days = (0..cohorts.days.len()).filter(|&d| is_test[d]).collect();
    Split {
        train,
        test,
        test_days,
    }
}

/// The train patients' outcome, treatment and instrument, and the
/// covariates of the train and test patients.
struct TrainData {
    x_train: Array2<f64>,
    x_test: Array2<f64>,
    y: Vec<f64>,
    w: Vec<f64>,
    zt: Vec<f64>,
}

impl TrainData {
    /// Selects the train and test rows; fails when either set is too small.
    fn new(data: &Dataset, z: &Array1<f64>, train: &[usize], test: &[usize]) -> Result<Self> {
        if train.len() < 50 || test.len() < 10 {
            return Err(Error::Data(format!(
            "{} train and {} test patients are too few for the paper pipeline; raise the world's `scale`",
            train.len(),
            test.len()
        )));
        }
        let x_train = data.x.select(Axis(0), train);
        let x_test = data.x.select(Axis(0), test);
        let pick =
            |v: &Array1<f64>, rows: &[usize]| -> Vec<f64> { rows.iter().map(|&i| v[i]).collect() };
        let (y, w, zt) = (pick(&data.y, train), pick(&data.w, train), pick(z, train));

        Ok(TrainData {
            x_train,
            x_test,
            y,
            w,
            zt,
        })
    }
}

/// Runs the pipeline; the sample must be of the hospital world with its conditional truth added.
pub fn run(sample: &Sample, spec: &PaperSpec, seed: u64) -> Result<PaperResult> {
    spec.validate()?;
    let (cohorts, world) = hospital_cohorts(sample)?;
    let data = &sample.data;
    let truth = &sample.truth;
    let z = data.instrument("the paper pipeline")?;
    let Split {
        train,
        test,
        test_days,
    } = split(cohorts, spec.test_share, seed);
    let TrainData {
        x_train,
        x_test,
        y,
        w,
        zt,
    } = TrainData::new(data, z, &train, &test)?;

    let mut tables = vec![table_1(data, z)];
    let (r2, linear_iv) = linear_models(data, &x_train, (&y, &w, &zt), seed)?;

    // The instrumental forests: clustered by hospital-day, and grf's defaults.
    let day_of: Vec<usize> = train.iter().map(|&i| cohorts.day_of[i]).collect();
    let days = Arc::new(Clusters::from_labels(&day_of)?);
    let train_data = (&y[..], &w[..], &zt[..]);
    let clustered = ForestRun::fit(&x_train, train_data, &spec.forest, Some(days.clone()), seed)?;
    let plain = ForestRun::fit(&x_train, train_data, &spec.forest, None, seed)?;
    let forest = &clustered.forest;
    let forest_r2 = forest_first_stage_r2(&x_train, &w, &zt, spec, &days, seed)?;
    let tau_train: Vec<f64> = train.iter().map(|&i| truth.tau[i]).collect();
    let complying = true_compliance(truth, &train);
    let true_first_stage = mean(complying.iter().copied());
    tables.push(table_2(r2, &linear_iv, forest_r2, true_first_stage));
    let truth_of = |a: &RobustAverage| a.target.truth(&tau_train, Some(&complying));
    let true_ate_train = mean(tau_train.iter().copied());
    tables.push(table_3(
        &[&clustered, &plain],
        &linear_iv,
        &truth_of,
        true_ate_train,
    ));
    tables.push(table_3b(&[&clustered, &plain], &truth_of));
    tables.push(table_4(
        cohorts,
        &train,
        &clustered,
        train_data,
        (&tau_train, &complying),
    ));
    tables.push(table_diagnostics(&[&clustered, &plain], true_first_stage));

    // Test patients: effects and bounds.
    let (predictions, intervals) = test_intervals(forest, &x_test, train_data)?;
    let test_cate: Vec<f64> = test.iter().map(|&i| truth.cate[i]).collect();
    tables.push(table_5(&intervals, &test_cate, clustered.grf_average()));
    let training = Training {
        y: &y,
        w: &w,
        z: Some(&zt),
    };
    let (policy_tables, policy_figure) =
        policies(cohorts, world, data, &test_days, forest, training)?;
    tables.extend(policy_tables);

    let tau_hat: Vec<f64> = predictions.iter().map(|p| p.tau).collect();
    let figures = vec![
        figure_2(cohorts, data),
        figure_3(cohorts),
        figure_4(cohorts, data, &test, &tau_hat, &test_cate),
        figure_5(&intervals),
        figure_6(&forest.nuisances.w_hat, &w),
        figure_6b(&[&clustered, &plain]),
        figure_7(&[&clustered, &plain], true_first_stage),
        policy_figure,
    ];
    Ok(PaperResult { tables, figures })
}

/// The sample's cohorts and the truth of their placements; fails unless
/// the sample is of the hospital world with its conditional truth added.
fn hospital_cohorts(sample: &Sample) -> Result<(&Cohorts, &dyn PlacementTruth)> {
    let need = || {
        Error::Spec(
            "the paper pipeline needs a sample of the hospital world (kind = \"hospital\")".into(),
        )
    };
    let cohorts = sample.data.cohorts.as_deref().ok_or_else(need)?;
    let world = sample.truth.placement.as_deref().ok_or_else(need)?;
    if sample.truth.cate.len() != sample.data.n() {
        return Err(Error::Data(
            "the paper pipeline needs the sample's conditional truth; add it first".into(),
        ));
    }
    Ok((cohorts, world))
}

/// The linear first stage's R² (W on Z and the covariates) and the linear IV
/// estimate, both on the train days.
fn linear_models(
    data: &Dataset,
    x_train: &Array2<f64>,
    (y, w, zt): (&[f64], &[f64], &[f64]),
    seed: u64,
) -> Result<(Option<f64>, Estimate)> {
    let linear_x = linear_covariates(x_train, &data.x_names);
    let names: Vec<String> = linear_x.1.clone();
    let first = Dataset::new(
        Array1::from(w.to_vec()),
        Array1::from(zt.to_vec()),
        None,
        linear_x.0.clone(),
        names.clone(),
    )?;
    let r2 = Ols::default()
        .fit(&first, seed)?
        .diagnostics
        .get("r2")
        .copied();
    let iv_data = Dataset::new(
        Array1::from(y.to_vec()),
        Array1::from(w.to_vec()),
        Some(Array1::from(zt.to_vec())),
        linear_x.0,
        names,
    )?;
    let linear_iv = TwoStageLeastSquares::default().fit(&iv_data, seed)?;
    Ok((r2, linear_iv))
}

/// Each train patient's true compliance: 1 for a complier, -1 for a
/// defier, 0 otherwise; its mean is the first stage's true effect (the
/// share of compliers less the share of defiers).
fn true_compliance(truth: &Truth, train: &[usize]) -> Vec<f64> {
    let types = truth.complier_type.as_deref().unwrap_or(&[]);
    train
        .iter()
        .map(|&i| match types.get(i) {
            Some(ComplianceType::Complier) => 1.0,
            Some(ComplianceType::Defier) => -1.0,
            _ => 0.0,
        })
        .collect()
}

/// The forest's effect at each test patient and its frequentist, Manski
/// and Balke-Pearl intervals.
fn test_intervals(
    forest: &FittedForest,
    x_test: &Array2<f64>,
    train_data: forest::Train<'_>,
) -> Result<(Vec<Prediction>, Vec<[Interval; 3]>)> {
    let predictions = forest.predict(x_test.view())?;
    let local = local_intervals(forest, x_test, train_data)?;
    let intervals = predictions
        .iter()
        .zip(&local)
        .map(|(p, l)| {
            [
                frequentist(p.tau, p.variance.sqrt()),
                l.manski,
                l.balke_pearl,
            ]
        })
        .collect();
    Ok((predictions, intervals))
}

/// Each test patient's local Manski and Balke-Pearl bounds, from the
/// forest's weights on the train patients.
fn local_intervals(
    forest: &FittedForest,
    x_test: &Array2<f64>,
    (y, w, zt): (&[f64], &[f64], &[f64]),
) -> Result<Vec<LocalBounds>> {
    let local: Vec<Result<_>> = (0..x_test.nrows())
        .into_par_iter()
        .map(|k| {
            let row = x_test.row(k).to_vec();
            let weights = forest.weights(&row)?;
            local_bounds(&weights, y, w, zt)
        })
        .collect();
    local.into_iter().collect::<Result<Vec<_>>>()
}

/// The placement policies' tables and figure on the test days, with the
/// forest trained on the train days.
fn policies(
    cohorts: &Cohorts,
    world: &dyn PlacementTruth,
    data: &Dataset,
    test_days: &[usize],
    forest: &FittedForest,
    training: Training<'_>,
) -> Result<(Vec<PaperTable>, PaperFigure)> {
    let column = |unit: Unit| {
        let name = format!("busyness_{}", unit.name());
        data.x_names.iter().position(|n| *n == name).ok_or_else(|| {
            Error::Data(format!(
                "the sample has no `{name}` column for the policies"
            ))
        })
    };
    let busyness = [column(Unit::Surgical)?, column(Unit::InternalMedicine)?];
    let w_all = data.w.to_vec();
    super::policies::tables(
        (cohorts, world),
        &data.x,
        &w_all,
        test_days,
        forest,
        busyness,
        training,
    )
}

/// Out-of-bag R² of a regression forest of W on the covariates and Z,
/// sampling whole hospital-days.
fn forest_first_stage_r2(
    x: &Array2<f64>,
    w: &[f64],
    z: &[f64],
    spec: &PaperSpec,
    days: &Clusters,
    seed: u64,
) -> Result<f64> {
    let mut xz = Array2::zeros((x.nrows(), x.ncols() + 1));
    xz.slice_mut(ndarray::s![.., ..x.ncols()]).assign(x);
    xz.column_mut(x.ncols()).assign(&Array1::from(z.to_vec()));
    let binned = Bins::fit(xz.view(), MAX_BINS)?.transform(xz.view())?;
    let fitted = regression_oob(&binned, w, &spec.forest.nuisance(), Some(days), seed ^ 0xf1)?;
    let m = mean(w.iter().copied());
    let tss: f64 = w.iter().map(|v| (v - m).powi(2)).sum();
    let rss: f64 = w.iter().zip(&fitted).map(|(v, f)| (v - f).powi(2)).sum();
    Ok(1.0 - rss / tss)
}

/// Table 4: CATE by diagnosis group from the clustered forest's doubly
/// robust scores on the train days (grf's, compliance not floored), then
/// each group's doubly robust Wald ratio with its LATE truth.
fn table_4(
    cohorts: &Cohorts,
    train: &[usize],
    run: &ForestRun,
    train_data: forest::Train<'_>,
    (tau, complying): (&[f64], &[f64]),
) -> PaperTable {
    let mut rows = Vec::new();
    let mut wald_rows = Vec::new();
    for (code, published, se) in paper::CATE {
        let Some(g) = cohorts.diagnoses.iter().position(|d| d == code) else {
            continue;
        };
        let members: Vec<usize> = (0..train.len())
            .filter(|&k| cohorts.diagnosis[train[k]] == g)
            .collect();
        let truth = mean(members.iter().map(|&k| tau[k]));
        let (estimate, est_se) = run.group_average(&members).unwrap_or((f64::NAN, f64::NAN));
        let mut r = row(code, Some(published), estimate, Some(est_se), Some(truth));
        r.published_se = Some(se);
        if !(estimate.is_finite() && est_se.is_finite()) {
            r.flag = Some("too few patients or clusters in the group for an average".into());
        }
        rows.push(flag_effect(r));
        let late = Target {
            kept: Some(
                (0..train.len())
                    .map(|k| cohorts.diagnosis[train[k]] == g)
                    .collect(),
            ),
            weight: None,
            compliers: true,
        };
        let (wald, wald_se) = run
            .dr_wald(train_data, &members)
            .unwrap_or((f64::NAN, f64::NAN));
        wald_rows.push(flag_effect(row(
            &format!("{code}: doubly robust Wald ratio (LATE)"),
            None,
            wald,
            Some(wald_se),
            late.truth(tau, Some(complying)),
        )));
    }
    rows.extend(wald_rows);
    PaperTable {
        id: "table_4".into(),
        title: "Table 4: CATE of internal medicine by diagnosis group (train days)".into(),
        note: "Means of the instrumental forest's doubly robust scores within each group \
               (grf's, clustered by hospital-day, with cluster-robust SEs); truth: the group's \
               mean effect. Then each group's doubly robust Wald ratio, whose truth is the \
               group's LATE."
            .into(),
        grid: false,
        rows,
    }
}
