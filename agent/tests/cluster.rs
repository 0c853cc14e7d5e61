//! Cluster mode: N instances of a real Node or Python server on one port
//! the daemon binds once; scale; sendSignal.

use std::collections::BTreeSet;
use std::io::{Read, Write};
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

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// One HTTP GET on a new connection: the answering pid, or `None`.
pub fn get_pid(port: u16) -> Option<u32> {
    let mut s = TcpStream::connect(("127.0.0.1", port)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(10))).ok()?;
    s.write_all(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .ok()?;
    let mut out = String::new();
    s.read_to_string(&mut out).ok()?;
    if !out.lines().next()?.contains(" 200 ") {
        return None;
    }
    out.rsplit("\r\n\r\n").next()?.trim().parse().ok()
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
    let answered = answering_pids(port, 200);
    assert!(
        answered.is_subset(&pids),
        "answers from {answered:?}, instances are {pids:?}"
    );
    assert!(
        answered.len() >= 3,
        "only {answered:?} of {pids:?} answered 200 requests"
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
    t.ok(&["scale", "w", "-1"]);
    assert_eq!(instances(&t), [(0, "0".into()), (1, "1".into())]);
    t.ok(&["delete", "0"]);
    // Instance 0 is free again: +2 takes 0 and 2.
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
