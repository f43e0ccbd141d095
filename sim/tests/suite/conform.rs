//! The conformance suite against the built-in subjects and the peers, in
//! both worlds: ours holds every oracle, the bare provider, crabllm's
//! wrapper and the peers break the ones their code breaks (each peer's
//! finding is shown with the library alone in `tests/peers.rs`), and the
//! guide (`docs/conformance.md`) shows the suite's table.

use provider_retry_sim::run::conform::{Family, Options, Report, suite, suites, table};
use provider_retry_sim::subject::{
    Backon, BackonAdjust, Bare, Crabllm, Ours, OursJitter, Reference, Subject, SubjectName,
    TokioRetry2, Tower,
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

/// Under the default options every oracle and family pair is exercised
/// on our wrapper, but those no scenario of the family can reach (each
/// with its reason); and the generated scenarios fire every fault kind the
/// generator draws.
#[test]
fn the_suite_exercises_every_pair_it_can_reach() {
    use provider_retry_sim::generate::DRAWN;
    use provider_retry_sim::run::conform::why_unexercisable;
    let report = suite(&Ours, "ours", &Options::default()).unwrap();
    let unexercised = report.unexercised();
    for (oracle, family) in &unexercised {
        assert!(
            why_unexercisable(oracle, *family).is_some(),
            "{oracle} in {family} was not exercised\nreplay: cargo run --release -p provider-retry-sim -- conform ours"
        );
    }
    let generated = &report.fired[&Family::Generated];
    assert_eq!(generated.missing(DRAWN), [], "{generated}");
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

/// tower: its policy holds every oracle the suite has (its other defects
/// are below the suite's resolution: `tests/peers.rs`) but for one defect:
/// `Retry` clones the policy, its backoff's random state included, for
/// every request, so every call through one shared instance draws the
/// same jitter, and concurrent callers retry in lock-step. Besides
/// `delays_independent`, `delay_distribution` may see it: its test assumes
/// independent draws, and the same places drawn again and again pile up.
#[test]
fn tower_holds_every_oracle_but_draws_every_calls_jitter_alike() {
    let r = report(&Tower, "tower");
    let lock_step = ["delays_independent", "delay_distribution"];
    let others: Vec<_> = r
        .findings
        .keys()
        .filter(|(oracle, _)| !lock_step.contains(oracle))
        .collect();
    assert!(others.is_empty(), "{:#?}", r.findings);
    assert!(r.nondeterministic.is_none(), "{:?}", r.nondeterministic);
    let f = finding(&r, "delays_independent", Family::BuiltIn);
    assert!(f.violation.detail.contains("Kendall"), "{f:?}");
}

/// The guide's conformance table, to be compared with what the suite prints.
fn guide_rows() -> Vec<String> {
    let chapter = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../docs/conformance.md"
    ))
    .unwrap();
    chapter.lines().map(str::to_string).collect()
}

