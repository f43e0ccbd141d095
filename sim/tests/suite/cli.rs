//! The `retry-sim` command line: exit codes, byte-identical reports, located errors.

use std::process::Command;

fn retry_sim(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_retry-sim"))
        .args(args)
        .output()
        .expect("retry-sim runs")
}

#[test]
fn run_is_byte_identical_and_exits_zero() {
    let a = retry_sim(&["run", "transient-then-ok", "flapping", "--seed", "7"]);
    let b = retry_sim(&["run", "transient-then-ok", "flapping", "--seed", "7"]);
    assert_eq!(
        a.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&a.stdout)
    );
    assert_eq!(a.stdout, b.stdout);
    let text = String::from_utf8_lossy(&a.stdout);
    // Two scenarios: one table, a row each, then the verdict.
    let lines: Vec<&str> = text.lines().collect();
    assert!(lines[0].starts_with("scenario ") && lines[0].contains("oracles held"));
    assert!(lines[1].starts_with("transient-then-ok ") && !lines[1].contains("FAILED"));
    assert!(lines[2].starts_with("flapping ") && !lines[2].contains("FAILED"));
    assert!(
        !text.contains("scenario flapping (seed 7)"),
        "no detail: {text}"
    );
    let last = lines.last().unwrap();
    assert!(
        last.starts_with("ok: every oracle held") && last.contains("all 2 scenarios"),
        "{text}"
    );
}

#[test]
fn run_shows_one_named_scenario_or_every_one_with_verbose_in_detail() {
    let one = retry_sim(&["run", "flapping", "--seed", "7"]);
    let text = String::from_utf8_lossy(&one.stdout);
    assert_eq!(one.status.code(), Some(0), "{text}");
    assert!(
        text.contains("scenario flapping (seed 7)") && text.contains("delay_within_envelope"),
        "{text}"
    );
    let all = retry_sim(&["run", "transient-then-ok", "flapping", "--verbose"]);
    let text = String::from_utf8_lossy(&all.stdout);
    assert!(
        text.contains("scenario transient-then-ok (seed 1)")
            && text.contains("scenario flapping (seed 1)"),
        "{text}"
    );
}

