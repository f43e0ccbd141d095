//! Both gateways on loopback, in front of the fault server with two
//! upstreams (one per deployment, in fallback order), each endpoint failed
//! on purpose, judged from what the server saw against the claim of the
//! gateway's configuration: the stock router does not retry chat, the one
//! with provider-retry holds every oracle. Real time, short: a scenario
//! takes at most a few hundred milliseconds but for the hang (1 s timeout).

use bytes::Bytes;
use crabllm_core::GatewayConfig;
use http_body_util::{BodyExt, Full};
use hyper::Request;
use hyper_util::rt::TokioIo;
use provider_retry_sim::check::gateways::{self, Deployment};
use provider_retry_sim::check::{self, Claim, Context, Violation, WIRE_TOLERANCE_NS};
use provider_retry_sim::method::Method;
use provider_retry_sim::scenario::{PolicySpec, Scenario};
use provider_retry_sim::serve::{self, Options};
use provider_retry_sim::trace::{CallOutcome, ChunkId, Failure, Kind, Trace};
use provider_retry_sim::wire::address;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

const OPENAI_MODEL: &str = "sim-openai";
const ANTHROPIC_MODEL: &str = "sim-anthropic";

/// Each deployment: 2 retries, a 1 s timeout, a 15 s deadline.
const DEPLOYMENT: Deployment = Deployment {
    max_retries: 2,
    timeout: Duration::from_secs(1),
    retry_deadline: Duration::from_secs(15),
};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Gateway {
    Stock,
    Retrying,
}

/// What a gateway endpoint is asked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Endpoint {
    Chat,
    ChatStream,
    Embeddings,
    Messages,
    MessagesStream,
}

impl Endpoint {
    const ALL: [Endpoint; 5] = [
        Endpoint::Chat,
        Endpoint::ChatStream,
        Endpoint::Embeddings,
        Endpoint::Messages,
        Endpoint::MessagesStream,
    ];

    /// The method the gateway calls on a deployment's provider for it.
    fn method(self) -> Method {
        match self {
            Endpoint::Chat => Method::ChatRaw,
            Endpoint::ChatStream => Method::Passthrough,
            Endpoint::Embeddings => Method::Embedding,
            Endpoint::Messages => Method::AnthropicRaw,
            Endpoint::MessagesStream => Method::AnthropicStreamRaw,
        }
    }

    fn streamed(self) -> bool {
        matches!(self, Endpoint::ChatStream | Endpoint::MessagesStream)
    }

