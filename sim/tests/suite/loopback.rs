//! End to end through crabllm's own HTTP client, on a real socket.
//!
//! The fault server is bound to 127.0.0.1 on an ephemeral port and runs in
//! real time (latencies of a few milliseconds; every wait asked of the
//! wrapper is zero or refused, so no test sleeps). crabllm_provider's
//! OpenAI provider is built from a `ProviderConfig` pointing at it and
//! wrapped with `Retrying::from_config`.

use crabllm_core::{ChatCompletionRequest, Error, Provider, ProviderConfig};
use futures::StreamExt;
use provider_retry::{DelayReason, Event, Retrying};
use provider_retry_sim::backend::Backend;
use provider_retry_sim::faults::{FaultPlan, Faults, Latency, LatencyKind};
use provider_retry_sim::world::net::server::Server;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

/// What the observer saw: attempts started and the waits chosen.
#[derive(Debug, Default)]
struct Seen {
    attempts: u32,
    waits: Vec<(Duration, DelayReason)>,
}

/// Serve `plan` on a fresh port of 127.0.0.1; its port.
async fn serve(plan: FaultPlan) -> u16 {
    let backend = Backend::on_tokio(Faults::new(plan, 1), None);
    let server = Server::new(backend, SystemTime::now);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            tokio::spawn(server.clone().connection(stream));
        }
    });
    port
}

/// A deployment of crabllm's provider `kind` at `port`.
fn deployment(kind: &str, port: u16) -> (crabllm_provider::RemoteProvider, ProviderConfig) {
    let config = ProviderConfig {
        api_key: Some("test-key".into()),
        base_url: Some(format!("http://127.0.0.1:{port}/v1")),
        max_retries: Some(2),
        timeout: Some(5),
        ..ProviderConfig::default()
    };
    let remote =
        crabllm_provider::RemoteProvider::new(kind, &config, crabllm_provider::make_client());
    (remote, config)
}

/// Serve `script` on a fresh port and return crabllm's provider for it, wrapped.
async fn setup(script: &[&str]) -> (impl Provider, Arc<Mutex<Seen>>) {
    let plan = FaultPlan {
        script: script
            .iter()
            .map(|s| s.parse().expect("a script step"))
            .collect(),
        latency: Latency {
            kind: LatencyKind::Uniform,
            min_ms: 1,
            max_ms: 3,
            mean_ms: 0,
        },
        chunks: 4,
        chunk_gap_ms: 2,
        ..FaultPlan::default()
    };
    let (remote, config) = deployment("openai", serve(plan).await);
    let seen = Arc::new(Mutex::new(Seen::default()));
    let sink = seen.clone();
    let wrapped = Retrying::from_config(remote, &config)
        .initial_backoff(Duration::ZERO)
        .seed(1)
        .observer(move |e: &Event<'_>| {
            let mut s = sink.lock().unwrap();
            match *e {
                Event::AttemptStarted { .. } => s.attempts += 1,
                Event::Delay { delay, reason, .. } => s.waits.push((delay, reason)),
                _ => {}
            }
        });
    (wrapped, seen)
}

