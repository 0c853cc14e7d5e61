//! The change feed, followed as server-sent events while a real agent's app
//! crashes: the crash reaches the follower without anyone asking again.

use std::io::{BufRead, BufReader, Write};
use std::net::TcpStream;
use std::time::Duration;

use crate::harness::{Agent, Hub, Tls, wait_until};

#[test]
fn a_crash_on_an_agent_reaches_a_follower_of_the_change_feed() {
    let hub = Hub::start(Tls::None);
    let agent = Agent::new();
    agent.write("s.sh", "while true; do sleep 1; done\n");
    agent.ok(&["start", "s.sh", "--name", "api"]);
    agent.link(&hub, "web-1", &[]);
    wait_until("the app on the hub", || hub.process("web-1", "api"));

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
