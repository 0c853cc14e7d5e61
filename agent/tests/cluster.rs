//! Cluster mode: N instances of a real Node or Python server on one port
//! the daemon binds once; scale; sendSignal.

use std::collections::BTreeSet;
use std::net::TcpStream;
use std::time::Duration;

use crate::helper::{Pmr, wait_until};

pub const NODE_SERVER: &str = "const http = require('http');\n\
http.createServer((req, res) => res.end(String(process.pid))).listen(process.env.PORT);\n";

/// A Python server that takes the socket the daemon passes (LISTEN_FDS).
pub const PY_SERVER: &str = r#"import os, socket, http.server, socketserver
assert os.environ["LISTEN_FDS"] == "1" and os.environ["LISTEN_PID"] == str(os.getpid())
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        body = str(os.getpid()).encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(body)
    def log_message(self, *a):
        pass
class S(socketserver.ThreadingMixIn, http.server.HTTPServer):
    pass
s = S(("", 0), H, bind_and_activate=False)
s.socket = socket.socket(fileno=3)
print("serving on fd 3", flush=True)
s.serve_forever()
"#;

/// A port free on every address, below the kernel's ephemeral range
/// (32768 and up): a port the kernel handed out could meanwhile become the
/// local port of another test's outgoing connection, and the daemon's bind
/// on all addresses would then fail ("Address already in use").
pub fn free_port() -> u16 {
    use std::sync::atomic::{AtomicU32, Ordering};
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let seed = std::process::id().wrapping_mul(7919);
    loop {
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let port = 20_000 + (seed.wrapping_add(n.wrapping_mul(104_729)) % 12_000) as u16;
        if std::net::TcpListener::bind(("0.0.0.0", port)).is_ok() {
            return port;
        }
    }
}

/// One HTTP GET on a new connection: the answering pid, or `None`.
pub fn get_pid(port: u16) -> Option<u32> {
    match crate::helper::http(port, "GET", "/", None)? {
        (200, body) => body.trim().parse().ok(),
        _ => None,
    }
}

/// Pids that answered `n` requests made 8 at a time.
fn answering_pids(port: u16, n: usize) -> BTreeSet<u32> {
    let per = n / 8;
    let threads: Vec<_> = (0..8)
        .map(|_| {
            std::thread::spawn(move || {
                (0..per)
                    .map(|_| get_pid(port).expect("a request failed"))
                    .collect::<Vec<_>>()
            })
        })
        .collect();
    threads
        .into_iter()
        .flat_map(|t| t.join().unwrap())
        .collect()
}

fn online_pids(t: &Pmr, name: &str) -> BTreeSet<u32> {
    t.jlist()
        .iter()
        .filter(|p| p["name"] == name && p["pm2_env"]["status"] == "online")
        .map(|p| p["pid"].as_u64().unwrap() as u32)
        .collect()
}

fn serves_on_one_port(file: &str, body: &str) {
    let t = Pmr::new();
    t.write(file, body);
    let port = free_port();
    let out = t.ok(&[
        "start",
        file,
        "-i",
        "4",
        "--port",
        &port.to_string(),
        "--name",
        "web",
    ]);
    assert!(out.contains("cluster"), "{out}");
    let pids = wait_until("four instances online", || {
        let p = online_pids(&t, "web");
        (p.len() == 4).then_some(p)
    });
    wait_until("the port answering", || get_pid(port));
    // Instances still booting (a loaded machine) do not accept yet: keep
    // asking, in rounds of 200 requests, until three of them have answered.
    let mut answered = BTreeSet::new();
    let found = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        wait_until("answers from three instances", || {
            answered.extend(answering_pids(port, 200));
            (answered.len() >= 3).then_some(())
        })
    }));
    assert!(found.is_ok(), "only {answered:?} of {pids:?} answered");
    assert!(
        answered.is_subset(&pids),
        "answers from {answered:?}, instances are {pids:?}"
    );
    // Instance numbers 0..3, as NODE_APP_INSTANCE.
    let instances: BTreeSet<String> = t
        .jlist()
        .iter()
        .map(|p| p["pm2_env"]["NODE_APP_INSTANCE"].to_string())
        .collect();
    assert_eq!(instances, ["0", "1", "2", "3"].map(String::from).into());
    // Every instance stopped: the port is closed, not silently queueing.
    t.ok(&["stop", "web"]);
    assert!(
        TcpStream::connect(("127.0.0.1", port)).is_err(),
        "port still open"
    );
    t.ok(&["start", "web"]);
    wait_until("the port answering again", || get_pid(port));
}

