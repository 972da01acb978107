//! Command-line interface: argument types (clap derive) and one function per
//! command. `main.rs` only parses and calls [`execute`].

mod fit;
mod list;
mod simulate;

use std::path::{Path, PathBuf};

use anyhow::{bail, Context};
use clap::{Parser, Subcommand};

use crate::core::text::plural;
use crate::record::{Access, FolderLock, Shard};
use crate::run::RunOptions;
use crate::spec::Experiment;

/// Declare simulation experiments in TOML and find out, against known truth,
/// which causal estimators work.
#[derive(Debug, Parser)]
#[command(name = "causim", version, about, long_about = None)]
pub struct Cli {
    /// The command to run.
    #[command(subcommand)]
    pub command: Command,
}

/// The commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run an experiment's sweep in parallel, resuming any earlier run, and render its report.
    ///
    /// Example: causim run experiments/quickstart.toml
    ///
    /// Results go to reports/<name>/results.jsonl, one line per finished task;
    /// rerunning skips recorded tasks, so an interrupted run resumes.
    Run(RunArgs),
    /// Parse and expand experiments or sims; print the cells and task count.
    ///
    /// Example: causim validate experiments/quickstart.toml sims/iv.toml
    ///
    /// Exits non-zero, naming file and line:column, on any problem.
    Validate {
        /// Experiment or sim files.
        #[arg(required = true)]
        files: Vec<PathBuf>,
    },
    /// Write one sample of a sim as CSV, with its truth columns.
    ///
    /// Example: causim simulate sims/iv.toml --seed 7 --set n=500 --out iv.csv
    ///
    /// Columns: the covariates, w, z, y, then the truth: tau (each unit's
    /// effect), cate and clate (its effect given the covariates alone, over
    /// everyone and over compliers) and complier_type.
    Simulate(simulate::SimulateArgs),
    /// Fit an estimator on your own CSV data.
    ///
    /// Example: causim fit --data mydata.csv --y died --w icu --z busy --estimator 2sls
    ///
    /// Covariates default to every column other than y, w, z and the
    /// clusters, leaving out the truth columns `causim simulate` writes.
    Fit(fit::FitArgs),
    /// Re-render the report of a run folder from its results alone (merges shards).
    ///
    /// Example: causim report reports/quickstart
    Report {
        /// A folder written by `causim run`.
        dir: PathBuf,
    },
    /// List every sim, estimator and diagnosand, with parameters and defaults.
    List,
    /// Print a Slurm job-array script that runs an experiment in N shards.
    ///
    /// Example: causim slurm experiments/quickstart.toml --shards 20 > sweep.sh && sbatch sweep.sh
    ///
    /// Each array task runs `causim run --shard $SLURM_ARRAY_TASK_ID/N`;
    /// afterwards `causim report DIR` merges the shards.
    Slurm(SlurmArgs),
}

/// Arguments of `causim run`.
#[derive(Debug, clap::Args)]
pub struct RunArgs {
    /// The experiment file.
    pub experiment: PathBuf,
    /// Output folder [default: reports/<experiment name>].
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Worker threads [default: all cores]. Results do not depend on it.
    #[arg(long, short)]
    pub jobs: Option<usize>,
    /// Run only shard K of N (tasks with index % N == K), for clusters.
    #[arg(long, value_name = "K/N")]
    pub shard: Option<Shard>,
    /// Discard earlier results in the output folder instead of resuming.
    #[arg(long)]
    pub fresh: bool,
    /// Stop after this many new tasks (a rerun resumes from there).
    #[arg(long, value_name = "N")]
    pub max_tasks: Option<usize>,
    /// Do not render the report after running.
    #[arg(long)]
    pub no_report: bool,
    /// No progress bar.
    #[arg(long, short)]
    pub quiet: bool,
}

/// Arguments of `causim slurm`.
#[derive(Debug, clap::Args)]
pub struct SlurmArgs {
    /// The experiment file.
    pub experiment: PathBuf,
    /// Number of array tasks (shards).
    #[arg(long)]
    pub shards: usize,
    /// CPUs per array task.
    #[arg(long, default_value_t = 4)]
    pub cpus: usize,
    /// Wall-time limit per array task.
    #[arg(long, default_value = "02:00:00")]
    pub time: String,
    /// Output folder [default: reports/<experiment name>].
    #[arg(long)]
    pub out: Option<PathBuf>,
}

/// Runs a parsed command line.
pub fn execute(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Run(args) => run(args),
        Command::Validate { files } => validate(&files),
        Command::Simulate(args) => simulate::simulate(args),
        Command::Fit(args) => fit::fit(args),
        Command::Report { dir } => {
            let _lock = FolderLock::acquire(&dir, Access::Report)?;
            let index = crate::report::render(&dir)?;
            println!("report: {}", index.display());
            Ok(())
        }
        Command::List => {
            print!("{}", list::catalogue()?);
            Ok(())
        }
        Command::Slurm(args) => slurm(args),
    }
}

fn default_out(experiment: &Experiment) -> PathBuf {
    Path::new("reports").join(&experiment.name)
}

