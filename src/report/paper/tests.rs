//! Tests of the paper's section: averaging and formatting of hand-made
//! results, figures, CSVs, and a whole report of the paper's pipeline alone.

use std::path::Path;

use super::super::section::write_csvs;
use super::*;
use crate::paper::{PaperPanel, PaperResult, PaperRow};
use crate::record::{read_manifest, results_path, Layout, PartOutcome, Piece, Writer};
use crate::run::{run, RunOptions};
use crate::stage::paper::PaperOutcome;

fn row(label: &str, published: Option<f64>, estimated: f64, se: Option<f64>) -> PaperRow {
    PaperRow {
        label: label.into(),
        published,
        published_se: None,
        estimated: Some(estimated),
        se,
        truth: se.map(|_| -0.02),
        flag: None,
    }
}

/// A record of cell 0 with Table 3 (a count row, an effect row and, when
/// `extra`, a row of its own) and one figure.
fn record(replication: usize, patients: f64, ate: f64, extra: bool) -> Record {
    let mut rows = vec![
        row("Patients", Some(74355.0), patients, None),
        row("IV forest: ATE", Some(-0.021), ate, Some(ate.abs() / 10.0)),
    ];
    if extra {
        rows.push(row("Only once", None, 0.5, None));
        rows[1].flag = Some("fragile".into());
    }
    let figure = PaperFigure {
        bars: false,
        y_from_zero: false,
        x_range: None,
        diagonal: false,
        id: "figure_4".into(),
        title: "Figure 4: survival by occupancy".into(),
        x_label: "occupancy".into(),
        y_label: "survival".into(),
        categories: None,
        series: vec!["internal medicine".into(), "surgery".into()],
        panels: vec![PaperPanel {
            title: Some("hospital A".into()),
            lines: vec![vec![[0.5, 0.9], [1.0, 0.85]], vec![[0.5, 0.92], [1.0, 0.8]]],
        }],
    };
    Record {
        cell: 0,
        replication,
        seed: 7 + replication as u64,
        truth: Default::default(),
        stages: Default::default(),
    }
    .with_paper(PaperOutcome {
        result: Some(PaperResult {
            tables: vec![PaperTable {
                id: "table_3".into(),
                title: "Table 3: Average treatment effect".into(),
                note: "Truth: the sample LATE.".into(),
                grid: false,
                rows,
            }],
            figures: vec![figure],
        }),
        error: None,
    })
}

/// A record's paper outcome replaced, for tests of the section.
trait WithPaper {
    fn with_paper(self, outcome: PaperOutcome) -> Self;
}

impl WithPaper for Record {
    fn with_paper(mut self, outcome: PaperOutcome) -> Self {
        let value = serde_json::to_value([outcome]).expect("encodes");
        self.stages.insert("paper".into(), value);
        self
    }
}

/// The stored piece of a hand-made record of the paper's stage alone.
fn piece(record: &Record, layout: &Layout) -> Piece {
    let part = &layout.stages[0].parts[0];
    Piece {
        sample: layout.samples[record.cell],
        replication: record.replication,
        seed: record.seed,
        truth: record.truth.clone(),
        outcomes: vec![PartOutcome {
            stage: "paper".into(),
            part: part.name.clone(),
            print: part.print,
            outcome: record.stages["paper"][0].clone(),
        }],
    }
}

/// A fresh folder per test (tests run in parallel).
fn scratch(test: &str) -> std::path::PathBuf {
    let root = std::env::temp_dir().join(format!("causim-paper-{}-{test}", std::process::id()));
    let _ = std::fs::remove_dir_all(&root);
    std::fs::create_dir_all(&root).expect("temp folder");
    root
}

/// A one-cell experiment of a small hospital world with `[paper]` and no estimators.
fn experiment(root: &Path) -> Experiment {
    std::fs::write(root.join("sim.toml"), "kind = \"hospital\"\nscale = 0.05\n").expect("sim");
    let path = root.join("experiment.toml");
    let text = "sim = \"sim.toml\"\nreplications = 2\n[paper]\n[paper.forest]\nnum_trees = 100\n";
    std::fs::write(&path, text).expect("experiment file");
    Experiment::load(&path).expect("experiment loads")
}

