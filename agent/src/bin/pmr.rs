//! `pmr`: the CLI, and (as `pmr daemon`) the daemon itself.

/// Runs the `pmr` command line; all of it lives in the library for the tests.
fn main() -> std::process::ExitCode {
    pmr_agent::cli::main()
}
