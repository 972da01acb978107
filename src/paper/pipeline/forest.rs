//! The pipeline's two instrumental forests on the train days: one that
//! samples whole hospital-days (the instrument is a day's, and day-mates
//! share every day-level covariate, so without clusters their out-of-bag
//! fits leak each other's instrument) and one with grf's defaults, as the
//! paper ran it. Each carries its overlap and weak-instrument diagnostics
//! and its doubly robust averages; Table 3b and the diagnostics table set
//! them side by side.

use std::sync::Arc;

use ndarray::Array2;

use super::tables::row;
use crate::core::text::significant;
use crate::data::Clusters;
use crate::estimate::forest::{
    average_over, diagnose, dr_wald_ratio, iv_scores, robust_averages, FittedForest, ForestParams,
    IvDiagnostics, IvPieces, Prediction, RobustAverage, BAND, FEW, HISTOGRAM_BINS, NO_FLOOR,
};
use crate::paper::{PaperRow, PaperTable};
use crate::{Error, Result};

/// The train patients' outcome, treatment and instrument.
pub(super) type Train<'a> = (&'a [f64], &'a [f64], &'a [f64]);

/// One instrumental forest on the train days with what it says of itself.
pub(super) struct ForestRun {
    /// How it sampled, for row labels ("clustered by hospital-day").
    pub name: &'static str,
    /// The fitted forest.
    pub forest: FittedForest,
    /// Its out-of-bag effects, compliance scores and intention-to-treat
    /// effects at the train patients.
    pub pieces: IvPieces,
    /// grf's doubly robust scores (compliance not floored).
    pub scores: Vec<f64>,
    /// The doubly robust averages side by side, grf's first.
    pub averages: Vec<RobustAverage>,
    /// Overlap and weak-instrument diagnostics.
    pub diagnostics: IvDiagnostics,
}

impl ForestRun {
    /// Fits the forest (sampling whole `clusters` when given) and its
    /// compliance forest, then the averages and diagnostics.
    pub fn fit(
        x: &Array2<f64>,
        train: Train<'_>,
        params: &ForestParams,
        clusters: Option<Arc<Clusters>>,
        seed: u64,
    ) -> Result<ForestRun> {
        let name = if clusters.is_some() {
            "clustered by hospital-day"
        } else {
            "no clusters (grf's defaults, as the paper)"
        };
        let forest = FittedForest::fit(x.view(), train, params, clusters, seed)?;
        let oob: Vec<Prediction> = forest.predict_oob();
        let scored = iv_scores(&forest, train, &oob, params, seed ^ 0x5eed)?;
        let (y, _, z) = train;
        let pieces = IvPieces::fit(
            &forest,
            (y, z),
            (&oob, scored.compliance),
            params,
            seed ^ 0x5eed,
        )?;
        let parts = pieces.parts(&forest, train);
        let averages = robust_averages(&parts)?;
        let grf = averages
            .first()
            .filter(|a| a.key == "grf")
            .map(|a| (a.estimate, a.se))
            .ok_or_else(|| {
                Error::Estimate("too few train patients for an average effect".into())
            })?;
        let diagnostics = diagnose(&parts, grf);
        let scores = parts.scores(NO_FLOOR);
        Ok(ForestRun {
            name,
            forest,
            pieces,
            scores,
            averages,
            diagnostics,
        })
    }

    /// grf's average and its SE (the first of the averages).
    pub fn grf_average(&self) -> (f64, f64) {
        (self.averages[0].estimate, self.averages[0].se)
    }

    /// The doubly robust Wald ratio over the train patients `members`.
    pub fn dr_wald(&self, train: Train<'_>, members: &[usize]) -> Option<(f64, f64)> {
        dr_wald_ratio(&self.pieces.parts(&self.forest, train), members)
    }

    /// The mean of grf's scores over `members` with its (cluster-robust,
    /// when clustered) SE.
    pub fn group_average(&self, members: &[usize]) -> Option<(f64, f64)> {
        let clusters = self.forest.clusters.as_deref();
        average_over(&self.scores, members.iter().copied(), clusters)
    }
}

/// Flags a row whose estimate is impossible or uninformative for an effect
/// on a probability: outside [-1, 1], or with an SE above 0.5 (a flag the
/// row already has, such as a fragile average, follows it).
pub(super) fn flag_effect(mut r: PaperRow) -> PaperRow {
    let range = if r.estimated.is_some_and(|v| v.abs() > 1.0) {
        Some("outside [-1, 1]: impossible for an effect on survival")
    } else if r.se.is_some_and(|se| se > 0.5) {
        Some("SE above 0.5: says nothing about an effect on survival")
    } else {
        None
    };
    if let Some(range) = range {
        r.flag = Some(match r.flag.take() {
            Some(other) => format!("{range}; {other}"),
            None => range.to_string(),
        });
    }
    r
}

/// Flags a bound (an end of an interval on an effect on survival) outside
/// [-1, 1]: wider than the outcome's support allows, so it says no more
/// than [-1, 1] itself.
pub(super) fn flag_bound(mut r: PaperRow) -> PaperRow {
    if r.estimated.is_some_and(|v| v.abs() > 1.0) {
        r.flag = Some("bound outside [-1, 1]: wider than survival (0 or 1) allows".into());
    }
    r
}

