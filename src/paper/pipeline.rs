//! The paper's estimation pipeline on one hospital sample: split, first
//! stage, forest, average and group effects, bounds, and figure series.

use ndarray::{Array1, Array2, Axis};
use rand::seq::SliceRandom;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rayon::prelude::*;

use super::published as paper;
use super::{PaperFigure, PaperPanel, PaperResult, PaperRow, PaperSpec, PaperTable};
use crate::bounds::{frequentist, local_bounds, Interval};
use crate::core::stats::{mean, median};
use crate::data::Dataset;
use crate::estimate::forest::{
    average_effect, iv_scores, regression_oob, Bins, FittedForest, Nuisances,
};
use crate::estimate::linear::{Ols, TwoStageLeastSquares};
use crate::estimate::Estimator;
use crate::policy::placement::Training;
use crate::sim::hospital::{Cohorts, Unit};
use crate::sim::Sample;
use crate::{Error, Result};

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

fn row(
    label: &str,
    published: Option<f64>,
    estimated: f64,
    se: Option<f64>,
    truth: Option<f64>,
) -> PaperRow {
    PaperRow {
        label: label.to_string(),
        published,
        estimated: Some(estimated).filter(|v| v.is_finite()),
        se: se.filter(|v| v.is_finite()),
        truth: truth.filter(|v| v.is_finite()),
    }
}

