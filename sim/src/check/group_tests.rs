//! A group of upstreams tried in any order, with a cooldown after a 429, a
//! backoff floor, jitter on Retry-After and a Retry-After above the
//! maximum ignored (LiteLLM's Router's shape): a correct client of that
//! shape, drawn over many seeds, acquitted; each defect planted in it,
//! convicted by the oracle that names it.

use super::claim::{Claim, RetryAfterRule, UpstreamOrder};
use super::fixture::*;
use super::sdks::openai_python;
use super::upstreams::COOLDOWN_KEPT;
use super::{Context, check};
use crate::method::Method;
use crate::trace::{CallOutcome, ChunkId, Kind, Record};
use rand_chacha::rand_core::RngCore;

const S: u64 = 1_000 * MS;
const COOLDOWN: u64 = 5 * S;
const FLOOR: u64 = 600 * MS;
const JITTER: u64 = 750 * MS;
const UPSTREAMS: u32 = 3;

/// The group's claim: openai's backoff, 3 retries across 3 upstreams in
/// any order, a 60 s Retry-After waited with up to 750 ms more and ignored
/// above, a 600 ms floor, a 5 s cooldown.
fn group(server_waits: bool) -> Claim {
    let mut c = Claim {
        max_attempts: 4,
        retry_after: RetryAfterRule::Within {
            max_ns: 60 * S,
            zero_waited: false,
        },
        retry_after_jitter_ns: JITTER,
        upstreams: UPSTREAMS,
        upstream_order: UpstreamOrder::Any,
        cooldown_ns: Some(COOLDOWN),
        server_waits: Some(server_waits),
        ..openai_python()
    };
    c.backoff.floor_ns = FLOOR;
    c
}

/// One defect planted in the client, or none.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Defect {
    None,
    /// Picks any upstream, cooling or not.
    IgnoresCooldown,
    /// Draws its backoff without the floor.
    NoFloor,
    /// Adds up to twice the claimed jitter to a Retry-After.
    JitterTooLong,
    /// Waits a Retry-After above the maximum (clamped) instead of the backoff.
    ClampsAbove,
    /// Gives up after a failure with retries left and an upstream free.
    GivesUpEarly,
    /// Sends its retries to an upstream past the group.
    OutsideGroup,
}

/// A uniform draw in `[lo, hi]`.
fn uniform(rng: &mut impl RngCore, lo: u64, hi: u64) -> u64 {
    lo + rng.next_u64() % (hi - lo + 1)
}

/// The records of 12 calls one after another (the cooldowns of one outlive
/// it), each attempt answered ok, 503 or 429 (Retry-After none, 0, 1 s,
/// 3 s, and 90 s when `long_ra`), by a client of the group's claim with
/// `defect`.
fn client(seed: u64, defect: Defect, long_ra: bool) -> Vec<Record> {
    let mut rng = crate::seeds::stream(seed, "group client", 0);
    let mut cool_until = [0u64; UPSTREAMS as usize];
    let mut out = Vec::new();
    let mut t = 0;
    for call in 0..12u64 {
        let rec = |t: u64, kind: Kind| Record {
            t,
            client: 0,
            call,
            kind,
        };
        // A caller calls when some upstream is free (with none, the call
        // would end before reaching any).
        let free_at = *cool_until.iter().min().unwrap_or(&0);
        let mut at = t.max(free_at);
        out.push(rec(at, started(Method::Chat)));
        let mut n = 0u32;
        let ended = loop {
            let free: Vec<u32> = (0..UPSTREAMS)
                .filter(|&u| cool_until[u as usize] <= at)
                .collect();
            let u = match defect {
                Defect::IgnoresCooldown => uniform(&mut rng, 0, u64::from(UPSTREAMS) - 1) as u32,
                Defect::OutsideGroup if n > 0 => UPSTREAMS,
                _ => free[uniform(&mut rng, 0, free.len() as u64 - 1) as usize],
            };
            out.push(rec(at, attempt_at(n, u)));
            let end = at + uniform(&mut rng, 10, 50) * MS;
            let roll = uniform(&mut rng, 0, 99);
            if roll < 40 {
                let chunk = Some(ChunkId {
                    client: 0,
                    call,
                    stream: u64::from(n),
                    index: 0,
                });
                out.push(rec(end, ok(n)));
                out.push(rec(end, Kind::ChunkReceived { chunk }));
                break (end, CallOutcome::Ok);
            }
            let (status, ra_ms) = match roll < 65 {
                true => (503, None),
                false => {
                    let choices: &[Option<u64>] = match long_ra {
                        true => &[None, Some(0), Some(1_000), Some(3_000), Some(90_000)],
                        false => &[None, Some(0), Some(1_000), Some(3_000)],
                    };
                    (
                        429,
                        choices[uniform(&mut rng, 0, choices.len() as u64 - 1) as usize],
                    )
                }
            };
            out.push(rec(end, failed(n, status, ra_ms)));
            let failure = CallOutcome::Failed(crate::trace::Failure::Status {
                status,
                retry_after_ns: ra_ms.map(|m| m * MS),
                should_retry: None,
            });
            if status == 429 && (u as usize) < cool_until.len() {
                cool_until[u as usize] = cool_until[u as usize].max(end + COOLDOWN);
            }
            if u64::from(n) + 1 >= 4 {
                break (end, failure);
            }
            let wait = match ra_ms.map(|m| m * MS) {
                Some(ra) if ra > 0 && (ra <= 60 * S || defect == Defect::ClampsAbove) => {
                    let jitter = match defect {
                        Defect::JitterTooLong => 2 * JITTER,
                        _ => JITTER,
                    };
                    ra.min(60 * S) + uniform(&mut rng, 0, jitter)
                }
                _ => {
                    let base = ((500 * MS) << n).min(8 * S);
                    let drawn = base - uniform(&mut rng, 0, base / 4);
                    match defect {
                        Defect::NoFloor => drawn,
                        _ => drawn.max(FLOOR),
                    }
                }
            };
            let next = end + wait;
            let all_cooling = |x: u64| cool_until.iter().all(|&c| c > x);
            if all_cooling(end) && uniform(&mut rng, 0, 1) == 0 {
                break (end, failure);
            }
            if all_cooling(next) {
                break (next, failure);
            }
            if defect == Defect::GivesUpEarly && status == 503 {
                break (end, failure);
            }
            at = next;
            n += 1;
        };
        out.push(rec(ended.0, Kind::CallEnded { outcome: ended.1 }));
        t = ended.0 + uniform(&mut rng, 100, 2_000) * MS;
    }
    out
}

