//! Cluster-mode Node apps share any port they listen on, as under Node's
//! cluster module: no `PORT` needed, several apps on one port, a loopback
//! address kept, and the port free again once every instance is gone.

use crate::cluster::free_port;
use crate::helper::{Pmr, wait_until};
use std::collections::BTreeSet;

/// A server that listens on ports written in its code, answering `name:pid`.
/// Each answer holds its instance's event loop for 100 ms, so concurrent
/// connections reach every instance whatever order the kernel wakes them in.
fn server(any: u16, loopback: u16) -> String {
    format!(
        "const http = require('http');\n\
         const h = (q, s) => {{ const t = Date.now() + 100; while (Date.now() < t); \
           s.end(process.env.name + ':' + process.pid); }};\n\
         http.createServer(h).listen({any});\n\
         http.createServer(h).listen({loopback}, '127.0.0.1', () => console.log('both listening'));\n"
    )
}

/// One GET on a new connection: the `name:pid` that answered.
fn who(port: u16) -> Option<String> {
    Some(
        crate::helper::http(port, "GET", "/", None)?
            .1
            .trim()
            .to_string(),
    )
}

#[test]
fn any_port_a_cluster_app_listens_on_is_shared_by_its_instances_and_other_apps() {
    let t = Pmr::new();
    let (any, loopback) = (free_port(), free_port());
    t.write("http.js", &server(any, loopback));
    // A listen_timeout of ten minutes: a reload moves on at Node's
    // `listening` event, never waits it out.
    let a = ["start", "http.js", "-i", "3", "--name", "a"];
    t.ok(&[&a[..], &["--listen-timeout", "600000"]].concat());
    t.ok(&["start", "http.js", "-i", "1", "--name", "b"]);
    let online = || {
        let l = t.jlist();
        (l.len() == 4 && l.iter().all(|p| p["pm2_env"]["status"] == "online")).then_some(l)
    };
    wait_until("four instances online", online);
    // Both apps answer on both ports: no instance lost a bind race.
    for port in [any, loopback] {
        let mut seen = BTreeSet::new();
        wait_until("answers from both apps", || {
            let burst: Vec<_> = (0..8)
                .map(|_| std::thread::spawn(move || who(port)))
                .collect();
            for w in burst.into_iter().filter_map(|h| h.join().ok().flatten()) {
                seen.insert(w.split(':').next().unwrap_or("").to_string());
            }
            (seen.len() == 2).then_some(())
        });
    }
    // The loopback server stays on loopback only.
    assert_eq!(
        listening_on(loopback),
        ["0100007F"],
        "bound to 127.0.0.1 alone"
    );
    let mut reload = t
        .command()
        .args(["reload", "a"])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("pmr runs");
    let status = wait_until("the reload, at each new instance's listening event", || {
        reload.try_wait().ok().flatten()
    });
    let mut out = String::new();
    std::io::Read::read_to_string(reload.stdout.as_mut().unwrap(), &mut out).unwrap();
    assert!(
        status.success() && out.contains("Reloaded 3 instances"),
        "{out}"
    );
    let list = wait_until("four instances online after the reload", online);
    for p in &list {
        let want = if p["name"] == "a" { 1 } else { 0 };
        assert_eq!(
            p["pm2_env"]["restart_time"], want,
            "{}: no crash loop",
            p["name"]
        );
    }
    assert!(
        t.log("a-error-0.log").is_empty(),
        "{}",
        t.log("a-error-0.log")
    );
    t.ok(&["delete", "all"]);
    // Every holder gone: the port is closed and free for anyone.
    wait_until("the port free", || {
        std::net::TcpListener::bind(("0.0.0.0", any)).ok()
    });
}

/// The local addresses (as `/proc/net/tcp{,6}` writes them) listening on `port`.
fn listening_on(port: u16) -> Vec<String> {
    let port = format!(":{port:04X}");
    ["/proc/net/tcp", "/proc/net/tcp6"]
        .iter()
        .flat_map(|f| {
            std::fs::read_to_string(f)
                .unwrap_or_default()
                .lines()
                .map(String::from)
                .collect::<Vec<_>>()
        })
        .filter_map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            (f.len() > 3 && f[1].ends_with(&port) && f[3] == "0A")
                .then(|| f[1].trim_end_matches(&port).to_string())
        })
        .collect()
}
