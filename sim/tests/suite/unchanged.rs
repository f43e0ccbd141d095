//! Clients judged as they are: no call ids, no reports, only the base URL
//! pointed at `retry-sim serve`.
//!
//! The server groups their attempts into calls by what they already send
//! (`wire::grouping`): the official SDKs' retry-count header, or the same
//! body from the same user agent. The oracles that need the caller's
//! reports (when a call ended, what it received) say `not exercised`.
//!
//! Reproduce the Python run by hand:
//! `retry-sim serve sim/scenarios/wire/bad-gateway.toml --record r.jsonl &
//!  python3 sim/clients/plain_openai.py http://127.0.0.1:8787/v1 1; kill %1;
//!  retry-sim judge r.jsonl --claim openai-python`

use super::sdks::{listening, python};
use provider_retry_sim::backend::Backend;
use provider_retry_sim::check::{Judgement, WIRE_TOLERANCE_NS, sdks};
use provider_retry_sim::faults::{FaultPlan, Faults};
use provider_retry_sim::judge;
use provider_retry_sim::scenario::Scenario;
use provider_retry_sim::serve::{Options, serve};
use provider_retry_sim::trace::{AttemptOutcome, Failure, Grouping, Kind, Trace};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// Each call's attempts' outcomes, and how its attempts were grouped.
fn calls(trace: &Trace) -> Vec<(Vec<AttemptOutcome>, Option<Grouping>)> {
    trace
        .calls()
        .into_values()
        .map(|records| {
            let by = records.iter().find_map(|r| match r.kind {
                Kind::CallSeen { by, .. } => Some(by),
                _ => None,
            });
            let attempts = records
                .iter()
                .filter_map(|r| match &r.kind {
                    Kind::AttemptEnded { outcome, .. } => Some(outcome.clone()),
                    _ => None,
                })
                .collect();
            (attempts, by)
        })
        .collect()
}

fn status(status: u16, ra_s: Option<u64>) -> AttemptOutcome {
    AttemptOutcome::Failed(Failure::Status {
        status,
        retry_after_ns: ra_s.map(|s| s * 1_000_000_000),
        should_retry: None,
    })
}

/// What the table says of `oracle`: `held (...)`, `not exercised`, or the
/// first violation's detail.
fn cell(judgement: &Judgement, oracle: &str) -> String {
    match judgement.of(oracle).next() {
        Some(v) => format!("violated: {}", v.detail),
        None => judgement.unviolated(oracle),
    }
}

/// The oracles only a caller's reports can feed: never held without them.
const NEED_REPORTS: [&str; 5] = [
    "calls_end",
    "no_panic",
    "forwarding",
    "no_sleep_after_final",
    "stream_integrity",
];

/// Serve `scenario` and run the plain openai script against it with `calls`
/// calls; the record, after SIGTERM stops the server (the script never
/// says it is done), and what the script printed.
fn serve_plain_script(py: &Path, scenario: &str, calls: u32) -> (Trace, String) {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR"));
    let record = dir.join(format!("plain-openai-{scenario}.jsonl"));
    let mut server = Command::new(env!("CARGO_BIN_EXE_retry-sim"))
        .arg("serve")
        .arg(root().join(format!("scenarios/wire/{scenario}.toml")))
        .args(["--addr", "127.0.0.1:0", "--horizon", "30"])
        .arg("--record")
        .arg(&record)
        .stderr(Stdio::piped())
        .spawn()
        .expect("retry-sim serve starts");
    let addr = listening(&mut server);
    let script = Command::new(py)
        .arg(root().join("clients/plain_openai.py"))
        .arg(format!("http://{addr}/v1"))
        .arg(calls.to_string())
        .output()
        .expect("the script runs");
    let printed = String::from_utf8_lossy(&script.stdout).into_owned();
    assert!(
        script.status.success(),
        "{scenario}: the script failed: {printed}{}",
        String::from_utf8_lossy(&script.stderr)
    );
    let term = Command::new("kill")
        .args(["-TERM", &server.id().to_string()])
        .status()
        .expect("kill runs");
    assert!(term.success());
    let status = server.wait().expect("serve stops on SIGTERM");
    assert!(status.success(), "{scenario}: serve exited {status}");
    let trace = judge::record(&record).unwrap_or_else(|e| panic!("{scenario}: {e}"));
    (trace, printed)
}

