//! The official Python SDKs, judged from the wire in real time.
//!
//! A virtual environment under cargo's target dir gets `openai` and
//! `anthropic` (the versions their claims were read from); each short
//! scenario of `sim/scenarios/wire/` is served by `retry-sim serve` on
//! 127.0.0.1, `sim/clients/drive.py` drives one SDK against it with its
//! default retries, and the record is judged against that SDK's claim
//! (`check::sdks`). Without Python, or when pip cannot install the SDKs,
//! the test prints SKIPPED with the reason instead of passing silently.
//!
//! Reproduce one run by hand (`docs/wire.md`):
//! `retry-sim serve sim/scenarios/wire/transient.toml --record r.jsonl &
//!  python3 sim/clients/drive.py --sdk openai --calls 3 &&
//!  retry-sim judge r.jsonl --claim openai-python`

use provider_retry_sim::check::{Claim, Violation, WIRE_TOLERANCE_NS, adjust, sdks};
use provider_retry_sim::judge;
use provider_retry_sim::trace::{AttemptOutcome, CallOutcome, Failure, Kind, Trace};
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The SDK versions whose source the claims were read from.
const PINS: [&str; 2] = ["openai==3.57.0", "anthropic==2.14.0"];

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).to_path_buf()
}

/// Held by each test that drives the Python SDKs, so that they take turns:
/// their records are judged with a 100 ms tolerance, and Python
/// interpreters starting side by side on two shared cores were measured to
/// delay a call's first attempt past it (102 ms after the call began).
static ONE_DRIVER_AT_A_TIME: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// [`ONE_DRIVER_AT_A_TIME`], held; a test that failed holding it does not
/// stop the next from running.
fn taking_turns() -> std::sync::MutexGuard<'static, ()> {
    ONE_DRIVER_AT_A_TIME
        .lock()
        .unwrap_or_else(|e| e.into_inner())
}

/// A Python with both SDKs, or why there is none.
pub(super) fn python() -> Result<PathBuf, String> {
    super::ecosystem::install::venv("sdk-venv", &PINS)
}

/// One served run: its record, and the driver's complaints.
struct Run {
    trace: Trace,
    name: String,
}

/// Serve `scenario` (a file of `sim/scenarios/wire/`) for at most
/// `horizon_s`, drive `sdk` against it with `method` for `calls` calls,
/// and read the record.
fn run(py: &Path, sdk: &str, scenario: &str, method: &str, calls: u32, horizon_s: u32) -> Run {
    run_with(py, sdk, scenario, (method, calls, horizon_s), &[])
}

/// [`run`], the driver given `flags` too (`--strict`).
fn run_with(
    py: &Path,
    sdk: &str,
    scenario: &str,
    (method, calls, horizon_s): (&str, u32, u32),
    flags: &[&str],
) -> Run {
    let name = format!("{sdk}-{scenario}-{method}{}", flags.concat());
    let record = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("{name}.jsonl"));
    let mut server = Command::new(env!("CARGO_BIN_EXE_retry-sim"))
        .arg("serve")
        .arg(root().join(format!("scenarios/wire/{scenario}.toml")))
        .args(["--addr", "127.0.0.1:0", "--horizon", &horizon_s.to_string()])
        .arg("--record")
        .arg(&record)
        .stderr(Stdio::piped())
        .spawn()
        .expect("retry-sim serve starts");
    let addr = listening(&mut server);
    let mut driver = Command::new(py)
        .arg(root().join("clients/drive.py"))
        .args(["--sdk", sdk, "--server", &format!("http://{addr}")])
        .args(["--calls", &calls.to_string(), "--method", method])
        .args(flags)
        .stderr(Stdio::null())
        .spawn()
        .expect("the driver starts");
    let status = server.wait().expect("the server ends by itself");
    assert!(status.success(), "{name}: serve exited {status}");
    // A driver still waiting (a long Retry-After) is cut off with the server.
    let _ = driver.kill();
    let _ = driver.wait();
    let trace = judge::record(&record).unwrap_or_else(|e| panic!("{name}: {e}"));
    Run { trace, name }
}

/// The address `serve` announces on stderr.
pub(super) fn listening(server: &mut Child) -> String {
    let stderr = server.stderr.take().expect("piped stderr");
    let mut reader = BufReader::new(stderr);
    let mut line = String::new();
    reader
        .read_line(&mut line)
        .expect("serve announces its address");
    // Keep reading, so the server's last words find an open pipe.
    std::thread::spawn(move || std::io::copy(&mut reader, &mut std::io::sink()));
    line.trim()
        .strip_prefix("listening on ")
        .unwrap_or_else(|| panic!("unexpected first line from serve: {line:?}"))
        .to_string()
}

