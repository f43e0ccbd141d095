//! Every field of the fault plan means the same in both worlds.
//!
//! One backend answers the in-process world and the network world's HTTP
//! server, so a scenario run in either must give every call the same
//! sequence of attempt outcomes (for a status: its code, and whether a
//! Retry-After came with it), the same number of stream items received,
//! and the same end. Each case below runs one scenario in both worlds,
//! the network's link latency pinned to 0, and checks that, then checks
//! that the field did something: without it, the outcomes (or, for the
//! fields that only move time, the attempt durations) are not the same.
//!
//! Windowed fields depend on the clock, and the network adds a few
//! milliseconds to every attempt; their cases keep every attempt well
//! away from a window's edge, and check that they did.

use provider_retry_sim::run::{Evaluation, evaluate};
use provider_retry_sim::scenario::Scenario;
use provider_retry_sim::subject::Ours;
use provider_retry_sim::trace::{AttemptOutcome, CallOutcome, Failure, Kind, Trace};
use std::collections::BTreeMap;
use std::path::Path;

const SEED: u64 = 7;

/// How much later (ms) an attempt may end over the network than in
/// process: the connection and the request and answer on the wire.
const SLACK_MS: f64 = 25.0;

/// How far (ms) every attempt of a windowed case must arrive from a
/// window's edge in process, so the network's few ms cannot move it across.
const MARGIN_MS: u64 = 60;

/// What an attempt or a call ended as, in kind.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Seen {
    Ok,
    Dropped,
    Status { status: u16, retry_after: bool },
    Network,
    Decode,
    Timeout,
    Other(String),
}

impl Seen {
    fn of_failure(f: &Failure) -> Self {
        match f {
            Failure::Status {
                status,
                retry_after_ns,
                ..
            } => Seen::Status {
                status: *status,
                retry_after: retry_after_ns.is_some(),
            },
            Failure::Network => Seen::Network,
            Failure::Decode => Seen::Decode,
            Failure::Timeout => Seen::Timeout,
            other => Seen::Other(other.to_string()),
        }
    }
}

/// One call, as both worlds must agree on it.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Shape {
    attempts: Vec<Seen>,
    chunks: usize,
    /// `Some(timeout)` when the caller's stream ended in an error.
    stream_failed: Option<bool>,
    ended: Option<Seen>,
}

/// One attempt's times (ms) and the Retry-After it carried (ms).
#[derive(Debug, Clone, Copy)]
struct Timing {
    start: f64,
    end: Option<f64>,
    retry_after: Option<f64>,
}

impl Timing {
    fn duration(&self) -> Option<f64> {
        self.end.map(|e| e - self.start)
    }
}

type Calls<T> = BTreeMap<(u32, u64), T>;

fn ms(ns: u64) -> f64 {
    ns as f64 / 1e6
}

fn shapes(trace: &Trace) -> Calls<Shape> {
    trace
        .calls()
        .into_iter()
        .map(|(key, records)| {
            let mut shape = Shape {
                attempts: Vec::new(),
                chunks: 0,
                stream_failed: None,
                ended: None,
            };
            for r in records {
                match &r.kind {
                    Kind::AttemptEnded { outcome, .. } => shape.attempts.push(match outcome {
                        AttemptOutcome::Ok => Seen::Ok,
                        AttemptOutcome::Dropped => Seen::Dropped,
                        AttemptOutcome::Failed(f) => Seen::of_failure(f),
                    }),
                    Kind::ChunkReceived { .. } => shape.chunks += 1,
                    Kind::StreamFailed { timeout } => shape.stream_failed = Some(*timeout),
                    Kind::CallEnded { outcome } => {
                        shape.ended = Some(match outcome {
                            CallOutcome::Ok => Seen::Ok,
                            CallOutcome::Failed(f) => Seen::of_failure(f),
                            CallOutcome::Panicked { message } => {
                                Seen::Other(format!("panic: {message}"))
                            }
                        })
                    }
                    _ => {}
                }
            }
            (key, shape)
        })
        .collect()
}

fn timings(trace: &Trace) -> Calls<Vec<Timing>> {
    trace
        .calls()
        .into_iter()
        .map(|(key, records)| {
            let mut out: Vec<Timing> = Vec::new();
            for r in records {
                match &r.kind {
                    Kind::AttemptStarted { .. } => out.push(Timing {
                        start: ms(r.t),
                        end: None,
                        retry_after: None,
                    }),
                    Kind::AttemptEnded { outcome, .. } => {
                        if let Some(last) = out.last_mut() {
                            last.end = Some(ms(r.t));
                            if let AttemptOutcome::Failed(Failure::Status {
                                retry_after_ns: Some(ra),
                                ..
                            }) = outcome
                            {
                                last.retry_after = Some(ms(*ra));
                            }
                        }
                    }
                    _ => {}
                }
            }
            (key, out)
        })
        .collect()
}

