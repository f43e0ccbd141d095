//! A fault-injecting server for every `Provider` method, answering each
//! request as the scenario's fault plan says.
//!
//! The method is the one the request's `x-sim-method` header names (any
//! path); a request without the header must be `POST /v1/chat/completions`
//! (a chat call), `POST /v1/messages` (an Anthropic Messages call) or
//! `POST /v1/responses` (OpenAI's Responses API), streamed if its body says
//! `"stream": true`, as real clients send them, or `POST /v1/embeddings`. Which call a request is an attempt of, and which
//! upstream's plan answers it, [`address`] says (a gateway's deployments
//! are paths under `/upstream/<i>/`). A
//! success is rendered in the method's dialect ([`crate::wire::items`]):
//! a unary method's JSON body, or a stream method's server-sent events
//! (for the raw stream methods, exactly the bytes the caller gets).
//!
//! | plan's answer | on the wire |
//! |---|---|
//! | success | after the latency (slow headers), 200 with a JSON body, or SSE events a gap apart then `data: [DONE]` |
//! | stream fails | the connection is dropped after half the events |
//! | stream stalls | no event after half the events |
//! | `first_chunk_ms` | that much more silence before the first event |
//! | `keepalive_ms` | a keep-alive after every that long of silence (stalls and first-chunk silences included): Anthropic's `event: ping`, otherwise an SSE comment `: keep-alive` |
//! | status | the status after the latency, with Retry-After in the plan's form |
//! | network error | the connection closed with no response |
//! | decode error | 200 with a body that is not JSON (and not an event stream) |
//! | hang | no response, ever |
//!
//! The same code serves turmoil's simulated sockets and real ones. For
//! clients nobody here wrote ([`Server::real_shapes`], as `retry-sim serve`
//! answers), successes and errors take their provider's own shape
//! ([`shapes`]): a stream framed as its provider frames it (Anthropic's
//! and the Responses API's with no `[DONE]`), an error status with its
//! provider's error JSON. The simulator's own clients read the leaner
//! shapes above, one event per item.

use crate::backend::{Backend, Item, Opened, Reply};
use crate::method::Method;
use crate::wire::address::{self, Address};
use crate::wire::items;
use crate::wire::shapes::{self, Asked};
use crate::wire::{METHOD_HEADER, retry_after, should_retry};
use bytes::Bytes;
use futures::{Stream, StreamExt};
use http_body_util::combinators::BoxBody;
use http_body_util::{BodyExt, Full, StreamBody};
use hyper::body::{Frame, Incoming};
use hyper::http::request::Parts;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use std::convert::Infallible;
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::time::{Duration, SystemTime};
use tokio::io::{AsyncRead, AsyncWrite};

/// A response body, whole or streamed.
pub type Body = BoxBody<Bytes, io::Error>;
/// An event stream's frames, as the body needs them (`Sync` too).
type Frames = Pin<Box<dyn Stream<Item = Result<Frame<Bytes>, io::Error>> + Send + Sync>>;

/// The server's state: the shared backend, and its wall clock.
#[derive(Clone)]
pub struct Server {
    backend: Arc<Backend>,
    wall: fn() -> SystemTime,
    /// Response headers lost on the way out (none, but in a planted defect).
    strip: &'static [&'static str],
    /// Whether answers take their provider's own shape ([`shapes`]).
    real: bool,
}

impl Server {
    /// Answer by `backend`; `wall` is the clock HTTP-dates are read on.
    pub fn new(backend: Arc<Backend>, wall: fn() -> SystemTime) -> Self {
        Self {
            backend,
            wall,
            strip: &[],
            real: false,
        }
    }

    /// This server, answering in each provider's own shape ([`shapes`]):
    /// for clients that validate what they read (the official SDKs,
    /// schema-checking frameworks), as `retry-sim serve` answers.
    pub fn real_shapes(self) -> Self {
        Self { real: true, ..self }
    }

