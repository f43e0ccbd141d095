//! The simulator's behaviour tests, one module per subject, in one test
//! binary: the dependency tree is linked once rather than once per file.
//!
//! Tests in one binary share a process: none of them sets an environment
//! variable or the working directory of the process (children get theirs
//! through `Command`), and each writes only in a directory of its own.

mod cli;
mod conform;
mod deploy;
mod ecosystem;
mod experiments;
mod layering;
mod loopback;
mod peers;
mod properties;
mod report;
mod scenarios;
mod sdks;
mod shapes;
mod traces;
mod unchanged;
mod vacuity;
mod worlds;
mod zoo;
