//! What `retry-sim serve` puts on the wire, read as a real client reads
//! it: one HTTP request per answer over loopback, its status, content
//! type and body checked field by field against its provider's shape
//! (`wire::shapes`), and the record naming the method each endpoint is.
//!
//! Reproduce by hand: `retry-sim serve sim/scenarios/wire/transient.toml &
//!  curl -s localhost:8787/v1/responses -d '{"model":"m","input":"hi","stream":true}'`

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::rt::TokioIo;
use provider_retry_sim::backend::Backend;
use provider_retry_sim::faults::{FaultPlan, Faults, Latency, LatencyKind};
use provider_retry_sim::method::Method;
use provider_retry_sim::serve::{Options, serve};
use provider_retry_sim::trace::{Kind, Record, Trace};
use serde_json::{Value, json};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

/// A plan answering `script` (then every attempt ok) at once: no latency,
/// no gap between a stream's two items, so nothing here waits.
fn plan(script: &[&str]) -> FaultPlan {
    FaultPlan {
        script: script.iter().map(|s| s.parse().expect("a step")).collect(),
        latency: Latency {
            kind: LatencyKind::Uniform,
            min_ms: 0,
            max_ms: 0,
            mean_ms: 0,
        },
        chunks: 2,
        chunk_gap_ms: 0,
        ..FaultPlan::default()
    }
}

/// `serve` on a fresh loopback port: its address and its backend.
async fn served(plan: FaultPlan) -> (SocketAddr, Arc<Backend>) {
    let backend = Backend::on_tokio(Faults::new(plan, 1), None);
    let (tx, rx) = tokio::sync::oneshot::channel();
    let options = Options {
        addr: "127.0.0.1:0".parse().expect("an address"),
        horizon: Duration::from_secs(20),
        seed: 1,
    };
    // The runtime's end stops the server with the test.
    tokio::spawn(serve(backend.clone(), options, move |a| {
        let _ = tx.send(a);
    }));
    (rx.await.expect("the server binds"), backend)
}

/// One answer as it arrived.
struct Answer {
    status: u16,
    content_type: String,
    body: String,
}

impl Answer {
    fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("{e}: {}", self.body))
    }

    /// Each event's name (if it has one) and data, in order.
    fn events(&self) -> Vec<(Option<String>, String)> {
        assert_eq!(self.content_type, "text/event-stream", "{}", self.body);
        self.body
            .split_terminator("\n\n")
            .map(|event| {
                let line = |prefix: &str| {
                    event
                        .lines()
                        .find_map(|l| l.strip_prefix(prefix))
                        .map(str::to_string)
                };
                let data = line("data: ").unwrap_or_else(|| panic!("no data: {event:?}"));
                (line("event: "), data)
            })
            .collect()
    }
}

/// POST `body` to `path` as call `call` of client 0; the whole answer.
async fn post(addr: SocketAddr, path: &str, call: u64, body: Value) -> Answer {
    let tcp = tokio::net::TcpStream::connect(addr)
        .await
        .expect("connects");
    let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(tcp))
        .await
        .expect("handshake");
    tokio::spawn(connection);
    let request = hyper::Request::post(path)
        .header("host", addr.to_string())
        .header("content-type", "application/json")
        .header("x-sim-client", "0")
        .header("x-sim-call", call.to_string())
        .body(Full::new(Bytes::from(body.to_string())))
        .expect("a request");
    let response = sender.send_request(request).await.expect("an answer");
    let status = response.status().as_u16();
    let content_type = response
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    let bytes = response.into_body().collect().await.expect("a whole body");
    let body = String::from_utf8(bytes.to_bytes().to_vec()).expect("UTF-8");
    Answer {
        status,
        content_type,
        body,
    }
}

/// The method each call of the record was seen as, in call order.
fn seen(backend: &Backend) -> Vec<Method> {
    let trace = Trace::new(backend.take_trace());
    let method = |records: Vec<&Record>| {
        records.iter().find_map(|r| match r.kind {
            Kind::CallSeen { method, .. } => Some(method),
            _ => None,
        })
    };
    trace.calls().into_values().filter_map(method).collect()
}

fn chat(stream: bool) -> Value {
    json!({"model": "m", "messages": [{"role": "user", "content": "hi"}], "stream": stream})
}