/// The oracles `records` break under `claim`, with the seed that replays them.
fn broken(records: Vec<Record>, claim: &Claim) -> Vec<String> {
    let found = check(&trace(records), claim, &Context::default());
    assert_readable(&found);
    found.into_iter().map(|v| v.to_string()).collect()
}

#[test]
fn a_correct_client_of_the_group_holds_every_oracle_over_many_seeds() {
    for seed in 0..300 {
        for (long_ra, server_waits) in [(true, false), (false, true), (false, false)] {
            let found = broken(client(seed, Defect::None, long_ra), &group(server_waits));
            assert!(
                found.is_empty(),
                "seed {seed} (long Retry-After {long_ra}, server waits {server_waits}): {found:#?}\n\
                 replay: cargo test -p provider-retry-sim --lib check::group_tests"
            );
        }
    }
}

#[test]
fn the_correct_client_exercises_the_new_oracles() {
    let mut judged = std::collections::BTreeSet::new();
    for seed in 0..20 {
        judged.extend(super::fixture::judged(
            client(seed, Defect::None, false),
            &group(true),
        ));
    }
    for oracle in [
        COOLDOWN_KEPT,
        super::server_waits::RETRY_AFTER_SHARED,
        "retry_after_honoured",
        "delay_within_envelope",
        "transient_retried",
        "no_sleep_after_final",
        "fallback_in_order",
    ] {
        assert!(judged.contains(oracle), "{oracle} never judged: {judged:?}");
    }
}

/// The first seed under 200 whose run `defect` makes break `oracle` under
/// `claim`, with everything it broke.
fn convicted(defect: Defect, long_ra: bool, claim: &Claim, oracle: &str) -> Vec<String> {
    (0..200)
        .map(|seed| broken(client(seed, defect, long_ra), claim))
        .find(|found| found.iter().any(|v| v.starts_with(&format!("[{oracle}]"))))
        .unwrap_or_else(|| panic!("{defect:?} never broke {oracle} in 200 seeds"))
}

#[test]
fn each_planted_defect_is_convicted_by_its_oracle() {
    for (defect, long_ra, oracle) in [
        (Defect::IgnoresCooldown, false, COOLDOWN_KEPT),
        (Defect::NoFloor, false, "delay_within_envelope"),
        (Defect::JitterTooLong, false, "retry_after_honoured"),
        (Defect::ClampsAbove, true, "delay_within_envelope"),
        (Defect::GivesUpEarly, false, "transient_retried"),
        (Defect::OutsideGroup, false, "fallback_in_order"),
    ] {
        let found = convicted(defect, long_ra, &group(false), oracle);
        let v = found
            .iter()
            .find(|v| v.starts_with(&format!("[{oracle}]")))
            .unwrap();
        assert!(
            !v.contains("upstream 0: "),
            "judged whole, not by part: {v}"
        );
    }
    // Picking a cooling upstream also reaches a server before its
    // Retry-After passed, under a claim that promises that.
    convicted(
        Defect::IgnoresCooldown,
        false,
        &group(true),
        super::server_waits::RETRY_AFTER_SHARED,
    );
}