    /// The request: path and body, the call's tag in its text.
    fn request(self, tag: &str) -> (&'static str, String) {
        let stream = self.streamed();
        match self {
            Endpoint::Chat | Endpoint::ChatStream => (
                "/v1/chat/completions",
                format!(
                    r#"{{"model":"{OPENAI_MODEL}","stream":{stream},"messages":[{{"role":"user","content":"{tag}"}}]}}"#
                ),
            ),
            Endpoint::Embeddings => (
                "/v1/embeddings",
                format!(r#"{{"model":"{OPENAI_MODEL}","input":"{tag}"}}"#),
            ),
            Endpoint::Messages | Endpoint::MessagesStream => (
                "/v1/messages",
                format!(
                    r#"{{"model":"{ANTHROPIC_MODEL}","max_tokens":16,"stream":{stream},"messages":[{{"role":"user","content":"{tag}"}}]}}"#
                ),
            ),
        }
    }
}

/// Two deployments per model, at the fault server's upstreams 0 and 1;
/// the second weighs 0, so the router's order is always 0 then 1.
fn config(server: SocketAddr, d: &Deployment) -> GatewayConfig {
    let mut providers = serde_json::Map::new();
    for (prefix, kind, model) in [
        ("openai", "openai", OPENAI_MODEL),
        ("anthropic", "anthropic", ANTHROPIC_MODEL),
    ] {
        for upstream in 0..2u16 {
            let provider = serde_json::json!({
                "kind": kind,
                "api_key": "sim",
                "base_url": format!("http://{server}/upstream/{upstream}/v1"),
                "models": [model],
                "weight": 1 - upstream,
                "max_retries": d.max_retries,
                "timeout": d.timeout.as_secs(),
                "retry_deadline": d.retry_deadline.as_secs(),
            });
            providers.insert(format!("{prefix}-{upstream}"), provider);
        }
    }
    let config = serde_json::json!({ "listen": "127.0.0.1:0", "providers": providers });
    serde_json::from_value(config).expect("a valid gateway configuration")
}

/// What each gateway promises: the stock one its configuration's
/// documentation, ours provider-retry's semantics under `from_config`, each
/// per deployment, falling back over two.
fn claim(gateway: Gateway) -> Claim {
    match gateway {
        Gateway::Stock => gateways::crabllm(&DEPLOYMENT, 2),
        Gateway::Retrying => {
            let spec = PolicySpec {
                max_retries: DEPLOYMENT.max_retries,
                timeout: DEPLOYMENT.timeout,
                retry_deadline: Some(DEPLOYMENT.retry_deadline),
                ..PolicySpec::default()
            };
            Claim {
                upstreams: 2,
                ..Claim::provider_retry(&spec)
            }
        }
    }
}

fn scenario(name: &str, first: &str, second: &str) -> Scenario {
    let text = format!(
        "name = \"{name}\"\n[workload]\nkind = \"closed\"\nclients = 1\ncalls = 1\n\
         [faults]\nlatency = {{ kind = \"uniform\", min_ms = 5, max_ms = 5 }}\n{first}\n[[fallback]]\nlatency = {{ kind = \"uniform\", min_ms = 5, max_ms = 5 }}\n{second}\n"
    );
    Scenario::parse(std::path::Path::new(name), &text).expect("scenario parses")
}

/// Serve `scenario`, put `gateway` in front of it, make `calls` calls of
/// `endpoint` one after another, and return the record and its verdicts.
async fn run(
    gateway: Gateway,
    scenario: &Scenario,
    endpoint: Endpoint,
    calls: u64,
) -> (Trace, Vec<Violation>) {
    let build = |config: &GatewayConfig| match gateway {
        Gateway::Stock => provider_retry_gateway::stock(config),
        Gateway::Retrying => provider_retry_gateway::retrying(config),
    };
    run_with(build, &claim(gateway), scenario, endpoint, calls).await
}

/// [`run`] with the gateway `build` makes from the configuration, judged
/// against `claim`.
async fn run_with(
    build: impl FnOnce(&GatewayConfig) -> Result<axum::Router, crabllm_core::Error>,
    claim: &Claim,
    scenario: &Scenario,
    endpoint: Endpoint,
    calls: u64,
) -> (Trace, Vec<Violation>) {
    let backend = serve::backend(scenario, 1);
    let (tx, rx) = tokio::sync::oneshot::channel();
    let options = Options {
        addr: "127.0.0.1:0".parse().unwrap(),
        horizon: Duration::from_secs(30),
        seed: 1,
    };
    let server = tokio::spawn(serve::serve(backend.clone(), options, move |addr| {
        let _ = tx.send(addr);
    }));
    let server_addr = rx.await.expect("the fault server binds");
    let app = build(&config(server_addr, &DEPLOYMENT)).expect("the configuration is valid");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let gateway_addr = listener.local_addr().unwrap();
    let front = tokio::spawn(async move { axum::serve(listener, app).await });
    for call in 0..calls {
        drive(&backend, gateway_addr, endpoint, call).await;
    }
    post(server_addr, serve::DONE_PATH, String::new())
        .await
        .ok();
    let trace = server.await.unwrap().expect("served");
    front.abort();
    let context = Context {
        tolerance_ns: WIRE_TOLERANCE_NS,
        ..Context::default()
    };
    let verdicts = check::check(&trace, claim, &context);
    (trace, verdicts)
}

/// One call through the gateway, recorded on the server's clock as the
/// caller saw it.
async fn drive(
    backend: &Arc<provider_retry_sim::backend::Backend>,
    gateway: SocketAddr,
    endpoint: Endpoint,
    call: u64,
) {
    let record = |kind| backend.record(0, call, kind);
    record(Kind::CallStarted {
        method: endpoint.method(),
        compat: 0,
        inner_compat: 0,
        digest: None,
    });
    let (path, body) = endpoint.request(&address::tag(0, call));
    let outcome = match post(gateway, path, body).await {
        Err(_) => CallOutcome::Failed(Failure::Network),
        Ok(response) if !response.status().is_success() => {
            let status = response.status().as_u16();
            let _ = response.into_body().collect().await;
            CallOutcome::Failed(Failure::Status {
                status,
                retry_after_ns: None,
                should_retry: None,
            })
        }
        Ok(response) => {
            let mut body = response.into_body();
            let mut pending = String::new();
            let mut failed = false;
            while let Some(frame) = body.frame().await {
                let Ok(frame) = frame else {
                    failed = true;
                    break;
                };
                let Ok(data) = frame.into_data() else {
                    continue;
                };
                pending.push_str(&String::from_utf8_lossy(&data));
                if endpoint.streamed() {
                    // Each complete `data:` line carrying text is an item;
                    // the frame around them (`[DONE]`, a closing chunk,
                    // Anthropic's `message_start` ... `message_stop`) is not.
                    while let Some(end) = pending.find('\n') {
                        let line: String = pending.drain(..=end).collect();
                        if let Some(data) = line.trim().strip_prefix("data:")
                            && carries_text(data)
                        {
                            record(Kind::ChunkReceived {
                                chunk: ChunkId::find(data),
                            });
                        }
                    }
                }
            }
            if !endpoint.streamed() && !failed {
                record(Kind::ChunkReceived {
                    chunk: ChunkId::find(&pending),
                });
            }
            match failed {
                true => {
                    record(Kind::StreamFailed { timeout: false });
                    CallOutcome::Failed(Failure::Network)
                }
                false => CallOutcome::Ok,
            }
        }
    };
    record(Kind::CallEnded { outcome });
}

async fn post(
    addr: SocketAddr,
    path: &str,
    body: String,
) -> Result<hyper::Response<hyper::body::Incoming>, String> {
    let stream = tokio::net::TcpStream::connect(addr)
        .await
        .map_err(|e| e.to_string())?;
    let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .map_err(|e| e.to_string())?;
    tokio::spawn(connection);
    let request = Request::post(path)
        .header("host", addr.to_string())
        .header("content-type", "application/json")
        .header("anthropic-version", "2023-06-01")
        .body(Full::new(Bytes::from(body)))
        .map_err(|e| e.to_string())?;
    sender
        .send_request(request)
        .await
        .map_err(|e| e.to_string())
}

fn oracles(verdicts: &[Violation]) -> Vec<&'static str> {
    verdicts.iter().map(|v| v.oracle).collect()
}

