//! `retry-sim`: run, sweep, replay and judge retry wrappers in simulated fault scenarios.
//!
//! Exit codes: 0 every oracle and expectation held, 1 one failed, 2 bad input.
//! All logic lives in the library (`provider_retry_sim::cli`); this file
//! only parses arguments.

use clap::Parser;
use provider_retry_sim::cli::{Cli, execute};
use std::process::ExitCode;

fn main() -> ExitCode {
    match execute(Cli::parse()) {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::from(1),
        Err(message) => {
            eprintln!("retry-sim: {message}");
            ExitCode::from(2)
        }
    }
}
