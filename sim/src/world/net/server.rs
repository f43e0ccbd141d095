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
use crate::backend::{Backend, Item, Opened, Reply};
use crate::wire::items::{chat_chunk, chat_response};
use bytes::Bytes;
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

type Body = BoxBody<Bytes, io::Error>;

/// The server's state: the shared backend, and its wall clock.
#[derive(Clone)]
pub struct Server {
    backend: Arc<Backend>,
    wall: fn() -> SystemTime,
}

impl Server {
    /// Answer by `backend`; `wall` is the clock HTTP-dates are read on.
    pub fn new(backend: Arc<Backend>, wall: fn() -> SystemTime) -> Self {
        Self { backend, wall }
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
        match self.backend.attempt(client as u32, call).await {
            Reply::Ok(opened) => Ok(match stream {
                true => events(opened),
                false => json(&chat_response(opened.response())),
            }),
            Reply::Status {
                status,
                retry_after,
                form,
            } => {
                let mut response = text(
                    StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
                    &format!("{{\"error\":{{\"message\":\"simulated {status}\"}}}}"),
                );
                if let Some(wait) = retry_after {
                    let (name, value) = retry_after::header(form, wait, (self.wall)());
                    if let Ok(value) = value.parse() {
                        response.headers_mut().insert(name, value);
                    }
                }
                Ok(response)
            }
            // An error from the service makes hyper close the connection unanswered.
            Reply::Network => Err(io::Error::other("simulated connection reset")),
            Reply::Decode => Ok(text(StatusCode::OK, "this is not JSON")),
        }
    }
}

/// The SSE body of one stream: the backend's items, then `[DONE]`, or a
/// dropped connection or a stall halfway.
fn events(opened: Opened) -> Response<Body> {
    let gap = opened.gap();
    let frames = opened.into_stream().then(move |item| async move {
        match item {
            Item::Chunk(id) => {
                let line = format!("data: {}\n\n", serde_json::to_string(&chat_chunk(id))?);
                Ok::<_, io::Error>(Frame::data(Bytes::from(line)))
            }
            Item::Fail => {
                // One gap later, so the chunks already sent are flushed
                // before the reset (a reset discards unsent bytes).
                tokio::time::sleep(gap).await;
                Err(io::Error::other("simulated drop mid-stream"))
            }
        }
    });
    let done =
        futures::stream::once(async { Ok(Frame::data(Bytes::from_static(b"data: [DONE]\n\n"))) });
    // `[DONE]` follows only a clean end: after a failure the body has ended in error.
    let mut response = Response::new(BodyExt::boxed(StreamBody::new(frames.chain(done))));
    response.headers_mut().insert(
        hyper::header::CONTENT_TYPE,
        hyper::header::HeaderValue::from_static("text/event-stream"),
    );
    response
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
