//! The guide's chapter on the wrapper, from `docs/wrapper.md`: its use,
//! defaults and semantics, the retry budget, keep-alives, and how it
//! differs from its peers. The other chapters (the simulator, conformance,
//! judging from the wire, ...) are in `docs/` beside it and in the
//! simulator's crate docs.
//!
#![doc = include_str!("../docs/wrapper.md")]
