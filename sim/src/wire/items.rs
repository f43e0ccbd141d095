//! Typed values carrying payloads: built from a [`ChunkId`], read back from
//! whatever a caller received.

use crate::trace::ChunkId;
use crabllm_core::{ChatCompletionChunk, ChatCompletionResponse};

/// The payload anywhere inside `value`'s JSON form.
pub fn payload_of<T: serde::Serialize>(value: &T) -> Option<ChunkId> {
    let json = serde_json::to_string(value).ok()?;
    ChunkId::find(&json)
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
