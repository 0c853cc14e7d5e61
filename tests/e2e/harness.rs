//! Starting real hubs and agents in temp directories.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};

use serde_json::Value;

pub use pmr_tests::{PATIENCE, wait_for, wait_until};

/// `target/debug` (or wherever this test binary was built).
pub fn bin(name: &str) -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    let dir = exe.parent().unwrap().parent().unwrap();
    let p = dir.join(name);
    assert!(
        p.exists(),
        "{} not built; run `cargo test --workspace`",
        p.display()
    );
    p
}

/// TLS material for a hub.
pub enum Tls {
    /// Plain ws:// and http://.
    None,
    /// `--self-signed`; agents pin the printed fingerprint.
    SelfSigned,
    /// A certificate from a CA made for the test.
    Ca {
        cert: PathBuf,
        key: PathBuf,
        ca: PathBuf,
    },
}

/// Runs git in `repo` as a fixed author; panics if it fails.
pub fn git(repo: &std::path::Path, args: &[&str]) {
    let ok = Command::new("git")
        .args(["-c", "user.name=t", "-c", "user.email=t@e"])
        .args(args)
        .current_dir(repo)
        .status()
        .unwrap();
    assert!(ok.success(), "git {args:?}");
}

pub struct Hub {
    pub dir: tempfile::TempDir,
    /// The hub's database URL when it is not SQLite in `dir`.
    pub database: Option<String>,
    /// The cluster this hub's database lives in, when the hub started it
    /// (`PMR_TEST_HUB_DATABASE=postgres`); stopped after the hub.
    _cluster: Option<pmr_tests::postgres::Postgres>,
    pub port: u16,
    child: Option<Child>,
    pub token: String,
    pub secret: String,
    pub public: String,
    pub fingerprint: Option<String>,
    tls: bool,
    extra: Vec<String>,
    env: Vec<(String, String)>,
}

impl Hub {
    pub fn start(tls: Tls) -> Hub {
        Self::start_with(tls, &[])
    }

    pub fn start_with(tls: Tls, extra: &[&str]) -> Hub {
        Self::start_env(tls, extra, &[])
    }

    /// A hub whose process also gets the variables `env` (proxies, roots).
    pub fn start_env(tls: Tls, extra: &[&str], env: &[(&str, &str)]) -> Hub {
        let cluster = on_postgres().then(pmr_tests::postgres::Postgres::start);
        let database = cluster.as_ref().map(|pg| {
            pg.create_database("hub");
            pg.url("hub")
        });
        let mut hub = Self::start_on(tls, database, extra, env);
        hub._cluster = cluster;
        hub
    }

    /// A plain hub on SQLite in its directory, whatever the suite's store.
    pub fn on_sqlite() -> Hub {
        Self::start_on(Tls::None, None, &[], &[])
    }

    /// A plain hub on the database at `url` (the caller runs its cluster),
    /// with the sealing key every replica of a database shares.
    pub fn on_database(url: &str) -> Hub {
        let key = ("PMR_HUB_SECRETS_KEY", REPLICAS_KEY);
        Self::start_on(Tls::None, Some(url.to_string()), &[], &[key])
    }

    fn start_on(tls: Tls, database: Option<String>, extra: &[&str], env: &[(&str, &str)]) -> Hub {
        let dir = tempfile::Builder::new()
            .prefix("hub")
            .tempdir_in("/tmp")
            .unwrap();
        let admin = |args: &[&str]| admin(command(dir.path(), database.as_deref()), args);
        let keys = admin(&["keys", "create", "--bucket", "prod"]);
        let text = String::from_utf8(keys.stdout).unwrap();
        let secret = text
            .lines()
            .find_map(|l| l.strip_prefix("secret key: "))
            .unwrap()
            .trim()
            .to_string();
        let public = text
            .lines()
            .find_map(|l| l.strip_prefix("public key: "))
            .unwrap()
            .trim()
            .to_string();
        let token = String::from_utf8(admin(&["tokens", "create", "--name", "e2e"]).stdout)
            .unwrap()
            .trim()
            .to_string();
        let mut extra: Vec<String> = extra.iter().map(|s| s.to_string()).collect();
        let is_tls = !matches!(tls, Tls::None);
        match tls {
            Tls::None => {}
            Tls::SelfSigned => extra.push("--self-signed".into()),
            Tls::Ca { cert, key, .. } => extra.extend([
                "--tls-cert".into(),
                cert.display().to_string(),
                "--tls-key".into(),
                key.display().to_string(),
            ]),
        }
        let mut hub = Hub {
            dir,
            database,
            _cluster: None,
            port: 0,
            child: None,
            token,
            secret,
            public,
            fingerprint: None,
            tls: is_tls,
            extra,
            env: env
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        };
        hub.spawn();
        hub
    }

