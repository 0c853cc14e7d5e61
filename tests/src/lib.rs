//! End-to-end tests live in `e2e/`: they start the real `pmr`, `pmr-runtime`
//! and `pmr-hub` binaries that `cargo test --workspace` builds (the agent and
//! hub packages have integration tests, so their binaries are built first).
