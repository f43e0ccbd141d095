//! The ecosystem table: every client people run, unchanged, against the
//! same served scenarios, each judged from the wire against a claim read
//! from its own installed source (`claims.rs`).
//!
//! One column per client, one row per scenario of `sim/scenarios/wire/`;
//! a cell is what the server saw of the call (each attempt's answer) and
//! the verdict: `held`, or the oracles violated. The clients are the
//! scripts of `sim/clients/`, which set nothing but a base URL and a key
//! (LiteLLM's and Portkey's also their documented retry settings). The
//! table is compared with `sim/tests/suite/ecosystem.md`; a column whose
//! runtime or install is missing is SKIPPED with the reason and left out
//! of the comparison.
//!
//! Two columns are gateways, each between a plain client that never
//! retries and the server, judged by the attempts it sends upstream:
//! crabllm's as its binary serves it (`crabllm-gateway`) and with
//! provider-retry around its deployment (`provider-retry-gateway`), both
//! the example `crabllm_gateway` of `sim/gateway` with one deployment.
//!
//! A row of several upstreams is for a client with as many deployments,
//! one at each (`/upstream/<i>/`): LiteLLM's Router, judged under the
//! claim of that setup; a client with one base URL has no cell there
//! (`—`). `planted-litellm` is no client people run: the Router with every
//! Retry-After read as 0 (`sim/clients/planted_litellm.py`). Behind
//! deployments at one server it looks like the Router as shipped (a retry
//! goes at once to the other deployment either way), so it runs only the
//! row of two upstreams, where the judge convicts it of sending a request
//! before the server's Retry-After had passed and the Router as shipped is
//! held.
//!
//! Reproduce one cell by hand (Portkey, a 429 with Retry-After 2 s):
//! `retry-sim serve sim/scenarios/wire/eco-retry-after.toml --addr 127.0.0.1:8787 --record r.jsonl &
//!  node node_modules/@portkey-ai/gateway/build/start-server.js --port=8788 &
//!  python3 sim/clients/plain_portkey.py http://127.0.0.1:8788 http://127.0.0.1:8787/v1; kill %1;
//!  retry-sim judge r.jsonl --claim sim/claims/portkey-gateway.json`
//!
//! Or crabllm's gateway (a `crabllm.toml` whose one provider has
//! `base_url = "http://127.0.0.1:8787/v1"`, `models = ["sim-model"]` and
//! `listen = "127.0.0.1:8788"`): `cargo run -p provider-retry-gateway
//! --example crabllm_gateway -- --stock crabllm.toml &` in place of the
//! Portkey gateway, `python3 sim/clients/plain_crabllm.py
//! http://127.0.0.1:8788 http://127.0.0.1:8787`, and `--claim
//! sim/claims/crabllm-gateway.json`.

mod claims;
pub(crate) mod install;

use super::sdks::listening;
use provider_retry_sim::check::{Claim, WIRE_TOLERANCE_NS, sdks};
use provider_retry_sim::judge;
use provider_retry_sim::trace::{AttemptOutcome, Failure, Kind, Trace};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// How a client is started.
#[derive(Clone, Copy)]
enum Runtime {
    /// `python script URL`.
    Python,
    /// `node script URL`, with the pinned `node_modules` on `NODE_PATH`.
    Node,
    /// `python script GATEWAY URL`: a plain client of the local Portkey
    /// gateway, which calls the server.
    Portkey,
    /// `python script GATEWAY SERVER`: a plain client of crabllm's gateway,
    /// the example `crabllm_gateway` (`--stock`: as the `crabllm` binary
    /// serves it), whose one deployment is the server; it reports each
    /// call's start and end to the server, so the judge knows how the
    /// gateway ended it.
    Crabllm { stock: bool },
}

/// One column.
struct Client {
    /// The column's heading and the claim file's name.
    name: &'static str,
    runtime: Runtime,
    /// Under `sim/clients/`.
    script: &'static str,
    /// The base URL's path after the server's address.
    base: &'static str,
    claim: fn() -> Claim,
    /// Its claim with one deployment at each upstream of a row of several
    /// (its base URLs comma-separated); `None`: it takes one base URL, and
    /// such rows are not its.
    deployments: Option<fn() -> Claim>,
    /// A defect planted in a client, not one people run: its claims are
    /// the client's, it has no claim file of its own, and it runs only the
    /// rows of several upstreams (behind deployments at one server its
    /// record is the client's own: a retry goes at once to the other
    /// deployment either way).
    planted: bool,
}

