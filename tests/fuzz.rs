//! Mutation fuzzing of every shipped spec, and of a small CSV: thousands of
//! damaged inputs (deleted and misspelled keys, wrong types, extreme and
//! non-finite values, long and deeply nested formulas, byte flips,
//! truncations) must each give either a clean success or one clear error
//! naming the file and a line or row; never a panic, an abort or a hang,
//! and never a run folder that `causim report` cannot read afterwards.
//!
//! Every case runs the `causim` binary, so an abort (a stack overflow, a
//! failed allocation) is caught like a panic. The number of cases is set by
//! `CAUSIM_FUZZ_CASES` (default 300 spec cases; a tenth as many runs and CSV
//! fits), and `CAUSIM_FUZZ_SEED` draws another set; a failing case prints
//! its seed and input, so it can be replayed.

mod common;

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use rand::seq::IndexedRandom;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// Longest a validation may take before it counts as a hang.
const VALIDATE_LIMIT: Duration = Duration::from_secs(20);

/// Longest a tiny run or fit may take.
const RUN_LIMIT: Duration = Duration::from_secs(60);

/// Values a mutation writes in place of a spec value.
const EXTREMES: &[&str] = &[
    "0",
    "-1",
    "1",
    "2",
    "9223372036854775807",
    "-9223372036854775808",
    "18446744073709551615",
    "1000000000",
    "1e308",
    "-1e308",
    "5e-320",
    "1e-300",
    "nan",
    "inf",
    "-inf",
    "0.5",
    "1.5",
    "true",
    "\"\"",
    "\"x\"",
    "\"1/0\"",
    "\"log(-1)\"",
    "\"sqrt(x1 - 2)\"",
    "\"x1 +\"",
    "\"((((x1)\"",
    "\"exp(1000 * x1)\"",
    "\"1e308 * x1 * 10\"",
    "[]",
    "{}",
    "[1, 2]",
    "[\"a\", 1]",
    "{ a = 1 }",
    "1979-05-27",
];

/// The shipped specs the mutations start from, relative to the repository.
fn seeds() -> Vec<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut out = Vec::new();
    for dir in ["sims", "experiments", "tests/golden"] {
        let mut files: Vec<PathBuf> = std::fs::read_dir(root.join(dir))
            .expect("read a spec folder")
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "toml"))
            .map(|p| p.strip_prefix(root).expect("under the root").to_path_buf())
            .collect();
        files.sort();
        out.extend(files);
    }
    out
}

/// Copies the spec folders into `dir`, so that a mutated experiment still
/// finds its sim by the same relative path.
fn copy_specs(dir: &Path) {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    for seed in seeds() {
        let to = dir.join(&seed);
        std::fs::create_dir_all(to.parent().expect("a folder")).expect("create a folder");
        std::fs::copy(root.join(&seed), to).expect("copy a spec");
    }
}

/// A long flat sum, a deep nesting, or a long string: the shapes that
/// overflow a recursive parser or flood a message.
fn monster(rng: &mut ChaCha8Rng) -> String {
    match rng.random_range(0..4) {
        0 => format!(
            "\"{}\"",
            vec!["x1"; rng.random_range(1_000..60_000)].join(" + ")
        ),
        1 => {
            let depth = rng.random_range(100..5_000);
            format!("\"{}x1{}\"", "(".repeat(depth), ")".repeat(depth))
        }
        2 => format!("\"{}\"", "-".repeat(rng.random_range(100..20_000)) + "1"),
        _ => format!("\"{}\"", "é".repeat(rng.random_range(100..5_000))),
    }
}