/// Each call's attempts' outcomes and its own, in call order.
fn calls(trace: &Trace) -> Vec<(Vec<AttemptOutcome>, Option<CallOutcome>)> {
    trace
        .calls()
        .into_values()
        .map(|records| {
            let attempts = records
                .iter()
                .filter_map(|r| match &r.kind {
                    Kind::AttemptEnded { outcome, .. } => Some(outcome.clone()),
                    _ => None,
                })
                .collect();
            let ended = records.iter().find_map(|r| match &r.kind {
                Kind::CallEnded { outcome } => Some(outcome.clone()),
                _ => None,
            });
            (attempts, ended)
        })
        .collect()
}

/// The waits between attempts of each call, in ms.
fn waits_ms(trace: &Trace) -> Vec<Vec<f64>> {
    trace
        .calls()
        .into_values()
        .map(|records| {
            let mut ended = None;
            let mut out = Vec::new();
            for r in records {
                match r.kind {
                    Kind::AttemptEnded { .. } => ended = Some(r.t),
                    Kind::AttemptStarted { .. } => {
                        if let Some(e) = ended {
                            out.push((r.t - e) as f64 / 1e6);
                        }
                    }
                    _ => {}
                }
            }
            out
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

/// Judge `run` against `claim` and print its verdicts; the violations.
fn judged(run: &Run, claim: &Claim) -> Vec<Violation> {
    let v = judge::judgement(&run.trace, claim, WIRE_TOLERANCE_NS).violations;
    println!("{}: waits {:?} ms", run.name, waits_ms(&run.trace));
    for violation in &v {
        println!("{}: {violation}", run.name);
    }
    v
}

fn oracles(violations: Vec<Violation>) -> Vec<&'static str> {
    violations.into_iter().map(|v| v.oracle).collect()
}

/// Every scenario against one SDK: the facts each run must show, and the verdicts.
fn judge_sdk(py: &Path, sdk: &str, claim: &Claim) {
    use AttemptOutcome::Ok as OK;
    let network = AttemptOutcome::Failed(Failure::Network);
    let failed_status = |s| {
        Some(CallOutcome::Failed(Failure::Status {
            status: s,
            retry_after_ns: None,
            should_retry: None,
        }))
    };

    let r = run(py, sdk, "transient", "chat", 3, 20);
    assert_eq!(
        calls(&r.trace),
        [
            (vec![status(503, None), OK], Some(CallOutcome::Ok)),
            (vec![network, status(500, None), OK], Some(CallOutcome::Ok)),
            (vec![OK], Some(CallOutcome::Ok)),
        ],
        "{}",
        r.name
    );
    assert_eq!(judged(&r, claim), [], "{}", r.name);

    let r = run(py, sdk, "retry-after", "chat", 2, 20);
    let waits = waits_ms(&r.trace);
    assert!(
        waits[0][0] >= 1000.0,
        "{}: Retry-After 1 s: {waits:?}",
        r.name
    );
    assert!(
        waits[1][0] >= 375.0,
        "{}: Retry-After 0 is the backoff: {waits:?}",
        r.name
    );
    assert_eq!(judged(&r, claim), [], "{}", r.name);

    let r = run(py, sdk, "non-transient", "chat", 1, 20);
    let one = vec![(vec![status(400, None)], failed_status(400))];
    assert_eq!(calls(&r.trace), one, "{}", r.name);
    assert_eq!(judged(&r, claim), [], "{}", r.name);

    let r = run(py, sdk, "stream", "chat_stream", 2, 20);
    let facts = calls(&r.trace);
    assert_eq!(
        facts[0],
        (vec![status(503, None), OK], Some(CallOutcome::Ok))
    );
    assert_eq!(
        facts[1].0,
        [OK],
        "{}: a stream cut mid-way is not retried",
        r.name
    );
    assert_eq!(judged(&r, claim), [], "{}", r.name);
}

/// The openai SDK obeys `x-should-retry` over its status rule: `false`
/// on a 503 ends the call at once, `true` on a 400 retries it after the
/// backoff. Both runs hold under its claim, and each is convicted under
/// the same claim with the header ignored.
fn should_retry_overrides_the_status(py: &Path) {
    let claim = sdks::openai_python();
    let mut ignored = claim.clone();
    adjust::set(&mut ignored, "should_retry_header=ignored").expect("a knob");
    let header = |status, retry| {
        AttemptOutcome::Failed(Failure::Status {
            status,
            retry_after_ns: None,
            should_retry: Some(retry),
        })
    };

    let r = run(py, "openai", "should-retry-false", "chat", 1, 20);
    let (attempts, _) = calls(&r.trace).remove(0);
    assert_eq!(attempts, [header(503, false)], "{}", r.name);
    assert_eq!(judged(&r, &claim), [], "{}", r.name);
    let wrong = oracles(judged(&r, &ignored));
    assert_eq!(wrong, ["transient_retried"], "{}", r.name);

    let r = run(py, "openai", "should-retry-true", "chat", 1, 20);
    let (attempts, ended) = calls(&r.trace).remove(0);
    let retried = vec![header(400, true), AttemptOutcome::Ok];
    assert_eq!(
        (attempts, ended),
        (retried, Some(CallOutcome::Ok)),
        "{}",
        r.name
    );
    assert_eq!(judged(&r, &claim), [], "{}", r.name);
    let wrong = oracles(judged(&r, &ignored));
    assert_eq!(wrong, ["non_transient_once"], "{}", r.name);
}

#[test]
fn the_python_sdks_keep_their_documented_retry_behaviour_on_the_wire() {
    let started = Instant::now();
    let py = match python() {
        Ok(py) => py,
        Err(why) => {
            println!("SKIPPED the Python SDKs' wire test: {why}");
            eprintln!("SKIPPED the Python SDKs' wire test: {why}");
            return;
        }
    };
    let _turn = taking_turns();
    let openai = std::thread::scope(|s| {
        let anthropic = s.spawn(|| {
            judge_sdk(&py, "anthropic", &sdks::anthropic_python());
            // 130 s is waited (anthropic refuses no Retry-After): cut off at the horizon.
            let r = run(&py, "anthropic", "retry-after-long", "chat", 1, 6);
            let (attempts, ended) = calls(&r.trace).remove(0);
            assert_eq!(
                (attempts, ended),
                (vec![status(429, Some(130))], None),
                "{}",
                r.name
            );
            assert_eq!(judged(&r, &sdks::anthropic_python()), [], "{}", r.name);
            // The judge tells the SDKs apart: openai's claim refuses 130 s.
            let wrong = oracles(judged(&r, &sdks::openai_python()));
            assert_eq!(wrong, ["calls_end"], "{}", r.name);
        });
        judge_sdk(&py, "openai", &sdks::openai_python());
        // Over openai's 120 s maximum: the call ends at once.
        let r = run(&py, "openai", "retry-after-long", "chat", 1, 20);
        let (attempts, ended) = calls(&r.trace).remove(0);
        let refused = CallOutcome::Failed(Failure::Status {
            status: 429,
            retry_after_ns: None,
            should_retry: None,
        });
        assert_eq!(
            (attempts, ended),
            (vec![status(429, Some(130))], Some(refused))
        );
        assert_eq!(judged(&r, &sdks::openai_python()), [], "{}", r.name);
        // Under anthropic's rule (for openai's methods), ending at once
        // gives up a retry it had.
        let openai = sdks::openai_python();
        let anthropic_rule = Claim {
            retry_after: sdks::anthropic_python().retry_after,
            ..openai
        };
        let wrong = oracles(judged(&r, &anthropic_rule));
        assert_eq!(wrong, ["transient_retried"], "{}", r.name);
        should_retry_overrides_the_status(&py);
        anthropic.join()
    });
    if let Err(panic) = openai {
        std::panic::resume_unwind(panic);
    }
    let took = started.elapsed();
    println!("the SDKs' wire test took {took:?}");
    assert!(took < Duration::from_secs(120), "took {took:?}");
}

/// crabllm's own OpenAI client inside provider-retry's `Retrying`, built
/// by `from_config` as a gateway builds it, judged from the same kind of
/// record by the same oracles, against provider-retry's documented claim.
/// It sends no call ids, so one call per run (all attempts are call 0).
#[test]
fn crabllm_through_provider_retry_keeps_its_claim_on_the_wire() {
    use crabllm_core::{ChatCompletionRequest, Provider, ProviderConfig};
    use provider_retry_sim::backend::Backend;
    use provider_retry_sim::faults::{FaultPlan, Faults};
    use provider_retry_sim::method::Method;
    use provider_retry_sim::scenario::PolicySpec;
    use provider_retry_sim::serve::{Options, serve};
    use provider_retry_sim::trace::ChunkId;

    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let trace = runtime.block_on(async {
        let plan = FaultPlan {
            script: ["503", "502", "ok"].map(|s| s.parse().unwrap()).to_vec(),
            ..FaultPlan::default()
        };
        let backend = Backend::on_tokio(Faults::new(plan, 1), None);
        let (tx, rx) = tokio::sync::oneshot::channel();
        let options = Options {
            addr: "127.0.0.1:0".parse().unwrap(),
            horizon: Duration::from_secs(20),
            seed: 1,
        };
        let server = tokio::spawn(serve(backend.clone(), options, move |a| {
            let _ = tx.send(a);
        }));
        let addr = rx.await.unwrap();
        let config = ProviderConfig {
            api_key: Some("test-key".into()),
            base_url: Some(format!("http://{addr}/v1")),
            ..ProviderConfig::default()
        };
        let remote = crabllm_provider::RemoteProvider::new(
            "openai",
            &config,
            crabllm_provider::make_client(),
        );
        let wrapped = provider_retry::Retrying::from_config(remote, &config).seed(7);
        let request: ChatCompletionRequest =
            serde_json::from_str(r#"{"model":"m","messages":[{"role":"user","content":"hi"}]}"#)
                .unwrap();
        let started = Kind::CallStarted {
            method: Method::Chat,
            compat: 0,
            inner_compat: 0,
            digest: None,
        };
        backend.record(0, 0, started);
        let response = wrapped.chat_completion(&request).await.unwrap();
        let chunk = ChunkId::find(&response.id);
        backend.record(0, 0, Kind::ChunkReceived { chunk });
        let outcome = CallOutcome::Ok;
        backend.record(0, 0, Kind::CallEnded { outcome });
        // Nobody posts /sim/done here: stop the server at once.
        server.abort();
        Trace::new(backend.take_trace())
    });
    // `from_config` under crabllm's defaults: 2 retries, 30 s per attempt,
    // a 15 s deadline; the rest is provider-retry's defaults.
    let spec = PolicySpec {
        timeout: Duration::from_secs(30),
        retry_deadline: Some(Duration::from_secs(15)),
        ..PolicySpec::default()
    };
    let claim = Claim::provider_retry(&spec);
    let facts = calls(&trace);
    let ok = AttemptOutcome::Ok;
    let expected = vec![status(503, None), status(502, None), ok];
    assert_eq!(facts, [(expected, Some(CallOutcome::Ok))]);
    let run = Run {
        trace,
        name: "crabllm-through-provider-retry".into(),
    };
    assert_eq!(judged(&run, &claim), []);
    // The same record breaks a claim of one retry: the judge looks.
    let once = Claim {
        max_attempts: 2,
        ..claim
    };
    assert_eq!(oracles(judged(&run, &once)), ["attempts_bounded"]);
}

/// Every endpoint the SDKs call is answered in its provider's shape
/// (`wire::shapes`): each SDK, validating every answer against its own
/// types (`--strict`), parses every answer of the all-ok `wire/shapes`
/// scenario (a chat stream, embeddings, the Responses API plain and
/// streamed, Anthropic's messages plain and streamed), reports the items
/// it found, and the judge finds every call whole and its claim held.
/// Embeddings run once more as the SDK asks them by default, in base64,
/// which its types cannot validate before it decodes them.
#[test]
fn the_python_sdks_parse_every_answer_in_its_providers_shape() {
    let py = match python() {
        Ok(py) => py,
        Err(why) => {
            println!("SKIPPED the Python SDKs' shapes test: {why}");
            eprintln!("SKIPPED the Python SDKs' shapes test: {why}");
            return;
        }
    };
    // (SDK, --method, items a call receives: a stream's three, else one, flags)
    let strict: &[&str] = &["--strict"];
    let drives = [
        ("openai", "chat_stream", 3, strict),
        ("openai", "embeddings", 1, strict),
        ("openai", "embeddings", 1, &[]),
        ("openai", "responses", 1, strict),
        ("openai", "responses_stream", 3, strict),
        ("anthropic", "chat", 1, strict),
        ("anthropic", "chat_stream", 3, strict),
    ];
    let _turn = taking_turns();
    let started = Instant::now();
    // One after another: each run's timing is judged too.
    for (sdk, method, items, flags) in drives {
        let r = &run_with(&py, sdk, "shapes", (method, 2, 20), flags);
        let whole = (vec![AttemptOutcome::Ok], Some(CallOutcome::Ok));
        assert_eq!(calls(&r.trace), [whole.clone(), whole], "{}", r.name);
        for (call, records) in r.trace.calls() {
            let received = records
                .iter()
                .filter(|r| matches!(r.kind, Kind::ChunkReceived { chunk: Some(_) }))
                .count();
            assert_eq!(received, items, "{}: call {call:?}", r.name);
        }
        let claim = match r.name.starts_with("openai") {
            true => sdks::openai_python(),
            false => sdks::anthropic_python(),
        };
        assert_eq!(judged(r, &claim), [], "{}", r.name);
    }
    // Its own time, not the other Python test's it may have waited for.
    let took = started.elapsed();
    println!("the SDKs' shapes test took {took:?}");
    assert!(took < Duration::from_secs(60), "took {took:?}");
}
