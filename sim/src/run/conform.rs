//! Conformance: every oracle against any subject, over both worlds.
//!
//! [`suite`] runs a subject through every built-in scenario (in process,
//! and over the simulated network) for a range of seeds, and through
//! generated scenarios (proptest, each run enabling a random mix of fault
//! kinds, shrunk to the smallest failing one), and reports, per oracle and
//! family, whether it held.
//!
//! A subject that cannot be seeded runs each built-in case `repeats`
//! times; a finding then says in how many of those runs the oracle failed,
//! so its verdict is stable even when single runs differ.

use super::evaluate;
use crate::check::distribution::{self, Samples};
use crate::check::sharing::{self, DELAYS_INDEPENDENT, Pairs};
use crate::check::{DELAY_DISTRIBUTION, ORACLES, Violation};
use crate::scenario::{Scenario, WorldKind};
use crate::subject::{Subject, SubjectName, Visit, visit};
use crate::{builtin, generate};
use proptest::test_runner::{
    Config as ProptestConfig, RngAlgorithm, TestCaseError, TestError, TestRng, TestRunner,
};
use std::collections::BTreeMap;
use std::fmt::{self, Write as _};
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

/// How the suite meets each subject, as its report says: every
/// scenario's clients share one wrapper (the default of `[workload]
/// wrapper`), as a gateway's do.
pub const SHARING: &str = "wrapper: shared (every scenario's clients call through one instance of the subject, as a gateway's requests do; a scenario may say `wrapper = \"per_client\"`)";

/// Where a scenario came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Family {
    /// The built-in in-process scenarios.
    BuiltIn,
    /// The built-in network scenarios.
    Network,
    /// Random scenarios from [`generate::scenario`].
    Generated,
}

impl Family {
    /// Every family, in table order.
    pub const ALL: [Family; 3] = [Family::BuiltIn, Family::Network, Family::Generated];
}

impl fmt::Display for Family {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Family::BuiltIn => "built-in",
            Family::Network => "network",
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
    /// Runs of this case that violated the oracle, out of `runs`.
    pub violated: u32,
    pub runs: u32,
    /// For an oracle judged across seeds: it was, over seeds `0..n`.
    pub pooled_seeds: Option<u64>,
}

/// How far the suite goes.
#[derive(Debug, Clone, Copy)]
pub struct Options {
    /// Seeds `0..seeds` for every built-in in-process scenario.
    pub seeds: u64,
    /// Seeds `0..net_seeds` for every built-in network scenario.
    pub net_seeds: u64,
    /// Generated scenarios per oracle.
    pub cases: u32,
    /// Seeds the generator.
    pub seed: u64,
    /// Runs of each case for a subject that cannot be seeded.
    pub repeats: u32,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            seeds: 10,
            net_seeds: 3,
            cases: 64,
            seed: crate::DEFAULT_SEED,
            repeats: 5,
        }
    }
}

