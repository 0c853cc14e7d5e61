//! Every page, as the owner who created the hub's first account through
//! the setup link: the fleet shows both servers, the versions page the
//! drift between them, the admin pages create a key (with its exact link
//! command), a user and a token; and a screenshot of each page in light,
//! dark and at phone width.

use super::cdp::Browser;
use super::{agent_with_app, base, snap};
use crate::harness::{Hub, Tls};

const PAGES: [(&str, &str, &str); 13] = [
    ("fleet", "/", "web-1"),
    ("server", "/servers/1", "Processes"),
    ("processes", "/processes", "api"),
    ("process", "/servers/1/processes/0", "History"),
    ("versions", "/versions", "drift"),
    ("events", "/events", "api #0"),
    ("keys", "/admin/keys", "prod"),
    ("users", "/admin/users", "owner@example.com"),
    ("audit", "/admin/audit", "sign-in"),
    ("alerts", "/alerts", "No alert has fired"),
    ("exceptions", "/exceptions", "Exceptions"),
    ("rules", "/admin/rules", "Add rule"),
    ("receivers", "/admin/receivers", "Delivery log"),
];

/// Opens each page, waits for what it must show, saves its screenshot.
fn every_page(b: &mut Browser, hub: &Hub, variant: &str) {
    for (name, path, expect) in PAGES {
        b.goto(&format!("{}{path}", base(hub)));
        let js = format!("document.querySelector('main').innerText.includes({expect:?})");
        b.wait(&format!("{name} showing {expect}"), &js);
        snap(b, &format!("{name}-{variant}"));
    }
}

#[test]
fn the_owner_sets_up_the_hub_and_sees_every_page() {
    let hub = Hub::start(Tls::None);
    let one = agent_with_app(&hub, "web-1", "release one");
    // Something for the events page.
    one.ok(&["restart", "api"]);
    let _two = agent_with_app(&hub, "web-2", "release two");
    let link = hub
        .out()
        .lines()
        .find(|l| l.contains("/setup#token="))
        .expect("serve prints the setup link")
        .trim()
        .to_string();
    let mut b = Browser::launch(1280, 800);
    // Before any sign-in, every page leads to the sign-in page.
    b.goto(&format!("{}/processes", base(&hub)));
    b.wait("the sign-in page", "location.pathname === '/login'");
    b.goto(&link);
    b.fill("input[name=email]", "owner@example.com");
    b.fill("input[name=password]", "correct horse battery");
    b.click("form button", "Create owner");
    b.wait(
        "the fleet after setup",
        "document.querySelector('h1')?.textContent.startsWith('Fleet')",
    );
    // The setup token is spent: the same link cannot make a second owner.
    assert!(!b.eval("location.hash.includes('token')").as_bool().unwrap());
    b.wait(
        "both servers",
        "document.querySelector('main').innerText.includes('web-2')",
    );
    every_page(&mut b, &hub, "light");
    // The first load of a page, assets and API answers, fresh cache:
    // transferred bytes as the browser counts them (gzip on the wire).
    b.call("Network.enable", serde_json::json!({}));
    b.call("Network.clearBrowserCache", serde_json::json!({}));
    b.goto(&format!("{}/processes", base(&hub)));
    b.wait(
        "the processes page",
        "document.querySelector('main').innerText.includes('web-2')",
    );
    let bytes = b.eval(
        "performance.getEntriesByType('navigation').concat(performance.getEntriesByType('resource'))\
         .reduce((a, e) => a + e.transferSize, 0)",
    );
    let bytes = bytes.as_f64().unwrap();
    eprintln!("first load of /processes: {bytes} bytes on the wire");
    assert!(
        bytes > 5_000.0 && bytes < 150_000.0,
        "first load: {bytes} bytes"
    );
    let versions = {
        b.goto(&format!("{}/versions", base(&hub)));
        b.wait(
            "drift",
            "document.querySelector('main').innerText.includes('drift')",
        );
        b.text()
    };
    assert!(
        versions.contains("release one") && versions.contains("release two"),
        "{versions}"
    );
    // A key made on the page shows the exact command that links a server.
    b.goto(&format!("{}/admin/keys", base(&hub)));
    b.fill("input[name=bucket]", "staging");
    b.click("form button", "Create key");
    let cmd = b
        .wait(
            "the link command",
            "[...document.querySelectorAll('pre')].map(p => p.textContent).find(t => t.startsWith('pmr link '))",
        )
        .as_str()
        .unwrap()
        .to_string();
    assert!(
        cmd.contains(&format!("--hub ws://127.0.0.1:{}", hub.port)),
        "{cmd}"
    );
    snap(&mut b, "keys-created-light");
    // The command works as printed: a third agent links with it.
    let third = crate::harness::Agent::new();
    let args: Vec<&str> = cmd.split_whitespace().skip(1).collect();
    let mut with_name = args.clone();
    with_name.insert(3, "stg-1");
    third.ok(&with_name);
    b.goto(&base(&hub));
    b.wait(
        "the third server, live",
        "document.querySelector('main').innerText.includes('stg-1')",
    );
    // A user and a token made on the admin pages.
    b.goto(&format!("{}/admin/users", base(&hub)));
    b.fill("input[name=email]", "ops@example.com");
    b.eval("document.querySelector('select[name=role]').value = 'operator'");
    b.click("form button", "Add user");
    b.wait(
        "the password shown once",
        "document.querySelector('main').innerText.includes('shown once')",
    );
    b.goto(&format!("{}/admin/tokens", base(&hub)));
    b.fill("input[name=name]", "ci");
    b.click("form button", "Create token");
    let token = b
        .wait(
            "the token",
            "[...document.querySelectorAll('pre')].map(p => p.textContent).find(t => t.startsWith('pmrt_'))",
        )
        .as_str()
        .unwrap()
        .to_string();
    snap(&mut b, "tokens-light");
    // The token works for a script, with the role it was given (viewer).
    let (status, _) = hub.http("GET", "/api/v1/servers", None, false);
    assert_eq!(status, 401);
    let r = crate::hostile_http::raw(
        hub.port,
        &format!(
            "GET /api/v1/session HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {token}\r\nConnection: close\r\n\r\n"
        ),
    );
    assert_eq!(r.0, 200, "{r:?}");
    assert!(r.2.contains("\"role\":\"viewer\""), "{}", r.2);
    // Dark theme and phone width: the same pages, screenshots to look at.
    b.eval("localStorage.setItem('theme', 'dark')");
    for (name, path, expect) in PAGES {
        b.goto(&format!("{}{path}", base(&hub)));
        b.wait(
            name,
            &format!("document.querySelector('main').innerText.includes({expect:?})"),
        );
        snap(&mut b, &format!("{name}-dark"));
    }
    let errors = std::mem::take(&mut b.errors);
    drop(b);
    let mut phone = Browser::launch(390, 844);
    super::sign_in(
        &mut phone,
        &hub,
        "owner@example.com",
        "correct horse battery",
    );
    for (name, path, expect) in PAGES {
        phone.goto(&format!("{}{path}", base(&hub)));
        phone.wait(
            name,
            &format!("document.querySelector('main').innerText.includes({expect:?})"),
        );
        snap(&mut phone, &format!("{name}-phone"));
    }
    // Cards at phone width: nothing wider than the screen.
    let wide = phone.eval("document.documentElement.scrollWidth");
    assert!(wide.as_i64().unwrap() <= 390, "page is {wide} px wide");
    assert!(
        errors.is_empty() && phone.errors.is_empty(),
        "{errors:?} {:?}",
        phone.errors
    );
}
