//! At phone width (360 px, emulated as a phone), the process cards tell
//! two instances of one app apart: each shows its id, pid and uptime,
//! labelled, as an on-call engineer reads them.

use serde_json::{Value, json};

use super::cdp::Browser;
use super::{base, sign_in, user};
use crate::harness::{Agent, Hub, Tls, wait_until};

#[test]
fn phone_cards_tell_two_instances_of_one_app_apart() {
    let hub = Hub::start(Tls::None);
    let agent = Agent::new();
    agent.write("web.js", "setInterval(() => {}, 1000);\n");
    agent.ok(&["start", "web.js", "--name", "web", "-i", "2"]);
    agent.link(&hub, "web-1", &[]);
    wait_until("both instances online in the hub", || {
        let all = hub.get("/api/v1/processes?app=web");
        let all = all.as_array()?;
        (all.len() == 2 && all.iter().all(|p| p["status"] == "online")).then_some(())
    });
    let pw = user(&hub, "oncall@example.com", "viewer");
    let mut b = Browser::launch(360, 740);
    b.call(
        "Emulation.setDeviceMetricsOverride",
        json!({"width": 360, "height": 740, "deviceScaleFactor": 2, "mobile": true}),
    );
    sign_in(&mut b, &hub, "oncall@example.com", &pw);
    b.goto(&format!("{}/processes", base(&hub)));
    b.wait(
        "two cards of web",
        "[...document.querySelectorAll('main table.grid tbody tr')].filter(r => r.innerText.includes('web')).length === 2",
    );
    // What a card shows: each labelled field that takes room on screen.
    let cards = b.eval(
        "[...document.querySelectorAll('main table.grid tbody tr')].filter(r => r.innerText.includes('web')).map(r => \
           Object.fromEntries([...r.querySelectorAll('td[data-label]')] \
             .filter(td => td.getBoundingClientRect().width > 0) \
             .map(td => [getComputedStyle(td, '::before').content.replace(/^\"|\"$/g, '').trim(), td.innerText.trim()])))",
    );
    let cards = cards.as_array().unwrap();
    let procs = hub.get("/api/v1/processes?app=web");
    let field = |c: &Value, k: &str| c[k].as_str().unwrap_or_default().to_string();
    for c in cards {
        let id = field(c, "id");
        let p = procs
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["pm_id"].as_i64() == id.parse().ok())
            .unwrap_or_else(|| panic!("no card shows the instance id: {c}"));
        assert_eq!(field(c, "pid"), p["pid"].to_string(), "{c}");
        let up = field(c, "Uptime");
        assert!(
            up.ends_with('s') || up.ends_with('m') || up.ends_with('h'),
            "no uptime on the card: {c}"
        );
    }
    assert_ne!(field(&cards[0], "id"), field(&cards[1], "id"), "{cards:?}");
    assert_ne!(
        field(&cards[0], "pid"),
        field(&cards[1], "pid"),
        "{cards:?}"
    );
    let wide = b.eval("document.documentElement.scrollWidth");
    assert!(wide.as_i64().unwrap() <= 360, "page is {wide} px wide");
    super::snap(&mut b, "processes-two-instances-phone");
    assert!(b.errors.is_empty(), "{:?}", b.errors);
}
