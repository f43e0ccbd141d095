//! OpenAI's Responses API (`POST /v1/responses`): a response, and the
//! numbered `response.*` events of a streamed one.
//!
//! Field for field as the openai SDKs type them (`types/responses/` of
//! openai-python 3.57.0): every field those types require is sent, the
//! optional ones a response always carries too (`error`, `metadata`,
//! `usage`), so that a schema that requires them finds them.

use super::{CREATED, answer_id, json, sse};
use crate::trace::ChunkId;
use crate::wire::items::MODEL;
use serde::Serialize;

/// A response object, `in_progress` (no output yet) or `completed`.
#[derive(Debug, Clone, Serialize)]
struct Response {
    id: String,
    object: &'static str,
    created_at: u64,
    status: &'static str,
    error: Option<()>,
    incomplete_details: Option<()>,
    instructions: Option<()>,
    metadata: Empty,
    model: &'static str,
    output: Vec<OutputMessage>,
    parallel_tool_calls: bool,
    temperature: f32,
    tool_choice: &'static str,
    tools: [(); 0],
    top_p: f32,
    /// Counted once the response is done.
    usage: Option<Usage>,
}

/// `{}`: a map with nothing in it.
#[derive(Debug, Clone, Copy, Serialize)]
struct Empty {}

#[derive(Debug, Clone, Serialize)]
struct OutputMessage {
    r#type: &'static str,
    id: String,
    status: &'static str,
    role: &'static str,
    content: Vec<OutputText>,
}

#[derive(Debug, Clone, Serialize)]
struct OutputText {
    r#type: &'static str,
    text: String,
    annotations: [(); 0],
}

#[derive(Debug, Clone, Serialize)]
struct Usage {
    input_tokens: u32,
    input_tokens_details: InputDetails,
    output_tokens: u32,
    output_tokens_details: OutputDetails,
    total_tokens: u32,
}

#[derive(Debug, Clone, Serialize)]
struct InputDetails {
    cached_tokens: u32,
    cache_write_tokens: u32,
}

#[derive(Debug, Clone, Serialize)]
struct OutputDetails {
    reasoning_tokens: u32,
}

fn usage(output_tokens: u32) -> Usage {
    Usage {
        input_tokens: 1,
        input_tokens_details: InputDetails {
            cached_tokens: 0,
            cache_write_tokens: 0,
        },
        output_tokens,
        output_tokens_details: OutputDetails {
            reasoning_tokens: 0,
        },
        total_tokens: 1 + output_tokens,
    }
}

fn output_text(text: String) -> OutputText {
    OutputText {
        r#type: "output_text",
        text,
        annotations: [],
    }
}

/// The one message of a response: `in_progress` and empty while it
/// streams, `completed` with its text after.
fn output_message(id: &str, text: Option<String>) -> OutputMessage {
    OutputMessage {
        r#type: "message",
        id: id.to_string(),
        status: if text.is_some() {
            "completed"
        } else {
            "in_progress"
        },
        role: "assistant",
        content: text.map(output_text).into_iter().collect(),
    }
}

/// The response `id` names, `in_progress` with no output, or `completed`
/// with one message of `text` counted as `tokens` output tokens.
fn response_object(id: &str, message: &str, done: Option<(String, u32)>) -> Response {
    let (status, output, usage) = match done {
        Some((text, tokens)) => (
            "completed",
            vec![output_message(message, Some(text))],
            Some(usage(tokens)),
        ),
        None => ("in_progress", Vec::new(), None),
    };
    Response {
        id: id.to_string(),
        object: "response",
        created_at: CREATED,
        status,
        error: None,
        incomplete_details: None,
        instructions: None,
        metadata: Empty {},
        model: MODEL,
        output,
        parallel_tool_calls: true,
        temperature: 1.0,
        tool_choice: "auto",
        tools: [],
        top_p: 1.0,
        usage,
    }
}

/// A completed response carrying `id` as its one message's text.
pub fn response(id: ChunkId) -> String {
    let (resp, message) = (answer_id("resp_", id), answer_id("msg_", id));
    json(&response_object(&resp, &message, Some((id.text(), 1))))
}

