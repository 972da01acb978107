//! The `causim` command line: a thin layer over the library's commands.

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let cli = causim::cli::Cli::parse();
    match causim::cli::execute(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
