//! The processes page as a monitoring page: every figure of a row follows
//! the change feed. After `pmr restart`, the row shows the new pid and an
//! uptime that counts from the restart; when the app starts to work, its
//! CPU and memory show on the open page, all without a reload or a
//! refetch (the page's periodic refetch is gone; before, it came every 30 s).

use serde_json::json;

use super::cdp::Browser;
use super::{base, sign_in, user};
use crate::harness::{Agent, Hub, Tls, wait_until};

/// The text of the cell under the column headed `header` in the row that
/// mentions `row`, as a user reads the table.
pub(super) fn cell(row: &str, header: &str) -> String {
    format!(
        "(() => {{ const heads = [...document.querySelectorAll('main table thead th')]; \
         const i = heads.findIndex(th => th.textContent.trim() === {h} || th.getAttribute('aria-label') === {h} \
           || th.querySelector('button')?.getAttribute('aria-label') === {h}); \
         const tr = [...document.querySelectorAll('main table tbody tr')].find(r => r.innerText.includes({r})); \
         return i >= 0 && tr ? tr.children[i].innerText.trim() : null; }})()",
        h = json!(header),
        r = json!(row)
    )
}

/// An app that idles until a file `go` appears beside it, then keeps one
/// core busy and holds 160 MiB.
const BURN: &str = "const fs = require('fs');
let held = null;
setInterval(() => {
  if (held || !fs.existsSync(__dirname + '/go')) return;
  held = Buffer.alloc(160 * 1024 * 1024, 1);
  setInterval(() => { const end = Date.now() + 90; while (Date.now() < end) {} }, 100);
}, 100);
";

fn pid_of(agent: &Agent, app: &str) -> i64 {
    let list = agent.jlist();
    let p = list.iter().find(|p| p["name"] == app).unwrap();
    p["pid"].as_i64().unwrap()
}

#[test]
fn every_figure_of_a_process_row_follows_the_change_feed() {
    let hub = Hub::start(Tls::None);
    let agent = Agent::new();
    agent.write("burn.js", BURN);
    agent.ok(&["start", "burn.js", "--name", "burn"]);
    agent.link(&hub, "web-1", &[]);
    wait_until("the app in the hub", || {
        (hub.process("web-1", "burn")?["status"] == "online").then_some(())
    });
    let owner = user(&hub, "owner@example.com", "owner");
    let mut b = Browser::launch(1280, 800);
    sign_in(&mut b, &hub, "owner@example.com", &owner);
    b.goto(&format!("{}/processes", base(&hub)));
    let first = pid_of(&agent, "burn");
    b.wait(
        "the row with the app's pid",
        &format!("{} === '{first}'", cell("burn", "pid")),
    );
    b.eval("window.__still_here = true");

    agent.ok(&["restart", "burn"]);
    let second = pid_of(&agent, "burn");
    assert_ne!(first, second);
    b.wait(
        "the row with the new pid",
        &format!("{} === '{second}'", cell("burn", "pid")),
    );
    // The uptime counts from the restart, on screen.
    let up = b.eval(&cell("burn", "Uptime"));
    b.wait(
        "the uptime counting",
        &format!("{} !== {up}", cell("burn", "Uptime")),
    );

    // The app starts to work: CPU and memory follow.
    agent.write("go", "");
    b.wait(
        "CPU busy in the row",
        &format!("parseFloat({}) >= 10", cell("burn", "CPU")),
    );
    b.wait(
        "memory in the row",
        &format!(
            "(t => t.endsWith('GiB') || (t.endsWith('MiB') && parseFloat(t) >= 150))({})",
            cell("burn", "Memory")
        ),
    );
    assert_eq!(
        b.eval("window.__still_here === true"),
        json!(true),
        "the page reloaded"
    );
    assert!(b.errors.is_empty(), "{:?}", b.errors);
}
