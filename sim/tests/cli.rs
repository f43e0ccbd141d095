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
    assert!(
        text.contains("scenario flapping (seed 7)") && text.contains("oracles held"),
        "{text}"
    );
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
    assert!(String::from_utf8_lossy(&out.stdout).contains("(reported) gave up after 2: exhausted"));
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
        text.contains("| transient_retried | built-in | held |"),
        "{text}"
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
    assert!(text.contains("VIOLATED calls_end"), "{text}");
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
