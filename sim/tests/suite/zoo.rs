//! A zoo of planted defects: one hand-written retry wrapper, `Planted<P>`,
//! with exactly one defect switched on per variant, each claiming
//! provider-retry's documented semantics. Every defect must be caught by
//! the oracle named for the rule it breaks, on a scenario aimed at that
//! rule; the control (`Defect::None`) must hold every oracle on all of them.
//!
//! | module | role |
//! |---|---|
//! | `defect` | the planted defects, one per variant |
//! | `detached` | the variants whose work outlives a caller that dropped the call |
//! | `planted` | the wrapper: backoff, attempt timeout, the one retry loop |
//! | `stream` | idle-bounded streams; the re-open defects |
//! | `provider` | every `Provider` method forwarded, retried ones through the loop |
//! | `subject` | each variant as a `Subject`, under provider-retry's claim or its own |
//! | `cases` | the scenarios (TOML in the test) and the judging helpers |
//! | `throttle` | throttled wrappers with one defect each, against a claimed shared pause |
//! | `answered` | throttles answering held attempts, one defect each, against a claimed answered pause |
//! | `false_alarms` | correct wrappers the full-size sweeps once convicted, acquitted |

#[path = "zoo/answered.rs"]
mod answered;
#[path = "zoo/cases.rs"]
pub(crate) mod cases;
#[path = "zoo/defect.rs"]
pub(crate) mod defect;
#[path = "zoo/detached.rs"]
mod detached;
#[path = "zoo/false_alarms.rs"]
mod false_alarms;
#[path = "zoo/planted.rs"]
mod planted;
#[path = "zoo/provider.rs"]
mod provider;
#[path = "zoo/stream.rs"]
mod stream;
#[path = "zoo/subject.rs"]
mod subject;
#[path = "zoo/throttle.rs"]
mod throttle;

use cases::{Case, assert_caught, assert_control_holds, assert_holds};
use defect::Defect;
use subject::Truthful;

