//! Conformance: every oracle against any subject, over both worlds.
//!
//! [`suite`] runs a subject through every built-in scenario (in process,
//! and over the simulated network) for a range of seeds, and through
//! generated scenarios (proptest, each run enabling a random mix of fault
//! kinds, shrunk to the smallest failing one), and reports, per oracle and
//! family, whether it held and over how much (or that it judged nothing).
//! The delay distribution is judged on each built-in scenario's draws
//! pooled over its seeds, and likewise on a few generated scenarios
//! ([`POOLED_GENERATED`]) pooled over the in-process seeds.
//!
//! A subject that cannot be seeded runs each built-in case `repeats`
//! times; a finding then says in how many of those runs the oracle failed,
//! so its verdict is stable even when single runs differ.

use super::evaluate;
use crate::check::distribution;
use crate::check::sharing::{self, DELAYS_INDEPENDENT};
use crate::check::verdict::unviolated;
use crate::check::{DELAY_DISTRIBUTION, ORACLES, Pools, Tally, Violation};
use crate::fired::Fired;
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
    /// The scenario that broke it, whole, so a generated one can be replayed.
    pub scenario: Scenario,
    /// The seed it broke under.
    pub seed: u64,
    /// The first violation seen.
    pub violation: Violation,
    /// Runs of this case that violated the oracle, out of `runs`.
    pub violated: u32,
    /// Runs of this case.
    pub runs: u32,
    /// For an oracle judged across seeds: it was, over seeds `0..n`.
    pub pooled_seeds: Option<u64>,
}

/// How far the suite goes.
#[derive(Debug, Clone, Copy)]
pub struct Options {
    /// Seeds `0..seeds` for every built-in in-process scenario, and for each
    /// generated scenario pooled for the delay distribution.
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
    /// The subject's display name.
    pub subject: String,
    /// The subject's command-line name (for replay commands).
    pub key: String,
    /// Whether the subject takes a seed, so a replay reproduces its draws.
    pub seedable: bool,
    /// The cases that broke an oracle, by oracle and method family; an absent key held.
    pub findings: BTreeMap<(&'static str, Family), Finding>,
    /// How much each oracle judged in each family: calls and attempts
    /// (generated: over every case tried, shrinking included), or the
    /// delay distribution's samples in pools large enough to test.
    pub tallies: BTreeMap<(&'static str, Family), Tally>,
    /// The first run that did not repeat, for seedable subjects.
    pub nondeterministic: Option<String>,
    /// Which fault kinds fired in each family, over every run.
    pub fired: BTreeMap<Family, Fired>,
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

    /// How much `oracle` judged in `family`.
    pub fn tally(&self, oracle: &str, family: Family) -> Tally {
        self.tallies
            .iter()
            .find(|((o, f), _)| *o == oracle && *f == family)
            .map_or_else(Tally::default, |(_, t)| *t)
    }

    /// The oracle and family pairs the suite left unexercised: neither
    /// violated nor judged anything, so their verdict says nothing.
    pub fn unexercised(&self) -> Vec<(&'static str, Family)> {
        let mut out = Vec::new();
        for oracle in ORACLES {
            for family in Family::ALL {
                let judged = self.tally(oracle, family).judged();
                if !judged && self.finding(oracle, family).is_none() {
                    out.push((*oracle, family));
                }
            }
        }
        out
    }

    /// Count `tally` for `oracle` in `family`.
    fn count(&mut self, oracle: &'static str, family: Family, tally: Tally) {
        self.tallies.entry((oracle, family)).or_default().add(tally);
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
        tallies: BTreeMap::new(),
        nondeterministic: None,
        fired: BTreeMap::new(),
    };
    let scenarios = builtin::all().map_err(|e| std::io::Error::other(e.to_string()))?;
    for (name, scenario) in &scenarios {
        let (family, seeds) = match scenario.world {
            WorldKind::InProcess => (Family::BuiltIn, options.seeds),
            WorldKind::Network => (Family::Network, options.net_seeds),
        };
        let case = Case {
            family,
            name,
            scenario,
        };
        pooled(subject, options, &mut report, case, seeds)?;
    }
    for scenario in pooled_scenarios(options) {
        let case = Case {
            family: Family::Generated,
            name: "generated",
            scenario: &scenario,
        };
        pooled(subject, options, &mut report, case, options.seeds)?;
    }
    for oracle in ORACLES {
        let (finding, tally, fired) = generated(subject, options, oracle)?;
        report.count(oracle, Family::Generated, tally);
        report
            .fired
            .entry(Family::Generated)
            .or_default()
            .merge(&fired);
        if let Some(finding) = finding {
            report.findings.insert((oracle, Family::Generated), finding);
        }
    }
    Ok(report)
}

/// A scenario the suite runs over seeds: where it came from, its name, and
/// the scenario itself.
#[derive(Clone, Copy)]
struct Case<'a> {
    family: Family,
    name: &'a str,
    scenario: &'a Scenario,
}

impl Case<'_> {
    /// Note that this case broke `violation`'s oracle under `seed` (in
    /// `violated` of `runs` runs; over seeds `0..n` for a pooled oracle):
    /// the first finding of an oracle in a family is the one kept.
    fn broke(
        &self,
        report: &mut Report,
        seed: u64,
        violation: Violation,
        (violated, runs): (u32, u32),
        pooled_seeds: Option<u64>,
    ) {
        let key = (violation.oracle, self.family);
        report.findings.entry(key).or_insert_with(|| Finding {
            name: self.name.to_string(),
            scenario: self.scenario.clone(),
            seed,
            violation,
            violated,
            runs,
            pooled_seeds,
        });
    }
}