#[test]
fn the_guide_shows_the_table_the_suite_prints() {
    let options = Options::default();
    // Every subject, in the order `retry-sim conform` prints them.
    let reports = suites(&SubjectName::ALL, &options, &|| ()).unwrap();
    // crabllm's and tokio-retry2's jitter come from the thread RNG: which
    // case first shows a violation, and in how many of its repeated runs,
    // changes from run to run. Their columns are compared by verdict where
    // the verdict is certain (violated in every run of its case,
    // "violated (n/n runs)"); any other cell of those columns may read
    // "held" (with any count), "violated" or "not exercised" on either side.
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
                    if c.contains("held")
                        || c.contains("violated")
                        || c == provider_retry_sim::check::verdict::NOT_JUDGED =>
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
    let guide = guide_rows();
    let table = table(&reports);
    for row in table.lines() {
        let expected = cells(row);
        let found = guide.iter().any(|line| same(&cells(line), &expected));
        assert!(
            found,
            "docs/conformance.md lacks the row {row}\nregenerate: cargo run --release -p provider-retry-sim -- conform"
        );
    }
    // And the guide shows no verdict row the suite does not print.
    let rows = table.lines().count();
    let start = guide
        .iter()
        .position(|l| l.starts_with("| oracle | family |"))
        .expect("docs/conformance.md has the table");
    let shown = guide[start..]
        .iter()
        .take_while(|l| l.starts_with('|'))
        .count();
    assert_eq!(
        shown, rows,
        "the guide's table has {shown} rows, the suite prints {rows}"
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

/// The false-alarm sweep at CI size: every correct wrapper, one of each
/// jitter shape a claim can express (provider-retry's none, equal, full
/// and decorrelated; OpenAI's `[0.75 b, b]` and additive jitter from the
/// reference loop), holds every oracle on every
/// built-in scenario of both worlds and on generated ones, the delay
/// distribution pooled over seeds. The full size (1,000 seeds) is the
/// command this prints; its result is in `docs/conformance.md`.
#[test]
fn correct_wrappers_of_every_jitter_shape_hold_every_oracle() {
    let options = Options {
        seeds: 24,
        net_seeds: 2,
        cases: 8,
        seed: 1,
        repeats: 1,
    };
    let reports = suites(&SubjectName::CORRECT, &options, &|| ()).unwrap();
    for r in &reports {
        assert!(
            r.held(),
            "{}: {:#?}\n{:?}\nreplay: cargo run --release -p provider-retry-sim -- conform {} --seeds 24 --net-seeds 2 --cases 8 --seed 1",
            r.subject,
            r.findings,
            r.nondeterministic,
            r.key
        );
    }
    assert_eq!(reports.len(), 9, "one report per correct wrapper");
}

/// The delay samples of `subject` on `scenario` over seeds `0..seeds`.
fn pooled_samples<S: Subject>(
    subject: &S,
    judged_as: &impl Subject,
    scenario: &str,
    seeds: u64,
) -> provider_retry_sim::check::distribution::Samples {
    use provider_retry_sim::check::distribution::{Samples, samples};
    let scenario = provider_retry_sim::builtin::get(scenario).unwrap().unwrap();
    let claim = judged_as.claim(&scenario.policy);
    let mut all = Samples::default();
    for seed in 0..seeds {
        let e = provider_retry_sim::run::evaluate(subject, &scenario, seed, false).unwrap();
        all.extend(samples(&e.trace, &claim));
    }
    all
}

/// The false conviction this pins: provider-retry with full jitter under
/// retry-deadline's 1.5 s deadline gives up rather than begin a wait past
/// it, so the waits it takes are short of the whole envelope (KS D 0.058
/// against a critical 0.033 over 200 seeds before the judge truncated the
/// envelope at the deadline). It holds; equal jitter judged as full on the
/// same scenario is still caught.
#[test]
fn full_jitter_under_a_deadline_holds_and_a_wrong_draw_there_is_caught() {
    use provider_retry_sim::check::distribution::test;
    use provider_retry_sim::scenario::JitterSpec;
    let full = OursJitter(JitterSpec::Full);
    let policy = provider_retry_sim::builtin::get("retry-deadline")
        .unwrap()
        .unwrap()
        .policy;
    let claim = full.claim(&policy);
    let honest = pooled_samples(&full, &full, "retry-deadline", 200);
    assert!(honest.len() > 5_000, "{}", honest.len());
    assert_eq!(
        test(&honest, &claim),
        None,
        "replay: cargo run --release -p provider-retry-sim -- conform ours-full --seeds 200"
    );
    let equal = OursJitter(JitterSpec::Equal);
    let planted = pooled_samples(&equal, &full, "retry-deadline", 200);
    let verdict = test(&planted, &claim).expect("equal jitter judged as full");
    assert!(verdict.contains("KS D"), "{verdict}");
}

/// The reference loop draws what it claims: additive jitter judged as
/// scaled (OpenAI's) is caught, so its acquittal above is no blind spot.
#[test]
fn the_reference_loops_are_told_apart_by_their_draws() {
    use provider_retry_sim::check::distribution::test;
    use provider_retry_sim::subject::peers::reference::Shape;
    let (openai, added) = (Reference(Shape::OpenAi), Reference(Shape::Added));
    let policy = provider_retry_sim::builtin::get("retry-deadline")
        .unwrap()
        .unwrap()
        .policy;
    let own = pooled_samples(&added, &added, "retry-deadline", 100);
    assert_eq!(test(&own, &added.claim(&policy)), None);
    let wrong = pooled_samples(&added, &openai, "retry-deadline", 100);
    assert!(test(&wrong, &openai.claim(&policy)).is_some());
}