#[test]
fn tables_average_over_replications_and_figures_render() {
    let root = scratch("mean");
    let records = [
        record(0, 74000.0, -0.01, false),
        record(1, 74011.0, -0.03, true),
    ];
    let (csvs, view) = section(&experiment(&root), &records)
        .expect("renders")
        .expect("a paper section");
    let _ = std::fs::remove_dir_all(&root);
    assert_eq!((view.replications, view.failures), (2, 0));

    let [csv] = &csvs[..] else {
        panic!("one table, one CSV")
    };
    assert_eq!(csv.name, "paper_table_3.csv");
    let header = [
        "row",
        "published",
        "published_se",
        "estimated",
        "se",
        "truth",
        "replications",
        "flag",
    ];
    assert_eq!(csv.header, header);
    assert_eq!(csv.rows.len(), 3);
    assert_eq!(
        csv.rows[0],
        ["Patients", "74355", "", "74005.5", "", "", "2", ""]
    );
    // A flag raised in one replication of two says so.
    assert_eq!(csv.rows[1][7], "fragile (in 1 of 2 replications)");
    let ate: f64 = csv.rows[1][3].parse().expect("a mean");
    let se: f64 = csv.rows[1][4].parse().expect("a mean");
    assert!((ate + 0.02).abs() < 1e-12 && (se - 0.002).abs() < 1e-12);
    assert_eq!(csv.rows[1][5], "-0.02");
    assert_eq!(csv.rows[2], ["Only once", "", "", "0.5", "", "", "1", ""]);

    let table = &view.tables[0];
    assert_eq!(table.id, "paper-table_3");
    assert_eq!(table.csv, "paper_table_3.csv");
    assert!(table.averaging.contains("mean over 2 replications"));
    assert!(table.averaging.contains("missing from some replications"));
    let [group] = &table.groups[..] else {
        panic!("one cell, one group")
    };
    assert!(group.label.is_empty());
    // Counts: whole numbers with separators; the rest 4 significant digits.
    let patients = &group.rows[0];
    assert_eq!(patients.published, "74,355");
    assert_eq!(patients.estimated, "74,006");
    assert_eq!((patients.se.as_str(), patients.truth.as_str()), ("", ""));
    let ate = &group.rows[1];
    assert_eq!(ate.published, "-0.021", "as the paper prints it");
    assert_eq!(ate.estimated, "-0.02000");
    assert_eq!(ate.se, "0.002000");
    assert_eq!(ate.flag, "fragile (in 1 of 2 replications)");
    assert!(table.flagged && patients.flag.is_empty());

    let [figure] = &view.figures[..] else {
        panic!("one figure")
    };
    assert!(figure.svg.contains("<svg") && figure.svg.contains("surgery"));
    assert_eq!(figure.id, "paper-figure_4");
    let note = view.figures_note.as_deref().unwrap_or_default();
    assert!(note.contains("replication 0"), "{note}");
}

#[test]
fn failures_are_counted_and_stale_csvs_removed() {
    let root = scratch("failed");
    let exp = experiment(&root);
    let mut failed = record(1, 0.0, 0.0, false);
    failed = failed.with_paper(PaperOutcome {
        result: None,
        error: Some("the first stage is singular".into()),
    });
    let records = [record(0, 74000.0, -0.01, false), failed];
    let (csvs, view) = section(&exp, &records)
        .expect("renders")
        .expect("a paper section");
    assert_eq!((view.replications, view.failures), (1, 1));
    let first = view.first_error.as_deref();
    assert_eq!(first, Some("the first stage is singular"));
    assert_eq!(
        view.tables[0].averaging, "",
        "one replication: nothing averaged"
    );
    assert!(view.figures_note.is_none());

    // Every CSV this render does not write is stale; other files stay.
    std::fs::write(root.join("paper_table_9.csv"), "stale").expect("stale file");
    std::fs::write(root.join("cells.csv"), "stale").expect("stale file");
    std::fs::write(root.join("results.jsonl"), "kept").expect("other file");
    write_csvs(&root, &csvs).expect("writes");
    assert!(root.join("paper_table_3.csv").exists());
    assert!(!root.join("paper_table_9.csv").exists() && !root.join("cells.csv").exists());
    write_csvs(&root, &[]).expect("writes nothing");
    assert!(!root.join("paper_table_3.csv").exists() && root.join("results.jsonl").exists());

    // With `[paper]` but nothing recorded, the section says so; without, none.
    let (_, view) = section(&exp, &[]).expect("renders").expect("a section");
    assert!(view.tables.is_empty() && view.figures.is_empty());
    let plain = Experiment { paper: None, ..exp };
    assert!(section(&plain, &[]).expect("renders").is_none());
    let _ = std::fs::remove_dir_all(&root);
}