#[test]
fn an_unchanged_openai_script_is_judged_from_its_attempts_alone() {
    let py = match python() {
        Ok(py) => py,
        Err(why) => {
            println!("SKIPPED the plain openai script's wire test: {why}");
            eprintln!("SKIPPED the plain openai script's wire test: {why}");
            return;
        }
    };
    let claim = sdks::openai_python();
    let (trace, printed) = serve_plain_script(&py, "bad-gateway", 1);
    let expected = vec![status(502, None), status(500, None), AttemptOutcome::Ok];
    assert_eq!(calls(&trace), [(expected, Some(Grouping::RetryCount))]);
    let judgement = judge::judgement(&trace, &claim, WIRE_TOLERANCE_NS);
    println!(
        "bad-gateway: {:?}; printed {printed:?}",
        judgement.violations
    );
    assert_eq!(judgement.violations, []);
    assert_eq!(
        cell(&judgement, "delay_within_envelope"),
        "held (1 call, 2 waits)"
    );
    assert_eq!(
        cell(&judgement, "attempts_bounded"),
        "held (1 call, 3 attempts)"
    );
    for oracle in NEED_REPORTS {
        assert_eq!(cell(&judgement, oracle), "not exercised", "{oracle}");
    }

    let (trace, _) = serve_plain_script(&py, "retry-after", 2);
    let by = Some(Grouping::RetryCount);
    assert_eq!(
        calls(&trace),
        [
            (vec![status(429, Some(1)), AttemptOutcome::Ok], by),
            (vec![status(429, Some(0)), AttemptOutcome::Ok], by),
        ]
    );
    let judgement = judge::judgement(&trace, &claim, WIRE_TOLERANCE_NS);
    assert_eq!(judgement.violations, []);
    // The 1 s Retry-After is waited; the 0 s one is the backoff's.
    assert_eq!(
        cell(&judgement, "retry_after_honoured"),
        "held (1 call, 1 wait)"
    );
    assert_eq!(
        cell(&judgement, "delay_within_envelope"),
        "held (1 call, 1 wait)"
    );
}

/// One POST of `body` to `/v1/chat/completions` at `addr` from user agent
/// `agent`, as a hand-written client sends it: no SDK headers, no call
/// ids. The status.
async fn post(addr: std::net::SocketAddr, agent: &str, body: &str) -> Option<u16> {
    let mut stream = tokio::net::TcpStream::connect(addr).await.ok()?;
    let request = format!(
        "POST /v1/chat/completions HTTP/1.1\r\nhost: {addr}\r\nuser-agent: {agent}\r\n\
         content-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(request.as_bytes()).await.ok()?;
    let mut answer = Vec::new();
    stream.read_to_end(&mut answer).await.ok()?;
    let text = String::from_utf8_lossy(&answer);
    text.split(' ').nth(1)?.parse().ok()
}

/// `calls` calls of one body in a row from user agent `agent`, each
/// retrying a 5xx at once, up to three attempts.
async fn hand_client(addr: std::net::SocketAddr, agent: &str, calls: u32) {
    let body = r#"{"model":"m","messages":[{"role":"user","content":"hi"}]}"#;
    for _ in 0..calls {
        for _ in 0..3 {
            match post(addr, agent, body).await {
                Some(s) if s < 500 => break,
                _ => {}
            }
        }
    }
}

/// Serve `backend` on a free port of 127.0.0.1 while `clients(addr)`
/// runs; the record.
fn served<F: std::future::Future<Output = ()>>(
    backend: std::sync::Arc<Backend>,
    clients: impl FnOnce(std::net::SocketAddr) -> F,
) -> Trace {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let (tx, rx) = tokio::sync::oneshot::channel();
        let options = Options {
            addr: "127.0.0.1:0".parse().unwrap(),
            horizon: Duration::from_secs(20),
            seed: 1,
        };
        let server = tokio::spawn(serve(backend.clone(), options, move |a| {
            let _ = tx.send(a);
        }));
        clients(rx.await.unwrap()).await;
        server.abort();
        Trace::new(backend.take_trace())
    })
}

