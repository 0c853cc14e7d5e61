//! A real `pmr` binary against a private `$PMR_HOME`: each test gets its own
//! daemon, killed when the test ends, whatever happens.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::Duration;

use serde_json::Value;

pub use pmr_tests::{PATIENCE, wait_until};

pub struct Pmr {
    pub home: tempfile::TempDir,
    pub work: tempfile::TempDir,
}

impl Pmr {
    pub fn new() -> Self {
        // Short paths: Unix socket names are limited to about 100 bytes.
        let home = tempfile::Builder::new()
            .prefix("pmr")
            .tempdir_in("/tmp")
            .unwrap();
        let work = tempfile::Builder::new()
            .prefix("pmw")
            .tempdir_in("/tmp")
            .unwrap();
        Self { home, work }
    }

    pub fn home(&self) -> &Path {
        self.home.path()
    }

    pub fn work(&self) -> &Path {
        self.work.path()
    }

    pub fn command(&self) -> Command {
        let mut c = Command::new(env!("CARGO_BIN_EXE_pmr"));
        c.env("PMR_HOME", self.home())
            .env("NO_COLOR", "1")
            .current_dir(self.work());
        c
    }

    pub fn run(&self, args: &[&str]) -> Output {
        self.command().args(args).output().expect("pmr runs")
    }

    /// Runs and asserts success; returns stdout.
    pub fn ok(&self, args: &[&str]) -> String {
        let out = self.run(args);
        assert!(
            out.status.success(),
            "pmr {args:?} failed ({}):\nstdout: {}\nstderr: {}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    }

    /// Runs and asserts failure; returns stderr.
    pub fn fails(&self, args: &[&str]) -> String {
        let out = self.run(args);
        assert!(
            !out.status.success(),
            "pmr {args:?} should fail: {}",
            String::from_utf8_lossy(&out.stdout)
        );
        String::from_utf8(out.stderr).unwrap()
    }

    pub fn jlist(&self) -> Vec<Value> {
        serde_json::from_str(&self.ok(&["jlist"])).expect("jlist is JSON")
    }

    /// The jlist entry with this pm_id.
    pub fn proc(&self, id: u64) -> Value {
        self.jlist()
            .into_iter()
            .find(|p| p["pm_id"] == id)
            .unwrap_or_else(|| panic!("no process with id {id}"))
    }

    pub fn status(&self, id: u64) -> String {
        self.proc(id)["pm2_env"]["status"]
            .as_str()
            .unwrap()
            .to_string()
    }

    pub fn wait_status(&self, id: u64, want: &str) -> Value {
        wait_until(&format!("process {id} {want}"), || {
            let p = self.proc(id);
            (p["pm2_env"]["status"] == want).then_some(p)
        })
    }

    pub fn write(&self, name: &str, body: &str) -> PathBuf {
        let p = self.work().join(name);
        std::fs::write(&p, body).unwrap();
        p
    }

    pub fn log(&self, name: &str) -> String {
        std::fs::read_to_string(self.home().join("logs").join(name)).unwrap_or_default()
    }

    pub fn daemon_pid(&self) -> Option<i32> {
        std::fs::read_to_string(self.home().join("pm2.pid"))
            .ok()?
            .trim()
            .parse()
            .ok()
    }
}

impl Drop for Pmr {
    fn drop(&mut self) {
        let pid = self.daemon_pid();
        let killed = self
            .command()
            .arg("kill")
            .output()
            .is_ok_and(|o| o.status.success());
        // Only when `pmr kill` failed, and only if that pid is still our pmr.
        if let (false, Some(pid)) = (killed, pid) {
            let cmd = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
            if String::from_utf8_lossy(&cmd).contains("pmr") {
                let _ = Command::new("kill").args(["-9", &pid.to_string()]).output();
            }
        }
    }
}

pub fn pid_alive(pid: i64) -> bool {
    let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
        return false;
    };
    !stat
        .rsplit_once(") ")
        .is_some_and(|(_, rest)| rest.starts_with('Z'))
}

/// Pids of live processes whose command line contains `marker`.
pub fn pids_with(marker: &str) -> Vec<u32> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let Ok(cmd) = std::fs::read(format!("/proc/{pid}/cmdline")) else {
            continue;
        };
        if String::from_utf8_lossy(&cmd).contains(marker) && pid_alive(pid.into()) {
            found.push(pid);
        }
    }
    found
}

/// One HTTP/1.1 request to `127.0.0.1:port` on a new connection, with
/// `Basic` credentials if given: (status, body), or `None` if it failed.
pub fn http(port: u16, method: &str, path: &str, auth: Option<&str>) -> Option<(u16, String)> {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(10))).ok()?;
    let auth = auth.map_or(String::new(), |a| format!("Authorization: Basic {a}\r\n"));
    let req = format!("{method} {path} HTTP/1.1\r\nHost: x\r\n{auth}Connection: close\r\n\r\n");
    s.write_all(req.as_bytes()).ok()?;
    let mut out = String::new();
    s.read_to_string(&mut out).ok()?;
    let status = out.split_whitespace().nth(1)?.parse().ok()?;
    Some((status, out.split_once("\r\n\r\n")?.1.to_string()))
}