/// Runs the pipeline; the sample must be of the hospital world with its conditional truth added.
pub fn run(sample: &Sample, spec: &PaperSpec, seed: u64) -> Result<PaperResult> {
    spec.validate()?;
    let cohorts = sample.cohorts.as_ref().ok_or_else(|| {
        Error::Spec(
            "the paper pipeline needs a sample of the hospital world (kind = \"hospital\")".into(),
        )
    })?;
    let data = &sample.data;
    let truth = &sample.truth;
    if truth.cate.len() != data.n() {
        return Err(Error::Data(
            "the paper pipeline needs the sample's conditional truth; add it first".into(),
        ));
    }
    let z = data.instrument("the paper pipeline")?;
    let Split {
        train,
        test,
        test_days,
    } = split(cohorts, spec.test_share, seed);
    if train.len() < 50 || test.len() < 10 {
        return Err(Error::Data(format!(
            "{} train and {} test patients are too few for the paper pipeline; raise the world's `scale`",
            train.len(),
            test.len()
        )));
    }
    let x_train = data.x.select(Axis(0), &train);
    let x_test = data.x.select(Axis(0), &test);
    let pick =
        |v: &Array1<f64>, rows: &[usize]| -> Vec<f64> { rows.iter().map(|&i| v[i]).collect() };
    let (y, w, zt) = (
        pick(&data.y, &train),
        pick(&data.w, &train),
        pick(z, &train),
    );

    let mut tables = vec![table_1(data, z)];

    // Linear first stage and linear IV on the train days.
    let linear_x = linear_covariates(&x_train, &data.x_names);
    let names: Vec<String> = linear_x.1.clone();
    let first = Dataset::new(
        Array1::from(w.clone()),
        Array1::from(zt.clone()),
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
        Array1::from(y.clone()),
        Array1::from(w.clone()),
        Some(Array1::from(zt.clone())),
        linear_x.0,
        names,
    )?;
    let linear_iv = TwoStageLeastSquares::default().fit(&iv_data, seed)?;

    // The instrumental forest and its nuisances.
    let forest = FittedForest::fit(x_train.view(), &y, &w, &zt, &spec.forest, seed)?;
    let oob = forest.predict_oob();
    let scores = iv_scores(&forest, (&y, &w, &zt), &oob, &spec.forest, seed ^ 0x5eed)?;
    let forest_r2 = forest_first_stage_r2(&x_train, &w, &zt, spec, seed)?;
    let train_truth =
        |f: &dyn Fn(usize) -> bool| mean(train.iter().filter(|&&i| f(i)).map(|&i| truth.tau[i]));
    let true_ate_train = train_truth(&|_| true);
    let types = truth.complier_type.as_deref().unwrap_or(&[]);
    let share = |kind: crate::sim::ComplianceType| {
        mean(
            train
                .iter()
                .map(|&i| f64::from(u8::from(types.get(i) == Some(&kind)))),
        )
    };
    let true_first_stage =
        share(crate::sim::ComplianceType::Complier) - share(crate::sim::ComplianceType::Defier);
    let diag = |k: &str| linear_iv.diagnostics.get(k).copied().unwrap_or(f64::NAN);
    tables.push(PaperTable {
        id: "table_2".into(),
        title: "Table 2: First stage of placement on the high-emergency instrument (train days)"
            .into(),
        note:
            "R² of W on Z and all covariates (linear), out-of-bag R² of a regression forest of W \
               on Z and the covariates (forest), the instrument's F statistic; the truth of the \
               first-stage effect is the share of compliers less the share of defiers."
                .into(),
        rows: vec![
            row(
                "Linear model: first-stage R²",
                Some(paper::LINEAR_FIRST_STAGE.0),
                r2.unwrap_or(f64::NAN),
                None,
                None,
            ),
            row(
                "Linear model: first-stage F",
                Some(paper::LINEAR_FIRST_STAGE.1),
                diag("first_stage_f"),
                None,
                None,
            ),
            row(
                "Forest: first-stage R²",
                Some(paper::FOREST_FIRST_STAGE_R2),
                forest_r2,
                None,
                None,
            ),
            row(
                "Effect of Z on W (linear first stage)",
                None,
                diag("first_stage_coef"),
                None,
                Some(true_first_stage),
            ),
        ],
    });
    let (ate, ate_se) = average_effect(&scores.scores)
        .ok_or_else(|| Error::Estimate("too few train patients for an average effect".into()))?;
    let pooled = partialled_out_wald(&y, &w, &zt, &forest.nuisances)?;
    tables.push(PaperTable {
        id: "table_3".into(),
        title: "Table 3: Average effect of internal medicine on survival (train days)".into(),
        note: format!(
            "Truth: the train patients' mean effect of internal medicine at their observed \
             busyness. Published SEs: forest {}, linear IV {}. The forest's average divides \
             each patient's residual by the patient's estimated effect of Z on W, which a weak \
             instrument pushes towards zero; the partialled-out Wald estimate (the partially \
             linear IV model of double/debiased ML, on the same out-of-bag nuisances) divides \
             once, by the pooled first stage.",
            paper::ATE_FOREST.1,
            paper::ATE_LINEAR.1
        ),
        rows: vec![
            row(
                "IV causal forest",
                Some(paper::ATE_FOREST.0),
                ate,
                Some(ate_se),
                Some(true_ate_train),
            ),
            row(
                "Linear IV",
                Some(paper::ATE_LINEAR.0),
                linear_iv.estimate,
                Some(linear_iv.se),
                Some(true_ate_train),
            ),
            row(
                "Partialled-out Wald on the forest's nuisances",
                None,
                pooled.0,
                Some(pooled.1),
                Some(true_ate_train),
            ),
        ],
    });
    tables.push(table_4(cohorts, &train, &scores.scores, &truth.tau));

    // Test patients: effects, bounds, compliance scores.
    let predictions = forest.predict(x_test.view())?;
    let local: Vec<Result<_>> = (0..test.len())
        .into_par_iter()
        .map(|k| {
            let row = x_test.row(k).to_vec();
            let weights = forest.weights(&row)?;
            local_bounds(&weights, &y, &w, &zt)
        })
        .collect();
    let local = local.into_iter().collect::<Result<Vec<_>>>()?;
    let intervals: Vec<[Interval; 3]> = predictions
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
    let test_cate: Vec<f64> = test.iter().map(|&i| truth.cate[i]).collect();
    tables.push(table_5(&intervals, &test_cate));
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
    let training = Training {
        y: &y,
        w: &w,
        z: Some(&zt),
    };
    let (policy_tables, policy_figure) = super::policies::tables(
        cohorts, &data.x, &w_all, &test_days, &forest, busyness, training,
    )?;
    tables.extend(policy_tables);

    let tau_hat: Vec<f64> = predictions.iter().map(|p| p.tau).collect();
    let figures = vec![
        figure_2(cohorts, data),
        figure_3(cohorts),
        figure_4(cohorts, data, &test, &tau_hat, &test_cate),
        figure_5(&intervals),
        figure_6(&forest.nuisances.w_hat, &w),
        figure_7(&scores.compliance, true_first_stage),
        policy_figure,
    ];
    Ok(PaperResult { tables, figures })
}

