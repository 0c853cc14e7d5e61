//! Live updates and roles in the browser: a `kill -9` on the agent changes
//! the process's row on an open page without a reload; an operator
//! restarts the app from its page; a viewer gets no action buttons and
//! the hub refuses (403) a forged POST made with the viewer's session; a
//! request without the CSRF token is refused even for an operator; the
//! app's output streams into its page.

use serde_json::json;

use super::cdp::Browser;
use super::{agent_with_app, base, pid, sign_in, snap, user};
use crate::harness::{Hub, Tls, wait_until};

/// A POST to the actions API from inside the page, with or without the
/// session's CSRF token; returns the status.
fn post_action(b: &mut Browser, with_csrf: bool) -> i64 {
    let js = format!(
        "(async () => {{
            const me = await (await fetch('/api/v1/session')).json();
            const headers = {{ 'Content-Type': 'application/json' }};
            if ({with_csrf}) headers['X-CSRF-Token'] = me.csrf;
            const r = await fetch('/api/v1/actions', {{ method: 'POST', headers,
                body: JSON.stringify({{ server: 'web-1', action: 'restart', targets: ['api'] }}) }});
            return r.status;
        }})()"
    );
    b.eval(&js).as_i64().unwrap()
}

#[test]
fn a_crash_shows_live_and_roles_hold_in_the_browser() {
    let hub = Hub::start(Tls::None);
    let agent = agent_with_app(&hub, "web-1", "release one");
    let op = user(&hub, "op@example.com", "operator");
    let viewer = user(&hub, "viewer@example.com", "viewer");

    let mut b = Browser::launch(1280, 800);
    sign_in(&mut b, &hub, "op@example.com", &op);
    b.goto(&format!("{}/processes", base(&hub)));
    let restarts = "[...document.querySelectorAll('main tbody tr')].find(r => r.innerText.includes('web-1'))?.children[7]?.textContent";
    b.wait(
        "the api row with 0 restarts",
        &format!("{restarts} === '0'"),
    );
    // A marker that a reload would wipe.
    b.eval("window.__still_here = true");
    let before = pid(&agent);
    nix_kill(before);
    b.wait(
        "the row showing the restart",
        &format!("{restarts} === '1'"),
    );
    assert_eq!(
        b.eval("window.__still_here === true"),
        json!(true),
        "the page reloaded"
    );

    // The operator restarts the app from its page and sees the result.
    b.goto(&format!("{}/servers/1/processes/0", base(&hub)));
    b.click("button", "Restart");
    b.wait(
        "the agent's answer",
        "document.querySelector('.result')?.innerText.includes('api restarted on web-1: 1 instance, new pid')",
    );
    snap(&mut b, "process-after-restart");
    // The app's own action (registered as @pm2/io does), with its parameter,
    // once the new instance registered it again (the page may still offer
    // the old instance's list for a moment).
    let now = pid(&agent);
    wait_until("the new instance's action registered", || {
        let p = hub.process("web-1", "api")?;
        let has = p["actions"].as_array()?.iter().any(|a| a == "clear-cache");
        (p["pid"] == now && has).then_some(())
    });
    b.wait(
        "the app's action offered",
        "[...document.querySelectorAll('select option')].some(o => o.value === 'clear-cache')",
    );
    b.fill("input[aria-label=Parameter]", "sessions");
    b.click("button", "Trigger");
    b.wait(
        "the action's reply",
        "document.querySelector('.result')?.innerText.includes('sessions')",
    );
    // The app's output streams into the page while it is open.
    b.wait(
        "log lines in the page",
        "document.querySelector('pre.logs')?.innerText.includes('tick ')",
    );
    wait_until("the agent restarted it", || {
        let list = agent.jlist();
        let p = list.iter().find(|p| p["name"] == "api")?;
        (p["pm2_env"]["restart_time"].as_i64()? >= 2).then_some(())
    });
    // Without the CSRF token, even an operator's session is refused.
    assert_eq!(post_action(&mut b, false), 403);
    assert_eq!(post_action(&mut b, true), 202);
    drop(b);

    // A viewer sees the page without any action, and a forged POST with
    // the viewer's own session and CSRF token is refused by the hub.
    let mut v = Browser::launch(1280, 800);
    sign_in(&mut v, &hub, "viewer@example.com", &viewer);
    v.goto(&format!("{}/servers/1/processes/0", base(&hub)));
    v.wait(
        "the process page",
        "document.querySelector('main').innerText.includes('History')",
    );
    let buttons =
        v.eval("[...document.querySelectorAll('main button')].map(b => b.textContent).join(',')");
    let buttons = buttons.as_str().unwrap();
    for verb in ["Restart", "Stop", "Delete", "Scale"] {
        assert!(!buttons.contains(verb), "viewer sees {verb}: {buttons}");
    }
    let header = v.eval("document.getElementById('top').innerText");
    assert!(
        !header.as_str().unwrap().contains("Admin"),
        "no admin pages for a viewer"
    );
    snap(&mut v, "process-viewer");
    assert!(v.errors.is_empty(), "{:?}", v.errors);
    assert_eq!(post_action(&mut v, true), 403);
}

