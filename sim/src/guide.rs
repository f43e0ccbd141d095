//! The guide, one module per chapter of `docs/`, so that docs.rs shows it
//! and every Rust example in it runs as a doctest. The wrapper's own
//! chapter is in the `provider-retry` crate (`provider_retry::guide`), whose
//! tests run it without building the simulator.
//!
#![doc = include_str!("../../docs/README.md")]

#[doc = include_str!("../../docs/simulator.md")]
pub mod simulator {}

#[doc = include_str!("../../docs/network.md")]
pub mod network {}

#[doc = include_str!("../../docs/conformance.md")]
pub mod conformance {}

#[doc = include_str!("../../docs/wire.md")]
pub mod wire {}

#[doc = include_str!("../../docs/gateway.md")]
pub mod gateway {}

#[doc = include_str!("../../docs/experiments.md")]
pub mod experiments {}

#[doc = include_str!("../../docs/benchmarks.md")]
pub mod benchmarks {}

#[doc = include_str!("../../docs/mutation.md")]
pub mod mutation {}

#[doc = include_str!("../../docs/layout.md")]
pub mod layout {}

/// The README's examples, compiled and run as doctests. They live in this
/// package, which depends on the wrapper and has every crate the examples
/// use (judging your own wrapper needs the simulator), so that the
/// wrapper's own test build never builds the simulator.
#[doc = include_str!("../../README.md")]
#[cfg(doctest)]
pub struct Readme;

#[cfg(test)]
mod tests;