/// The partially linear IV estimate on out-of-bag nuisances:
/// sum (Y - y_hat)(Z - z_hat) / sum (W - w_hat)(Z - z_hat), with the SE of
/// its orthogonal score.
fn partialled_out_wald(y: &[f64], w: &[f64], z: &[f64], n: &Nuisances) -> Result<(f64, f64)> {
    let len = y.len() as f64;
    let zc: Vec<f64> = z.iter().zip(&n.z_hat).map(|(a, b)| a - b).collect();
    let wc: Vec<f64> = w.iter().zip(&n.w_hat).map(|(a, b)| a - b).collect();
    let yc: Vec<f64> = y.iter().zip(&n.y_hat).map(|(a, b)| a - b).collect();
    let jacobian = wc.iter().zip(&zc).map(|(a, b)| a * b).sum::<f64>() / len;
    if jacobian.abs() < 1e-12 {
        return Err(Error::Estimate(
            "the instrument does not move placement once the covariates are partialled out".into(),
        ));
    }
    let theta = yc.iter().zip(&zc).map(|(a, b)| a * b).sum::<f64>() / len / jacobian;
    let score_var = (0..y.len())
        .map(|i| ((yc[i] - theta * wc[i]) * zc[i]).powi(2))
        .sum::<f64>()
        / len;
    Ok((theta, (score_var / len).sqrt() / jacobian.abs()))
}

/// Covariates for the linear models: one reference level of each one-hot
/// group (hospital, diagnosis) and constant columns dropped, so that the
/// design with an intercept has full rank.
fn linear_covariates(x: &Array2<f64>, names: &[String]) -> (Array2<f64>, Vec<String>) {
    let mut keep = Vec::new();
    let mut seen_prefix: Vec<&str> = Vec::new();
    for (j, name) in names.iter().enumerate() {
        let column = x.column(j);
        let first = column[0];
        if column.iter().all(|&v| v == first) {
            continue;
        }
        if let Some(prefix) = ["hospital_", "diagnosis_"]
            .into_iter()
            .find(|p| name.starts_with(p))
        {
            if !seen_prefix.contains(&prefix) {
                seen_prefix.push(prefix);
                continue;
            }
        }
        keep.push(j);
    }
    let kept = x.select(Axis(1), &keep);
    (kept, keep.iter().map(|&j| names[j].clone()).collect())
}

/// Out-of-bag R² of a regression forest of W on the covariates and Z.
fn forest_first_stage_r2(
    x: &Array2<f64>,
    w: &[f64],
    z: &[f64],
    spec: &PaperSpec,
    seed: u64,
) -> Result<f64> {
    let mut xz = Array2::zeros((x.nrows(), x.ncols() + 1));
    xz.slice_mut(ndarray::s![.., ..x.ncols()]).assign(x);
    xz.column_mut(x.ncols()).assign(&Array1::from(z.to_vec()));
    let binned = Bins::fit(xz.view(), MAX_BINS)?.transform(xz.view())?;
    let fitted = regression_oob(&binned, w, &spec.forest.nuisance(), seed ^ 0xf1)?;
    let m = mean(w.iter().copied());
    let tss: f64 = w.iter().map(|v| (v - m).powi(2)).sum();
    let rss: f64 = w.iter().zip(&fitted).map(|(v, f)| (v - f).powi(2)).sum();
    Ok(1.0 - rss / tss)
}