#[test]
fn a_report_of_the_paper_alone_renders() {
    let root = scratch("report");
    let exp = experiment(&root);
    let dir = root.join("out");
    let options = RunOptions {
        out: dir.clone(),
        jobs: Some(1),
        shard: None,
        fresh: true,
        max_tasks: Some(0),
        progress: false,
    };
    // Records the manifest only; the records are made by hand.
    run(&exp, &options).expect("manifest written");
    let layout = read_manifest(&dir).expect("manifest").layout;
    let writer = Writer::open(&results_path(&dir, None)).expect("results file");
    let mut failed = record(1, 0.0, 0.0, false);
    failed = failed.with_paper(PaperOutcome {
        result: None,
        error: Some("the first stage is <singular>".into()),
    });
    for r in [record(0, 74000.0, -0.01, false), failed] {
        writer.append(&piece(&r, &layout)).expect("appends");
    }
    writer.flush().expect("flushes");
    for stale in ["diagnosands.csv", "paper_table_1.csv"] {
        std::fs::write(dir.join(stale), "stale").expect("stale file");
    }

    let html =
        std::fs::read_to_string(super::super::render(&dir).expect("renders")).expect("index.html");
    for text in [
        "<h2 id=\"paper\">The placement paper</h2>",
        "href=\"#paper-table_3\"",
        "href=\"paper_table_3.csv\"",
        "Table 3: Average treatment effect",
        "<td>74,355</td>",
        "the placement paper's pipeline;",
        "failed in 1 task",
        "the first stage is &lt;singular&gt;",
        "<dt>estimators</dt><dd>none</dd>",
        "instrumental forest of 100 trees",
        "<h2 id=\"cells\">Cells</h2>",
    ] {
        assert!(html.contains(text), "missing {text}");
    }
    for absent in [
        "id=\"diagnosands\"",
        "id=\"plots\"",
        "estimates.csv",
        "failed fit",
    ] {
        assert!(!html.contains(absent), "{absent} shown without estimators");
    }
    assert_eq!(html.matches("<svg").count(), 1, "the paper's one figure");
    assert!(dir.join("paper_table_3.csv").exists() && dir.join("cells.csv").exists());
    for gone in ["diagnosands.csv", "estimates.csv", "paper_table_1.csv"] {
        assert!(!dir.join(gone).exists(), "{gone} written or left stale");
    }
    let _ = std::fs::remove_dir_all(&root);
}

#[test]
fn numbers_are_formatted_for_reading() {
    assert_eq!(thousands(74355.0), "74,355");
    assert_eq!(thousands(-1234567.0), "-1,234,567");
    assert_eq!(thousands(100.0), "100");
    assert_eq!(show(None, true), "");
    assert_eq!(show(Some(0.123456), false), "0.1235");
    assert_eq!(show(Some(-0.000791), false), "-0.0007910");
    assert_eq!(show(Some(1434.8), false), "1435");
    assert_eq!(show(Some(0.0), false), "0");
    assert_eq!(show_published(Some(0.97), false), "0.97");
    assert_eq!(show_published(Some(77.45234), false), "77.45");
    assert_eq!(show_published(Some(0.0), false), "0");
    assert_eq!(show_published(Some(74355.0), true), "74,355");
    assert_eq!(file_part("table 3/a"), "table_3_a");
}

/// A record of cell 0 whose only table is `table`.
fn record_with(table: PaperTable) -> Record {
    Record {
        cell: 0,
        replication: 0,
        seed: 7,
        truth: Default::default(),
        stages: Default::default(),
    }
    .with_paper(PaperOutcome {
        result: Some(PaperResult {
            tables: vec![table],
            figures: Vec::new(),
        }),
        error: None,
    })
}

