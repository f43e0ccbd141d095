//! An HTTP provider: every `Provider` method over HTTP/1.1 on turmoil's
//! simulated TCP, each request naming its method in `x-sim-method`.
//!
//! A status of 400 or more becomes [`Error::Provider`] with the wait any
//! Retry-After form asked for (a malformed header is ignored); a failure
//! to connect, send or read becomes [`Error::Network`]; a unary body that
//! is not JSON (raw methods included), or a stream answered with anything
//! but `text/event-stream`, becomes [`Error::Decode`].
//!
//! Typed streams are parsed as their events arrive, and one that ends
//! without `[DONE]` ends with a network error. Raw streams hand over the
//! body's bytes as they come, unparsed; a broken body is an
//! [`std::io::ErrorKind::ConnectionReset`] error.
//!
//! The canonical IR has no wire form of its own: `complete` and
//! `complete_stream` travel as Anthropic Messages, through crabllm's own
//! conversions both ways.

use crate::method::Method;
use crate::wire::address::CallId;
use crate::wire::retry_after;
use crate::wire::{CALL_HEADER, CLIENT_HEADER, METHOD_HEADER};
use crate::wire::{items, sse};
use bytes::{Bytes, BytesMut};
use crabllm_core::{
    AudioSpeechRequest, BoxStream, ByteStream, ChatCompletionChunk, ChatCompletionRequest,
    ChatCompletionResponse, EmbeddingRequest, EmbeddingResponse, Error, ImageRequest, ModelList,
    MultipartField, Provider, anthropic, gemini, ir,
};
use futures::{StreamExt, TryStreamExt};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use serde::Serialize;
use serde::de::DeserializeOwned;
use std::time::SystemTime;

/// The server's address, and the call the next request is an attempt of
/// ([`HttpProvider::at`]).
#[derive(Debug, Clone)]
pub struct HttpProvider {
    /// `host:port` of the server, as turmoil resolves it.
    server: String,
    call: CallId,
    wall: fn() -> SystemTime,
}

/// The verb and path a method is sent with, as its real API names them
/// (the server goes by the method header; these only make traces read
/// true): every method POSTs but `models`, which GETs.
fn request_line(method: Method, model: &str) -> (hyper::Method, String) {
    let verb = match method {
        Method::Models => hyper::Method::GET,
        _ => hyper::Method::POST,
    };
    (verb, path(method, model))
}

/// The path a method is sent to, as its real API names it.
fn path(method: Method, model: &str) -> String {
    match method {
        Method::Chat
        | Method::ChatStream
        | Method::ChatRaw
        | Method::ChatStreamRaw
        | Method::Passthrough => "/v1/chat/completions".into(),
        Method::Anthropic
        | Method::AnthropicStream
        | Method::AnthropicRaw
        | Method::AnthropicStreamRaw
        | Method::Complete
        | Method::CompleteStream => "/v1/messages".into(),
        Method::Gemini | Method::GeminiRaw => format!("/v1beta/models/{model}:generateContent"),
        Method::GeminiStream | Method::GeminiStreamRaw => {
            format!("/v1beta/models/{model}:streamGenerateContent?alt=sse")
        }
        Method::Embedding => "/v1/embeddings".into(),
        Method::Models => "/v1/models".into(),
        Method::Image => "/v1/images/generations".into(),
        Method::AudioSpeech => "/v1/audio/speech".into(),
        Method::AudioTranscription => "/v1/audio/transcriptions".into(),
        Method::Responses | Method::ResponsesStream => "/v1/responses".into(),
    }
}

impl HttpProvider {
    /// A provider calling `server`; `wall` reads HTTP-dates.
    pub fn new(server: &str, wall: fn() -> SystemTime) -> Self {
        Self {
            server: server.to_string(),
            call: CallId::UNATTRIBUTED,
            wall,
        }
    }

    /// This provider, telling the server its requests are attempts of call `id`.
    pub fn at(&self, id: CallId) -> Self {
        Self {
            call: id,
            ..self.clone()
        }
    }

