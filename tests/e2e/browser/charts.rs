//! Charts as a team reads them: a process seconds old fills its charts
//! (the axis starts where its data does, not an hour back), an idle app's
//! CPU axis reads three different values, and a range is picked with a
//! button or zoomed by dragging across a chart (the zoom in the URL).

use serde_json::json;

use super::cdp::Browser;
use super::{base, sign_in, user};
use crate::harness::{Agent, Hub, Tls, wait_until};

/// The texts of the first chart's value axis (labels of values, not times).
const Y_LABELS: &str = "[...document.querySelectorAll('svg.chart')[0].querySelectorAll('text.value')].map(t => t.textContent)";

#[test]
fn charts_fit_the_data_read_well_when_idle_and_zoom() {
    let hub = Hub::start(Tls::None);
    let agent = Agent::new();
    agent.write("idle.js", "setInterval(() => {}, 1000);\n");
    agent.ok(&["start", "idle.js", "--name", "idle"]);
    agent.link(&hub, "web-1", &[]);
    wait_until("idle in the hub", || hub.process("web-1", "idle"));
    wait_until("a row of history", || {
        let d = hub.get("/api/v1/servers/1/processes/0");
        (d["history"].as_array()?.len() >= 2).then_some(())
    });
    let pw = user(&hub, "dev@example.com", "viewer");
    let mut b = Browser::launch(1280, 1000);
    sign_in(&mut b, &hub, "dev@example.com", &pw);
    b.goto(&format!("{}/servers/1/processes/0", base(&hub)));

    // Fitted: the head says there is no data before, and no axis label is
    // the time an hour ago.
    let head = b.wait(
        "the fitted chart",
        "document.querySelector('.chart-head')?.innerText.includes('no data before') && document.querySelector('.chart-head').innerText",
    );
    assert!(head.as_str().unwrap().contains("of the last 1h"), "{head}");
    let hour_ago = b.eval(
        "(() => { const a = new Date(Date.now() - 3600e3).toLocaleTimeString(undefined, {hour: '2-digit', minute: '2-digit'}); \
           return [...document.querySelectorAll('svg.chart')[0].querySelectorAll('text')].some(t => t.textContent.startsWith(a)); })()",
    );
    assert_eq!(hour_ago, json!(false), "the axis still starts an hour back");

    // Idle CPU: three different labels on the value axis.
    let labels = b.eval(Y_LABELS);
    let mut distinct: Vec<String> = serde_json::from_value(labels.clone()).unwrap();
    distinct.dedup();
    assert_eq!(distinct.len(), 3, "{labels}");

    // A preset: pressed, and in the URL.
    b.click("main button", "15m");
    b.wait(
        "15m pressed",
        "[...document.querySelectorAll('main [aria-label=Range] button')].find(x => x.textContent === '15m')?.getAttribute('aria-pressed') === 'true' && location.search.includes('range=15m')",
    );

    // A zoom: drag across the CPU chart.
    let r = b.eval(
        "(() => { const s = document.querySelectorAll('svg.chart')[0]; s.scrollIntoView(); const r = s.getBoundingClientRect(); return [r.left, r.top, r.width, r.height]; })()",
    );
    let r: Vec<f64> = serde_json::from_value(r).unwrap();
    let (y, x1, x2) = (r[1] + r[3] / 2.0, r[0] + r[2] * 0.1, r[0] + r[2] * 0.95);
    let mouse = |b: &mut Browser, kind: &str, x: f64, buttons: u32| {
        b.call(
            "Input.dispatchMouseEvent",
            json!({"type": kind, "x": x, "y": y, "button": "left", "buttons": buttons, "clickCount": 1}),
        );
    };
    mouse(&mut b, "mousePressed", x1, 1);
    mouse(&mut b, "mouseMoved", (x1 + x2) / 2.0, 1);
    mouse(&mut b, "mouseMoved", x2, 1);
    mouse(&mut b, "mouseReleased", x2, 0);
    let zoomed = b.wait(
        "the zoomed chart",
        "document.querySelector('.chart-head')?.innerText.includes('zoomed') && location.search",
    );
    let q = zoomed.as_str().unwrap();
    assert!(q.contains("from=") && q.contains("to="), "{q}");
    // The zoom survives a reload of its URL, as a pasted link would.
    let url = b.eval("location.href");
    b.goto(url.as_str().unwrap());
    b.wait(
        "the zoom after a reload",
        "document.querySelector('.chart-head')?.innerText.includes('zoomed')",
    );
    super::snap(&mut b, "process-zoomed");
    b.click("main button", "Reset zoom");
    b.wait(
        "the zoom reset",
        "!location.search.includes('from=') && !document.querySelector('.chart-head').innerText.includes('zoomed')",
    );
    assert!(b.errors.is_empty(), "{:?}", b.errors);
}
