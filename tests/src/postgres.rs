//! A PostgreSQL cluster of a test's own: `initdb` in a temporary directory,
//! the server on a free loopback port with its socket in that directory,
//! stopped at once when the value drops. Tests never depend on a system
//! service. PostgreSQL refuses to run as root, so as root (CI, containers)
//! the cluster belongs to, and runs as, the `postgres` user.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// A running cluster; connect with [`Postgres::url`].
pub struct Postgres {
    dir: tempfile::TempDir,
    port: u16,
    bin: PathBuf,
    /// The server's options, for a start again after a stop.
    options: String,
}

impl Postgres {
    /// Makes and starts a cluster (trust authentication for the `postgres`
    /// role on loopback, durability off: these are throwaway clusters).
    pub fn start() -> Postgres {
        Self::start_with(|_| String::new())
    }

    /// A cluster that speaks TLS with this certificate and key (PEM files,
    /// copied into the cluster's directory for the server to own).
    pub fn start_tls(cert: &Path, key: &Path) -> Postgres {
        Self::start_with(|dir| {
            let (c, k) = (dir.join("server.crt"), dir.join("server.key"));
            std::fs::copy(cert, &c).expect("the certificate");
            std::fs::copy(key, &k).expect("the key");
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&k, std::fs::Permissions::from_mode(0o600)).unwrap();
            if let Some((uid, gid)) = server_user() {
                for f in [&c, &k] {
                    std::os::unix::fs::chown(f, Some(uid), Some(gid)).expect("chown to postgres");
                }
            }
            format!(
                " -c ssl=on -c ssl_cert_file={} -c ssl_key_file={}",
                path(&c),
                path(&k)
            )
        })
    }

    /// Makes and starts a cluster with the server options `extra` returns
    /// (given the cluster's directory).
    fn start_with(extra: impl FnOnce(&Path) -> String) -> Postgres {
        let bin = bin_dir();
        let dir = tempfile::Builder::new()
            .prefix("pg")
            .tempdir_in("/tmp")
            .expect("a temporary directory");
        let owner = server_user();
        if let Some((uid, gid)) = owner {
            std::os::unix::fs::chown(dir.path(), Some(uid), Some(gid)).expect("chown to postgres");
        }
        let data = dir.path().join("data");
        let mut pg = Postgres {
            port: free_port(),
            bin,
            dir,
            options: String::new(),
        };
        pg.run(
            "initdb",
            &[
                "-D",
                path(&data),
                "-U",
                "postgres",
                "--auth=trust",
                "--encoding=UTF8",
                "--no-sync",
            ],
        );
        pg.options = format!(
            "-p {} -k {} -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off \
             -c full_page_writes=off -c max_connections=200{}",
            pg.port,
            path(pg.dir.path()),
            extra(pg.dir.path()),
        );
        pg.start_again();
        pg
    }

    /// Stops the server (its clients are disconnected), keeping its data.
    pub fn stop(&self) {
        let data = self.dir.path().join("data");
        self.run("pg_ctl", &["-D", path(&data), "-m", "fast", "-w", "stop"]);
    }

    /// Starts the server (again, after [`Postgres::stop`]) on its port.
    pub fn start_again(&self) {
        let data = self.dir.path().join("data");
        let log = self.dir.path().join("server.log");
        let args = [
            "-D",
            path(&data),
            "-l",
            path(&log),
            "-o",
            &self.options,
            "-w",
            "start",
        ];
        self.run_logged("pg_ctl", &args);
    }

    /// The cluster's port on 127.0.0.1.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// A connection URL for database `db` as the `postgres` role.
    pub fn url(&self, db: &str) -> String {
        format!("postgres://postgres@127.0.0.1:{}/{db}", self.port)
    }

    /// Runs SQL in database `db` with `psql`; its output, unaligned.
    pub fn psql(&self, db: &str, sql: &str) -> String {
        let out = Command::new(self.bin.join("psql"))
            .args([
                "-X",
                "-A",
                "-t",
                "-v",
                "ON_ERROR_STOP=1",
                "-d",
                &self.url(db),
            ])
            .args(["-c", sql])
            .output()
            .expect("psql runs");
        checked("psql", &out);
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    }

    /// Creates an empty database.
    pub fn create_database(&self, name: &str) {
        self.psql("postgres", &format!("CREATE DATABASE \"{name}\""));
    }

    /// One of the server's programs, run as `postgres` when we are root.
    fn command(&self, program: &str) -> Command {
        let exe = self.bin.join(program);
        match server_user() {
            Some(_) => {
                let mut c = Command::new("runuser");
                c.args(["-u", "postgres", "--"]).arg(exe);
                c
            }
            None => Command::new(exe),
        }
    }

    /// Starts the server; on failure, its log says why.
    fn run_logged(&self, program: &str, args: &[&str]) {
        let out = self.command(program).args(args).output().expect(program);
        if !out.status.success() {
            let log = std::fs::read_to_string(self.dir.path().join("server.log"));
            panic!(
                "{program}: {}{}\nserver log:\n{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr),
                log.unwrap_or_default()
            );
        }
    }

    /// Runs one of the server's programs; it must succeed.
    fn run(&self, program: &str, args: &[&str]) -> Output {
        let out = self
            .command(program)
            .args(args)
            .output()
            .unwrap_or_else(|e| panic!("{program}: {e}"));
        checked(program, &out);
        out
    }
}