/// What the field's effect shows in.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Effect {
    /// The calls' outcomes differ without the field.
    Outcomes,
    /// Only time moves: some attempt takes at least this much longer
    /// (ms), in both worlds, than without the field.
    Slower(f64),
    /// The field must change nothing: the case checks that something
    /// else undoes it the same way in both worlds.
    Nothing,
}

/// Time windows every attempt must keep `MARGIN_MS` away from.
#[derive(Debug, Clone, Copy)]
enum Edges {
    None,
    /// These instants (ms).
    At(&'static [u64]),
    /// Every multiple of this period (ms) after 0 (nothing arrives
    /// before the world begins).
    Every(u64),
}

/// One fault field, in a scenario that shows it.
struct Case {
    /// Lines under `[policy]`.
    policy: &'static str,
    /// Lines under `[faults]` present with and without the field.
    common: &'static str,
    /// The field's lines under `[faults]`.
    field: &'static str,
    /// Lines under `[workload]` (`kind = "closed"` is given).
    workload: &'static str,
    effect: Effect,
    edges: Edges,
    /// Ok attempts in process must end this far (ms) below the policy's
    /// timeout, so the network's added time cannot make them time out.
    timeout_ms: Option<f64>,
    /// The Retry-After is the time left in a window, counted from the
    /// attempt's arrival, which the network delays by a few ms: it may
    /// arrive that much shorter.
    retry_after_shrinks: bool,
}

const CASE: Case = Case {
    policy: "",
    common: "",
    field: "",
    workload: "",
    effect: Effect::Outcomes,
    edges: Edges::None,
    timeout_ms: None,
    retry_after_shrinks: false,
};

/// The network's links, pinned to no latency: only the network world
/// takes the table (in process it is refused, since it would be ignored).
fn network_table(world: &str) -> &'static str {
    match world {
        "network" => "[network]\nlatency_min_ms = 0\nlatency_max_ms = 0\n",
        _ => "",
    }
}

/// Scenario text in `world`, with or without the field.
fn text(case: &Case, world: &str, with_field: bool) -> String {
    let field = if with_field { case.field } else { "" };
    format!(
        "name = \"worlds\"\nworld = \"{world}\"\n\n[policy]\njitter = \"none\"\n{}\n\n\
         [faults]\n{}\n{field}\n\n[workload]\nkind = \"closed\"\n{}\n\n{}",
        case.policy,
        case.common,
        case.workload,
        network_table(world)
    )
}

fn run(text: &str) -> Evaluation {
    let scenario = Scenario::parse(Path::new("worlds.toml"), text)
        .unwrap_or_else(|e| panic!("{e}\nseed {SEED}\n--- scenario ---\n{text}"));
    evaluate(&Ours, &scenario, SEED, false)
        .unwrap_or_else(|e| panic!("{e}\nseed {SEED}\n--- scenario ---\n{text}"))
}

/// The scenario and seed, for every assertion message.
fn about(text: &str) -> String {
    format!("seed {SEED}\n--- scenario ---\n{text}--- end of scenario ---")
}

fn trace_text(e: &Evaluation) -> String {
    e.trace
        .records
        .iter()
        .filter(|r| !matches!(r.kind, Kind::Reported { .. } | Kind::ChunkSent { .. }))
        .map(|r| format!("{r}\n"))
        .collect()
}

/// Ended attempts' durations (ms), longest first.
fn durations(e: &Evaluation) -> Vec<f64> {
    let mut out: Vec<f64> = timings(&e.trace)
        .values()
        .flatten()
        .filter_map(Timing::duration)
        .collect();
    out.sort_by(|a, b| b.total_cmp(a));
    out
}

