//! Cross-binary end-to-end tests (agent with hub) live here once the hub
//! exists; the agent's own tests drive the real `pmr` binary from
//! `agent/tests/`.
