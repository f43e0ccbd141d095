//! Deterministic simulator for `provider-retry`.
//!
//! Data flows one way: a [`scenario`] (policy, fault plan, workload,
//! expectations) builds a [`world`] of clients and one scripted
//! [`provider`] on tokio's paused clock; the run yields a [`trace`]; the
//! [`oracles`] judge it; the [`report`] summarises it.
//!
//! | module | role |
//! |---|---|
//! | [`scenario`] | scenario files: parse, validate, locate errors |
//! | [`faults`] | fault plans and their per-concern seeded state |
//! | [`seeds`] | sub-seeds per concern from one root seed |
//! | [`provider`] | the scripted provider |
//! | [`world`] | clients and workloads on the paused clock |
//! | [`net`] | the network world: HTTP over turmoil's simulated network |
//! | [`trace`] | canonical trace, text and JSON lines, first divergence |
//! | [`oracles`] | named properties checked on a trace |
//! | [`probe`] | black-box traces of any wrapper, seen from the provider |
//! | [`conform`] | the oracles against any wrapper: subjects, suite, verdicts |
//! | [`report`] | summaries, tables, SVG timelines |
//! | [`builtin`] | the scenarios shipped in `sim/scenarios/` |
//! | [`generate`] | random scenarios (proptest strategies) |
//! | [`experiment`] | jitter under contention, retry storms and budgets |

/// The three `Provider` methods every chat-only provider here must still
/// define (Anthropic messages and their stream, the Gemini stream): each
/// answers `Error::Unsupported`. Expand it inside an `impl Provider`.
#[macro_export]
macro_rules! chat_only_provider_rest {
    () => {
        async fn anthropic_messages(
            &self,
            _: &::crabllm_core::anthropic::Request,
        ) -> ::std::result::Result<::crabllm_core::anthropic::Response, ::crabllm_core::Error> {
            Err(::crabllm_core::Error::not_implemented("anthropic_messages"))
        }

        async fn anthropic_messages_stream(
            &self,
            _: &::crabllm_core::anthropic::Request,
        ) -> ::std::result::Result<
            ::crabllm_core::BoxStream<
                'static,
                ::std::result::Result<
                    ::crabllm_core::anthropic::StreamEvent,
                    ::crabllm_core::Error,
                >,
            >,
            ::crabllm_core::Error,
        > {
            Err(::crabllm_core::Error::not_implemented(
                "anthropic_messages_stream",
            ))
        }

        async fn gemini_generate_content_stream(
            &self,
            _: &str,
            _: &::crabllm_core::gemini::Request,
        ) -> ::std::result::Result<
            ::crabllm_core::BoxStream<
                'static,
                ::std::result::Result<::crabllm_core::gemini::Response, ::crabllm_core::Error>,
            >,
            ::crabllm_core::Error,
        > {
            Err(::crabllm_core::Error::not_implemented(
                "gemini_generate_content_stream",
            ))
        }
    };
}

pub mod builtin;
pub mod conform;
pub mod experiment;
pub mod faults;
pub mod generate;
pub mod net;
pub mod oracles;
pub mod probe;
pub mod provider;
pub mod report;
pub mod scenario;
pub mod seeds;
pub mod trace;
pub mod world;

use oracles::{Claims, Violation};
use report::Summary;
use scenario::Scenario;
use trace::{Divergence, Trace};

/// The seed `retry-sim run` uses when none is given.
pub const DEFAULT_SEED: u64 = 1;

/// Everything one seeded run of one scenario produced and was judged to be.
#[derive(Debug, Clone)]
pub struct Evaluation {
    pub seed: u64,
    pub trace: Trace,
    pub summary: Summary,
    pub violations: Vec<Violation>,
    pub unmet: Vec<String>,
    /// Set when a second run of the same seed produced another trace.
    pub divergence: Option<Divergence>,
}

impl Evaluation {
    /// Every oracle held, every expectation was met, and the run repeated exactly.
    pub fn passed(&self) -> bool {
        self.violations.is_empty() && self.unmet.is_empty() && self.divergence.is_none()
    }
}

/// What the oracles judge `scenario` against: its policy, and its heal time plus grace.
pub fn claims(scenario: &Scenario) -> Claims {
    let live_from = match (
        scenario.faults.heal(),
        scenario.expect.liveness_after_heal_ms,
    ) {
        (Some(heal), Some(grace)) => Some(heal + std::time::Duration::from_millis(grace)),
        _ => None,
    };
    Claims {
        policy: scenario.policy.policy(),
        live_from,
        wait_slack_ns: 0,
    }
}

/// Run `scenario` under `seed`, judge it, and (if asked) run it again to check determinism.
///
/// # Errors
///
/// Only if tokio cannot build a runtime.
pub fn evaluate(scenario: &Scenario, seed: u64, twice: bool) -> std::io::Result<Evaluation> {
    let trace = world::run(scenario, seed)?;
    let divergence = match twice {
        true => trace::first_divergence(&trace, &world::run(scenario, seed)?),
        false => None,
    };
    let summary = Summary::of(&trace);
    Ok(Evaluation {
        seed,
        violations: oracles::check(&trace, &claims(scenario)),
        unmet: summary.unmet(&scenario.expect),
        summary,
        trace,
        divergence,
    })
}

/// The one command that replays `scenario` (a built-in name or a file) under `seed`.
pub fn replay_command(scenario: &str, seed: u64) -> String {
    format!("cargo run --release -p provider-retry-sim -- replay {scenario} --seed {seed}")
}
