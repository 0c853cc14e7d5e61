//! The live log panel as someone opening it meets it: the lines written
//! before it opened are there, each with the time its app printed it.

use serde_json::{Value, json};

use super::cdp::Browser;
use super::{base, sign_in, user};
use crate::harness::{Agent, Hub, Tls, wait_until};

/// The lines of the log panel named `name` (found by its role and name in
/// the accessibility tree, as a screen reader finds it): each line's text,
/// the time shown with it, and that time's `datetime` in Unix ms.
fn panel_lines(b: &mut Browser, name: &str) -> Vec<(String, String, i64)> {
    let doc = b.call("DOM.getDocument", json!({"depth": 0}));
    let found = b.call(
        "Accessibility.queryAXTree",
        json!({"nodeId": doc["root"]["nodeId"], "accessibleName": name, "role": "log"}),
    );
    let Some(node) = found["nodes"].as_array().and_then(|n| n.first()) else {
        return Vec::new();
    };
    let object = b.call(
        "DOM.resolveNode",
        json!({"backendNodeId": node["backendDOMNodeId"]}),
    );
    let lines = b.call(
        "Runtime.callFunctionOn",
        json!({
            "objectId": object["object"]["objectId"],
            "returnByValue": true,
            "functionDeclaration": "function () { return [...this.children].map((d) => { \
                const t = d.querySelector('time'); \
                return [d.innerText, t ? t.innerText : '', t ? Date.parse(t.dateTime) : 0]; }); }",
        }),
    );
    let rows = lines["result"]["value"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    rows.iter()
        .map(|r| {
            let s = |v: &Value| v.as_str().unwrap_or_default().to_string();
            (s(&r[0]), s(&r[1]), r[2].as_i64().unwrap_or(0))
        })
        .collect()
}

#[test]
fn lines_written_before_the_panel_opened_carry_the_time_they_were_printed() {
    let hub = Hub::start(Tls::None);
    let agent = Agent::new();
    // Each line says when the app printed it (Unix ms), 3 s apart.
    agent.write(
        "stamp.js",
        "console.log('first ' + Date.now());\n\
         setTimeout(() => console.log('second ' + Date.now()), 3000);\n\
         setInterval(() => {}, 1000);\n",
    );
    agent.ok(&["start", "stamp.js", "--name", "stamp"]);
    agent.link(&hub, "web-1", &[]);
    let log = agent.home.path().join("logs/stamp-out.log");
    wait_until("both lines in the log file", || {
        let text = std::fs::read_to_string(&log).ok()?;
        text.contains("second ").then_some(())
    });
    let server = wait_until("the server in the hub", || hub.server("web-1"))["id"].clone();
    let p = wait_until("the app in the hub", || hub.process("web-1", "stamp"));

    let owner = user(&hub, "owner@example.com", "owner");
    let mut b = Browser::launch(1280, 800);
    sign_in(&mut b, &hub, "owner@example.com", &owner);
    b.call("Accessibility.enable", json!({}));
    b.goto(&format!(
        "{}/servers/{server}/processes/{}",
        base(&hub),
        p["pm_id"]
    ));
    b.wait("the log panel", "document.querySelector('[role=log]')");
    let lines = wait_until("both lines in the panel", || {
        let lines = panel_lines(&mut b, "Output of stamp");
        (lines.len() >= 2).then_some(lines)
    });
    let printed = |word: &str| -> (i64, &(String, String, i64)) {
        let l = lines
            .iter()
            .find(|l| l.0.contains(word))
            .unwrap_or_else(|| panic!("no {word} line in {lines:?}"));
        let at: i64 = l.0.split(word).nth(1).unwrap().trim().parse().unwrap();
        (at, l)
    };
    let (first_at, first) = printed("first ");
    let (second_at, second) = printed("second ");
    assert_ne!(first.1, second.1, "one time shown for both: {lines:?}");
    for (at, l) in [(first_at, first), (second_at, second)] {
        assert!(
            (l.2 - at).abs() < 1000,
            "{:?} shows {} ({} ms), printed at {at} ms: {} ms apart",
            l.0,
            l.1,
            l.2,
            l.2 - at
        );
    }
    assert!(b.errors.is_empty(), "{:?}", b.errors);
}