fn run(args: RunArgs) -> anyhow::Result<()> {
    let experiment = Experiment::load(&args.experiment)?;
    let threads = args.jobs.unwrap_or_else(rayon::current_num_threads);
    // Tasks that could run at once: no more than there are. Memory lowers
    // the threads only below that, so an experiment of one large task (the
    // paper at its width) keeps every thread for its forests.
    let at_once = threads.min(experiment.task_count().max(1));
    let fit = experiment.tasks_in_memory(&args.experiment, threads, None)?;
    let lowered = fit < at_once;
    if lowered {
        eprintln!(
            "note: {fit} of {} at once fit in this machine's memory; running {fit} at a time",
            plural(at_once, "task")
        );
    }
    let out = args.out.unwrap_or_else(|| default_out(&experiment));
    let options = RunOptions {
        out: out.clone(),
        jobs: if lowered { Some(fit) } else { args.jobs },
        shard: args.shard,
        fresh: args.fresh,
        max_tasks: args.max_tasks,
        progress: !args.quiet,
    };
    let summary = crate::run::run(&experiment, &options)?;
    let in_part = match summary.partial {
        0 => String::new(),
        n => format!(" ({n} only for their new or changed parts)"),
    };
    eprintln!(
        "{}: {}, {} already recorded, {} run now{in_part} -> {}",
        experiment.name,
        plural(summary.total, "task"),
        summary.skipped,
        summary.ran,
        out.display()
    );
    if args.shard.is_none() && !args.no_report {
        let _lock = FolderLock::acquire(&out, Access::Report)?;
        let index = crate::report::render(&out)
            .with_context(|| format!("rendering the report in {}", out.display()))?;
        println!("report: {}", index.display());
    }
    Ok(())
}

fn validate(files: &[PathBuf]) -> anyhow::Result<()> {
    let mut failed = 0;
    for path in files {
        match validate_one(path) {
            Ok(text) => print!("{text}"),
            Err(e) => {
                eprintln!("error: {e:#}");
                failed += 1;
            }
        }
    }
    if failed > 0 {
        bail!(
            "{failed} of {} {} problems",
            plural(files.len(), "file"),
            if failed == 1 { "has" } else { "have" }
        );
    }
    Ok(())
}

/// Cells `validate` lists one by one; a larger sweep ends with a count.
const LISTED_CELLS: usize = 50;

/// An experiment file has a top-level `sim` key; a sim file has `kind`.
fn validate_one(path: &Path) -> anyhow::Result<String> {
    use std::fmt::Write;
    let text = crate::spec::SourceFile::read(path)?.text;
    let is_experiment = text
        .parse::<toml::Table>()
        .map(|t| t.contains_key("sim"))
        .unwrap_or(false);
    let mut out = String::new();
    if is_experiment {
        let e = Experiment::load(path)?;
        // The same build `run` does: whatever validates can run.
        crate::stage::build(&e)?;
        writeln!(
            out,
            "{}: experiment `{}`, sim kind `{}`",
            path.display(),
            e.name,
            e.cells[0].sim.kind()
        )?;
        let names: Vec<&str> = e.estimators.iter().map(|n| n.name.as_str()).collect();
        if !names.is_empty() {
            writeln!(out, "  estimators: {}", names.join(", "))?;
        }
        if let Some(paper) = &e.paper {
            writeln!(
                out,
                "  paper pipeline: test share {} of the hospital-days, instrumental forest of {}",
                paper.test_share,
                plural(paper.forest.num_trees, "tree")
            )?;
        }
        for cell in e.cells.iter().take(LISTED_CELLS) {
            writeln!(out, "  cell {:>3}: {}", cell.index, e.cell_label(cell))?;
        }
        if e.cells.len() > LISTED_CELLS {
            writeln!(
                out,
                "  ... and {}",
                plural(e.cells.len() - LISTED_CELLS, "more cell")
            )?;
        }
        writeln!(
            out,
            "  {} x {} = {}",
            plural(e.cells.len(), "cell"),
            plural(e.replications, "replication"),
            plural(e.task_count(), "task")
        )?;
    } else {
        let (_, sim) = crate::spec::load_sim(path)?;
        writeln!(out, "{}: sim kind `{}`", path.display(), sim.kind())?;
        for (key, value) in sim.parameters()? {
            writeln!(out, "  {key} = {value}")?;
        }
    }
    Ok(out)
}

fn slurm(args: SlurmArgs) -> anyhow::Result<()> {
    if args.shards == 0 {
        bail!("--shards must be at least 1");
    }
    let experiment = Experiment::load(&args.experiment)?;
    let out = args.out.unwrap_or_else(|| default_out(&experiment));
    let exp = args.experiment.display();
    let out = out.display();
    let last = args.shards - 1;
    print!(
        "#!/bin/bash\n\
         #SBATCH --job-name=causim-{name}\n\
         #SBATCH --array=0-{last}\n\
         #SBATCH --cpus-per-task={cpus}\n\
         #SBATCH --time={time}\n\
         #SBATCH --output=slurm-%A_%a.out\n\
         # {tasks} tasks in {shards} shards. Each shard appends to its own\n\
         # {out}/results.K-of-{shards}.jsonl and resumes if resubmitted.\n\
         # When all are done:  causim report {out}\n\
         set -euo pipefail\n\
         causim run {exp} --out {out} --jobs {cpus} --quiet --shard \"$SLURM_ARRAY_TASK_ID/{shards}\"\n",
        name = experiment.name,
        cpus = args.cpus,
        time = args.time,
        tasks = experiment.task_count(),
        shards = args.shards,
    );
    Ok(())
}