#[test]
fn node_server_unchanged_shares_one_port_across_instances() {
    serves_on_one_port("server.js", NODE_SERVER);
}

#[test]
fn python_server_takes_the_listen_fds_socket() {
    serves_on_one_port("server.py", PY_SERVER);
}

#[test]
fn scale_up_and_down_reuses_instance_numbers() {
    let t = Pmr::new();
    t.write("w.sh", "sleep 100000\n");
    t.ok(&["start", "w.sh", "-i", "3"]);
    let instances = |t: &Pmr| -> Vec<(u64, String)> {
        let mut v: Vec<(u64, String)> = t
            .jlist()
            .iter()
            .map(|p| {
                (
                    p["pm_id"].as_u64().unwrap(),
                    p["pm2_env"]["NODE_APP_INSTANCE"].to_string(),
                )
            })
            .collect();
        v.sort();
        v
    };
    // The oldest instance goes, as under pm2.
    t.ok(&["scale", "w", "-1"]);
    assert_eq!(instances(&t), [(1, "1".into()), (2, "2".into())]);
    t.ok(&["delete", "2"]);
    // Instances 0 and 2 are free again: +2 takes them.
    let out = t.ok(&["scale", "w", "+2"]);
    assert!(out.contains("Scaling up"), "{out}");
    let got: BTreeSet<String> = instances(&t).into_iter().map(|(_, i)| i).collect();
    assert_eq!(got, ["0", "1", "2"].map(String::from).into());
    wait_until("three online", || {
        (t.jlist()
            .iter()
            .filter(|p| p["pm2_env"]["status"] == "online")
            .count()
            == 3)
            .then_some(())
    });
    t.ok(&["scale", "w", "1"]);
    assert_eq!(t.jlist().len(), 1);
    assert_eq!(t.jlist()[0]["pm2_env"]["instances"], 1);
    let err = t.fails(&["scale", "w", "0"]);
    assert!(err.contains("at least one"), "{err}");
    let err = t.fails(&["scale", "nope", "2"]);
    assert!(err.contains("nope"), "{err}");
    let err = t.fails(&["scale", "w", "many"]);
    assert!(err.contains("N, +N or -N"), "{err}");
}

#[test]
fn send_signal_reaches_every_instance() {
    let t = Pmr::new();
    t.write(
        "sig.sh",
        "trap 'echo got-usr2 $NODE_APP_INSTANCE' USR2\necho ready\nwhile true; do sleep 0.1; done\n",
    );
    t.ok(&["start", "sig.sh", "-i", "2", "--merge-logs"]);
    wait_until("both ready", || {
        (t.log("sig-out.log").matches("ready").count() == 2).then_some(())
    });
    let out = t.ok(&["sendSignal", "SIGUSR2", "sig"]);
    assert!(out.contains("successfully sent signal SIGUSR2"), "{out}");
    wait_until("both trapped USR2", || {
        let log = t.log("sig-out.log");
        (log.contains("got-usr2 0") && log.contains("got-usr2 1")).then_some(())
    });
    assert_eq!(t.status(0), "online");
    let err = t.fails(&["sendSignal", "SIGNOPE", "sig"]);
    assert!(err.contains("unknown signal"), "{err}");
}

#[test]
fn a_cluster_start_returns_once_the_top_level_code_has_run() {
    let t = Pmr::new();
    // Slow top-level code, then the handler: a signal sent before it
    // exists would end the app (SIGUSR2's default action).
    t.write(
        "late.js",
        "const until = Date.now() + 400; while (Date.now() < until) {}\n\
         process.on('SIGUSR2', () => console.log('got-usr2 ' + process.env.NODE_APP_INSTANCE));\n\
         setInterval(() => {}, 1000);\n",
    );
    t.ok(&["start", "late.js", "-i", "2", "--merge-logs"]);
    t.ok(&["sendSignal", "SIGUSR2", "late"]);
    // What the handlers print at once is in the log when sendSignal returns.
    let log = t.log("late-out.log");
    assert!(
        log.contains("got-usr2 0") && log.contains("got-usr2 1"),
        "{log}"
    );
    for p in t.jlist() {
        assert_eq!(p["pm2_env"]["restart_time"], 0, "{}", p["pm2_env"]);
    }
}