    /// Send one call of `method` on a fresh connection; statuses of 400
    /// and up are errors.
    async fn send(
        &self,
        method: Method,
        model: &str,
        body: Bytes,
    ) -> Result<hyper::Response<Incoming>, Error> {
        let tcp = turmoil::net::TcpStream::connect(self.server.as_str())
            .await
            .map_err(network)?;
        let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(tcp))
            .await
            .map_err(network)?;
        // The connection is driven beside the request; it ends when either side closes.
        tokio::spawn(async move {
            let _ = connection.await;
        });
        let (verb, path) = request_line(method, model);
        let req = hyper::Request::builder()
            .method(verb)
            .uri(path)
            .header(hyper::header::HOST, self.server.as_str())
            .header(hyper::header::CONTENT_TYPE, "application/json")
            .header(METHOD_HEADER, method.name())
            .header(CLIENT_HEADER, self.call.client.to_string())
            .header(CALL_HEADER, self.call.call.to_string())
            .body(Full::new(body))
            .map_err(|e| Error::Internal(e.to_string()))?;
        let response = sender.send_request(req).await.map_err(network)?;
        let status = response.status().as_u16();
        if status < 400 {
            return Ok(response);
        }
        let retry_after = retry_after::parse(response.headers(), (self.wall)());
        let body = response.into_body().collect().await.map_err(network)?;
        Err(Error::Provider {
            status,
            body: String::from_utf8_lossy(&body.to_bytes()).into_owned(),
            retry_after,
        })
    }

    /// A unary call: the body, checked to be JSON, and its content type.
    async fn unary(
        &self,
        method: Method,
        model: &str,
        body: Bytes,
    ) -> Result<(Bytes, String), Error> {
        let response = self.send(method, model, body).await?;
        let kind = content_type(&response).unwrap_or_default().to_string();
        let bytes = response.into_body().collect().await.map_err(network)?;
        let bytes = bytes.to_bytes();
        serde_json::from_slice::<serde::de::IgnoredAny>(&bytes).map_err(decode)?;
        Ok((bytes, kind))
    }

    /// A unary call whose JSON body is a `T`.
    async fn typed<T: DeserializeOwned>(
        &self,
        method: Method,
        model: &str,
        body: Bytes,
    ) -> Result<T, Error> {
        let (bytes, _) = self.unary(method, model, body).await?;
        serde_json::from_slice(&bytes).map_err(decode)
    }

    /// A stream call: the event-stream body.
    async fn open(&self, method: Method, model: &str, body: Bytes) -> Result<Incoming, Error> {
        event_stream(self.send(method, model, body).await?)
    }

    /// A raw stream call: the body's bytes, unparsed.
    async fn raw_stream(
        &self,
        method: Method,
        model: &str,
        body: Bytes,
    ) -> Result<ByteStream, Error> {
        let body = self.open(method, model, body).await?;
        Ok(Box::pin(body.into_data_stream().map_err(|e| {
            std::io::Error::new(std::io::ErrorKind::ConnectionReset, e.to_string())
        })))
    }
}

/// A stream call's answer: its body, if its content type says it is an
/// event stream, else a decode error before a byte of it is read.
fn event_stream<B>(response: hyper::Response<B>) -> Result<B, Error> {
    match content_type(&response) {
        Some(t) if t.starts_with("text/event-stream") => Ok(response.into_body()),
        Some(other) => Err(Error::Decode(format!(
            "not an event stream: its content type is {other}"
        ))),
        None => Err(Error::Decode(
            "not an event stream: it has no content type".into(),
        )),
    }
}

fn content_type<B>(response: &hyper::Response<B>) -> Option<&str> {
    response
        .headers()
        .get(hyper::header::CONTENT_TYPE)?
        .to_str()
        .ok()
}

fn network(e: impl std::fmt::Display) -> Error {
    Error::Network(e.to_string())
}

fn decode(e: impl std::fmt::Display) -> Error {
    Error::Decode(e.to_string())
}

/// `request` as a JSON body, with its `stream` field set when it has one.
fn json_body<T: Serialize>(request: &T, stream: Option<bool>) -> Result<Bytes, Error> {
    let mut value = serde_json::to_value(request).map_err(|e| Error::Encode(e.to_string()))?;
    if let (Some(stream), Some(object)) = (stream, value.as_object_mut()) {
        object.insert("stream".into(), stream.into());
    }
    Ok(Bytes::from(value.to_string()))
}

