//! Alert rules and receivers made with forms, as an admin would: fields
//! found by their labels, each kind's own fields, the receivers that exist
//! to pick from, and the API's refusal shown beside the field it names
//! (read through the field's aria-describedby, as a screen reader does).

use serde_json::json;

use super::cdp::Browser;
use super::{base, sign_in, snap, user};
use crate::harness::{Hub, Tls};

/// The visible control whose label starts with the text `label`.
fn control(label: &str) -> String {
    format!(
        "[...document.querySelectorAll('main input, main select')].find(e => !e.closest('[hidden]') && \
         [...(e.labels || [])].some(l => (l.firstChild.textContent || l.textContent).trim() === {l}))",
        l = json!(label)
    )
}

/// The message the control labelled `label` points to.
fn message(label: &str) -> String {
    format!(
        "document.getElementById({c}.getAttribute('aria-describedby')).textContent",
        c = control(label)
    )
}

/// Types or picks `value` in the control labelled `label`.
fn set(b: &mut Browser, label: &str, value: &str) {
    b.wait(&format!("a field labelled {label}"), &control(label));
    b.eval(&format!(
        "(() => {{ const e = {c}; if (e.type === 'checkbox') e.checked = {v} === 'on'; else e.value = {v}; \
         e.dispatchEvent(new Event('input', {{bubbles: true}})); \
         e.dispatchEvent(new Event('change', {{bubbles: true}})); return true; }})()",
        c = control(label),
        v = json!(value)
    ));
}

#[test]
fn an_admin_makes_receivers_and_rules_with_forms() {
    let hub = Hub::start(Tls::None);
    let pw = user(&hub, "ada@example.com", "admin");
    let mut b = Browser::launch(1280, 900);
    sign_in(&mut b, &hub, "ada@example.com", &pw);

    // The alerts page leads to the rules page.
    b.goto(&format!("{}/alerts", base(&hub)));
    b.click("main a", "alert rules");
    b.wait(
        "the rules page",
        "location.pathname === '/admin/rules' && document.querySelector('main form')",
    );
    assert!(b.text().contains("No receiver yet"), "{}", b.text());

    // A receiver: Slack refuses http://, said beside the URL.
    b.goto(&format!("{}/admin/receivers", base(&hub)));
    set(&mut b, "Name", "ops");
    set(&mut b, "Kind", "slack");
    set(&mut b, "URL", "http://hooks.example.com/x");
    b.click("main form button", "Add receiver");
    let said = b.wait("a message beside URL", &message("URL"));
    assert!(said.as_str().unwrap().starts_with("url: "), "{said}");
    assert!(said.as_str().unwrap().contains("https://"), "{said}");
    assert_eq!(
        b.eval(&format!("{}.getAttribute('aria-invalid')", control("URL"))),
        json!("true")
    );
    assert_eq!(b.eval(&message("Name")), json!(""));
    // A wrong interval: beside its own field.
    set(&mut b, "Kind", "webhook");
    set(&mut b, "URL", "http://127.0.0.1:9/hook");
    set(&mut b, "Group interval (s)", "0");
    b.click("main form button", "Add receiver");
    let said = b.wait(
        "a message beside Group interval",
        &message("Group interval (s)"),
    );
    assert!(
        said.as_str().unwrap().starts_with("group_interval_secs: "),
        "{said}"
    );
    assert_eq!(
        b.eval(&message("URL")),
        json!(""),
        "the URL's old message stays"
    );
    set(&mut b, "Group interval (s)", "60");
    b.click("main form button", "Add receiver");
    b.wait(
        "the secret, shown once",
        "document.querySelector('main').innerText.includes('shown once')",
    );
    let rs = hub.get("/api/v1/receivers");
    assert_eq!(rs[0]["name"], "ops", "{rs}");
    assert_eq!(rs[0]["group_interval_secs"], 60, "{rs}");

    // A rule: each kind offers its own fields.
    b.goto(&format!("{}/admin/rules", base(&hub)));
    b.wait("the rule form", &control("Count"));
    set(&mut b, "Kind", "memory");
    b.wait("memory's threshold", &control("Above (MiB)"));
    assert_eq!(
        b.eval(&format!("!{}", control("Count"))),
        json!(true),
        "Count shows for memory"
    );
    set(&mut b, "Kind", "restarts");
    b.wait(
        "restarts' fields",
        &format!("{} && {}", control("Count"), control("Within (seconds)")),
    );
    assert_eq!(
        b.eval(&format!("!{}", control("Above"))),
        json!(true),
        "Above shows for restarts"
    );

    // A refusal beside its field, then the rule made, sent to `ops`.
    set(&mut b, "Name", "crash loop");
    set(&mut b, "Count", "-1");
    b.click("main form button", "Add rule");
    let said = b.wait("a message beside Count", &message("Count"));
    let said = said.as_str().unwrap();
    assert!(
        said.starts_with("count: invalid value: integer") && said.contains("-1"),
        "{said}"
    );
    snap(&mut b, "rules-form-refused");
    set(&mut b, "Count", "3");
    set(&mut b, "Within (seconds)", "60");
    set(&mut b, "ops", "on");
    set(&mut b, "App", "api");
    b.click("main form button", "Add rule");
    b.wait(
        "the rule listed",
        "document.querySelector('main table')?.innerText.includes('crash loop')",
    );
    assert_eq!(
        b.eval(&message("Count")),
        json!(""),
        "the message stays after success"
    );
    let rules = hub.get("/api/v1/alert-rules");
    let r = &rules[0];
    assert_eq!(
        (
            &r["kind"],
            &r["count"],
            &r["window_secs"],
            &r["receivers"],
            &r["scope"]["app"]
        ),
        (
            &json!("restarts"),
            &json!(3),
            &json!(60),
            &json!(["ops"]),
            &json!("api")
        ),
        "{rules}"
    );

    // A refusal that names no field of the form: at the top.
    set(&mut b, "Name", "crash loop");
    b.click("main form button", "Add rule");
    let top = b.wait(
        "a message at the top of the form",
        "document.querySelector('main form [role=alert].form-error')?.textContent",
    );
    assert!(top.as_str().unwrap().contains("exists already"), "{top}");
    snap(&mut b, "rules-form");
    // The browser notes each refused request; nothing else went wrong.
    let unexpected: Vec<_> = b
        .errors
        .iter()
        .filter(|e| !e.contains("status of 422") && !e.contains("status of 409"))
        .collect();
    assert!(unexpected.is_empty(), "{unexpected:?}");
}
