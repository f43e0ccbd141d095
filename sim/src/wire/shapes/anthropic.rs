//! Anthropic's shapes: a Messages answer, its event stream, and the error
//! JSON the Messages API answers with.

use super::{answer_id, json, sse};
use crate::trace::ChunkId;
use crate::wire::items::{MODEL, PING};
use serde::Serialize;

/// `POST /v1/messages`, unary (and, with no content yet, the message a
/// stream's `message_start` carries).
#[derive(Debug, Serialize)]
struct Message {
    id: String,
    r#type: &'static str,
    role: &'static str,
    model: &'static str,
    content: Vec<TextBlock>,
    stop_reason: Option<&'static str>,
    stop_sequence: Option<()>,
    usage: Usage,
}

#[derive(Debug, Serialize)]
struct TextBlock {
    r#type: &'static str,
    text: String,
}

#[derive(Debug, Serialize)]
struct Usage {
    input_tokens: u32,
    output_tokens: u32,
}

/// A Messages answer carrying `id` as its text: `end_turn`, one token in
/// and one out.
pub fn message(id: ChunkId) -> String {
    json(&Message {
        id: answer_id("msg_", id),
        r#type: "message",
        role: "assistant",
        model: MODEL,
        content: vec![TextBlock {
            r#type: "text",
            text: id.text(),
        }],
        stop_reason: Some("end_turn"),
        stop_sequence: None,
        usage: Usage {
            input_tokens: 1,
            output_tokens: 1,
        },
    })
}

/// The events of a streamed Messages answer.
#[derive(Debug, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum Event {
    MessageStart {
        message: Message,
    },
    ContentBlockStart {
        index: u32,
        content_block: TextBlock,
    },
    ContentBlockDelta {
        index: u32,
        delta: Delta,
    },
    ContentBlockStop {
        index: u32,
    },
    MessageDelta {
        delta: StopDelta,
        usage: OutputUsage,
    },
    MessageStop,
}

#[derive(Debug, Serialize)]
struct Delta {
    r#type: &'static str,
    text: String,
}

#[derive(Debug, Serialize)]
struct StopDelta {
    stop_reason: &'static str,
    stop_sequence: Option<()>,
}

#[derive(Debug, Serialize)]
struct OutputUsage {
    output_tokens: u32,
}

impl Event {
    /// Its `type`, which is also the SSE event's name.
    const fn name(&self) -> &'static str {
        match self {
            Event::MessageStart { .. } => "message_start",
            Event::ContentBlockStart { .. } => "content_block_start",
            Event::ContentBlockDelta { .. } => "content_block_delta",
            Event::ContentBlockStop { .. } => "content_block_stop",
            Event::MessageDelta { .. } => "message_delta",
            Event::MessageStop => "message_stop",
        }
    }

    /// The event as it travels: `event: NAME` and its data.
    fn sse(&self) -> String {
        sse(Some(self.name()), &json(self))
    }
}

/// One text delta carrying `id`, as [`EventStream`] sends each item.
pub fn text_delta(id: ChunkId) -> String {
    Event::ContentBlockDelta {
        index: 0,
        delta: Delta {
            r#type: "text_delta",
            text: id.text(),
        },
    }
    .sse()
}

/// A streamed Messages answer as Anthropic sends it: `message_start`,
/// `content_block_start` and a `ping`; a `content_block_delta` (a
/// `text_delta`) per item; then `content_block_stop`, `message_delta`
/// (the stop reason and the output tokens) and `message_stop`.
#[derive(Debug)]
pub struct EventStream {
    id: String,
    items: u32,
}

impl EventStream {
    /// The stream whose answer is `response`.
    pub fn new(response: ChunkId) -> Self {
        EventStream {
            id: answer_id("msg_", response),
            items: 0,
        }
    }

    /// `message_start`, `content_block_start`, `ping`.
    pub fn opening(&mut self) -> String {
        let message = Message {
            id: self.id.clone(),
            r#type: "message",
            role: "assistant",
            model: MODEL,
            content: Vec::new(),
            stop_reason: None,
            stop_sequence: None,
            usage: Usage {
                input_tokens: 1,
                output_tokens: 1,
            },
        };
        let block = TextBlock {
            r#type: "text",
            text: String::new(),
        };
        Event::MessageStart { message }.sse()
            + &Event::ContentBlockStart {
                index: 0,
                content_block: block,
            }
            .sse()
            + &sse(Some("ping"), PING)
    }

    /// The delta carrying item `id`.
    pub fn item(&mut self, id: ChunkId) -> String {
        self.items += 1;
        text_delta(id)
    }

    /// `content_block_stop`, `message_delta`, `message_stop`.
    pub fn closing(&mut self) -> String {
        let delta = StopDelta {
            stop_reason: "end_turn",
            stop_sequence: None,
        };
        let usage = OutputUsage {
            output_tokens: self.items,
        };
        Event::ContentBlockStop { index: 0 }.sse()
            + &Event::MessageDelta { delta, usage }.sse()
            + &Event::MessageStop.sse()
    }
}

