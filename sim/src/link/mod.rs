//! The providers below the probe: how a client's attempts reach the backend.
//!
//! | module | role |
//! |---|---|
//! | [`local`] | the backend called directly (the in-process world) |
//! | [`http`] | every method over HTTP/1.1 on turmoil's simulated TCP (the network world) |

pub mod http;
pub mod local;

#[cfg(test)]
mod tests;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

/// Which call of its client a provider view is serving: set by the client
/// driver, read below the subject (by the probe, and sent to the server).
#[derive(Debug, Clone, Default)]
pub struct Cursor(Arc<AtomicU64>);

impl Cursor {
    /// Mark the start of call `call`.
    pub fn set(&self, call: u64) {
        self.0.store(call, Ordering::Relaxed);
    }

    /// The call being served.
    pub fn get(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }
}

/// The provider below the probe: the backend in process, or HTTP.
#[derive(Debug, Clone)]
pub enum Link {
    Local(local::SimProvider),
    Http(http::HttpProvider),
}