    fn spawn(&mut self) {
        let mut child = self
            .command()
            .arg("serve")
            .arg("--listen")
            .arg(format!("127.0.0.1:{}", self.port))
            .args(&self.extra)
            .env_clear_proxies()
            .envs(self.env.iter().map(|(k, v)| (k, v)))
            .stdout(Stdio::piped())
            .stderr(
                std::fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(self.dir.path().join("hub.log"))
                    .unwrap(),
            )
            .spawn()
            .unwrap();
        let mut out = BufReader::new(child.stdout.take().unwrap());
        loop {
            let mut line = String::new();
            assert!(
                out.read_line(&mut line).unwrap() > 0,
                "the hub exited before listening"
            );
            if let Some(fp) = line.strip_prefix("TLS certificate fingerprint (SHA-256): ") {
                self.fingerprint = Some(fp.trim().to_string());
            }
            if line.starts_with("pmr-hub listening") {
                // Port 0 the first time; the same port again on restart.
                self.port = line
                    .trim()
                    .rsplit(':')
                    .next()
                    .and_then(|p| p.parse().ok())
                    .expect("a port");
                break;
            }
        }
        // Keep draining stdout (into hub.out) so the hub never blocks on it.
        let mut copy = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.dir.path().join("hub.out"))
            .unwrap();
        std::thread::spawn(move || {
            let _ = std::io::copy(&mut out, &mut copy);
        });
        self.child = Some(child);
    }

    pub fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// Stops the hub as a service manager does (SIGTERM) and waits for it.
    pub fn terminate(&mut self) {
        if let Some(mut c) = self.child.take() {
            let pid = c.id().to_string();
            let _ = Command::new("kill").args(["-TERM", &pid]).status();
            let _ = c.wait();
        }
    }

    pub fn restart(&mut self) {
        self.stop();
        self.spawn();
    }

    pub fn ws_url(&self) -> String {
        format!(
            "{}://127.0.0.1:{}",
            if self.tls { "wss" } else { "ws" },
            self.port
        )
    }

    /// What the hub printed (stdout) after it started listening.
    pub fn out(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("hub.out")).unwrap_or_default()
    }

    /// What the hub wrote to its log (stderr) so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("hub.log")).unwrap_or_default()
    }

    pub fn admin(&self, args: &[&str]) -> Output {
        admin(self.command(), args)
    }

    /// `pmr-hub` on this hub's data (its directory and database), no
    /// proxy variables: add the subcommand.
    pub fn command(&self) -> Command {
        let mut c = command(self.dir.path(), self.database.as_deref());
        c.envs(self.env.iter().map(|(k, v)| (k, v)));
        c
    }

    /// A plain-HTTP request; returns status and JSON (or text as a JSON string).
    pub fn http(
        &self,
        method: &str,
        path: &str,
        body: Option<&Value>,
        token: bool,
    ) -> (u16, Value) {
        assert!(!self.tls, "use curl-free TLS helpers for TLS hubs");
        let mut s = TcpStream::connect(("127.0.0.1", self.port)).unwrap();
        s.set_read_timeout(Some(PATIENCE)).unwrap();
        let body = body.map(|b| b.to_string()).unwrap_or_default();
        let auth = if token {
            format!("Authorization: Bearer {}\r\n", self.token)
        } else {
            String::new()
        };
        write!(
            s,
            "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n{auth}Content-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        )
        .unwrap();
        let mut raw = String::new();
        s.read_to_string(&mut raw).unwrap();
        parse_http(&raw)
    }

    pub fn get(&self, path: &str) -> Value {
        let (status, v) = self.http("GET", path, None, true);
        assert_eq!(status, 200, "GET {path}: {v}");
        v
    }

    /// The server named `name` in /api/v1/servers, if any.
    pub fn server(&self, name: &str) -> Option<Value> {
        self.get("/api/v1/servers")
            .as_array()?
            .iter()
            .find(|s| s["name"] == name)
            .cloned()
    }

    pub fn process(&self, server: &str, app: &str) -> Option<Value> {
        self.get(&format!("/api/v1/processes?server={server}&app={app}"))
            .as_array()?
            .first()
            .cloned()
    }
}

