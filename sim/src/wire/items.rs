//! Typed values carrying payloads: built from a [`ChunkId`], read back from
//! whatever a caller received.
//!
//! Every response and stream item of every method carries exactly one
//! payload, in the place a real client would surface it:
//!
//! | value | payload |
//! |---|---|
//! | `ChatCompletionResponse`, `ChatCompletionChunk`, `anthropic::Response` | `id` |
//! | `anthropic::StreamEvent` | the text of a `content_block_delta` |
//! | `gemini::Response` | the text part of its one candidate |
//! | `ir::Response` | `id` (built from the anthropic response by crabllm's conversion) |
//! | `ir::StreamEvent` | a `TextDelta` |
//! | `EmbeddingResponse` | `model` |
//! | `ModelList` | the id of its one model |
//! | image and audio `(Bytes, String)` | a small JSON body |
//! | raw bodies | the JSON of the method's dialect ([`body`]) |
//! | raw stream items | one SSE event of that dialect ([`event`]) |

use crate::method::Method;
use crate::trace::ChunkId;
use bytes::Bytes;
use crabllm_core::{
    ChatCompletionChunk, ChatCompletionResponse, EmbeddingResponse, EmbeddingUsage, Model,
    ModelList, anthropic, gemini, ir,
};

/// The model name requests and responses use: no `sim:` in it, so it is
/// never mistaken for a payload.
pub const MODEL: &str = "sim-model";

/// The content type image and audio bodies are served with.
pub const MEDIA_TYPE: &str = "application/json";

/// The payload anywhere inside `value`'s JSON form.
pub fn payload_of<T: serde::Serialize>(value: &T) -> Option<ChunkId> {
    let json = serde_json::to_string(value).ok()?;
    ChunkId::find(&json)
}

/// [`payload_of`] a chat response or stream chunk, read from its `id`
/// when that holds a payload, without writing the JSON.
///
/// The same answer: `id` is the first field of both types' JSON, so its
/// first `sim:` is the JSON's first, and JSON escaping neither makes nor
/// breaks a `sim:` or the digits after it
/// (`a_chat_payload_is_the_payload_of_its_json` holds the two equal). Every
/// chat call the simulator makes reads one; writing the JSON was about a
/// tenth of the in-process world's instructions.
pub fn chat_payload<T: serde::Serialize>(id: &str, value: &T) -> Option<ChunkId> {
    ChunkId::find(id).or_else(|| payload_of(value))
}

/// The payload anywhere inside raw bytes (read as UTF-8, lossily).
pub fn payload_in(bytes: &[u8]) -> Option<ChunkId> {
    ChunkId::find(&String::from_utf8_lossy(bytes))
}

/// A chat response carrying `id`.
pub fn chat_response(id: ChunkId) -> ChatCompletionResponse {
    ChatCompletionResponse {
        id: id.text(),
        ..Default::default()
    }
}

/// A chat stream chunk carrying `id`.
pub fn chat_chunk(id: ChunkId) -> ChatCompletionChunk {
    ChatCompletionChunk {
        id: id.text(),
        ..Default::default()
    }
}

/// An Anthropic Messages response carrying `id`, as its id and its text.
pub fn anthropic_response(id: ChunkId) -> anthropic::Response {
    anthropic::Response {
        id: id.text(),
        r#type: "message".into(),
        role: "assistant".into(),
        model: MODEL.into(),
        content: vec![anthropic::ContentBlock::text(id.text())],
        stop_reason: Some("end_turn".into()),
        stop_sequence: None,
        usage: anthropic::Usage {
            input_tokens: 0,
            output_tokens: 0,
            cache_read_input_tokens: None,
            cache_creation_input_tokens: None,
        },
    }
}

/// An Anthropic stream event carrying `id`: a text delta.
pub fn anthropic_event(id: ChunkId) -> anthropic::StreamEvent {
    anthropic::StreamEvent::ContentBlockDelta {
        index: 0,
        delta: anthropic::BlockDelta::Text { text: id.text() },
    }
}

