//! Conformance: every scenario and oracle against any retry wrapper.
//!
//! A wrapper is given as a [`Wrapper`]: a factory from the probed scripted
//! provider to a wrapped `crabllm_core::Provider`, plus the policy it claims
//! to follow. [`suite`] runs it through every built-in scenario over a range
//! of seeds and through generated scenarios (proptest, shrunk to the
//! smallest failing one), traces it from the provider's side ([`probe`]),
//! and reports, per oracle and scenario family, whether it held.
//!
//! A wrapper whose randomness cannot be seeded is judged by bounds only:
//! the oracles never need exact delays, and its runs are not checked for
//! determinism.
//!
//! [`probe`]: crate::probe

use crate::oracles::{Claims, ORACLES, TICK_NS, Violation, check};
use crate::probe::{Probed, infer};
use crate::provider::{Shared, SimProvider};
use crate::scenario::Scenario;
use crate::trace::{Trace, first_divergence};
use crate::{builtin, generate, world};
use crabllm_core::Provider;
use proptest::test_runner::{
    Config as ProptestConfig, RngAlgorithm, TestCaseError, TestError, TestRng, TestRunner,
};
use provider_retry::{Jitter, RetryPolicy, Retrying};
use std::collections::BTreeMap;
use std::fmt::{self, Write as _};
use std::sync::Arc;
use std::time::Duration;

/// A retry wrapper under test.
pub trait Wrapper: Sync {
    /// The wrapped provider.
    type Wrapped: Provider;
    /// A short name for tables.
    fn name(&self) -> String;
    /// The policy this wrapper claims to follow when a scenario asks for `asked`.
    fn claims(&self, asked: RetryPolicy) -> RetryPolicy;
    /// Whether `wrap`'s seed fixes every random choice the wrapper makes.
    fn seedable(&self) -> bool {
        true
    }
    /// Wrap `inner` to follow `claimed`, drawing any randomness from `seed`.
    fn wrap(&self, inner: Probed, claimed: RetryPolicy, seed: u64) -> Self::Wrapped;
}

/// Our `provider_retry::Retrying`, seen from outside like any other wrapper.
#[derive(Debug, Clone, Copy, Default)]
pub struct Ours;

impl Wrapper for Ours {
    type Wrapped = Retrying<Probed>;
    fn name(&self) -> String {
        "provider-retry".into()
    }
    fn claims(&self, asked: RetryPolicy) -> RetryPolicy {
        asked
    }
    fn wrap(&self, inner: Probed, claimed: RetryPolicy, seed: u64) -> Self::Wrapped {
        Retrying::with_policy(inner, claimed).seed(seed)
    }
}

/// `crabllm_core::Retrying` 0.0.25, claiming what its documentation says:
/// the scenario's retries, timeout, Retry-After cap and stream idle bound
/// (its setters), 100 ms initial backoff doubling with full jitter, no cap
/// and no deadline. Its jitter comes from the thread RNG: not seedable.
#[derive(Debug, Clone, Copy, Default)]
pub struct Crabllm;

impl Wrapper for Crabllm {
    type Wrapped = crabllm_core::Retrying<Probed>;
    fn name(&self) -> String {
        "crabllm-core 0.0.25".into()
    }
    fn claims(&self, asked: RetryPolicy) -> RetryPolicy {
        RetryPolicy::new()
            .max_retries(asked.get_max_retries())
            .timeout(asked.get_timeout())
            .max_retry_after(asked.get_max_retry_after())
            .stream_idle(asked.get_stream_idle())
            .initial_backoff(Duration::from_millis(100))
            .max_backoff(Duration::MAX)
            .jitter(Jitter::Full)
            .retry_deadline(None)
    }
    fn seedable(&self) -> bool {
        false
    }
    fn wrap(&self, inner: Probed, claimed: RetryPolicy, _: u64) -> Self::Wrapped {
        crabllm_core::Retrying::new(inner)
            .max_retries(claimed.get_max_retries())
            .timeout(claimed.get_timeout())
            .max_retry_after(claimed.get_max_retry_after())
            .stream_idle(claimed.get_stream_idle())
    }
}

/// No wrapper at all, judged against the scenario's policy: the control
/// that shows the retry oracles can fail.
#[derive(Debug, Clone, Copy, Default)]
pub struct Bare;