/// One random damage to `text`.
fn mutate(text: &mut Vec<u8>, rng: &mut ChaCha8Rng) {
    let as_text = String::from_utf8_lossy(text).into_owned();
    let mut lines: Vec<String> = as_text.lines().map(str::to_string).collect();
    if lines.is_empty() {
        lines.push(String::new());
    }
    let at = rng.random_range(0..lines.len());
    let value_line = |lines: &[String], rng: &mut ChaCha8Rng| {
        let candidates: Vec<usize> = (0..lines.len())
            .filter(|&i| lines[i].contains(" = ") && !lines[i].trim_start().starts_with('#'))
            .collect();
        candidates.choose(rng).copied()
    };
    match rng.random_range(0..10) {
        0 => {
            lines.remove(at);
        }
        1 => {
            // Misspell a key: swap two of its characters, or drop one.
            if let Some(i) = value_line(&lines, rng) {
                let (key, rest) = lines[i].split_once(" = ").expect("a key line");
                let mut chars: Vec<char> = key.chars().collect();
                if chars.len() > 1 {
                    let j = rng.random_range(0..chars.len() - 1);
                    if rng.random_bool(0.5) {
                        chars.swap(j, j + 1);
                    } else {
                        chars.remove(j);
                    }
                }
                lines[i] = format!("{} = {rest}", chars.into_iter().collect::<String>());
            }
        }
        2..=4 => {
            if let Some(i) = value_line(&lines, rng) {
                let key = lines[i]
                    .split_once(" = ")
                    .expect("a key line")
                    .0
                    .to_string();
                let value = if rng.random_bool(0.1) {
                    monster(rng)
                } else {
                    EXTREMES.choose(rng).expect("extremes").to_string()
                };
                lines[i] = format!("{key} = {value}");
            }
        }
        5 => {
            let line = lines[at].clone();
            lines.insert(at, line);
        }
        6 => {
            let header = [
                "[x]",
                "[[nodes]]",
                "[sweep]",
                "[overrides]",
                "[[estimators]]",
            ]
            .choose(rng)
            .expect("headers");
            lines.insert(at, header.to_string());
        }
        7 => {
            *text = lines.join("\n").into_bytes();
            if !text.is_empty() {
                let i = rng.random_range(0..text.len());
                text[i] ^= 1 << rng.random_range(0..8);
            }
            return;
        }
        8 => {
            *text = lines.join("\n").into_bytes();
            let keep = rng.random_range(0..=text.len());
            text.truncate(keep);
            return;
        }
        _ => {
            // A sweep or an override of a random key to a random value.
            let key = [
                "n",
                "covariates",
                "scale",
                "tau",
                "nodes",
                "seed",
                "instrument",
            ]
            .choose(rng)
            .expect("keys");
            let value = EXTREMES.choose(rng).expect("extremes");
            let table = if rng.random_bool(0.5) {
                format!("[{value}]")
            } else {
                value.to_string()
            };
            lines.push(format!("[sweep]\n{key} = {table}"));
        }
    }
    *text = (lines.join("\n") + "\n").into_bytes();
}

/// What a finished command did.
struct Outcome {
    code: Option<i32>,
    stderr: String,
    elapsed: Duration,
}

/// Runs `command`, killing it after `limit`.
fn run(mut command: Command, limit: Duration) -> Outcome {
    let start = Instant::now();
    let mut child = command
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start causim");
    let mut stderr = child.stderr.take().expect("piped stderr");
    let reader = std::thread::spawn(move || {
        let mut text = String::new();
        let _ = stderr.read_to_string(&mut text);
        text
    });
    let code = loop {
        if let Some(status) = child.try_wait().expect("wait for causim") {
            break status.code();
        }
        if start.elapsed() > limit {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(5));
    };
    Outcome {
        code,
        stderr: reader.join().unwrap_or_default(),
        elapsed: start.elapsed(),
    }
}

/// Whether every error in `message` (a line starting `error: `; a message
/// may continue on further lines) names `file` and a place in it:
/// `file:line:col`, or a line or row number.
fn names_file_and_place(message: &str, file: &str) -> bool {
    let errors: Vec<&str> = message
        .lines()
        .filter(|l| l.starts_with("error: ") && !l.starts_with("error: 1 of 1 file has problems"))
        .collect();
    !errors.is_empty()
        && errors.iter().all(|line| {
            let Some(at) = line.find(file) else {
                return false;
            };
            let after = &line[at + file.len()..];
            let position =
                after.starts_with(':') && after[1..].starts_with(|c: char| c.is_ascii_digit());
            let row = ["line ", "lines ", "row ", "rows "].iter().any(|w| {
                line.match_indices(w)
                    .any(|(i, _)| line[i + w.len()..].starts_with(|c: char| c.is_ascii_digit()))
            });
            position || row
        })
}

