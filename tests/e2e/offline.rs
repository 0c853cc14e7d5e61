//! The hub goes away; the agent keeps supervising and loses nothing.

use crate::harness::{Agent, Hub, Tls, wait_until};

fn exits(hub: &Hub) -> Vec<serde_json::Value> {
    let evs = hub.get("/api/v1/events?app=crashy&limit=1000");
    evs["events"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["kind"] == "exit" && e["signal"] == "SIGKILL")
        .cloned()
        .collect()
}

#[test]
fn events_while_the_hub_is_down_arrive_once_each() {
    let mut hub = Hub::start(Tls::None);
    let agent = Agent::new();
    agent.write("crashy.sh", "while true; do sleep 1; done\n");
    agent.ok(&["start", "crashy.sh"]);
    agent.link(&hub, "web-9", &[]);
    wait_until("linked", || hub.process("web-9", "crashy"));
    hub.stop();
    wait_until("the agent notices", || {
        agent.status().contains("disconnected").then_some(())
    });
    for n in 1..=5 {
        let pid = wait_until("online", || {
            let p = agent.jlist().into_iter().next()?;
            (p["pm2_env"]["status"] == "online" && p["pm2_env"]["restart_time"] == n - 1)
                .then(|| p["pid"].as_i64())?
        });
        // Past min_uptime, so these are ordinary restarts.
        std::thread::sleep(std::time::Duration::from_millis(1100));
        std::process::Command::new("kill")
            .args(["-9", &pid.to_string()])
            .status()
            .unwrap();
    }
    wait_until("fifth restart", || {
        (agent.jlist()[0]["pm2_env"]["restart_time"] == 5).then_some(())
    });
    let queued = agent.status();
    assert!(
        !queued.contains("queued:   0 "),
        "events should be queued: {queued}"
    );
    hub.restart();
    wait_until("five exits", || (exits(&hub).len() >= 5).then_some(()));
    // Let any duplicate arrive before counting again.
    std::thread::sleep(std::time::Duration::from_secs(2));
    assert_eq!(exits(&hub).len(), 5, "each exit exactly once");
    wait_until("queue drained", || {
        agent.status().contains("queued:   0 ").then_some(())
    });
    // And the restarted hub sees the live state again.
    let p = wait_until("process back", || hub.process("web-9", "crashy"));
    assert_eq!(p["restart_time"], 5);
}