/// Run `case` in both worlds and hold it to everything the module says.
fn check(case: &Case) {
    let (local_text, net_text) = (text(case, "in_process", true), text(case, "network", true));
    let (local, net) = (run(&local_text), run(&net_text));
    let (local_shapes, net_shapes) = (shapes(&local.trace), shapes(&net.trace));
    let about_both = format!(
        "{}\n(the network run differs only in `world = \"network\"`)",
        about(&local_text)
    );

    assert!(
        !local_shapes.is_empty(),
        "no calls ran\n{about_both}\n{}",
        trace_text(&local)
    );
    assert!(
        local_shapes.values().all(|s| s.ended.is_some()),
        "a call never ended in process\n{about_both}\n{}",
        trace_text(&local)
    );
    assert_eq!(
        local_shapes,
        net_shapes,
        "the worlds disagree on the calls' outcomes\n{about_both}\n\
         --- in process ---\n{}--- network ---\n{}",
        trace_text(&local),
        trace_text(&net)
    );

    check_times(case, &local, &net, &about_both);
    check_edges(case, &local, &about_both);
    if let Some(timeout) = case.timeout_ms {
        let close = durations(&local)
            .into_iter()
            .filter(|d| *d < timeout && *d > timeout - SLACK_MS)
            .collect::<Vec<_>>();
        assert!(
            close.is_empty(),
            "attempts answered within {SLACK_MS} ms of the {timeout} ms timeout in process \
             ({close:?}): the network's added time could tip them over; pick other numbers\n{about_both}"
        );
    }

    // The field did something, in both worlds.
    for (world, with) in [("in_process", &local), ("network", &net)] {
        let without_text = text(case, world, false);
        let without = run(&without_text);
        let claim = match case.effect {
            Effect::Nothing => "the field changed what it must not",
            _ => "the field made no difference",
        };
        let msg = format!(
            "{world}: {claim}\n--- with the field ---\n{}\n\
             --- without ---\n{}\n--- trace with ---\n{}--- trace without ---\n{}",
            about(&text(case, world, true)),
            about(&without_text),
            trace_text(with),
            trace_text(&without)
        );
        match case.effect {
            Effect::Outcomes => {
                assert_ne!(shapes(&with.trace), shapes(&without.trace), "{msg}")
            }
            Effect::Nothing => {
                assert_eq!(shapes(&with.trace), shapes(&without.trace), "{msg}");
                let (a, b) = (durations(with), durations(&without));
                assert_eq!(a, b, "{msg}\nattempt durations changed");
            }
            Effect::Slower(by) => {
                let (a, b) = (durations(with), durations(&without));
                let (slowest, was) = (a.first().copied(), b.first().copied());
                assert!(
                    matches!((slowest, was), (Some(s), Some(w)) if s >= w + by),
                    "{msg}\nslowest attempt {slowest:?} ms, without the field {was:?} ms \
                     (wanted {by} ms more)"
                );
            }
        }
    }
}

/// Attempts take as long in both worlds, give or take the network's time;
/// with one client, per attempt; with more, as sorted lists.
fn check_times(case: &Case, local: &Evaluation, net: &Evaluation, about_both: &str) {
    let (a, b) = (timings(&local.trace), timings(&net.trace));
    let clients: std::collections::BTreeSet<u32> = a.keys().map(|k| k.0).collect();
    let pairs: Vec<(Option<f64>, Option<f64>)> = if clients.len() == 1 {
        a.iter()
            .flat_map(|(key, ts)| {
                let other = b.get(key).cloned().unwrap_or_default();
                ts.iter()
                    .zip(other)
                    .map(|(x, y)| (x.duration(), y.duration()))
                    .collect::<Vec<_>>()
            })
            .collect()
    } else {
        durations(local)
            .into_iter()
            .zip(durations(net))
            .map(|(x, y)| (Some(x), Some(y)))
            .collect()
    };
    for (x, y) in pairs {
        let ok = match (x, y) {
            (Some(x), Some(y)) => y >= x - 1.0 && y <= x + SLACK_MS,
            (None, None) => true,
            _ => false,
        };
        assert!(
            ok,
            "an attempt took {x:?} ms in process and {y:?} ms over the network \
             (allowed: up to {SLACK_MS} ms more)\n{about_both}\n\
             --- in process ---\n{}--- network ---\n{}",
            trace_text(local),
            trace_text(net)
        );
    }
    // Retry-After: the same wait in process and in the `ms` form; the
    // whole-second forms round up to the next second.
    let faults = format!("{}\n{}", case.common, case.field);
    let form = if faults.contains("retry_after_form = \"http_date\"") {
        "http_date"
    } else if faults.contains("retry_after_form = \"ms\"") {
        "ms"
    } else {
        "seconds"
    };
    for (key, ts) in &a {
        let other = b.get(key).cloned().unwrap_or_default();
        for (x, y) in ts.iter().zip(other) {
            let (Some(want), Some(got)) = (x.retry_after, y.retry_after) else {
                continue;
            };
            let ok = match form {
                "ms" if case.retry_after_shrinks => got <= want + 0.5 && got >= want - SLACK_MS,
                "ms" => (got - want).abs() < 0.5,
                "seconds" => got == (want / 1000.0).ceil() * 1000.0,
                // To the next whole second of the server's clock, read a
                // little later by the client.
                _ => got >= want - SLACK_MS && got <= want + 1000.0,
            };
            assert!(
                ok,
                "{key:?}: Retry-After of {want} ms in process arrived as {got} ms over the \
                 network (form {form})\n{about_both}"
            );
        }
    }
}

