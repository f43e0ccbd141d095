//! The providers below the probe: how a client's attempts reach the backend.
//!
//! | module | role |
//! |---|---|
//! | [`local`] | the backend called directly (the in-process world) |
//! | [`http`] | every method over HTTP/1.1 on turmoil's simulated TCP (the network world) |
//! | [`caller`] | the call a client is making, for what carries no request |
//!
//! A link serves every client: the probe tells it, attempt by attempt,
//! which call the attempt belongs to ([`Link::at`]), so one probe and one
//! link can serve a wrapper shared by every client.

pub mod caller;
pub mod http;
pub mod local;

#[cfg(test)]
mod tests;

use crate::wire::address::CallId;

/// The provider below the probe: the backend in process, or HTTP.
#[derive(Debug, Clone)]
pub enum Link {
    /// The backend called directly (the in-process world).
    Local(local::SimProvider),
    /// Over HTTP on turmoil's simulated network (the network world).
    Http(http::HttpProvider),
}

impl Link {
    /// This link, sending its next attempt as one of call `id`.
    pub fn at(&self, id: CallId) -> Link {
        match self {
            Link::Local(p) => Link::Local(p.at(id)),
            Link::Http(p) => Link::Http(p.at(id)),
        }
    }
}
