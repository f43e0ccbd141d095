//! A macro for the chat-only providers of the experiments and benches.

/// The `Provider` methods every chat-only provider here must still define
/// (Anthropic messages and their stream, the Gemini stream): each answers
/// `Error::Unsupported`. Expand it inside an `impl Provider`.
#[macro_export]
macro_rules! chat_only_provider_rest {
    () => {
        async fn anthropic_messages(
            &self,
            _: &::crabllm_core::anthropic::Request,
        ) -> ::std::result::Result<::crabllm_core::anthropic::Response, ::crabllm_core::Error> {
            Err(::crabllm_core::Error::not_implemented("anthropic_messages"))
        }

        async fn anthropic_messages_stream(
            &self,
            _: &::crabllm_core::anthropic::Request,
        ) -> ::std::result::Result<
            ::crabllm_core::BoxStream<
                'static,
                ::std::result::Result<
                    ::crabllm_core::anthropic::StreamEvent,
                    ::crabllm_core::Error,
                >,
            >,
            ::crabllm_core::Error,
        > {
            Err(::crabllm_core::Error::not_implemented(
                "anthropic_messages_stream",
            ))
        }

        async fn gemini_generate_content_stream(
            &self,
            _: &str,
            _: &::crabllm_core::gemini::Request,
        ) -> ::std::result::Result<
            ::crabllm_core::BoxStream<
                'static,
                ::std::result::Result<::crabllm_core::gemini::Response, ::crabllm_core::Error>,
            >,
            ::crabllm_core::Error,
        > {
            Err(::crabllm_core::Error::not_implemented(
                "gemini_generate_content_stream",
            ))
        }
    };
}