fn serde_item<T: DeserializeOwned>(json: &str) -> Result<T, Error> {
    serde_json::from_str(json).map_err(decode)
}

fn anthropic_item(json: &str) -> Result<anthropic::StreamEvent, Error> {
    items::anthropic_event_from_json(json).map_err(Error::Decode)
}

fn ir_item(json: &str) -> Result<ir::StreamEvent, Error> {
    let event = anthropic_item(json)?;
    event
        .to_ir_events()
        .into_iter()
        .next()
        .ok_or_else(|| Error::Decode(format!("no IR event in {json}")))
}

/// Server-sent events parsed incrementally into items by `parse`.
fn events<B, T, F>(body: B, parse: F) -> BoxStream<'static, Result<T, Error>>
where
    B: hyper::body::Body<Data = Bytes> + Send + Unpin + 'static,
    B::Error: std::fmt::Display + Send,
    T: Send + 'static,
    F: Fn(&str) -> Result<T, Error> + Send + 'static,
{
    let events = Box::pin(sse::events(body.into_data_stream()));
    Box::pin(futures::stream::unfold(
        (events, parse, false),
        |(mut events, parse, done)| async move {
            if done {
                return None;
            }
            loop {
                let item = match events.next().await {
                    Some(Ok(event)) => match sse::data(&event) {
                        None => continue,
                        Some(sse::DONE) => return None,
                        // As crabllm's Anthropic reader drops `ping`.
                        Some(json) if items::is_keepalive(json) => continue,
                        Some(json) => parse(json),
                    },
                    Some(Err(e)) => return Some((Err(network(e)), (events, parse, true))),
                    None => {
                        let cut = Error::Network("stream ended before [DONE]".into());
                        return Some((Err(cut), (events, parse, true)));
                    }
                };
                return Some((item, (events, parse, false)));
            }
        },
    ))
}

impl Provider for HttpProvider {
    async fn chat_completion(
        &self,
        request: &ChatCompletionRequest,
    ) -> Result<ChatCompletionResponse, Error> {
        let body = json_body(request, Some(false))?;
        self.typed(Method::Chat, &request.model, body).await
    }