/// A hand-written client making `calls` calls of one body in a row, each
/// retrying a 5xx at once, up to three attempts, served `script`; the
/// record.
fn no_backoff_client(script: &[&str], calls: u32) -> Trace {
    let plan = FaultPlan {
        script: script.iter().map(|s| s.parse().unwrap()).collect(),
        ..FaultPlan::default()
    };
    let backend = Backend::on_tokio(Faults::new(plan, 1), None);
    served(backend, |addr| async move {
        hand_client(addr, "hand/1", calls).await;
    })
}

#[test]
fn a_client_that_retries_without_backoff_is_convicted_without_reports() {
    let trace = no_backoff_client(&["502", "500", "ok"], 1);
    let expected = vec![status(502, None), status(500, None), AttemptOutcome::Ok];
    assert_eq!(calls(&trace), [(expected, Some(Grouping::Body))]);
    let judgement = judge::judgement(&trace, &sdks::openai_python(), WIRE_TOLERANCE_NS);
    let oracles: Vec<&str> = judgement.violations.iter().map(|v| v.oracle).collect();
    assert_eq!(
        oracles,
        ["delay_within_envelope"],
        "{:?}",
        judgement.violations
    );
    assert!(
        judgement.violations[0]
            .detail
            .contains("below its envelope"),
        "{}",
        judgement.violations[0].detail
    );
    for oracle in NEED_REPORTS {
        assert_eq!(cell(&judgement, oracle), "not exercised", "{oracle}");
    }
    // The same record acquitted by a claim of no backoff: the judge reads
    // the claim, not the client's name.
    let mut immediate = sdks::openai_python();
    provider_retry_sim::check::adjust::set(&mut immediate, "initial=0").unwrap();
    let judgement = judge::judgement(&trace, &immediate, WIRE_TOLERANCE_NS);
    assert_eq!(judgement.violations, []);
    assert_eq!(
        cell(&judgement, "delay_within_envelope"),
        "held (1 call, 2 waits)"
    );
}

#[test]
fn the_same_request_after_a_success_is_a_new_call() {
    let trace = no_backoff_client(&["ok", "503", "ok"], 2);
    let by = Some(Grouping::Body);
    assert_eq!(
        calls(&trace),
        [
            (vec![AttemptOutcome::Ok], by),
            (vec![status(503, None), AttemptOutcome::Ok], by),
        ]
    );
}

/// Two hand-written clients at once against a served scenario without a
/// `[workload]` whose script is `503, ok` in `scope`: each call's attempts.
fn two_at_once(scope: &str) -> Vec<Vec<AttemptOutcome>> {
    let text = format!(
        "name = \"two-at-once\"\n[faults]\nscript = [\"503\", \"ok\"]\nscript_scope = \"{scope}\"\n"
    );
    let scenario = Scenario::parse_served(Path::new("two-at-once.toml"), &text).unwrap();
    let trace = served_scenario(&scenario);
    let mut out: Vec<_> = calls(&trace).into_iter().map(|(a, _)| a).collect();
    out.sort_by_key(Vec::len);
    out
}

/// Serve `scenario` to two hand-written clients of one call each, at once.
fn served_scenario(scenario: &Scenario) -> Trace {
    let backend = provider_retry_sim::serve::backend(scenario, 1);
    served(backend, |addr| async move {
        tokio::join!(
            hand_client(addr, "hand/A", 1),
            hand_client(addr, "hand/B", 1)
        );
    })
}

#[test]
fn concurrent_callers_each_meet_a_per_call_script() {
    let (ok, retried) = (
        AttemptOutcome::Ok,
        vec![status(503, None), AttemptOutcome::Ok],
    );
    assert_eq!(two_at_once("call"), [retried.clone(), retried.clone()]);
    // Shared, one caller takes the 503 and the other the ok.
    assert_eq!(two_at_once("shared"), [vec![ok], retried]);
}
