//! The versions page's drift badge as a team reads it: an even split of
//! revisions names no server as the odd one, and an app that does not run
//! from a git checkout says "no revision", not "one revision everywhere".

use serde_json::json;

use super::cdp::Browser;
use super::{agent_with_app, base, sign_in, user};
use crate::harness::{Hub, Tls, wait_until};

#[test]
fn an_even_split_blames_no_server_and_an_app_outside_git_has_no_revision() {
    let hub = Hub::start(Tls::None);
    let one = agent_with_app(&hub, "web-1", "release one");
    let two = agent_with_app(&hub, "web-2", "release two");
    for a in [&one, &two] {
        a.write("plain.js", "setInterval(() => {}, 1000);\n");
        a.ok(&["start", "plain.js", "--name", "plain"]);
    }
    wait_until("plain on both servers", || {
        (hub.process("web-1", "plain")?["status"] == "online"
            && hub.process("web-2", "plain")?["status"] == "online")
            .then_some(())
    });
    let pw = user(&hub, "v@example.com", "viewer");
    let mut b = Browser::launch(1280, 900);
    sign_in(&mut b, &hub, "v@example.com", &pw);
    b.goto(&format!("{}/versions", base(&hub)));
    let heading = |app: &str| {
        format!(
            "[...document.querySelectorAll('main h2')].find(h => h.firstChild.textContent === {a})?.innerText",
            a = json!(app)
        )
    };
    let api = b.wait("api's badge", &heading("api"));
    assert!(api.as_str().unwrap().contains("split evenly"), "{api}");
    let blamed = b.eval(&format!(
        "{}.closest('section').querySelectorAll('tr.drift').length",
        heading("api").replace("?.innerText", "")
    ));
    assert_eq!(
        blamed,
        json!(0),
        "an even split marks a server as the odd one"
    );
    let plain = b.wait("plain's badge", &heading("plain"));
    let plain = plain.as_str().unwrap();
    assert!(plain.contains("no revision"), "{plain}");
    assert!(!plain.contains("one revision everywhere"), "{plain}");
    super::snap(&mut b, "versions-split");
    assert!(b.errors.is_empty(), "{:?}", b.errors);
}