/// Which oracle catches each defect, and on which scenario.
const CAUGHT_BY: [(Defect, &Case, &str); 32] = [
    (
        Defect::OverflowsDoublingBackoff,
        &cases::MANY_RETRIES,
        "no_panic",
    ),
    (
        Defect::SleepsAfterFinalAttempt,
        &cases::EXHAUSTED,
        "no_sleep_after_final",
    ),
    (
        Defect::RetriesBadRequest,
        &cases::BAD_REQUEST,
        "non_transient_once",
    ),
    (
        Defect::IgnoresRetryAfter,
        &cases::RETRY_AFTER,
        "retry_after_honoured",
    ),
    (
        Defect::JittersRetryAfter,
        &cases::RETRY_AFTER,
        "retry_after_honoured",
    ),
    (
        Defect::WaitsPastDeadline,
        &cases::DEADLINE,
        "deadline_respected",
    ),
    (
        Defect::NoAttemptTimeout,
        &cases::SLOW,
        "attempt_within_timeout",
    ),
    (Defect::TimeoutCheckedAfterAnswer, &cases::HANG, "calls_end"),
    (
        Defect::ReplaysFailedStream,
        &cases::STREAM_FAIL,
        "stream_integrity",
    ),
    (
        Defect::SplicesSecondStream,
        &cases::STREAM_FAIL,
        "stream_integrity",
    ),
    (
        Defect::EqualJitterClaimedFull,
        &cases::FULL_JITTER,
        "delay_distribution",
    ),
    (
        Defect::TriplingSchedule,
        &cases::EXHAUSTED,
        "delay_within_envelope",
    ),
    (
        Defect::JitterAddedAfterCap,
        &cases::CAPPED,
        "delay_within_envelope",
    ),
    (
        Defect::AnthropicNotRetried,
        &cases::ANTHROPIC,
        "transient_retried",
    ),
    (Defect::CompleteNotForwarded, &cases::COMPLETE, "forwarding"),
    (
        Defect::OpenAiCompatAlwaysFalse,
        &cases::HEALTHY,
        "capabilities",
    ),
    (Defect::OneExtraRetry, &cases::EXHAUSTED, "attempts_bounded"),
    (
        Defect::RetriesImageGeneration,
        &cases::IMAGE,
        "not_retried_once",
    ),
    (
        Defect::NoStreamIdleBound,
        &cases::DRIPPING,
        "stream_idle_bounded",
    ),
    (
        Defect::FirstChunkUnderIdleBound,
        &cases::SILENT_FIRST,
        "stream_cut_at_bound",
    ),
    (
        Defect::MisreportsDelay,
        &cases::FULL_JITTER,
        "reported_agrees",
    ),
    (
        Defect::MisreportsGiveUp,
        &cases::BAD_REQUEST,
        "reported_agrees",
    ),
    (Defect::StuckBreaker, &cases::HEAL, "liveness_after_heal"),
    (
        Defect::ReadsWallClock,
        &cases::FULL_JITTER,
        cases::DETERMINISM,
    ),
    (
        Defect::OpenAiStyle,
        &cases::FULL_JITTER,
        "delay_distribution",
    ),
    (
        Defect::FactorOneAndAHalf,
        &cases::EXHAUSTED,
        "delay_within_envelope",
    ),
    // One wrapper shared by every caller, and what each attempt sends
    // (the network world's catches are in the block at the end).
    (
        Defect::LockHeldAcrossBackoff,
        &cases::SHARED_HERD,
        "first_attempt_at_once",
    ),
    (
        Defect::LockStepJitter,
        &cases::SHARED_HERD,
        "delays_independent",
    ),
    (
        Defect::AltersRetriedRequest,
        &cases::SHARED_HERD,
        "request_unchanged",
    ),
    // Callers that walk away, and attempts cut short.
    (
        Defect::RetriesAfterCallerLeft,
        &cases::WALK_AWAY,
        "no_attempt_after_drop",
    ),
    (
        Defect::AttemptOutlivesCaller,
        &cases::WALK_AWAY,
        "abandoned_on_drop",
    ),
    (
        Defect::CallWideAttemptTimer,
        &cases::HANG_AFTER_FAILURE,
        "attempt_not_cut_early",
    ),
];

fn caught(defect: Defect) {
    let (_, case, oracle) = CAUGHT_BY
        .iter()
        .find(|(d, _, _)| *d == defect)
        .unwrap_or_else(|| panic!("{} has no row in CAUGHT_BY", defect.name()));
    assert_caught(defect, case, oracle);
}

macro_rules! caught {
    ($($test:ident => $defect:ident),* $(,)?) => {
        $(
            #[test]
            fn $test() {
                caught(Defect::$defect);
            }
        )*
    };
}

