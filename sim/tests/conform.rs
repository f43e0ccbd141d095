//! The conformance suite against the built-in subjects and the peers, in
//! both worlds: ours holds every oracle, the bare provider, crabllm's
//! wrapper and the peers break the ones their code breaks (each peer's
//! finding is shown with the library alone in `tests/peers.rs`), and the
//! README shows the suite's table.

use provider_retry_sim::run::conform::{Family, Options, Report, suite, table};
use provider_retry_sim::subject::{
    Backon, BackonAdjust, Bare, Crabllm, Ours, Subject, TokioRetry2, Tower,
};

fn options() -> Options {
    Options {
        seeds: 3,
        net_seeds: 1,
        cases: 24,
        seed: 1,
        repeats: 3,
    }
}

#[test]
fn our_wrapper_holds_every_oracle_in_both_worlds() {
    let report = suite(&Ours, "ours", &options()).unwrap();
    assert!(
        report.held(),
        "{:#?}\n{:?}",
        report.findings,
        report.nondeterministic
    );
}

#[test]
fn the_bare_provider_fails_the_retry_oracles_in_both_worlds() {
    let report = suite(&Bare, "bare", &options()).unwrap();
    for family in [Family::BuiltIn, Family::Network] {
        assert!(
            report.finding("transient_retried", family).is_some(),
            "{family}: {:?}",
            report.findings.keys()
        );
    }
    assert!(report.finding("calls_end", Family::BuiltIn).is_some());
}

#[test]
fn crabllm_sleeps_after_its_final_attempt() {
    let report = suite(&Crabllm, "crabllm", &options()).unwrap();
    assert!(!report.seedable);
    let f = report
        .finding("no_sleep_after_final", Family::BuiltIn)
        .expect("found on the built-in scenarios");
    assert!(f.violated >= 1 && f.runs == 3, "{f:?}");
}

/// The suite's report on `subject`, under the small options.
fn report<S: Subject>(subject: &S, key: &str) -> Report {
    suite(subject, key, &options()).unwrap()
}

/// A finding of `report`, or a failure that says how to see them all.
fn finding<'r>(
    report: &'r Report,
    oracle: &str,
    family: Family,
) -> &'r provider_retry_sim::run::conform::Finding {
    report.finding(oracle, family).unwrap_or_else(|| {
        panic!(
            "{}: no {oracle} finding in {family}: {:?}\nreplay: cargo run --release -p provider-retry-sim -- conform {} --seeds 3 --net-seeds 1 --cases 24 --repeats 3",
            report.subject,
            report.findings.keys(),
            report.key
        )
    })
}

/// backon: a minimum delay above the maximum is slept uncapped
/// (`backon_max_delay_does_not_bound_the_first_delay`).
#[test]
fn backon_sleeps_its_first_delay_above_its_maximum() {
    let r = report(&Backon, "backon");
    let f = finding(&r, "delay_within_envelope", Family::Generated);
    assert!(
        f.scenario.policy.initial_backoff > f.scenario.policy.max_backoff,
        "{f:?}"
    );
    assert!(r.nondeterministic.is_none(), "{:?}", r.nondeterministic);
}

/// backon with the `adjust` idiom: Retry-After waited exactly and the
/// retry limit kept (the adapter keeps the `None` the documentation's
/// example drops: `backon_adjust_example_retries_past_max_times`), and
/// backon's uncapped first delay.
#[test]
fn backon_adjust_waits_retry_after_within_its_limit() {
    let r = report(&BackonAdjust, "backon-adjust");
    let f = finding(&r, "delay_within_envelope", Family::Generated);
    assert!(
        f.scenario.policy.initial_backoff > f.scenario.policy.max_backoff,
        "{f:?}"
    );
    for family in Family::ALL {
        for oracle in ["retry_after_honoured", "attempts_bounded"] {
            assert!(
                r.finding(oracle, family).is_none(),
                "{oracle} {family}: {:?}",
                r.finding(oracle, family)
            );
        }
    }
}

/// tokio-retry2: a Retry-After is not waited, in every run and both
/// worlds (`tokio_retry2_sleeps_the_strategy_not_the_retry_after`).
#[test]
fn tokio_retry2_does_not_wait_a_retry_after() {
    let r = report(&TokioRetry2, "tokio-retry2");
    assert!(!r.seedable);
    for family in [Family::BuiltIn, Family::Network] {
        let f = finding(&r, "retry_after_honoured", family);
        assert_eq!(f.violated, f.runs, "{f:?}");
    }
}