impl Wrapper for Bare {
    type Wrapped = Probed;
    fn name(&self) -> String {
        "bare provider".into()
    }
    fn claims(&self, asked: RetryPolicy) -> RetryPolicy {
        asked
    }
    fn wrap(&self, inner: Probed, _: RetryPolicy, _: u64) -> Probed {
        inner
    }
}

/// The built-in subjects by their command-line names.
pub const SUBJECTS: [&str; 3] = ["ours", "crabllm", "bare"];

/// Drive any [`Wrapper`] through the world.
struct BlackBox<'a, W>(&'a W);

impl<W: Wrapper> world::Subject for BlackBox<'_, W> {
    type Wrapped = W::Wrapped;
    fn wrap(
        &self,
        inner: SimProvider,
        policy: RetryPolicy,
        seed: u64,
        shared: Arc<Shared>,
        client: u32,
    ) -> W::Wrapped {
        let claimed = self.0.claims(policy);
        self.0
            .wrap(Probed::new(inner, shared, client), claimed, seed)
    }
}

/// One run of one scenario against `wrapper`, judged.
#[derive(Debug, Clone)]
pub struct Judged {
    pub trace: Trace,
    pub violations: Vec<Violation>,
    /// The first difference from a second run, for seedable wrappers.
    pub divergence: Option<String>,
}

/// Run `scenario` under `seed` against `wrapper` and check every oracle.
///
/// # Errors
///
/// Only if tokio cannot build a runtime.
pub fn judge<W: Wrapper>(wrapper: &W, scenario: &Scenario, seed: u64) -> std::io::Result<Judged> {
    let claimed = wrapper.claims(scenario.policy.policy());
    let run = || -> std::io::Result<Trace> {
        Ok(infer(
            world::run_with(&BlackBox(wrapper), scenario, seed)?,
            &claimed,
        ))
    };
    let trace = run()?;
    // Waits are measured from outside: each may end on the timer's next tick.
    let claims = Claims {
        policy: claimed,
        wait_slack_ns: TICK_NS,
        ..crate::claims(scenario)
    };
    let divergence = match wrapper.seedable() {
        true => first_divergence(&trace, &run()?).map(|d| d.to_string()),
        false => None,
    };
    Ok(Judged {
        violations: check(&trace, &claims),
        trace,
        divergence,
    })
}

/// Where a scenario came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Family {
    /// The scenarios in `sim/scenarios/`.
    BuiltIn,
    /// Random scenarios from [`generate::scenario`].
    Generated,
}

impl fmt::Display for Family {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Family::BuiltIn => "built-in",
            Family::Generated => "generated",
        })
    }
}

/// The first (built-in) or smallest (generated) scenario that broke an oracle.
#[derive(Debug, Clone)]
pub struct Finding {
    /// The built-in scenario's name, or `generated`.
    pub name: String,
    pub scenario: Scenario,
    pub seed: u64,
    pub violation: Violation,
}

/// How far the suite goes.
#[derive(Debug, Clone, Copy)]
pub struct Options {
    /// Seeds `0..seeds` for every built-in scenario.
    pub seeds: u64,
    /// Generated scenarios per oracle.
    pub cases: u32,
    /// Seeds the generator.
    pub seed: u64,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            seeds: 10,
            cases: 64,
            seed: crate::DEFAULT_SEED,
        }
    }
}

/// A wrapper's verdicts: per oracle and family, held or the finding that broke it.
#[derive(Debug, Clone)]
pub struct Report {
    pub subject: String,
    pub seedable: bool,
    pub findings: BTreeMap<(&'static str, Family), Finding>,
    /// The first run that did not repeat, for seedable wrappers.
    pub nondeterministic: Option<String>,
}

impl Report {
    /// Every oracle held in every family, and every run repeated.
    pub fn held(&self) -> bool {
        self.findings.is_empty() && self.nondeterministic.is_none()
    }