/// Every attempt in process arrives `MARGIN_MS` away from every edge.
fn check_edges(case: &Case, local: &Evaluation, about_both: &str) {
    let starts: Vec<f64> = timings(&local.trace)
        .values()
        .flatten()
        .map(|t| t.start)
        .collect();
    for t in starts {
        let near = match case.edges {
            Edges::None => None,
            Edges::At(edges) => edges
                .iter()
                .map(|e| (t - *e as f64).abs())
                .find(|d| *d < MARGIN_MS as f64),
            Edges::Every(p) => {
                let r = t % p as f64;
                let d = match t < p as f64 {
                    true => p as f64 - r,
                    false => r.min(p as f64 - r),
                };
                (d < MARGIN_MS as f64).then_some(d)
            }
        };
        assert!(
            near.is_none(),
            "an attempt arrived at {t} ms, {near:?} ms from a window's edge: the network could \
             move it across; pick other numbers\n{about_both}\n{}",
            trace_text(local)
        );
    }
}

macro_rules! cases {
    ($($name:ident: $case:expr,)*) => {
        $(
            #[test]
            fn $name() {
                check(&$case);
            }
        )*
    };
}

const ONE_CHAT: &str = "clients = 1\ncalls = 6\nmethod = \"chat\"";
const ONE_STREAM: &str = "clients = 1\ncalls = 6\nmethod = \"chat_stream\"";
const RETRIES: &str = "max_retries = 3\ninitial_backoff_ms = 100";