/// tower: its policy holds every oracle the suite has (its defects are
/// below the suite's resolution: `tests/peers.rs`).
#[test]
fn tower_holds_every_oracle() {
    let r = report(&Tower, "tower");
    assert!(r.held(), "{:#?}\n{:?}", r.findings, r.nondeterministic);
}

/// The README's table, to be compared with what the suite prints.
fn readme_rows() -> Vec<String> {
    let readme =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../README.md")).unwrap();
    readme.lines().map(str::to_string).collect()
}

#[test]
fn the_readme_shows_the_table_the_suite_prints() {
    let options = Options::default();
    let reports: Vec<Report> = vec![
        suite(&Ours, "ours", &options).unwrap(),
        suite(&Crabllm, "crabllm", &options).unwrap(),
        suite(&Backon, "backon", &options).unwrap(),
        suite(&BackonAdjust, "backon-adjust", &options).unwrap(),
        suite(&TokioRetry2, "tokio-retry2", &options).unwrap(),
        suite(&Tower, "tower", &options).unwrap(),
        suite(&Bare, "bare", &options).unwrap(),
    ];
    // crabllm's and tokio-retry2's jitter come from the thread RNG: which
    // case first shows a violation, and in how many of its repeated runs,
    // changes from run to run. Their columns are compared by verdict where
    // the verdict is certain (violated in every run of its case,
    // "violated (n/n runs)"); any other cell of those columns may read
    // "held" (with any count), "violated" or "not judged" on either side.
    // Every other column is compared
    // exactly.
    let unseeded: Vec<usize> = reports
        .iter()
        .enumerate()
        .filter(|(_, r)| !r.seedable)
        .map(|(i, _)| i + 2)
        .collect();
    let certain = |cell: &str| {
        cell.split_once("violated (")
            .and_then(|(_, rest)| rest.split_once(" runs)"))
            .and_then(|(ratio, _)| ratio.split_once('/'))
            .is_some_and(|(k, n)| k == n)
    };
    let cells = |row: &str| -> Vec<String> {
        row.split(" | ")
            .enumerate()
            .map(|(i, c)| match (unseeded.contains(&i), certain(c)) {
                (true, true) => "violated".to_string(),
                (true, false)
                    if c.contains("held") || c.contains("violated") || c == "not judged" =>
                {
                    "either".to_string()
                }
                _ => c.to_string(),
            })
            .collect()
    };
    let same = |a: &[String], b: &[String]| {
        a.len() == b.len()
            && a.iter()
                .zip(b)
                .all(|(x, y)| x == y || x == "either" || y == "either")
    };
    let readme = readme_rows();
    let table = table(&reports);
    for row in table.lines() {
        let expected = cells(row);
        let found = readme.iter().any(|line| same(&cells(line), &expected));
        assert!(
            found,
            "README lacks the row {row}\nregenerate: cargo run --release -p provider-retry-sim -- conform"
        );
    }
    // And the README shows no verdict row the suite does not print.
    let rows = table.lines().count();
    let start = readme
        .iter()
        .position(|l| l.starts_with("| oracle | family |"))
        .expect("the README has the table");
    let shown = readme[start..]
        .iter()
        .take_while(|l| l.starts_with('|'))
        .count();
    assert_eq!(
        shown, rows,
        "the README's table has {shown} rows, the suite prints {rows}"
    );
}

/// crabllm bounds a stream's first chunk by its one idle bound (90 s), as
/// it documents: on silent-reasoning (120 s of thought before the first
/// chunk) its streams end in a timeout 90 s after the hand-over. That holds
/// under its own claim, and is a cut before the bound under
/// provider-retry's (a first chunk may take 300 s).
#[test]
fn crabllm_cuts_a_reasoning_model_at_its_idle_bound() {
    use provider_retry_sim::check::check;
    use provider_retry_sim::run::{context, evaluate};
    use provider_retry_sim::subject::Subject;
    let scenario = provider_retry_sim::builtin::get("silent-reasoning")
        .expect("a built-in scenario")
        .unwrap();
    let e = evaluate(&Crabllm, &scenario, 0, false).unwrap();
    let cut = |violations: &[provider_retry_sim::check::Violation]| {
        violations
            .iter()
            .filter(|v| v.oracle == "stream_cut_at_bound")
            .count()
    };
    assert_eq!(cut(&e.violations), 0, "{:#?}", e.violations);
    assert!(e.summary.success_rate() < 1.0, "{:?}", e.summary);
    let ours = check(&e.trace, &Ours.claim(&scenario.policy), &context(&scenario));
    assert!(cut(&ours) >= 1, "{ours:#?}");
    let ours_run = evaluate(&Ours, &scenario, 0, false).unwrap();
    assert!(ours_run.passed(), "{:#?}", ours_run.violations);
}
