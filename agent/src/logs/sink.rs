//! Where one stream (out or err) of one instance goes: its file, the
//! combined file, the recent lines, and the bus that `pmr logs` and the hub
//! follow, each line formatted as the app asks (date prefix or JSON).

use std::sync::Arc;

use tokio::sync::broadcast;

use super::LogFile;
use super::format::{json_lines, prefix_lines};

/// A chunk of whole lines, published while someone follows the logs.
#[derive(Debug, Clone)]
pub struct LogEvent {
    /// When the daemon read these lines from the app's pipe, Unix ms.
    pub at: u64,
    /// Instance id.
    pub pm_id: u32,
    /// App name.
    pub name: Arc<str>,
    /// `out` or `err`.
    pub stream: &'static str,
    /// Whole lines.
    pub data: Arc<str>,
    /// Where the stream's file goes on after these lines (see [`LogFile::write`]).
    pub end: Option<u64>,
}

/// Where one stream of one instance goes.
#[derive(Clone)]
pub struct StreamSink {
    /// The stream's own file, `None` when disabled.
    pub file: Option<Arc<LogFile>>,
    /// The combined file, if configured.
    pub combined: Option<Arc<LogFile>>,
    /// dayjs-style prefix format, converted for chrono.
    pub date_format: Option<Arc<str>>,
    /// Write one JSON object per line (`log_type: json`).
    pub json: bool,
    /// Followers of `pmr logs`.
    pub bus: broadcast::Sender<LogEvent>,
    /// Instance id, for the bus.
    pub pm_id: u32,
    /// App name, for the bus.
    pub name: Arc<str>,
    /// `out` or `err`.
    pub stream: &'static str,
}

impl StreamSink {
    /// This sink with the app's current line format (`log_date_format`,
    /// `log_type`) and name, which a restart with new options may change.
    pub fn for_spec(&self, spec: &pmr_shared::app::AppSpec) -> Self {
        Self {
            date_format: spec
                .date_format()
                .map(|f| super::dayjs::to_strftime(f).into()),
            json: spec.log_type.as_deref() == Some("json"),
            name: spec.name.as_str().into(),
            ..self.clone()
        }
    }

    /// Writes whole lines (formatted as the app asks) to the files, keeps
    /// them as recent lines and publishes them to followers.
    pub(super) fn emit(&self, lines: &[u8]) {
        if lines.is_empty() {
            return;
        }
        let prefixed;
        let bytes = if self.json {
            prefixed = json_lines(
                lines,
                self.date_format.as_deref(),
                &self.name,
                self.pm_id,
                self.stream,
            );
            &prefixed[..]
        } else {
            match &self.date_format {
                Some(fmt) => {
                    prefixed = prefix_lines(lines, fmt);
                    &prefixed[..]
                }
                None => lines,
            }
        };
        let at = crate::clock::now_ms();
        let mut end = None;
        if let Some(f) = &self.file {
            end = f.write(bytes);
            f.recent.push(at, self.pm_id, bytes);
        }
        if let Some(f) = &self.combined {
            f.write(bytes);
        }
        if self.bus.receiver_count() > 0 {
            let _ = self.bus.send(LogEvent {
                at,
                pm_id: self.pm_id,
                name: self.name.clone(),
                stream: self.stream,
                data: String::from_utf8_lossy(bytes).into(),
                end,
            });
        }
    }
}