cases! {
    latency_uniform: Case {
        policy: "max_retries = 3\ninitial_backoff_ms = 100\ntimeout_ms = 150",
        field: "latency = { kind = \"uniform\", min_ms = 40, max_ms = 300 }",
        workload: ONE_CHAT,
        timeout_ms: Some(150.0),
        ..CASE
    },
    latency_exponential: Case {
        policy: "max_retries = 3\ninitial_backoff_ms = 100\ntimeout_ms = 150",
        field: "latency = { kind = \"exponential\", mean_ms = 120 }",
        workload: ONE_CHAT,
        timeout_ms: Some(150.0),
        ..CASE
    },
    p_transient: Case {
        policy: RETRIES,
        field: "p_transient = 0.5",
        workload: ONE_CHAT,
        ..CASE
    },
    transient_statuses: Case {
        policy: RETRIES,
        common: "p_transient = 0.5",
        field: "transient_statuses = [502, 504, 529]",
        workload: ONE_CHAT,
        ..CASE
    },
    retry_after_ms_seconds: Case {
        policy: RETRIES,
        common: "p_transient = 0.5\nretry_after_form = \"seconds\"",
        field: "retry_after_ms = 1300",
        workload: ONE_CHAT,
        ..CASE
    },
    retry_after_ms_http_date: Case {
        policy: RETRIES,
        common: "p_transient = 0.5\nretry_after_form = \"http_date\"",
        field: "retry_after_ms = 1300",
        workload: ONE_CHAT,
        ..CASE
    },
    retry_after_ms_ms: Case {
        policy: RETRIES,
        common: "p_transient = 0.5\nretry_after_form = \"ms\"",
        field: "retry_after_ms = 1300",
        workload: ONE_CHAT,
        ..CASE
    },
    p_non_transient: Case {
        policy: RETRIES,
        field: "p_non_transient = 0.4",
        workload: ONE_CHAT,
        ..CASE
    },
    non_transient_statuses: Case {
        policy: RETRIES,
        common: "p_non_transient = 0.4",
        field: "non_transient_statuses = [401, 404, 422]",
        workload: ONE_CHAT,
        ..CASE
    },
    p_decode: Case {
        policy: RETRIES,
        field: "p_decode = 0.4",
        workload: ONE_CHAT,
        ..CASE
    },
    p_decode_stream: Case {
        policy: RETRIES,
        field: "p_decode = 0.4",
        workload: ONE_STREAM,
        ..CASE
    },
    p_network: Case {
        policy: RETRIES,
        field: "p_network = 0.4",
        workload: ONE_CHAT,
        ..CASE
    },
    p_network_stream: Case {
        policy: RETRIES,
        field: "p_network = 0.4",
        workload: ONE_STREAM,
        ..CASE
    },
    p_hang: Case {
        policy: "max_retries = 3\ninitial_backoff_ms = 100\ntimeout_ms = 300",
        field: "p_hang = 0.3",
        workload: ONE_CHAT,
        timeout_ms: Some(300.0),
        ..CASE
    },
    chunks: Case {
        policy: RETRIES,
        field: "chunks = 3",
        workload: ONE_STREAM,
        ..CASE
    },
    chunk_gap_ms: Case {
        policy: "max_retries = 3\ninitial_backoff_ms = 100\nstream_idle_ms = 200",
        common: "chunks = 4",
        field: "chunk_gap_ms = 350",
        workload: ONE_STREAM,
        ..CASE
    },
    first_chunk_ms: Case {
        policy: "max_retries = 3\ninitial_backoff_ms = 100\nfirst_chunk_ms = 300\nstream_idle_ms = 200",
        common: "chunks = 4\nchunk_gap_ms = 50",
        field: "first_chunk_ms = 400",
        workload: ONE_STREAM,
        ..CASE
    },
    // A first-chunk silence past the idle bound, within the first-chunk
    // bound: nothing changes.
    first_chunk_ms_within_its_bound: Case {
        policy: "max_retries = 3\ninitial_backoff_ms = 100\nfirst_chunk_ms = 600\nstream_idle_ms = 200",
        common: "chunks = 4\nchunk_gap_ms = 50",
        field: "first_chunk_ms = 400",
        workload: ONE_STREAM,
        effect: Effect::Nothing,
        ..CASE
    },
    // Under the defaults, 120 s of silence before the first chunk (a
    // reasoning model thinking) is not cut, in either world.
    first_chunk_ms_120_s_under_the_defaults: Case {
        common: "chunks = 3\nchunk_gap_ms = 10",
        field: "first_chunk_ms = 120000",
        workload: "clients = 1\ncalls = 1\nmethod = \"chat_stream\"",
        effect: Effect::Nothing,
        ..CASE
    },
    // Typed streams never see SSE comments: keep-alives during a silence
    // past the idle bound do not save it, in the network world as in
    // process, where there is no wire to send them on.
    keepalive_ms: Case {
        policy: "max_retries = 3\ninitial_backoff_ms = 100\nfirst_chunk_ms = 300\nstream_idle_ms = 200",
        common: "chunks = 4\nchunk_gap_ms = 50\nfirst_chunk_ms = 400",
        field: "keepalive_ms = 100",
        workload: ONE_STREAM,
        effect: Effect::Nothing,
        ..CASE
    },
    p_stream_fail: Case {
        policy: RETRIES,
        field: "p_stream_fail = 0.5",
        workload: ONE_STREAM,
        ..CASE
    },
    p_stream_stall: Case {
        policy: "max_retries = 3\ninitial_backoff_ms = 100\nstream_idle_ms = 300",
        field: "p_stream_stall = 0.5",
        workload: ONE_STREAM,
        ..CASE
    },
    script_ok: Case {
        policy: RETRIES,
        common: "p_network = 1.0",
        field: "script = [\"ok\"]",
        workload: ONE_CHAT,
        ..CASE
    },
    script_503: Case {
        policy: RETRIES,
        field: "script = [\"503\", \"503\"]",
        workload: ONE_CHAT,
        ..CASE
    },
    script_429_retry_after: Case {
        policy: RETRIES,
        field: "script = [\"429:ra=1200\", \"429:ra=2000\"]",
        workload: ONE_CHAT,
        ..CASE
    },
    script_network: Case {
        policy: RETRIES,
        field: "script = [\"network\", \"network\"]",
        workload: ONE_CHAT,
        ..CASE
    },
    script_decode: Case {
        policy: RETRIES,
        field: "script = [\"decode\", \"ok\", \"decode\"]",
        workload: ONE_CHAT,
        ..CASE
    },
    script_hang: Case {
        policy: "max_retries = 3\ninitial_backoff_ms = 100\ntimeout_ms = 300",
        field: "script = [\"hang\", \"hang\"]",
        workload: ONE_CHAT,
        timeout_ms: Some(300.0),
        ..CASE
    },
    script_stream_fail: Case {
        policy: RETRIES,
        field: "script = [\"stream-fail\", \"ok\", \"stream-fail\"]",
        workload: ONE_STREAM,
        ..CASE
    },
    script_stream_stall: Case {
        policy: "max_retries = 3\ninitial_backoff_ms = 100\nstream_idle_ms = 300",
        field: "script = [\"stream-stall\", \"ok\", \"stream-stall\"]",
        workload: ONE_STREAM,
        ..CASE
    },
    script_every_step: Case {
        policy: "max_retries = 3\ninitial_backoff_ms = 100\ntimeout_ms = 500\nstream_idle_ms = 300",
        field: "script = [\"ok\", \"503\", \"429:ra=1200\", \"network\", \"decode\", \
                \"hang\", \"stream-fail\", \"stream-stall\", \"ok\"]",
        workload: "clients = 1\ncalls = 8\nmethod = \"chat_stream\"",
        timeout_ms: Some(500.0),
        ..CASE
    },
    script_repeat: Case {
        policy: RETRIES,
        common: "script = [\"503\", \"network\", \"ok\"]",
        field: "script_repeat = true",
        workload: ONE_CHAT,
        ..CASE
    },
    outages: Case {
        policy: "max_retries = 2\ninitial_backoff_ms = 100",
        common: "retry_after_form = \"ms\"",
        field: "outages = [\
                { start_ms = 1000, end_ms = 2700, status = 502, retry_after_ms = 300 }, \
                { start_ms = 3300, end_ms = 3900 }]",
        workload: "clients = 1\ncalls = 14\nthink_ms = 300\nmethod = \"chat\"",
        edges: Edges::At(&[1000, 2700, 3300, 3900]),
        ..CASE
    },
    brownouts: Case {
        policy: RETRIES,
        common: "latency = { kind = \"uniform\", min_ms = 40, max_ms = 40 }",
        field: "brownouts = [{ start_ms = 0, end_ms = 900, factor = 5.0 }]",
        workload: "clients = 1\ncalls = 8\nmethod = \"chat\"",
        effect: Effect::Slower(150.0),
        edges: Edges::At(&[900]),
        ..CASE
    },
    brownouts_into_timeouts: Case {
        policy: "max_retries = 1\ninitial_backoff_ms = 100\ntimeout_ms = 150",
        common: "latency = { kind = \"uniform\", min_ms = 40, max_ms = 40 }",
        field: "brownouts = [{ start_ms = 0, end_ms = 900, factor = 5.0 }]",
        workload: "clients = 1\ncalls = 8\nthink_ms = 20\nmethod = \"chat\"",
        edges: Edges::At(&[900]),
        timeout_ms: Some(150.0),
        ..CASE
    },
    rate_limit: Case {
        policy: RETRIES,
        common: "latency = { kind = \"uniform\", min_ms = 100, max_ms = 100 }",
        field: "rate_limit = { calls = 2, window_ms = 1000, retry_after_ms = 3000 }",
        workload: "clients = 1\ncalls = 8\nthink_ms = 80\nmethod = \"chat\"",
        edges: Edges::Every(1000),
        ..CASE
    },
    rate_limit_time_left: Case {
        policy: RETRIES,
        common: "latency = { kind = \"uniform\", min_ms = 100, max_ms = 100 }\n\
                 retry_after_form = \"ms\"",
        field: "rate_limit = { calls = 2, window_ms = 1000 }",
        workload: "clients = 1\ncalls = 8\nthink_ms = 50\nmethod = \"chat\"",
        edges: Edges::Every(1000),
        retry_after_shrinks: true,
        ..CASE
    },
    capacity: Case {
        policy: RETRIES,
        common: "latency = { kind = \"uniform\", min_ms = 100, max_ms = 100 }",
        field: "capacity = 1",
        workload: "clients = 4\ncalls = 2\nmethod = \"chat\"",
        effect: Effect::Slower(250.0),
        ..CASE
    },
    heal_ms: Case {
        policy: "max_retries = 1\ninitial_backoff_ms = 100",
        common: "p_transient = 1.0",
        field: "heal_ms = 2000",
        workload: "clients = 1\ncalls = 10\nthink_ms = 300\nmethod = \"chat\"",
        edges: Edges::At(&[2000]),
        ..CASE
    },
    p_transient_stream: Case {
        policy: RETRIES,
        field: "p_transient = 0.5\nretry_after_ms = 1000",
        workload: ONE_STREAM,
        ..CASE
    },
    p_hang_stream: Case {
        policy: "max_retries = 3\ninitial_backoff_ms = 100\ntimeout_ms = 300",
        field: "p_hang = 0.3",
        workload: ONE_STREAM,
        timeout_ms: Some(300.0),
        ..CASE
    },
    chunks_zero: Case {
        policy: RETRIES,
        field: "chunks = 0",
        workload: ONE_STREAM,
        ..CASE
    },
    // A slot is given back when the wrapper abandons an attempt: in
    // process the attempt's future is dropped; over the network the client
    // closes the connection and the server must drop its handler, or the
    // one slot would stay taken and every later attempt would queue.
    capacity_freed_by_timeout: Case {
        policy: "max_retries = 1\ninitial_backoff_ms = 100\ntimeout_ms = 300",
        common: "latency = { kind = \"uniform\", min_ms = 1000, max_ms = 1000 }",
        field: "capacity = 1",
        workload: "clients = 1\ncalls = 2\nmethod = \"chat\"",
        effect: Effect::Nothing,
        ..CASE
    },
    capacity_freed_by_hang: Case {
        policy: "max_retries = 3\ninitial_backoff_ms = 100\ntimeout_ms = 300",
        common: "script = [\"hang\", \"ok\", \"hang\"]",
        field: "capacity = 1",
        workload: "clients = 1\ncalls = 3\nmethod = \"chat\"",
        effect: Effect::Nothing,
        timeout_ms: Some(300.0),
        ..CASE
    },
    capacity_freed_by_stall: Case {
        policy: "max_retries = 3\ninitial_backoff_ms = 100\nstream_idle_ms = 300",
        common: "script = [\"stream-stall\", \"ok\", \"stream-stall\"]",
        field: "capacity = 1",
        workload: "clients = 1\ncalls = 3\nmethod = \"chat_stream\"",
        effect: Effect::Nothing,
        ..CASE
    },
}

