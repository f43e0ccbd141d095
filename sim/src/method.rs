//! Every `Provider` method family a workload can call.
//!
//! The names are the ones scenario files use (`method = "chat_stream"`).
//! Which of them a wrapper retries is not said here: that is a claim about
//! the wrapper (the judge's `Claim`), judged from what it did.
//!
//! Two more are served to real clients only ([`Method::SERVED_ONLY`]):
//! OpenAI's Responses API has no `Provider` method, so the simulator's
//! worlds never call it, but `retry-sim serve` answers it and its record
//! names it, so the judge can hold a claim about it.

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
    /// OpenAI's Responses API (`POST /v1/responses`), unary: served only.
    Responses,
    /// OpenAI's Responses API with `"stream": true`: served only.
    ResponsesStream,
}

impl Method {
    /// Every `Provider` method, in the trait's order: what a scenario's
    /// workload may call.
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

    /// The methods only `retry-sim serve` answers, for clients nobody
    /// here wrote: no `Provider` method makes these calls.
    pub const SERVED_ONLY: [Method; 2] = [Method::Responses, Method::ResponsesStream];

    /// Whether a `Provider` method makes this call (so a scenario's
    /// workload can call it), rather than only a real client over the wire.
    pub const fn in_provider(self) -> bool {
        !matches!(self, Method::Responses | Method::ResponsesStream)
    }

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
                | Method::ResponsesStream
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
            Method::Responses => "responses",
            Method::ResponsesStream => "responses_stream",
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
        for m in Method::ALL.into_iter().chain(Method::SERVED_ONLY) {
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

    #[test]
    fn only_the_served_methods_lack_a_provider_method() {
        assert!(Method::ALL.into_iter().all(Method::in_provider));
        assert!(!Method::SERVED_ONLY.into_iter().any(Method::in_provider));
        assert!(Method::ResponsesStream.is_stream() && !Method::Responses.is_stream());
    }
}