const CLIENTS: [Client; 11] = [
    Client {
        name: "openai-python",
        runtime: Runtime::Python,
        script: "plain_openai.py",
        base: "/v1",
        deployments: None,
        planted: false,
        claim: sdks::openai_python,
    },
    Client {
        name: "anthropic-python",
        runtime: Runtime::Python,
        script: "plain_anthropic.py",
        base: "",
        deployments: None,
        planted: false,
        claim: sdks::anthropic_python,
    },
    Client {
        name: "langchain-openai",
        runtime: Runtime::Python,
        script: "plain_langchain.py",
        base: "/v1",
        deployments: None,
        planted: false,
        claim: claims::langchain_openai,
    },
    Client {
        name: "litellm-router",
        runtime: Runtime::Python,
        script: "plain_litellm.py",
        base: "/v1",
        deployments: Some(claims::litellm_router_deployments),
        planted: false,
        claim: claims::litellm_router,
    },
    Client {
        name: "planted-litellm",
        runtime: Runtime::Python,
        script: "planted_litellm.py",
        base: "/v1",
        deployments: Some(claims::litellm_router_deployments),
        planted: true,
        claim: claims::litellm_router,
    },
    Client {
        name: "openai-node",
        runtime: Runtime::Node,
        script: "plain_openai.cjs",
        base: "/v1",
        deployments: None,
        planted: false,
        claim: claims::openai_node,
    },
    Client {
        name: "anthropic-node",
        runtime: Runtime::Node,
        script: "plain_anthropic.cjs",
        base: "",
        deployments: None,
        planted: false,
        claim: claims::anthropic_node,
    },
    Client {
        name: "ai-sdk",
        runtime: Runtime::Node,
        script: "plain_ai_sdk.cjs",
        base: "/v1",
        deployments: None,
        planted: false,
        claim: claims::ai_sdk,
    },
    Client {
        name: "portkey-gateway",
        runtime: Runtime::Portkey,
        script: "plain_portkey.py",
        base: "/v1",
        deployments: None,
        planted: false,
        claim: claims::portkey,
    },
    Client {
        name: "crabllm-gateway",
        runtime: Runtime::Crabllm { stock: true },
        script: "plain_crabllm.py",
        base: "/v1",
        deployments: None,
        planted: false,
        claim: claims::crabllm_gateway,
    },
    Client {
        name: "provider-retry-gateway",
        runtime: Runtime::Crabllm { stock: false },
        script: "plain_crabllm.py",
        base: "/v1",
        deployments: None,
        planted: false,
        claim: claims::provider_retry_gateway,
    },
];

/// One row: a scenario of `sim/scenarios/wire/`, one call of it, and how
/// long after its first request a client may take before it is cut off (a
/// client that waits out a 130 s Retry-After is still waiting: the record
/// shows that it was).
struct Row {
    scenario: &'static str,
    what: &'static str,
    limit: Duration,
    /// The scenario's upstreams: more than one, a row for clients with a
    /// deployment at each.
    upstreams: u32,
}

const ROWS: [Row; 8] = [
    Row {
        scenario: "bad-gateway",
        what: "502, 500, then ok",
        limit: Duration::from_secs(20),
        upstreams: 1,
    },
    Row {
        scenario: "eco-dropped",
        what: "connection dropped, then ok",
        limit: Duration::from_secs(20),
        upstreams: 1,
    },
    Row {
        scenario: "eco-retry-after",
        what: "429 with Retry-After 2 s, then ok",
        limit: Duration::from_secs(20),
        upstreams: 1,
    },
    Row {
        scenario: "eco-retry-after-then-5xx",
        what: "429 with Retry-After 2 s, 503, then ok",
        limit: Duration::from_secs(20),
        upstreams: 1,
    },
    Row {
        scenario: "eco-retry-after-long",
        what: "429 with Retry-After 130 s, then ok",
        limit: Duration::from_secs(4),
        upstreams: 1,
    },
    Row {
        scenario: "eco-non-transient",
        what: "400",
        limit: Duration::from_secs(20),
        upstreams: 1,
    },
    Row {
        scenario: "should-retry-false",
        what: "503 with `x-should-retry: false`, then ok",
        limit: Duration::from_secs(20),
        upstreams: 1,
    },
    Row {
        scenario: "eco-deployments-retry-after",
        what: "two upstreams, each 429 with Retry-After 2 s, then ok",
        limit: Duration::from_secs(20),
        upstreams: 2,
    },
];

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// What every column needs, or why it is SKIPPED.
struct Env {
    python: Result<PathBuf, String>,
    node: Result<PathBuf, String>,
    portkey: Result<Gateway, String>,
    crabllm: Result<PathBuf, String>,
}