#[test]
fn judged_as_a_fallback_chain_the_group_client_is_out_of_order() {
    let chain = Claim {
        upstream_order: UpstreamOrder::InOrder,
        ..group(false)
    };
    (0..50)
        .map(|seed| broken(client(seed, Defect::None, false), &chain))
        .find(|found| found.iter().any(|v| v.starts_with("[fallback_in_order]")))
        .expect("an any-order client goes back to an upstream a chain has left");
}

#[test]
fn a_retry_after_above_the_maximum_is_refused_clamped_or_ignored_as_claimed() {
    // One 429 with Retry-After 90 s, then a retry after `wait_ms`.
    let call = |wait_ms: u64| {
        vec![
            rec(0, started(Method::Chat)),
            rec(0, attempt(0)),
            rec(10, failed(0, 429, Some(90_000))),
            rec(10 + wait_ms, attempt(1)),
            rec(20 + wait_ms, ok(1)),
            rec(20 + wait_ms, received(1)),
            rec(20 + wait_ms, ended(CallOutcome::Ok)),
        ]
    };
    let with = |above: &str| {
        let mut c = openai_python();
        crate::check::adjust::set(&mut c, "retry_after_max=60s").unwrap();
        crate::check::adjust::set(&mut c, &format!("retry_after_above={above}")).unwrap();
        c
    };
    // Backoff: the first backoff, [375, 500] ms.
    assert_eq!(names(call(450), &with("backoff")), NONE);
    assert_eq!(
        names(call(60_000), &with("backoff")),
        ["delay_within_envelope"]
    );
    // Clamp: 60 s waited.
    assert_eq!(names(call(60_000), &with("clamp")), NONE);
    assert_eq!(names(call(450), &with("clamp")), ["retry_after_honoured"]);
    // Refuse: no retry at all.
    assert_eq!(
        names(call(60_000), &with("refuse")),
        ["retry_after_honoured"]
    );
}

#[test]
fn a_floor_raises_the_backoff_and_spares_a_retry_after() {
    let mut c = claim();
    c.backoff.floor_ns = 150 * MS;
    // The first backoff is 100 ms, raised to 150 ms; the second, 200 ms, is not.
    let backoff = |wait_ms: u64| {
        let mut t = good();
        for r in &mut t[3..] {
            r.t += wait_ms * MS - 100 * MS;
        }
        t
    };
    assert_eq!(names(backoff(150), &c), NONE);
    assert_eq!(names(backoff(100), &c), ["delay_within_envelope"]);
    assert_eq!(names(backoff(100), &claim()), NONE);
    // A Retry-After of 50 ms is waited as asked, below the floor.
    let retry_after = |wait_ms: u64| {
        vec![
            rec(0, started(Method::Chat)),
            rec(0, attempt(0)),
            rec(10, failed(0, 429, Some(50))),
            rec(10 + wait_ms, attempt(1)),
            rec(20 + wait_ms, ok(1)),
            rec(20 + wait_ms, received(1)),
            rec(20 + wait_ms, ended(CallOutcome::Ok)),
        ]
    };
    assert_eq!(names(retry_after(50), &c), NONE);
    assert_eq!(names(retry_after(150), &c), ["retry_after_honoured"]);
}

#[test]
fn a_retry_sent_at_once_to_a_free_upstream_has_not_cut_a_retry_after_short() {
    // A 429 with Retry-After 3 s from upstream 0, the retry 20 ms later.
    let call = |to: u32| {
        vec![
            rec(0, started(Method::Chat)),
            rec(0, attempt_at(0, 0)),
            rec(10, failed(0, 429, Some(3_000))),
            rec(30, attempt_at(1, to)),
            rec(40, ok(1)),
            rec(40, received(1)),
            rec(40, ended(CallOutcome::Ok)),
        ]
    };
    // The 429 cooled upstream 0; upstream 1 is free: no sleep owed.
    assert_eq!(names(call(1), &group(true)), NONE);
    // Back at the upstream that asked: too soon, into its cooldown, and
    // before its Retry-After passed.
    assert_eq!(
        names(call(0), &group(true)),
        [
            "retry_after_honoured",
            COOLDOWN_KEPT,
            super::server_waits::RETRY_AFTER_SHARED
        ]
    );
    // Without a cooldown nothing is left for the Retry-After to cool:
    // every retry waits it out.
    let no_cooldown = Claim {
        cooldown_ns: None,
        ..group(false)
    };
    assert_eq!(names(call(1), &no_cooldown), ["retry_after_honoured"]);
}
