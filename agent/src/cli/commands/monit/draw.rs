//! Drawing `pmr monit`'s screen from its state: the process table, the
//! selected app's logs, CPU and memory sparklines, and its metadata.
//!
//! Pure rendering: nothing here reads the daemon or changes what is shown,
//! so the polling and key handling in `monit/mod.rs` stay apart from layout.

use std::collections::VecDeque;

use pmr_shared::app::Status;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Color, Modifier, Style, Stylize};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Cell, Paragraph, Row, Sparkline, Table, Wrap};

use super::Monit;
use crate::cli::render;
use crate::clock::now_ms;

impl Monit {
    /// Lays the screen out and draws every pane.
    pub(super) fn draw(&mut self, f: &mut ratatui::Frame) {
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

    /// The process table, with the selection highlighted (`&mut self`:
    /// ratatui keeps the table's scroll offset in `self.table`).
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

    /// The selected app's last log lines that fit, errors in red.
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

    /// CPU and memory sparklines of the selected app, newest at the right.
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
        // Samples are tenths of a percent: the scale is at least 100 %,
        // and grows for a multi-threaded app above one core.
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

    /// The selected app's facts and custom metrics.
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

/// A status in the colours of `pmr list`.
fn status_style(s: Status) -> Style {
    match s {
        Status::Online => Style::new().fg(Color::Green).bold(),
        Status::Stopped => Style::new().fg(Color::DarkGray),
        Status::Errored => Style::new().fg(Color::Red).bold(),
        _ => Style::new().fg(Color::Yellow),
    }
}