/// The Anthropic stream event in `json`. crabllm only serializes these, so
/// this reads the one kind [`anthropic_event`] builds (a text delta).
///
/// # Errors
///
/// Anything but a `content_block_delta` with a `text_delta`.
pub fn anthropic_event_from_json(json: &str) -> Result<anthropic::StreamEvent, String> {
    let value: serde_json::Value = serde_json::from_str(json).map_err(|e| e.to_string())?;
    fn field<'a>(v: &'a serde_json::Value, name: &str) -> Option<&'a str> {
        v.get(name)?.as_str()
    }
    if field(&value, "type") != Some("content_block_delta") {
        return Err(format!("not a content_block_delta: {json}"));
    }
    let delta = value.get("delta").ok_or("no delta")?;
    let text = match field(delta, "type") {
        Some("text_delta") => field(delta, "text").ok_or("no text")?,
        _ => return Err(format!("not a text delta: {json}")),
    };
    let index = value.get("index").and_then(|i| i.as_u64()).unwrap_or(0);
    Ok(anthropic::StreamEvent::ContentBlockDelta {
        index: u32::try_from(index).map_err(|e| e.to_string())?,
        delta: anthropic::BlockDelta::Text { text: text.into() },
    })
}

/// A Gemini response (or stream item) whose one candidate's text is `id`.
pub fn gemini_response(id: ChunkId) -> gemini::Response {
    let part = gemini::Part {
        text: Some(id.text()),
        function_call: None,
        function_response: None,
        thought_signature: None,
    };
    gemini::Response {
        candidates: vec![gemini::Candidate {
            content: Some(gemini::Content {
                role: Some(gemini::Role::Model),
                parts: vec![part],
            }),
            finish_reason: None,
        }],
        usage_metadata: None,
    }
}

/// A canonical (IR) response carrying `id`: the Anthropic response through
/// crabllm's own conversion, the same path the network world decodes by.
pub fn ir_response(id: ChunkId) -> ir::Response {
    ir::Response::from(anthropic_response(id))
}

/// The payload of an IR response (it has no serde form to search).
pub fn ir_response_payload(response: &ir::Response) -> Option<ChunkId> {
    ChunkId::find(&response.id)
}

/// A canonical (IR) stream event carrying `id`: a text delta.
pub fn ir_event(id: ChunkId) -> ir::StreamEvent {
    ir::StreamEvent::TextDelta(id.text())
}

/// The payload of an IR stream event: only text deltas carry one.
pub fn ir_event_payload(event: &ir::StreamEvent) -> Option<ChunkId> {
    match event {
        ir::StreamEvent::TextDelta(text) => ChunkId::find(text),
        _ => None,
    }
}

/// An embedding response whose `model` is `id`.
pub fn embedding_response(id: ChunkId) -> EmbeddingResponse {
    EmbeddingResponse {
        object: "list".into(),
        data: Vec::new(),
        model: id.text(),
        usage: EmbeddingUsage {
            prompt_tokens: 0,
            total_tokens: 0,
        },
    }
}

/// A model list whose one model's id is `id`.
pub fn model_list(id: ChunkId) -> ModelList {
    ModelList {
        object: "list".into(),
        data: vec![Model::new(id.text())],
    }
}

/// An image or audio body carrying `id`, with its content type. JSON, so
/// that the network world can tell it from the decode fault's garbage.
pub fn media(id: ChunkId) -> (Bytes, String) {
    let body = serde_json::json!({ "data": id.text() }).to_string();
    (Bytes::from(body), MEDIA_TYPE.into())
}

/// The wire dialect a method's responses are written in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Dialect {
    OpenAi,
    Anthropic,
    Gemini,
    Embedding,
    Models,
    Media,
    Responses,
}

