//! Rules from a file and receivers from the command line reach a running
//! hub.

use std::time::Duration;

use super::crashing_agent;
use super::receiver::{Answer, Receiver};
use crate::harness::{Hub, Tls, wait_for};

#[test]
fn rules_from_a_file_and_receivers_from_the_command_line_reach_a_running_hub() {
    let dir = tempfile::tempdir().unwrap();
    let rules = dir.path().join("alerts.toml");
    std::fs::write(
        &rules,
        "[[rule]]\nname = \"app errored\"\nkind = \"errored\"\nseverity = \"critical\"\n[rule.scope]\napp = \"crash\"\n",
    )
    .unwrap();
    let config = dir.path().join("hub.toml");
    std::fs::write(
        &config,
        format!("alert_rules_file = {:?}\n", rules.display().to_string()),
    )
    .unwrap();
    let hub = Hub::start_with(Tls::None, &["--config", config.to_str().unwrap()]);
    let listed = wait_for("the file's rule in force", Duration::from_secs(5), || {
        let l = hub.get("/api/v1/alert-rules");
        (l[0]["name"] == "app errored").then_some(l)
    });
    assert_eq!(listed[0]["source"], "file");
    // A receiver added on the command line while the hub runs.
    let rx = Receiver::start(Answer::Script(vec![200]));
    let out = hub.admin(&[
        "alerts",
        "add-receiver",
        "--name",
        "ops",
        "--url",
        &rx.url(),
        "--group-wait",
        "1",
    ]);
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(
        out.status.success() && text.contains("signing secret: "),
        "{text}"
    );
    std::thread::sleep(Duration::from_millis(1500));
    let _agent = crashing_agent(&hub, "web-1");
    let got = wait_for(
        "the file rule's notification",
        Duration::from_secs(40),
        || {
            rx.got()
                .into_iter()
                .find(|g| g.json()["groupLabels"]["alertname"] == "app errored")
        },
    );
    assert_eq!(got.json()["commonLabels"]["severity"], "critical");
    // A broken edit is refused and named; the rules in force stay.
    std::fs::write(
        &rules,
        "[[rule]]\nname = \"x\"\nkind = \"errored\"\nbogus = 1\n",
    )
    .unwrap();
    let out = std::process::Command::new(crate::harness::bin("pmr-hub"))
        .args(["--config", config.to_str().unwrap(), "--data-dir"])
        .arg(dir.path().join("other"))
        .args(["serve", "--listen", "127.0.0.1:0"])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success() && err.contains("rule 1 (x): bogus: unknown field `bogus`"),
        "{err}"
    );
    std::thread::sleep(Duration::from_millis(1500));
    assert_eq!(hub.get("/api/v1/alert-rules")[0]["name"], "app errored");
}
