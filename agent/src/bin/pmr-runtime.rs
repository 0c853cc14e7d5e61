//! `pmr-runtime`: the supervisor in the foreground for containers.

/// Runs `pmr-runtime`; all of it lives in the library for the tests.
fn main() -> std::process::ExitCode {
    pmr_agent::runtime::main()
}
