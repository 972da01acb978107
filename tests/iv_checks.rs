//! The instrumental forest's trust checks on the hospital world: the
//! default (calibrated) world meets its overlap and compliance targets,
//! and where grf's average misses the truth a doubly robust Wald ratio on
//! a clustered forest covers it.

mod common;

use std::sync::Arc;

use causim::data::Clusters;
use causim::estimate::forest::{
    diagnose, iv_scores, robust_averages, FittedForest, ForestParams, IvPieces,
};
use causim::sim::hospital::HospitalWorld;
use causim::sim::{ComplianceType, Sim};

/// The default world's clustered forest diagnostics on one sample.
fn diagnostics(seed: u64) -> causim::estimate::forest::IvDiagnostics {
    let world = HospitalWorld {
        scale: 0.25,
        ..Default::default()
    };
    let sample = world
        .build()
        .expect("world")
        .generate(seed)
        .expect("sample");
    let data = &sample.data;
    let (y, w) = (data.y.to_vec(), data.w.to_vec());
    let z = data.z.as_ref().expect("instrument").to_vec();
    let cohorts = data.cohorts.as_ref().expect("cohorts");
    let days = Arc::new(Clusters::from_labels(&cohorts.day_of).expect("days"));
    let params = ForestParams {
        num_trees: 500,
        ..Default::default()
    };
    let forest =
        FittedForest::fit(data.x.view(), (&y, &w, &z), &params, Some(days), seed).expect("forest");
    let oob = forest.predict_oob();
    let scores = iv_scores(&forest, (&y, &w, &z), &oob, &params, seed).expect("scores");
    let pieces =
        IvPieces::fit(&forest, (&y, &z), (&oob, scores.compliance), &params, seed).expect("pieces");
    let parts = pieces.parts(&forest, (&y, &w, &z));
    let averages = robust_averages(&parts).expect("averages");
    let d = diagnose(&parts, (averages[0].estimate, averages[0].se));
    // The true first stage, compliers less defiers.
    let types = sample.truth.complier_type.as_deref().expect("types");
    let net = types
        .iter()
        .map(|t| match t {
            ComplianceType::Complier => 1.0,
            ComplianceType::Defier => -1.0,
            _ => 0.0,
        })
        .sum::<f64>()
        / types.len() as f64;
    assert!(
        (d.compliance_mean - net).abs() < 0.5 * net,
        "seed {seed}: compliance scores average {} against a true first stage of {net}",
        d.compliance_mean
    );
    d
}

#[test]
fn the_default_world_has_overlap_and_mostly_positive_compliance_on_two_seeds() {
    for seed in [3, 4] {
        let d = diagnostics(seed);
        eprintln!("seed {seed}: {d:?}");
        // Figure 6's common support: a clustered propensity inside [0.05, 0.95].
        assert!(d.outside_band < 0.01, "seed {seed}: {}", d.outside_band);
        assert!(d.propensity_r2 < 0.5, "seed {seed}: R² {}", d.propensity_r2);
        // Figure 7: mostly positive, a small share negative.
        assert!(
            d.share_negative > 0.0 && d.share_negative < 0.05,
            "seed {seed}: {} negative",
            d.share_negative
        );
        assert!(
            d.share_near_zero < 0.05,
            "seed {seed}: {}",
            d.share_near_zero
        );
    }
}

#[test]
fn a_clustered_wald_ratio_covers_the_truth_where_grfs_average_does_not() {
    // A strong instrument, where day-mates' leakage narrows grf's interval
    // around a biased average.
    let mut world = HospitalWorld {
        scale: 0.1,
        ..Default::default()
    };
    world.instrument.strength = 0.5;
    let result = common::paper_pipeline(world, 400, 5);
    let table = result
        .tables
        .iter()
        .find(|t| t.id == "table_3b")
        .expect("table 3b");
    let find = |prefix: &str| {
        table
            .rows
            .iter()
            .find(|r| r.label.starts_with(prefix))
            .unwrap_or_else(|| panic!("no row {prefix}"))
    };
    let z = |r: &causim::paper::PaperRow| {
        let (e, se, t) = (
            r.estimated.expect("estimate"),
            r.se.expect("se"),
            r.truth.expect("truth"),
        );
        eprintln!("{}: {e} ({se}) truth {t}", r.label);
        (e - t).abs() / se
    };
    let grf = find("no clusters (grf's defaults, as the paper): grf's");
    let wald = find("clustered by hospital-day: doubly robust Wald ratio (divides");
    assert!(z(grf) > 1.96, "grf's interval holds the truth");
    assert!(z(wald) < 1.96, "the Wald ratio's interval misses the truth");
}
