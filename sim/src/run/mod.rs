//! Runs and their verdicts: one evaluation and its summary, sweeps over seeds (sharded,
//! with a merge), and conformance of any subject over both worlds.

pub mod conform;
pub mod fired;
pub mod shard;
pub mod summary;
pub mod sweep;

use crate::check::{self, Context, Pools, Tally, Violation};
use crate::fired::Fired;
use crate::scenario::Scenario;
use crate::subject::Subject;
use crate::trace::{Divergence, Trace, first_divergence};
use crate::world;
use std::collections::BTreeMap;
use std::time::Duration;
use summary::Summary;

/// Everything one seeded run of one scenario produced and was judged to be.
#[derive(Debug, Clone)]
pub struct Evaluation {
    /// The seed it ran under.
    pub seed: u64,
    /// Everything that happened, as recorded.
    pub trace: Trace,
    /// Counts and latencies.
    pub summary: Summary,
    /// Every broken property the judge found.
    pub violations: Vec<Violation>,
    /// How much each oracle judged (an oracle absent judged nothing).
    pub tallies: BTreeMap<&'static str, Tally>,
    /// Expectations that hold on every seed by construction and did not.
    pub unmet: Vec<String>,
    /// Set when a second run of the same seed produced another trace.
    pub divergence: Option<Divergence>,
    /// Which fault kinds fired, and how often.
    pub fired: Fired,
    /// What the run adds to the oracles judged across runs.
    pub pools: Pools,
}

impl Evaluation {
    /// Every oracle held, every per-run expectation was met, and the run repeated exactly.
    pub fn passed(&self) -> bool {
        self.violations.is_empty() && self.unmet.is_empty() && self.divergence.is_none()
    }

    /// One line per failure, each naming the scenario and seed.
    pub fn failures(&self, name: &str) -> Vec<String> {
        let seed = self.seed;
        let mut out: Vec<String> = self
            .violations
            .iter()
            .map(|v| format!("{name} seed {seed}: {v}"))
            .collect();
        out.extend(
            self.unmet
                .iter()
                .map(|u| format!("{name} seed {seed}: expectation {u}")),
        );
        if let Some(d) = &self.divergence {
            out.push(format!("{name} seed {seed}: not deterministic: {d}"));
        }
        out
    }
}

/// How the oracles fared in one run: held (judged, not violated),
/// violated, and not exercised (nothing in the run for them to judge).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct OracleCounts {
    /// Oracles that judged something and found nothing wrong.
    pub held: usize,
    /// Oracles that found a violation.
    pub violated: usize,
    /// Oracles with nothing in the run to judge.
    pub not_judged: usize,
}

impl OracleCounts {
    /// The oracles that judged anything: held or violated.
    pub fn judged(&self) -> usize {
        self.held + self.violated
    }
}

impl Evaluation {
    /// How every oracle of [`check::ORACLES`] fared in this run.
    pub fn oracle_counts(&self) -> OracleCounts {
        let mut counts = OracleCounts::default();
        for oracle in check::ORACLES {
            let violated = self.violations.iter().any(|v| v.oracle == *oracle);
            let judged = self.tallies.get(oracle).is_some_and(Tally::judged);
            match (violated, judged) {
                (true, _) => counts.violated += 1,
                (false, true) => counts.held += 1,
                (false, false) => counts.not_judged += 1,
            }
        }
        counts
    }
}

/// What the judge needs besides the claim: the heal time plus grace.
pub fn context(scenario: &Scenario) -> Context {
    let live_from = match (
        scenario.faults.heal(),
        scenario.expect.liveness_after_heal_ms,
    ) {
        (Some(heal), Some(grace)) => Some(heal + Duration::from_millis(grace)),
        _ => None,
    };
    Context {
        live_from,
        ..Context::default()
    }
}

/// Run `scenario` under `seed` against `subject`, judge it, and (if asked,
/// and the subject is seedable) run it again to check determinism.
///
/// # Errors
///
/// Only if a world cannot start (a runtime cannot be built).
pub fn evaluate<S: Subject>(
    subject: &S,
    scenario: &Scenario,
    seed: u64,
    twice: bool,
) -> std::io::Result<Evaluation> {
    let trace = world::run(subject, scenario, seed)?;
    let divergence = match twice && subject.seedable() {
        true => first_divergence(&trace, &world::run(subject, scenario, seed)?),
        false => None,
    };
    let summary = Summary::of(&trace);
    let claim = subject.claim(&scenario.policy);
    let (judgement, pools) = check::judgement_and_pools(&trace, &claim, &context(scenario));
    Ok(Evaluation {
        seed,
        fired: fired::fired(&trace, &scenario.network),
        pools,
        violations: judgement.violations,
        tallies: judgement.tallies,
        unmet: summary.unmet(&scenario.expect),
        summary,
        trace,
        divergence,
    })
}

/// The one command that replays `scenario` (a built-in name or a file)
/// under `seed` against the subject named `subject`.
pub fn replay_command(scenario: &str, seed: u64, subject: &str) -> String {
    let mut command =
        format!("cargo run --release -p provider-retry-sim -- replay {scenario} --seed {seed}");
    if subject != "ours" {
        command.push_str(&format!(" --subject {subject}"));
    }
    command
}
