//! Every `Provider` method family a workload can call.
//!
//! The names are the ones scenario files use (`method = "chat_stream"`).
//! Which of them a wrapper retries is not said here: that is a claim about
//! the wrapper (the judge's `Claim`), judged from what it did.

use serde::{Deserialize, Serialize};
use std::fmt;

/// One method of `crabllm_core::Provider` (a stream method means opening
/// the stream and reading it to its end).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Method {
    /// `chat_completion`.
    Chat,
    /// `chat_completion_stream` (`"stream"` in older scenario files).
    #[serde(alias = "stream")]
    ChatStream,
    /// `chat_completion_raw`.
    ChatRaw,
    /// `chat_completion_stream_raw`.
    ChatStreamRaw,
    /// `chat_completion_stream_passthrough`.
    Passthrough,
    /// `anthropic_messages`.
    Anthropic,
    /// `anthropic_messages_stream`.
    AnthropicStream,
    /// `anthropic_messages_raw`.
    AnthropicRaw,
    /// `anthropic_messages_stream_raw`.
    AnthropicStreamRaw,
    /// `gemini_generate_content` (a default method of the trait).
    Gemini,
    /// `gemini_generate_content_stream`.
    GeminiStream,
    /// `gemini_generate_content_raw`.
    GeminiRaw,
    /// `gemini_generate_content_stream_raw`.
    GeminiStreamRaw,
    /// `complete` (the canonical IR).
    Complete,
    /// `complete_stream`.
    CompleteStream,
    /// `embedding`.
    Embedding,
    /// `models`.
    Models,
    /// `image_generation`.
    Image,
    /// `audio_speech`.
    AudioSpeech,
    /// `audio_transcription`.
    AudioTranscription,
}

impl Method {
    /// Every method, in the trait's order.
    pub const ALL: [Method; 20] = [
        Method::Chat,
        Method::ChatStream,
        Method::ChatRaw,
        Method::ChatStreamRaw,
        Method::Passthrough,
        Method::Anthropic,
        Method::AnthropicStream,
        Method::AnthropicRaw,
        Method::AnthropicStreamRaw,
        Method::Gemini,
        Method::GeminiStream,
        Method::GeminiRaw,
        Method::GeminiStreamRaw,
        Method::Complete,
        Method::CompleteStream,
        Method::Embedding,
        Method::Models,
        Method::Image,
        Method::AudioSpeech,
        Method::AudioTranscription,
    ];

    /// Whether a successful call hands over a stream of items.
    pub const fn is_stream(self) -> bool {
        matches!(
            self,
            Method::ChatStream
                | Method::ChatStreamRaw
                | Method::Passthrough
                | Method::AnthropicStream
                | Method::AnthropicStreamRaw
                | Method::GeminiStream
                | Method::GeminiStreamRaw
                | Method::CompleteStream
        )
    }

    /// The name scenario files and traces use.
    pub const fn name(self) -> &'static str {
        match self {
            Method::Chat => "chat",
            Method::ChatStream => "chat_stream",
            Method::ChatRaw => "chat_raw",
            Method::ChatStreamRaw => "chat_stream_raw",
            Method::Passthrough => "passthrough",
            Method::Anthropic => "anthropic",
            Method::AnthropicStream => "anthropic_stream",
            Method::AnthropicRaw => "anthropic_raw",
            Method::AnthropicStreamRaw => "anthropic_stream_raw",
            Method::Gemini => "gemini",
            Method::GeminiStream => "gemini_stream",
            Method::GeminiRaw => "gemini_raw",
            Method::GeminiStreamRaw => "gemini_stream_raw",
            Method::Complete => "complete",
            Method::CompleteStream => "complete_stream",
            Method::Embedding => "embedding",
            Method::Models => "models",
            Method::Image => "image",
            Method::AudioSpeech => "audio_speech",
            Method::AudioTranscription => "audio_transcription",
        }
    }
}

impl fmt::Display for Method {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_through_serde_and_are_distinct() {
        let mut seen = std::collections::BTreeSet::new();
        for m in Method::ALL {
            let json = serde_json::to_string(&m).unwrap();
            assert_eq!(json, format!("\"{}\"", m.name()));
            assert_eq!(serde_json::from_str::<Method>(&json).unwrap(), m);
            assert!(seen.insert(m.name()));
        }
        assert_eq!(
            serde_json::from_str::<Method>("\"stream\"").unwrap(),
            Method::ChatStream
        );
    }
}