/// A replayable description of a failed case.
fn report(kind: &str, seed: u64, file: &Path, outcome: &Outcome, why: &str) -> String {
    let text = std::fs::read(file).unwrap_or_default();
    let shown = String::from_utf8_lossy(&text[..text.len().min(2_000)]).into_owned();
    format!(
        "{kind} case seed {seed}: {why} (exit {:?} after {:.1} s)\n--- {} ---\n{shown}\n--- stderr ---\n{}",
        outcome.code,
        outcome.elapsed.as_secs_f64(),
        file.display(),
        &outcome.stderr[..outcome.stderr.len().min(2_000)]
    )
}

/// Judges one finished command: success, or a clean failure (exit 1) whose
/// message names the file and a place.
fn judge(kind: &str, seed: u64, file: &Path, outcome: &Outcome, failures: &mut Vec<String>) {
    let name = file.file_name().and_then(|n| n.to_str()).unwrap_or("?");
    let why = match outcome.code {
        Some(0) => return,
        None => "did not finish in time, or was killed by a signal",
        Some(1) if names_file_and_place(&outcome.stderr, name) => return,
        Some(1) => "the error does not name the file and a line or row",
        Some(101) => "panicked",
        Some(_) => "aborted",
    };
    failures.push(report(kind, seed, file, outcome, why));
}

