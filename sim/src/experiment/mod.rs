//! Experiments: what retries, jitter and a budget do to a shared resource under contention.
//!
//! Unlike scenarios, which judge one wrapper against oracles, an experiment
//! runs several policies over the same seeded worlds and reports numbers
//! side by side. Both are deterministic per seed.
//!
//! | experiment | question |
//! |---|---|
//! | [`jitter`] | how much work and time each jitter kind costs N clients racing for one write |
//! | [`limit`] | what retries, a budget and a shared throttle do to N callers sharing one provider's rate limit |
//! | [`storm`] | whether a provider near capacity recovers from a short overload, with and without retries and a budget |

pub mod jitter;
pub mod limit;
pub mod storm;

use crabllm_core::{BoxStream, ChatCompletionRequest, ChatCompletionResponse, Error, Provider};
use std::future::Future;

/// A provider whose only real method is `chat_completion`, given as a closure.
#[derive(Clone)]
pub(crate) struct ChatOnly<F>(pub(crate) F);

impl<F, Fut> Provider for ChatOnly<F>
where
    F: Fn() -> Fut + Send + Sync,
    Fut: Future<Output = Result<(), Error>> + Send,
{
    async fn chat_completion(
        &self,
        _: &ChatCompletionRequest,
    ) -> Result<ChatCompletionResponse, Error> {
        (self.0)().await.map(|()| ChatCompletionResponse::default())
    }

    async fn chat_completion_stream(
        &self,
        _: &ChatCompletionRequest,
    ) -> Result<BoxStream<'static, Result<crabllm_core::ChatCompletionChunk, Error>>, Error> {
        Err(Error::not_implemented("chat_completion_stream"))
    }

    crate::chat_only_provider_rest!();
}

/// A paused current-thread runtime: experiments run on virtual time.
pub(crate) fn paused() -> std::io::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .start_paused(true)
        .build()
}

/// The answer a contended or overloaded resource gives: transient, so it is retried.
pub(crate) fn busy(body: &str) -> Error {
    Error::Provider {
        status: 503,
        body: body.to_string(),
        retry_after: None,
    }
}

/// The `retry-sim experiment` subcommands.
#[derive(Debug, clap::Subcommand)]
pub enum Which {
    /// N clients racing to write one resource, for each backoff kind.
    Jitter {
        /// The root seed every run derives its seed from.
        #[arg(long, default_value_t = crate::DEFAULT_SEED)]
        seed: u64,
        /// Seeded runs averaged per point.
        #[arg(long, default_value_t = 20, value_parser = clap::value_parser!(u64).range(1..))]
        runs: u64,
        /// Client counts, comma-separated (1 to 1000 each).
        #[arg(long, value_delimiter = ',', default_values_t = [10u32, 25, 50, 75, 100, 150, 200],
              value_parser = clap::value_parser!(u32).range(1..=1000))]
        clients: Vec<u32>,
        /// Write jitter-calls.svg and jitter-time.svg into this directory.
        #[arg(long)]
        svg_dir: Option<std::path::PathBuf>,
    },
    /// N callers sharing one provider's rate limit, for each retry configuration.
    Limit {
        /// The root seed every world derives its seed from.
        #[arg(long, default_value_t = crate::DEFAULT_SEED)]
        seed: u64,
        /// Seeded worlds per point.
        #[arg(long, default_value_t = 20, value_parser = clap::value_parser!(u64).range(1..))]
        seeds: u64,
        /// Caller counts, comma-separated (1 to 10000 each).
        #[arg(long, value_delimiter = ',', default_values_t = [10u32, 100, 1000],
              value_parser = clap::value_parser!(u32).range(1..=10_000))]
        callers: Vec<u32>,
        /// The arms to run, comma-separated (all by default).
        #[arg(long, value_delimiter = ',', value_enum, default_values_t = limit::Arm::ALL)]
        arms: Vec<limit::Arm>,
        /// Write limit.md, the limit-*.svg charts and index.html (the table
        /// and the charts, one page) into this directory, made if missing.
        #[arg(long)]
        out: Option<std::path::PathBuf>,
    },
    /// Load near capacity, a slowdown, and whether the provider recovers.
    Storm {
        /// The root seed every run derives its seed from.
        #[arg(long, default_value_t = crate::DEFAULT_SEED)]
        seed: u64,
        /// Trigger lengths in ms, comma-separated (at most 10 minutes each).
        #[arg(long, value_delimiter = ',', default_values_t = [500u64, 1000, 2000, 5000, 10000],
              value_parser = clap::value_parser!(u64).range(0..=600_000))]
        triggers: Vec<u64>,
        /// Write storm-goodput.svg into this directory.
        #[arg(long)]
        svg_dir: Option<std::path::PathBuf>,
    },
}