fn nix_kill(pid: i64) {
    let ok = std::process::Command::new("kill")
        .args(["-9", &pid.to_string()])
        .status()
        .unwrap();
    assert!(ok.success());
}

#[test]
fn over_tls_the_session_cookie_is_secure_and_the_dashboard_works() {
    let hub = Hub::start(Tls::SelfSigned);
    let owner = user(&hub, "owner@example.com", "owner");
    // The hub's certificate is self-signed: this browser is told to accept
    // it, as a person accepts it once.
    let mut b = Browser::launch_with(1280, 800, &["--ignore-certificate-errors"]);
    let https = format!("https://127.0.0.1:{}", hub.port);
    b.goto(&format!("{https}/login"));
    b.fill("input[name=email]", "owner@example.com");
    b.fill("input[name=password]", &owner);
    b.click("form button", "Sign in");
    b.wait(
        "the fleet",
        "document.querySelector('h1')?.textContent.startsWith('Fleet')",
    );
    // The cookie is HttpOnly (invisible to scripts) and __Host- prefixed.
    assert_eq!(b.eval("document.cookie"), json!(""));
    let cookies = b.call("Network.getCookies", json!({"urls": [https]}));
    let c = &cookies["cookies"][0];
    assert_eq!(c["name"], "__Host-pmr_session", "{cookies}");
    assert_eq!(
        (c["secure"].as_bool(), c["httpOnly"].as_bool()),
        (Some(true), Some(true))
    );
    assert_eq!(c["sameSite"], "Lax");
    // On the TLS port every answer asks the browser to stay on HTTPS.
    let hsts = b.eval("fetch('/').then(r => r.headers.get('strict-transport-security'))");
    assert_eq!(hsts, json!("max-age=31536000"));
    assert!(b.errors.is_empty(), "{:?}", b.errors);
}

#[test]
fn a_page_says_when_it_lost_the_hub_and_catches_up_when_it_returns() {
    let mut hub = Hub::start(Tls::None);
    let agent = agent_with_app(&hub, "web-1", "release one");
    let owner = user(&hub, "owner@example.com", "owner");
    let mut b = Browser::launch(1280, 800);
    sign_in(&mut b, &hub, "owner@example.com", &owner);
    b.wait(
        "the app online",
        "document.querySelector('main').innerText.includes('1 online')",
    );
    b.eval("window.__still_here = true");
    hub.stop();
    b.wait(
        "the banner",
        "!document.getElementById('banner').hidden && document.getElementById('banner').innerText.includes('Live updates lost')",
    );
    snap(&mut b, "fleet-hub-lost");
    // What changes while the page cannot hear about it...
    agent.ok(&["stop", "api"]);
    hub.restart();
    // ... is on the page once the hub is back, without a reload.
    b.wait(
        "the banner gone",
        "document.getElementById('banner').hidden",
    );
    b.wait(
        "the app stopped",
        "document.querySelector('main').innerText.includes('1 stopped')",
    );
    assert_eq!(
        b.eval("window.__still_here === true"),
        json!(true),
        "the page reloaded"
    );
}
