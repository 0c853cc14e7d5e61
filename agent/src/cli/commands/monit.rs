//! `pmr monit`: a terminal dashboard. The process list with CPU and memory
//! over time, and the selected app's logs as the daemon pushes them.
//!
//! The list is asked for once a second (the daemon samples once a second);
//! log lines arrive on a second connection, pushed by the daemon, and are
//! kept in a bounded buffer per instance.

use std::collections::{HashMap, VecDeque};
use std::io::IsTerminal;
use std::process::ExitCode;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use pmr_shared::app::{ProcessInfo, Status};
use pmr_shared::ipc::{Request, Response};
use ratatui::crossterm::event::{self, Event, KeyCode, KeyEventKind, KeyModifiers};
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Color, Modifier, Style, Stylize};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Cell, Paragraph, Row, Sparkline, Table, TableState, Wrap};

use crate::cli::{Client, render};
use crate::clock::now_ms;
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
    pm_id: u32,
    err: bool,
    text: String,
}

#[derive(Default)]
struct History {
    cpu: VecDeque<u64>,
    mem: VecDeque<u64>,
}

struct Monit {
    list: Vec<ProcessInfo>,
    table: TableState,
    history: HashMap<u32, History>,
    logs: HashMap<u32, VecDeque<(bool, String)>>,
}

pub(crate) fn run(paths: &Paths) -> anyhow::Result<ExitCode> {
    if !std::io::stdout().is_terminal() || !std::io::stdin().is_terminal() {
        anyhow::bail!("pmr monit needs a terminal; use `pmr list` or `pmr jlist` in scripts");
    }
    let mut client = Client::connect_or_start(paths)?;
    let mut follower = Client::connect_or_start(paths)?;
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
    let mut m = Monit {
        list: Vec::new(),
        table: TableState::default().with_selected(Some(0)),
        history: HashMap::new(),
        logs: HashMap::new(),
    };
    m.refresh(&mut client)?;
    // Some history to start with, from the files; then what is pushed.
    // (A line written between the subscription and this read may show twice.)
    for p in &m.list {
        let buf = m.logs.entry(p.pm_id).or_default();
        for (path, err) in [(&p.out_log, false), (&p.err_log, true)] {
            let lines = crate::logs::tail::last_lines(path, PREFILL).unwrap_or_default();
            buf.extend(lines.into_iter().map(|l| (err, l)));
        }
    }
    let mut terminal = ratatui::try_init()?;
    let result = m.run_loop(&mut terminal, &mut client, &rx);
    ratatui::restore();
    result?;
    Ok(ExitCode::SUCCESS)
}

impl Monit {
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

    fn select(&mut self, delta: isize) {
        let n = self.list.len() as isize;
        if n == 0 {
            return;
        }
        let cur = self.table.selected().unwrap_or(0) as isize;
        self.table
            .select(Some((cur + delta).clamp(0, n - 1) as usize));
    }

    fn selected(&self) -> Option<&ProcessInfo> {
        self.table.selected().and_then(|i| self.list.get(i))
    }

    fn draw(&mut self, f: &mut ratatui::Frame) {
        let [main, help] =
            Layout::vertical([Constraint::Min(8), Constraint::Length(1)]).areas(f.area());
        let [top, bottom] =
            Layout::vertical([Constraint::Percentage(60), Constraint::Percentage(40)]).areas(main);
        let [procs, logs] =
            Layout::horizontal([Constraint::Percentage(45), Constraint::Percentage(55)]).areas(top);
        let [cpu, mem, meta] = Layout::horizontal([
            Constraint::Percentage(33),
            Constraint::Percentage(33),
            Constraint::Percentage(34),
        ])
        .areas(bottom);
        self.draw_processes(f, procs);
        self.draw_logs(f, logs);
        self.draw_charts(f, cpu, mem);
        self.draw_meta(f, meta);
        f.render_widget(
            Line::from(vec![
                " q ".reversed(),
                " quit  ".into(),
                " ↑↓ ".reversed(),
                " select app  ".into(),
                format!(" {} apps ", self.list.len()).dim(),
            ]),
            help,
        );
    }

    fn draw_processes(&mut self, f: &mut ratatui::Frame, area: Rect) {
        let rows = self.list.iter().map(|p| {
            Row::new(vec![
                Cell::from(p.pm_id.to_string()),
                Cell::from(p.spec.name.clone()),
                Cell::from(p.status.as_str()).style(status_style(p.status)),
                Cell::from(format!("{:.1}%", p.cpu)),
                Cell::from(render::bytes(p.memory)),
                Cell::from(p.restart_time.to_string()),
            ])
        });
        let table = Table::new(
            rows,
            [
                Constraint::Length(4),
                Constraint::Fill(1),
                Constraint::Length(9),
                Constraint::Length(7),
                Constraint::Length(9),
                Constraint::Length(4),
            ],
        )
        .header(Row::new(["id", "name", "status", "cpu", "mem", "↺"]).bold())
        .row_highlight_style(Style::new().add_modifier(Modifier::REVERSED))
        .block(Block::bordered().title(" Processes "));
        f.render_stateful_widget(table, area, &mut self.table);
    }