/// The upstream of every attempt, in order.
fn attempts(trace: &Trace) -> Vec<u32> {
    trace
        .records
        .iter()
        .filter_map(|r| match r.kind {
            Kind::AttemptStarted { upstream, .. } => Some(upstream),
            _ => None,
        })
        .collect()
}

/// One cell of the guide's verdict table (`docs/gateway.md`): where the attempts went, how
/// the call ended, and what the judge said.
fn cell(trace: &Trace, verdicts: &[Violation]) -> String {
    let at: Vec<String> = attempts(trace).iter().map(u32::to_string).collect();
    let end = match ended_ok(trace) {
        true => "ok",
        false => "failed",
    };
    let said = match verdicts {
        [] => "every oracle held".to_string(),
        v => v
            .iter()
            .map(|v| format!("`{}` ({})", v.oracle, v.detail))
            .collect::<Vec<_>>()
            .join("; "),
    };
    format!("upstreams {}, {end}; {said}", at.join(" "))
}

/// Whether an event's data carries text: an OpenAI chunk whose delta has
/// content, or an Anthropic `content_block_delta`.
fn carries_text(data: &str) -> bool {
    let Ok(event) = serde_json::from_str::<serde_json::Value>(data) else {
        return false;
    };
    let delta = event.pointer("/choices/0/delta/content");
    event["type"] == "content_block_delta"
        || delta
            .and_then(|c| c.as_str())
            .is_some_and(|c| !c.is_empty())
}

