//! Deterministic simulator for retry wrappers around `crabllm_core::Provider`.
//!
//! Data flows one way: a [`scenario`] (policy, fault plan, workload,
//! expectations) and a [`subject`] (the wrapper under test) meet in a
//! [`world`], in process or over a simulated network, where a [`backend`]
//! answers every attempt from the fault plan; the run yields a [`trace`];
//! the judge ([`check`]) reads it against what the subject claims; [`run`]
//! and [`report`] turn verdicts into tables, sweeps and conformance suites.
//!
//! | module | role |
//! |---|---|
//! | [`scenario`] | scenario files: parse once, validate, locate errors |
//! | [`duration`] | durations in scenario files, and in words for people |
//! | [`readable`] | the check that text for people holds no raw nanoseconds or Debug output |
//! | [`invalid`] | values no world can run, and where they stand |
//! | [`faults`] | fault plans and their per-concern seeded state |
//! | [`fired`] | which fault kinds a run actually injected, by name |
//! | [`seeds`] | sub-seeds per concern from one root seed |
//! | [`method`] | every `Provider` method family |
//! | [`backend`] | answers every attempt from the plan: the one home of fault behaviour |
//! | [`wire`] | typed values carrying payloads; the caller's side of each method |
//! | [`link`] | the providers below the probe: the backend directly, or HTTP |
//! | [`world`] | the client driver and callers that drop calls, the in-process world, the network world |
//! | [`subject`] | the one interface for what is under test; the probe; built-ins; the peers (backon, tokio-retry2, tower) |
//! | [`trace`] | canonical trace, text and JSON lines, first divergence |
//! | [`check`] | the judge: claims, reference model, oracles |
//! | [`run`] | evaluate and summarise, sweep (sharded), conform |
//! | [`report`] | text tables, charts, timelines, the HTML report |
//! | [`builtin`] | the scenarios shipped in `sim/scenarios/` |
//! | [`generate`] | random scenarios (proptest strategies) |
//! | [`experiment`] | jitter under contention, retry storms and budgets |
//! | [`serve`] | the fault backend as a real HTTP server for any client, recording from the wire |
//! | [`judge`] | a record from the wire judged against a claim |
//! | [`flags`] | command-line values as a person types them: durations with units, `localhost` |
//! | [`guide`] | the guide's chapters (`docs/`) and the README, their examples run as doctests |
#![warn(missing_docs)]

#[macro_use]
mod macros;

pub mod backend;
pub mod builtin;
pub mod check;
pub mod cli;
pub mod duration;
pub mod experiment;
pub mod faults;
pub mod fired;
pub mod flags;
pub mod generate;
pub mod guide;
pub mod invalid;
pub mod judge;
pub mod link;
pub mod method;
pub mod readable;
pub mod report;
pub mod run;
pub mod scenario;
pub mod seeds;
pub mod serve;
pub mod subject;
pub mod trace;
pub mod wire;
pub mod world;

/// The seed `retry-sim run` uses when none is given.
pub const DEFAULT_SEED: u64 = 1;
