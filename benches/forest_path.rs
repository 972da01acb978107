//! Forest predictions along busyness paths, as the placement policies need
//! them: an instrumental forest fitted on the hospital world's train days
//! predicts, for every patient of every test day and every count j of the
//! day's cohort placed in internal medicine, the effect and its variance at
//! the busyness j creates. Times (a) `predict` on the materialized
//! counterfactual rows and (b) `predict_paths` on the same paths (with and
//! without forest-weighted means of the 8 (Z, W, Y) cell indicators the
//! bounds need), and prints one JSON line with both times and the largest
//! differences.
//!
//! Run with `cargo bench --bench forest_path -- [SCALE] [TREES] [TEST_SHARE]`
//! (defaults: scale 1, the paper's 74,355 patients; 2,000 trees; a 25% day sample).

#[path = "common/hospital.rs"]
mod hospital;

use std::time::Instant;

use causim::estimate::forest::Path;
use ndarray::Array2;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| a != "--bench")
        .collect();
    let scale: f64 = args.first().map_or(Ok(1.0), |a| a.parse())?;
    let trees: usize = args.get(1).map_or(Ok(2000), |a| a.parse())?;
    let share: f64 = args.get(2).map_or(Ok(0.25), |a| a.parse())?;
    let f = hospital::fitted(scale, trees, share)?;
    let cohorts = f.sample.data.cohorts.as_deref().ok_or("cohorts")?;
    let data = &f.sample.data;
    let (forest, test_days, busyness, fit_s) = (&f.forest, &f.test_days, f.busyness, f.fit_s);
    let (y, w, zt) = (&f.y, &f.w, &f.z);

    // (a) The counterfactual rows, count-major within a day as the policies build them.
    let rows: usize = test_days
        .iter()
        .map(|&d| cohorts.days[d].size() * (cohorts.days[d].size() + 1))
        .sum();
    let started = Instant::now();
    let mut counterfactual = Array2::<f64>::zeros((rows, data.x.ncols()));
    let mut r = 0;
    for &d in test_days {
        let day = &cohorts.days[d];
        for j in 0..=day.size() {
            let busy = day.busyness(j);
            for i in day.start..day.end {
                let mut row = counterfactual.row_mut(r);
                row.assign(&data.x.row(i));
                row[busyness[0]] = busy[0];
                row[busyness[1]] = busy[1];
                r += 1;
            }
        }
    }
    let materialized = forest.predict(counterfactual.view())?;
    let predict_s = started.elapsed().as_secs_f64();

    // (b) One path per test patient: the busyness at each count j.
    let started = Instant::now();
    let mut values: Vec<Vec<f64>> = Vec::new();
    let mut bases = Vec::new();
    for &d in test_days {
        let day = &cohorts.days[d];
        let steps: Vec<f64> = (0..=day.size()).flat_map(|j| day.busyness(j)).collect();
        for i in day.start..day.end {
            bases.push(data.x.row(i).to_vec());
            values.push(steps.clone());
        }
    }
    let paths: Vec<Path<'_>> = bases
        .iter()
        .zip(&values)
        .map(|(base, values)| Path { base, values })
        .collect();
    let along = forest.predict_paths(&busyness, &paths, None)?;
    let paths_s = started.elapsed().as_secs_f64();

    // (c) The same with the 8 cell probabilities P(Z = z, W = w, Y = y | x).
    let cells: Vec<Vec<f64>> = (0..8)
        .map(|c| {
            let (cz, cw, cy) = (c >> 2 & 1, c >> 1 & 1, c & 1);
            (0..y.len())
                .map(|i| {
                    let hit =
                        zt[i] == f64::from(cz) && w[i] == f64::from(cw) && y[i] == f64::from(cy);
                    f64::from(u8::from(hit))
                })
                .collect()
        })
        .collect();
    let started = Instant::now();
    let columns: Vec<&[f64]> = cells.iter().map(Vec::as_slice).collect();
    let leaf_means = forest.leaf_means(&columns)?;
    let leaf_means_s = started.elapsed().as_secs_f64();
    let started = Instant::now();
    let with_means = forest.predict_paths(&busyness, &paths, Some(&leaf_means))?;
    let means_s = started.elapsed().as_secs_f64();

    // Compare: path p (patient i of day d), step j is row j * n + (i - start) of the day's block.
    let (mut tau_diff, mut var_diff, mut tau_rel, mut var_rel) = (0.0f64, 0.0f64, 0.0f64, 0.0f64);
    let mut mismatched_nan = 0usize;
    let (mut block, mut p) = (0, 0);
    for &d in test_days {
        let day = &cohorts.days[d];
        let n = day.size();
        for i in 0..n {
            for j in 0..=n {
                let a = materialized[block + j * n + i];
                let b = along.predictions[along.offsets[p] + j];
                for (x, y, abs, rel) in [
                    (a.tau, b.tau, &mut tau_diff, &mut tau_rel),
                    (a.variance, b.variance, &mut var_diff, &mut var_rel),
                ] {
                    if x.is_nan() != y.is_nan() {
                        mismatched_nan += 1;
                    } else if !x.is_nan() {
                        *abs = abs.max((x - y).abs());
                        *rel = rel.max((x - y).abs() / x.abs().max(1.0));
                    }
                }
            }
            p += 1;
        }
        block += n * (n + 1);
    }
    let cell_sum = with_means
        .means
        .chunks_exact(8)
        .map(|c| (c.iter().sum::<f64>() - 1.0).abs())
        .fold(0.0f64, f64::max);
    let same = with_means.predictions == along.predictions;
    println!(
        "{{\"patients\": {}, \"train\": {}, \"trees\": {trees}, \"test_days\": {}, \"paths\": {}, \
         \"rows\": {rows}, \"threads\": {}, \"fit_s\": {fit_s:.2}, \"predict_s\": {predict_s:.2}, \
         \"predict_paths_s\": {paths_s:.3}, \"leaf_means_s\": {leaf_means_s:.3}, \
         \"predict_paths_with_means_s\": {means_s:.3}, \"max_abs_diff_tau\": {tau_diff:.3e}, \
         \"max_abs_diff_variance\": {var_diff:.3e}, \"max_rel_diff_tau\": {tau_rel:.3e}, \
         \"max_rel_diff_variance\": {var_rel:.3e}, \"nan_mismatches\": {mismatched_nan}, \
         \"max_cell_sum_error\": {cell_sum:.3e}, \"means_leave_predictions_unchanged\": {same}}}",
        data.n(),
        y.len(),
        test_days.len(),
        paths.len(),
        rayon::current_num_threads(),
    );
    Ok(())
}