/// Capacity queues: with one slot, attempts take longer the more clients
/// call at once, in both worlds; without it they do not.
#[test]
fn capacity_queues_in_both_worlds() {
    let scenario = |world: &str, clients: u32, capacity: bool| {
        let capacity = if capacity { "capacity = 1" } else { "" };
        format!(
            "name = \"queue\"\nworld = \"{world}\"\n\n[faults]\n\
             latency = {{ kind = \"uniform\", min_ms = 100, max_ms = 100 }}\n{capacity}\n\n\
             [workload]\nkind = \"closed\"\nclients = {clients}\ncalls = 2\nmethod = \"chat\"\n\n{}",
            network_table(world)
        )
    };
    let mean = |text: &str| {
        let e = run(text);
        let d = durations(&e);
        assert!(!d.is_empty(), "no attempts\n{}", about(text));
        d.iter().sum::<f64>() / d.len() as f64
    };
    for world in ["in_process", "network"] {
        let (one, four) = (scenario(world, 1, true), scenario(world, 4, true));
        let (alone, crowded) = (mean(&one), mean(&four));
        assert!(
            crowded >= 2.5 * alone,
            "{world}: with one slot, 4 clients' attempts took {crowded} ms on average, \
             1 client's {alone} ms: no queueing\n{}\n{}",
            about(&one),
            about(&four)
        );
        let free = scenario(world, 4, false);
        let unqueued = mean(&free);
        assert!(
            unqueued <= alone + SLACK_MS,
            "{world}: without a capacity, 4 clients' attempts took {unqueued} ms on average, \
             1 client's with one slot {alone} ms\n{}\n{}",
            about(&free),
            about(&one)
        );
    }
}

