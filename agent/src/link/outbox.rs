//! Events and rollups the hub has not acknowledged yet, kept in memory and
//! in append-only files under `$PMR_HOME/link/`, so neither a hub outage nor
//! a daemon restart loses them. Bounded: each stream keeps at most its cap
//! ([`MAX_EVENTS`], [`MAX_ROLLUPS`]), the oldest entry going first, and every
//! drop is counted.
//!
//! Each stream numbers its entries (`seq`, from 1, never reused); the hub
//! acknowledges by number, and `acked.json` keeps the marks so that a reload
//! replays only what is newer. The one instance lives behind the link's
//! `Shared` lock; the collector pushes, the session replays and acknowledges.

use std::collections::VecDeque;
use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};

use pmr_shared::link::messages::{Event, Resume, Rollup, Stream};
use serde::{Deserialize, Serialize};

/// Most unacknowledged events kept.
pub const MAX_EVENTS: usize = 10_000;
/// Most unacknowledged rollups kept (one day of 10-second windows).
pub const MAX_ROLLUPS: usize = 8_640;

/// The highest `seq` the hub acknowledged per stream (`acked.json`).
#[derive(Debug, Default, Serialize, Deserialize)]
struct Marks {
    /// Events up to this one are the hub's.
    events: u64,
    /// Rollups up to this one are the hub's.
    rollups: u64,
}

/// The queue of one agent.
pub struct Outbox {
    /// `$PMR_HOME/link/`.
    dir: PathBuf,
    /// Unacknowledged events, oldest first, in `seq` order.
    events: VecDeque<Event>,
    /// Unacknowledged rollups, oldest first, in `seq` order.
    rollups: VecDeque<Rollup>,
    /// The `seq` the next event gets.
    next_event: u64,
    /// The `seq` the next rollup gets.
    next_rollup: u64,
    /// What the hub has acknowledged so far.
    acked: Marks,
    /// `events.jsonl`, opened for appending; `None` if it cannot be opened
    /// (the queue then lives in memory only).
    event_file: Option<File>,
    /// `rollups.jsonl`, likewise.
    rollup_file: Option<File>,
    /// Entries dropped because the queue was full.
    pub dropped: u64,
    /// Lines in the files (acknowledged ones included) since the last compaction.
    lines: usize,
}

/// Every line of a `.jsonl` file that parses; a torn last line (a crash
/// mid-append) or a missing file costs only what it held.
fn read_lines<T: for<'de> Deserialize<'de>>(path: &Path) -> Vec<T> {
    let Ok(f) = File::open(path) else {
        return Vec::new();
    };
    BufReader::new(f)
        .lines()
        .map_while(Result::ok)
        .filter_map(|l| serde_json::from_str(&l).ok())
        .collect()
}

/// Opens `path` for appending, creating it.
fn append_file(path: &Path) -> Option<File> {
    OpenOptions::new().create(true).append(true).open(path).ok()
}

impl Outbox {
    /// Opens the queue in `dir`, reloading what was not acknowledged.
    pub fn open(dir: &Path) -> Self {
        let _ = std::fs::create_dir_all(dir);
        let acked: Marks = std::fs::read(dir.join("acked.json"))
            .ok()
            .and_then(|b| serde_json::from_slice(&b).ok())
            .unwrap_or_default();
        let all_events: Vec<Event> = read_lines(&dir.join("events.jsonl"));
        let all_rollups: Vec<Rollup> = read_lines(&dir.join("rollups.jsonl"));
        let next_event = all_events
            .iter()
            .map(|e| e.seq)
            .max()
            .unwrap_or(0)
            .max(acked.events)
            + 1;
        let next_rollup = all_rollups
            .iter()
            .map(|r| r.seq)
            .max()
            .unwrap_or(0)
            .max(acked.rollups)
            + 1;
        let mut o = Self {
            dir: dir.to_path_buf(),
            events: all_events
                .into_iter()
                .filter(|e| e.seq > acked.events)
                .collect(),
            rollups: all_rollups
                .into_iter()
                .filter(|r| r.seq > acked.rollups)
                .collect(),
            next_event,
            next_rollup,
            acked,
            event_file: None,
            rollup_file: None,
            dropped: 0,
            lines: 0,
        };
        o.bound();
        o.compact();
        o
    }

    /// Rewrites the files with only what is still unacknowledged (written
    /// aside, synced, then renamed over, so a crash leaves one or the other).
    fn compact(&mut self) {
        let write = |name: &str, lines: Vec<String>| {
            let tmp = self.dir.join(format!("{name}.tmp"));
            let ok = File::create(&tmp).and_then(|mut f| {
                for l in &lines {
                    f.write_all(l.as_bytes())?;
                    f.write_all(b"\n")?;
                }
                f.sync_all()
            });
            if ok.is_ok() {
                let _ = std::fs::rename(&tmp, self.dir.join(name));
            }
        };
        write(
            "events.jsonl",
            self.events
                .iter()
                .filter_map(|e| serde_json::to_string(e).ok())
                .collect(),
        );
        write(
            "rollups.jsonl",
            self.rollups
                .iter()
                .filter_map(|r| serde_json::to_string(r).ok())
                .collect(),
        );
        self.event_file = append_file(&self.dir.join("events.jsonl"));
        self.rollup_file = append_file(&self.dir.join("rollups.jsonl"));
        self.lines = self.events.len() + self.rollups.len();
    }

