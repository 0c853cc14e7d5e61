//! How the daemon is started: `pmrd` (or `pmr daemon`) runs the keeper,
//! which runs the daemon itself as a child with the keeper's socket.

/// The daemon's entry point (`pmrd`, or `pmr daemon`): the keeper, which
/// starts the daemon itself with the keeper's socket in its environment;
/// `--handover-version` answers `pmr update`'s probe of a new binary.
pub fn main(args: impl Iterator<Item = std::ffi::OsString>) -> std::process::ExitCode {
    if args.into_iter().any(|a| a == "--handover-version") {
        println!(
            "pmr-handover {} {}",
            crate::keeper::wire::VERSION,
            pmr_shared::VERSION
        );
        return std::process::ExitCode::SUCCESS;
    }
    let run = if std::env::var_os(crate::keeper::FD_VAR).is_some()
        || std::env::var_os("PMR_NO_KEEPER").is_some()
    {
        super::run
    } else {
        crate::keeper::run
    };
    match crate::paths::Paths::from_env().and_then(run) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("[PMR][ERROR] {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

/// The binary that runs the daemon for the `pmr` at `exe`: `pmrd` beside
/// it when there is one, else `exe` itself (as `pmr daemon`).
pub fn binary(exe: &std::path::Path) -> std::path::PathBuf {
    let lean = exe.with_file_name("pmrd");
    if lean.is_file() {
        lean
    } else {
        exe.to_path_buf()
    }
}
