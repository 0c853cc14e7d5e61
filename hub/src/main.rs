//! `pmr-hub`: the monitoring hub. Its server (keys, websocket gateway, store,
//! API, dashboard) comes with the link and hub issue; this binary only
//! reports its version so the workspace builds every piece from day one.

use std::process::ExitCode;

fn main() -> ExitCode {
    match std::env::args().nth(1).as_deref() {
        Some("--version" | "-V") => {
            println!(
                "pmr-hub {} (protocol {})",
                pmr_shared::VERSION,
                pmr_shared::PROTOCOL_VERSION
            );
            ExitCode::SUCCESS
        }
        _ => {
            eprintln!(
                "pmr-hub {}: the hub server is not built yet; only --version works",
                pmr_shared::VERSION
            );
            ExitCode::from(2)
        }
    }
}
