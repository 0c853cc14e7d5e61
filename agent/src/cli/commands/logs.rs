//! `pmr logs`: the last lines of each app's files, then new lines as the
//! daemon writes them (pushed over the socket, no file polling).

use std::collections::HashMap;
use std::io::Write;
use std::process::ExitCode;

use clap::Args;
use pmr_shared::app::ProcessInfo;
use pmr_shared::ipc::{Request, Response};

use crate::cli::{Client, render};
use crate::logs::tail::{last_lines, lines_since};
use crate::paths::Paths;

/// At most this much of each file is printed after a hand-over.
const CATCH_UP_CAP: u64 = 1 << 20;

/// `pmr logs` options, as pm2 names them.
#[derive(Debug, Args)]
pub struct LogsArgs {
    /// Name, id or namespace; every app when absent.
    pub target: Option<String>,
    /// How many past lines to show per file.
    #[arg(long, default_value_t = 15)]
    pub lines: usize,
    /// Print the past lines and exit.
    #[arg(long)]
    pub nostream: bool,
    /// Only stdout.
    #[arg(long)]
    pub out: bool,
    /// Only stderr.
    #[arg(long)]
    pub err: bool,
    /// Lines without the `id|name |` prefix.
    #[arg(long)]
    pub raw: bool,
    /// No colours.
    #[arg(long)]
    pub no_color: bool,
    /// One JSON object per line: message, timestamp, type, process_id, app_name.
    #[arg(long, conflicts_with_all = ["raw", "format"])]
    pub json: bool,
    /// `timestamp=… app=… id=… type=… message=…` lines.
    #[arg(long, conflicts_with = "raw")]
    pub format: bool,
    /// Prefix each line with the time it is printed (dayjs format).
    #[arg(long, num_args = 0..=1, default_missing_value = "YYYY-MM-DD-HH:mm:ss")]
    pub timestamp: Option<String>,
}

impl LogsArgs {
    /// Lines only, no headers: for raw text and the machine-readable forms.
    fn bare(&self) -> bool {
        self.raw || self.json || self.format
    }
}

/// `pmr logs`: the last lines of the target's log files, then (unless
/// `--nostream`) the lines the daemon pushes as the apps write them.
pub(crate) fn run(paths: &Paths, args: LogsArgs) -> anyhow::Result<ExitCode> {
    // Subscribe before reading the files, so no line falls between the tail
    // and the stream (one may show twice, none is lost).
    let mut follower = Client::connect_or_start(paths)?;
    let subscribe = Request::Logs {
        target: args.target.clone(),
    };
    if !args.nostream {
        follower.request(&subscribe)?;
    }
    // A second connection: once subscribed, the first one only streams.
    let mut client = Client::connect_or_start(paths)?;
    let list = match client.request(&Request::List {
        full: false,
        targets: args.target.iter().cloned().collect(),
    })? {
        Response::Processes { list } => list,
        _ => Vec::new(),
    };
    let on = render::color(args.no_color);
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    if args.lines > 0 {
        tail_files(&mut out, &list, &args, on)?;
    }
    if args.nostream {
        return Ok(ExitCode::SUCCESS);
    }
    // Where each file's streamed lines end: after losing the daemon, the
    // file is read on from there (a line written but never streamed is not
    // lost; one may show twice). Old daemons say no `end`: then from the
    // files' sizes when the stream broke, as before.
    let mut read_to = sizes(&list);
    let mut ends_known = true;
    loop {
        let frame = match follower.next() {
            Ok(Some(frame)) => frame,
            ended => {
                if !ends_known {
                    read_to = sizes(&list);
                }
                if !follower.resubscribe(&subscribe) {
                    return ended.map(|_| ExitCode::SUCCESS);
                }
                eprintln!(
                    "[PMR] the daemon was replaced (pmr update, or a crash); following the new one"
                );
                let from = std::mem::replace(&mut read_to, sizes(&list));
                catch_up(&mut out, &list, &from, &args, on)?;
                continue;
            }
        };
        match frame {
            Response::Log {
                pm_id,
                name,
                stream,
                data,
                end,
            } => {
                match end {
                    Some(end) => {
                        if let Some(path) = file_of(&list, pm_id, &stream) {
                            read_to.insert(path, end);
                        }
                    }
                    None => ends_known = false,
                }
                if (args.out && stream != "out") || (args.err && stream != "err") {
                    continue;
                }
                for line in data.lines() {
                    print_line(&mut out, pm_id, &name, stream == "err", line, &args, on)?;
                }
                out.flush()?;
            }
            Response::Error { message, .. } => eprintln!("[PMR] {message}"),
            _ => {}
        }
    }
}