#[test]
fn published_ses_get_their_own_column() {
    let root = scratch("published_se");
    let mut ate = row("IV forest: ATE", Some(-0.0667), -0.05, Some(0.03));
    ate.published_se = Some(0.0348);
    let table = PaperTable {
        id: "table_3".into(),
        title: "Table 3".into(),
        note: String::new(),
        grid: false,
        rows: vec![ate, row("Patients", Some(74355.0), 7515.0, None)],
    };
    let (csvs, view) = section(&experiment(&root), &[record_with(table)])
        .expect("renders")
        .expect("a paper section");
    let _ = std::fs::remove_dir_all(&root);
    let csv = &csvs[0];
    assert_eq!(&csv.header[..3], ["row", "published", "published_se"]);
    assert_eq!(&csv.rows[0][..3], ["IV forest: ATE", "-0.0667", "0.0348"]);
    assert_eq!(csv.rows[1][2], "", "no published SE: blank");
    let table = &view.tables[0];
    assert!(table.published_se && table.grid.is_none());
    assert_eq!(table.span, 6);
    let shown = &table.groups[0].rows[0];
    assert_eq!(
        (shown.published.as_str(), shown.published_se.as_str()),
        ("-0.0667", "0.0348")
    );
}

#[test]
fn policy_tables_are_grids_with_one_row_per_policy() {
    let root = scratch("grid");
    let mut rows = Vec::new();
    for policy in ["Welfare max", "Frequentist minimax", "Manski minimax"] {
        rows.push(row(
            &format!("{policy}: welfare gain per patient"),
            Some(0.003),
            0.1,
            None,
        ));
        rows.push(row(&format!("{policy}: share reassigned"), None, 0.5, None));
    }
    rows[0].flag = Some("outside [-1, 1]".into());
    rows[2].flag = Some("outside [-1, 1]".into());
    rows[2].estimated = Some(34.3);
    rows.push(row(
        "Manski minimax: days not proven optimal",
        None,
        0.0,
        None,
    ));
    rows.push(PaperRow {
        truth: Some(0.0037),
        estimated: None,
        ..row(
            "Oracle (true model): welfare gain per patient",
            None,
            0.0,
            None,
        )
    });
    let table = PaperTable {
        id: "table_6".into(),
        title: "Table 6: Placement policies".into(),
        note: String::new(),
        grid: true,
        rows,
    };
    let (csvs, view) = section(&experiment(&root), &[record_with(table)])
        .expect("renders")
        .expect("a paper section");
    let _ = std::fs::remove_dir_all(&root);
    assert_eq!(csvs[0].rows.len(), 8, "the CSV keeps one row per value");
    let grid = view.tables[0].grid.as_ref().expect("a grid");
    assert_eq!(
        grid.columns,
        [
            "welfare gain per patient",
            "share reassigned",
            "days not proven optimal"
        ]
    );
    assert_eq!(grid.span, 4);
    let [group] = &grid.groups[..] else {
        panic!("one cell, one grid")
    };
    let policies: Vec<&str> = group.rows.iter().map(|r| r.label.as_str()).collect();
    assert_eq!(
        policies,
        [
            "Welfare max",
            "Frequentist minimax",
            "Manski minimax",
            "Oracle (true model)"
        ]
    );
    assert!(group.rows.iter().all(|r| r.cells.len() == 3));
    let welfare = &group.rows[0].cells[0];
    assert_eq!(
        (welfare.estimated.as_str(), welfare.published.as_str()),
        ("0.1000", "0.003")
    );
    assert_eq!(
        (welfare.mark, group.rows[1].cells[0].mark),
        (1, 1),
        "one flag, one mark"
    );
    assert_eq!(group.rows[1].cells[0].estimated, "34.30");
    assert_eq!(grid.flags, ["⚑1: outside [-1, 1]"]);
    assert!(
        group.rows[0].cells[2].estimated.is_empty(),
        "welfare max has no such row"
    );
    assert_eq!(group.rows[3].cells[0].truth, "0.003700");
}