pub fn parse_http(raw: &str) -> (u16, Value) {
    let (head, body) = raw.split_once("\r\n\r\n").unwrap_or((raw, ""));
    let status: u16 = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    // Responses here are small; chunked ones have a size line around the body.
    let body = if head
        .to_ascii_lowercase()
        .contains("transfer-encoding: chunked")
    {
        let mut out = String::new();
        let mut rest = body;
        while let Some((size, tail)) = rest.split_once("\r\n") {
            let n = usize::from_str_radix(size.trim(), 16).unwrap_or(0);
            if n == 0 {
                break;
            }
            out.push_str(&tail[..n]);
            rest = &tail[n + 2..];
        }
        out
    } else {
        body.to_string()
    };
    (
        status,
        serde_json::from_str(&body).unwrap_or(Value::String(body)),
    )
}

impl Drop for Hub {
    fn drop(&mut self) {
        self.stop();
    }
}

/// The sealing key of the replicas tests start on one database.
const REPLICAS_KEY: &str = "5eed5eed5eed5eed5eed5eed5eed5eed5eed5eed5eed5eed5eed5eed5eed5eed";

/// Whether hubs keep their data in PostgreSQL (a cluster each), as
/// `PMR_TEST_HUB_DATABASE=postgres` asks: the whole suite then runs on the
/// production store.
fn on_postgres() -> bool {
    std::env::var("PMR_TEST_HUB_DATABASE").is_ok_and(|v| v == "postgres")
}

/// `pmr-hub` on the data in `dir` (and `database`), no proxy variables.
fn command(dir: &Path, database: Option<&str>) -> Command {
    let mut c = Command::new(bin("pmr-hub"));
    c.arg("--data-dir").arg(dir).env_clear_proxies();
    match database {
        Some(url) => c.env("PMR_HUB_DATABASE", url),
        None => c.env_remove("PMR_HUB_DATABASE"),
    };
    c
}

fn admin(mut command: Command, args: &[&str]) -> Output {
    let out = command.args(args).output().unwrap();
    assert!(
        out.status.success(),
        "pmr-hub {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// A `pmr` daemon in its own `$PMR_HOME`.
pub struct Agent {
    pub home: tempfile::TempDir,
    pub work: tempfile::TempDir,
}

impl Agent {
    pub fn new() -> Agent {
        Agent {
            home: tempfile::Builder::new()
                .prefix("pmr")
                .tempdir_in("/tmp")
                .unwrap(),
            work: tempfile::Builder::new()
                .prefix("pmw")
                .tempdir_in("/tmp")
                .unwrap(),
        }
    }

    pub fn run(&self, args: &[&str]) -> Output {
        Command::new(bin("pmr"))
            .env("PMR_HOME", self.home.path())
            .env("NO_COLOR", "1")
            // Reconnect within seconds in tests; production caps at 60 s.
            .env("PMR_LINK_BACKOFF_MAX_MS", "2000")
            .current_dir(self.work.path())
            .args(args)
            .output()
            .unwrap()
    }

    pub fn ok(&self, args: &[&str]) -> String {
        let out = self.run(args);
        assert!(
            out.status.success(),
            "pmr {args:?}: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    }

    pub fn write(&self, name: &str, body: &str) {
        std::fs::write(self.work.path().join(name), body).unwrap();
    }

    pub fn link(&self, hub: &Hub, name: &str, extra: &[&str]) {
        let url = hub.ws_url();
        let mut args = vec!["link", &hub.secret, &hub.public, name, "--hub", &url];
        args.extend_from_slice(extra);
        self.ok(&args);
    }

    pub fn status(&self) -> String {
        self.ok(&["link", "status"])
    }

    pub fn jlist(&self) -> Vec<Value> {
        serde_json::from_str(&self.ok(&["jlist"])).unwrap()
    }
}

impl Drop for Agent {
    fn drop(&mut self) {
        let _ = self.run(&["kill"]);
    }
}

/// The proxy variables a developer's or CI's shell may carry: a test hub
/// reaches its loopback receivers directly unless the test names a proxy.
const PROXY_VARS: [&str; 8] = [
    "HTTP_PROXY",
    "HTTPS_PROXY",
    "ALL_PROXY",
    "NO_PROXY",
    "http_proxy",
    "https_proxy",
    "all_proxy",
    "no_proxy",
];

/// Clears the ambient proxy settings from a command's environment.
pub trait ClearProxies {
    /// The command without any of [`PROXY_VARS`].
    fn env_clear_proxies(&mut self) -> &mut Self;
}

impl ClearProxies for Command {
    fn env_clear_proxies(&mut self) -> &mut Self {
        PROXY_VARS.iter().fold(self, |c, v| c.env_remove(v))
    }
}
