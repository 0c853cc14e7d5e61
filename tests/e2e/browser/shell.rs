//! The dashboard's frame as a screen reader, a keyboard and a first
//! visitor meet it: names for every control, sortable headers that are
//! buttons reached with Tab, the log panel a `log`, the `?` list the same
//! as the README's; the sign-in page quiet (no console error) and reached
//! from `/` without loading the shell twice; the navigation marking the
//! section of a process page; a search placeholder that fits its box.

use serde_json::{Value, json};

use super::cdp::Browser;
use super::{agent_with_app, base, sign_in, user};
use crate::harness::{Hub, Tls};

/// Every node of the page's accessibility tree as (role, name).
fn ax(b: &mut Browser) -> Vec<(String, String)> {
    let tree = b.call("Accessibility.getFullAXTree", json!({}));
    let nodes = tree["nodes"].as_array().cloned().unwrap_or_default();
    let s = |v: &Value| v["value"].as_str().unwrap_or_default().to_string();
    nodes
        .iter()
        .filter(|n| n["ignored"] != json!(true))
        .map(|n| (s(&n["role"]), s(&n["name"])))
        .collect()
}

fn has(tree: &[(String, String)], role: &str, name: &str) -> bool {
    tree.iter().any(|(r, n)| r == role && n == name)
}

/// Presses one key as a user would.
fn press(b: &mut Browser, key: &str, code: u32) {
    let text = if key == "Enter" { "\r" } else { "" };
    for kind in ["keyDown", "keyUp"] {
        b.call(
            "Input.dispatchKeyEvent",
            json!({"type": kind, "key": key, "code": key, "windowsVirtualKeyCode": code, "text": text}),
        );
    }
}

#[test]
fn the_sign_in_page_is_quiet_and_reached_in_one_load() {
    let hub = Hub::start(Tls::None);
    let mut b = Browser::launch(1280, 800);
    b.goto(&format!("{}/", base(&hub)));
    b.wait(
        "the sign-in form",
        "location.pathname === '/login' && document.querySelector('input[name=password]')",
    );
    // One document load: the address changed in place, not by a reload.
    let loaded = b.eval("performance.getEntriesByType('navigation')[0].name");
    assert_eq!(
        loaded,
        json!(format!("{}/", base(&hub))),
        "the shell loaded twice"
    );
    std::thread::sleep(std::time::Duration::from_millis(300));
    b.eval("1");
    assert!(b.errors.is_empty(), "console errors: {:?}", b.errors);
}

#[test]
fn screen_readers_and_keyboards_find_every_control() {
    let hub = Hub::start(Tls::None);
    let _agent = agent_with_app(&hub, "web-1", "release one");
    let owner = user(&hub, "owner@example.com", "owner");
    let mut b = Browser::launch(1280, 800);
    sign_in(&mut b, &hub, "owner@example.com", &owner);
    b.call("Accessibility.enable", json!({}));

    b.goto(&format!("{}/processes", base(&hub)));
    b.wait("the table", "document.querySelector('main tbody tr')");
    let tree = ax(&mut b);
    assert!(has(&tree, "button", "Light or dark theme"), "theme button");
    assert!(
        has(&tree, "columnheader", "Restarts"),
        "restarts column: {:?}",
        tree.iter()
            .filter(|(r, _)| r == "columnheader")
            .collect::<Vec<_>>()
    );
    assert!(has(&tree, "button", "CPU"), "CPU header is a button");
    // Tab reaches the CPU header's button; Enter sorts by it.
    let mut reached = false;
    for _ in 0..40 {
        press(&mut b, "Tab", 9);
        if b.eval("document.activeElement?.closest('th')?.innerText.trim() === 'CPU'")
            == json!(true)
        {
            reached = true;
            break;
        }
    }
    assert!(reached, "Tab never reached the CPU header");
    press(&mut b, "Enter", 13);
    b.wait(
        "sorted by CPU",
        "[...document.querySelectorAll('main th')].find(th => th.innerText.trim().startsWith('CPU'))?.getAttribute('aria-sort') === 'ascending'",
    );

    // The search placeholder fits its box.
    let fits = b.eval(
        "(() => { const i = document.querySelector('#top input[type=search]'); const c = document.createElement('canvas').getContext('2d'); \
          const s = getComputedStyle(i); c.font = `${s.fontSize} ${s.fontFamily}`; \
          const room = i.clientWidth - parseFloat(s.paddingLeft) - parseFloat(s.paddingRight); \
          return c.measureText(i.placeholder).width <= room; })()",
    );
    assert_eq!(fits, json!(true), "the search placeholder is cut");

    // A process page: the navigation marks Processes; the logs are a log.
    b.goto(&format!("{}/servers/1/processes/0", base(&hub)));
    b.wait("the process page", "document.querySelector('pre.logs')");
    let current = b.eval("document.querySelector('#top nav a[aria-current=page]')?.innerText");
    assert_eq!(current, json!("Processes"));
    let tree = ax(&mut b);
    assert!(tree.iter().any(|(r, _)| r == "log"), "no role=log");

    // `?` lists the shortcuts the README lists, no more, no fewer.
    b.eval("document.activeElement.blur()");
    b.eval(
        "document.body.dispatchEvent(new KeyboardEvent('keydown', { key: '?', bubbles: true }))",
    );
    let shown = b.wait(
        "the shortcut list",
        "document.querySelector('dialog[open]') && [...document.querySelectorAll('dialog[open] kbd')].map(k => k.textContent)",
    );
    let mut shown: Vec<String> = serde_json::from_value(shown).unwrap();
    let readme = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../README.md"),
    )
    .unwrap();
    let text = readme.replace('\n', " ");
    let sentence = text
        .split("Keyboard: ")
        .nth(1)
        .and_then(|s| s.split("for the list.").next())
        .expect("the README's keyboard sentence");
    let mut listed: Vec<String> = sentence
        .split('`')
        .skip(1)
        .step_by(2)
        .map(String::from)
        .collect();
    shown.sort();
    listed.sort();
    assert_eq!(shown, listed, "the `?` list and the README differ");
    assert!(b.errors.is_empty(), "{:?}", b.errors);
}