    /// This server, its answers losing the headers `strip` names on the
    /// way out, as a proxy that strips them would: a network that breaks
    /// what the plan says, for tests that the suite notices (a Retry-After
    /// stripped never reaches the subject, so it never fired).
    pub fn stripping(self, strip: &'static [&'static str]) -> Self {
        Self { strip, ..self }
    }
    /// Serve one connection until it closes.
    pub async fn connection<IO>(self, io: IO)
    where
        IO: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    {
        let service = hyper::service::service_fn(move |req| {
            let server = self.clone();
            async move {
                let mut response = server.handle(req).await?;
                for name in server.strip {
                    response.headers_mut().remove(*name);
                }
                Ok::<_, io::Error>(response)
            }
        });
        // A connection ends with an error whenever the plan drops it: expected.
        let _ = hyper::server::conn::http1::Builder::new()
            .serve_connection(TokioIo::new(io), service)
            .await;
    }

    /// Answer one request as the plan says; an error closes the connection
    /// unanswered (a network fault).
    ///
    /// # Errors
    ///
    /// The plan's network fault, or a request body that could not be read.
    pub async fn handle(&self, req: Request<Incoming>) -> Result<Response<Body>, io::Error> {
        let (head, body) = req.into_parts();
        // The body is read whole (passthrough's too) before the answer.
        let body = body.collect().await.map_err(io::Error::other)?.to_bytes();
        let at = address::of(head.uri.path(), &head.headers, &body);
        self.answer(&head, &body, at).await
    }

    /// Answer a request already read, as an attempt of `at`'s call at its
    /// upstream ([`address`]).
    ///
    /// # Errors
    ///
    /// The plan's network fault.
    pub async fn answer(
        &self,
        head: &Parts,
        body: &Bytes,
        at: Address,
    ) -> Result<Response<Body>, io::Error> {
        let method = match method_of(head, body) {
            Ok(method) => method,
            Err(why) => return Ok(text(StatusCode::NOT_FOUND, why)),
        };
        let (upstream, client, call) = (at.upstream as usize, at.client, at.call);
        let upstreams = self.backend.upstream_count();
        if upstream >= upstreams {
            let message = format!("no upstream {upstream}: the scenario has {upstreams}");
            return Ok(text(StatusCode::NOT_FOUND, &message));
        }
        match self.backend.attempt_at(upstream, client, call).await {
            Reply::Ok(opened) => Ok(match (method.is_stream(), self.real) {
                (true, false) => events(opened, method),
                (false, false) => json(items::body(method, opened.response())),
                (true, true) => real_events(opened, method, &Asked::of(body)),
                (false, true) => json(shapes::body(method, opened.response(), &Asked::of(body))),
            }),
            Reply::Status {
                status,
                retry_after,
                form,
                should_retry: retry_word,
            } => {
                let code =
                    StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
                let mut response = match self.real {
                    true => json_with(code, shapes::error(method, status)),
                    false => text(
                        code,
                        &format!("{{\"error\":{{\"message\":\"simulated {status}\"}}}}"),
                    ),
                };
                if let Some(wait) = retry_after {
                    let (name, value) = retry_after::header(form, wait, (self.wall)());
                    if let Ok(value) = value.parse() {
                        response.headers_mut().insert(name, value);
                    }
                }
                if let Some(retry) = retry_word {
                    let headers = response.headers_mut();
                    headers.insert(should_retry::HEADER, should_retry::value(retry));
                }
                Ok(response)
            }
            // An error from the service makes hyper close the connection unanswered.
            Reply::Network => Err(io::Error::other("simulated connection reset")),
            Reply::Decode => Ok(text(StatusCode::OK, "this is not JSON")),
        }
    }
}

/// The method a request is a call of: the one its `x-sim-method` header
/// names, else the one its endpoint and body's `"stream"` say.
///
/// # Errors
///
/// Why no method answers it (a 404's text): an unknown method name, or
/// an endpoint the server does not serve.
pub fn method_of(head: &Parts, body: &[u8]) -> Result<Method, &'static str> {
    let named = head
        .headers
        .get(METHOD_HEADER)
        .and_then(|v| v.to_str().ok())
        .map(|name| {
            let mut methods = Method::ALL.into_iter().chain(Method::SERVED_ONLY);
            methods.find(|m| m.name() == name)
        });
    let endpoint = (head.method == hyper::Method::POST)
        .then(|| Endpoint::of_path(address::upstream_of(head.uri.path()).1))
        .flatten();
    match (named, endpoint) {
        (Some(Some(method)), _) => Ok(method),
        (Some(None), _) => Err("no such method"),
        (None, None) => Err("no such endpoint"),
        (None, Some(endpoint)) => {
            let stream = serde_json::from_slice::<serde_json::Value>(body)
                .ok()
                .and_then(|v| v.get("stream").and_then(serde_json::Value::as_bool))
                .unwrap_or(false);
            Ok(endpoint.method(stream))
        }
    }
}

/// The endpoints a real client calls without naming a method.
#[derive(Debug, Clone, Copy)]
enum Endpoint {
    /// OpenAI's `/v1/chat/completions`.
    Chat,
    /// Anthropic's `/v1/messages`.
    Messages,
    /// OpenAI's `/v1/embeddings`.
    Embeddings,
    /// OpenAI's `/v1/responses`.
    Responses,
}

impl Endpoint {
    fn of_path(path: &str) -> Option<Self> {
        match path {
            "/v1/chat/completions" => Some(Endpoint::Chat),
            "/v1/messages" => Some(Endpoint::Messages),
            "/v1/embeddings" => Some(Endpoint::Embeddings),
            "/v1/responses" => Some(Endpoint::Responses),
            _ => None,
        }
    }

