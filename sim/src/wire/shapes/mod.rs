//! Answers in each provider's own shape, as strict clients read them.
//!
//! The typed values of [`items`] carry a payload and little
//! else; a client nobody here wrote (the official SDKs, Vercel AI's
//! schemas, LangChain, a script that reads `choices[0].message.content`)
//! needs the fields its provider always sends, and a stream framed as its
//! provider frames it. These are what `retry-sim serve` puts on the wire,
//! field for field, each item carrying its payload where a client surfaces
//! it (a message's text, a delta), so that a script printing the answer
//! shows which call it got.
//!
//! | module | answers |
//! |---|---|
//! | [`openai`] | chat completions (plain, and streamed chunks closed by `finish_reason: "stop"`, usage if asked, `[DONE]`), embeddings, OpenAI's error JSON |
//! | [`anthropic`] | Messages (plain, and the event stream from `message_start` to `message_stop`), Anthropic's error JSON |
//! | [`responses`] | OpenAI's Responses API (plain, and its `response.*` events, each numbered) |
//!
//! A stream is an [`Events`]: what its provider sends before the first
//! item, each item, and what it sends after the last on a clean end (a
//! stream the plan breaks is cut after its items, with no closing). The
//! frame around the items carries no payload: a client that reports what
//! it received reports the items only (the deltas).
//!
//! Times are fixed ([`CREATED`]), so an answer is the same in every run.

pub mod anthropic;
pub mod openai;
pub mod responses;

use super::items;
use crate::method::Method;
use crate::trace::ChunkId;
use bytes::Bytes;
use serde::Serialize;

/// The `created` time every answer carries (2023-11-14, in Unix seconds):
/// fixed, so that answers do not depend on the wall clock.
pub const CREATED: u64 = 1_700_000_000;

fn json<T: Serialize>(value: &T) -> String {
    // Plain strings, numbers, lists and nulls only: this cannot fail.
    serde_json::to_string(value).unwrap_or_default()
}

/// One server-sent event: named (`event: NAME`) as Anthropic and the
/// Responses API send theirs, or bare as chat completions' chunks are.
fn sse(name: Option<&str>, data: &str) -> String {
    match name {
        Some(name) => format!("event: {name}\ndata: {data}\n\n"),
        None => format!("data: {data}\n\n"),
    }
}

/// An id the same for every event of one answer (`msg_1_2_0`): built from
/// the call and stream numbers but not a payload (no `sim:`), so it is
/// never read as an item's.
pub fn answer_id(prefix: &str, id: ChunkId) -> String {
    format!("{prefix}{}_{}_{}", id.client, id.call, id.stream)
}

/// What a request asked that its answer's shape follows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Asked {
    /// `stream_options.include_usage`: a chat stream ends with a usage chunk.
    pub include_usage: bool,
    /// How many inputs an embeddings request sent (one embedding each).
    pub inputs: usize,
    /// `encoding_format: "base64"`: embeddings as base64 of little-endian
    /// `f32`s (the openai Node SDK asks this by default).
    pub base64: bool,
}

impl Asked {
    /// Read from a request's JSON body; a body that is not JSON asked
    /// nothing (one input, floats, no usage).
    pub fn of(body: &[u8]) -> Self {
        let v: serde_json::Value = serde_json::from_slice(body).unwrap_or_default();
        let include_usage = v
            .pointer("/stream_options/include_usage")
            .and_then(serde_json::Value::as_bool)
            .unwrap_or(false);
        Asked {
            include_usage,
            inputs: inputs(v.get("input")),
            base64: v.get("encoding_format").and_then(|f| f.as_str()) == Some("base64"),
        }
    }
}

/// How many inputs an embeddings `input` holds: a string is one, a list
/// of token numbers is one (a tokenized string), any other list one per
/// element (at least one, so that an answer always has an embedding).
fn inputs(input: Option<&serde_json::Value>) -> usize {
    match input.and_then(serde_json::Value::as_array) {
        Some(list) if list.iter().any(|e| !e.is_number()) => list.len().max(1),
        _ => 1,
    }
}

/// The body of a successful unary answer to `method` carrying `id`, in its
/// provider's shape. Methods no strict client here calls (Gemini, models,
/// media) keep the simulator's own ([`items::body`]).
pub fn body(method: Method, id: ChunkId, asked: &Asked) -> Bytes {
    Bytes::from(match Family::of(method) {
        Family::Chat => openai::chat_completion(id),
        Family::Messages => anthropic::message(id),
        Family::Embeddings => openai::embeddings(id, asked.inputs, asked.base64),
        Family::Responses => responses::response(id),
        Family::Other => return items::body(method, id),
    })
}

/// The JSON body of an error answer with `status` to a call of `method`,
/// in the shape of the provider whose endpoint was called.
pub fn error(method: Method, status: u16) -> Bytes {
    Bytes::from(match Family::of(method) {
        Family::Messages => anthropic::error(status),
        _ => openai::error(status),
    })
}

/// Which provider's API a method's answers are shaped after.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Family {
    Chat,
    Messages,
    Embeddings,
    Responses,
    Other,
}

