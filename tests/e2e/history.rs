//! A process's 10-second history, as a chart reads it: one row per 10 s,
//! aligned to the clock, for the whole time the app ran while linked.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::harness::{Agent, Hub, Tls, wait_for, wait_until};

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

#[test]
fn a_process_history_has_one_row_every_ten_seconds_while_it_runs_linked() {
    let hub = Hub::start(Tls::None);
    let agent = Agent::new();
    agent.link(&hub, "web-1", &[]);
    wait_until("web-1 online", || {
        hub.server("web-1").filter(|s| s["online"] == true)
    });
    agent.write("idle.sh", "while true; do sleep 1; done\n");
    let started = now_ms();
    agent.ok(&["start", "idle.sh", "--name", "idle"]);
    let p = wait_until("the app on the hub", || hub.process("web-1", "idle"));
    let id = hub.server("web-1").unwrap()["id"].as_i64().unwrap();
    let pm_id = p["pm_id"].as_i64().unwrap();
    // Five whole windows after the start, no browser open.
    let path = format!(
        "/api/v1/servers/{id}/processes/{pm_id}?since={}",
        started - 20_000
    );
    let first_window = started - started % 10_000;
    let rows = wait_for("five 10-second rows", Duration::from_secs(90), || {
        let d = hub.get(&path);
        let rows: Vec<i64> = d["history"]
            .as_array()?
            .iter()
            .map(|r| r["start"].as_i64().unwrap())
            .collect();
        (rows.len() >= 5 && d["span_ms"] == 10_000).then_some(rows)
    });
    assert!(
        rows[0] == first_window || rows[0] == first_window + 10_000,
        "the history starts with the app ({first_window}): {rows:?}"
    );
    for pair in rows.windows(2) {
        assert_eq!(
            pair[1] - pair[0],
            10_000,
            "a hole or a late window: {rows:?}"
        );
    }
    assert!(rows.iter().all(|s| s % 10_000 == 0), "aligned: {rows:?}");
    // Every window up to the last closed one is there.
    std::thread::sleep(Duration::from_secs(3));
    let d = hub.get(&path);
    let all: Vec<i64> = d["history"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["start"].as_i64().unwrap())
        .collect();
    let closed = now_ms() - 13_000;
    let want = (closed - closed % 10_000 - rows[0]) / 10_000 + 1;
    assert!(
        all.len() as i64 >= want,
        "{} rows, {want} windows closed: {all:?}",
        all.len()
    );
}