    fn method(self, stream: bool) -> Method {
        match (self, stream) {
            (Endpoint::Chat, false) => Method::Chat,
            (Endpoint::Chat, true) => Method::ChatStream,
            (Endpoint::Messages, false) => Method::Anthropic,
            (Endpoint::Messages, true) => Method::AnthropicStream,
            (Endpoint::Embeddings, _) => Method::Embedding,
            (Endpoint::Responses, false) => Method::Responses,
            (Endpoint::Responses, true) => Method::ResponsesStream,
        }
    }
}

/// The SSE body of one stream of `method`: the backend's items, then
/// `[DONE]`, or a dropped connection or a stall halfway.
fn events(opened: Opened, method: Method) -> Response<Body> {
    let keepalive = opened.keepalive();
    let frames = opened.into_stream().map(move |item| match item {
        Item::Chunk(id) => Ok::<_, io::Error>(Frame::data(items::event(method, id))),
        // The backend breaks a stream one gap after its last item, so
        // the items already sent are flushed before the reset.
        Item::Fail => Err(io::Error::other("simulated drop mid-stream")),
    });
    let frames = with_keepalives(
        frames,
        keepalive.map(|every| (every, items::keepalive(method))),
    );
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

/// The SSE body of one stream of `method` in its provider's own shape
/// ([`shapes::Events`]): the opening frame at once, the backend's items,
/// then the closing frame on a clean end; or a dropped connection or a
/// stall halfway, as [`events`].
fn real_events(opened: Opened, method: Method, asked: &Asked) -> Response<Body> {
    let keepalive = opened.keepalive();
    let framing = std::sync::Arc::new(std::sync::Mutex::new(shapes::Events::new(
        method,
        opened.response(),
        asked,
    )));
    let opening = lock(&framing).opening();
    let each = framing.clone();
    let frames = opened.into_stream().map(move |item| match item {
        Item::Chunk(id) => Ok::<_, io::Error>(Frame::data(lock(&each).item(id))),
        Item::Fail => Err(io::Error::other("simulated drop mid-stream")),
    });
    let frames = with_keepalives(
        frames,
        keepalive.map(|every| (every, items::keepalive(method))),
    );
    let closing = futures::stream::once(async move { Ok(Frame::data(lock(&framing).closing())) });
    let opening = futures::stream::iter((!opening.is_empty()).then(|| Ok(Frame::data(opening))));
    let body = StreamBody::new(opening.chain(frames).chain(closing));
    let mut response = Response::new(BodyExt::boxed(body));
    response.headers_mut().insert(
        hyper::header::CONTENT_TYPE,
        hyper::header::HeaderValue::from_static("text/event-stream"),
    );
    response
}

/// One stream's events are written by one body in order: the lock is
/// never contended, only shared between its opening, items and closing.
fn lock(framing: &std::sync::Mutex<shapes::Events>) -> std::sync::MutexGuard<'_, shapes::Events> {
    framing.lock().unwrap_or_else(|e| e.into_inner())
}

/// `frames`, with the keep-alive `frame` after every `every` without one.
fn with_keepalives<S>(frames: S, keepalive: Option<(Duration, Bytes)>) -> Frames
where
    S: Stream<Item = Result<Frame<Bytes>, io::Error>> + Send + Sync + 'static,
{
    let Some((every, keepalive)) = keepalive else {
        return Box::pin(frames);
    };
    let frames: Pin<Box<dyn Stream<Item = _> + Send + Sync>> = Box::pin(frames.map(Some));
    let with = futures::stream::unfold(frames, move |mut frames| async move {
        // Dropping `next()` on timeout loses nothing: the item's pending
        // future lives in the stream, which keeps its gap's timer.
        match tokio::time::timeout(every, frames.next()).await {
            Ok(Some(frame)) => Some((frame, frames)),
            Ok(None) => None,
            Err(_) => Some((None, frames)),
        }
    })
    .map(move |frame| frame.unwrap_or_else(|| Ok(Frame::data(keepalive.clone()))));
    Box::pin(with)
}

fn text(status: StatusCode, body: &str) -> Response<Body> {
    let body = Full::new(Bytes::from(body.to_string()))
        .map_err(|never: Infallible| match never {})
        .boxed();
    let mut response = Response::new(body);
    *response.status_mut() = status;
    response
}

/// A 200 with a JSON body.
fn json(body: Bytes) -> Response<Body> {
    json_with(StatusCode::OK, body)
}

/// An answer of `status` with a JSON body.
fn json_with(status: StatusCode, body: Bytes) -> Response<Body> {
    let mut response = Response::new(Full::new(body).map_err(|never| match never {}).boxed());
    *response.status_mut() = status;
    response.headers_mut().insert(
        hyper::header::CONTENT_TYPE,
        hyper::header::HeaderValue::from_static("application/json"),
    );
    response
}