/// The file instance `pm_id` writes `stream` to, if it was listed.
fn file_of<'a>(list: &'a [ProcessInfo], pm_id: u32, stream: &str) -> Option<&'a str> {
    let p = list.iter().find(|p| p.pm_id == pm_id)?;
    Some(if stream == "err" {
        &p.err_log
    } else {
        &p.out_log
    })
}

/// The files a follow prints, each with whether it is stderr. A file
/// several instances share (`merge_logs`, a common `out_file`) comes once,
/// under the first instance that names it.
fn files<'a>(
    list: &'a [ProcessInfo],
    args: &'a LogsArgs,
) -> impl Iterator<Item = (&'a ProcessInfo, &'a String, bool)> {
    let mut seen = Vec::new();
    list.iter()
        .flat_map(|p| [(p, &p.out_log, false), (p, &p.err_log, true)])
        .filter(move |(_, path, err)| {
            let wanted = !((args.out && *err) || (args.err && !*err) || *path == "/dev/null");
            let first = !seen.contains(path);
            seen.push(*path);
            wanted && first
        })
}

/// Each log file's length now.
fn sizes(list: &[ProcessInfo]) -> HashMap<&str, u64> {
    list.iter()
        .flat_map(|p| [p.out_log.as_str(), p.err_log.as_str()])
        .map(|path| (path, std::fs::metadata(path).map_or(0, |m| m.len())))
        .collect()
}

/// Prints the lines written since `sizes` (a line written meanwhile may
/// come again with the stream; none is lost).
fn catch_up(
    out: &mut impl Write,
    list: &[ProcessInfo],
    sizes: &HashMap<&str, u64>,
    args: &LogsArgs,
    on: bool,
) -> anyhow::Result<()> {
    for (p, path, err) in files(list, args) {
        let from = sizes.get(path.as_str()).copied().unwrap_or(0);
        for line in lines_since(path, from, CATCH_UP_CAP).unwrap_or_default() {
            print_line(out, p.pm_id, &p.spec.name, err, &line, args, on)?;
        }
    }
    out.flush()?;
    Ok(())
}

/// Prints one line as asked: pm2's `id|name |` prefix (coloured), raw,
/// JSON, or with a timestamp. The time is when the line is printed: the
/// files hold no time of their own unless `log_date_format` put it there.
fn print_line(
    out: &mut impl Write,
    id: u32,
    name: &str,
    err: bool,
    line: &str,
    args: &LogsArgs,
    on: bool,
) -> std::io::Result<()> {
    let stream = if err { "err" } else { "out" };
    if args.json {
        let record =
            crate::logs::json_lines(format!("{line}\n").as_bytes(), None, name, id, stream);
        return out.write_all(&record);
    }
    let stamp = args.timestamp.as_deref().map(|f| {
        chrono::Local::now()
            .format(&crate::logs::dayjs::to_strftime(f))
            .to_string()
    });
    if args.format {
        let now = stamp.unwrap_or_else(|| chrono::Local::now().to_rfc3339());
        return writeln!(
            out,
            "timestamp={now} app={name} id={id} type={stream} message={line}"
        );
    }
    let line = match &stamp {
        Some(s) => format!("{s}: {line}"),
        None => line.to_string(),
    };
    if args.raw {
        return writeln!(out, "{line}");
    }
    let prefix = format!("{id}|{name:<10}|");
    let colour = if err { "31" } else { "32" };
    if on {
        writeln!(out, "\x1b[{colour}m{prefix}\x1b[39m {line}")
    } else {
        writeln!(out, "{prefix} {line}")
    }
}

/// Prints the last `--lines` lines of each instance's out and err logs.
fn tail_files(
    out: &mut impl Write,
    list: &[ProcessInfo],
    args: &LogsArgs,
    on: bool,
) -> anyhow::Result<()> {
    if !args.bare() {
        let what = args
            .target
            .as_deref()
            .map_or("all processes".to_string(), |t| format!("[{t}] process"));
        writeln!(
            out,
            "[TAILING] Tailing last {} lines for {what} (change the value with --lines option)",
            args.lines
        )?;
    }
    for (p, path, err) in files(list, args) {
        let lines = last_lines(path, args.lines).unwrap_or_default();
        if !args.bare() {
            writeln!(out, "{path} last {} lines:", args.lines)?;
        }
        for line in lines {
            print_line(out, p.pm_id, &p.spec.name, err, &line, args, on)?;
        }
        if !args.bare() {
            writeln!(out)?;
        }
    }
    Ok(())
}
