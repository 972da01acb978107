//! Reports checked in a real browser: the quickstart and paper golden runs
//! are rendered in headless chromium at a 1280 px wide window, and a script
//! (`tests/layout_check.js`) measures the laid-out page. The test fails when
//! any SVG `<text>` leaves its `<svg>`'s box by more than 1 px (a clipped
//! title, label or legend) or any `<table>` is wider than the page's content
//! column (its columns would hide behind a scroll). A full-page screenshot
//! of each report is saved to `target/browser-check/NAME.png` to look at.
//!
//! Without `chromium` on the PATH the test prints a note and passes, unless
//! the environment variable `CI` is set: CI must run the check.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The window width the reports are checked at.
const WIDTH: u32 = 1280;

/// The tallest screenshot taken, in px; a longer page is cut off there.
const MAX_HEIGHT: u64 = 32_000;

/// The script injected into each report; it writes `<pre id="layout-check">`.
const CHECK: &str = include_str!("layout_check.js");

/// Whether `chromium` runs here; panics under CI when it does not.
fn chromium_present() -> bool {
    let found = Command::new("chromium")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    if !found {
        assert!(
            std::env::var_os("CI").is_none(),
            "CI is set but `chromium` is not installed: the browser check must run in CI"
        );
        eprintln!("note: `chromium` is not installed; the browser layout check is skipped");
    }
    found
}

/// Runs headless chromium at `WIDTH` × `height` on `page` with `args`, its
/// profile in `profile`, and returns its output; panics when it fails.
fn chromium(profile: &Path, height: u64, args: &[String], page: &Path) -> Output {
    let output = Command::new("chromium")
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--hide-scrollbars",
            "--no-first-run",
            "--run-all-compositor-stages-before-draw",
            "--virtual-time-budget=5000",
        ])
        .arg(format!("--window-size={WIDTH},{height}"))
        .arg(format!("--user-data-dir={}", profile.display()))
        .args(args)
        .arg(format!("file://{}", page.display()))
        .output()
        .expect("chromium starts");
    assert!(
        output.status.success(),
        "chromium failed on {}:\n{}",
        page.display(),
        String::from_utf8_lossy(&output.stderr)
    );
    output
}

/// The JSON the check script wrote into the dumped DOM `dom`.
fn findings(dom: &str) -> serde_json::Value {
    let start = "<pre id=\"layout-check\">";
    let at = dom
        .rfind(start)
        .unwrap_or_else(|| panic!("no {start} in the dumped DOM: the check script did not run"));
    let json = &dom[at + start.len()..];
    let json = &json[..json.find("</pre>").expect("the findings' </pre>")];
    serde_json::from_str(json).unwrap_or_else(|e| panic!("findings {json:?}: {e}"))
}

/// The folder screenshots are saved to: `target/browser-check/`.
fn screenshots() -> PathBuf {
    let target = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .parent()
        .expect("the target folder");
    let dir = target.join("browser-check");
    std::fs::create_dir_all(&dir).expect("create the screenshot folder");
    dir
}

/// One line per finding of kind `key`, written by `line`.
fn lines(
    found: &serde_json::Value,
    key: &str,
    line: fn(&serde_json::Value) -> String,
) -> Vec<String> {
    found[key]
        .as_array()
        .expect("a list of findings")
        .iter()
        .map(line)
        .collect()
}

/// Runs the golden run `name`, checks its report's layout in chromium and
/// saves its screenshot; panics with every offending text and table.
fn check(name: &str) {
    if !chromium_present() {
        return;
    }
    let out = common::run_golden(name, &format!("browser_{name}"));
    let html = std::fs::read_to_string(out.join("index.html")).expect("the report");
    let body = html.rfind("</body>").expect("the report's </body>");
    let checked = out.join("layout-check.html");
    let script = format!("<script>\n{CHECK}</script>\n");
    std::fs::write(&checked, [&html[..body], &script, &html[body..]].concat())
        .expect("write the checked copy");

    let profile = out.join("chromium-profile");
    let dom = chromium(&profile, 2000, &["--dump-dom".into()], &checked);
    let found = findings(&String::from_utf8_lossy(&dom.stdout));

    let height = found["height"]
        .as_u64()
        .unwrap_or(2000)
        .clamp(2000, MAX_HEIGHT);
    let png = screenshots().join(format!("{name}.png"));
    let _ = std::fs::remove_file(&png);
    let report = out.join("index.html");
    chromium(
        &profile,
        height,
        &[format!("--screenshot={}", png.display())],
        &report,
    );
    assert!(
        png.is_file(),
        "chromium wrote no screenshot {}",
        png.display()
    );
    eprintln!(
        "{name}: screenshot {} ({WIDTH} × {height} px)",
        png.display()
    );
    eprintln!(
        "{name}: {} SVG texts in {} SVGs and {} tables checked",
        found["texts_checked"], found["svgs"], found["tables_checked"]
    );
    assert!(
        found["texts_checked"].as_u64().unwrap_or(0) > 0,
        "{name}: the check measured no SVG text: {found}"
    );

    let mut problems = lines(&found, "texts", |t| {
        format!(
            "text {} in {} (svg {}) is outside its svg: {}",
            t["text"],
            t["figure"].as_str().unwrap_or("?"),
            t["svg"],
            t["sides"].as_str().unwrap_or("?")
        )
    });
    problems.extend(lines(&found, "tables", |t| {
        format!(
            "table {} {} (\"{}\") is {} px wide with {} px of room: {} px too wide{}",
            t["index"],
            t["table"].as_str().unwrap_or("?"),
            t["header"].as_str().unwrap_or(""),
            t["width"],
            t["room"],
            t["outside"],
            if t["wrapped"].as_bool() == Some(true) {
                " (behind its scroll wrapper)"
            } else {
                ""
            }
        )
    }));
    assert!(
        problems.is_empty(),
        "{name}: {} layout problems at {WIDTH} px (screenshot {}):\n  {}",
        problems.len(),
        png.display(),
        problems.join("\n  ")
    );
}

#[test]
fn quickstart_report_lays_out_in_a_browser() {
    check("quickstart");
}

#[test]
fn paper_report_lays_out_in_a_browser() {
    check("paper");
}