    /// Queues an event (its `seq` is assigned here) and returns a copy to send.
    pub fn push_event(&mut self, mut e: Event) -> Event {
        e.seq = self.next_event;
        self.next_event += 1;
        if let (Some(f), Ok(line)) = (self.event_file.as_mut(), serde_json::to_string(&e)) {
            let _ = writeln!(f, "{line}");
        }
        self.events.push_back(e.clone());
        self.bound();
        e
    }

    /// Queues a rollup (its `seq` is assigned here) and returns a copy to send.
    pub fn push_rollup(&mut self, mut r: Rollup) -> Rollup {
        r.seq = self.next_rollup;
        self.next_rollup += 1;
        if let (Some(f), Ok(line)) = (self.rollup_file.as_mut(), serde_json::to_string(&r)) {
            let _ = writeln!(f, "{line}");
        }
        self.rollups.push_back(r.clone());
        self.bound();
        r
    }

    /// Counts the line just appended, compacts the files when they hold
    /// about twice the caps, and drops the oldest entries beyond a cap.
    fn bound(&mut self) {
        // Files hold acknowledged lines until compaction: keep them near the cap.
        self.lines += 1;
        if self.lines > 2 * (MAX_EVENTS + MAX_ROLLUPS) {
            self.compact();
        }
        while self.rollups.len() > MAX_ROLLUPS {
            self.rollups.pop_front();
            self.dropped += 1;
        }
        while self.events.len() > MAX_EVENTS {
            self.events.pop_front();
            self.dropped += 1;
        }
    }

    /// Forgets everything up to `seq` of a stream.
    pub fn ack(&mut self, stream: Stream, seq: u64) {
        match stream {
            Stream::Events => {
                self.acked.events = self.acked.events.max(seq);
                while self.events.front().is_some_and(|e| e.seq <= seq) {
                    self.events.pop_front();
                }
            }
            Stream::Rollups => {
                self.acked.rollups = self.acked.rollups.max(seq);
                while self.rollups.front().is_some_and(|r| r.seq <= seq) {
                    self.rollups.pop_front();
                }
            }
        }
        if let Ok(bytes) = serde_json::to_vec(&self.acked) {
            let tmp = self.dir.join("acked.json.tmp");
            if std::fs::write(&tmp, bytes).is_ok() {
                let _ = std::fs::rename(&tmp, self.dir.join("acked.json"));
            }
        }
        if self.events.is_empty() && self.rollups.is_empty() {
            self.compact();
        }
    }

    /// After a welcome: drop what the hub already holds, and never reuse
    /// sequence numbers it has seen (after a lost queue, say).
    pub fn resume(&mut self, r: Resume) {
        self.ack(Stream::Events, r.events);
        self.ack(Stream::Rollups, r.rollups);
        self.next_event = self.next_event.max(r.events + 1);
        self.next_rollup = self.next_rollup.max(r.rollups + 1);
    }

    /// What to replay, events first.
    pub fn pending(&self) -> (Vec<Event>, Vec<Rollup>) {
        (
            self.events.iter().cloned().collect(),
            self.rollups.iter().cloned().collect(),
        )
    }

    /// Entries waiting for acknowledgement.
    pub fn len(&self) -> usize {
        self.events.len() + self.rollups.len()
    }

    /// True when nothing waits.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use pmr_shared::link::messages::EventKind;

    fn ev() -> Event {
        Event {
            seq: 0,
            at: 1,
            kind: EventKind::Exit,
            pm_id: 0,
            name: "a".into(),
            namespace: None,
            code: Some(1),
            signal: None,
            detail: None,
        }
    }

    #[test]
    fn survives_a_restart_and_forgets_acked_entries() {
        let dir = tempfile::tempdir().unwrap();
        let mut o = Outbox::open(dir.path());
        for _ in 0..5 {
            o.push_event(ev());
        }
        o.ack(Stream::Events, 2);
        drop(o);
        let o = Outbox::open(dir.path());
        let (events, _) = o.pending();
        assert_eq!(events.iter().map(|e| e.seq).collect::<Vec<_>>(), [3, 4, 5]);
        let mut o = o;
        assert_eq!(o.push_event(ev()).seq, 6);
        // A hub that has more than we think moves our counter past it.
        o.resume(Resume {
            events: 10,
            rollups: 0,
        });
        assert!(o.pending().0.is_empty());
        assert_eq!(o.push_event(ev()).seq, 11);
    }

    #[test]
    fn bounded_and_counted() {
        let dir = tempfile::tempdir().unwrap();
        let mut o = Outbox::open(dir.path());
        for _ in 0..MAX_EVENTS + 3 {
            o.push_event(ev());
        }
        assert_eq!(o.len(), MAX_EVENTS);
        assert_eq!(o.dropped, 3);
    }
}