/// The main job (every built-in scenario) answers on one screen: a row per
/// scenario, and the verdict on the last line.
#[test]
fn the_main_job_fits_on_one_screen() {
    let out = retry_sim(&["run"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{text}");
    let lines: Vec<&str> = text.lines().collect();
    assert!(lines.len() <= 40, "{} lines:\n{text}", lines.len());
    let builtins = provider_retry_sim::builtin::BUILTIN.len();
    assert!(
        lines
            .last()
            .unwrap()
            .contains(&format!("all {builtins} scenarios")),
        "{text}"
    );
    assert!(
        provider_retry_sim::readable::unreadable(&text).is_none(),
        "{text}"
    );
    // The README shows a shortened copy of this output: every line it shows
    // is one the main job prints, so the sample cannot drift from the truth.
    let readme = include_str!("../../../README.md");
    let sample = readme
        .split_once("<!-- sample: main job -->")
        .and_then(|(_, rest)| rest.split_once("<!-- /sample: main job -->"))
        .map(|(sample, _)| sample)
        .expect("README.md marks its sample of the main job");
    let shown: Vec<&str> = sample
        .lines()
        .filter(|l| !l.is_empty() && !l.starts_with("```") && *l != "...")
        .collect();
    assert!(shown.len() >= 4, "README sample: {sample}");
    for line in shown {
        assert!(
            lines.contains(&line),
            "README.md's sample of the main job shows a line `run` does not print: {line:?}\n{text}"
        );
    }
}

#[test]
fn flags_refused_say_what_would_be_taken() {
    for (args, says) in [
        (
            &["serve", "success", "--horizon", "soon"][..],
            "for example 1.5 or 250ms",
        ),
        (&["serve", "success", "--horizon", "0"][..], "out of range"),
        (
            &["serve", "success", "--addr", "localhost"][..],
            "localhost:8787",
        ),
        (
            &["serve", "success", "--addr", "0.0.0.0:8787"][..],
            "loopback only",
        ),
        (
            &["judge", "x.jsonl", "--claim", "ours", "--tolerance", "lots"][..],
            "number of milliseconds",
        ),
        (
            &[
                "judge",
                "--print-claim",
                "--claim",
                "ours",
                "--set",
                "retries=5",
            ][..],
            "the knobs: max_retries",
        ),
    ] {
        let out = retry_sim(args);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
        assert!(out.stdout.is_empty(), "{args:?}: nothing runs");
        assert!(err.contains(says), "{args:?}: {err}");
    }
}

#[test]
fn a_claim_is_adjusted_knob_by_knob() {
    let base = retry_sim(&["judge", "--print-claim", "--claim", "openai-python"]);
    let set = retry_sim(&[
        "judge",
        "--print-claim",
        "--claim",
        "openai-python",
        "--set",
        "max_retries=5",
        "--set",
        "timeout=2s",
    ]);
    assert_eq!(
        set.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&set.stderr)
    );
    let json = |out: &std::process::Output| -> serde_json::Value {
        serde_json::from_slice(&out.stdout).expect("the claim as JSON")
    };
    let (mut base, set) = (json(&base), json(&set));
    assert_eq!(set["max_attempts"], 6);
    assert_eq!(set["timeout_ns"], 2_000_000_000u64);
    base["max_attempts"] = set["max_attempts"].clone();
    base["timeout_ns"] = set["timeout_ns"].clone();
    assert_eq!(base, set, "only the knobs set changed");
}

#[test]
fn malformed_file_names_file_line_and_column_and_runs_nothing() {
    let dir = std::env::temp_dir().join(format!("retry-sim-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let bad = dir.join("bad.toml");
    std::fs::write(
        &bad,
        "name = \"x\"\n[workload]\nkind = \"closed\"\nclients = 1\ncalls = 1\nbogus = 3\n",
    )
    .unwrap();
    let out = retry_sim(&["run", "success", bad.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    assert!(out.stdout.is_empty(), "nothing runs on bad input");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains(&format!("{}:6:1:", bad.display())), "{err}");
    assert!(err.contains("bogus"), "{err}");
}

#[test]
fn unknown_scenario_and_bad_seed_range_exit_two() {
    assert_eq!(
        retry_sim(&["run", "no-such-scenario"]).status.code(),
        Some(2)
    );
    assert_eq!(
        retry_sim(&["sweep", "success", "--seeds", "5..5"])
            .status
            .code(),
        Some(2)
    );
}

#[test]
fn an_unmet_expectation_exits_one_with_a_replay_command() {
    let dir = std::env::temp_dir().join(format!("retry-sim-cli1-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let strict = dir.join("strict.toml");
    std::fs::write(&strict, "name = \"strict\"\n[faults]\np_transient = 1.0\n[workload]\nkind = \"closed\"\nclients = 1\ncalls = 2\n[expect]\nmax_p99_ms = 1\n").unwrap();
    let out = retry_sim(&["run", strict.to_str().unwrap(), "--seed", "3"]);
    assert_eq!(out.status.code(), Some(1));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("replay: cargo run --release -p provider-retry-sim -- replay")
            && text.contains("--seed 3"),
        "{text}"
    );
}

#[test]
fn replay_prints_the_trace_and_writes_json_lines_and_svg() {
    let dir = std::env::temp_dir().join(format!("retry-sim-cli2-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let (json, svg) = (dir.join("t.jsonl"), dir.join("t.svg"));
    let out = retry_sim(&[
        "replay",
        "permanent-outage",
        "--seed",
        "2",
        "--trace",
        json.to_str().unwrap(),
        "--svg",
        svg.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(0));
    assert!(
        String::from_utf8_lossy(&out.stdout)
            .contains("(reported) gave up after attempt 2: exhausted")
    );
    let lines = std::fs::read_to_string(&json).unwrap();
    assert!(lines.lines().all(|l| l.starts_with("{\"t\":")));
    assert!(std::fs::read_to_string(&svg).unwrap().starts_with("<svg"));
}

#[test]
fn experiments_print_their_tables_and_draw_their_charts() {
    let dir = std::env::temp_dir().join(format!("retry-sim-exp-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let svg_dir = dir.to_str().unwrap();
    let storm = retry_sim(&[
        "experiment",
        "storm",
        "--triggers",
        "500",
        "--svg-dir",
        svg_dir,
    ]);
    let text = String::from_utf8_lossy(&storm.stdout);
    assert_eq!(storm.status.code(), Some(0), "{text}");
    assert!(text.contains("500 | retries + budget |"), "{text}");
    let jitter = retry_sim(&[
        "experiment",
        "jitter",
        "--clients",
        "10",
        "--runs",
        "2",
        "--svg-dir",
        svg_dir,
    ]);
    let text = String::from_utf8_lossy(&jitter.stdout);
    assert_eq!(jitter.status.code(), Some(0), "{text}");
    assert!(text.lines().any(|l| l.starts_with("10 | ")), "{text}");
    for chart in ["storm-goodput.svg", "jitter-calls.svg", "jitter-time.svg"] {
        let svg = std::fs::read_to_string(dir.join(chart)).unwrap();
        assert!(svg.contains("<polyline"), "{chart}");
    }
    let again = retry_sim(&["experiment", "jitter", "--clients", "10", "--runs", "2"]);
    assert_eq!(again.stdout, jitter.stdout, "deterministic per seed");
}

#[test]
fn experiment_arguments_out_of_range_exit_two() {
    let out = retry_sim(&["experiment", "jitter", "--runs", "0"]);
    assert_eq!(out.status.code(), Some(2));
    for bad in ["soon", "600001"] {
        let out = retry_sim(&["experiment", "storm", "--triggers", bad]);
        assert_eq!(out.status.code(), Some(2), "{bad}");
    }
    let out = retry_sim(&["experiment", "jitter", "--clients", "0"]);
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn conform_prints_verdicts_and_exits_by_our_wrapper_alone() {
    let args = ["--seeds", "2", "--cases", "8"];
    let ours = retry_sim(&[&["conform", "ours"][..], &args].concat());
    let text = String::from_utf8_lossy(&ours.stdout);
    assert_eq!(ours.status.code(), Some(0), "{text}");
    assert!(
        text.contains("| transient_retried | built-in | held (341 calls, 1559 attempts) |"),
        "{text}"
    );
    // An oracle with nothing to judge says so, never "held", and the
    // suite says why when no scenario of the family can reach it.
    assert!(
        text.contains("| fallback_in_order | network | not exercised |"),
        "{text}"
    );
    assert!(
        text.contains(
            "not exercised: fallback_in_order in network: every subject here wraps one provider"
        ),
        "{text}"
    );
    assert!(
        !text.contains("not exercised: non_transient_once"),
        "net-mixed-until-heal answers 400s over the network: {text}"
    );
    let bare = retry_sim(&[&["conform", "bare"][..], &args].concat());
    let text = String::from_utf8_lossy(&bare.stdout);
    assert_eq!(
        bare.status.code(),
        Some(0),
        "only our wrapper decides: {text}"
    );
    assert!(
        text.contains("violated: transient-then-ok seed 0"),
        "{text}"
    );
    assert!(
        text.contains("replay transient-then-ok --seed 0 --subject bare"),
        "{text}"
    );
    let again = retry_sim(&[&["conform", "bare"][..], &args].concat());
    assert_eq!(again.stdout, bare.stdout, "deterministic per seed");
    assert_eq!(retry_sim(&["conform", "nobody"]).status.code(), Some(2));
}

#[test]
fn replay_against_a_subject_exits_one_when_it_breaks_an_oracle() {
    let out = retry_sim(&[
        "replay",
        "hang-and-timeouts",
        "--seed",
        "0",
        "--subject",
        "bare",
    ]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(
        text.lines()
            .any(|l| l.trim_start().starts_with("calls_end") && l.contains("VIOLATED")),
        "{text}"
    );
}

#[test]
fn sharded_sweeps_merge_into_the_report_of_one_sweep() {
    let dir = std::env::temp_dir().join(format!("retry-sim-shard-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let whole = retry_sim(&["sweep", "flapping", "success", "--seeds", "0..30"]);
    assert_eq!(whole.status.code(), Some(0));
    let mut files = Vec::new();
    for i in 0..3 {
        let file = dir.join(format!("shard{i}.jsonl"));
        let shard = format!("{i}/3");
        let out = retry_sim(&[
            "sweep",
            "flapping",
            "success",
            "--seeds",
            "0..30",
            "--shard",
            &shard,
            "--json",
            file.to_str().unwrap(),
        ]);
        assert_eq!(out.status.code(), Some(0));
        files.push(file.to_str().unwrap().to_string());
    }
    let mut args = vec!["merge"];
    args.extend(files.iter().map(String::as_str));
    let merged = retry_sim(&args);
    let table = |out: &std::process::Output| {
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .filter(|l| l.starts_with('|') || l.contains("run(s)"))
            .map(str::to_string)
            .collect::<Vec<_>>()
    };
    assert_eq!(merged.status.code(), Some(0));
    assert_eq!(table(&merged), table(&whole));
    assert!(
        table(&whole)
            .iter()
            .any(|l| l.contains("60 run(s), 0 failing"))
    );
    // The same shard twice is refused.
    let out = retry_sim(&["merge", &files[0], &files[0]]);
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(
        retry_sim(&["sweep", "success", "--seeds", "0..3", "--shard", "3/3"])
            .status
            .code(),
        Some(2)
    );
}

/// A fresh directory for one test's files.
fn scratch(test: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("retry-sim-{test}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// `retry-sim judge` on a record file holding `text`: exit code and stderr.
fn judge_text(dir: &std::path::Path, name: &str, text: &str) -> (Option<i32>, String) {
    let file = dir.join(name);
    std::fs::write(&file, text).unwrap();
    let out = retry_sim(&["judge", file.to_str().unwrap(), "--claim", "openai-python"]);
    assert!(
        out.stdout.is_empty(),
        "{name}: no table for a record refused: {}",
        String::from_utf8_lossy(&out.stdout)
    );
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(err.contains(&file.display().to_string()), "{name}: {err}");
    (out.status.code(), err)
}

/// A call that started, made one attempt that answered, received its answer and ended ok.
const ONE_CALL: &str = "\
{\"t\":0,\"client\":0,\"call\":0,\"kind\":\"call_started\",\"method\":\"chat\",\"compat\":0,\"inner_compat\":0}
{\"t\":1000,\"client\":0,\"call\":0,\"kind\":\"attempt_started\",\"attempt\":0,\"upstream\":0}
{\"t\":2000,\"client\":0,\"call\":0,\"kind\":\"attempt_ended\",\"attempt\":0,\"outcome\":{\"result\":\"ok\"}}
{\"t\":2500,\"client\":0,\"call\":0,\"kind\":\"chunk_received\",\"chunk\":{\"client\":0,\"call\":0,\"stream\":0,\"index\":0}}
{\"t\":3000,\"client\":0,\"call\":0,\"kind\":\"call_ended\",\"outcome\":{\"result\":\"ok\"}}
";

#[test]
fn judge_refuses_an_empty_a_callless_a_partial_and_a_truncated_record() {
    let dir = scratch("judge-refuses");
    let (code, err) = judge_text(&dir, "empty.jsonl", "");
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("an empty record"), "{err}");
    let (code, err) = judge_text(&dir, "blank.jsonl", "\n\n");
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("an empty record"), "{err}");
    let (code, err) = judge_text(&dir, "no-calls.jsonl", "{\"end_ns\":5000000}\n");
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("no calls"), "{err}");
    // Cut at a line end: every line whole, but no end line.
    let (code, err) = judge_text(&dir, "no-end.jsonl", ONE_CALL);
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("a partial record: no end line"), "{err}");
    // Cut mid-line: the last line is named, with its file.
    let cut = &ONE_CALL[..ONE_CALL.len() - 20];
    let (code, err) = judge_text(&dir, "cut.jsonl", cut);
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("cut.jsonl:5: a truncated record"), "{err}");
    let end_cut = format!("{ONE_CALL}{{\"end_ns\":50");
    let (code, err) = judge_text(&dir, "end-cut.jsonl", &end_cut);
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("end-cut.jsonl:6: a truncated record"), "{err}");
    // An end line with records after it is no record `serve` writes.
    let early = format!("{{\"end_ns\":1}}\n{ONE_CALL}{{\"end_ns\":5000}}\n");
    let (code, err) = judge_text(&dir, "early-end.jsonl", &early);
    assert_eq!(code, Some(2), "{err}");
    assert!(
        err.contains("early-end.jsonl:1: an end line before"),
        "{err}"
    );
}

#[test]
fn judge_says_which_oracles_judged_nothing_in_a_whole_record() {
    let dir = scratch("judge-whole");
    let file = dir.join("whole.jsonl");
    std::fs::write(&file, format!("{ONE_CALL}{{\"end_ns\":5000}}\n")).unwrap();
    let out = retry_sim(&["judge", file.to_str().unwrap(), "--claim", "openai-python"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{text}");
    assert!(
        text.contains("| attempts_bounded | held (1 call, 1 attempt) |"),
        "{text}"
    );
    assert!(
        text.contains("| retry_after_honoured | not exercised |"),
        "{text}"
    );
    assert!(
        text.contains("| delay_distribution | not exercised |"),
        "{text}"
    );
}

/// One HTTP/1.1 POST of `body` to `path` on loopback `port`; the answer.
fn post(port: u16, path: &str, body: &str) -> String {
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    stream
        .set_read_timeout(Some(std::time::Duration::from_secs(10)))
        .unwrap();
    write!(
        stream,
        "POST {path} HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut answer = String::new();
    let _ = stream.read_to_string(&mut answer);
    answer
}

/// `retry-sim serve success` recording to `record`, stopped by `signal`
/// after one reported call: what it wrote, and what `judge` says of it.
fn serve_then_signal(record: &std::path::Path, signal: &str) -> (String, std::process::Output) {
    use std::io::{BufRead, BufReader};
    use std::process::Stdio;
    let mut server = Command::new(env!("CARGO_BIN_EXE_retry-sim"))
        .args([
            "serve",
            "success",
            // As a person types them: `localhost`, a fraction with a unit.
            "--addr",
            "localhost:0",
            "--horizon",
            "1.5m",
        ])
        .arg("--record")
        .arg(record)
        .stderr(Stdio::piped())
        .spawn()
        .expect("retry-sim serve starts");
    let mut stderr = BufReader::new(server.stderr.take().unwrap());
    let mut said = String::new();
    let mut line = String::new();
    while stderr.read_line(&mut line).unwrap() > 0 && !line.contains("recording to") {
        said.push_str(&line);
        line.clear();
    }
    assert!(line.contains(&record.display().to_string()), "{said}{line}");
    let port: u16 = said
        .lines()
        .find_map(|l| l.strip_prefix("listening on 127.0.0.1:"))
        .and_then(|p| p.trim().parse().ok())
        .unwrap_or_else(|| panic!("no address announced: {said}"));
    let ok = |answer: String| answer.starts_with("HTTP/1.1 200");
    let report = |event: serde_json::Value| ok(post(port, "/sim/call", &event.to_string()));
    let call = |event: &str| serde_json::json!({"event": event, "client": 0, "call": 0});
    let mut started = call("started");
    started["method"] = "chat".into();
    assert!(report(started));
    let chat = r#"{"model":"m","messages":[{"role":"user","content":"sim-call:0:0"}]}"#;
    let answer = post(port, "/v1/chat/completions", chat);
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    // The answer's text names its item; the client reports it received.
    let mut item = call("item");
    item["payload"] = answer.split("\r\n\r\n").nth(1).unwrap_or_default().into();
    assert!(report(item));
    let mut ended = call("ended");
    ended["outcome"] = serde_json::json!({"result": "ok"});
    assert!(report(ended));
    // Written as it happened: the call is on disk before the server stops.
    let written = std::fs::read_to_string(record).unwrap();
    assert!(written.contains("call_ended"), "{written}");
    assert!(!written.contains("end_ns"), "{written}");
    let killed = Command::new("kill")
        .args([signal, &server.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let status = server.wait().unwrap();
    let mut rest = String::new();
    let _ = std::io::Read::read_to_string(&mut stderr, &mut rest);
    assert_eq!(status.code(), Some(0), "{rest}");
    let text = std::fs::read_to_string(record).unwrap();
    let judged = retry_sim(&[
        "judge",
        record.to_str().unwrap(),
        "--claim",
        "openai-python",
    ]);
    (text, judged)
}

#[test]
fn serve_stopped_by_sigint_or_sigterm_leaves_a_whole_record_judge_accepts() {
    let dir = scratch("serve-signal");
    for signal in ["-INT", "-TERM"] {
        let record = dir.join(format!("record{signal}.jsonl"));
        let (text, judged) = serve_then_signal(&record, signal);
        let last = text.lines().last().unwrap_or_default();
        assert!(last.starts_with("{\"end_ns\":"), "{signal}: {text}");
        assert_eq!(text.matches("end_ns").count(), 1, "{signal}: {text}");
        let table = String::from_utf8_lossy(&judged.stdout);
        let err = String::from_utf8_lossy(&judged.stderr);
        assert_eq!(
            judged.status.code(),
            Some(0),
            "{signal}: {table}{err}\n{text}"
        );
        assert!(
            table.contains("| calls_end | held (1 call, 1 attempt) |"),
            "{signal}: {table}"
        );
    }
}
