//! Tracing set-up: the daemon logs to `$PMR_HOME/pmr.log` with timestamps
//! (pm2 leaves its own log without them, a known complaint).

use std::path::Path;

use tracing_subscriber::filter::LevelFilter;

/// Sends the daemon's tracing output to `path`; `PMR_LOG=debug` raises the level.
pub fn to_file(path: &Path) {
    let level = match std::env::var("PMR_LOG").as_deref() {
        Ok("trace") => LevelFilter::TRACE,
        Ok("debug") => LevelFilter::DEBUG,
        Ok("warn") => LevelFilter::WARN,
        Ok("error") => LevelFilter::ERROR,
        _ => LevelFilter::INFO,
    };
    let Ok(file) = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
    else {
        return;
    };
    let _ = tracing_subscriber::fmt()
        .with_max_level(level)
        .with_ansi(false)
        .with_target(false)
        .with_writer(std::sync::Mutex::new(file))
        .try_init();
}