/// Table 1: the whole sample's composition.
fn table_1(data: &Dataset, z: &Array1<f64>) -> PaperTable {
    let n = data.n();
    let arm = |t: Option<bool>| -> Vec<usize> {
        (0..n)
            .filter(|&i| t.is_none_or(|t| (data.w[i] > 0.5) == t))
            .collect()
    };
    let groups = [arm(None), arm(Some(true)), arm(Some(false))];
    let labels = ["overall", "internal medicine", "surgical"];
    let mut rows = Vec::new();
    for (k, g) in groups.iter().enumerate() {
        rows.push(row(
            &format!("N, {}", labels[k]),
            Some(paper::N[k]),
            g.len() as f64,
            None,
            None,
        ));
    }
    for (k, g) in groups.iter().enumerate() {
        rows.push(row(
            &format!("Survival, {}", labels[k]),
            Some(paper::SURVIVAL[k]),
            mean(g.iter().map(|&i| data.y[i])),
            None,
            None,
        ));
    }
    rows.push(row(
        "Internal medicine (W)",
        Some(paper::INTERNAL_MEDICINE),
        mean(data.w.iter().copied()),
        None,
        None,
    ));
    for (k, g) in groups.iter().enumerate() {
        rows.push(row(
            &format!("High emergency (Z), {}", labels[k]),
            Some(paper::HIGH_EMERGENCY[k]),
            mean(g.iter().map(|&i| z[i])),
            None,
            None,
        ));
    }
    PaperTable {
        id: "table_1".into(),
        title: "Table 1: Summary statistics for N, Y, W and Z (all patients)".into(),
        note: "Descriptive: the synthetic world is calibrated to reproduce these within 2 percentage points.".into(),
        rows,
    }
}

/// Table 4: CATE by diagnosis group from the forest's doubly robust scores on the train days.
fn table_4(cohorts: &Cohorts, train: &[usize], scores: &[f64], tau: &[f64]) -> PaperTable {
    let mut rows = Vec::new();
    let mut published_se = Vec::new();
    for (code, published, se) in paper::CATE {
        let Some(g) = cohorts.diagnoses.iter().position(|d| d == code) else {
            continue;
        };
        let members: Vec<usize> = (0..train.len())
            .filter(|&k| cohorts.diagnosis[train[k]] == g)
            .collect();
        let effect = average_effect(members.iter().map(|&k| &scores[k]));
        let truth = mean(members.iter().map(|&k| tau[train[k]]));
        let (estimate, est_se) = effect.map_or((f64::NAN, f64::NAN), |(e, s)| (e, s));
        rows.push(row(
            code,
            Some(published),
            estimate,
            Some(est_se),
            Some(truth),
        ));
        published_se.push(format!("{code} {se}"));
    }
    PaperTable {
        id: "table_4".into(),
        title: "Table 4: CATE of internal medicine by diagnosis group (train days)".into(),
        note: format!(
            "Means of the instrumental forest's doubly robust scores within each group; truth: the \
             group's mean effect. Published SEs: {}.",
            published_se.join(", ")
        ),
        rows,
    }
}

/// Table 5: individualized bounds on the test patients, averaged (and their medians).
fn table_5(intervals: &[[Interval; 3]], cate: &[f64]) -> PaperTable {
    let truth = mean(cate.iter().copied());
    let names = ["Frequentist", "Manski", "Balke-Pearl"];
    let mut rows = Vec::new();
    for (k, name) in names.iter().enumerate() {
        let lower = mean(intervals.iter().map(|b| b[k].lower));
        let upper = mean(intervals.iter().map(|b| b[k].upper));
        rows.push(row(
            &format!("{name}: lower"),
            Some(paper::BOUNDS[k].0),
            lower,
            None,
            Some(truth),
        ));
        rows.push(row(
            &format!("{name}: upper"),
            Some(paper::BOUNDS[k].1),
            upper,
            None,
            Some(truth),
        ));
    }
    for (k, name) in names.iter().enumerate() {
        let lower = median(intervals.iter().map(|b| b[k].lower).collect());
        let upper = median(intervals.iter().map(|b| b[k].upper).collect());
        rows.push(row(
            &format!("{name}: median lower"),
            None,
            lower,
            None,
            Some(truth),
        ));
        rows.push(row(
            &format!("{name}: median upper"),
            None,
            upper,
            None,
            Some(truth),
        ));
    }
    for (k, name) in names.iter().enumerate() {
        let covered = mean(
            intervals
                .iter()
                .zip(cate)
                .map(|(b, &c)| f64::from(u8::from(b[k].contains(c)))),
        );
        rows.push(row(
            &format!("{name}: share of patients whose interval holds their true effect"),
            None,
            covered,
            None,
            None,
        ));
    }
    PaperTable {
        id: "table_5".into(),
        title: "Table 5: Individualized bounds on the effect, averaged over test patients".into(),
        note: "Frequentist: forest estimate ± 1.96 SE; Manski: worst case from forest-weighted \
               P(W | x) and E[Y | W, x]; Balke-Pearl: the sharp IV bounds (Balke and Pearl 1997) \
               from forest-weighted P(Y, W | Z, x). Truth: the test patients' mean conditional effect."
            .into(),
        rows,
    }
}

