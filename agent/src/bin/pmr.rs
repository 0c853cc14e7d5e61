//! `pmr`: the CLI, and (as `pmr daemon`) the daemon itself.

fn main() -> std::process::ExitCode {
    pmr_agent::cli::main()
}