// Where the worlds once disagreed, kept as regressions.

/// A stream that fails before its first item (`chunks` of 0 or 1: it fails
/// after half its items) breaks one `chunk_gap_ms` after it opened, in both
/// worlds (the backend times the break; the server once added the gap on
/// its own, so a gap between the two idle bounds split the worlds).
#[test]
fn a_stream_failing_before_its_first_item_fails_alike() {
    check(&Case {
        policy: "max_retries = 3\ninitial_backoff_ms = 100\nstream_idle_ms = 400",
        common: "chunks = 1\nchunk_gap_ms = 300",
        field: "p_stream_fail = 1.0",
        workload: "clients = 1\ncalls = 2\nmethod = \"chat_stream\"",
        ..CASE
    });
}

/// Statuses below 400 would be successes on the wire: the two worlds
/// could not agree on them, so every place a status is given refuses
/// them at load, naming the line and column.
#[test]
fn statuses_below_400_are_refused_where_they_stand() {
    let base = "name = \"s\"\n[workload]\nkind = \"closed\"\nclients = 1\ncalls = 1\n[faults]\n";
    for (field, line) in [
        ("script = [\"ok\", \"302\"]", 7),
        ("transient_statuses = [503, 204]", 7),
        ("non_transient_statuses = [399]", 7),
        ("outages = [{ start_ms = 0, end_ms = 5, status = 200 }]", 7),
    ] {
        let text = format!("{base}{field}\n");
        let e = Scenario::parse(Path::new("s.toml"), &text).unwrap_err();
        assert_eq!(e.line, line, "{e}\n{text}");
        assert!(
            e.message.contains("400 to 599") || e.message.contains("unknown script step"),
            "{e}"
        );
    }
}

