//! OpenAI's shapes: chat completions, plain and streamed; embeddings; the
//! error JSON every OpenAI endpoint answers with.

use super::{CREATED, answer_id, json, sse};
use crate::trace::ChunkId;
use crate::wire::items::MODEL;
use serde::Serialize;

/// Token counts: one word in, one out, as every answer here is that small.
#[derive(Debug, Serialize)]
struct ChatUsage {
    prompt_tokens: u32,
    completion_tokens: u32,
    total_tokens: u32,
}

const CHAT_USAGE: ChatUsage = ChatUsage {
    prompt_tokens: 1,
    completion_tokens: 1,
    total_tokens: 2,
};

/// `POST /v1/chat/completions`, unary.
#[derive(Debug, Serialize)]
struct ChatCompletion {
    id: String,
    object: &'static str,
    created: u64,
    model: &'static str,
    choices: [ChatChoice; 1],
    usage: ChatUsage,
}

#[derive(Debug, Serialize)]
struct ChatChoice {
    index: u32,
    message: ChatMessage,
    logprobs: Option<()>,
    finish_reason: &'static str,
}

#[derive(Debug, Serialize)]
struct ChatMessage {
    role: &'static str,
    content: String,
    refusal: Option<()>,
}

/// One event of a streamed chat completion.
#[derive(Debug, Serialize)]
struct ChatChunk {
    id: String,
    object: &'static str,
    created: u64,
    model: &'static str,
    choices: Vec<ChunkChoice>,
    /// Sent only when the request asked for usage: `null` on every chunk
    /// but the last, which has no choices and the usage.
    #[serde(skip_serializing_if = "Option::is_none")]
    usage: Option<Option<ChatUsage>>,
}

#[derive(Debug, Serialize)]
struct ChunkChoice {
    index: u32,
    delta: ChunkDelta,
    logprobs: Option<()>,
    finish_reason: Option<&'static str>,
}

/// What a chunk adds: the role on the first, text on each item, nothing
/// on the closing one.
#[derive(Debug, Serialize)]
struct ChunkDelta {
    #[serde(skip_serializing_if = "Option::is_none")]
    role: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    content: Option<String>,
}

/// An OpenAI chat completion carrying `id`: one choice, its message's
/// text the payload, `finish_reason` `stop`, and usage.
pub fn chat_completion(id: ChunkId) -> String {
    json(&ChatCompletion {
        id: id.text(),
        object: "chat.completion",
        created: CREATED,
        model: MODEL,
        choices: [ChatChoice {
            index: 0,
            message: ChatMessage {
                role: "assistant",
                content: id.text(),
                refusal: None,
            },
            logprobs: None,
            finish_reason: "stop",
        }],
        usage: CHAT_USAGE,
    })
}

/// An OpenAI chat completion chunk carrying `id`, on its own (the
/// simulator's streams): its id and its delta's text are the payload.
pub fn chat_chunk(id: ChunkId) -> String {
    json(&ChatChunk {
        id: id.text(),
        object: "chat.completion.chunk",
        created: CREATED,
        model: MODEL,
        choices: vec![ChunkChoice {
            index: 0,
            delta: ChunkDelta {
                role: Some("assistant"),
                content: Some(id.text()),
            },
            logprobs: None,
            finish_reason: None,
        }],
        usage: None,
    })
}

/// A streamed chat completion as OpenAI sends it: chunks sharing one id,
/// the role on the first, one item's text on each, then a chunk with an
/// empty delta and `finish_reason: "stop"`, a usage chunk if the request
/// asked (`stream_options.include_usage`), and `data: [DONE]`.
#[derive(Debug)]
pub struct ChunkStream {
    id: String,
    include_usage: bool,
    items: u32,
}

impl ChunkStream {
    /// The stream whose answer is `response`.
    pub fn new(response: ChunkId, include_usage: bool) -> Self {
        ChunkStream {
            id: answer_id("chatcmpl-", response),
            include_usage,
            items: 0,
        }
    }

    fn chunk(&self, choices: Vec<ChunkChoice>, usage: Option<ChatUsage>) -> String {
        sse(
            None,
            &json(&ChatChunk {
                id: self.id.clone(),
                object: "chat.completion.chunk",
                created: CREATED,
                model: MODEL,
                choices,
                usage: self.include_usage.then_some(usage),
            }),
        )
    }

    fn choice(delta: ChunkDelta, finish_reason: Option<&'static str>) -> Vec<ChunkChoice> {
        vec![ChunkChoice {
            index: 0,
            delta,
            logprobs: None,
            finish_reason,
        }]
    }

    /// The chunk carrying item `id`.
    pub fn item(&mut self, id: ChunkId) -> String {
        let delta = ChunkDelta {
            role: (self.items == 0).then_some("assistant"),
            content: Some(id.text()),
        };
        self.items += 1;
        self.chunk(Self::choice(delta, None), None)
    }

