//! The dashboard in a real headless Chromium, against a real hub and real
//! linked agents running real Node apps from git checkouts. Screenshots of
//! every page go to `target/screenshots/` (desktop light and dark, phone).

mod actions;
mod alerts;
mod cdp;
mod charts;
mod forms;
mod live_rows;
mod logs;
mod pages;
mod phone;
mod reasons;
mod replicas;
mod roles;
mod scale;
mod shell;
mod versions;

use std::path::PathBuf;

use cdp::Browser;
use serde_json::Value;

use crate::harness::{Agent, Hub, wait_until};

/// Where screenshots are saved (made if missing).
fn shots() -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target/screenshots");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// The dashboard's address on `hub`.
fn base(hub: &Hub) -> String {
    format!("http://127.0.0.1:{}", hub.port)
}

/// An agent named `name` linked to `hub`, running app `api` (one Node
/// HTTP server) from a git checkout whose one commit says `message`.
fn agent_with_app(hub: &Hub, name: &str, message: &str) -> Agent {
    let agent = Agent::new();
    let repo = agent.work.path().join("repo");
    std::fs::create_dir_all(&repo).unwrap();
    let git = |args: &[&str]| crate::harness::git(&repo, args);
    git(&["init", "-q", "-b", "main"]);
    std::fs::write(
        repo.join("api.js"),
        format!(
            "// {message}\nrequire('http').createServer((q, s) => s.end('ok')).listen(0);\n\
             setInterval(() => console.log('tick ' + Date.now()), 500);\n{ACTION}"
        ),
    )
    .unwrap();
    git(&["add", "."]);
    git(&["commit", "-q", "-m", message]);
    agent.ok(&[
        "start",
        repo.join("api.js").to_str().unwrap(),
        "--name",
        "api",
    ]);
    agent.link(hub, name, &[]);
    wait_until("the app in the hub with its revision", || {
        let p = hub.process(name, "api")?;
        (p["status"] == "online" && p["versioning"]["comment"] == message).then_some(())
    });
    agent
}

/// A custom action registered over the IPC channel as @pm2/io does.
const ACTION: &str = "process.send({ type: 'axm:action', data: { action_name: 'clear-cache', arity: 2 } });
process.on('message', (m) => {
  const name = m && (m.msg || m.action_name || m);
  if (name !== 'clear-cache') return;
  process.send({ type: 'axm:reply', data: { return: { cleared: m.opts || 'all' }, action_name: name } });
});
";

/// A user made with `pmr-hub users add`; returns the generated password.
fn user(hub: &Hub, email: &str, role: &str) -> String {
    let out = hub.admin(&["users", "add", email, "--role", role]);
    let text = String::from_utf8(out.stdout).unwrap();
    text.lines()
        .find_map(|l| l.strip_prefix(&format!("password for {email}: ")))
        .unwrap_or_else(|| panic!("no password printed: {text}"))
        .to_string()
}

/// Signs in through the sign-in page and waits for the fleet.
fn sign_in(b: &mut Browser, hub: &Hub, email: &str, password: &str) {
    b.goto(&format!("{}/login", base(hub)));
    b.fill("input[name=email]", email);
    b.fill("input[name=password]", password);
    b.click("form button", "Sign in");
    b.wait("the fleet page", "location.pathname === '/' && document.querySelector('h1')?.textContent.startsWith('Fleet')");
}

/// Saves a screenshot named `name` after the page settled.
fn snap(b: &mut Browser, name: &str) {
    b.wait(
        "no loading text",
        "!document.querySelector('main').innerText.includes('Loading…')",
    );
    b.screenshot(&shots().join(format!("{name}.png")));
}

/// The pid of app `api` on `agent`.
fn pid(agent: &Agent) -> i64 {
    let list = agent.jlist();
    let p: &Value = list.iter().find(|p| p["name"] == "api").unwrap();
    p["pid"].as_i64().unwrap()
}