/// Over the network, keep-alives during a silence past the first-chunk
/// bound: raw byte streams see them as bytes, which reset the bound, so
/// the call succeeds; typed streams never see them (SSE comments are
/// skipped, Anthropic's `ping` dropped), so the bound cuts the stream.
/// Without keep-alives every stream is cut.
#[test]
fn keepalives_reset_the_bound_of_raw_streams_only() {
    let text = |method: &str, keepalive: bool| {
        let keepalive = if keepalive { "keepalive_ms = 100" } else { "" };
        format!(
            "name = \"keepalive\"\nworld = \"network\"\n\n[policy]\nmax_retries = 0\n\
             first_chunk_ms = 300\nstream_idle_ms = 200\n\n[faults]\nchunks = 3\n\
             chunk_gap_ms = 50\nfirst_chunk_ms = 400\n{keepalive}\n\n[workload]\n\
             kind = \"closed\"\nclients = 1\ncalls = 2\nmethod = \"{method}\"\n\n{}",
            network_table("network")
        )
    };
    for (method, raw) in [
        ("chat_stream", false),
        ("anthropic_stream", false),
        ("complete_stream", false),
        ("gemini_stream", false),
        ("chat_stream_raw", true),
        ("anthropic_stream_raw", true),
        ("gemini_stream_raw", true),
    ] {
        for keepalive in [false, true] {
            let text = text(method, keepalive);
            let e = run(&text);
            let ends: Vec<_> = shapes(&e.trace).into_values().map(|s| s.ended).collect();
            let want = if raw && keepalive {
                Seen::Ok
            } else {
                Seen::Timeout
            };
            assert!(
                ends.len() == 2 && ends.iter().all(|end| *end == Some(want.clone())),
                "{method} with keep-alives {keepalive}: calls ended {ends:?}, expected {want:?}\n{}\n{}",
                about(&text),
                trace_text(&e)
            );
        }
    }
}

// -- One wrapper shared by every caller --

/// A herd of clients sharing one wrapper: every attempt fails
/// transiently, four retries of `jitter` from 20 ms.
fn shared_herd(world: &str, jitter: &str, wrapper: &str) -> Scenario {
    let text = format!(
        "name = \"shared-herd\"\nworld = \"{world}\"\n[policy]\nmax_retries = 4\n\
         jitter = \"{jitter}\"\ninitial_backoff = \"20ms\"\n[faults]\np_transient = 0.7\n\
         [workload]\nkind = \"closed\"\nclients = 12\ncalls = 2\nwrapper = \"{wrapper}\"\n"
    );
    Scenario::parse(Path::new("shared-herd.toml"), &text).unwrap_or_else(|e| panic!("{e}"))
}

/// A trace is a pure function of (scenario, seed, subject) with one
/// wrapper shared by every client: two runs of each of 200 seeds in
/// process, and 5 over the network, agree record for record.
#[test]
fn a_shared_wrapper_repeats_exactly_over_many_seeds() {
    for (world, seeds) in [("in_process", 0..200), ("network", 0..5)] {
        let scenario = shared_herd(world, "full", "shared");
        for seed in seeds {
            let e = evaluate(&Ours, &scenario, seed, true).unwrap();
            assert!(
                e.divergence.is_none(),
                "{world} seed {seed}: {}",
                e.divergence.unwrap()
            );
        }
    }
}

/// Shared or per client, a one-client run is the same run: the shared
/// wrapper takes client 0's seed, and its provider client 0's flags on
/// odd seeds.
#[test]
fn one_client_runs_alike_shared_or_per_client() {
    for world in ["in_process", "network"] {
        let one = |wrapper: &str| {
            let text = format!(
                "name = \"one\"\nworld = \"{world}\"\n[policy]\njitter = \"full\"\n\
                 [faults]\np_transient = 0.5\n[workload]\nkind = \"closed\"\nclients = 1\n\
                 calls = 4\nwrapper = \"{wrapper}\"\n"
            );
            let scenario = Scenario::parse(Path::new("one.toml"), &text).unwrap();
            evaluate(&Ours, &scenario, 1, false).unwrap().trace
        };
        assert_eq!(one("shared"), one("per_client"), "{world}");
    }
}

/// provider-retry shared by every client holds every oracle with each
/// jitter kind over many seeds, and its backoffs, pooled over the seeds,
/// are independent across concurrent calls (none has nothing to judge).
#[test]
fn ours_shared_holds_every_oracle_and_draws_independently() {
    use provider_retry_sim::check::sharing::{self, Independence, Pairs};
    use provider_retry_sim::subject::Subject;
    for jitter in ["none", "equal", "full", "decorrelated"] {
        let scenario = shared_herd("in_process", jitter, "shared");
        let claim = Ours.claim(&scenario.policy);
        let mut pooled = Pairs::default();
        for seed in 0..40 {
            let e = evaluate(&Ours, &scenario, seed, false).unwrap();
            assert!(
                e.violations.is_empty(),
                "{jitter} seed {seed}: {:#?}",
                e.violations
            );
            pooled.extend(sharing::pairs(&e.trace, &claim));
        }
        let verdict = sharing::independence(&pooled);
        match jitter {
            "none" => assert_eq!(verdict, Independence::NotJudged { points: 0 }),
            _ => assert!(
                matches!(verdict, Independence::Held { .. }),
                "{jitter}: {verdict:?}"
            ),
        }
    }
}