/// A local gateway, stopped when dropped.
struct Gateway {
    child: Child,
    url: String,
}

impl Drop for Gateway {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A port no one listens on now (the gateways take theirs as a number).
fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("a free port");
    listener.local_addr().expect("its address").port()
}

/// `child`, a gateway told to listen on `port`, once it does.
fn gateway_on(child: Child, port: u16, what: &str) -> Result<Gateway, String> {
    let mut gateway = Gateway {
        child,
        url: format!("http://127.0.0.1:{port}"),
    };
    let started = Instant::now();
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        if let Ok(Some(status)) = gateway.child.try_wait() {
            return Err(format!("{what} exited {status} before it listened"));
        }
        if started.elapsed() > Duration::from_secs(30) {
            return Err(format!("{what} did not listen within 30 s"));
        }
        // Real time: the gateway is a real process starting up.
        std::thread::sleep(Duration::from_millis(50));
    }
    Ok(gateway)
}

/// Start the pinned Portkey gateway on loopback; wait until it answers.
fn portkey(modules: &Path) -> Result<Gateway, String> {
    let server = modules.join("@portkey-ai/gateway/build/start-server.js");
    let port = free_port();
    let child = Command::new("node")
        .arg(&server)
        .arg(format!("--port={port}"))
        .arg("--headless")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| format!("node {}: {e}", server.display()))?;
    gateway_on(child, port, "the Portkey gateway")
}

/// The example `crabllm_gateway`, where cargo puts a workspace's examples
/// next to this test binary's `deps/`: `cargo test` of the whole
/// workspace builds it first, `cargo test -p provider-retry-sim` does not.
fn crabllm_binary() -> Result<PathBuf, String> {
    let exe = std::env::current_exe().map_err(|e| format!("this test's binary: {e}"))?;
    let name = format!("crabllm_gateway{}", std::env::consts::EXE_SUFFIX);
    let binary = exe
        .parent()
        .and_then(Path::parent)
        .map(|profile| profile.join("examples").join(name));
    match binary {
        Some(binary) if binary.exists() => Ok(binary),
        _ => Err(
            "the example crabllm_gateway is not built: cargo build -p provider-retry-gateway --example crabllm_gateway"
                .into(),
        ),
    }
}

/// Start crabllm's gateway (`stock`: as its binary serves it) with one
/// deployment at `upstream`, its configuration written as `name.toml`.
fn crabllm(binary: &Path, stock: bool, upstream: &str, name: &str) -> Result<Gateway, String> {
    let port = free_port();
    let config = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("{name}.toml"));
    // Nothing but what a deployment needs: crabllm's defaults for the rest.
    let text = format!(
        "listen = \"127.0.0.1:{port}\"\n\n[providers.sim]\nkind = \"openai\"\n\
         api_key = \"sim\"\nbase_url = \"{upstream}\"\nmodels = [\"sim-model\"]\n"
    );
    std::fs::write(&config, text).map_err(|e| format!("{}: {e}", config.display()))?;
    let mut command = Command::new(binary);
    if stock {
        command.arg("--stock");
    }
    let child = command
        .arg(&config)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| format!("{}: {e}", binary.display()))?;
    gateway_on(child, port, "crabllm's gateway")
}

/// The program that runs `client`'s script, or why there is none.
fn program(client: &Client, env: &Env) -> Result<Command, String> {
    let ready = |r: &Result<PathBuf, String>| r.clone();
    Ok(match client.runtime {
        Runtime::Python | Runtime::Portkey => Command::new(ready(&env.python)?),
        Runtime::Crabllm { .. } => {
            ready(&env.crabllm)?;
            Command::new(ready(&env.python)?)
        }
        Runtime::Node => {
            let mut node = Command::new("node");
            node.env("NODE_PATH", ready(&env.node)?);
            node
        }
    })
}

