//! Every method family, end to end: the values a provider hands back (each
//! carrying its [`ChunkId`] payload), and the caller's side of each method.
//!
//! | module | role |
//! |---|---|
//! | [`items`] | typed responses and stream items built from, and read back to, payloads; each method's bytes on the wire |
//! | [`shapes`] | answers in each provider's own shape, as strict clients read them |
//! | [`requests`] | the smallest valid request of each kind |
//! | [`sse`] | server-sent events put back together from bytes cut anywhere |
//! | [`retry_after`] | the three Retry-After forms, written and parsed |
//! | [`should_retry`] | the `x-should-retry` header, written and parsed |
//! | [`address`] | which upstream answers a request, and which call it belongs to |
//! | [`grouping`] | which call an attempt belongs to when the client names none |
//! | [`digest`] | what a request sends, as a stable number, and the call it names |
//! | [`lent`] | the requests callers have lent to calls in flight, so an attempt that sends one is not read again |
//!
//! [`invoke`] makes one call of any [`Method`] on any provider, reports each
//! item's payload as it arrives, and says how the call ended.

pub mod address;
pub mod digest;
pub mod grouping;
pub mod items;
pub mod lent;
pub mod requests;
pub mod retry_after;
pub mod shapes;
pub mod should_retry;
pub mod sse;

use crate::method::Method;
use crate::trace::ChunkId;
use bytes::Bytes;
use crabllm_core::{
    ByteStream, ChatCompletionChunk, ChatCompletionRequest, Error, Provider, anthropic, gemini,
};
use futures::StreamExt;
use items::{MODEL, chat_payload, payload_in, payload_of};

/// How a failed call ended.
#[derive(Debug)]
pub struct Ended {
    /// The error the call returned.
    pub error: Error,
    /// `Some(timeout)` when a handed-over stream failed after its items.
    pub stream_failed: Option<bool>,
}

impl From<Error> for Ended {
    fn from(error: Error) -> Self {
        Ended {
            error,
            stream_failed: None,
        }
    }
}

/// The error a raw byte stream's failure stands for: a timeout if it says
/// it timed out, otherwise a broken connection.
pub fn io_error(e: std::io::Error) -> Error {
    match e.kind() {
        std::io::ErrorKind::TimedOut => Error::Timeout,
        _ => Error::Network(e.to_string()),
    }
}

/// Read a typed stream to its end, reporting each item's payload.
async fn drain<T, E>(
    mut items: impl futures::Stream<Item = Result<T, E>> + Unpin,
    payload: impl Fn(&T) -> Option<ChunkId>,
    error: impl Fn(E) -> Error,
    on_item: &mut impl FnMut(Option<ChunkId>),
) -> Result<(), Ended> {
    while let Some(item) = items.next().await {
        match item {
            Ok(item) => on_item(payload(&item)),
            Err(e) => {
                let error = error(e);
                return Err(Ended {
                    stream_failed: Some(matches!(error, Error::Timeout)),
                    error,
                });
            }
        }
    }
    Ok(())
}

/// Read a raw SSE byte stream to its end, reporting one payload per event
/// that has data (`[DONE]`, comments and keep-alives are not items).
async fn drain_sse(
    bytes: ByteStream,
    on_item: &mut impl FnMut(Option<ChunkId>),
) -> Result<(), Ended> {
    let events = sse::events(bytes).filter(|event| {
        let item = match event {
            Ok(e) => sse::data(e).is_some_and(|d| d != sse::DONE && !items::is_keepalive(d)),
            Err(_) => true,
        };
        std::future::ready(item)
    });
    drain(Box::pin(events), |e| payload_in(e), io_error, on_item).await
}