/// The events of a streamed response, each with its `type` and the
/// stream's `sequence_number`.
#[derive(Debug, Serialize)]
#[serde(tag = "type")]
enum Event {
    #[serde(rename = "response.created")]
    Created {
        response: Response,
        sequence_number: u64,
    },
    #[serde(rename = "response.in_progress")]
    InProgress {
        response: Response,
        sequence_number: u64,
    },
    #[serde(rename = "response.output_item.added")]
    ItemAdded {
        output_index: u32,
        item: OutputMessage,
        sequence_number: u64,
    },
    #[serde(rename = "response.content_part.added")]
    PartAdded {
        item_id: String,
        output_index: u32,
        content_index: u32,
        part: OutputText,
        sequence_number: u64,
    },
    #[serde(rename = "response.output_text.delta")]
    TextDelta {
        item_id: String,
        output_index: u32,
        content_index: u32,
        delta: String,
        logprobs: [(); 0],
        sequence_number: u64,
    },
    #[serde(rename = "response.output_text.done")]
    TextDone {
        item_id: String,
        output_index: u32,
        content_index: u32,
        text: String,
        logprobs: [(); 0],
        sequence_number: u64,
    },
    #[serde(rename = "response.content_part.done")]
    PartDone {
        item_id: String,
        output_index: u32,
        content_index: u32,
        part: OutputText,
        sequence_number: u64,
    },
    #[serde(rename = "response.output_item.done")]
    ItemDone {
        output_index: u32,
        item: OutputMessage,
        sequence_number: u64,
    },
    #[serde(rename = "response.completed")]
    Completed {
        response: Response,
        sequence_number: u64,
    },
}

impl Event {
    /// Its `type`, which is also the SSE event's name.
    const fn name(&self) -> &'static str {
        match self {
            Event::Created { .. } => "response.created",
            Event::InProgress { .. } => "response.in_progress",
            Event::ItemAdded { .. } => "response.output_item.added",
            Event::PartAdded { .. } => "response.content_part.added",
            Event::TextDelta { .. } => "response.output_text.delta",
            Event::TextDone { .. } => "response.output_text.done",
            Event::PartDone { .. } => "response.content_part.done",
            Event::ItemDone { .. } => "response.output_item.done",
            Event::Completed { .. } => "response.completed",
        }
    }
}

/// A streamed response as OpenAI sends it: `response.created`,
/// `response.in_progress`, `response.output_item.added`,
/// `response.content_part.added`; a `response.output_text.delta` per
/// item; then `response.output_text.done`, `response.content_part.done`,
/// `response.output_item.done` and `response.completed`, each with the
/// whole text. Events are numbered from 0 in the order sent.
#[derive(Debug)]
pub struct EventStream {
    id: String,
    message: String,
    sequence: u64,
    text: String,
    items: u32,
}

impl EventStream {
    /// The stream whose answer is `response`.
    pub fn new(response: ChunkId) -> Self {
        EventStream {
            id: answer_id("resp_", response),
            message: answer_id("msg_", response),
            sequence: 0,
            text: String::new(),
            items: 0,
        }
    }

    /// The next sequence number.
    fn next(&mut self) -> u64 {
        self.sequence += 1;
        self.sequence - 1
    }

    /// Each event built with the next sequence number, as it travels.
    fn send(&mut self, events: &[fn(&Self, u64) -> Event]) -> String {
        let mut out = String::new();
        for event in events {
            let sequence_number = self.next();
            let event = event(self, sequence_number);
            out += &sse(Some(event.name()), &json(&event));
        }
        out
    }

    fn in_progress(&self) -> Response {
        response_object(&self.id, &self.message, None)
    }

    fn empty_part() -> OutputText {
        output_text(String::new())
    }

    /// `response.created`, `response.in_progress`, the message and its
    /// text part added (empty).
    pub fn opening(&mut self) -> String {
        self.send(&[
            |s, sequence_number| Event::Created {
                response: s.in_progress(),
                sequence_number,
            },
            |s, sequence_number| Event::InProgress {
                response: s.in_progress(),
                sequence_number,
            },
            |s, sequence_number| Event::ItemAdded {
                output_index: 0,
                item: output_message(&s.message, None),
                sequence_number,
            },
            |s, sequence_number| Event::PartAdded {
                item_id: s.message.clone(),
                output_index: 0,
                content_index: 0,
                part: Self::empty_part(),
                sequence_number,
            },
        ])
    }