// Each test's name is `cases::test_name` of its defect, so a failure's
// reproduce command names it.
caught! {
    overflows_doubling_backoff_is_caught => OverflowsDoublingBackoff,
    sleeps_after_final_attempt_is_caught => SleepsAfterFinalAttempt,
    retries_bad_request_is_caught => RetriesBadRequest,
    ignores_retry_after_is_caught => IgnoresRetryAfter,
    jitters_retry_after_is_caught => JittersRetryAfter,
    waits_past_deadline_is_caught => WaitsPastDeadline,
    no_attempt_timeout_is_caught => NoAttemptTimeout,
    timeout_checked_after_answer_is_caught => TimeoutCheckedAfterAnswer,
    replays_failed_stream_is_caught => ReplaysFailedStream,
    splices_second_stream_is_caught => SplicesSecondStream,
    equal_jitter_claimed_full_is_caught => EqualJitterClaimedFull,
    tripling_schedule_is_caught => TriplingSchedule,
    jitter_added_after_cap_is_caught => JitterAddedAfterCap,
    anthropic_not_retried_is_caught => AnthropicNotRetried,
    complete_not_forwarded_is_caught => CompleteNotForwarded,
    openai_compat_always_false_is_caught => OpenAiCompatAlwaysFalse,
    one_extra_retry_is_caught => OneExtraRetry,
    retries_image_generation_is_caught => RetriesImageGeneration,
    no_stream_idle_bound_is_caught => NoStreamIdleBound,
    first_chunk_under_idle_bound_is_caught => FirstChunkUnderIdleBound,
    misreports_delay_is_caught => MisreportsDelay,
    misreports_give_up_is_caught => MisreportsGiveUp,
    stuck_breaker_is_caught => StuckBreaker,
    reads_wall_clock_is_caught => ReadsWallClock,
    openai_style_is_caught => OpenAiStyle,
    factor_one_and_a_half_is_caught => FactorOneAndAHalf,
    lock_held_across_backoff_is_caught => LockHeldAcrossBackoff,
    lock_step_jitter_is_caught => LockStepJitter,
    alters_retried_request_is_caught => AltersRetriedRequest,
    // Callers that walk away, and attempts cut short.
    retries_after_caller_left_is_caught => RetriesAfterCallerLeft,
    attempt_outlives_caller_is_caught => AttemptOutlivesCaller,
    call_wide_attempt_timer_is_caught => CallWideAttemptTimer,
}

// Callers that walk away, and attempts cut short: the network world shows
// them too (the probe sits above the HTTP client, on the client's host).

/// The same defects, caught by the same oracles over the network.
const CAUGHT_OVER_THE_NETWORK: [(Defect, &Case, &str); 3] = [
    (
        Defect::RetriesAfterCallerLeft,
        &cases::NET_WALK_AWAY,
        "no_attempt_after_drop",
    ),
    (
        Defect::AttemptOutlivesCaller,
        &cases::NET_WALK_AWAY,
        "abandoned_on_drop",
    ),
    (
        Defect::CallWideAttemptTimer,
        &cases::NET_HANG_AFTER_FAILURE,
        "attempt_not_cut_early",
    ),
];

#[test]
fn walking_away_and_cutting_short_are_caught_over_the_network() {
    for (defect, case, oracle) in CAUGHT_OVER_THE_NETWORK {
        assert_caught(defect, case, oracle);
    }
}

/// The control, and the variants correct under their own claims, hold
/// every oracle on the scenarios of callers that walk away and attempts
/// cut short, in both worlds.
#[test]
fn correct_variants_hold_when_callers_walk_away_and_attempts_time_out() {
    for case in cases::LEFT_OR_CUT {
        assert_control_holds(case);
        for defect in [Defect::OpenAiStyle, Defect::FactorOneAndAHalf] {
            assert_holds(&Truthful(defect), defect, case);
        }
    }
}

/// The variants whose schedule is not provider-retry's, yet correct:
/// claimed truthfully, each holds every oracle on every zoo scenario.
#[test]
fn openai_style_holds_every_oracle_under_its_own_claim() {
    for case in cases::ALL {
        assert_holds(&Truthful(Defect::OpenAiStyle), Defect::OpenAiStyle, case);
    }
}

#[test]
fn factor_one_and_a_half_holds_every_oracle_under_its_own_claim() {
    for case in cases::ALL {
        let defect = Defect::FactorOneAndAHalf;
        assert_holds(&Truthful(defect), defect, case);
    }
}

/// The truthful claims are not vacuous: each says something provider-retry's
/// does not, and its variant's scenario shows the difference.
#[test]
fn truthful_claims_differ_from_provider_retry() {
    for defect in [Defect::OpenAiStyle, Defect::FactorOneAndAHalf] {
        let (_, case, _) = CAUGHT_BY.iter().find(|(d, _, _)| *d == defect).unwrap();
        let policy = case.scenario().policy;
        assert_ne!(
            subject::truthful_claim(defect, &policy),
            provider_retry_sim::check::Claim::provider_retry(&policy),
            "{}",
            defect.name()
        );
    }
}