/// Make call `id`, of `method`, on `provider` with the request
/// [`requests`] builds for it, reporting every item's payload (a unary
/// response counts as one item).
///
/// # Errors
///
/// The call's error, and whether it came from a handed-over stream.
pub async fn invoke<P: Provider>(
    provider: &P,
    method: Method,
    id: address::CallId,
    mut on_item: impl FnMut(Option<ChunkId>),
) -> Result<(), Ended> {
    use requests as rq;
    let on_item = &mut on_item;
    let network = |e: Error| e;
    // Each request is lent for the call (`lent`) with the digest the
    // caller records, so attempts that send it as it is are not read again.
    let sent = rq::sent(method, id);
    match method {
        Method::Chat => {
            let request = rq::shared(method, id, rq::chat);
            let _loan = lent::typed(&*request, None, sent);
            let r = provider.chat_completion(&request).await?;
            on_item(chat_payload(&r.id, &r));
        }
        Method::ChatStream => {
            let request = rq::shared(method, id, rq::chat);
            let _loan = lent::typed(&*request, None, sent);
            let s = provider.chat_completion_stream(&request).await?;
            let payload = |c: &ChatCompletionChunk| chat_payload(&c.id, c);
            return drain(s, payload, network, on_item).await;
        }
        Method::ChatRaw => {
            let body = rq::shared(method, id, rq::chat_body);
            let _loan = lent::body::<ChatCompletionRequest>(&body, None, sent);
            let b = provider
                .chat_completion_raw(MODEL, Bytes::clone(&body))
                .await?;
            on_item(payload_in(&b));
        }
        Method::ChatStreamRaw => {
            let body = rq::shared(method, id, rq::chat_body);
            let _loan = lent::body::<ChatCompletionRequest>(&body, None, sent);
            let s = provider.chat_completion_stream_raw(MODEL, Bytes::clone(&body));
            return drain_sse(s.await?, on_item).await;
        }
        Method::Passthrough => {
            // A stream of bytes is read by the probe whatever it holds.
            let body = rq::shared(method, id, rq::chat_body);
            let body: ByteStream = Box::pin(futures::stream::iter([Ok(Bytes::clone(&body))]));
            let s = provider.chat_completion_stream_passthrough(MODEL, body);
            return drain_sse(s.await?, on_item).await;
        }
        Method::Anthropic => {
            let request = rq::shared(method, id, rq::anthropic);
            let _loan = lent::typed(&*request, None, sent);
            on_item(payload_of(&provider.anthropic_messages(&request).await?));
        }
        Method::AnthropicStream => {
            let request = rq::shared(method, id, rq::anthropic);
            let _loan = lent::typed(&*request, None, sent);
            let s = provider.anthropic_messages_stream(&request).await?;
            return drain(s, payload_of, network, on_item).await;
        }
        Method::AnthropicRaw => {
            let body = rq::shared(method, id, rq::anthropic_body);
            let _loan = lent::body::<anthropic::Request>(&body, None, sent);
            let b = provider.anthropic_messages_raw(Bytes::clone(&body)).await?;
            on_item(payload_in(&b));
        }
        Method::AnthropicStreamRaw => {
            let body = rq::shared(method, id, rq::anthropic_body);
            let _loan = lent::body::<anthropic::Request>(&body, None, sent);
            let s = provider.anthropic_messages_stream_raw(Bytes::clone(&body));
            return drain_sse(s.await?, on_item).await;
        }
        Method::Gemini => {
            let request = rq::shared(method, id, rq::gemini);
            let _loan = lent::typed(&*request, Some(MODEL), sent);
            let r = provider.gemini_generate_content(MODEL, &request).await?;
            on_item(payload_of(&r));
        }
        Method::GeminiStream => {
            let request = rq::shared(method, id, rq::gemini);
            let _loan = lent::typed(&*request, Some(MODEL), sent);
            let s = provider.gemini_generate_content_stream(MODEL, &request);
            return drain(s.await?, payload_of, network, on_item).await;
        }
        Method::GeminiRaw => {
            let body = rq::shared(method, id, rq::gemini_body);
            let _loan = lent::body::<gemini::Request>(&body, Some(MODEL), sent);
            let b = provider.gemini_generate_content_raw(MODEL, Bytes::clone(&body));
            on_item(payload_in(&b.await?));
        }
        Method::GeminiStreamRaw => {
            let body = rq::shared(method, id, rq::gemini_body);
            let _loan = lent::body::<gemini::Request>(&body, Some(MODEL), sent);
            let s = provider.gemini_generate_content_stream_raw(MODEL, Bytes::clone(&body));
            return drain_sse(s.await?, on_item).await;
        }
        Method::Complete => {
            let request = rq::shared(method, id, rq::ir);
            let _loan = lent::converted(&request, sent);
            on_item(items::ir_response_payload(
                &provider.complete(&request).await?,
            ));
        }
        Method::CompleteStream => {
            let request = rq::shared(method, id, rq::ir);
            let _loan = lent::converted(&request, sent);
            let s = provider.complete_stream(&request).await?;
            return drain(s, items::ir_event_payload, network, on_item).await;
        }
        Method::Embedding => {
            let request = rq::shared(method, id, rq::embedding);
            let _loan = lent::typed(&*request, None, sent);
            on_item(payload_of(&provider.embedding(&request).await?));
        }
        Method::Models => on_item(payload_of(&provider.models().await?)),
        Method::Image => {
            let request = rq::shared(method, id, rq::image);
            let _loan = lent::typed(&*request, None, sent);
            on_item(payload_in(&provider.image_generation(&request).await?.0));
        }
        Method::AudioSpeech => {
            let request = rq::shared(method, id, rq::speech);
            let _loan = lent::typed(&*request, None, sent);
            on_item(payload_in(&provider.audio_speech(&request).await?.0));
        }
        Method::AudioTranscription => {
            let fields = rq::shared(method, id, rq::transcription);
            let _loan = lent::fields(&fields, MODEL, sent);
            let (bytes, _) = provider.audio_transcription(MODEL, &fields).await?;
            on_item(payload_in(&bytes));
        }
        // A scenario's workload refuses these (`Workload`'s validation):
        // no `Provider` method makes the call, so none is made.
        Method::Responses | Method::ResponsesStream => {
            let why = format!("{method} has no Provider method: only `retry-sim serve` answers it");
            return Err(Error::Internal(why).into());
        }
    }
    Ok(())
}

/// Headers that tell the network world's server which client and call a
/// request belongs to, so that what it sends lands in the right place of
/// the trace.
pub const CLIENT_HEADER: &str = "x-sim-client";
/// The header naming the call, within its client.
pub const CALL_HEADER: &str = "x-sim-call";

/// The header naming the `Provider` method a request is a call of
/// ([`Method::name`](crate::method::Method::name)). A request without it is
/// a plain OpenAI chat call (streamed if its body says `"stream": true`),
/// so real OpenAI clients can call the server too.
pub const METHOD_HEADER: &str = "x-sim-method";

#[cfg(test)]
mod tests {
    use super::*;
    use crabllm_core::ByteStream;

    #[test]
    fn a_timed_out_byte_stream_is_a_timeout_stream_failure() {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        let bytes: ByteStream = Box::pin(futures::stream::iter([
            Ok(bytes::Bytes::from_static(b"data: sim:1:2:3:4\n\nda")),
            Ok(bytes::Bytes::from_static(b"ta: [DONE]\n\n")),
            Err(std::io::Error::from(std::io::ErrorKind::TimedOut)),
        ]));
        let mut got = Vec::new();
        let ended = runtime.block_on(drain_sse(bytes, &mut |p| got.push(p)));
        assert_eq!(got.len(), 1);
        let ended = ended.unwrap_err();
        assert_eq!(ended.stream_failed, Some(true));
        assert!(matches!(ended.error, Error::Timeout));
    }
}