#[tokio::test]
async fn a_chat_stream_closes_with_stop_usage_and_done() {
    let (addr, _) = served(plan(&[])).await;
    let mut asked = chat(true);
    asked["stream_options"] = json!({"include_usage": true});
    let answer = post(addr, "/v1/chat/completions", 0, asked).await;
    assert_eq!(answer.status, 200);
    let events = answer.events();
    assert_eq!(
        events.len(),
        5,
        "two items, stop, usage, done: {}",
        answer.body
    );
    assert!(events.iter().all(|(name, _)| name.is_none()));
    let chunks: Vec<Value> = events[..4]
        .iter()
        .map(|(_, d)| serde_json::from_str(d).expect("a JSON chunk"))
        .collect();
    for c in &chunks {
        assert_eq!(c["object"], "chat.completion.chunk");
        assert_eq!(c["id"], chunks[0]["id"], "one id a stream");
        assert!(c["created"].is_u64() && c["model"].is_string());
    }
    assert_eq!(chunks[0]["choices"][0]["delta"]["role"], "assistant");
    assert_eq!(chunks[0]["choices"][0]["delta"]["content"], "sim:0:0:0:0");
    assert_eq!(chunks[1]["choices"][0]["delta"]["content"], "sim:0:0:0:1");
    assert!(chunks[1]["choices"][0]["finish_reason"].is_null());
    assert_eq!(chunks[2]["choices"][0]["finish_reason"], "stop");
    assert_eq!(chunks[3]["choices"], json!([]));
    assert_eq!(chunks[3]["usage"]["completion_tokens"], 2);
    assert_eq!(events[4].1, "[DONE]");
    // Not asked, no usage chunk: the stop chunk comes right before `[DONE]`.
    let answer = post(addr, "/v1/chat/completions", 1, chat(true)).await;
    assert_eq!(answer.events().len(), 4, "{}", answer.body);
}

#[tokio::test]
async fn anthropic_messages_plain_and_streamed_are_anthropics_shape() {
    let (addr, backend) = served(plan(&[])).await;
    let ask = |stream| json!({"model": "m", "max_tokens": 16, "stream": stream, "messages": [{"role": "user", "content": "hi"}]});
    let plain = post(addr, "/v1/messages", 0, ask(false)).await.json();
    assert!(
        plain["id"]
            .as_str()
            .is_some_and(|id| id.starts_with("msg_"))
    );
    assert_eq!(plain["type"], "message");
    assert_eq!(
        plain["content"],
        json!([{"type": "text", "text": "sim:0:0:0:0"}])
    );
    assert_eq!(plain["stop_reason"], "end_turn");
    assert!(plain["stop_sequence"].is_null());
    assert!(plain["usage"]["input_tokens"].is_u64() && plain["usage"]["output_tokens"].is_u64());
    let streamed = post(addr, "/v1/messages", 1, ask(true)).await;
    let events = streamed.events();
    let names: Vec<&str> = events
        .iter()
        .map(|(n, _)| n.as_deref().unwrap_or("-"))
        .collect();
    let want = [
        "message_start",
        "content_block_start",
        "ping",
        "content_block_delta",
        "content_block_delta",
        "content_block_stop",
        "message_delta",
        "message_stop",
    ];
    assert_eq!(names, want, "no [DONE]: {}", streamed.body);
    let delta: Value = serde_json::from_str(&events[4].1).unwrap();
    assert_eq!(
        delta["delta"],
        json!({"type": "text_delta", "text": "sim:0:1:1:1"})
    );
    assert_eq!(seen(&backend), [Method::Anthropic, Method::AnthropicStream]);
}

