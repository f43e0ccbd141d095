//! Deterministic simulator for `provider-retry`.