/// Anthropic's error JSON.
#[derive(Debug, Serialize)]
struct ErrorBody {
    r#type: &'static str,
    error: ErrorDetail,
}

#[derive(Debug, Serialize)]
struct ErrorDetail {
    r#type: &'static str,
    message: String,
}

/// The body the Messages API answers `status` with, typed as Anthropic
/// documents its errors. 503 is answered `overloaded_error` as 529 is:
/// both say the service cannot take the call now, not that it broke.
pub fn error(status: u16) -> String {
    let r#type = match status {
        401 => "authentication_error",
        402 => "billing_error",
        403 => "permission_error",
        404 => "not_found_error",
        413 => "request_too_large",
        429 => "rate_limit_error",
        503 | 529 => "overloaded_error",
        504 => "timeout_error",
        500.. => "api_error",
        _ => "invalid_request_error",
    };
    json(&ErrorBody {
        r#type: "error",
        error: ErrorDetail {
            r#type,
            message: format!("simulated {status}"),
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;

    const ID: ChunkId = ChunkId {
        client: 1,
        call: 2,
        stream: 3,
        index: 0,
    };

    /// Each event's name and data.
    fn events(text: &str) -> Vec<(String, Value)> {
        text.split_terminator("\n\n")
            .map(|e| {
                let (name, data) = e.split_once('\n').expect("a named event");
                let name = name.strip_prefix("event: ").expect("a name").to_string();
                let data = data.strip_prefix("data: ").expect("data");
                (name, serde_json::from_str(data).expect("JSON data"))
            })
            .collect()
    }

    #[test]
    fn a_message_has_what_strict_clients_read() {
        let v: Value = serde_json::from_str(&message(ID)).unwrap();
        assert_eq!(v["id"], "msg_1_2_3");
        assert_eq!(
            (v["type"].as_str(), v["role"].as_str()),
            (Some("message"), Some("assistant"))
        );
        assert_eq!(
            v["content"],
            serde_json::json!([{"type": "text", "text": ID.text()}])
        );
        assert_eq!(v["stop_reason"], "end_turn");
        assert!(v["stop_sequence"].is_null());
        assert_eq!(
            v["usage"],
            serde_json::json!({"input_tokens": 1, "output_tokens": 1})
        );
        // crabllm's typed client reads it too.
        let typed: crabllm_core::anthropic::Response = serde_json::from_value(v).unwrap();
        assert_eq!(typed.id, "msg_1_2_3");
    }

    #[test]
    fn a_stream_is_framed_from_message_start_to_message_stop() {
        let mut s = EventStream::new(ID);
        let second = ChunkId { index: 1, ..ID };
        let text = s.opening() + &s.item(ID) + &s.item(second) + &s.closing();
        let got = events(&text);
        let names: Vec<&str> = got.iter().map(|(n, _)| n.as_str()).collect();
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
        assert_eq!(names, want);
        // Every event's data names its own type, as the SDKs dispatch on it.
        for (name, data) in &got {
            assert_eq!(data["type"], name.as_str());
        }
        assert_eq!(got[0].1["message"]["id"], "msg_1_2_3");
        assert_eq!(got[0].1["message"]["content"], serde_json::json!([]));
        assert!(got[0].1["message"]["stop_reason"].is_null());
        assert_eq!(
            got[1].1["content_block"],
            serde_json::json!({"type": "text", "text": ""})
        );
        assert_eq!(
            got[4].1["delta"],
            serde_json::json!({"type": "text_delta", "text": second.text()})
        );
        assert_eq!(got[6].1["delta"]["stop_reason"], "end_turn");
        assert_eq!(got[6].1["usage"]["output_tokens"], 2);
        // The frame carries no payload: only the deltas are items.
        let carrying: Vec<bool> = got
            .iter()
            .map(|(_, d)| ChunkId::find(&d.to_string()).is_some())
            .collect();
        assert_eq!(
            carrying,
            [false, false, false, true, true, false, false, false]
        );
    }

    #[test]
    fn a_delta_reads_back_as_the_simulator_reads_one() {
        let text = text_delta(ID);
        let data = text.split_once("data: ").unwrap().1.trim_end();
        let event = crate::wire::items::anthropic_event_from_json(data).unwrap();
        assert_eq!(crate::wire::items::payload_of(&event), Some(ID));
    }

    #[test]
    fn errors_are_typed_as_anthropic_documents_them() {
        let v = |s| serde_json::from_str::<Value>(&error(s)).unwrap();
        assert_eq!(v(529)["type"], "error");
        assert_eq!(v(529)["error"]["type"], "overloaded_error");
        assert_eq!(v(503)["error"]["type"], "overloaded_error");
        assert_eq!(v(429)["error"]["type"], "rate_limit_error");
        assert_eq!(v(500)["error"]["type"], "api_error");
        assert_eq!(v(502)["error"]["type"], "api_error");
        assert_eq!(v(400)["error"]["type"], "invalid_request_error");
        assert_eq!(v(408)["error"]["type"], "invalid_request_error");
        assert_eq!(v(500)["error"]["message"], "simulated 500");
    }
}
