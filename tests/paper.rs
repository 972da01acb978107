//! The placement paper's pipeline on a small hospital world: every table and
//! figure is produced, and the bounds relate to each other and to the truth
//! as the theory says.

mod common;

use causim::paper::PaperResult;
use causim::sim::hospital::HospitalWorld;

/// The pipeline with 200-tree forests on a sample of `world`.
fn pipeline(world: HospitalWorld, seed: u64) -> PaperResult {
    common::paper_pipeline(world, 200, seed)
}

fn value(result: &PaperResult, table: &str, label: &str) -> (f64, Option<f64>) {
    let t = result
        .tables
        .iter()
        .find(|t| t.id == table)
        .unwrap_or_else(|| panic!("{table} missing"));
    let r = t
        .rows
        .iter()
        .find(|r| r.label == label)
        .unwrap_or_else(|| panic!("{table}: row {label} missing"));
    (r.estimated.unwrap_or(f64::NAN), r.truth)
}

#[test]
fn small_paper_world_produces_every_table_and_figure() {
    let world = HospitalWorld {
        scale: 0.1,
        ..Default::default()
    };
    let result = pipeline(world, 11);
    for t in &result.tables {
        eprintln!("{}", t.title);
        for r in &t.rows {
            eprintln!(
                "  {:60} {:?} {:?} {:?} {:?}",
                r.label, r.published, r.estimated, r.se, r.truth
            );
        }
    }
    let tables: Vec<&str> = result.tables.iter().map(|t| t.id.as_str()).collect();
    assert_eq!(
        tables,
        [
            "table_1",
            "table_2",
            "table_3",
            "table_3b",
            "table_4",
            "table_diagnostics",
            "table_5",
            "table_6",
            "table_11",
            "table_12",
            "table_7",
            "table_8",
            "table_9",
            "table_10"
        ]
    );
    // Table 10's true gains add up to Table 6's true welfare gain of welfare max.
    let t10 = result
        .tables
        .iter()
        .find(|t| t.id == "table_10")
        .expect("table 10");
    let rows = |suffix: &'static str| t10.rows.iter().filter(move |r| r.label.ends_with(suffix));
    let patients: Vec<f64> = rows(": patients")
        .map(|r| r.estimated.expect("count"))
        .collect();
    let total: f64 = patients.iter().sum();
    let weighted: f64 = rows(": welfare gain per patient")
        .zip(&patients)
        .map(|(r, n)| r.truth.expect("truth") * n)
        .sum::<f64>()
        / total;
    let (_, table_6_truth) = value(&result, "table_6", "Welfare max: welfare gain per patient");
    let table_6_truth = table_6_truth.expect("truth");
    assert!(
        (weighted - table_6_truth).abs() < 1e-9,
        "{weighted} vs {table_6_truth}"
    );
    // Policies: on each setting, no rule beats the oracle in true welfare,
    // welfare maximization gains at least what the observed placement does in
    // its own estimate, and each minimax rule has at most welfare max's regret
    // at its own bound (it minimizes the larger of that regret and the
    // estimated welfare's, which is zero for welfare max).
    for id in ["table_6", "table_11", "table_12"] {
        let oracle = value(&result, id, "Oracle (true model): welfare gain per patient").1;
        let oracle = oracle.expect("oracle truth");
        let (wm_gain, wm_true) = value(&result, id, "Welfare max: welfare gain per patient");
        assert!(oracle >= wm_true.expect("truth") - 1e-12);
        assert!(oracle >= 0.0 && wm_gain >= 0.0);
        for (rule, bound) in [
            ("Frequentist minimax", "Frequentist"),
            ("Manski minimax", "Manski"),
            ("Balke-Pearl minimax", "Balke-Pearl"),
        ] {
            let (_, mm_true) = value(&result, id, &format!("{rule}: welfare gain per patient"));
            assert!(oracle >= mm_true.expect("truth") - 1e-12, "{id} {rule}");
            let regret =
                |r: &str| value(&result, id, &format!("{r}: {bound} regret per patient")).0;
            let (mm, wm) = (regret(rule), regret("Welfare max"));
            assert!(mm >= -1e-12, "{id}: {rule} has a negative regret {mm}");
            assert!(
                mm <= wm + 1e-12,
                "{id}: {rule} regret {mm} above welfare max's {wm}"
            );
        }
    }
    let figures: Vec<&str> = result.figures.iter().map(|f| f.id.as_str()).collect();
    assert_eq!(
        figures,
        [
            "figure_2",
            "figure_3",
            "figure_4",
            "figure_5",
            "figure_6",
            "figure_6b",
            "figure_7",
            "figure_policies"
        ]
    );
    for f in &result.figures {
        assert!(!f.panels.is_empty(), "{} has no panels", f.id);
        for p in &f.panels {
            assert_eq!(p.lines.len(), f.series.len(), "{}", f.id);
        }
    }
    // Table 4 has all nine diagnosis groups, each with a truth, then each
    // group's Wald ratio with its LATE truth.
    let t4 = &result.tables[4];
    assert_eq!(t4.rows.len(), 18);
    assert!(t4.rows.iter().all(|r| r.truth.is_some()));
    assert!(t4.rows[..9]
        .iter()
        .all(|r| r.se.is_some() || r.flag.is_some()));
    // Every effect on survival outside [-1, 1] in Tables 3-5 carries a flag.
    for t in result
        .tables
        .iter()
        .filter(|t| ["table_3", "table_3b", "table_4", "table_5"].contains(&t.id.as_str()))
    {
        for r in &t.rows {
            if r.estimated.is_some_and(|v| v.abs() > 1.0) {
                assert!(r.flag.is_some(), "{}: {} is not flagged", t.id, r.label);
            }
        }
    }
    // Table 5's bounds outside [-1, 1] say why: wider than survival allows.
    let t5 = result.tables.iter().find(|t| t.id == "table_5").expect("5");
    for r in t5.rows.iter().filter(|r| !r.label.contains(": share of")) {
        let wide = r.estimated.is_some_and(|v| v.abs() > 1.0);
        let flag = r.flag.as_deref().unwrap_or_default();
        assert_eq!(
            wide,
            flag.starts_with("bound outside [-1, 1]"),
            "{}: {flag}",
            r.label
        );
    }
    // The policies' changes in survival per patient are flagged outside [-1, 1].
    for id in ["table_6", "table_11", "table_12"] {
        let t = result
            .tables
            .iter()
            .find(|t| t.id == id)
            .expect("policy table");
        assert!(t.grid, "{id} is shown as a grid");
        for r in t.rows.iter().filter(|r| r.label.ends_with(" per patient")) {
            let wide = r.estimated.is_some_and(|v| v.abs() > 1.0);
            assert_eq!(wide, r.flag.is_some(), "{id}: {}", r.label);
        }
    }
    // Where the paper prints an SE, the row carries it beside the number.
    let published_se = |id: &str| -> Vec<f64> {
        let t = result.tables.iter().find(|t| t.id == id).expect("table");
        t.rows.iter().filter_map(|r| r.published_se).collect()
    };
    assert_eq!(published_se("table_3"), [0.0348, 0.0348, 0.051]);
    assert_eq!(published_se("table_4").len(), 9);
    assert!(!result
        .tables
        .iter()
        .any(|t| t.note.contains("Published SEs")));
    // Counts are bars from zero; percentiles span 0 to 100; Figure 4 compares
    // a median with a median.
    let figure = |id: &str| result.figures.iter().find(|f| f.id == id).expect("figure");
    assert!(figure("figure_2").bars);
    assert_eq!(figure("figure_5").x_range, Some([0.0, 100.0]));
    assert!(figure("figure_5").y_from_zero && figure("figure_7").y_from_zero);
    assert!(figure("figure_4")
        .series
        .iter()
        .all(|s| s.contains("median")));
    let weeks = figure("figure_3").panels[0].lines[0].len();
    assert!((20..200).contains(&weeks), "{weeks} points a line");

    // Bounds: Manski has width 1 and contains Balke-Pearl on average; the
    // truth lies inside the Manski interval of every patient.
    let (m_lo, truth) = value(&result, "table_5", "Manski: lower");
    let (m_hi, _) = value(&result, "table_5", "Manski: upper");
    let (bp_lo, _) = value(&result, "table_5", "Balke-Pearl: lower");
    let (bp_hi, _) = value(&result, "table_5", "Balke-Pearl: upper");
    let truth = truth.expect("truth");
    assert!((m_hi - m_lo - 1.0).abs() < 1e-9);
    assert!(
        m_lo <= bp_lo + 1e-9 && bp_hi <= m_hi + 1e-9,
        "{m_lo} {bp_lo} {bp_hi} {m_hi}"
    );
    assert!(
        bp_lo - 0.02 <= truth && truth <= bp_hi + 0.02,
        "{bp_lo} {truth} {bp_hi}"
    );
    let share = "share of patients whose interval holds their true effect";
    let (manski_cover, _) = value(&result, "table_5", &format!("Manski: {share}"));
    assert!(manski_cover > 0.99, "Manski covers {manski_cover}");
}