/// Serve `row`'s scenario, run `client` against it, judge the record.
fn cell(client: &Client, row: &Row, env: &Env) -> Result<String, String> {
    let claim = match (row.upstreams, client.deployments) {
        (1, _) => client.claim,
        (_, Some(deployments)) => deployments,
        // One base URL: the row's other upstreams are not its.
        (_, None) => return Ok("—".into()),
    };
    if client.planted && row.upstreams == 1 {
        return Ok("—".into());
    }
    let name = format!("eco-{}-{}", client.name, row.scenario);
    let mut command = program(client, env)?;
    let record = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("{name}.jsonl"));
    let mut server = Command::new(env!("CARGO_BIN_EXE_retry-sim"))
        .arg("serve")
        .arg(root().join(format!("scenarios/wire/{}.toml", row.scenario)))
        .args(["--addr", "127.0.0.1:0", "--horizon", "120"])
        .arg("--record")
        .arg(&record)
        .stderr(Stdio::piped())
        .spawn()
        .expect("retry-sim serve starts");
    let addr = listening(&mut server);
    let bases: Vec<String> = match row.upstreams {
        1 => vec![format!("http://{addr}{}", client.base)],
        n => (0..n)
            .map(|i| format!("http://{addr}/upstream/{i}{}", client.base))
            .collect(),
    };
    let base = bases.join(",");
    command.arg(root().join("clients").join(client.script));
    // Kept until the client is done: a gateway of this cell only.
    let mut gateway = None;
    match client.runtime {
        Runtime::Python | Runtime::Node => {
            command.arg(&base);
        }
        Runtime::Portkey => {
            let portkey = env.portkey.as_ref().map_err(Clone::clone);
            let portkey = portkey.inspect_err(|_| stop(&mut server, &name))?;
            command.arg(&portkey.url).arg(&base);
        }
        Runtime::Crabllm { stock } => {
            let binary = env.crabllm.as_ref().map_err(Clone::clone);
            let started = binary.and_then(|b| crabllm(b, stock, &base, &name));
            let started = started.inspect_err(|_| stop(&mut server, &name))?;
            // The server too: the client reports each call's start and end.
            command.arg(&started.url).arg(format!("http://{addr}"));
            gateway = Some(started);
        }
    }
    // LiteLLM fetches a price list from the network at import unless told
    // to use the one it ships: loopback only, and no 8 s of retries.
    command.env("LITELLM_LOCAL_MODEL_COST_MAP", "True");
    let spawned = command.stdout(Stdio::null()).stderr(Stdio::null()).spawn();
    let mut child = spawned
        .map_err(|e| format!("{name}: {e}"))
        .inspect_err(|_| stop(&mut server, &name))?;
    let cut = !finished_within(&mut child, &record, row.limit);
    if cut {
        let _ = child.kill();
        let _ = child.wait();
    }
    drop(gateway);
    stop(&mut server, &name);
    let trace = judge::record(&record).map_err(|e| format!("{name}: {e}"))?;
    let judgement = judge::judgement(&trace, &claim(), WIRE_TOLERANCE_NS);
    let mut oracles: Vec<&str> = Vec::new();
    for v in &judgement.violations {
        if !oracles.contains(&v.oracle) {
            oracles.push(v.oracle);
        }
    }
    for v in &judgement.violations {
        println!("{name}: {v}");
    }
    let verdict = match oracles.is_empty() {
        true => "held".to_string(),
        false => format!("**violated** `{}`", oracles.join("`, `")),
    };
    let still = if cut { ", still waiting" } else { "" };
    Ok(format!("{}{still}: {verdict}", seen(&trace)))
}

/// Stop `retry-sim serve` as a person would, so it writes its record's end.
fn stop(server: &mut Child, name: &str) {
    let term = Command::new("kill")
        .args(["-TERM", &server.id().to_string()])
        .status()
        .expect("kill runs");
    assert!(term.success(), "{name}: kill -TERM serve");
    let status = server.wait().expect("serve stops on SIGTERM");
    assert!(status.success(), "{name}: serve exited {status}");
}

