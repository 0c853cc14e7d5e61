//! `pmrd`: the keeper and the daemon alone, without the CLI, the terminal
//! UI or anything else only `pmr` runs: fewer of its pages are resident.
//! The CLI starts it when it stands beside `pmr`, and `pmr daemon` otherwise.

/// Runs the daemon `pmrd`; all of it lives in the library for the tests.
fn main() -> std::process::ExitCode {
    pmr_agent::daemon::main(std::env::args_os().skip(1))
}
