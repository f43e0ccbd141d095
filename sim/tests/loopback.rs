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
    let backend = Backend::on_tokio(Faults::new(plan, 1), None);
    let server = Server::new(backend, SystemTime::now);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            tokio::spawn(server.clone().connection(stream));
        }
    });
    let config = ProviderConfig {
        api_key: Some("test-key".into()),
        base_url: Some(format!("http://127.0.0.1:{port}/v1")),
        max_retries: Some(2),
        timeout: Some(5),
        ..ProviderConfig::default()
    };
    let remote =
        crabllm_provider::RemoteProvider::new("openai", &config, crabllm_provider::make_client());
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
