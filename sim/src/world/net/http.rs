//! An HTTP provider: `chat_completion` and its SSE stream over HTTP/1.1 on
//! turmoil's simulated TCP.
//!
//! A status of 400 or more becomes [`Error::Provider`] with the wait any
//! Retry-After form asked for (a malformed header is ignored); a failure
//! to connect, send or read becomes [`Error::Network`]; a body that is not
//! the expected JSON becomes [`Error::Decode`]. Server-sent events are
//! parsed as they arrive; a stream that ends without `[DONE]` ends with a
//! network error.

use super::{CALL_HEADER, CLIENT_HEADER, retry_after};
use crate::world::Cursor;
use bytes::{Buf, Bytes, BytesMut};
use crabllm_core::{
    BoxStream, ChatCompletionChunk, ChatCompletionRequest, ChatCompletionResponse, Error, Provider,
};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use std::time::SystemTime;

/// One client's connection details.
#[derive(Debug, Clone)]
pub struct HttpProvider {
    /// `host:port` of the server, as turmoil resolves it.
    server: String,
    client: u32,
    cursor: Cursor,
    wall: fn() -> SystemTime,
}

impl HttpProvider {
    /// A provider calling `server` as `client`, telling it the call
    /// `cursor` names; `wall` reads HTTP-dates.
    pub fn new(server: &str, client: u32, cursor: Cursor, wall: fn() -> SystemTime) -> Self {
        Self {
            server: server.to_string(),
            client,
            cursor,
            wall,
        }
    }

    /// Send one request on a fresh connection; statuses of 400 and up are errors.
    async fn send(&self, request: &ChatCompletionRequest, stream: bool) -> Result<Incoming, Error> {
        let mut body = serde_json::to_value(request).map_err(|e| Error::Internal(e.to_string()))?;
        body["stream"] = serde_json::Value::Bool(stream);
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
        let req = hyper::Request::post("/v1/chat/completions")
            .header(hyper::header::HOST, self.server.as_str())
            .header(hyper::header::CONTENT_TYPE, "application/json")
            .header(CLIENT_HEADER, self.client.to_string())
            .header(CALL_HEADER, self.cursor.get().to_string())
            .body(Full::new(Bytes::from(body.to_string())))
            .map_err(|e| Error::Internal(e.to_string()))?;
        let response = sender.send_request(req).await.map_err(network)?;
        let status = response.status().as_u16();
        if status < 400 {
            return Ok(response.into_body());
        }
        let retry_after = retry_after::parse(response.headers(), (self.wall)());
        let body = response.into_body().collect().await.map_err(network)?;
        Err(Error::Provider {
            status,
            body: String::from_utf8_lossy(&body.to_bytes()).into_owned(),
            retry_after,
        })
    }
}

fn network(e: impl std::fmt::Display) -> Error {
    Error::Network(e.to_string())
}

/// Server-sent events parsed incrementally into chunks.
fn events<B>(body: B) -> BoxStream<'static, Result<ChatCompletionChunk, Error>>
where
    B: hyper::body::Body<Data = Bytes> + Send + Unpin + 'static,
    B::Error: std::fmt::Display,
{
    let state = (body, BytesMut::new(), false);
    Box::pin(futures::stream::unfold(
        state,
        |(mut body, mut buf, done)| async move {
            if done {
                return None;
            }
            loop {
                if let Some(end) = buf.windows(2).position(|w| w == b"\n\n") {
                    let event = buf.split_to(end + 2);
                    let data = std::str::from_utf8(&event)
                        .ok()
                        .and_then(|e| e.lines().find_map(|l| l.strip_prefix("data: ")))
                        .map(str::to_string);
                    match data.as_deref() {
                        None => continue,
                        Some("[DONE]") => return None,
                        Some(json) => {
                            let item = serde_json::from_str(json)
                                .map_err(|e| Error::Decode(e.to_string()));
                            return Some((item, (body, buf, false)));
                        }
                    }
                }
                match body.frame().await {
                    Some(Ok(frame)) => {
                        if let Ok(mut data) = frame.into_data() {
                            while data.has_remaining() {
                                let chunk = data.chunk();
                                buf.extend_from_slice(chunk);
                                let n = chunk.len();
                                data.advance(n);
                            }
                        }
                    }
                    Some(Err(e)) => return Some((Err(network(e)), (body, buf, true))),
                    None => {
                        let cut = Error::Network("stream ended before [DONE]".into());
                        return Some((Err(cut), (body, buf, true)));
                    }
                }
            }
        },
    ))
}

impl Provider for HttpProvider {
    async fn chat_completion(
        &self,
        request: &ChatCompletionRequest,
    ) -> Result<ChatCompletionResponse, Error> {
        let body = self.send(request, false).await?;
        let bytes = body.collect().await.map_err(network)?.to_bytes();
        serde_json::from_slice(&bytes).map_err(|e| Error::Decode(e.to_string()))
    }

    async fn chat_completion_stream(
        &self,
        request: &ChatCompletionRequest,
    ) -> Result<BoxStream<'static, Result<ChatCompletionChunk, Error>>, Error> {
        Ok(events(self.send(request, true).await?))
    }

    crate::chat_only_provider_rest!();
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
            let items: Vec<_> = events(body(&[x, y], None)).collect().await;
            assert_eq!(ids(&items), ["a", "b"], "cut at {cut}");
            assert!(items.iter().all(Result::is_ok), "{items:?}");
        }
    }

    #[tokio::test]
    async fn a_body_that_breaks_or_stops_before_done_ends_with_a_network_error() {
        for end in [Some("reset"), None] {
            let items: Vec<_> = events(body(&[&event("a")], end)).collect().await;
            assert_eq!(ids(&items), ["a"]);
            assert!(
                matches!(items.last(), Some(Err(Error::Network(_)))),
                "{items:?}"
            );
        }
    }

    #[tokio::test]
    async fn a_chunk_that_is_not_json_is_a_decode_error() {
        let items: Vec<_> = events(body(&["data: nope\n\ndata: [DONE]\n\n"], None))
            .collect()
            .await;
        assert!(
            matches!(items.as_slice(), [Err(Error::Decode(_))]),
            "{items:?}"
        );
    }
}
