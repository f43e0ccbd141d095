//! A fault-injecting OpenAI-compatible server: `POST /v1/chat/completions`,
//! plain or `stream: true` (server-sent events), answering each request as
//! the scenario's fault plan says.
//!
//! | plan's answer | on the wire |
//! |---|---|
//! | success | after the latency (slow headers), 200 with a JSON body, or SSE `data:` chunks a gap apart then `data: [DONE]` |
//! | stream fails | the connection is dropped after half the chunks |
//! | stream stalls | no byte after half the chunks |
//! | status | the status after the latency, with Retry-After in the plan's form |
//! | network error | the connection closed with no response |
//! | decode error | 200 with a body that is not JSON |
//! | hang | no response, ever |
//!
//! The same code serves turmoil's simulated sockets and real ones.

use super::{CALL_HEADER, CLIENT_HEADER, retry_after};
use crate::faults::{Answer, StreamEnd};
use crate::provider::Shared;
use crate::trace::Kind;
use bytes::Bytes;
use crabllm_core::{ChatCompletionChunk, ChatCompletionResponse};
use futures::StreamExt;
use http_body_util::combinators::BoxBody;
use http_body_util::{BodyExt, Full, StreamBody};
use hyper::body::{Frame, Incoming};
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use std::convert::Infallible;
use std::io;
use std::sync::Arc;
use std::time::SystemTime;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::time::sleep;

type Body = BoxBody<Bytes, io::Error>;

/// The server's state: the shared fault plan and trace, and its wall clock.
#[derive(Clone)]
pub struct Server {
    shared: Arc<Shared>,
    wall: fn() -> SystemTime,
}

impl Server {
    /// Answer by `shared`'s fault plan; `wall` is the clock HTTP-dates are read on.
    pub fn new(shared: Arc<Shared>, wall: fn() -> SystemTime) -> Self {
        Self { shared, wall }
    }

    /// Serve one connection until it closes.
    pub async fn connection<IO>(self, io: IO)
    where
        IO: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    {
        let service = hyper::service::service_fn(move |req| {
            let server = self.clone();
            async move { server.handle(req).await }
        });
        // A connection ends with an error whenever the plan drops it: expected.
        let _ = hyper::server::conn::http1::Builder::new()
            .serve_connection(TokioIo::new(io), service)
            .await;
    }

    async fn handle(&self, req: Request<Incoming>) -> Result<Response<Body>, io::Error> {
        if req.method() != hyper::Method::POST || req.uri().path() != "/v1/chat/completions" {
            return Ok(text(StatusCode::NOT_FOUND, "no such endpoint"));
        }
        let header = |name: &str| {
            req.headers()
                .get(name)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.parse::<u64>().ok())
        };
        let (client, call) = (
            header(CLIENT_HEADER).unwrap_or(0),
            header(CALL_HEADER).unwrap_or(0),
        );
        let body = req.into_body().collect().await.map_err(io::Error::other)?;
        let stream = serde_json::from_slice::<serde_json::Value>(&body.to_bytes())
            .ok()
            .and_then(|v| v.get("stream").and_then(serde_json::Value::as_bool))
            .unwrap_or(false);
        let answer = self.shared.faults().answer(self.shared.now());
        match answer {
            Answer::Ok {
                latency,
                stream_end,
            } => {
                sleep(latency).await;
                Ok(match stream {
                    true => self.events(client as u32, call, stream_end),
                    false => json(&ChatCompletionResponse::default()),
                })
            }
            Answer::Status {
                status,
                retry_after,
                latency,
            } => {
                sleep(latency).await;
                let mut response = text(
                    StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
                    &format!("{{\"error\":{{\"message\":\"simulated {status}\"}}}}"),
                );
                if let Some(wait) = retry_after {
                    let form = self.shared.faults().retry_after_form();
                    let (name, value) = retry_after::header(form, wait, (self.wall)());
                    if let Ok(value) = value.parse() {
                        response.headers_mut().insert(name, value);
                    }
                }
                Ok(response)
            }
            Answer::Network { latency } => {
                sleep(latency).await;
                // An error from the service makes hyper close the connection unanswered.
                Err(io::Error::other("simulated connection reset"))
            }
            Answer::Decode { latency } => {
                sleep(latency).await;
                Ok(text(StatusCode::OK, "this is not JSON"))
            }
            Answer::Hang => std::future::pending().await,
        }
    }

    /// The SSE body of one stream: chunks a gap apart, then `[DONE]`, or a
    /// dropped connection or a stall halfway, as the plan said.
    fn events(&self, client: u32, call: u64, end: StreamEnd) -> Response<Body> {
        let (count, gap) = self.shared.faults().stream_shape();
        let delivered = match end {
            StreamEnd::Done => count,
            _ => count / 2,
        };
        let stream = self.shared.next_stream();
        let shared = self.shared.clone();
        let chunks = futures::stream::iter(0..delivered).then(move |index| {
            let shared = shared.clone();
            async move {
                sleep(gap).await;
                shared.record(client, call, Kind::ChunkSent { stream, index });
                let chunk = ChatCompletionChunk {
                    id: format!("{stream}:{index}"),
                    ..Default::default()
                };
                let line = format!("data: {}\n\n", serde_json::to_string(&chunk)?);
                Ok::<_, io::Error>(Frame::data(Bytes::from(line)))
            }
        });
        let tail = futures::stream::once(async move {
            match end {
                StreamEnd::Done => Ok(Frame::data(Bytes::from_static(b"data: [DONE]\n\n"))),
                StreamEnd::Fail => {
                    // One gap later, so the chunks already sent are flushed
                    // before the reset (a reset discards unsent bytes).
                    sleep(gap).await;
                    Err(io::Error::other("simulated drop mid-stream"))
                }
                StreamEnd::Stall => std::future::pending().await,
            }
        });
        let mut response = Response::new(BodyExt::boxed(StreamBody::new(chunks.chain(tail))));
        response.headers_mut().insert(
            hyper::header::CONTENT_TYPE,
            hyper::header::HeaderValue::from_static("text/event-stream"),
        );
        response
    }
}

fn text(status: StatusCode, body: &str) -> Response<Body> {
    let body = Full::new(Bytes::from(body.to_string()))
        .map_err(|never: Infallible| match never {})
        .boxed();
    let mut response = Response::new(body);
    *response.status_mut() = status;
    response
}

fn json<T: serde::Serialize>(value: &T) -> Response<Body> {
    match serde_json::to_string(value) {
        Ok(body) => text(StatusCode::OK, &body),
        Err(e) => text(StatusCode::INTERNAL_SERVER_ERROR, &e.to_string()),
    }
}