    /// The closing chunk, the usage chunk if asked, and `[DONE]`.
    pub fn closing(&mut self) -> String {
        let empty = ChunkDelta {
            // A stream with no item still says who answered.
            role: (self.items == 0).then_some("assistant"),
            content: None,
        };
        let mut out = self.chunk(Self::choice(empty, Some("stop")), None);
        if self.include_usage {
            let usage = ChatUsage {
                prompt_tokens: 1,
                completion_tokens: self.items,
                total_tokens: 1 + self.items,
            };
            out += &self.chunk(Vec::new(), Some(usage));
        }
        out + &sse(None, crate::wire::sse::DONE)
    }
}

/// `POST /v1/embeddings`.
#[derive(Debug, Serialize)]
struct EmbeddingList {
    object: &'static str,
    data: Vec<Embedding>,
    model: String,
    usage: EmbeddingUsage,
}

#[derive(Debug, Serialize)]
struct Embedding {
    object: &'static str,
    index: usize,
    embedding: Vector,
}

/// Floats, or their little-endian bytes in base64, as the request asked.
#[derive(Debug, Serialize)]
#[serde(untagged)]
enum Vector {
    Floats(&'static [f32]),
    Base64(String),
}

#[derive(Debug, Serialize)]
struct EmbeddingUsage {
    prompt_tokens: usize,
    total_tokens: usize,
}

/// Every embedding served: four dimensions, each exact in `f32` and in
/// decimal, so that floats and base64 decode to the same numbers.
pub const EMBEDDING: [f32; 4] = [0.5, -0.25, 0.125, 0.0];

/// An embeddings answer carrying `id` (as its `model`, which clients
/// surface): one embedding per input, in order, as floats or base64.
pub fn embeddings(id: ChunkId, inputs: usize, base64: bool) -> String {
    let vector = || match base64 {
        true => Vector::Base64(base64_of(
            &EMBEDDING
                .iter()
                .flat_map(|f| f.to_le_bytes())
                .collect::<Vec<_>>(),
        )),
        false => Vector::Floats(&EMBEDDING),
    };
    json(&EmbeddingList {
        object: "list",
        data: (0..inputs)
            .map(|index| Embedding {
                object: "embedding",
                index,
                embedding: vector(),
            })
            .collect(),
        model: id.text(),
        usage: EmbeddingUsage {
            prompt_tokens: inputs,
            total_tokens: inputs,
        },
    })
}

/// Standard base64 with padding (RFC 4648), as OpenAI encodes embeddings.
fn base64_of(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for group in bytes.chunks(3) {
        let n = group
            .iter()
            .enumerate()
            .fold(0u32, |n, (i, &b)| n | u32::from(b) << (16 - 8 * i));
        for k in 0..4 {
            match k <= group.len() {
                true => out.push(char::from(DIGITS[(n >> (18 - 6 * k) & 63) as usize])),
                false => out.push('='),
            }
        }
    }
    out
}

/// OpenAI's error JSON.
#[derive(Debug, Serialize)]
struct ErrorBody {
    error: ErrorDetail,
}

#[derive(Debug, Serialize)]
struct ErrorDetail {
    message: String,
    r#type: &'static str,
    param: Option<()>,
    code: Option<&'static str>,
}

/// The body OpenAI answers `status` with: a rate limit is type `requests`,
/// code `rate_limit_exceeded`; a status of 500 and up a `server_error`;
/// any other an `invalid_request_error` (with the code OpenAI gives a bad
/// key, a missing model, an unsupported region).
pub fn error(status: u16) -> String {
    let (r#type, code) = match status {
        429 => ("requests", Some("rate_limit_exceeded")),
        500.. => ("server_error", None),
        401 => ("invalid_request_error", Some("invalid_api_key")),
        403 => (
            "invalid_request_error",
            Some("unsupported_country_region_territory"),
        ),
        404 => ("invalid_request_error", Some("model_not_found")),
        _ => ("invalid_request_error", None),
    };
    json(&ErrorBody {
        error: ErrorDetail {
            message: format!("simulated {status}"),
            r#type,
            param: None,
            code,
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crabllm_core::{ChatCompletionChunk, ChatCompletionResponse};
    use serde_json::Value;

    const ID: ChunkId = ChunkId {
        client: 1,
        call: 2,
        stream: 3,
        index: 4,
    };

    fn events(text: &str) -> Vec<Value> {
        let datas = text.split("\n\n").filter_map(|e| e.strip_prefix("data: "));
        datas
            .map(|d| serde_json::from_str(d).unwrap_or(Value::String(d.into())))
            .collect()
    }

    #[test]
    fn a_chat_completion_has_what_strict_clients_read() {
        let text = chat_completion(ID);
        let v: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(v["object"], "chat.completion");
        assert_eq!(v["choices"][0]["message"]["content"], ID.text());
        assert_eq!(v["choices"][0]["message"]["role"], "assistant");
        assert_eq!(v["choices"][0]["finish_reason"], "stop");
        assert_eq!(v["usage"]["total_tokens"], 2);
        // crabllm's own client reads it, and finds the payload first.
        let typed: ChatCompletionResponse = serde_json::from_str(&text).unwrap();
        assert_eq!(typed.id, ID.text());
        assert_eq!(ChunkId::find(&text), Some(ID));
    }

    #[test]
    fn a_chat_chunk_has_one_choice_with_a_delta() {
        let text = chat_chunk(ID);
        let v: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(v["object"], "chat.completion.chunk");
        assert_eq!(v["choices"][0]["delta"]["content"], ID.text());
        assert!(v["choices"][0]["finish_reason"].is_null());
        assert!(v.get("usage").is_none());
        let typed: ChatCompletionChunk = serde_json::from_str(&text).unwrap();
        assert_eq!(typed.content(), Some(ID.text().as_str()));
    }

    #[test]
    fn a_chat_stream_closes_with_stop_then_done() {
        let mut s = ChunkStream::new(ID, false);
        let second = ChunkId { index: 5, ..ID };
        let text = s.item(ID) + &s.item(second) + &s.closing();
        let got = events(&text);
        assert_eq!(got.len(), 4, "{text}");
        assert!(
            got[..3].iter().all(|c| c["id"] == "chatcmpl-1_2_3"),
            "{text}"
        );
        assert_eq!(got[0]["choices"][0]["delta"]["role"], "assistant");
        assert!(got[1]["choices"][0]["delta"].get("role").is_none());
        assert_eq!(got[1]["choices"][0]["delta"]["content"], second.text());
        assert_eq!(got[2]["choices"][0]["finish_reason"], "stop");
        assert_eq!(got[2]["choices"][0]["delta"], serde_json::json!({}));
        assert!(got[..3].iter().all(|c| c.get("usage").is_none()));
        assert_eq!(got[3], "[DONE]");
        // crabllm's typed chunks read every one of them.
        for c in &got[..3] {
            serde_json::from_value::<ChatCompletionChunk>(c.clone()).unwrap();
        }
    }

    #[test]
    fn a_chat_stream_asked_for_usage_ends_with_a_usage_chunk() {
        let mut s = ChunkStream::new(ID, true);
        let text = s.item(ID) + &s.closing();
        let got = events(&text);
        assert_eq!(got.len(), 4, "{text}");
        assert!(got[0]["usage"].is_null() && got[1]["usage"].is_null());
        assert_eq!(got[2]["choices"], serde_json::json!([]));
        assert_eq!(got[2]["usage"]["completion_tokens"], 1);
        assert_eq!(got[2]["usage"]["total_tokens"], 2);
        assert_eq!(got[3], "[DONE]");
    }

    #[test]
    fn embeddings_answer_each_input_in_order() {
        let v: Value = serde_json::from_str(&embeddings(ID, 3, false)).unwrap();
        assert_eq!(v["object"], "list");
        assert_eq!(v["model"], ID.text());
        let data = v["data"].as_array().unwrap();
        assert_eq!(data.len(), 3);
        for (i, e) in data.iter().enumerate() {
            assert_eq!(
                (e["object"].as_str(), e["index"].as_u64()),
                (Some("embedding"), Some(i as u64))
            );
            assert_eq!(e["embedding"], serde_json::json!([0.5, -0.25, 0.125, 0.0]));
        }
        assert_eq!(v["usage"]["prompt_tokens"], 3);
        assert_eq!(v["usage"]["total_tokens"], 3);
        let typed: crabllm_core::EmbeddingResponse =
            serde_json::from_value(v).expect("crabllm reads it");
        assert_eq!(typed.data.len(), 3);
    }

    #[test]
    fn base64_embeddings_are_the_same_floats_little_endian() {
        let v: Value = serde_json::from_str(&embeddings(ID, 1, true)).unwrap();
        // 0.5, -0.25, 0.125, 0.0 as little-endian f32, encoded by hand.
        assert_eq!(v["data"][0]["embedding"], "AAAAPwAAgL4AAAA+AAAAAA==");
        assert_eq!(base64_of(b""), "");
        assert_eq!(base64_of(b"f"), "Zg==");
        assert_eq!(base64_of(b"fo"), "Zm8=");
        assert_eq!(base64_of(b"foobar"), "Zm9vYmFy");
    }

    #[test]
    fn errors_say_what_kind_of_failure() {
        let v = |s| serde_json::from_str::<Value>(&error(s)).unwrap()["error"].clone();
        assert_eq!(v(429)["type"], "requests");
        assert_eq!(v(429)["code"], "rate_limit_exceeded");
        for status in [500, 502, 503, 504] {
            assert_eq!(v(status)["type"], "server_error", "{status}");
            assert!(v(status)["code"].is_null());
        }
        assert_eq!(v(400)["type"], "invalid_request_error");
        assert!(v(400)["param"].is_null());
        assert_eq!(v(401)["code"], "invalid_api_key");
        assert_eq!(v(503)["message"], "simulated 503");
    }
}
