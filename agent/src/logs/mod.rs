//! The apps' logs, from capture to reading back: pipes pumped into files
//! (`pump`, `sink`, `file`), line formats ([`format`](mod@format), [`dayjs`]),
//! rotation ([`rotate`], [`zone`]), and what readers ask for ([`tail`] of a
//! file, [`recent`] lines kept in memory).
//!
//! It sits below both the supervisor (which captures) and the CLI (which
//! reads files back for `pmr logs` and `monit`), so neither reaches into
//! the other for it.

pub mod dayjs;
mod file;
pub mod format;
mod pump;
pub mod recent;
pub mod rotate;
mod sink;
pub mod tail;
pub mod zone;

pub use file::{LogFile, is_null_path};
pub use format::json_lines;
pub use pump::{pump, stop_pumps};
pub use sink::{LogEvent, StreamSink};
