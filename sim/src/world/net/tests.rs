//! Every method over the simulated network: the server and the HTTP
//! provider carry each one's payloads, statuses, Retry-After and failures.

use crate::link::http::HttpProvider;
use crate::method::Method;
use crate::wire::address::CallId;
use crabllm_core::Error;

/// What one call over the network got: its payloads and how it ended.
type Got = (
    Vec<Option<crate::trace::ChunkId>>,
    Result<(), (Error, Option<bool>)>,
);

/// Every method called `steps` times in turn by one client over a
/// turmoil network, against a server replaying `script`.
fn over_the_network(script: &[&str], steps: u64) -> Vec<(Method, Got)> {
    use crate::backend::{Backend, Clock};
    use crate::faults::{FaultPlan, Faults};
    use crate::world::net::server::Server;
    use crate::world::net::world::wall;
    use std::sync::{Arc, Mutex};
    let plan = FaultPlan {
        script: script
            .iter()
            .map(|s| s.parse().expect("a script step"))
            .collect(),
        script_repeat: true,
        ..FaultPlan::default()
    };
    let mut sim = turmoil::Builder::new()
        .simulation_duration(std::time::Duration::from_secs(600))
        .build();
    let server = Server::new(
        Backend::new(Faults::new(plan, 1), None, Clock::Turmoil),
        wall,
    );
    crate::world::net::world::serve(&mut sim, server);
    let out = Arc::new(Mutex::new(Vec::new()));
    let sink = out.clone();
    sim.client("client", async move {
        let server = HttpProvider::new("server:80", wall);
        for (m, method) in Method::ALL.into_iter().enumerate() {
            for step in 0..steps {
                let id = CallId::new(1, m as u64 * 100 + step);
                let provider = server.at(id);
                let mut got = Vec::new();
                let ended = crate::wire::invoke(&provider, method, id, |p| got.push(p)).await;
                let ended = ended.map_err(|e| (e.error, e.stream_failed));
                sink.lock().unwrap().push((method, (got, ended)));
            }
        }
        Ok(())
    });
    sim.run().unwrap();
    std::mem::take(&mut *out.lock().unwrap())
}

/// Payloads of one whole answer: from client 1's call, numbered from 0.
fn whole(method: Method, got: &[Option<crate::trace::ChunkId>], items: u32) {
    let indices: Vec<_> = got.iter().map(|p| p.map(|p| (p.client, p.index))).collect();
    let want: Vec<_> = match method.is_stream() {
        true => (0..items).map(|i| Some((1, i))).collect(),
        false => vec![Some((1, 0))],
    };
    assert_eq!(indices, want, "{method}");
}

#[test]
fn every_method_travels_the_network_with_its_payloads() {
    let script = ["ok", "429:ra=2000", "network", "decode", "stream-fail"];
    let calls = over_the_network(&script, script.len() as u64);
    assert_eq!(calls.len(), Method::ALL.len() * script.len());
    for pair in calls.chunks(script.len()) {
        let method = pair[0].0;
        let [ok, status, net, decode, fail] = &pair.iter().map(|c| &c.1).collect::<Vec<_>>()[..]
        else {
            unreachable!()
        };
        assert!(ok.1.is_ok(), "{method}: {ok:?}");
        whole(method, &ok.0, 8);
        assert!(
            matches!(
                status,
                (got, Err((Error::Provider { status: 429, retry_after: Some(w), .. }, None)))
                    if got.is_empty() && w.as_secs() == 2
            ),
            "{method}: {status:?}"
        );
        assert!(
            matches!(net, (got, Err((Error::Network(_), None))) if got.is_empty()),
            "{method}: {net:?}"
        );
        assert!(
            matches!(decode, (got, Err((Error::Decode(_), None))) if got.is_empty()),
            "{method}: {decode:?}"
        );
        // A stream call answered with anything but an event stream fails
        // at its open, by its content type, before reading a byte of it.
        if method.is_stream() {
            assert!(
                matches!(&decode.1, Err((Error::Decode(m), _)) if m.starts_with("not an event stream")),
                "{method}: {decode:?}"
            );
        }
        if method.is_stream() {
            whole(method, &fail.0, 4);
            assert!(
                matches!(fail.1, Err((Error::Network(_), Some(false)))),
                "{method}: {fail:?}"
            );
        } else {
            whole(method, &fail.0, 1);
            assert!(fail.1.is_ok(), "{method}: {fail:?}");
        }
    }
}

