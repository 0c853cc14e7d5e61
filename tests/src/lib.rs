//! End-to-end tests live in `e2e/`: they start the real `pmr`, `pmr-runtime`
//! and `pmr-hub` binaries that `cargo test --workspace` builds (the agent and
//! hub packages have integration tests, so their binaries are built first).
//!
//! The library holds what every test crate of the workspace shares (the
//! agent's integration tests take it as a dev-dependency): bounded polling,
//! and a PostgreSQL cluster of a test's own.

pub mod postgres;
pub mod wait;

pub use wait::{PATIENCE, wait_for, wait_until};