/// Run `case` over seeds `0..seeds`, noting each run's violations, then
/// judge the drawn delays of every seed together: enough samples that a
/// mislabelled distribution shows, at the documented rate.
fn pooled<S: Subject>(
    subject: &S,
    options: &Options,
    report: &mut Report,
    case: Case<'_>,
    seeds: u64,
) -> std::io::Result<()> {
    let Case {
        family, scenario, ..
    } = case;
    let runs = runs_per_case(subject, options);
    // One pool per repeated run: a subject that cannot be seeded gets a
    // count of pools that failed, like every other finding.
    let mut pools = vec![Pools::default(); runs as usize];
    for seed in 0..seeds {
        let runs = built_in_case(subject, options, report, case, seed)?;
        for (pool, run) in pools.iter_mut().zip(runs) {
            pool.samples.extend(run.samples);
            pool.pairs.extend(run.pairs);
        }
    }
    let claim = subject.claim(&scenario.policy);
    // Only a pool large enough to test was judged.
    for Pools { samples, pairs } in &pools {
        if samples.len() >= distribution::MIN_SAMPLES {
            let samples = samples.len() as u64;
            let tally = Tally {
                samples,
                ..Tally::default()
            };
            report.count(DELAY_DISTRIBUTION, family, tally);
        }
        if pairs.points.len() >= sharing::MIN_POINTS {
            let samples = pairs.points.len() as u64;
            let tally = Tally {
                samples,
                ..Tally::default()
            };
            report.count(DELAYS_INDEPENDENT, family, tally);
        }
    }
    let failed: [(&'static str, Vec<String>); 2] = [
        (
            DELAY_DISTRIBUTION,
            pools
                .iter()
                .filter_map(|pool| distribution::test(&pool.samples, &claim))
                .collect(),
        ),
        (
            DELAYS_INDEPENDENT,
            pools
                .iter()
                .filter_map(|pool| sharing::test(&pool.pairs))
                .collect(),
        ),
    ];
    for (oracle, failed) in failed {
        let Some(detail) = failed.first() else {
            continue;
        };
        let violation = Violation {
            oracle,
            client: 0,
            call: 0,
            detail: format!("pooled over seeds 0..{seeds}: {detail}"),
        };
        let violated = failed.len() as u32;
        case.broke(report, 0, violation, (violated, runs), Some(seeds));
    }
    Ok(())
}

/// How many generated scenarios are each run over seeds `0..seeds` and
/// their delays pooled: one generated run holds too few backoffs for the
/// distribution test (fewer than its 50), so without pooling it would
/// judge generated scenarios' draws hardly at all.
pub const POOLED_GENERATED: usize = 8;

/// The [`POOLED_GENERATED`] generated scenarios, drawn from the generator
/// seed: [`generate::retry_heavy`] ones, whose seeds together hold enough
/// backoffs, and pairs of concurrent ones, to test.
fn pooled_scenarios(options: &Options) -> Vec<Scenario> {
    use proptest::strategy::{Strategy, ValueTree};
    let mut runner = runner(options, "pooled", ProptestConfig::default());
    let strategy = generate::retry_heavy();
    (0..POOLED_GENERATED)
        .filter_map(|_| strategy.new_tree(&mut runner).ok())
        .map(|tree| tree.current())
        .collect()
}

/// A proptest runner seeded by the generator seed and `purpose`.
fn runner(options: &Options, purpose: &str, config: ProptestConfig) -> TestRunner {
    let mut seed_bytes = [0u8; 32];
    seed_bytes[..8].copy_from_slice(&options.seed.to_le_bytes());
    seed_bytes[8..16].copy_from_slice(&crate::seeds::derive(0, purpose, 0).to_le_bytes());
    let rng = TestRng::from_seed(RngAlgorithm::ChaCha, &seed_bytes);
    TestRunner::new_with_rng(config, rng)
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

/// Run `case` under `seed` (once, or `repeats` times for a subject that
/// cannot be seeded), noting what each run judged and broke; what each run
/// adds to the pools judged across seeds comes back, run by run.
fn built_in_case<S: Subject>(
    subject: &S,
    options: &Options,
    report: &mut Report,
    case: Case<'_>,
    seed: u64,
) -> std::io::Result<Vec<Pools>> {
    let Case {
        family,
        name,
        scenario,
    } = case;
    let runs = runs_per_case(subject, options);
    let mut pools = Vec::with_capacity(runs as usize);
    let mut tally: BTreeMap<&'static str, (u32, Violation)> = BTreeMap::new();
    for _ in 0..runs {
        let e = evaluate(subject, scenario, seed, subject.seedable())?;
        report.fired.entry(family).or_default().merge(&e.fired);
        // As the judge tested them on this run, against the same claim.
        pools.push(e.pools);
        // The distribution and independence are judged on the seeds' pool,
        // not run by run.
        let pooled = |o: &&str| *o == DELAY_DISTRIBUTION || *o == DELAYS_INDEPENDENT;
        for (&oracle, &tally) in e.tallies.iter().filter(|(o, _)| !pooled(o)) {
            report.count(oracle, family, tally);
        }
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
    for (violated, violation) in tally.into_values() {
        case.broke(report, seed, violation, (violated, runs), None);
    }
    Ok(pools)
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
/// something does not hang on one run's draws. Also how much `oracle`
/// judged over every case run (shrinking included), and what fired in them.
fn generated<S: Subject>(
    subject: &S,
    options: &Options,
    oracle: &'static str,
) -> std::io::Result<(Option<Finding>, Tally, Fired)> {
    let config = ProptestConfig {
        cases: options.cases,
        failure_persistence: None,
        max_shrink_iters: 256,
        ..ProptestConfig::default()
    };
    let mut runner = runner(options, oracle, config);
    let strategy = (generate::scenario(), proptest::prelude::any::<u64>());
    let judged = std::cell::Cell::new(Tally::default());
    let fired = std::cell::RefCell::new(Fired::default());
    let violates = |scenario: &Scenario, seed: u64| -> std::io::Result<Option<Violation>> {
        let e = evaluate(subject, scenario, seed, false)?;
        fired.borrow_mut().merge(&e.fired);
        let mut sum = judged.get();
        sum.add(e.tallies.get(oracle).copied().unwrap_or_default());
        judged.set(sum);
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
    let finding = match result {
        Ok(()) => None,
        Err(TestError::Fail(_, (scenario, seed))) => {
            let mut first = None;
            let mut violated = 0;
            for _ in 0..runs {
                if let Some(v) = violates(&scenario, seed)? {
                    violated += 1;
                    first.get_or_insert(v);
                }
            }
            first.map(|violation| Finding {
                name: "generated".into(),
                scenario,
                seed,
                violation,
                violated,
                runs,
                pooled_seeds: None,
            })
        }
        Err(TestError::Abort(why)) => return Err(std::io::Error::other(why.to_string())),
    };
    Ok((finding, judged.get(), fired.into_inner()))
}

/// Why an oracle cannot be exercised in a family, for the pairs no
/// scenario of it can reach; `None` for a pair the suite should exercise.
pub fn why_unexercisable(oracle: &str, family: Family) -> Option<&'static str> {
    match (oracle, family) {
        ("fallback_in_order" | "fallback_taken" | "cooldown_kept", _) => Some(
            "every subject here wraps one provider; fallback across deployments is judged from the wire (`retry-sim serve`, `retry-sim judge`)",
        ),
        ("retry_after_shared", _) => Some(
            "judged only where a claim promises a throttle every call shares (`ours-throttle`'s and `ours-throttle-answered`'s); every other subject claims none",
        ),
        ("pause_wakes_spread", _) => Some(
            "judged only where a claim promises a throttle every call shares, on a pause that held two attempts or more; an answering throttle's wake-ups are clipped to the Retry-After that set the pause, so only a wait longer than its spread is judged there (`zoo-answered-long-pause`); every other subject claims none",
        ),
        _ => None,
    }
}

/// The suite's own account of what it left unexercised: one line per
/// oracle and family pair that some report judged nothing in (with the
/// subjects, when not all), and why when no scenario of that family can
/// reach it. Empty when every pair was exercised.
pub fn unexercised(reports: &[Report]) -> String {
    let mut out = String::new();
    for oracle in ORACLES {
        for family in Family::ALL {
            let missed: Vec<&str> = reports
                .iter()
                .filter(|r| r.unexercised().contains(&(*oracle, family)))
                .map(|r| r.subject.as_str())
                .collect();
            if missed.is_empty() {
                continue;
            }
            let _ = write!(out, "not exercised: {oracle} in {family}");
            if missed.len() < reports.len() {
                let _ = write!(out, " for {}", missed.join(", "));
            }
            let why = why_unexercisable(oracle, family).unwrap_or("no scenario reached it");
            let _ = writeln!(out, ": {why}");
        }
    }
    for report in reports {
        let fired = report
            .fired
            .get(&Family::Generated)
            .cloned()
            .unwrap_or_default();
        let missing = fired.missing(generate::DRAWN);
        if !missing.is_empty() {
            let names: Vec<String> = missing.iter().map(ToString::to_string).collect();
            let _ = writeln!(
                out,
                "never fired in generated scenarios for {}: {}",
                report.subject,
                names.join(", ")
            );
        }
    }
    out
}

/// A table: one row per oracle and family, one column per report; a cell
/// says how the oracle was violated, that it held over how many calls and
/// attempts (or samples), or that it judged nothing.
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
                    None => {
                        let _ = write!(out, " {} |", unviolated(r.tally(oracle, family)));
                    }
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