/// Runs `scenario` under `seed` against the subject `visit` is given,
/// stepped in full and with quiet time skipped.
struct BothSteppings<'a> {
    scenario: &'a crate::scenario::Scenario,
    seed: u64,
}

impl crate::subject::Visit for BothSteppings<'_> {
    type Output = Option<(crate::trace::Trace, crate::trace::Trace)>;
    fn visit<S: crate::subject::Subject>(self, subject: &S) -> Self::Output {
        use crate::world::net::world::{Stepping, run_stepping};
        // Two runs of a subject that cannot be seeded differ anyway.
        if !subject.seedable() {
            return None;
        }
        let _quiet = crate::world::clients::InRun::enter();
        let run = |stepping| run_stepping(subject, self.scenario, self.seed, stepping);
        Some((
            run(Stepping::Full).expect("full stepping runs"),
            run(Stepping::SkipQuiet).expect("skipping runs"),
        ))
    }
}

/// Skipping quiet time changes nothing a trace says, its end included:
/// for every seedable subject on every network scenario (the bare
/// provider hangs in two of them, so the skip is taken there), the trace
/// is the one stepping every millisecond to the horizon writes.
#[test]
fn quiet_runs_end_as_full_stepping_does() {
    use crate::subject::{SubjectName, visit};
    let network = crate::builtin::all().expect("built-ins are valid");
    let network = network
        .iter()
        .filter(|(_, s)| s.world == crate::scenario::WorldKind::Network);
    let mut skipped = 0;
    for (name, scenario) in network {
        for subject in SubjectName::ALL {
            for seed in 0..2 {
                let Some((full, skipping)) = visit(subject, BothSteppings { scenario, seed })
                else {
                    continue;
                };
                let replay = format!(
                    "cargo run -p provider-retry-sim -- replay {name} --seed {seed} --subject {}",
                    subject.as_str()
                );
                assert_eq!(full.end_ns, skipping.end_ns, "{replay}");
                assert!(full.records == skipping.records, "records differ: {replay}");
                skipped += usize::from(full.end_ns > 300_000_000_000);
            }
        }
    }
    // The bare provider's hangs reached the horizon, and were skipped to it.
    assert!(skipped >= 4, "{skipped}");
}

/// A call whose answer never comes (the bare provider has no timeout, and
/// a one-way partition loses its answer) stays open to the horizon. Full
/// stepping ends the run at the first step past it, where turmoil reports
/// running out of time; skipping quiet time jumps to that same instant
/// once nothing has stirred for the quiet bound, with the same records and
/// the call still open. The short form of the comparison above, for the
/// harness's mutation pass, which skips that one for its cost.
#[test]
fn a_call_never_answered_runs_to_the_horizon_in_both_steppings() {
    use crate::subject::{SubjectName, visit};
    use crate::trace::Kind;
    let scenario = crate::builtin::get("net-one-way-and-hold")
        .expect("a built-in")
        .expect("valid");
    let (full, skipping) = visit(
        SubjectName::Bare,
        BothSteppings {
            scenario: &scenario,
            seed: 0,
        },
    )
    .expect("the bare provider is seedable");
    let horizon_end = 300_001_000_000;
    assert_eq!(full.end_ns, horizon_end);
    assert_eq!(skipping.end_ns, horizon_end);
    assert!(full.records == skipping.records, "records differ");
    let started = |t: &crate::trace::Trace| {
        t.records
            .iter()
            .filter(|r| matches!(r.kind, Kind::CallStarted { .. }))
            .count()
    };
    let ended = |t: &crate::trace::Trace| {
        t.records
            .iter()
            .filter(|r| matches!(r.kind, Kind::CallEnded { .. }))
            .count()
    };
    assert!(ended(&full) < started(&full), "a call is left open");
}

/// The quiet watch calls a run over only once the network's last change is
/// past and neither a poll nor a message in flight has stirred it for
/// longer than the bound (by one tick: at exactly the bound it goes on).
#[test]
fn a_run_is_over_once_past_its_last_change_and_still_for_longer_than_the_bound() {
    use crate::world::net::world::Watch;
    let ms = std::time::Duration::from_millis;
    let idle = || false;
    let sending = || true;
    // Without a bound it never is.
    let mut never = Watch::new(None, ms(0), 7);
    assert!(!never.nothing_more(ms(1_000_000), 7, idle));
    // Still since the start, but the last change is yet to come.
    let mut before = Watch::new(Some(ms(100)), ms(500), 7);
    assert!(!before.nothing_more(ms(400), 7, idle));
    assert!(before.nothing_more(ms(500), 7, idle));
    // A poll (and no message) at 10 ms: over after 110 ms, not at it.
    let mut polled = Watch::new(Some(ms(100)), ms(0), 7);
    assert!(!polled.nothing_more(ms(10), 8, idle));
    assert!(!polled.nothing_more(ms(110), 8, idle));
    assert!(polled.nothing_more(ms(111), 8, idle));
    // A message in flight (and no poll) at 50 ms: over after 150 ms.
    let mut sent = Watch::new(Some(ms(100)), ms(0), 7);
    assert!(!sent.nothing_more(ms(50), 7, sending));
    assert!(!sent.nothing_more(ms(150), 7, idle));
    assert!(sent.nothing_more(ms(151), 7, idle));
}

