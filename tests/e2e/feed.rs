//! The change feed, followed as server-sent events while a real agent's app
//! crashes: the crash reaches the follower without anyone asking again.

use std::io::{BufRead, BufReader, Write};
use std::net::TcpStream;
use std::time::Duration;

use crate::harness::{Agent, Hub, Tls, wait_until};

/// A hub and an agent linked to it as `web-1`, running app `api`.
fn linked_api() -> (Hub, Agent) {
    let hub = Hub::start(Tls::None);
    let agent = Agent::new();
    agent.write("s.sh", "while true; do sleep 1; done\n");
    agent.ok(&["start", "s.sh", "--name", "api"]);
    agent.link(&hub, "web-1", &[]);
    wait_until("the app on the hub", || hub.process("web-1", "api"));
    (hub, agent)
}

#[test]
fn a_crash_on_an_agent_reaches_a_follower_of_the_change_feed() {
    let (hub, agent) = linked_api();

    let mut s = TcpStream::connect(("127.0.0.1", hub.port)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    write!(
        s,
        "GET /api/v1/changes?kinds=event,restart,process_status HTTP/1.1\r\nHost: x\r\n\
         Authorization: Bearer {}\r\n\r\n",
        hub.token
    )
    .unwrap();
    let mut lines = BufReader::new(s).lines();
    let status = lines.next().unwrap().unwrap();
    assert!(status.starts_with("HTTP/1.1 200"), "{status}");
    // The head, then events.
    let mut head = String::new();
    for l in lines.by_ref() {
        let l = l.unwrap();
        if l.is_empty() {
            break;
        }
        head.push_str(&l.to_ascii_lowercase());
    }
    assert!(head.contains("text/event-stream"), "{head}");

    let pid = agent.jlist()[0]["pid"].as_u64().unwrap();
    std::process::Command::new("kill")
        .args(["-9", &pid.to_string()])
        .status()
        .unwrap();

    let (mut exit, mut restart) = (false, false);
    let mut kind = String::new();
    for l in lines {
        let l = l.expect("the feed went quiet after the crash");
        if let Some(k) = l.strip_prefix("event: ") {
            kind = k.to_string();
        } else if let Some(data) = l.strip_prefix("data: ") {
            let v: serde_json::Value = serde_json::from_str(data).unwrap();
            assert_eq!(
                v["type"],
                kind.as_str(),
                "the event is named after its kind"
            );
            exit |= kind == "event" && v["event"]["kind"] == "exit" && v["event"]["name"] == "api";
            restart |= kind == "restart" && v["app"] == "api" && v["restarts"] == 1;
            if exit && restart {
                break;
            }
        }
    }
    assert!(exit && restart);
}

/// Reads a server-sent events stream from `path` with the hub's token;
/// returns its `data:` lines as they come.
pub(crate) fn follow(hub: &Hub, path: &str) -> impl Iterator<Item = serde_json::Value> + use<> {
    let mut s = TcpStream::connect(("127.0.0.1", hub.port)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {}\r\n\r\n",
        hub.token
    )
    .unwrap();
    let lines = BufReader::new(s).lines();
    lines.filter_map(|l| {
        let l = l.expect("the stream went quiet");
        let data = l.strip_prefix("data: ")?;
        Some(serde_json::from_str(data).unwrap())
    })
}

#[test]
fn log_lines_flow_only_while_someone_watches() {
    let hub = Hub::start(Tls::None);
    let agent = Agent::new();
    agent.write(
        "a.sh",
        "while true; do echo \"a-line $(date +%s%N)\"; sleep 0.2; done\n",
    );
    agent.write(
        "b.sh",
        "while true; do printf '\\033[31mb-err\\033[0m\\n' >&2; sleep 0.2; done\n",
    );
    agent.ok(&["start", "a.sh", "--name", "a"]);
    agent.ok(&["start", "b.sh", "--name", "b"]);
    agent.link(&hub, "web-1", &[]);
    wait_until("both apps on the hub", || hub.process("web-1", "b"));
    let id = hub.server("web-1").unwrap()["id"].as_i64().unwrap();
    assert_eq!(
        crate::hostile_ws::metric(&hub, "pmr_hub_log_viewers"),
        Some(0.0)
    );
    {
        // One app: its lines only, starting with the last ones it wrote
        // before anyone watched.
        let opened = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos();
        let mut a = follow(&hub, &format!("/api/v1/servers/{id}/logs?app=a"));
        let batch = a.next().unwrap();
        let lines = batch["lines"].as_array().unwrap();
        let written =
            |l: &serde_json::Value| -> u128 { l["line"].as_str().unwrap()[7..].parse().unwrap() };
        assert!(lines.iter().any(|l| written(l) < opened), "{batch}");
        for l in lines {
            assert_eq!(l["app"], "a", "{l}");
            assert_eq!(l["stream"], "out");
            assert!(l["line"].as_str().unwrap().starts_with("a-line "), "{l}");
        }
        // Every app: the other's error lines too, colour codes removed.
        let all = follow(&hub, &format!("/api/v1/servers/{id}/logs"));
        let b = all
            .flat_map(|batch| batch["lines"].as_array().unwrap().clone())
            .find(|l| l["app"] == "b")
            .unwrap();
        assert_eq!(
            (b["stream"].as_str(), b["line"].as_str()),
            (Some("err"), Some("b-err"))
        );
        let open = crate::hostile_ws::metric(&hub, "pmr_hub_log_viewers").unwrap();
        assert!(open >= 1.0, "{open} viewers");
    }
    // Both streams closed: the hub stops counting them, and asks the agent
    // to stop (the next stream starts from new lines only).
    wait_until("no viewer left", || {
        (crate::hostile_ws::metric(&hub, "pmr_hub_log_viewers") == Some(0.0)).then_some(())
    });
    // A server the token cannot see, or that does not exist: 404.
    let (status, _) = hub.http("GET", "/api/v1/servers/999/logs", None, true);
    assert_eq!(status, 404);
}

#[test]
fn a_fleet_wide_follower_gets_the_figures_as_one_digest_not_each_sample() {
    let (hub, _agent) = linked_api();
    let mut s = TcpStream::connect(("127.0.0.1", hub.port)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    write!(
        s,
        "GET /api/v1/changes?kinds=sample,restart&every=5 HTTP/1.1\r\nHost: x\r\n\
         Authorization: Bearer {}\r\n\r\n",
        hub.token
    )
    .unwrap();
    let (mut kinds, mut kind) = (Vec::new(), String::new());
    let mut digest = None;
    for l in BufReader::new(s).lines() {
        let l = l.expect("no digest within 20 s");
        if let Some(k) = l.strip_prefix("event: ") {
            kind = k.to_string();
            kinds.push(kind.clone());
        } else if let Some(data) = l.strip_prefix("data: ")
            && kind == "figures"
        {
            digest = Some(serde_json::from_str::<serde_json::Value>(data).unwrap());
            break;
        }
    }
    assert!(
        !kinds.iter().any(|k| k == "sample"),
        "samples one by one: {kinds:?}"
    );
    let d = digest.unwrap();
    let server = &d["servers"][0];
    assert_eq!(server["type"], "sample", "{d}");
    let p = &server["processes"][0];
    assert!(
        p["pid"].as_u64().unwrap() > 0 && p["status"] == "online",
        "{d}"
    );
    assert!(server["host"]["mem_total"].as_u64().unwrap() > 0, "{d}");
}
