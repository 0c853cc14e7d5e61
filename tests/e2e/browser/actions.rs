//! Actions as a team uses them: restarting every instance of an app asks
//! first and names how many; the outcome reads as a sentence with the new
//! pids; and the audit log says how each action ended, who was refused
//! for want of which role, and which system account changed the hub on its
//! command line.

use std::process::Command;

use serde_json::json;

use super::cdp::Browser;
use super::{base, sign_in, user};
use crate::harness::{Agent, Hub, Tls, wait_until};

fn pids(agent: &Agent, app: &str) -> Vec<i64> {
    let mut v: Vec<i64> = agent
        .jlist()
        .iter()
        .filter(|p| p["name"] == app)
        .map(|p| p["pid"].as_i64().unwrap())
        .collect();
    v.sort_unstable();
    v
}

fn restarts(agent: &Agent) -> i64 {
    agent
        .jlist()
        .iter()
        .map(|p| p["pm2_env"]["restart_time"].as_i64().unwrap())
        .sum()
}

/// The result line under the action bar.
const RESULT: &str = "document.querySelector('main [role=status].result')?.innerText";

#[test]
fn a_restart_of_many_instances_asks_first_and_its_outcome_is_in_words_and_audited() {
    let hub = Hub::start(Tls::None);
    let agent = Agent::new();
    agent.write("worker.js", "setInterval(() => {}, 1000);\n");
    agent.ok(&["start", "worker.js", "--name", "worker", "-i", "2"]);
    agent.link(&hub, "web-1", &[]);
    wait_until("both instances in the hub", || {
        let s = hub.server("web-1")?;
        (hub.get(&format!("/api/v1/servers/{}", s["id"]))["processes"]
            .as_array()?
            .len()
            == 2)
            .then_some(())
    });
    let op = user(&hub, "op@example.com", "operator");
    let viewer = user(&hub, "viewer@example.com", "viewer");
    let mut b = Browser::launch(1280, 800);
    sign_in(&mut b, &hub, "op@example.com", &op);
    b.goto(&format!("{}/servers/1/processes/0", base(&hub)));
    b.wait(
        "the action bar",
        "document.querySelector('select[aria-label=\"Act on\"]')",
    );

    // Every instance: a question that names the count; Cancel does nothing.
    b.click("main button", "Restart");
    let asked = b.wait(
        "the confirmation",
        "document.querySelector('dialog[open]')?.innerText",
    );
    assert!(
        asked
            .as_str()
            .unwrap()
            .contains("Restart worker on web-1: 2 instances?"),
        "{asked}"
    );
    b.click("dialog[open] button", "Cancel");
    std::thread::sleep(std::time::Duration::from_millis(500));
    assert_eq!(restarts(&agent), 0, "cancelled, yet restarted");
    b.click("main button", "Restart");
    b.click("dialog[open] button", "Restart");
    b.wait(
        "the outcome",
        &format!("{RESULT}?.includes('worker restarted on web-1')"),
    );
    let now = pids(&agent, "worker");
    let said = b.eval(RESULT);
    let said = said.as_str().unwrap();
    assert!(
        said.contains("2 instances, new pids") && now.iter().all(|p| said.contains(&p.to_string())),
        "{said} (pids now {now:?})"
    );

    // One instance: no question, one pid.
    b.eval(
        "(() => { const s = document.querySelector('select[aria-label=\"Act on\"]'); \
         s.value = '0'; s.dispatchEvent(new Event('change')); })()",
    );
    b.eval("document.querySelector('main .result').textContent = ''");
    b.click("main button", "Restart");
    b.wait(
        "the one-instance outcome",
        &format!("{RESULT}?.includes('1 instance, new pid')"),
    );
    assert_eq!(
        b.eval("!!document.querySelector('dialog[open]')"),
        json!(false)
    );
    drop(b);

    // A viewer's forged action is refused, and the refusal is audited.
    let mut v = Browser::launch(1280, 800);
    sign_in(&mut v, &hub, "viewer@example.com", &viewer);
    let status = v.eval(
        "(async () => { const me = await (await fetch('/api/v1/session')).json();
          const r = await fetch('/api/v1/actions', { method: 'POST',
            headers: { 'Content-Type': 'application/json', 'X-CSRF-Token': me.csrf },
            body: JSON.stringify({ server: 'web-1', action: 'stop', targets: ['worker'] }) });
          return r.status; })()",
    );
    assert_eq!(status, json!(403));
    drop(v);

    // A change on the hub's command line, where $USER is not set (a
    // systemd unit, cron, `docker exec`): the audit names the account.
    let out = hub
        .command()
        .args(["users", "add", "cli@example.com", "--role", "viewer"])
        .env_remove("USER")
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let me = Command::new("id").arg("-un").output().unwrap();
    let me = String::from_utf8(me.stdout).unwrap().trim().to_string();

    let owner = user(&hub, "owner@example.com", "owner");
    let mut b = Browser::launch(1280, 800);
    sign_in(&mut b, &hub, "owner@example.com", &owner);
    b.goto(&format!("{}/admin/audit", base(&hub)));
    b.wait(
        "the audit log",
        "document.querySelector('main').innerText.includes('action:restart')",
    );
    let text = b.text();
    assert!(
        text.contains("ok: worker restarted on web-1: 2 instances, new pids"),
        "the outcome of the restart: {text}"
    );
    assert!(!text.contains("\tsent"), "{text}");
    assert!(
        text.contains("refused: needs the operator role, viewer@example.com has viewer"),
        "the refusal: {text}"
    );
    assert!(
        text.contains(&format!("cli:{me}")) && !text.contains("cli:unknown"),
        "the system account: {text}"
    );
    assert!(b.errors.is_empty(), "{:?}", b.errors);
}