/// A message between two hosts is in flight from its send until its
/// delivery, and nothing is once the last has arrived.
#[test]
fn a_message_is_in_flight_until_it_arrives() {
    use crate::world::net::world::in_flight;
    let latency = std::time::Duration::from_millis(50);
    let mut sim = turmoil::Builder::new()
        .min_message_latency(latency)
        .max_message_latency(latency)
        .build();
    sim.host("listener", || async {
        let listener = turmoil::net::TcpListener::bind(("0.0.0.0", 80)).await?;
        let _connection = listener.accept().await?;
        std::future::pending::<()>().await;
        Ok(())
    });
    sim.client("caller", async {
        let _connection = turmoil::net::TcpStream::connect("listener:80").await?;
        std::future::pending::<()>().await;
        Ok(())
    });
    let mut seen = Vec::new();
    for _ in 0..300 {
        sim.step().expect("a step");
        seen.push(in_flight(&sim));
    }
    assert!(seen[0], "the connection's first message is on its way");
    assert!(!seen[seen.len() - 1], "every message has arrived");
}

/// turmoil's error for a run past its duration reads as running out of
/// time, and no other error does.
#[test]
fn only_running_past_the_horizon_is_out_of_time() {
    use crate::world::net::world::out_of_time;
    let mut sim = turmoil::Builder::new()
        .simulation_duration(std::time::Duration::from_millis(10))
        .build();
    sim.client("sleeper", async {
        std::future::pending::<()>().await;
        Ok(())
    });
    let past = sim.run().expect_err("runs past its duration");
    assert!(out_of_time(&*past), "{past}");
    let other = std::io::Error::other("connection refused");
    assert!(!out_of_time(&other));
}

/// A request names its method in its header, or else by the endpoint it
/// POSTs to (under any upstream's prefix) and its body's `"stream"`.
#[test]
fn a_request_is_a_call_of_the_method_its_header_or_endpoint_says() {
    use crate::world::net::server::method_of;
    let of = |verb: &str, path: &str, named: Option<&str>, body: &str| {
        let mut request = hyper::Request::builder().method(verb).uri(path);
        if let Some(name) = named {
            request = request.header(crate::wire::METHOD_HEADER, name);
        }
        method_of(&request.body(()).unwrap().into_parts().0, body.as_bytes())
    };
    let streaming = r#"{"stream": true}"#;
    let endpoints = [
        ("/v1/chat/completions", Method::Chat, Method::ChatStream),
        ("/v1/messages", Method::Anthropic, Method::AnthropicStream),
        ("/v1/embeddings", Method::Embedding, Method::Embedding),
        ("/v1/responses", Method::Responses, Method::ResponsesStream),
    ];
    for (path, unary, stream) in endpoints {
        assert_eq!(of("POST", path, None, "{}"), Ok(unary), "{path}");
        assert_eq!(of("POST", path, None, streaming), Ok(stream), "{path}");
        let upstream = format!("/upstream/1{path}");
        assert_eq!(
            of("POST", &upstream, None, streaming),
            Ok(stream),
            "{upstream}"
        );
        assert_eq!(
            of("GET", path, None, "{}"),
            Err("no such endpoint"),
            "{path}"
        );
    }
    let named = of("POST", "/anything", Some("gemini_stream"), "{}");
    assert_eq!(named, Ok(Method::GeminiStream));
    assert_eq!(
        of("POST", "/v1/messages", Some("nonesuch"), "{}"),
        Err("no such method")
    );
    assert_eq!(of("POST", "/v2/chat", None, "{}"), Err("no such endpoint"));
}

/// The status upstream `upstream` of `server` answers an embeddings call with.
async fn status_at(server: &crate::world::net::server::Server, upstream: u32) -> u16 {
    use crate::wire::address::Address;
    let (head, _) = hyper::Request::post("/v1/embeddings")
        .body(())
        .expect("a request head")
        .into_parts();
    let at = Address {
        upstream,
        client: 1,
        call: 0,
    };
    let response = server.answer(&head, &bytes::Bytes::new(), at).await;
    response.expect("an answer").status().as_u16()
}