fn figure(
    id: &str,
    title: &str,
    x_label: &str,
    y_label: &str,
    series: &[&str],
    panels: Vec<PaperPanel>,
) -> PaperFigure {
    PaperFigure {
        id: id.into(),
        title: title.into(),
        x_label: x_label.into(),
        y_label: y_label.into(),
        categories: None,
        series: series.iter().map(|s| s.to_string()).collect(),
        panels,
        diagonal: false,
    }
}

fn panel(title: Option<String>, lines: Vec<Vec<[f64; 2]>>) -> PaperPanel {
    PaperPanel { title, lines }
}

/// Figure 2: patients per diagnosis group and unit.
fn figure_2(cohorts: &Cohorts, data: &Dataset) -> PaperFigure {
    let mut counts = vec![[0.0; 2]; cohorts.diagnoses.len()];
    for (i, &g) in cohorts.diagnosis.iter().enumerate() {
        counts[g][usize::from(data.w[i] > 0.5)] += 1.0;
    }
    let line = |u: usize| {
        counts
            .iter()
            .enumerate()
            .map(|(g, c)| [g as f64, c[u]])
            .collect()
    };
    let mut f = figure(
        "figure_2",
        "Figure 2: Patients by diagnosis group and unit",
        "diagnosis group",
        "patients",
        &["internal medicine", "surgical"],
        vec![panel(None, vec![line(1), line(0)])],
    );
    f.categories = Some(cohorts.diagnoses.clone());
    f
}

/// Figure 3: weekly mean occupancy of each unit, by hospital.
fn figure_3(cohorts: &Cohorts) -> PaperFigure {
    let start = cohorts.first_date.year as f64;
    let panels = cohorts
        .hospitals
        .iter()
        .zip(&cohorts.occupancy)
        .map(|(name, occ)| {
            let weekly = |u: usize| -> Vec<[f64; 2]> {
                occ[u]
                    .chunks(7)
                    .enumerate()
                    .map(|(k, week)| [start + (k * 7) as f64 / 365.25, mean(week.iter().copied())])
                    .collect()
            };
            panel(
                Some(format!("hospital {name}")),
                vec![
                    weekly(Unit::InternalMedicine as usize),
                    weekly(Unit::Surgical as usize),
                ],
            )
        })
        .collect();
    figure(
        "figure_3",
        "Figure 3: Busyness over time (weekly mean occupancy)",
        "year",
        "patients in the unit",
        &["internal medicine", "surgical"],
        panels,
    )
}

/// Figure 4: estimated and true effect against each unit's busyness, by
/// hospital: test patients in quintiles of busyness, the median estimate
/// (a weak instrument gives a few wild ones) and the mean truth.
fn figure_4(
    cohorts: &Cohorts,
    data: &Dataset,
    test: &[usize],
    tau_hat: &[f64],
    cate: &[f64],
) -> PaperFigure {
    let column = |unit: Unit| {
        let name = format!("busyness_{}", unit.name());
        data.x_names.iter().position(|n| *n == name)
    };
    let mut panels = Vec::new();
    for unit in [Unit::InternalMedicine, Unit::Surgical] {
        let Some(col) = column(unit) else { continue };
        for (h, name) in cohorts.hospitals.iter().enumerate() {
            let mut members: Vec<usize> = (0..test.len())
                .filter(|&k| cohorts.days[cohorts.day_of[test[k]]].hospital == h)
                .collect();
            members.sort_by(|&a, &b| data.x[[test[a], col]].total_cmp(&data.x[[test[b], col]]));
            let bins = 5.min(members.len());
            let (mut est, mut tru) = (Vec::new(), Vec::new());
            for b in 0..bins {
                let part = &members[b * members.len() / bins..(b + 1) * members.len() / bins];
                let x = mean(part.iter().map(|&k| data.x[[test[k], col]]));
                est.push([x, median(part.iter().map(|&k| tau_hat[k]).collect())]);
                tru.push([x, mean(part.iter().map(|&k| cate[k]))]);
            }
            let unit_label = match unit {
                Unit::InternalMedicine => "int. med.",
                Unit::Surgical => "surgical",
            };
            panels.push(panel(
                Some(format!("{name}, {unit_label} busyness")),
                vec![est, tru],
            ));
        }
    }
    figure(
        "figure_4",
        "Figure 4: Effect of internal medicine against busyness (test patients by quintile of busyness: median estimate, mean truth)",
        "patients in the unit",
        "effect on survival",
        &["estimated (forest, median)", "truth"],
        panels,
    )
}

