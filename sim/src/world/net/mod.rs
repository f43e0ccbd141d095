//! The network world: a fault-injecting OpenAI-compatible HTTP server and
//! an HTTP provider, talking over turmoil's simulated network.
//!
//! | module | role |
//! |---|---|
//! | [`retry_after`] | the three Retry-After forms, written and parsed |
//! | [`server`] | the server: answers each request as the fault plan says |
//! | [`http`] | the provider: `chat_completion` and its SSE stream over HTTP/1.1 |
//! | [`world`] | the turmoil world: server host, client hosts, timed network faults |

pub mod http;
pub mod retry_after;
pub mod server;
pub mod world;

/// Headers that tell the server which client and call a request belongs
/// to, so that what it sends lands in the right place of the trace.
pub const CLIENT_HEADER: &str = "x-sim-client";
pub const CALL_HEADER: &str = "x-sim-call";