fn request(stream: bool) -> ChatCompletionRequest {
    let mut r: ChatCompletionRequest =
        serde_json::from_str(r#"{"model":"m","messages":[{"role":"user","content":"hi"}]}"#)
            .unwrap();
    r.stream = Some(stream);
    r
}

#[tokio::test]
async fn a_503_is_retried_through_the_real_client() {
    let (provider, seen) = setup(&["503", "ok"]).await;
    provider.chat_completion(&request(false)).await.unwrap();
    let seen = seen.lock().unwrap();
    assert_eq!(seen.attempts, 2);
    assert_eq!(seen.waits, [(Duration::ZERO, DelayReason::Backoff)]);
}

#[tokio::test]
async fn retry_after_comes_from_the_real_header() {
    // `Retry-After: 0` is honoured as a zero wait, marked as the provider's.
    let (provider, seen) = setup(&["429:ra=0", "ok"]).await;
    provider.chat_completion(&request(false)).await.unwrap();
    assert_eq!(
        seen.lock().unwrap().waits,
        [(Duration::ZERO, DelayReason::RetryAfter)]
    );
    // 120 s is over the 60 s cap: the error returns at once, carrying the header's value.
    let (provider, seen) = setup(&["429:ra=120000"]).await;
    let error = provider.chat_completion(&request(false)).await.unwrap_err();
    assert!(
        matches!(error, Error::Provider { status: 429, .. }),
        "{error:?}"
    );
    assert_eq!(error.retry_after(), Some(Duration::from_secs(120)));
    assert_eq!(seen.lock().unwrap().attempts, 1);
}

#[tokio::test]
async fn a_stream_open_is_retried_then_every_chunk_arrives() {
    let (provider, seen) = setup(&["503", "ok"]).await;
    let stream = provider
        .chat_completion_stream(&request(true))
        .await
        .unwrap();
    let chunks: Vec<_> = stream.collect().await;
    let ids: Vec<String> = chunks.into_iter().map(|c| c.unwrap().id).collect();
    assert_eq!(
        ids,
        ["sim:0:0:0:0", "sim:0:0:0:1", "sim:0:0:0:2", "sim:0:0:0:3"]
    );
    assert_eq!(seen.lock().unwrap().attempts, 2);
}

#[tokio::test]
async fn a_connection_dropped_mid_stream_ends_the_stream_and_is_not_retried() {
    let (provider, seen) = setup(&["stream-fail"]).await;
    let stream = provider
        .chat_completion_stream(&request(true))
        .await
        .unwrap();
    let items: Vec<_> = stream.collect().await;
    let delivered = items.iter().take_while(|i| i.is_ok()).count();
    assert_eq!(delivered, 2, "half the chunks arrive first: {items:?}");
    assert!(items.last().is_some_and(Result::is_err), "{items:?}");
    assert_eq!(
        seen.lock().unwrap().attempts,
        1,
        "nothing retried after the first chunk"
    );
}

/// Which keep-alives reach the wrapper as items, through crabllm's own
/// clients: the server is silent 600 ms before each stream's first chunk,
/// sending a keep-alive every 100 ms (an SSE comment for OpenAI, a `ping`
/// event for Anthropic), and the wrapper's first-chunk bound is 300 ms.
/// Typed streams are cut at the bound (the parsers drop both kinds of
/// keep-alive); raw byte streams get the keep-alives as bytes, which
/// reset the bound, and run to the end. Real time: about 2.5 s in all.
#[tokio::test]
async fn keepalives_reset_the_first_chunk_bound_of_raw_streams_only() {
    let plan = FaultPlan {
        chunks: 2,
        chunk_gap_ms: 2,
        first_chunk_ms: 600,
        keepalive_ms: Some(100),
        ..FaultPlan::default()
    };
    let raw_body = bytes::Bytes::from_static(
        br#"{"model":"m","max_tokens":8,"stream":true,"messages":[{"role":"user","content":"hi"}]}"#,
    );
    let anthropic_request: crabllm_core::anthropic::Request =
        serde_json::from_slice(&raw_body).unwrap();
    for kind in ["openai", "anthropic"] {
        let (remote, config) = deployment(kind, serve(plan.clone()).await);
        let wrapped = Retrying::from_config(remote, &config)
            .max_retries(0)
            .first_chunk(Duration::from_millis(300))
            .stream_idle(Duration::from_millis(300));
        let typed: Vec<Result<(), Error>> = match kind {
            "openai" => {
                wrapped
                    .chat_completion_stream(&request(true))
                    .await
                    .unwrap()
                    .map(|i| i.map(drop))
                    .collect()
                    .await
            }
            _ => {
                wrapped
                    .anthropic_messages_stream(&anthropic_request)
                    .await
                    .unwrap()
                    .map(|i| i.map(drop))
                    .collect()
                    .await
            }
        };
        assert!(
            matches!(typed.as_slice(), [Err(Error::Timeout)]),
            "{kind}: a typed stream whose keep-alives the parser drops is cut at the bound: {typed:?}"
        );
        let raw = match kind {
            "openai" => {
                wrapped
                    .chat_completion_stream_raw("m", raw_body.clone())
                    .await
            }
            _ => {
                wrapped
                    .anthropic_messages_stream_raw(raw_body.clone())
                    .await
            }
        };
        let pieces: Vec<_> = raw.unwrap().collect().await;
        let text: String = pieces
            .iter()
            .map(|p| {
                String::from_utf8_lossy(p.as_ref().expect("no error on a kept-alive stream"))
                    .into_owned()
            })
            .collect();
        let keepalive =
            String::from_utf8_lossy(&provider_retry_sim::wire::items::keepalive(match kind {
                "openai" => provider_retry_sim::method::Method::ChatStreamRaw,
                _ => provider_retry_sim::method::Method::AnthropicStreamRaw,
            }))
            .into_owned();
        assert!(
            text.contains(&keepalive)
                && text
                    .lines()
                    .filter(|l| l.starts_with("data:") && l.contains("sim:"))
                    .count()
                    == 2
                && text.ends_with("data: [DONE]\n\n"),
            "{kind}: a raw stream gets the keep-alives as bytes and runs to its end: {text:?}"
        );
    }
}