fn ended_ok(trace: &Trace) -> bool {
    trace.records.iter().any(|r| {
        matches!(
            r.kind,
            Kind::CallEnded {
                outcome: CallOutcome::Ok
            }
        )
    })
}

#[tokio::test]
async fn one_503_the_stock_gateway_falls_back_where_ours_retries() {
    let scenario = scenario("503-once", "script = [\"503\"]", "");
    for endpoint in Endpoint::ALL {
        let (stock, stock_verdicts) = run(Gateway::Stock, &scenario, endpoint, 1).await;
        let (ours, our_verdicts) = run(Gateway::Retrying, &scenario, endpoint, 1).await;
        let say = |v: &[Violation]| format!("{endpoint:?}: {v:?}");
        // `--nocapture` prints the guide's verdict table.
        println!(
            "| {endpoint:?} | {} | {} |",
            cell(&stock, &stock_verdicts),
            cell(&ours, &our_verdicts)
        );
        assert_eq!(our_verdicts, [], "{}", say(&our_verdicts));
        match endpoint {
            // One attempt per deployment: the documented retries never happen.
            Endpoint::Chat | Endpoint::Messages => {
                assert_eq!(
                    oracles(&stock_verdicts),
                    ["transient_retried"],
                    "{}",
                    say(&stock_verdicts)
                );
                assert!(stock_verdicts[0].detail.starts_with("upstream 0: "));
                assert_eq!(attempts(&stock), [0, 1], "{endpoint:?}");
                assert_eq!(attempts(&ours), [0, 0], "{endpoint:?}");
            }
            // Retried in the stock router's own loop.
            Endpoint::Embeddings | Endpoint::MessagesStream => {
                assert_eq!(stock_verdicts, [], "{}", say(&stock_verdicts));
                assert_eq!(attempts(&stock), [0, 0], "{endpoint:?}");
                assert_eq!(attempts(&ours), [0, 0], "{endpoint:?}");
            }
            // A forwarded body is sent once, by both, and the 503 returned.
            Endpoint::ChatStream => {
                assert_eq!(stock_verdicts, [], "{}", say(&stock_verdicts));
                assert_eq!(attempts(&stock), [0]);
                assert_eq!(attempts(&ours), [0]);
                assert!(!ended_ok(&stock) && !ended_ok(&ours));
                continue;
            }
        }
        assert!(ended_ok(&stock) && ended_ok(&ours), "{endpoint:?}");
    }
}

#[tokio::test]
async fn a_hung_attempt_the_stock_gateway_abandons_ours_retries() {
    let scenario = scenario("hang-once", "script = [\"hang\"]", "");
    let (stock, stock_verdicts) = run(Gateway::Stock, &scenario, Endpoint::Chat, 1).await;
    assert_eq!(
        oracles(&stock_verdicts),
        ["transient_retried"],
        "{stock_verdicts:?}"
    );
    assert_eq!(attempts(&stock), [0, 1]);
    let (ours, our_verdicts) = run(Gateway::Retrying, &scenario, Endpoint::Chat, 1).await;
    assert_eq!(our_verdicts, [], "{our_verdicts:?}");
    assert_eq!(attempts(&ours), [0, 0]);
    assert!(ended_ok(&stock) && ended_ok(&ours));
}

#[tokio::test]
async fn retries_within_a_deployment_then_fallback_compose_to_the_sum() {
    // Both deployments always 503: each spends its three attempts, in
    // order, and the call fails after 3 + 3, never more.
    let always = "script = [\"503\"]\nscript_repeat = true";
    let both = scenario("always-503", always, always);
    for endpoint in [Endpoint::Chat, Endpoint::Embeddings, Endpoint::Messages] {
        let (ours, verdicts) = run(Gateway::Retrying, &both, endpoint, 1).await;
        assert_eq!(verdicts, [], "{endpoint:?}: {verdicts:?}");
        assert_eq!(attempts(&ours), [0, 0, 0, 1, 1, 1], "{endpoint:?}");
        assert!(!ended_ok(&ours));
    }
    // Upstream 0 recovers after two: the call never reaches upstream 1.
    let twice = scenario("503-twice", "script = [\"503\", \"503\"]", always);
    let (ours, verdicts) = run(Gateway::Retrying, &twice, Endpoint::Chat, 1).await;
    assert_eq!(verdicts, [], "{verdicts:?}");
    assert_eq!(attempts(&ours), [0, 0, 0]);
    assert!(ended_ok(&ours));
}