#[test]
fn a_strong_instrument_without_defiers_narrows_balke_pearl_below_manski() {
    let mut world = HospitalWorld {
        scale: 0.05,
        ..Default::default()
    };
    world.instrument.strength = 0.8;
    world.compliance.defiers = 0.0;
    let result = pipeline(world, 12);
    let width = |name: &str| {
        let (lo, _) = value(&result, "table_5", &format!("{name}: lower"));
        let (hi, _) = value(&result, "table_5", &format!("{name}: upper"));
        hi - lo
    };
    let (manski, balke_pearl) = (width("Manski"), width("Balke-Pearl"));
    assert!((manski - 1.0).abs() < 1e-9);
    assert!(balke_pearl < 0.5, "Balke-Pearl width {balke_pearl}");
}

/// `causim run` on a small copy of `experiments/paper.toml` writes a report
/// with every table and figure of the paper and one CSV per table.
#[test]
fn the_paper_experiment_at_small_scale_reports_every_table_and_figure() {
    use causim::run::{run as run_experiment, RunOptions};
    use causim::spec::Experiment;
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("paper_small");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("scratch folder");
    let shipped = std::fs::read_to_string(root.join("experiments/paper.toml")).expect("paper.toml");
    let sim = root.join("sims/swiss_ncu.toml");
    let small = shipped
        .replace(
            "\"../sims/swiss_ncu.toml\"",
            &format!("{:?}", sim.display().to_string()),
        )
        .replace("num_trees = 2000", "num_trees = 100")
        .replace("[paper]", "[overrides]\nscale = 0.1\n\n[paper]");
    let file = dir.join("paper.toml");
    std::fs::write(&file, small).expect("write experiment");
    let experiment = Experiment::load(&file).expect("the paper experiment loads");
    let out = dir.join("report");
    let options = RunOptions {
        out: out.clone(),
        jobs: Some(2),
        shard: None,
        fresh: true,
        max_tasks: None,
        progress: false,
    };
    run_experiment(&experiment, &options).expect("run");
    causim::report::render(&out).expect("render");
    let html = std::fs::read_to_string(out.join("index.html")).expect("report");
    for k in [1, 2, 3, 4, 5, 6, 11, 12] {
        assert!(html.contains(&format!("Table {k}:")), "Table {k} missing");
        assert!(out.join(format!("paper_table_{k}.csv")).exists());
    }
    for k in 2..=7 {
        assert!(html.contains(&format!("Figure {k}:")), "Figure {k} missing");
    }
    assert!(html.matches("<svg").count() >= 6);
    common::assert_text_fits(&html);
    for column in [
        "<th>Published SE</th>",
        "<table class=\"grid\">",
        "bound outside [-1, 1]",
    ] {
        assert!(html.contains(column), "{column} missing");
    }
    assert!(
        !html.contains("pipeline failed in"),
        "the pipeline must not fail"
    );
}