/// Every verdict a person reads speaks human units: what each planted
/// defect's run reports (its violations, missed expectations, and for the
/// wall-clock reader, where two runs diverge) holds no raw nanosecond
/// count and no `Debug` text, in either world. Every oracle a defect here
/// is caught by has its text read.
#[test]
fn every_planted_defect_is_reported_in_human_units() {
    use provider_retry_sim::readable::unreadable;
    let mut read = std::collections::BTreeSet::new();
    let mut raw = Vec::new();
    for (defect, case, oracle) in CAUGHT_BY.iter().chain(&CAUGHT_OVER_THE_NETWORK) {
        let twice = *oracle == cases::DETERMINISM;
        for e in case.evaluate(*defect, twice) {
            read.extend(e.violations.iter().map(|v| v.oracle));
            raw.extend(e.failures(case.name).into_iter().filter_map(|line| {
                let found = unreadable(&line)?;
                Some(format!(
                    "{found:?} in {line}\n  {}",
                    case.replay(e.seed, *defect)
                ))
            }));
        }
    }
    assert!(
        raw.is_empty(),
        "verdicts not in human text:\n{}",
        raw.join("\n")
    );
    for (_, _, oracle) in CAUGHT_BY {
        assert!(
            oracle == cases::DETERMINISM || read.contains(oracle),
            "no violation of {oracle} was read"
        );
    }
}

#[test]
fn control_holds_every_oracle_on_every_zoo_scenario() {
    for case in cases::ALL {
        assert_control_holds(case);
    }
}

#[test]
fn every_planted_defect_has_exactly_one_catching_oracle() {
    for defect in Defect::ALL.into_iter().skip(1) {
        let rows = CAUGHT_BY.iter().filter(|(d, _, _)| *d == defect).count();
        assert_eq!(rows, 1, "{} must have one row in CAUGHT_BY", defect.name());
    }
    let mut names: Vec<&str> = Defect::ALL.iter().map(|d| d.name()).collect();
    names.sort_unstable();
    names.dedup();
    assert_eq!(
        names.len(),
        Defect::ALL.len(),
        "variant names must be distinct"
    );
}

/// The planted defect must show in the trace of its own scenario, judge or
/// no judge: otherwise the scenario does not exercise the rule it breaks.
#[test]
fn every_planted_defect_changes_what_happens_on_its_scenario() {
    for (defect, case, _) in CAUGHT_BY {
        let control = case.evaluate(Defect::None, false);
        let planted = case.evaluate(defect, false);
        let same = control.iter().zip(&planted).all(|(c, p)| {
            provider_retry_sim::trace::first_divergence(&c.trace, &p.trace).is_none()
        });
        assert!(
            !same,
            "{} behaves exactly like the control on {}\n{}",
            defect.name(),
            case.name,
            case.replay(case.seeds.start, defect)
        );
    }
}

/// The control conforms on the simulator's own suite too: every built-in
/// scenario in both worlds, and generated ones.
#[test]
fn control_holds_every_oracle_in_the_conformance_suite() {
    assert_conforms(
        &subject::Zoo(Defect::None),
        "zoo-control",
        "control_holds_every_oracle_in_the_conformance_suite",
    );
}

/// So do the variants that are correct under their own claims.
#[test]
fn truthful_variants_hold_every_oracle_in_the_conformance_suite() {
    for defect in [Defect::OpenAiStyle, Defect::FactorOneAndAHalf] {
        assert_conforms(
            &Truthful(defect),
            &format!("zoo-truthful-{}", defect.name()),
            "truthful_variants_hold_every_oracle_in_the_conformance_suite",
        );
    }
}