impl Dialect {
    const fn of(method: Method) -> Self {
        match method {
            Method::Chat
            | Method::ChatStream
            | Method::ChatRaw
            | Method::ChatStreamRaw
            | Method::Passthrough => Dialect::OpenAi,
            // The IR travels as Anthropic Messages, as crabllm converts it.
            Method::Anthropic
            | Method::AnthropicStream
            | Method::AnthropicRaw
            | Method::AnthropicStreamRaw
            | Method::Complete
            | Method::CompleteStream => Dialect::Anthropic,
            Method::Gemini | Method::GeminiStream | Method::GeminiRaw | Method::GeminiStreamRaw => {
                Dialect::Gemini
            }
            Method::Embedding => Dialect::Embedding,
            Method::Models => Dialect::Models,
            Method::Image | Method::AudioSpeech | Method::AudioTranscription => Dialect::Media,
            Method::Responses | Method::ResponsesStream => Dialect::Responses,
        }
    }
}

fn json<T: serde::Serialize>(value: &T) -> String {
    // These types serialize plain strings and numbers only: this cannot fail.
    serde_json::to_string(value).unwrap_or_default()
}

/// The body of a unary answer to `method` carrying `id`, as it travels:
/// the JSON of the method's dialect (the raw methods return exactly this).
pub fn body(method: Method, id: ChunkId) -> Bytes {
    Bytes::from(match Dialect::of(method) {
        Dialect::OpenAi => super::shapes::openai::chat_completion(id),
        Dialect::Anthropic => json(&anthropic_response(id)),
        Dialect::Gemini => json(&gemini_response(id)),
        Dialect::Embedding => json(&embedding_response(id)),
        Dialect::Models => json(&model_list(id)),
        Dialect::Media => return media(id).0,
        // Served only, so it has no shape of the simulator's own.
        Dialect::Responses => super::shapes::responses::response(id),
    })
}

/// The data of Anthropic's keep-alive event, `event: ping`.
pub const PING: &str = r#"{"type":"ping"}"#;

/// What a server sends to keep `method`'s silent event stream alive, as
/// each dialect's own servers do: Anthropic a `ping` event, the others an
/// SSE comment (which every SSE reader skips).
pub fn keepalive(method: Method) -> Bytes {
    match Dialect::of(method) {
        Dialect::Anthropic => Bytes::from(format!("event: ping\ndata: {PING}\n\n")),
        _ => Bytes::from_static(b": keep-alive\n\n"),
    }
}

/// Whether an event's data is a keep-alive rather than an item.
pub fn is_keepalive(data: &str) -> bool {
    data == PING
}

