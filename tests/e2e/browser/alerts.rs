//! Alerts and exceptions in the browser: a crash-looping app's alert shows
//! firing on the Alerts page, an operator mutes its rule there, and a Node
//! app's unhandled rejection shows on the Exceptions page with its stack.

use serde_json::json;

use super::cdp::Browser;
use super::{base, sign_in, snap, user};
use crate::harness::{Agent, Hub, Tls, wait_until};

#[test]
fn a_firing_alert_and_an_exception_show_in_the_dashboard() {
    let hub = Hub::start(Tls::None);
    let rule = json!({"name": "app errored", "kind": "errored", "severity": "critical"});
    let (status, v) = hub.http("POST", "/api/v1/alert-rules", Some(&rule), true);
    assert_eq!(status, 201, "{v}");
    let agent = Agent::new();
    agent.link(&hub, "web-1", &[]);
    agent.write("crash.sh", "sleep 0.2; exit 1\n");
    agent.ok(&["start", "crash.sh", "--name", "crash"]);
    agent.write(
        "pay.js",
        "setTimeout(() => Promise.reject(new Error('card declined')), 200);\nsetInterval(() => {}, 1000);\n",
    );
    agent.ok(&["start", "pay.js", "--name", "pay"]);
    let op = user(&hub, "op@example.com", "operator");
    wait_until("the alert firing", || {
        let a = hub.get("/api/v1/alerts");
        (a[0]["state"] == "firing").then_some(())
    });
    let mut b = Browser::launch(1280, 800);
    sign_in(&mut b, &hub, "op@example.com", &op);
    b.goto(&format!("{}/alerts", base(&hub)));
    b.wait(
        "the firing alert",
        "document.querySelector('main').innerText.includes('app errored')",
    );
    assert!(b.text().contains("crash on web-1"), "{}", b.text());
    snap(&mut b, "alerts-firing");
    b.click("button", "Mute 1 h");
    b.wait(
        "muted",
        "[...document.querySelectorAll('main button')].some(x => x.textContent === 'Unmute')",
    );
    let rules = hub.get("/api/v1/alert-rules");
    assert!(rules[0]["muted_until"].is_i64(), "{rules}");
    b.goto(&format!("{}/exceptions", base(&hub)));
    b.wait(
        "the exception group",
        "document.querySelector('main').innerText.includes('Error: card declined')",
    );
    b.eval("document.querySelector('details').open = true");
    b.wait(
        "its stack",
        "document.querySelector('details pre.sample').innerText.includes('pay.js')",
    );
    snap(&mut b, "exceptions");
    assert!(b.errors.is_empty(), "{:?}", b.errors);
}
