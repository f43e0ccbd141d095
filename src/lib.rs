//! A deterministic, exactly specified retry wrapper for crabllm providers.
//!
//! [`Retrying<P>`] wraps any [`crabllm_core::Provider`] and retries what
//! [`Error::is_transient`](crabllm_core::Error::is_transient) calls transient
//! (HTTP 429/500/502/503/504, network errors, timeouts), with a per-attempt
//! timeout, a capped exponential backoff with seedable jitter, `Retry-After`,
//! a retry deadline, retried stream opens and streams bounded in their
//! wait for a first item and between items.
//!
//! # Map of the code
//!
//! | module | question it answers |
//! |---|---|
//! | [`policy`] | which knobs, with which defaults ([`RetryPolicy`]) |
//! | [`schedule`] | how long to wait before retry `n` ([`Schedule`], [`Jitter`]) |
//! | `rng` | where the randomness comes from (seeded ChaCha streams) |
//! | [`classify`] | retry or give up after this error, and why ([`GiveUp`]) |
//! | `attempt` | one attempt under a lazily armed timeout |
//! | `retrying` | the one retry loop, and the wrapper's setters |
//! | `forward` | which `Provider` methods are retried (table below) |
//! | [`stream`] | bounded streams: first chunk and idle gaps |
//! | [`observe`] | the observer hook and `tracing` events |
//! | [`budget`] | how many retries all callers may add ([`RetryBudget`]) |
//! | [`throttle`] | when any attempt may start, from what the provider told any caller ([`Throttle`]) |
//! | [`guide`] | the guide's chapter on the wrapper (`docs/wrapper.md`), its examples run as doctests |
//!
//! # Naming
//!
//! One rule for every type. A builder method is named for what it sets and
//! returns the changed value: [`RetryPolicy::max_retries`]`(3)`,
//! [`Retrying::policy`]`(p)`, [`Retrying::seed`]`(7)`,
//! [`RetryBudget::capacity`]`(500)`. A method that reads a setting or a
//! state back is `get_<name>()`: [`RetryPolicy::get_max_retries`],
//! [`Retrying::get_policy`], [`Retrying::get_seed`],
//! [`RetryBudget::get_tokens`]; and, as in tower,
//! [`Retrying::get_ref`] borrows the wrapped provider. Methods that act are
//! named for the act ([`RetryBudget::try_withdraw`], [`RetryBudget::deposit`]).
//!
//! # Semantics
//!
//! 1. Backoff `n` (0-based) is `min(max_backoff, initial_backoff * 2^n)` in
//!    saturating integer nanoseconds, then jittered ([`Jitter`]); the cap
//!    holds after jitter.
//! 2. Jitter is drawn from a ChaCha8 stream per call: seeded by
//!    [`Retrying::seed`], else once from OS entropy. Calls through one wrapper
//!    and its clones never share or lock a generator.
//! 3. Nothing sleeps after the final attempt: its error returns at once.
//! 4. A transient error's `Retry-After` is waited exactly, with no jitter and
//!    no cap, when it is at most `max_retry_after`; a longer one returns the
//!    error at once.
//! 5. With a `retry_deadline`, no wait begins whose end would pass the
//!    deadline (measured from the first attempt's start); the last error
//!    returns at once instead.
//! 6. Stream opens retry like plain calls; once a stream is handed over
//!    nothing is retried. `first_chunk` bounds the wait from the hand-over
//!    to the first item and `stream_idle` each later gap between items;
//!    either, on expiry, ends the stream with
//!    [`Error::Timeout`](crabllm_core::Error::Timeout) (raw byte streams: an
//!    I/O `TimedOut` error) and reports [`Event::StreamTimedOut`] with the
//!    [`StreamBound`].
//! 7. Dropping a call's future at any point stops all its work; nothing is spawned.
//! 8. No setting panics: see [`RetryPolicy`]'s *Saturation* section.
//! 9. The provider's errors pass through unchanged; an expired attempt
//!    becomes [`Error::Timeout`](crabllm_core::Error::Timeout).
//! 10. With a [`RetryBudget`], each retry must first withdraw its cost from
//!     the shared bucket, checked last (after the deadline), so a refused
//!     retry is one that would otherwise have happened; a call that succeeds
//!     refunds its retries. Give-up order: not transient, exhausted,
//!     Retry-After too long, deadline, budget.
//! 11. With a [`Throttle`], every attempt first passes its gate: a
//!     `Retry-After` seen by any call sharing it pauses the others' attempts
//!     (their wake-ups spread by seeded offsets), and throttling responses
//!     set a send rate that recovers on success (see [`throttle`] for the
//!     exact rules). Its waits obey rules 4 and 5 like any other wait.
//!
//! # Which methods are retried
//!
//! | method | retried | per-attempt timeout | first-chunk and idle bounds |
//! |---|---|---|---|
//! | `chat_completion`, `anthropic_messages`, `gemini_generate_content`, `complete` | yes | yes | - |
//! | `embedding`, `models` | yes | yes | - |
//! | `chat_completion_raw`, `anthropic_messages_raw`, `gemini_generate_content_raw` | yes | yes | - |
//! | every `*_stream` and `*_stream_raw` | the open | the open | yes |
//! | `chat_completion_stream_passthrough` | no: its body stream is consumed | the open | yes |
//! | `image_generation`, `audio_speech`, `audio_transcription` | no | no | - |
//! | `is_openai_compat`, `is_anthropic_compat`, `is_gemini_compat` | forwarded | | |
//!
//! Image and audio calls pass straight through: they are neither cheap nor
//! clearly idempotent, so a retry is the caller's decision.
#![warn(missing_docs)]

mod attempt;
pub mod budget;
pub mod classify;
mod forward;
pub mod guide;
pub mod observe;
pub mod policy;
mod retrying;
mod rng;
pub mod schedule;
pub mod stream;
pub mod throttle;
mod timer;

pub use budget::RetryBudget;
pub use classify::GiveUp;
pub use observe::{DelayReason, Event, Observer, Outcome, StreamBound, ThrottleReason};
pub use policy::RetryPolicy;
pub use retrying::Retrying;
pub use schedule::{Jitter, Schedule};
pub use throttle::Throttle;