    async fn chat_completion_stream(
        &self,
        request: &ChatCompletionRequest,
    ) -> Result<BoxStream<'static, Result<ChatCompletionChunk, Error>>, Error> {
        let body = json_body(request, Some(true))?;
        let body = self.open(Method::ChatStream, &request.model, body).await?;
        Ok(events(body, serde_item))
    }

    async fn anthropic_messages(
        &self,
        request: &anthropic::Request,
    ) -> Result<anthropic::Response, Error> {
        let body = json_body(request, Some(false))?;
        self.typed(Method::Anthropic, &request.model, body).await
    }

    async fn anthropic_messages_stream(
        &self,
        request: &anthropic::Request,
    ) -> Result<BoxStream<'static, Result<anthropic::StreamEvent, Error>>, Error> {
        let body = json_body(request, Some(true))?;
        let body = self
            .open(Method::AnthropicStream, &request.model, body)
            .await?;
        Ok(events(body, anthropic_item))
    }

    async fn gemini_generate_content(
        &self,
        model: &str,
        request: &gemini::Request,
    ) -> Result<gemini::Response, Error> {
        let body = json_body(request, None)?;
        self.typed(Method::Gemini, model, body).await
    }

    async fn gemini_generate_content_stream(
        &self,
        model: &str,
        request: &gemini::Request,
    ) -> Result<BoxStream<'static, Result<gemini::Response, Error>>, Error> {
        let body = json_body(request, None)?;
        let body = self.open(Method::GeminiStream, model, body).await?;
        Ok(events(body, serde_item))
    }

    async fn complete(&self, request: &ir::Request) -> Result<ir::Response, Error> {
        let body = json_body(&anthropic::Request::from(request), Some(false))?;
        let response: anthropic::Response =
            self.typed(Method::Complete, &request.model, body).await?;
        Ok(ir::Response::from(response))
    }

    async fn complete_stream(
        &self,
        request: &ir::Request,
    ) -> Result<BoxStream<'static, Result<ir::StreamEvent, Error>>, Error> {
        let body = json_body(&anthropic::Request::from(request), Some(true))?;
        let body = self
            .open(Method::CompleteStream, &request.model, body)
            .await?;
        Ok(events(body, ir_item))
    }

    async fn embedding(&self, request: &EmbeddingRequest) -> Result<EmbeddingResponse, Error> {
        let body = json_body(request, None)?;
        self.typed(Method::Embedding, &request.model, body).await
    }

    async fn image_generation(&self, request: &ImageRequest) -> Result<(Bytes, String), Error> {
        let body = json_body(request, None)?;
        self.unary(Method::Image, &request.model, body).await
    }

    async fn audio_speech(&self, request: &AudioSpeechRequest) -> Result<(Bytes, String), Error> {
        let body = json_body(request, None)?;
        self.unary(Method::AudioSpeech, &request.model, body).await
    }

    async fn audio_transcription(
        &self,
        model: &str,
        fields: &[MultipartField],
    ) -> Result<(Bytes, String), Error> {
        // The server answers by the plan, not the upload: the fields travel
        // as a JSON summary rather than as multipart.
        let names: Vec<&str> = fields.iter().map(|f| f.name.as_str()).collect();
        let body = json_body(
            &serde_json::json!({ "model": model, "fields": names }),
            None,
        )?;
        self.unary(Method::AudioTranscription, model, body).await
    }

    async fn models(&self) -> Result<ModelList, Error> {
        self.typed(Method::Models, "", Bytes::new()).await
    }

    async fn chat_completion_stream_passthrough(
        &self,
        model: &str,
        mut body_stream: ByteStream,
    ) -> Result<ByteStream, Error> {
        let mut body = BytesMut::new();
        while let Some(piece) = body_stream.next().await {
            body.extend_from_slice(&piece.map_err(network)?);
        }
        self.raw_stream(Method::Passthrough, model, body.freeze())
            .await
    }

    async fn chat_completion_stream_raw(
        &self,
        model: &str,
        raw_body: Bytes,
    ) -> Result<ByteStream, Error> {
        self.raw_stream(Method::ChatStreamRaw, model, raw_body)
            .await
    }

    async fn chat_completion_raw(&self, model: &str, raw_body: Bytes) -> Result<Bytes, Error> {
        Ok(self.unary(Method::ChatRaw, model, raw_body).await?.0)
    }

    async fn anthropic_messages_raw(&self, raw_body: Bytes) -> Result<Bytes, Error> {
        Ok(self.unary(Method::AnthropicRaw, "", raw_body).await?.0)
    }

    async fn anthropic_messages_stream_raw(&self, raw_body: Bytes) -> Result<ByteStream, Error> {
        self.raw_stream(Method::AnthropicStreamRaw, "", raw_body)
            .await
    }

    async fn gemini_generate_content_raw(
        &self,
        model: &str,
        raw_body: Bytes,
    ) -> Result<Bytes, Error> {
        Ok(self.unary(Method::GeminiRaw, model, raw_body).await?.0)
    }

    async fn gemini_generate_content_stream_raw(
        &self,
        model: &str,
        raw_body: Bytes,
    ) -> Result<ByteStream, Error> {
        self.raw_stream(Method::GeminiStreamRaw, model, raw_body)
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures::StreamExt;
    use http_body_util::StreamBody;
    use hyper::body::Frame;

    /// A body delivering `pieces` as separate frames, then `end`.
    fn body(
        pieces: &[&str],
        end: Option<&str>,
    ) -> StreamBody<futures::stream::BoxStream<'static, Result<Frame<Bytes>, String>>> {
        let mut frames: Vec<Result<Frame<Bytes>, String>> = pieces
            .iter()
            .map(|p| Ok(Frame::data(Bytes::from(p.to_string()))))
            .collect();
        if let Some(e) = end {
            frames.push(Err(e.to_string()));
        }
        StreamBody::new(futures::stream::iter(frames).boxed())
    }

    fn ids(items: &[Result<ChatCompletionChunk, Error>]) -> Vec<String> {
        items
            .iter()
            .filter_map(|i| i.as_ref().ok())
            .map(|c| c.id.clone())
            .collect()
    }

    /// One SSE event carrying a chunk with this id.
    fn event(id: &str) -> String {
        let chunk = ChatCompletionChunk {
            id: id.into(),
            ..Default::default()
        };
        format!("data: {}\n\n", serde_json::to_string(&chunk).unwrap())
    }

    #[test]
    fn each_method_is_sent_as_its_real_api_names_it() {
        let post = hyper::Method::POST;
        let cases = [
            (Method::Chat, post.clone(), "/v1/chat/completions"),
            (Method::ChatStreamRaw, post.clone(), "/v1/chat/completions"),
            (Method::Passthrough, post.clone(), "/v1/chat/completions"),
            (Method::AnthropicStream, post.clone(), "/v1/messages"),
            (Method::CompleteStream, post.clone(), "/v1/messages"),
            (
                Method::GeminiRaw,
                post.clone(),
                "/v1beta/models/m:generateContent",
            ),
            (
                Method::GeminiStream,
                post.clone(),
                "/v1beta/models/m:streamGenerateContent?alt=sse",
            ),
            (Method::Embedding, post.clone(), "/v1/embeddings"),
            (Method::Models, hyper::Method::GET, "/v1/models"),
            (Method::Image, post.clone(), "/v1/images/generations"),
            (Method::AudioSpeech, post.clone(), "/v1/audio/speech"),
            (
                Method::AudioTranscription,
                post.clone(),
                "/v1/audio/transcriptions",
            ),
            (Method::ResponsesStream, post, "/v1/responses"),
        ];
        for (method, verb, path) in cases {
            assert_eq!(
                request_line(method, "m"),
                (verb, path.to_string()),
                "{method}"
            );
        }
    }

    #[test]
    fn only_an_event_stream_is_opened_as_a_stream() {
        let answer = |kind: Option<&str>| {
            let mut response = hyper::Response::builder();
            if let Some(kind) = kind {
                response = response.header(hyper::header::CONTENT_TYPE, kind);
            }
            event_stream(response.body(()).unwrap())
        };
        assert!(answer(Some("text/event-stream; charset=utf-8")).is_ok());
        for kind in [Some("application/json"), None] {
            let refused = answer(kind);
            assert!(
                matches!(&refused, Err(Error::Decode(m)) if m.starts_with("not an event stream")),
                "{kind:?}: {refused:?}"
            );
        }
    }

    #[test]
    fn a_request_travels_as_its_json_with_the_stream_flag_its_method_sets() {
        let request = ChatCompletionRequest {
            model: "m".into(),
            ..Default::default()
        };
        let sent = |stream| -> serde_json::Value {
            serde_json::from_slice(&json_body(&request, stream).unwrap()).unwrap()
        };
        assert_eq!(sent(Some(true))["stream"], true);
        assert_eq!(sent(Some(false))["stream"], false);
        assert_eq!(sent(None).get("stream"), None);
        for stream in [Some(true), Some(false), None] {
            assert_eq!(sent(stream)["model"], "m");
        }
    }

    #[tokio::test]
    async fn events_split_across_frames_are_put_back_together() {
        let text = format!(
            "{}: a comment\n\n{}data: [DONE]\n\n",
            event("a"),
            event("b")
        );
        // Cut everywhere: mid-prefix, mid-JSON, between the two newlines.
        for cut in [3, 20, text.len() / 2, text.len() - 8] {
            let (x, y) = text.split_at(cut);
            let items: Vec<_> = events(body(&[x, y], None), serde_item).collect().await;
            assert_eq!(ids(&items), ["a", "b"], "cut at {cut}");
            assert!(items.iter().all(Result::is_ok), "{items:?}");
        }
    }

    #[tokio::test]
    async fn a_body_that_breaks_or_stops_before_done_ends_with_a_network_error() {
        for end in [Some("reset"), None] {
            let items: Vec<_> = events(body(&[&event("a")], end), serde_item)
                .collect()
                .await;
            assert_eq!(ids(&items), ["a"]);
            assert!(
                matches!(items.last(), Some(Err(Error::Network(_)))),
                "{items:?}"
            );
        }
    }

    #[tokio::test]
    async fn a_chunk_that_is_not_json_is_a_decode_error() {
        let items: Vec<_> = events(
            body(&["data: nope\n\ndata: [DONE]\n\n"], None),
            serde_item::<ChatCompletionChunk>,
        )
        .collect()
        .await;
        assert!(
            matches!(items.as_slice(), [Err(Error::Decode(_))]),
            "{items:?}"
        );
    }
}
