//! The dashboard on replicas: signed in through A, the same browser is
//! signed in on B (one database of sessions), and B's processes page shows
//! a crash of an app whose agent A holds, live, without a reload.

use super::cdp::Browser;
use super::live_rows::cell;
use super::{base, sign_in, snap, user};
use crate::harness::{Agent, Hub, wait_until};

#[test]
fn a_page_served_by_one_replica_shows_a_crash_on_an_agent_another_holds_live() {
    let pg = pmr_tests::postgres::Postgres::start();
    pg.create_database("hub");
    let a = Hub::on_database(&pg.url("hub"));
    let b_hub = Hub::on_database(&pg.url("hub"));
    let agent = Agent::new();
    agent.write("tick.sh", "while true; do sleep 1; done\n");
    agent.ok(&["start", "tick.sh", "--name", "tick"]);
    agent.link(&a, "web-1", &[]);
    wait_until("B sees the app", || {
        (b_hub.process("web-1", "tick")?["status"] == "online").then_some(())
    });
    let password = user(&a, "owner@example.com", "owner");
    let mut b = Browser::launch(1280, 800);
    sign_in(&mut b, &a, "owner@example.com", &password);
    // The session cookie (the same host) is good on B: no sign-in there.
    b.goto(&format!("{}/processes", base(&b_hub)));
    let first = agent.jlist()[0]["pid"].as_i64().unwrap();
    b.wait(
        "B's row with the app's pid",
        &format!("{} === '{first}'", cell("tick", "pid")),
    );
    b.eval("window.__still_here = true");

    std::process::Command::new("kill")
        .args(["-9", &first.to_string()])
        .status()
        .unwrap();
    wait_until("the agent restarted it", || {
        (agent.jlist()[0]["pid"].as_i64()? != first).then_some(())
    });
    let second = agent.jlist()[0]["pid"].as_i64().unwrap();
    b.wait(
        "B's row with the new pid, live",
        &format!("{} === '{second}'", cell("tick", "pid")),
    );
    assert_eq!(
        b.eval("window.__still_here === true"),
        serde_json::json!(true),
        "no reload"
    );
    snap(&mut b, "replicas-processes-on-b");

    // Admin → Hub on B: both replicas, A holding the agent and the lease.
    b.goto(&format!("{}/admin/hub", base(&b_hub)));
    b.wait(
        "two replicas, one holder",
        "document.querySelectorAll('main table tbody tr').length === 2 \
         && [...document.querySelectorAll('main table tbody tr')].filter(r => r.innerText.includes('holder')).length === 1",
    );
    snap(&mut b, "replicas-hub-page");
}