/// Assert that `subject` holds every oracle over the conformance suite.
fn assert_conforms<S: provider_retry_sim::subject::Subject>(subject: &S, name: &str, test: &str) {
    use provider_retry_sim::run::conform::{Options, suite, table};
    let options = Options {
        seeds: 2,
        net_seeds: 1,
        cases: 16,
        ..Options::default()
    };
    let report =
        suite(subject, name, &options).unwrap_or_else(|e| panic!("the suite could not run: {e}"));
    let findings: Vec<String> = report
        .findings
        .values()
        .map(|f| {
            format!(
                "{} ({}; replay: {})",
                f.violation,
                f.name,
                provider_retry_sim::run::replay_command(&f.name, f.seed, "ours")
            )
        })
        .collect();
    assert!(
        report.held(),
        "{}\n{findings:#?}\n{:?}\nthis variant: cargo test -p provider-retry-sim --test suite -- --exact zoo::{test}",
        table(std::slice::from_ref(&report)),
        report.nondeterministic
    );
}

/// Generated scenarios judge what built-in ones were written for: callers
/// that walk away and (pooled over seeds) the jitter's draws. A defect of
/// each kind is found in the generated family alone. (Heals are drawn
/// too, but a breaker that opens after three failed calls needs more
/// failures before the heal than a drawn one holds: `zoo-heal` finds it.)
#[test]
fn generated_scenarios_find_the_defects_written_into_built_ins() {
    use provider_retry_sim::run::conform::{Family, Options, suite};
    let options = Options {
        net_seeds: 0,
        ..Options::default()
    };
    // A retry loop left running for nobody keeps its attempt in flight
    // too: which of the two shows first depends on where the drop fell.
    let dropped: &[&str] = &["no_attempt_after_drop", "abandoned_on_drop"];
    for (defect, oracles) in [
        (Defect::RetriesAfterCallerLeft, dropped),
        (Defect::AttemptOutlivesCaller, &["abandoned_on_drop"]),
        (Defect::OpenAiStyle, &["delay_distribution"]),
        (Defect::LockStepJitter, &["delays_independent"]),
    ] {
        let report = suite(&subject::Zoo(defect), defect.name(), &options).unwrap();
        assert!(
            oracles
                .iter()
                .any(|o| report.finding(o, Family::Generated).is_some()),
            "{} not found by {oracles:?} in generated scenarios: {:?}",
            defect.name(),
            report.findings.keys().collect::<Vec<_>>()
        );
    }
}

// -- One wrapper shared by every caller, and what each attempt sends --

/// The sharing defects are caught over the simulated network too, the
/// clients on one gateway host sharing the wrapper.
#[test]
fn sharing_defects_are_caught_over_the_network() {
    for (defect, oracle) in [
        (Defect::LockHeldAcrossBackoff, "first_attempt_at_once"),
        (Defect::LockStepJitter, "delays_independent"),
        (Defect::AltersRetriedRequest, "request_unchanged"),
    ] {
        assert_caught(defect, &cases::NET_SHARED_HERD, oracle);
    }
}

/// Sharing is what shows a lock held across the backoff: with a wrapper
/// per client (one call at a time each), nobody queues behind it.
#[test]
fn a_lock_across_the_backoff_shows_only_when_the_wrapper_is_shared() {
    let per_client = cases::Case {
        name: "zoo-per-client-herd",
        seeds: 0..1,
        toml: &*Box::leak(
            cases::SHARED_HERD
                .toml
                .replace("zoo-shared-herd", "zoo-per-client-herd")
                .replace("\"shared\"", "\"per_client\"")
                .into_boxed_str(),
        ),
    };
    assert!(per_client.toml.contains("per_client"));
    let runs = per_client.evaluate(Defect::LockHeldAcrossBackoff, false);
    let fired: Vec<String> = runs
        .iter()
        .flat_map(|e| e.failures(per_client.name))
        .collect();
    assert!(fired.is_empty(), "{fired:#?}");
    assert_caught(
        Defect::LockHeldAcrossBackoff,
        &cases::SHARED_HERD,
        "first_attempt_at_once",
    );
}