fn cases(default: usize) -> usize {
    std::env::var("CAUSIM_FUZZ_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .map_or(default, |n: usize| n * default / 300)
}

fn base_seed() -> u64 {
    std::env::var("CAUSIM_FUZZ_SEED")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(2026)
}

/// Fails with every failing case's headline and error, and the first case whole.
fn check(failures: Vec<String>) {
    let headlines: Vec<String> = failures
        .iter()
        .map(|f| {
            let head = f.lines().next().unwrap_or_default();
            let error = f.lines().skip_while(|l| *l != "--- stderr ---").nth(1);
            format!("{head}\n    {}", error.unwrap_or_default())
        })
        .collect();
    assert!(
        failures.is_empty(),
        "{} failing cases:\n{}\n\nthe first in full:\n{}",
        failures.len(),
        headlines.join("\n"),
        failures.first().map_or("", String::as_str)
    );
}

#[test]
fn mutated_specs_validate_or_fail_cleanly() {
    let dir = common::scratch("fuzz_specs");
    copy_specs(&dir);
    let seeds = seeds();
    let mut failures = Vec::new();
    for case in 0..cases(300) {
        let seed = base_seed() * 1_000_003 + case as u64;
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let original = seeds.choose(&mut rng).expect("seed files");
        let path = dir.join(original);
        let clean = std::fs::read(Path::new(env!("CARGO_MANIFEST_DIR")).join(original))
            .expect("read a seed spec");
        let mut text = clean.clone();
        for _ in 0..rng.random_range(1..=3) {
            mutate(&mut text, &mut rng);
        }
        std::fs::write(&path, &text).expect("write a mutant");
        let mut command = common::causim();
        command.arg("validate").arg(&path);
        let outcome = run(command, VALIDATE_LIMIT);
        judge("validate", seed, &path, &outcome, &mut failures);
        std::fs::write(&path, &clean).expect("restore the spec");
    }
    check(failures);
}

/// A tiny experiment whose mutants are run, not only validated.
const TINY_SIM: &str = r#"kind = "iv"
n = 200
covariates = 3
outcome = "continuous"
tau = "1 + 0.5 * x1"
baseline = "x2"
confounding = 1.0
noise = 1.0
[instrument]
strength = 0.5
propensity = "0.5"
[compliance]
defiers = 0.0
always_takers = 0.5
"#;

const TINY_EXPERIMENT: &str = r#"name = "tiny"
sim = "sim.toml"
replications = 2
seed = 7
[sweep]
"instrument.strength" = [0.3, 0.6]
[[estimators]]
kind = "two_stage_least_squares"
[[estimators]]
kind = "ols"
se = "hc1"
[[estimators]]
kind = "psm"
neighbors = 1
"#;

#[test]
fn mutated_runs_leave_a_readable_folder() {
    let dir = common::scratch("fuzz_runs");
    let mut failures = Vec::new();
    for case in 0..cases(30) {
        let seed = base_seed() * 7_000_003 + case as u64;
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let mut sim = TINY_SIM.as_bytes().to_vec();
        let mut experiment = TINY_EXPERIMENT.as_bytes().to_vec();
        for _ in 0..rng.random_range(1..=2) {
            if rng.random_bool(0.6) {
                mutate(&mut sim, &mut rng);
            } else {
                mutate(&mut experiment, &mut rng);
            }
        }
        let case_dir = dir.join(format!("case{case}"));
        std::fs::create_dir_all(&case_dir).expect("a case folder");
        common::write(&case_dir, "sim.toml", &String::from_utf8_lossy(&sim));
        let path = common::write(
            &case_dir,
            "experiment.toml",
            &String::from_utf8_lossy(&experiment),
        );
        let out = case_dir.join("out");
        let mut command = common::causim();
        command
            .args(["run", "--quiet", "--jobs", "1", "--max-tasks", "4", "--out"])
            .arg(&out)
            .arg(&path);
        let outcome = run(command, RUN_LIMIT);
        let file = if outcome.stderr.contains("sim.toml") {
            case_dir.join("sim.toml")
        } else {
            path.clone()
        };
        judge("run", seed, &file, &outcome, &mut failures);
        if out.join("results.jsonl").exists() {
            let mut command = common::causim();
            command.arg("report").arg(&out);
            let reread = run(command, RUN_LIMIT);
            if reread.code != Some(0) {
                failures.push(report(
                    "report",
                    seed,
                    &path,
                    &reread,
                    "the run folder cannot be read back",
                ));
            }
        }
    }
    check(failures);
}

#[test]
fn mutated_csvs_fit_or_fail_cleanly() {
    let dir = common::scratch("fuzz_csv");
    let sim = common::write(&dir, "sim.toml", TINY_SIM);
    let clean = dir.join("clean.csv");
    let made = common::causim()
        .args(["simulate", "--out"])
        .arg(&clean)
        .arg(&sim)
        .output()
        .expect("simulate a sample");
    assert!(
        made.status.success(),
        "{}",
        String::from_utf8_lossy(&made.stderr)
    );
    let clean = std::fs::read_to_string(&clean).expect("read the sample");
    let mut failures = Vec::new();
    for case in 0..cases(30) {
        let seed = base_seed() * 9_000_011 + case as u64;
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let mut rows: Vec<Vec<String>> = clean
            .lines()
            .map(|l| l.split(',').map(str::to_string).collect())
            .collect();
        for _ in 0..rng.random_range(1..=4) {
            let r = rng.random_range(0..rows.len());
            let c = rng.random_range(0..rows[r].len());
            match rng.random_range(0..6) {
                0 => rows[r][c] = EXTREMES.choose(&mut rng).expect("extremes").to_string(),
                1 => {
                    rows[r].remove(c);
                }
                2 => {
                    let name = rows[0][c].clone();
                    let d = rng.random_range(0..rows[0].len());
                    rows[0][d] = name;
                }
                3 => {
                    for row in rows.iter_mut().skip(1) {
                        if let Ok(x) = row[c].parse::<f64>() {
                            row[c] = format!("{:e}", x * 1e300);
                        }
                    }
                }
                4 => {
                    rows.truncate(rng.random_range(1..rows.len().max(2)));
                }
                _ => rows[r][c] = String::new(),
            }
        }
        let text: Vec<String> = rows.iter().map(|r| r.join(",")).collect();
        let csv = common::write(&dir, &format!("case{case}.csv"), &(text.join("\n") + "\n"));
        let estimator = [
            "ols",
            "two_stage_least_squares",
            "psm",
            "dml",
            "difference_in_means",
        ]
        .choose(&mut rng)
        .expect("estimators");
        let mut command = common::causim();
        command
            .args([
                "fit", "--y", "y", "--w", "w", "--z", "z", "--x", "x1,x2,x3", "--data",
            ])
            .arg(&csv)
            .args(["--estimator", estimator]);
        let outcome = run(command, RUN_LIMIT);
        judge("fit", seed, &csv, &outcome, &mut failures);
    }
    check(failures);
}
