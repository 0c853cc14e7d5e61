//! Wall-clock time as pmr stores it (Unix milliseconds, as pm2 does) and
//! cron patterns as pm2 reads them: shared by the supervisor (cron
//! restarts, uptimes), log rotation, the link and the CLI's tables.

/// Milliseconds since the Unix epoch, as pm2 stores times.
pub fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

/// Parses a cron pattern as pm2 (croner) reads it: 5 or 6 fields. The error
/// is the reason, for the user; every caller reports it as bad input and
/// none branches on it, hence a plain `String`.
pub fn parse_cron(pattern: &str) -> Result<croner::Cron, String> {
    croner::parser::CronParser::builder()
        .seconds(croner::parser::Seconds::Optional)
        .build()
        .parse(pattern)
        .map_err(|e| format!("cron pattern {pattern:?}: {e}"))
}
