//! `pmr monit`: a terminal dashboard. The process list with CPU and memory
//! over time, and the selected app's logs as the daemon pushes them.
//!
//! The list is asked for once a second (the daemon samples once a second);
//! log lines arrive on a second connection, pushed by the daemon, and are
//! kept in a bounded buffer per instance. What the screen shows is drawn
//! in [`draw`].

mod draw;

use std::collections::{HashMap, VecDeque};
use std::io::IsTerminal;
use std::process::ExitCode;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use pmr_shared::app::ProcessInfo;
use pmr_shared::ipc::{Request, Response};
use ratatui::crossterm::event::{self, Event, KeyCode, KeyEventKind, KeyModifiers};
use ratatui::widgets::TableState;

use crate::cli::Client;
use crate::paths::Paths;

/// Samples of CPU and memory kept per instance (two minutes at 1/s).
const HISTORY: usize = 120;
/// Log lines kept per instance.
const LOG_LINES: usize = 500;
/// Lines read back from each log file when monit opens.
const PREFILL: usize = 20;
/// How often the list is refreshed.
const REFRESH: Duration = Duration::from_secs(1);
/// Longest wait for a key before draining new log lines.
const INPUT_WAIT: Duration = Duration::from_millis(100);

/// One log line pushed by the daemon.
struct LogLine {
    /// The instance that wrote it.
    pm_id: u32,
    /// Whether it came on stderr (shown in red).
    err: bool,
    /// The line, without its newline.
    text: String,
}

/// CPU (tenths of a percent) and memory samples of one instance, oldest first.
#[derive(Default)]
struct History {
    /// CPU, tenths of a percent, oldest first.
    cpu: VecDeque<u64>,
    /// Memory in bytes, oldest first.
    mem: VecDeque<u64>,
}

/// The dashboard's state: the last list, the selection, and per instance
/// its samples and its last log lines.
struct Monit {
    /// The last list the daemon sent.
    list: Vec<ProcessInfo>,
    /// The selected row of the process table.
    table: TableState,
    /// CPU and memory samples, by instance id.
    history: HashMap<u32, History>,
    /// The last [`LOG_LINES`] lines (stderr or not), by instance id.
    logs: HashMap<u32, VecDeque<(bool, String)>>,
}

/// Runs the dashboard until `q`, Esc or Ctrl-C; refuses without a terminal.
pub(crate) fn run(paths: &Paths) -> anyhow::Result<ExitCode> {
    if !std::io::stdout().is_terminal() || !std::io::stdin().is_terminal() {
        anyhow::bail!("pmr monit needs a terminal; use `pmr list` or `pmr jlist` in scripts");
    }
    let mut client = Client::connect_or_start(paths)?;
    let follower = Client::connect_or_start(paths)?;
    let rx = follow_logs(follower)?;
    let mut m = Monit {
        list: Vec::new(),
        table: TableState::default().with_selected(Some(0)),
        history: HashMap::new(),
        logs: HashMap::new(),
    };
    m.refresh(&mut client)?;
    m.prefill();
    let mut terminal = ratatui::try_init()?;
    let result = m.run_loop(&mut terminal, &mut client, &rx);
    ratatui::restore();
    result?;
    Ok(ExitCode::SUCCESS)
}

impl Monit {
    /// Some history to start with, from the files; then what is pushed.
    /// (A line written between the subscription and this read may show twice.)
    fn prefill(&mut self) {
        for p in &self.list {
            let buf = self.logs.entry(p.pm_id).or_default();
            for (path, err) in [(&p.out_log, false), (&p.err_log, true)] {
                let lines = crate::logs::tail::last_lines(path, PREFILL).unwrap_or_default();
                buf.extend(lines.into_iter().map(|l| (err, l)));
            }
        }
    }