/// A subject's verdicts: per oracle and family, held or the finding that broke it.
#[derive(Debug, Clone)]
pub struct Report {
    pub subject: String,
    /// The subject's command-line name (for replay commands).
    pub key: String,
    pub seedable: bool,
    pub findings: BTreeMap<(&'static str, Family), Finding>,
    /// The first run that did not repeat, for seedable subjects.
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

/// Run the whole suite against `subject` (`key` is its command-line name).
///
/// # Errors
///
/// A world that could not start, or a built-in scenario that does not parse.
pub fn suite<S: Subject>(subject: &S, key: &str, options: &Options) -> std::io::Result<Report> {
    let mut report = Report {
        subject: subject.name(),
        key: key.to_string(),
        seedable: subject.seedable(),
        findings: BTreeMap::new(),
        nondeterministic: None,
    };
    let scenarios = builtin::all().map_err(|e| std::io::Error::other(e.to_string()))?;
    for (name, scenario) in &scenarios {
        let (family, seeds) = match scenario.world {
            WorldKind::InProcess => (Family::BuiltIn, options.seeds),
            WorldKind::Network => (Family::Network, options.net_seeds),
        };
        let runs = runs_per_case(subject, options);
        // One pool per repeated run: a subject that cannot be seeded gets a
        // count of pools that failed, like every other finding.
        let mut pools = vec![(Samples::default(), Pairs::default()); runs as usize];
        for seed in 0..seeds {
            let samples =
                built_in_case(subject, options, &mut report, family, name, scenario, seed)?;
            for (pool, (run, pairs)) in pools.iter_mut().zip(samples) {
                pool.0.extend(run);
                pool.1.extend(pairs);
            }
        }
        // The drawn delays of every seed together: enough samples that a
        // mislabelled distribution shows, at the documented rate.
        let claim = subject.claim(&scenario.policy);
        let pooled: [(&'static str, Vec<String>); 2] = [
            (
                DELAY_DISTRIBUTION,
                pools
                    .iter()
                    .filter_map(|(pool, _)| distribution::test(pool, &claim))
                    .collect(),
            ),
            (
                DELAYS_INDEPENDENT,
                pools
                    .iter()
                    .filter_map(|(_, pairs)| sharing::test(pairs))
                    .collect(),
            ),
        ];
        for (oracle, failed) in pooled {
            let Some(detail) = failed.first() else {
                continue;
            };
            report
                .findings
                .entry((oracle, family))
                .or_insert_with(|| Finding {
                    name: name.to_string(),
                    scenario: scenario.clone(),
                    seed: 0,
                    violation: Violation {
                        oracle,
                        client: 0,
                        call: 0,
                        detail: format!("pooled over seeds 0..{seeds}: {detail}"),
                    },
                    violated: failed.len() as u32,
                    runs,
                    pooled_seeds: Some(seeds),
                });
        }
    }
    for oracle in ORACLES {
        if let Some(finding) = generated(subject, options, oracle)? {
            report.findings.insert((oracle, Family::Generated), finding);
        }
    }
    Ok(report)
}

/// [`suite`] for every subject `names` names, the subjects spread over
/// every core; the reports come back in the order of `names`, each the one
/// [`suite`] gives alone (a subject's suite shares nothing with another's).
/// `tick` is called as each subject's suite ends.
///
/// # Errors
///
/// The first subject's error, in the order of `names`.
pub fn suites(
    names: &[SubjectName],
    options: &Options,
    tick: &(dyn Fn() + Sync),
) -> std::io::Result<Vec<Report>> {
    struct Suite<'a> {
        options: &'a Options,
        key: &'a str,
    }
    impl Visit for Suite<'_> {
        type Output = std::io::Result<Report>;
        fn visit<S: Subject>(self, subject: &S) -> Self::Output {
            suite(subject, self.key, self.options)
        }
    }
    let next = AtomicUsize::new(0);
    let reports: Mutex<Vec<Option<std::io::Result<Report>>>> =
        Mutex::new(names.iter().map(|_| None).collect());
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    std::thread::scope(|scope| {
        for _ in 0..threads.min(names.len()) {
            scope.spawn(|| {
                loop {
                    let at = next.fetch_add(1, Ordering::Relaxed);
                    let Some(&name) = names.get(at) else { break };
                    let key = name.as_str();
                    let report = visit(name, Suite { options, key });
                    reports.lock().unwrap_or_else(|p| p.into_inner())[at] = Some(report);
                    tick();
                }
            });
        }
    });
    let reports = reports.into_inner().unwrap_or_else(|p| p.into_inner());
    reports.into_iter().flatten().collect()
}

fn built_in_case<S: Subject>(
    subject: &S,
    options: &Options,
    report: &mut Report,
    family: Family,
    name: &str,
    scenario: &Scenario,
    seed: u64,
) -> std::io::Result<Vec<(Samples, Pairs)>> {
    let claim = subject.claim(&scenario.policy);
    let runs = runs_per_case(subject, options);
    let mut samples = Vec::with_capacity(runs as usize);
    let mut tally: BTreeMap<&'static str, (u32, Violation)> = BTreeMap::new();
    for _ in 0..runs {
        let e = evaluate(subject, scenario, seed, subject.seedable())?;
        samples.push((
            distribution::samples(&e.trace, &claim),
            sharing::pairs(&e.trace, &claim),
        ));
        if let (None, Some(d)) = (&report.nondeterministic, &e.divergence) {
            report.nondeterministic = Some(format!("{name} seed {seed}: {d}"));
        }
        let mut seen = std::collections::BTreeSet::new();
        for v in e.violations {
            if seen.insert(v.oracle) {
                tally.entry(v.oracle).or_insert((0, v)).0 += 1;
            }
        }
    }
    for (oracle, (violated, violation)) in tally {
        let runs = runs_per_case(subject, options);
        report
            .findings
            .entry((oracle, family))
            .or_insert_with(|| Finding {
                name: name.to_string(),
                scenario: scenario.clone(),
                seed,
                violation,
                violated,
                runs,
                pooled_seeds: None,
            });
    }
    Ok(samples)
}

/// How many times each case runs: once for a seedable subject, `repeats`
/// times for one whose choices the seed does not fix.
fn runs_per_case<S: Subject>(subject: &S, options: &Options) -> u32 {
    match subject.seedable() {
        true => 1,
        false => options.repeats.max(1),
    }
}

/// Search generated scenarios for a violation of `oracle`; shrink the first
/// found. For a subject that cannot be seeded every case runs `repeats`
/// times and counts as violated if any run is, so whether the search finds
/// something does not hang on one run's draws.
fn generated<S: Subject>(
    subject: &S,
    options: &Options,
    oracle: &'static str,
) -> std::io::Result<Option<Finding>> {
    let config = ProptestConfig {
        cases: options.cases,
        failure_persistence: None,
        max_shrink_iters: 256,
        ..ProptestConfig::default()
    };
    let mut seed_bytes = [0u8; 32];
    seed_bytes[..8].copy_from_slice(&options.seed.to_le_bytes());
    seed_bytes[8..16].copy_from_slice(&crate::seeds::derive(0, oracle, 0).to_le_bytes());
    let rng = TestRng::from_seed(RngAlgorithm::ChaCha, &seed_bytes);
    let mut runner = TestRunner::new_with_rng(config, rng);
    let strategy = (generate::scenario(), proptest::prelude::any::<u64>());
    let violates = |scenario: &Scenario, seed: u64| -> std::io::Result<Option<Violation>> {
        let e = evaluate(subject, scenario, seed, false)?;
        Ok(e.violations.into_iter().find(|v| v.oracle == oracle))
    };
    let runs = runs_per_case(subject, options);
    let result = runner.run(&strategy, |(scenario, seed)| {
        for _ in 0..runs {
            let found = violates(&scenario, seed)
                .map_err(|e| TestCaseError::fail(format!("world: {e}")))?;
            if found.is_some() {
                return Err(TestCaseError::fail(oracle));
            }
        }
        Ok(())
    });
    match result {
        Ok(()) => Ok(None),
        Err(TestError::Fail(_, (scenario, seed))) => {
            let mut first = None;
            let mut violated = 0;
            for _ in 0..runs {
                if let Some(v) = violates(&scenario, seed)? {
                    violated += 1;
                    first.get_or_insert(v);
                }
            }
            Ok(first.map(|violation| Finding {
                name: "generated".into(),
                scenario,
                seed,
                violation,
                violated,
                runs,
                pooled_seeds: None,
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
    for oracle in ORACLES {
        for family in Family::ALL {
            let _ = write!(out, "| {oracle} | {family} |");
            for r in reports {
                match r.finding(oracle, family) {
                    Some(f) if f.pooled_seeds.is_some() => {
                        let _ = write!(
                            out,
                            " violated: {} seeds 0..{} |",
                            f.name,
                            f.pooled_seeds.unwrap_or(0)
                        );
                    }
                    Some(f) if f.runs > 1 => {
                        let _ = write!(
                            out,
                            " violated ({}/{} runs): {} seed {} |",
                            f.violated, f.runs, f.name, f.seed
                        );
                    }
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
            (_, false) => out.push_str(" not seedable: repeated runs |"),
            (Some(_), true) => out.push_str(" no |"),
            (None, true) => out.push_str(" yes |"),
        }
    }
    out.push('\n');
    out
}