/// Clients hammering `port` until `stop`: (answers per pid, failures).
pub fn load(
    port: u16,
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
) -> std::thread::JoinHandle<(std::collections::BTreeMap<u32, usize>, Vec<String>)> {
    std::thread::spawn(move || {
        let workers: Vec<_> = (0..6)
            .map(|_| {
                let stop = stop.clone();
                std::thread::spawn(move || {
                    let mut seen = std::collections::BTreeMap::new();
                    let mut failed = Vec::new();
                    while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                        match get_pid(port) {
                            Some(pid) => *seen.entry(pid).or_insert(0) += 1,
                            None => failed.push("request failed".to_string()),
                        }
                    }
                    (seen, failed)
                })
            })
            .collect();
        let mut seen = std::collections::BTreeMap::new();
        let mut failed = Vec::new();
        for w in workers {
            let (s, f) = w.join().unwrap();
            for (pid, n) in s {
                *seen.entry(pid).or_insert(0) += n;
            }
            failed.extend(f);
        }
        (seen, failed)
    })
}

#[test]
fn reload_under_load_fails_no_request() {
    let t = Pmr::new();
    t.write("server.js", NODE_SERVER);
    let port = free_port();
    t.ok(&[
        "start",
        "server.js",
        "-i",
        "4",
        "--port",
        &port.to_string(),
        "--name",
        "web",
    ]);
    let old = wait_until("four instances online", || {
        let p = online_pids(&t, "web");
        (p.len() == 4).then_some(p)
    });
    wait_until("the port answering", || get_pid(port));
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let clients = load(port, stop.clone());
    std::thread::sleep(Duration::from_millis(500));
    let out = t.ok(&["reload", "web"]);
    assert!(out.contains("Reloaded 4 instances"), "{out}");
    std::thread::sleep(Duration::from_millis(500));
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let (seen, failed) = clients.join().unwrap();
    let new = online_pids(&t, "web");
    assert_eq!(new.len(), 4);
    assert!(old.is_disjoint(&new), "every instance was replaced");
    assert!(
        failed.is_empty(),
        "{} requests failed during the reload",
        failed.len()
    );
    let answered: BTreeSet<u32> = seen.keys().copied().collect();
    assert!(
        answered.intersection(&old).count() >= 1 && answered.intersection(&new).count() >= 1,
        "both old {old:?} and new {new:?} pids answer: {seen:?}"
    );
    for p in t.jlist() {
        assert_eq!(
            p["pm2_env"]["restart_time"], 1,
            "a reload counts as a restart"
        );
    }
}

#[test]
fn reload_keeps_the_old_instance_when_the_new_one_fails_and_refuses_overlap() {
    let t = Pmr::new();
    // Ready after 1.5 s (wait_ready), so a reload takes a while.
    t.write(
        "slow.js",
        "setTimeout(() => process.send('ready'), 1500); setInterval(() => {}, 1000);\n",
    );
    t.ok(&[
        "start",
        "slow.js",
        "-i",
        "2",
        "--wait-ready",
        "--name",
        "slow",
    ]);
    // Launching until `ready`, then online.
    assert_eq!(t.status(0), "launching");
    t.wait_status(0, "online");
    t.wait_status(1, "online");
    let t2 = std::thread::scope(|s| {
        let first = s.spawn(|| t.run(&["reload", "slow"]));
        std::thread::sleep(Duration::from_millis(400));
        let second = t.run(&["reload", "slow"]);
        (first.join().unwrap(), second)
    });
    assert!(
        t2.0.status.success(),
        "{}",
        String::from_utf8_lossy(&t2.0.stderr)
    );
    assert!(!t2.1.status.success());
    assert!(
        String::from_utf8_lossy(&t2.1.stderr).contains("already under way"),
        "{}",
        String::from_utf8_lossy(&t2.1.stderr)
    );
    // A new version that crashes at once: the reload fails, the old ones stay.
    let before = online_pids(&t, "slow");
    t.write("slow.js", "process.exit(3);\n");
    let err = t.fails(&["reload", "slow"]);
    assert!(err.contains("exited before it was ready"), "{err}");
    assert_eq!(
        online_pids(&t, "slow"),
        before,
        "the old instances keep running"
    );
}