impl Drop for Postgres {
    fn drop(&mut self) {
        let data = self.dir.path().join("data");
        let args = ["-D", path(&data), "-m", "immediate", "stop"];
        let _ = self.command("pg_ctl").args(args).output();
    }
}

/// Where the server's programs are: `PMR_PG_BIN`, else the newest
/// `/usr/lib/postgresql/<version>/bin` (Debian's layout), else `PATH`.
fn bin_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("PMR_PG_BIN") {
        return PathBuf::from(dir);
    }
    let newest = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| Some((e.file_name().to_str()?.parse::<u32>().ok()?, e.path())))
        .max_by_key(|(v, _)| *v)
        .map(|(_, p)| p.join("bin"));
    newest
        .filter(|b| b.join("initdb").exists())
        .unwrap_or_default()
}

/// The `postgres` user's ids when this process is root, else `None`.
fn server_user() -> Option<(u32, u32)> {
    // Our own uid, from /proc/self/status (this crate makes no libc calls).
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let uid = status
        .lines()
        .find_map(|l| l.strip_prefix("Uid:"))?
        .split_whitespace()
        .next()?;
    if uid != "0" {
        return None;
    }
    let id = |flag: &str| -> Option<u32> {
        let out = Command::new("id").args([flag, "postgres"]).output().ok()?;
        String::from_utf8_lossy(&out.stdout).trim().parse().ok()
    };
    Some((
        id("-u").expect("a postgres user to run the cluster as"),
        id("-g")?,
    ))
}

/// A port free on 127.0.0.1 now (below the ephemeral range, so a client
/// socket cannot take it between now and the server's bind). Each call in
/// a process looks past the last port it gave: clusters started at once by
/// parallel tests never race for one port.
fn free_port() -> u16 {
    use std::sync::atomic::{AtomicU16, Ordering};
    static NEXT: AtomicU16 = AtomicU16::new(0);
    let base = 20_000 + (std::process::id() % 5_000) as u16 * 2;
    loop {
        let p = base + NEXT.fetch_add(1, Ordering::Relaxed) % 2_000;
        if std::net::TcpListener::bind(("127.0.0.1", p)).is_ok() {
            return p;
        }
    }
}

fn path(p: &Path) -> &str {
    p.to_str().expect("a UTF-8 path")
}

fn checked(program: &str, out: &Output) {
    assert!(
        out.status.success(),
        "{program}: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cluster_of_its_own_starts_answers_and_is_gone_after() {
        let pg = Postgres::start();
        assert_eq!(pg.psql("postgres", "SELECT 1 + 1"), "2");
        pg.create_database("hub");
        assert_eq!(pg.psql("hub", "SELECT current_database()"), "hub");
        let data = pg.dir.path().join("data").join("postmaster.pid");
        assert!(data.exists());
        let port = pg.port();
        drop(pg);
        assert!(std::net::TcpStream::connect(("127.0.0.1", port)).is_err());
    }
}