    /// The text delta carrying item `id`.
    pub fn item(&mut self, id: ChunkId) -> String {
        let delta = id.text();
        self.text += &delta;
        self.items += 1;
        let event = Event::TextDelta {
            item_id: self.message.clone(),
            output_index: 0,
            content_index: 0,
            delta,
            logprobs: [],
            sequence_number: self.next(),
        };
        sse(Some(event.name()), &json(&event))
    }

    /// The text, its part, its message and the response, each done.
    pub fn closing(&mut self) -> String {
        self.send(&[
            |s, sequence_number| Event::TextDone {
                item_id: s.message.clone(),
                output_index: 0,
                content_index: 0,
                text: s.text.clone(),
                logprobs: [],
                sequence_number,
            },
            |s, sequence_number| Event::PartDone {
                item_id: s.message.clone(),
                output_index: 0,
                content_index: 0,
                part: output_text(s.text.clone()),
                sequence_number,
            },
            |s, sequence_number| Event::ItemDone {
                output_index: 0,
                item: output_message(&s.message, Some(s.text.clone())),
                sequence_number,
            },
            |s, sequence_number| Event::Completed {
                response: response_object(&s.id, &s.message, Some((s.text.clone(), s.items))),
                sequence_number,
            },
        ])
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{Value, json};

    const ID: ChunkId = ChunkId {
        client: 1,
        call: 2,
        stream: 3,
        index: 0,
    };

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
    fn a_response_has_what_the_sdks_require() {
        let v: Value = serde_json::from_str(&response(ID)).unwrap();
        assert_eq!(v["id"], "resp_1_2_3");
        assert_eq!(v["object"], "response");
        assert_eq!(v["status"], "completed");
        assert_eq!(v["created_at"], CREATED);
        let message = json!({
            "type": "message", "id": "msg_1_2_3", "status": "completed", "role": "assistant",
            "content": [{"type": "output_text", "text": ID.text(), "annotations": []}],
        });
        assert_eq!(v["output"], json!([message]));
        assert_eq!(v["usage"]["input_tokens"], 1);
        assert_eq!(v["usage"]["output_tokens"], 1);
        assert_eq!(v["usage"]["total_tokens"], 2);
        assert_eq!(v["usage"]["input_tokens_details"]["cached_tokens"], 0);
        assert_eq!(v["usage"]["output_tokens_details"]["reasoning_tokens"], 0);
        for required in [
            "parallel_tool_calls",
            "tool_choice",
            "tools",
            "model",
            "metadata",
        ] {
            assert!(v.get(required).is_some(), "{required}");
        }
        assert!(v["error"].is_null() && v["incomplete_details"].is_null());
    }

    #[test]
    fn a_stream_numbers_its_events_and_ends_completed_with_the_whole_text() {
        let mut s = EventStream::new(ID);
        let second = ChunkId { index: 1, ..ID };
        let text = s.opening() + &s.item(ID) + &s.item(second) + &s.closing();
        let got = events(&text);
        let names: Vec<&str> = got.iter().map(|(n, _)| n.as_str()).collect();
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
        assert_eq!(names, want);
        for (k, (name, data)) in got.iter().enumerate() {
            assert_eq!(data["type"], name.as_str());
            assert_eq!(data["sequence_number"], k as u64, "{name}");
        }
        assert_eq!(got[0].1["response"]["status"], "in_progress");
        assert_eq!(got[0].1["response"]["output"], json!([]));
        assert_eq!(got[2].1["item"]["status"], "in_progress");
        assert_eq!(
            got[3].1["part"],
            json!({"type": "output_text", "text": "", "annotations": []})
        );
        assert_eq!(got[5].1["delta"], second.text());
        assert_eq!(got[5].1["item_id"], "msg_1_2_3");
        let whole = ID.text() + &second.text();
        assert_eq!(got[6].1["text"], whole.as_str());
        assert_eq!(got[7].1["part"]["text"], whole.as_str());
        assert_eq!(got[8].1["item"]["content"][0]["text"], whole.as_str());
        let done = &got[9].1["response"];
        assert_eq!(done["status"], "completed");
        assert_eq!(done["output"][0]["content"][0]["text"], whole.as_str());
        assert_eq!(done["usage"]["output_tokens"], 2);
        // Only the deltas are items: the opening carries no payload.
        assert!(
            got[..4]
                .iter()
                .all(|(_, d)| ChunkId::find(&d.to_string()).is_none())
        );
    }
}