/// Table 3b: every doubly robust average of both forests with its estimand's
/// truth; `truth(target)` computes the truth of an average's population.
pub(super) fn table_3b(
    runs: &[&ForestRun],
    truth: &dyn Fn(&RobustAverage) -> Option<f64>,
) -> PaperTable {
    let mut rows = Vec::new();
    let mut estimands: Vec<String> = Vec::new();
    for run in runs {
        for a in &run.averages {
            let mut r = row(
                &format!("{}: {}", run.name, a.label),
                None,
                a.estimate,
                Some(a.se),
                truth(a),
            );
            if a.key == "grf" {
                r.flag = fragile(&run.diagnostics);
            }
            rows.push(flag_effect(r));
            let line = format!("{}: {}", a.key, a.estimand);
            if !estimands.contains(&line) {
                estimands.push(line);
            }
        }
    }
    PaperTable {
        id: "table_3b".into(),
        title:
            "Table 3b: Doubly robust averages of the instrumental forest, side by side (train days)"
                .into(),
        note: format!(
            "Each average with the truth of its own estimand (trimming and weighting change the \
             population an average describes). grf's average divides each patient's residual by \
             the patient's estimated compliance; the floors bound that division, and the Wald \
             ratios divide once, by a pooled first stage. Estimands: {}. SEs of the clustered \
             forest are cluster-robust by hospital-day.",
            estimands.join("; ")
        ),
        grid: false,
        rows,
    }
}

/// The fragile-average flag of grf's average, when its diagnostics raise one.
pub(super) fn fragile(d: &IvDiagnostics) -> Option<String> {
    d.fragile().then(|| {
        format!(
            "fragile: {FEW} patients carry {:.0}% of its variance; {} without them",
            100.0 * d.extreme_share,
            d.without_few().map_or_else(|| "nan".into(), significant)
        )
    })
}

/// The overlap and weak-instrument diagnostics of both forests.
pub(super) fn table_diagnostics(runs: &[&ForestRun], true_first_stage: f64) -> PaperTable {
    let mut rows = Vec::new();
    for run in runs {
        let d = &run.diagnostics;
        let mut add = |what: &str, value: f64, truth: Option<f64>| {
            rows.push(row(
                &format!("{}: {what}", run.name),
                None,
                value,
                None,
                truth,
            ));
        };
        add("instrument propensity, smallest", d.propensity_min, None);
        add("instrument propensity, largest", d.propensity_max, None);
        add(
            &format!(
                "share of patients with the propensity outside [{BAND}, {}]",
                1.0 - BAND
            ),
            d.outside_band,
            None,
        );
        add(
            "out-of-bag R² of the propensity for Z",
            d.propensity_r2,
            None,
        );
        add(
            "pooled first stage (partialled out)",
            d.pooled_first_stage,
            Some(true_first_stage),
        );
        add(
            "compliance scores, mean",
            d.compliance_mean,
            Some(true_first_stage),
        );
        add("compliance scores, SD", d.compliance_sd, None);
        add("compliance scores, smallest", d.compliance_min, None);
        add(
            "share of negative compliance scores",
            d.share_negative,
            None,
        );
        add(
            "share of compliance scores within ±0.01 of zero",
            d.share_near_zero,
            None,
        );
        for (k, w) in d.largest_weights.iter().take(3).enumerate() {
            add(
                &format!("doubly robust weight, largest no. {}", k + 1),
                *w,
                None,
            );
        }
        add("grf's average", d.average, None);
        add(
            &format!("share of its variance carried by its {FEW} most extreme scores"),
            d.extreme_share,
            None,
        );
        for (k, avg) in &d.leave_out {
            add(
                &format!("grf's average with the {k} most extreme scores left out"),
                *avg,
                None,
            );
        }
    }
    PaperTable {
        id: "table_diagnostics".into(),
        title: "Overlap and weak-instrument diagnostics of the instrumental forests (train days)"
            .into(),
        note: diagnostics_note(),
        grid: false,
        rows,
    }
}

/// How to read the diagnostics table.
fn diagnostics_note() -> String {
    format!(
        "The estimated instrument propensity should stay inside [{BAND}, {}]: near 0 or 1 the \
         doubly robust weight (Z - z_hat) / (z_hat (1 - z_hat)) explodes, and an out-of-bag R² \
         near 1 means the propensity predicts the instrument itself (day-mates leaking it). \
         Compliance scores near zero make grf's weight, divided by them, explode as well; the \
         truth beside their mean is the share of compliers less the share of defiers. An \
         average whose 10 most extreme scores carry more than half the scores' variance rests \
         on those patients (compare it with the leave-out averages). \
         Figure 6b draws the propensity's histogram ({HISTOGRAM_BINS} bins), Figure 7 the \
         compliance scores'.",
        1.0 - BAND
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bound_outside_the_support_of_survival_is_flagged_with_the_reason() {
        let bound = |v: f64| flag_bound(row("Frequentist: lower", Some(-0.13), v, None, None));
        for wide in [-1899.0, 1899.0, -1.0001] {
            let flag = bound(wide).flag.unwrap_or_default();
            assert!(flag.starts_with("bound outside [-1, 1]"), "{wide}: {flag}");
            assert!(flag.contains("survival"), "{flag}");
        }
        for inside in [-1.0, -0.43, 0.0, 0.56, 1.0] {
            assert_eq!(bound(inside).flag, None, "{inside}");
        }
        // An effect (with an SE) is flagged too, and keeps its other flag.
        let mut effect = row("I6", Some(-0.64), 34.3, Some(40.0), None);
        effect.flag = Some("fragile".into());
        let flag = flag_effect(effect).flag.unwrap_or_default();
        assert!(
            flag.starts_with("outside [-1, 1]") && flag.ends_with("; fragile"),
            "{flag}"
        );
    }
}