    /// Redraws on a key, a log line or the refresh tick, whichever comes.
    fn run_loop(
        &mut self,
        terminal: &mut ratatui::DefaultTerminal,
        client: &mut Client,
        logs: &mpsc::Receiver<LogLine>,
    ) -> anyhow::Result<()> {
        let mut next_refresh = Instant::now() + REFRESH;
        let mut dirty = true;
        loop {
            if dirty {
                terminal.draw(|f| self.draw(f))?;
                dirty = false;
            }
            let wait = next_refresh
                .saturating_duration_since(Instant::now())
                .min(INPUT_WAIT);
            if event::poll(wait)? {
                match event::read()? {
                    Event::Key(k) if k.kind != KeyEventKind::Release => {
                        let ctrl_c = k.code == KeyCode::Char('c')
                            && k.modifiers.contains(KeyModifiers::CONTROL);
                        match k.code {
                            KeyCode::Char('q') | KeyCode::Esc => return Ok(()),
                            _ if ctrl_c => return Ok(()),
                            KeyCode::Down | KeyCode::Char('j') => self.select(1),
                            KeyCode::Up | KeyCode::Char('k') => self.select(-1),
                            KeyCode::Home => self.table.select(Some(0)),
                            KeyCode::End => self.select(isize::MAX / 2),
                            _ => continue,
                        }
                        dirty = true;
                    }
                    Event::Resize(..) => dirty = true,
                    _ => {}
                }
            }
            while let Ok(line) = logs.try_recv() {
                let buf = self.logs.entry(line.pm_id).or_default();
                if buf.len() == LOG_LINES {
                    buf.pop_front();
                }
                buf.push_back((line.err, line.text));
                dirty = true;
            }
            if Instant::now() >= next_refresh {
                self.refresh(client)?;
                next_refresh = Instant::now() + REFRESH;
                dirty = true;
            }
        }
    }

    /// Asks for the list again and records one sample per instance.
    fn refresh(&mut self, client: &mut Client) -> anyhow::Result<()> {
        let list = match client.request(&Request::List {
            full: false,
            targets: vec![],
        }) {
            Ok(Response::Processes { list }) => list,
            Ok(_) => Vec::new(),
            Err(e) => anyhow::bail!("the daemon stopped answering: {e:#}"),
        };
        for p in &list {
            let h = self.history.entry(p.pm_id).or_default();
            if h.cpu.len() == HISTORY {
                h.cpu.pop_front();
                h.mem.pop_front();
            }
            h.cpu.push_back((p.cpu * 10.0).round() as u64);
            h.mem.push_back(p.memory);
        }
        // Deleted apps take their history and logs with them.
        self.history
            .retain(|id, _| list.iter().any(|p| p.pm_id == *id));
        self.logs
            .retain(|id, _| list.iter().any(|p| p.pm_id == *id));
        self.list = list;
        let last = self.list.len().saturating_sub(1);
        if self.table.selected().is_none_or(|s| s > last) {
            self.table.select(Some(last));
        }
        Ok(())
    }

    /// Moves the selection by `delta` rows, within the list.
    fn select(&mut self, delta: isize) {
        let n = self.list.len() as isize;
        if n == 0 {
            return;
        }
        let cur = self.table.selected().unwrap_or(0) as isize;
        self.table
            .select(Some((cur + delta).clamp(0, n - 1) as usize));
    }

    /// The selected instance, if the list has any.
    fn selected(&self) -> Option<&ProcessInfo> {
        self.table.selected().and_then(|i| self.list.get(i))
    }
}

/// Subscribes `follower` to every app's output and reads it on a thread,
/// line by line, into a bounded channel the screen drains.
fn follow_logs(mut follower: Client) -> anyhow::Result<mpsc::Receiver<LogLine>> {
    let subscribe = Request::Logs { target: None };
    follower.request(&subscribe)?;
    // Bounded: when the screen falls behind a flood, the reader waits and the
    // daemon drops lines for this follower only, never for the log files.
    let (tx, rx) = mpsc::sync_channel::<LogLine>(4096);
    std::thread::spawn(move || {
        loop {
            let frame = match follower.next() {
                Ok(Some(frame)) => frame,
                // Followed on across a hand-over (`pmr update`).
                _ if follower.resubscribe(&subscribe) => continue,
                _ => return,
            };
            if let Response::Log {
                pm_id,
                stream,
                data,
                ..
            } = frame
            {
                for line in data.lines() {
                    let line = LogLine {
                        pm_id,
                        err: stream == "err",
                        text: line.to_string(),
                    };
                    if tx.send(line).is_err() {
                        return;
                    }
                }
            }
        }
    });
    Ok(rx)
}
