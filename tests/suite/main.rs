//! The wrapper's behaviour tests, one module per subject, in one test
//! binary: the dependency tree is linked once rather than once per file.
//!
//! `tests/allocations.rs` stays a binary of its own: it installs a counting
//! global allocator, which would count (and slow) every test here too.

mod budget;
mod calls;
mod forwarding;
mod observing;
mod schedules;
mod streams;
mod support;
mod throttle;
mod traced;