/// Write `contents` as `name` into `dir`, made if missing, when one is given.
fn write_out(dir: &Option<std::path::PathBuf>, name: &str, contents: String) -> Result<(), String> {
    if let Some(dir) = dir {
        std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        let path = dir.join(name);
        std::fs::write(&path, contents).map_err(|e| format!("{}: {e}", path.display()))?;
    }
    Ok(())
}

fn bar(len: u64) -> Result<indicatif::ProgressBar, String> {
    let bar = indicatif::ProgressBar::new(len);
    bar.set_style(
        indicatif::ProgressStyle::with_template(
            "{bar:40} {pos}/{len} runs, {elapsed} ({eta} left)",
        )
        .map_err(|e| e.to_string())?,
    );
    Ok(bar)
}

/// Run an experiment and print its table (and write its charts).
///
/// # Errors
///
/// A runtime that cannot start, or an unwritable chart.
pub fn execute(which: Which) -> Result<bool, String> {
    let runtime = |e: std::io::Error| format!("cannot start the runtime: {e}");
    match which {
        Which::Jitter {
            seed,
            runs,
            clients,
            svg_dir,
        } => {
            let config = jitter::Config {
                clients,
                runs,
                seed,
            };
            let progress = bar(config.clients.len() as u64 * 5 * runs)?;
            let points = jitter::run(&config, || progress.inc(1)).map_err(runtime)?;
            progress.finish_and_clear();
            println!("jitter under contention, seed {seed}, {runs} runs per point (means)");
            print!("{}", jitter::table(&points));
            let (calls, time) = jitter::svg(&points);
            write_out(&svg_dir, "jitter-calls.svg", calls)?;
            write_out(&svg_dir, "jitter-time.svg", time)?;
        }
        Which::Limit {
            seed,
            seeds,
            callers,
            arms,
            out,
        } => {
            let config = limit::Config {
                callers,
                arms,
                seeds,
                seed,
                ..limit::Config::default()
            };
            let len = config.callers.len() * config.arms.len();
            let progress = bar(len as u64 * seeds)?;
            let points = limit::run(&config, || progress.inc(1)).map_err(runtime)?;
            progress.finish_and_clear();
            let table = limit::table(&config, &points);
            println!("a shared rate limit, seed {seed}");
            print!("{table}");
            write_out(&out, "limit.md", table)?;
            for (name, svg) in limit::svgs(&config, &points) {
                write_out(&out, name, svg)?;
            }
            write_out(&out, "index.html", limit::html(&config, &points))?;
        }
        Which::Storm {
            seed,
            triggers,
            svg_dir,
        } => {
            let config = storm::Config {
                triggers_ms: triggers,
                seed,
                ..storm::Config::default()
            };
            let progress = bar(config.triggers_ms.len() as u64 * 3)?;
            let outcomes = storm::run(&config, || progress.inc(1)).map_err(runtime)?;
            progress.finish_and_clear();
            println!("retry storm, seed {seed}");
            print!("{}", storm::table(&config, &outcomes));
            write_out(
                &svg_dir,
                "storm-goodput.svg",
                storm::svg(&config, &outcomes),
            )?;
        }
    }
    Ok(true)
}
