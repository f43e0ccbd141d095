//! Behaviour tests of `Retrying` on tokio's paused clock.

mod budget;
mod calls;
mod forwarding;
mod observing;
mod streams;
mod support;
mod traced;