/// One server-sent event of `method`'s stream carrying `id`, as it travels
/// (the raw stream methods yield exactly these bytes).
pub fn event(method: Method, id: ChunkId) -> Bytes {
    Bytes::from(match Dialect::of(method) {
        Dialect::OpenAi => format!("data: {}\n\n", super::shapes::openai::chat_chunk(id)),
        Dialect::Anthropic => format!(
            "event: content_block_delta\ndata: {}\n\n",
            json(&anthropic_event(id))
        ),
        Dialect::Responses => super::shapes::responses::EventStream::new(id).item(id),
        // Gemini streams whole responses, one an event; the unary dialects
        // have no stream, and an event of their body keeps this total.
        _ => format!("data: {}\n\n", String::from_utf8_lossy(&body(method, id))),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const ID: ChunkId = ChunkId {
        client: 3,
        call: 7,
        stream: 11,
        index: 2,
    };

    #[test]
    fn anthropic_keeps_a_stream_alive_with_pings_the_others_with_comments() {
        use super::super::sse;
        for method in [Method::AnthropicStream, Method::AnthropicStreamRaw] {
            let ping = keepalive(method);
            assert!(ping.starts_with(b"event: ping\n"), "{method}");
            let data = sse::data(&ping).expect("a ping carries data");
            assert!(is_keepalive(data), "{method}: {data}");
        }
        for method in [
            Method::ChatStream,
            Method::GeminiStream,
            Method::ResponsesStream,
        ] {
            let comment = keepalive(method);
            assert_eq!(&comment[..], b": keep-alive\n\n", "{method}");
            assert_eq!(sse::data(&comment), None, "{method}");
        }
        assert!(!is_keepalive(r#"{"type":"content_block_delta"}"#));
    }

    #[test]
    fn each_dialects_stream_event_carries_its_payload_in_its_own_form() {
        let event = |method| String::from_utf8(event(method, ID).to_vec()).unwrap();
        let gemini = event(Method::GeminiStream);
        assert_eq!(gemini, format!("data: {}\n\n", json(&gemini_response(ID))));
        let responses = event(Method::ResponsesStream);
        assert!(
            responses.starts_with("event: response.output_text.delta\n"),
            "{responses}"
        );
        let anthropic = event(Method::AnthropicStream);
        assert!(
            anthropic.starts_with("event: content_block_delta\n"),
            "{anthropic}"
        );
        for text in [gemini, responses, anthropic, event(Method::ChatStream)] {
            assert_eq!(ChunkId::find(&text), Some(ID), "{text}");
        }
    }

    #[test]
    fn every_typed_value_carries_its_payload() {
        assert_eq!(payload_of(&chat_response(ID)), Some(ID));
        assert_eq!(payload_of(&chat_chunk(ID)), Some(ID));
        assert_eq!(payload_of(&anthropic_response(ID)), Some(ID));
        assert_eq!(payload_of(&anthropic_event(ID)), Some(ID));
        assert_eq!(payload_of(&gemini_response(ID)), Some(ID));
        assert_eq!(ir_response_payload(&ir_response(ID)), Some(ID));
        assert_eq!(ir_event_payload(&ir_event(ID)), Some(ID));
        assert_eq!(payload_of(&embedding_response(ID)), Some(ID));
        assert_eq!(payload_of(&model_list(ID)), Some(ID));
        assert_eq!(payload_in(&media(ID).0), Some(ID));
    }

    #[test]
    fn a_chat_payload_is_the_payload_of_its_json() {
        let ids = [
            ID.text(),
            format!("{}9x", ID.text()),
            format!("a\"b\\sim:{}", &ID.text()[4..]),
            format!("{}\"tail\n", ID.text()),
            "sim:1:2".into(),
            "sim:1:2:3:".into(),
            "sim:x:1:2:3".into(),
            "sim:+1:2:3:4".into(),
            "no payload".into(),
            String::new(),
        ];
        for id in ids {
            let response = ChatCompletionResponse {
                id: id.clone(),
                ..chat_response(ID)
            };
            let chunk = ChatCompletionChunk {
                id: id.clone(),
                ..chat_chunk(ID)
            };
            let fast = chat_payload(&response.id, &response);
            assert_eq!(fast, payload_of(&response), "{id:?}");
            assert_eq!(
                chat_payload(&chunk.id, &chunk),
                payload_of(&chunk),
                "{id:?}"
            );
        }
        // A payload the id does not hold is still found wherever it is.
        let mut moved = chat_response(ID);
        moved.id = "chatcmpl-1".into();
        moved.model = ID.text();
        assert_eq!(chat_payload(&moved.id, &moved), Some(ID));
        let json = serde_json::to_string(&chat_chunk(ID)).expect("serializes");
        assert!(json.starts_with("{\"id\":"), "{json}");
        let json = serde_json::to_string(&chat_response(ID)).expect("serializes");
        assert!(json.starts_with("{\"id\":"), "{json}");
    }

    #[test]
    fn every_method_body_and_event_is_json_carrying_the_payload() {
        for m in Method::ALL.into_iter().chain(Method::SERVED_ONLY) {
            let b = body(m, ID);
            assert!(
                serde_json::from_slice::<serde_json::Value>(&b).is_ok(),
                "{m}"
            );
            assert_eq!(payload_in(&b), Some(ID), "{m}");
            let e = event(m, ID);
            assert!(e.ends_with(b"\n\n"), "{m}");
            assert_eq!(payload_in(&e), Some(ID), "{m}");
        }
    }

    #[test]
    fn an_anthropic_event_reads_back_from_its_json() {
        let json = json(&anthropic_event(ID));
        let back = anthropic_event_from_json(&json).unwrap();
        assert_eq!(payload_of(&back), Some(ID));
        assert_eq!(back.to_ir_events().len(), 1);
        assert!(anthropic_event_from_json(r#"{"type":"message_stop"}"#).is_err());
        assert!(anthropic_event_from_json("nope").is_err());
    }
}