#[test]
fn wait_ready_without_ready_goes_online_after_listen_timeout() {
    let t = Pmr::new();
    t.write("mute.js", "setInterval(() => {}, 1000);\n");
    let started = std::time::Instant::now();
    t.ok(&[
        "start",
        "mute.js",
        "--wait-ready",
        "--listen-timeout",
        "1500",
    ]);
    assert_eq!(t.status(0), "launching");
    t.wait_status(0, "online");
    let took = started.elapsed();
    assert!(
        took >= Duration::from_millis(1400),
        "online after {took:?}, before listen_timeout"
    );
}

#[test]
fn reload_from_an_ecosystem_file_takes_its_new_options() {
    let t = Pmr::new();
    t.write("server.js", NODE_SERVER);
    let port = free_port();
    let eco = |version: u32| {
        format!(
            r#"{{"apps": [{{"name": "web", "script": "server.js", "instances": 2, "port": {port}, "env": {{"VERSION": "{version}"}}}}]}}"#
        )
    };
    t.write("eco.json", &eco(1));
    t.ok(&["start", "eco.json"]);
    let old = wait_until("two instances online", || {
        let p = online_pids(&t, "web");
        (p.len() == 2).then_some(p)
    });
    assert_eq!(
        t.proc(0)["pm2_env"]["exec_mode"],
        "cluster_mode",
        "instances imply cluster mode"
    );
    wait_until("the port answering", || get_pid(port));
    t.write("eco.json", &eco(2));
    let out = t.ok(&["reload", "eco.json"]);
    assert!(out.contains("Reloaded 2 instances"), "{out}");
    let new = online_pids(&t, "web");
    assert!(old.is_disjoint(&new), "{old:?} -> {new:?}");
    for p in t.jlist() {
        assert_eq!(p["pm2_env"]["env"]["VERSION"], "2");
        assert_eq!(p["pm2_env"]["restart_time"], 1);
    }
    let answered = get_pid(port).expect("serving after the reload");
    assert!(new.contains(&answered));
    // A new `instances` in the file scales the app on the next reload.
    t.write(
        "eco.json",
        &eco(2).replace("\"instances\": 2", "\"instances\": 3"),
    );
    let out = t.ok(&["reload", "eco.json"]);
    assert!(out.contains("Scaling up application web: +1"), "{out}");
    wait_until("three instances online", || {
        (online_pids(&t, "web").len() == 3).then_some(())
    });
}

#[test]
fn a_loopback_only_listen_is_never_exposed_on_the_shared_port() {
    let t = Pmr::new();
    t.write(
        "local.js",
        "require('http').createServer((q, s) => s.end('x')).listen(process.env.PORT, '127.0.0.1');\n",
    );
    let port = free_port();
    t.ok(&[
        "start",
        "local.js",
        "-i",
        "2",
        "--port",
        &port.to_string(),
        "--no-autorestart",
    ]);
    // The preload refuses to hand the all-addresses socket to it, and says why.
    wait_until("the warning in the app's error log", || {
        let log = std::fs::read_dir(t.home().join("logs"))
            .unwrap()
            .flatten()
            .filter(|e| e.file_name().to_string_lossy().starts_with("local-error"))
            .map(|e| std::fs::read_to_string(e.path()).unwrap_or_default())
            .collect::<String>();
        log.contains("cannot use the cluster's shared port")
            .then_some(())
    });
}

#[test]
fn other_languages_with_instances_run_in_fork_mode_unless_a_port_is_shared() {
    let t = Pmr::new();
    t.write("w.py", "import time\ntime.sleep(300)\n");
    t.ok(&["start", "w.py", "-i", "2", "--name", "plain"]);
    let modes: Vec<String> = t
        .jlist()
        .iter()
        .map(|p| p["pm2_env"]["exec_mode"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(modes, ["fork_mode", "fork_mode"], "as under pm2");
    let port = free_port();
    t.ok(&[
        "start",
        "w.py",
        "-i",
        "2",
        "--port",
        &port.to_string(),
        "--name",
        "shared",
        "-f",
    ]);
    let shared: Vec<String> = t
        .jlist()
        .iter()
        .filter(|p| p["name"] == "shared")
        .map(|p| p["pm2_env"]["exec_mode"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(
        shared,
        ["cluster_mode", "cluster_mode"],
        "pmr's any-language cluster mode when asked"
    );
}