#[tokio::test(start_paused = true)]
async fn each_upstream_answers_by_its_own_plan_and_none_past_the_last() {
    // A gateway falling back across deployments reaches the second by its
    // path: it must answer by the second `[[fallback]]` plan, and a path
    // past the last upstream must be told apart from a fault of the plan.
    use crate::backend::{Backend, Clock, Upstream};
    use crate::faults::{FaultPlan, Faults};
    use crate::world::net::server::Server;
    let always = |step: &str| {
        let plan = FaultPlan {
            script: vec![step.parse().expect("a script step")],
            script_repeat: true,
            ..FaultPlan::default()
        };
        Upstream::new(Faults::new(plan, 1), None)
    };
    let backend = Backend::with_upstreams(
        vec![always("503"), always("429")],
        Clock::Tokio(tokio::time::Instant::now()),
    );
    let server = Server::new(backend, crate::world::net::world::wall);
    assert_eq!(status_at(&server, 0).await, 503);
    assert_eq!(status_at(&server, 1).await, 429);
    assert_eq!(status_at(&server, 2).await, 404);
}

#[tokio::test(start_paused = true)]
async fn a_plan_that_sets_should_retry_sends_it_with_every_status_and_only_then() {
    // The header is the plan's word on each status answer: a success
    // carries none, and a plan that sets none sends none.
    use crate::backend::{Backend, Clock};
    use crate::faults::{FaultPlan, Faults};
    use crate::wire::address::Address;
    use crate::wire::should_retry;
    use crate::world::net::server::Server;
    let headers = |should_retry: Option<bool>| async move {
        let plan = FaultPlan {
            script: ["503", "ok"]
                .map(|s| s.parse().expect("a script step"))
                .to_vec(),
            should_retry,
            ..FaultPlan::default()
        };
        let clock = Clock::Tokio(tokio::time::Instant::now());
        let server = Server::new(
            Backend::new(Faults::new(plan, 1), None, clock),
            crate::world::net::world::wall,
        );
        let mut said = Vec::new();
        for call in 0..2 {
            let (head, _) = hyper::Request::post("/v1/embeddings")
                .body(())
                .expect("a request head")
                .into_parts();
            let at = Address {
                upstream: 0,
                client: 1,
                call,
            };
            let response = server.answer(&head, &bytes::Bytes::new(), at).await;
            let response = response.expect("an answer");
            let status = response.status().as_u16();
            said.push((status, should_retry::parse(response.headers())));
        }
        said
    };
    assert_eq!(
        headers(Some(false)).await,
        [(503, Some(false)), (200, None)]
    );
    assert_eq!(headers(Some(true)).await, [(503, Some(true)), (200, None)]);
    assert_eq!(headers(None).await, [(503, None), (200, None)]);
}

/// A stream in a provider's own shape opens with that provider's opening
/// event before the first item (Anthropic's `message_start`), and ends
/// with its closing one; the simulator's own shape has neither.
#[tokio::test(start_paused = true)]
async fn a_real_shaped_stream_opens_and_closes_as_its_provider_does() {
    use crate::backend::{Backend, Clock};
    use crate::faults::{FaultPlan, Faults};
    use crate::wire::address::Address;
    use crate::world::net::server::Server;
    use http_body_util::BodyExt;
    let body = |real: bool| async move {
        let clock = Clock::Tokio(tokio::time::Instant::now());
        let backend = Backend::new(Faults::new(FaultPlan::default(), 1), None, clock);
        let mut server = Server::new(backend, crate::world::net::world::wall);
        if real {
            server = server.real_shapes();
        }
        let (head, _) = hyper::Request::post("/v1/messages")
            .body(())
            .expect("a request head")
            .into_parts();
        let asked = bytes::Bytes::from_static(br#"{"model":"m","stream":true}"#);
        let at = Address {
            upstream: 0,
            client: 1,
            call: 0,
        };
        let response = server.answer(&head, &asked, at).await.expect("an answer");
        let bytes = response.into_body().collect().await.expect("a whole body");
        String::from_utf8(bytes.to_bytes().to_vec()).expect("text")
    };
    let real = body(true).await;
    assert!(real.starts_with("event: message_start\n"), "{real}");
    assert!(real.contains("event: message_stop\n"), "{real}");
    let own = body(false).await;
    assert!(!own.contains("message_start"), "{own}");
}