    /// The finding for `oracle` in `family`, if it was violated.
    pub fn finding(&self, oracle: &str, family: Family) -> Option<&Finding> {
        self.findings
            .iter()
            .find(|((o, f), _)| *o == oracle && *f == family)
            .map(|(_, finding)| finding)
    }
}

/// Run the whole suite against `wrapper`.
///
/// # Errors
///
/// Only if tokio cannot build a runtime.
pub fn suite<W: Wrapper>(wrapper: &W, options: &Options) -> std::io::Result<Report> {
    let mut report = Report {
        subject: wrapper.name(),
        seedable: wrapper.seedable(),
        findings: BTreeMap::new(),
        nondeterministic: None,
    };
    built_in(wrapper, options, &mut report)?;
    for (oracle, _) in ORACLES {
        if let Some(finding) = generated(wrapper, options, oracle)? {
            report.findings.insert((oracle, Family::Generated), finding);
        }
    }
    Ok(report)
}

fn built_in<W: Wrapper>(
    wrapper: &W,
    options: &Options,
    report: &mut Report,
) -> std::io::Result<()> {
    let scenarios = builtin::all().map_err(|e| std::io::Error::other(e.to_string()))?;
    // The network world drives our own wrapper only (its trace comes from
    // our observer); the suite judges every subject in process.
    let in_process = scenarios
        .iter()
        .filter(|(_, s)| s.world == crate::scenario::WorldKind::InProcess);
    for (name, scenario) in in_process {
        for seed in 0..options.seeds {
            let judged = judge(wrapper, scenario, seed)?;
            if let (None, Some(d)) = (&report.nondeterministic, judged.divergence) {
                report.nondeterministic = Some(format!("{name} seed {seed}: {d}"));
            }
            for violation in judged.violations {
                report
                    .findings
                    .entry((violation.oracle, Family::BuiltIn))
                    .or_insert_with(|| Finding {
                        name: name.to_string(),
                        scenario: scenario.clone(),
                        seed,
                        violation,
                    });
            }
        }
    }
    Ok(())
}

/// Search generated scenarios for a violation of `oracle`; shrink the first found.
fn generated<W: Wrapper>(
    wrapper: &W,
    options: &Options,
    oracle: &'static str,
) -> std::io::Result<Option<Finding>> {
    let config = ProptestConfig {
        cases: options.cases,
        failure_persistence: None,
        ..ProptestConfig::default()
    };
    let mut seed_bytes = [0u8; 32];
    seed_bytes[..8].copy_from_slice(&options.seed.to_le_bytes());
    let rng = TestRng::from_seed(RngAlgorithm::ChaCha, &seed_bytes);
    let mut runner = TestRunner::new_with_rng(config, rng);
    let strategy = (generate::scenario(), proptest::prelude::any::<u64>());
    let result = runner.run(&strategy, |(scenario, seed)| {
        let judged = judge(wrapper, &scenario, seed)
            .map_err(|e| TestCaseError::fail(format!("runtime: {e}")))?;
        match judged.violations.iter().any(|v| v.oracle == oracle) {
            true => Err(TestCaseError::fail(oracle)),
            false => Ok(()),
        }
    });
    match result {
        Ok(()) => Ok(None),
        Err(TestError::Fail(_, (scenario, seed))) => {
            let judged = judge(wrapper, &scenario, seed)?;
            Ok(judged
                .violations
                .into_iter()
                .find(|v| v.oracle == oracle)
                .map(|violation| Finding {
                    name: "generated".into(),
                    scenario,
                    seed,
                    violation,
                }))
        }
        Err(TestError::Abort(why)) => Err(std::io::Error::other(why.to_string())),
    }
}

/// A table: one row per oracle and family, one column per report.
pub fn table(reports: &[Report]) -> String {
    let mut out = String::from("| oracle | family |");
    for r in reports {
        let _ = write!(out, " {} |", r.subject);
    }
    out.push_str("\n|---|---|");
    out.push_str(&"---|".repeat(reports.len()));
    out.push('\n');
    for (oracle, _) in ORACLES {
        for family in [Family::BuiltIn, Family::Generated] {
            let _ = write!(out, "| {oracle} | {family} |");
            for r in reports {
                match r.finding(oracle, family) {
                    Some(f) => {
                        let _ = write!(out, " violated: {} seed {} |", f.name, f.seed);
                    }
                    None => out.push_str(" held |"),
                }
            }
            out.push('\n');
        }
    }
    let _ = write!(out, "| deterministic | all |");
    for r in reports {
        match (&r.nondeterministic, r.seedable) {
            (_, false) => out.push_str(" not seedable: bounds only |"),
            (Some(_), true) => out.push_str(" no |"),
            (None, true) => out.push_str(" yes |"),
        }
    }
    out.push('\n');
    out
}