/// Figure 5: the width of each patient's bounds, sorted, up to the 95th
/// percentile (beyond it a weak instrument's frequentist widths dwarf the rest).
fn figure_5(intervals: &[[Interval; 3]]) -> PaperFigure {
    let lines = (0..3)
        .map(|k| {
            let mut widths: Vec<f64> = intervals.iter().map(|b| b[k].width()).collect();
            widths.sort_by(f64::total_cmp);
            (0..=95)
                .map(|q| {
                    let i = ((widths.len() - 1) * q) / 100;
                    [q as f64, widths[i]]
                })
                .collect()
        })
        .collect();
    figure(
        "figure_5",
        "Figure 5: Width of the individualized bounds across test patients (up to the 95th percentile)",
        "patient percentile",
        "width of the interval",
        &["Frequentist", "Manski", "Balke-Pearl"],
        vec![panel(None, lines)],
    )
}

/// Shares of `values` in `bins` equal bins over [lo, hi], as (bin centre, share).
fn histogram(values: impl Iterator<Item = f64>, lo: f64, hi: f64, bins: usize) -> Vec<[f64; 2]> {
    let mut counts = vec![0.0; bins];
    let mut total = 0.0;
    for v in values.filter(|v| v.is_finite()) {
        let b = (((v - lo) / (hi - lo) * bins as f64).floor().max(0.0) as usize).min(bins - 1);
        counts[b] += 1.0;
        total += 1.0;
    }
    let width = (hi - lo) / bins as f64;
    counts
        .iter()
        .enumerate()
        .map(|(b, c)| {
            [
                lo + (b as f64 + 0.5) * width,
                if total > 0.0 { c / total } else { 0.0 },
            ]
        })
        .collect()
}

/// Figure 6: common support, the estimated propensity of internal medicine by unit (train, out of bag).
fn figure_6(w_hat: &[f64], w: &[f64]) -> PaperFigure {
    let by = |t: bool| {
        histogram(
            w_hat
                .iter()
                .zip(w)
                .filter(|(_, &wi)| (wi > 0.5) == t)
                .map(|(p, _)| *p),
            0.0,
            1.0,
            20,
        )
    };
    figure(
        "figure_6",
        "Figure 6: Common support, estimated P(internal medicine | x) by unit",
        "estimated propensity",
        "share of patients",
        &["internal medicine", "surgical"],
        vec![panel(None, vec![by(true), by(false)])],
    )
}

/// Figure 7: distribution of the compliance scores: the out-of-bag effect of
/// Z on W of every train patient from the compliance forest behind the
/// average effect (grf's `compliance.score`).
fn figure_7(compliance: &[f64], truth: f64) -> PaperFigure {
    let estimated = histogram(compliance.iter().copied(), -0.5, 0.5, 40);
    let peak = estimated.iter().map(|p| p[1]).fold(0.0, f64::max);
    figure(
        "figure_7",
        "Figure 7: Estimated compliance scores, the effect of Z on W given x (train patients, out of bag)",
        "compliance score",
        "share of patients",
        &["estimated", "truth (compliers less defiers)"],
        vec![panel(
            None,
            vec![estimated, vec![[truth, 0.0], [truth, peak]]],
        )],
    )
}