#[tokio::test]
async fn embeddings_answer_one_per_input_in_the_form_asked() {
    let (addr, backend) = served(plan(&[])).await;
    let one = post(
        addr,
        "/v1/embeddings",
        0,
        json!({"model": "m", "input": "hi"}),
    )
    .await
    .json();
    assert_eq!(one["object"], "list");
    assert_eq!(one["data"].as_array().map(Vec::len), Some(1));
    assert_eq!(one["data"][0]["object"], "embedding");
    assert!(
        one["data"][0]["embedding"]
            .as_array()
            .is_some_and(|v| v.iter().all(Value::is_f64))
    );
    assert_eq!(one["usage"]["prompt_tokens"], 1);
    let asked = json!({"model": "m", "input": ["a", "b", "c"], "encoding_format": "base64"});
    let three = post(addr, "/v1/embeddings", 1, asked).await.json();
    let indices: Vec<_> = three["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["index"].clone())
        .collect();
    assert_eq!(indices, [0, 1, 2]);
    assert!(three["data"][2]["embedding"].is_string(), "base64 as asked");
    assert_eq!(seen(&backend), [Method::Embedding, Method::Embedding]);
}

#[tokio::test]
async fn the_responses_api_plain_and_streamed_is_recorded_as_its_own_method() {
    let (addr, backend) = served(plan(&[])).await;
    let plain = post(
        addr,
        "/v1/responses",
        0,
        json!({"model": "m", "input": "hi"}),
    )
    .await
    .json();
    assert!(
        plain["id"]
            .as_str()
            .is_some_and(|id| id.starts_with("resp_"))
    );
    assert_eq!(
        (plain["object"].as_str(), plain["status"].as_str()),
        (Some("response"), Some("completed"))
    );
    let part = json!({"type": "output_text", "text": "sim:0:0:0:0", "annotations": []});
    assert_eq!(plain["output"][0]["content"], json!([part]));
    assert_eq!(plain["usage"]["total_tokens"], 2);
    let streamed = post(
        addr,
        "/v1/responses",
        1,
        json!({"model": "m", "input": "hi", "stream": true}),
    )
    .await;
    let events = streamed.events();
    let names: Vec<&str> = events
        .iter()
        .map(|(n, _)| n.as_deref().unwrap_or("-"))
        .collect();
    let want = [
        "response.created",
        "response.in_progress",
        "response.output_item.added",
        "response.content_part.added",
        "response.output_text.delta",
        "response.output_text.delta",
        "response.output_text.done",
        "response.content_part.done",
        "response.output_item.done",
        "response.completed",
    ];
    assert_eq!(names, want, "{}", streamed.body);
    for (k, (name, data)) in events.iter().enumerate() {
        let data: Value = serde_json::from_str(data).unwrap();
        assert_eq!(
            (data["type"].as_str(), data["sequence_number"].as_u64()),
            (name.as_deref(), Some(k as u64))
        );
    }
    let completed: Value = serde_json::from_str(&events[9].1).unwrap();
    let text = completed["response"]["output"][0]["content"][0]["text"].clone();
    assert_eq!(text, "sim:0:1:1:0sim:0:1:1:1");
    assert_eq!(seen(&backend), [Method::Responses, Method::ResponsesStream]);
}

#[tokio::test]
async fn errors_take_the_shape_of_the_endpoint_called() {
    let (addr, _) = served(plan(&["429", "503", "529", "400"])).await;
    let openai = post(addr, "/v1/chat/completions", 0, chat(false)).await;
    assert_eq!(
        (openai.status, openai.content_type.as_str()),
        (429, "application/json")
    );
    let error = &openai.json()["error"];
    assert_eq!(
        (error["type"].as_str(), error["code"].as_str()),
        (Some("requests"), Some("rate_limit_exceeded"))
    );
    assert!(error["param"].is_null() && error["message"].is_string());
    let ask = json!({"model": "m", "max_tokens": 16, "stream": true, "messages": []});
    let anthropic = post(addr, "/v1/messages", 1, ask.clone()).await;
    assert_eq!(anthropic.status, 503);
    let body = anthropic.json();
    assert_eq!(
        (body["type"].as_str(), body["error"]["type"].as_str()),
        (Some("error"), Some("overloaded_error"))
    );
    let overloaded = post(addr, "/v1/messages", 2, ask).await;
    assert_eq!(
        (
            overloaded.status,
            overloaded.json()["error"]["type"].as_str()
        ),
        (529, Some("overloaded_error"))
    );
    let responses = post(
        addr,
        "/v1/responses",
        3,
        json!({"model": "m", "input": "hi"}),
    )
    .await;
    assert_eq!(responses.status, 400);
    assert_eq!(responses.json()["error"]["type"], "invalid_request_error");
}