    fn draw_logs(&self, f: &mut ratatui::Frame, area: Rect) {
        let (title, lines) = match self.selected() {
            Some(p) => {
                let height = area.height.saturating_sub(2) as usize;
                let lines: Vec<Line> = self
                    .logs
                    .get(&p.pm_id)
                    .map(|buf| {
                        let skip = buf.len().saturating_sub(height);
                        buf.iter()
                            .skip(skip)
                            .map(|(err, text)| {
                                let style = if *err {
                                    Style::new().fg(Color::Red)
                                } else {
                                    Style::new()
                                };
                                Line::styled(text.clone(), style)
                            })
                            .collect()
                    })
                    .unwrap_or_default();
                (format!(" {} logs ", p.spec.name), lines)
            }
            None => (
                " Logs ".into(),
                vec![Line::from("no apps: start one with `pmr start`".dim())],
            ),
        };
        f.render_widget(
            Paragraph::new(lines).block(Block::bordered().title(title)),
            area,
        );
    }

    fn draw_charts(&self, f: &mut ratatui::Frame, cpu: Rect, mem: Rect) {
        let Some(p) = self.selected() else {
            f.render_widget(Block::bordered().title(" CPU "), cpu);
            f.render_widget(Block::bordered().title(" Memory "), mem);
            return;
        };
        let h = self.history.get(&p.pm_id);
        // Newest at the right edge: show the last samples that fit.
        let tail = |d: Option<&VecDeque<u64>>, width: u16| -> Vec<u64> {
            let d = d
                .map(|d| d.iter().copied().collect::<Vec<_>>())
                .unwrap_or_default();
            let skip = d.len().saturating_sub(width.saturating_sub(2) as usize);
            d[skip..].to_vec()
        };
        let cpu_data = tail(h.map(|h| &h.cpu), cpu.width);
        let peak = cpu_data.iter().copied().max().unwrap_or(0).max(1000);
        f.render_widget(
            Sparkline::default()
                .block(Block::bordered().title(format!(" CPU {:.1}% ", p.cpu)))
                .data(&cpu_data)
                .max(peak)
                .style(Style::new().fg(Color::Green)),
            cpu,
        );
        let mem_data = tail(h.map(|h| &h.mem), mem.width);
        f.render_widget(
            Sparkline::default()
                .block(Block::bordered().title(format!(" Memory {} ", render::bytes(p.memory))))
                .data(&mem_data)
                .style(Style::new().fg(Color::Cyan)),
            mem,
        );
    }

    fn draw_meta(&self, f: &mut ratatui::Frame, area: Rect) {
        let Some(p) = self.selected() else {
            f.render_widget(Block::bordered().title(" Metadata "), area);
            return;
        };
        let uptime = if p.status == Status::Online {
            render::uptime(now_ms().saturating_sub(p.pm_uptime))
        } else {
            "0".into()
        };
        let kv = |k: &str, v: String| {
            Line::from(vec![Span::from(format!("{k:<13}")).bold(), Span::from(v)])
        };
        let mut lines = vec![
            kv("app", format!("{} [{}]", p.spec.name, p.pm_id)),
            kv("namespace", p.spec.namespace.clone()),
            kv("pid", p.pid.to_string()),
            kv("uptime", uptime),
            kv("restarts", p.restart_time.to_string()),
            kv("script", p.spec.script.clone()),
            kv("interpreter", p.spec.interpreter.clone()),
            kv("exec mode", p.spec.exec_mode.clone()),
            kv(
                "watching",
                if p.spec.watch.is_empty() { "no" } else { "yes" }.into(),
            ),
        ];
        // Custom metrics (@pm2/io) under the facts.
        for (name, v) in &p.axm_monitor {
            lines.push(kv(name, render::metric_text(v)));
        }
        f.render_widget(
            Paragraph::new(lines)
                .wrap(Wrap { trim: true })
                .block(Block::bordered().title(" Metadata ")),
            area,
        );
    }
}

fn status_style(s: Status) -> Style {
    match s {
        Status::Online => Style::new().fg(Color::Green).bold(),
        Status::Stopped => Style::new().fg(Color::DarkGray),
        Status::Errored => Style::new().fg(Color::Red).bold(),
        _ => Style::new().fg(Color::Yellow),
    }
}