/// Whether `child` exits within `limit` of its first request reaching
/// the server (when `record` first holds a line), or of a minute without
/// one: a client's imports may take seconds on a loaded machine, and are
/// not what a row times. Polled: a real process.
fn finished_within(child: &mut Child, record: &Path, limit: Duration) -> bool {
    let started = Instant::now();
    let mut first_request = None;
    loop {
        if let Ok(Some(_)) = child.try_wait() {
            return true;
        }
        let requested = std::fs::metadata(record).is_ok_and(|m| m.len() > 0);
        if requested && first_request.is_none() {
            first_request = Some(Instant::now());
        }
        let over = match first_request {
            Some(at) => at.elapsed() > limit,
            None => started.elapsed() > Duration::from_secs(60),
        };
        if over {
            return false;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Each call's attempts as the server answered them: `429, ok`; calls
/// apart by `;`.
fn seen(trace: &Trace) -> String {
    let calls: Vec<String> = trace
        .calls()
        .into_values()
        .map(|records| {
            let answers: Vec<String> = records
                .iter()
                .filter_map(|r| match &r.kind {
                    Kind::AttemptEnded { outcome, .. } => Some(answer(outcome)),
                    _ => None,
                })
                .collect();
            answers.join(", ")
        })
        .collect();
    calls.join("; ")
}

fn answer(outcome: &AttemptOutcome) -> String {
    match outcome {
        AttemptOutcome::Ok => "ok".into(),
        AttemptOutcome::Failed(Failure::Status { status, .. }) => status.to_string(),
        AttemptOutcome::Failed(Failure::Network) => "dropped".into(),
        AttemptOutcome::Failed(Failure::Timeout) => "timed out".into(),
        other => format!("{other:?}"),
    }
}

/// The table: a row per scenario, a column per client.
fn table(cells: &[Vec<String>]) -> String {
    let mut out = String::from("| scenario |");
    for client in &CLIENTS {
        out.push_str(&format!(" {} |", client.name));
    }
    out.push_str("\n|---|");
    out.push_str(&"---|".repeat(CLIENTS.len()));
    out.push('\n');
    for (r, row) in ROWS.iter().enumerate() {
        out.push_str(&format!("| `{}`: {} |", row.scenario, row.what));
        for column in cells {
            out.push_str(&format!(" {} |", column[r]));
        }
        out.push('\n');
    }
    out
}

/// The cells of a markdown table, by row then column, headings excluded.
fn grid(text: &str) -> Vec<Vec<String>> {
    text.lines()
        .skip(2)
        .map(|line| {
            let inner = line.trim().trim_start_matches('|').trim_end_matches('|');
            inner.split(" | ").map(|c| c.trim().to_string()).collect()
        })
        .collect()
}

/// The `sim/claims/` file of the claim `name`.
fn claim_file(name: &str) -> PathBuf {
    root().join("claims").join(format!("{name}.json"))
}

/// Each claim file and the text it must hold. The official Python SDKs'
/// claims are built in by name; a planted defect's are its client's.
fn claim_files() -> Vec<(PathBuf, String)> {
    let json = |claim: fn() -> Claim| serde_json::to_string_pretty(&claim()).unwrap() + "\n";
    let mut claims = Vec::new();
    for c in CLIENTS.iter().filter(|c| !c.planted) {
        if sdks::named(c.name).is_none() {
            claims.push((claim_file(c.name), json(c.claim)));
        }
        if let Some(deployments) = c.deployments {
            let name = format!("{}-deployments", c.name);
            claims.push((claim_file(&name), json(deployments)));
        }
    }
    claims
}

/// The table's own check compares the files after a full run; this reads
/// them in a moment, so an edited claim is caught without installing
/// anything.
#[test]
fn each_claim_file_holds_its_clients_claim() {
    for (path, json) in claim_files() {
        let file = std::fs::read_to_string(&path).unwrap_or_default();
        assert_eq!(
            file,
            json,
            "{}: BLESS=1 cargo test --test suite ecosystem",
            path.display()
        );
    }
}

#[test]
fn every_client_is_judged_as_it_is_against_its_own_source() {
    let started = Instant::now();
    let python = install::python();
    let node = install::node_modules();
    let portkey = node.as_deref().map_err(Clone::clone).and_then(portkey);
    println!("installs took {:?}", started.elapsed());
    let env = Env {
        python,
        node,
        portkey,
        crabllm: crabllm_binary(),
    };
    let bless = std::env::var_os("BLESS").is_some();
    // Four clients at once: most of a cell is a client starting up or
    // waiting, and each is judged on the server's clock, within the
    // wire's tolerance.
    let work = Mutex::new((0..CLIENTS.len() * ROWS.len()).collect::<Vec<_>>());
    let results = Mutex::new(vec![vec![String::new(); ROWS.len()]; CLIENTS.len()]);
    let skipped = Mutex::new(vec![None; CLIENTS.len()]);
    std::thread::scope(|s| {
        for _ in 0..4 {
            s.spawn(|| {
                while let Some(i) = work.lock().unwrap().pop() {
                    let (c, r) = (i / ROWS.len(), i % ROWS.len());
                    let text = match cell(&CLIENTS[c], &ROWS[r], &env) {
                        Ok(text) => text,
                        Err(why) => {
                            skipped.lock().unwrap()[c] = Some(why);
                            "SKIPPED".into()
                        }
                    };
                    results.lock().unwrap()[c][r] = text;
                }
            });
        }
    });
    let cells = results.into_inner().unwrap();
    let skipped = skipped.into_inner().unwrap();
    for (client, why) in CLIENTS.iter().zip(&skipped) {
        if let Some(why) = why {
            println!("SKIPPED {}: {why}", client.name);
            eprintln!("SKIPPED {}: {why}", client.name);
        }
    }
    let got = table(&cells);
    println!("{got}");
    let expected_path = root().join("tests/suite/ecosystem.md");
    let claims = claim_files();
    if bless {
        std::fs::write(&expected_path, &got).unwrap();
        for (path, json) in &claims {
            std::fs::write(path, json).unwrap();
        }
    }
    for (path, json) in &claims {
        let file = std::fs::read_to_string(path).unwrap_or_default();
        assert_eq!(
            &file,
            json,
            "{} differs from its claim in claims.rs; BLESS=1 cargo test --test suite ecosystem",
            path.display()
        );
    }
    let expected = std::fs::read_to_string(&expected_path).unwrap_or_default();
    let want = grid(&expected);
    let have = grid(&got);
    let mut differ = Vec::new();
    for (r, row) in ROWS.iter().enumerate() {
        for (c, client) in CLIENTS.iter().enumerate() {
            // A planted client picks its deployment at random: its cell varies,
            // and `planted_caught` asserts its conviction instead.
            if skipped[c].is_some() || client.planted {
                continue;
            }
            let w = want.get(r).and_then(|cols| cols.get(c + 1));
            let h = &have[r][c + 1];
            if w != Some(h) {
                differ.push(format!(
                    "{} / {}: expected {w:?}, got {h:?}",
                    row.scenario, client.name
                ));
            }
        }
    }
    let took = started.elapsed();
    println!("the ecosystem table took {took:?}");
    planted_caught(&cells, &skipped);
    assert!(
        differ.is_empty(),
        "the ecosystem table differs from {}:\n{}\n\nIf the change is meant: BLESS=1 cargo test -p provider-retry-sim --test suite ecosystem",
        expected_path.display(),
        differ.join("\n")
    );
}

/// The row of deployments at two upstreams: LiteLLM's Router held, the
/// same Router with every Retry-After read as 0 convicted of a request
/// sent before its server's Retry-After had passed (`retry_after_shared`).
/// Checked apart from the expected file, so a re-bless cannot lose it.
fn planted_caught(cells: &[Vec<String>], skipped: &[Option<String>]) {
    let r = ROWS
        .iter()
        .position(|r| r.upstreams > 1)
        .expect("a row of deployments");
    let column = |name: &str| CLIENTS.iter().position(|c| c.name == name).expect(name);
    let (shipped, planted) = (column("litellm-router"), column("planted-litellm"));
    if skipped[shipped].is_some() || skipped[planted].is_some() {
        return;
    }
    let again = "BLESS=1 cargo test -p provider-retry-sim --test suite ecosystem";
    assert!(
        cells[shipped][r].ends_with(": held"),
        "LiteLLM's Router at two upstreams: {}; {again}",
        cells[shipped][r]
    );
    assert!(
        cells[planted][r].contains("`retry_after_shared`"),
        "the Router that reads Retry-After as 0 went free: {}; {again}",
        cells[planted][r]
    );
}