#[tokio::test]
async fn a_router_that_tries_deployments_out_of_order_is_caught() {
    // A planted defect: the weights turned around, so the router starts
    // at the deployment the claim names second.
    let scenario = scenario("503-once", "script = [\"503\"]", "");
    let reversed = |config: &GatewayConfig| {
        let mut config = config.clone();
        for (name, provider) in config.providers.iter_mut() {
            provider.weight = Some(u16::from(name.ends_with("-1")));
        }
        provider_retry_gateway::retrying(&config)
    };
    let claim = claim(Gateway::Retrying);
    let (trace, verdicts) = run_with(reversed, &claim, &scenario, Endpoint::Chat, 1).await;
    assert_eq!(attempts(&trace), [1]);
    assert_eq!(oracles(&verdicts), ["fallback_in_order"], "{verdicts:?}");
}

#[tokio::test]
async fn a_gateway_that_returns_a_transient_failure_with_a_deployment_untried_is_caught() {
    // A planted defect: the second deployment dropped from the
    // configuration, so the call fails where the claim has it fall back.
    let always = "script = [\"503\"]\nscript_repeat = true";
    let scenario = scenario("always-503-then-ok", always, "");
    let first_only = |config: &GatewayConfig| {
        let mut config = config.clone();
        config.providers.retain(|name, _| name.ends_with("-0"));
        provider_retry_gateway::retrying(&config)
    };
    let claim = claim(Gateway::Retrying);
    let (trace, verdicts) = run_with(first_only, &claim, &scenario, Endpoint::Chat, 1).await;
    assert_eq!(attempts(&trace), [0, 0, 0]);
    assert_eq!(oracles(&verdicts), ["fallback_taken"], "{verdicts:?}");
    // Configured whole, the same gateway falls back and the call succeeds.
    let (trace, verdicts) = run(Gateway::Retrying, &scenario, Endpoint::Chat, 1).await;
    assert_eq!(attempts(&trace), [0, 0, 0, 1]);
    assert_eq!(verdicts, [], "{verdicts:?}");
}

#[tokio::test]
async fn the_routers_own_loop_left_on_multiplies_the_wrappers_retries() {
    // A planted defect: each deployment wrapped, but the router's retry
    // loop left on around the wrapper. Embeddings always failing at
    // upstream 0: three router attempts of three wrapper attempts each.
    let always = "script = [\"503\"]\nscript_repeat = true";
    let scenario = scenario("always-503-then-ok", always, "");
    let both_on = |config: &GatewayConfig| {
        // Every deployment here has the same settings.
        let settings = config.providers["openai-0"].clone();
        let registry = crabllm_provider::ProviderRegistry::from_config(config, |remote| {
            provider_retry::Retrying::from_config(remote, &settings)
        })?;
        Ok(provider_retry_gateway::router(config, registry))
    };
    let claim = claim(Gateway::Retrying);
    let (trace, verdicts) = run_with(both_on, &claim, &scenario, Endpoint::Embeddings, 1).await;
    assert_eq!(attempts(&trace), [0, 0, 0, 0, 0, 0, 0, 0, 0, 1]);
    assert!(
        oracles(&verdicts).contains(&"attempts_bounded"),
        "{verdicts:?}"
    );
}

#[test]
fn the_examples_configuration_and_faults_parse() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("examples");
    let config = GatewayConfig::from_file(&dir.join("crabllm.toml")).expect("crabllm.toml");
    assert_eq!(config.providers.len(), 2);
    let registry = provider_retry_gateway::retrying_registry(&config).expect("valid");
    assert_eq!(
        registry.dispatch_list("sim-model").map(|d| d.len()),
        Some(2)
    );
    let faults = Scenario::load(&dir.join("faults.toml")).expect("faults.toml");
    assert_eq!(faults.fallback.len(), 1);
}
