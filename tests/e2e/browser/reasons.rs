//! Why an app restarted, said in the events: a hub user by name (a restart
//! clicked in the dashboard), the server's command line, a crash and the
//! memory limit; in `/api/v1/events` (`detail`) and in words on the
//! dashboard's event timeline.

use serde_json::Value;

use super::cdp::Browser;
use super::{base, sign_in, user};
use crate::harness::{Agent, Hub, Tls, wait_until};

/// The details of `app`'s restart events in `/api/v1/events`.
fn restart_details(hub: &Hub, app: &str) -> Vec<String> {
    let v = hub.get(&format!("/api/v1/events?app={app}&limit=100"));
    v["events"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["kind"] == "restart")
        .map(|e| e["detail"].as_str().unwrap_or("(none)").to_string())
        .collect()
}

fn has_restart(hub: &Hub, app: &str, detail: &str) -> Option<()> {
    restart_details(hub, app)
        .iter()
        .any(|d| d == detail)
        .then_some(())
}

#[test]
fn events_say_who_or_what_restarted_an_app() {
    let hub = Hub::start(Tls::None);
    let agent = Agent::new();
    agent.write("api.js", "setInterval(() => {}, 1000);\n");
    agent.ok(&["start", "api.js", "--name", "api"]);
    agent.write("crash.sh", "sleep 1; exit 3\n");
    agent.ok(&[
        "start",
        "crash.sh",
        "--name",
        "crash",
        "--max-restarts",
        "2",
    ]);
    // Grows past its limit within a second or two, then is restarted.
    agent.write(
        "hog.js",
        "const keep = [];\nsetInterval(() => { if (keep.length < 20) keep.push(Buffer.alloc(10 << 20, 1)); }, 100);\n",
    );
    agent.ok(&[
        "start",
        "hog.js",
        "--name",
        "hog",
        "--max-memory-restart",
        "100M",
    ]);
    agent.link(&hub, "web-1", &[]);
    wait_until("api in the hub", || {
        (hub.process("web-1", "api")?["status"] == "online").then_some(())
    });

    // A restart clicked in the dashboard by a named user.
    let op = user(&hub, "op@example.com", "operator");
    let mut b = Browser::launch(1280, 900);
    sign_in(&mut b, &hub, "op@example.com", &op);
    let api: Value = hub.process("web-1", "api").unwrap();
    b.goto(&format!(
        "{}/servers/1/processes/{}",
        base(&hub),
        api["pm_id"]
    ));
    b.wait(
        "the action bar",
        "document.querySelector('select[aria-label=\"Act on\"]')",
    );
    b.click("main button", "Restart");
    wait_until("the user's restart in the events", || {
        has_restart(&hub, "api", "user:op@example.com")
    });
    // One on the server's command line.
    agent.ok(&["restart", "api"]);
    wait_until("the CLI's restart in the events", || {
        has_restart(&hub, "api", "cli")
    });
    wait_until("the crash's restart in the events", || {
        has_restart(&hub, "crash", "crash")
    });
    wait_until("the memory limit's restart in the events", || {
        has_restart(&hub, "hog", "memory")
    });

    // The timeline says it in words.
    b.goto(&format!("{}/events?server=1", base(&hub)));
    for words in [
        "by op@example.com (hub)",
        "pmr restart on the server",
        "it crashed",
        "over its memory limit",
    ] {
        b.wait(
            &format!("{words:?} on the events page"),
            &format!(
                "document.querySelector('main').innerText.includes({})",
                serde_json::json!(words)
            ),
        );
    }
    super::snap(&mut b, "events-reasons");
    assert!(b.errors.is_empty(), "{:?}", b.errors);
}
