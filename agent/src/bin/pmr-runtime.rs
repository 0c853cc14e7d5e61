//! `pmr-runtime`: the supervisor in the foreground for containers.

fn main() -> std::process::ExitCode {
    pmr_agent::runtime::main()
}
