//! Answers in each provider's own shape, as strict clients read them.
//!
//! The typed values of [`items`](super::items) carry a payload and little
//! else; a client nobody here wrote (the official SDKs, a script that reads
//! `choices[0].message.content`) needs the fields its provider always
//! sends. These are what `retry-sim serve` puts on the wire, field for
//! field in the providers' documented order, each carrying its payload
//! where the [`items`](super::items) table says (an id), and its text too,
//! so that a script printing the answer shows which call it got.
//!
//! Times are fixed ([`CREATED`]), so an answer is the same in every run.

use super::items::MODEL;
use crate::trace::ChunkId;
use serde::Serialize;

/// The `created` time every answer carries (2023-11-14, in Unix seconds):
/// fixed, so that answers do not depend on the wall clock.
pub const CREATED: u64 = 1_700_000_000;

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
    choices: [ChunkChoice; 1],
}

#[derive(Debug, Serialize)]
struct ChunkChoice {
    index: u32,
    delta: ChunkDelta,
    logprobs: Option<()>,
    finish_reason: Option<&'static str>,
}

#[derive(Debug, Serialize)]
struct ChunkDelta {
    role: &'static str,
    content: String,
}

fn json<T: Serialize>(value: &T) -> String {
    // Plain strings, numbers and nulls only: this cannot fail.
    serde_json::to_string(value).unwrap_or_default()
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

/// An OpenAI chat completion chunk carrying `id`: one choice whose delta's
/// text is the payload.
pub fn chat_chunk(id: ChunkId) -> String {
    json(&ChatChunk {
        id: id.text(),
        object: "chat.completion.chunk",
        created: CREATED,
        model: MODEL,
        choices: [ChunkChoice {
            index: 0,
            delta: ChunkDelta {
                role: "assistant",
                content: id.text(),
            },
            logprobs: None,
            finish_reason: None,
        }],
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crabllm_core::{ChatCompletionChunk, ChatCompletionResponse};

    const ID: ChunkId = ChunkId {
        client: 1,
        call: 2,
        stream: 3,
        index: 4,
    };

    #[test]
    fn a_chat_completion_has_what_strict_clients_read() {
        let text = chat_completion(ID);
        let v: serde_json::Value = serde_json::from_str(&text).unwrap();
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
        let v: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(v["object"], "chat.completion.chunk");
        assert_eq!(v["choices"][0]["delta"]["content"], ID.text());
        assert!(v["choices"][0]["finish_reason"].is_null());
        let typed: ChatCompletionChunk = serde_json::from_str(&text).unwrap();
        assert_eq!(typed.content(), Some(ID.text().as_str()));
    }
}
