//! The network world: the fault backend behind an HTTP server on
//! turmoil's simulated network, called by each client's
//! [`HttpProvider`](crate::link::http::HttpProvider). Every `Provider`
//! method travels: each request names its method in
//! [`METHOD_HEADER`](crate::wire::METHOD_HEADER), and the server answers in
//! that method's dialect ([`crate::wire::items`]).
//!
//! | module | role |
//! |---|---|
//! | [`quiet`] | idle skipping: when a run can do nothing more, it ends at the horizon |
//! | [`server`] | the server: answers each request, of any method, as the fault plan says |
//! | [`world`] | the turmoil world: server host, client hosts, timed network faults |

pub mod quiet;
pub mod server;
pub mod world;

#[cfg(test)]
mod tests;