impl Family {
    const fn of(method: Method) -> Self {
        match method {
            Method::Chat
            | Method::ChatStream
            | Method::ChatRaw
            | Method::ChatStreamRaw
            | Method::Passthrough => Family::Chat,
            // The IR travels as Anthropic Messages, as crabllm converts it.
            Method::Anthropic
            | Method::AnthropicStream
            | Method::AnthropicRaw
            | Method::AnthropicStreamRaw
            | Method::Complete
            | Method::CompleteStream => Family::Messages,
            Method::Embedding => Family::Embeddings,
            Method::Responses | Method::ResponsesStream => Family::Responses,
            Method::Gemini
            | Method::GeminiStream
            | Method::GeminiRaw
            | Method::GeminiStreamRaw
            | Method::Models
            | Method::Image
            | Method::AudioSpeech
            | Method::AudioTranscription => Family::Other,
        }
    }
}

/// One stream's events in its provider's shape, written as it goes: the
/// frame before the first item, each item, and the frame after the last.
#[derive(Debug)]
pub struct Events {
    framing: Framing,
}

#[derive(Debug)]
enum Framing {
    Chat(openai::ChunkStream),
    Messages(anthropic::EventStream),
    Responses(responses::EventStream),
    /// The simulator's own events, then `[DONE]`.
    Other(Method),
}

impl Events {
    /// The events of the stream whose answer is `response` (its item 0),
    /// for a call of `method` that asked `asked`.
    pub fn new(method: Method, response: ChunkId, asked: &Asked) -> Self {
        let framing = match Family::of(method) {
            Family::Chat => Framing::Chat(openai::ChunkStream::new(response, asked.include_usage)),
            Family::Messages => Framing::Messages(anthropic::EventStream::new(response)),
            Family::Responses => Framing::Responses(responses::EventStream::new(response)),
            Family::Embeddings | Family::Other => Framing::Other(method),
        };
        Events { framing }
    }

    /// What is sent before the first item (and before its silence).
    pub fn opening(&mut self) -> Bytes {
        Bytes::from(match &mut self.framing {
            Framing::Chat(_) | Framing::Other(_) => String::new(),
            Framing::Messages(s) => s.opening(),
            Framing::Responses(s) => s.opening(),
        })
    }

    /// The event carrying item `id`.
    pub fn item(&mut self, id: ChunkId) -> Bytes {
        match &mut self.framing {
            Framing::Chat(s) => Bytes::from(s.item(id)),
            Framing::Messages(s) => Bytes::from(s.item(id)),
            Framing::Responses(s) => Bytes::from(s.item(id)),
            Framing::Other(method) => items::event(*method, id),
        }
    }

    /// What is sent after the last item of a stream that ended cleanly.
    pub fn closing(&mut self) -> Bytes {
        Bytes::from(match &mut self.framing {
            Framing::Chat(s) => s.closing(),
            Framing::Messages(s) => s.closing(),
            Framing::Responses(s) => s.closing(),
            Framing::Other(_) => sse(None, super::sse::DONE),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ID: ChunkId = ChunkId {
        client: 1,
        call: 2,
        stream: 3,
        index: 0,
    };

    #[test]
    fn a_request_asks_usage_inputs_and_encoding() {
        let chat = br#"{"model":"m","stream":true,"stream_options":{"include_usage":true}}"#;
        assert!(Asked::of(chat).include_usage);
        assert!(!Asked::of(br#"{"stream":true}"#).include_usage);
        let count = |body: &str| Asked::of(body.as_bytes()).inputs;
        assert_eq!(count(r#"{"input":"one"}"#), 1);
        assert_eq!(count(r#"{"input":["a","b","c"]}"#), 3);
        assert_eq!(count(r#"{"input":[1,2,3]}"#), 1, "one tokenized string");
        assert_eq!(count(r#"{"input":[[1,2],[3]]}"#), 2);
        assert_eq!(count(r#"{"input":[]}"#), 1);
        assert_eq!(count("not json"), 1);
        assert!(Asked::of(br#"{"encoding_format":"base64"}"#).base64);
        assert!(!Asked::of(br#"{"encoding_format":"float"}"#).base64);
    }

    #[test]
    fn an_answer_id_is_never_read_as_a_payload() {
        let id = answer_id("msg_", ID);
        assert_eq!(id, "msg_1_2_3");
        assert_eq!(ChunkId::find(&id), None);
    }

    #[test]
    fn errors_take_the_shape_of_the_endpoint_called() {
        let v = |b: Bytes| serde_json::from_slice::<serde_json::Value>(&b).unwrap();
        let messages = v(error(Method::AnthropicStream, 529));
        assert_eq!(messages["type"], "error");
        assert_eq!(messages["error"]["type"], "overloaded_error");
        for method in [Method::Chat, Method::Embedding, Method::ResponsesStream] {
            let openai = v(error(method, 429));
            assert_eq!(openai["error"]["code"], "rate_limit_exceeded", "{method}");
        }
    }

    #[test]
    fn a_stream_of_another_family_ends_with_done_and_no_opening() {
        let mut events = Events::new(Method::GeminiStream, ID, &Asked::of(b""));
        assert!(events.opening().is_empty());
        assert_eq!(events.item(ID), items::event(Method::GeminiStream, ID));
        assert_eq!(&events.closing()[..], b"data: [DONE]\n\n");
    }
}
