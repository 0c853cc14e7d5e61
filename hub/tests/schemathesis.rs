//! schemathesis (from PyPI) against a real hub, with an owner's token and
//! with a viewer's, every check on: no 5xx, no answer outside the document,
//! no request valid by the document refused, no invalid one accepted. Any
//! finding fails the test. The tool is installed once into a virtual
//! environment under `target/`; without PyPI the test says so and passes.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::Hub;

/// The schemathesis release the test runs (pinned: its checks change).
const VERSION: &str = "4.32.5";
/// Seconds each run may spend generating requests.
const BUDGET_SECS: &str = "60";

/// The virtual environment's `schemathesis`, installed if missing; `None`
/// (after saying why) only when PyPI cannot be reached.
fn schemathesis() -> Option<PathBuf> {
    let venv = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("schemathesis-{VERSION}"));
    let bin = venv.join("bin/schemathesis");
    if venv.join(".complete").exists() {
        return Some(bin);
    }
    let reachable = Command::new("python3")
        .args([
            "-c",
            "import urllib.request; urllib.request.urlopen('https://pypi.org/simple/schemathesis/', timeout=15)",
        ])
        .status()
        .is_ok_and(|s| s.success());
    if !reachable {
        println!("SKIPPED: PyPI (https://pypi.org) cannot be reached to install schemathesis");
        return None;
    }
    // A venv records its own path, so it is built in place; the stamp says
    // it is complete (an interrupted install is redone).
    let stamp = venv.join(".complete");
    let _ = std::fs::remove_dir_all(&venv);
    let made = Command::new("python3")
        .args(["-m", "venv"])
        .arg(&venv)
        .status()
        .unwrap();
    assert!(
        made.success(),
        "python3 -m venv failed (Debian: apt install python3-venv)"
    );
    let pip = Command::new(venv.join("bin/pip"))
        .args(["install", "--quiet", &format!("schemathesis=={VERSION}")])
        .status()
        .unwrap();
    assert!(pip.success(), "pip install schemathesis=={VERSION} failed");
    std::fs::write(&stamp, VERSION).unwrap();
    Some(bin)
}

/// One run with `token`; panics with schemathesis's report on any finding.
fn run(st: &Path, hub: &Hub, token: &str, keep_token_id: &str, who: &str) {
    let hooks = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/schemathesis");
    let out = Command::new(st)
        .arg("run")
        .arg(format!("http://127.0.0.1:{}/api/v1/openapi.json", hub.port))
        .args(["--checks", "all", "--max-time", BUDGET_SECS])
        // One worker: CPython 3.11's parser is not thread-safe under load.
        .args(["--workers", "1", "--request-timeout", "20", "--seed", "1"])
        .args(["-H", &format!("Authorization: Bearer {token}")])
        // A stream of events never ends: schemathesis would only time out.
        .args(["--exclude-path", "/api/v1/changes"])
        .args(["--exclude-path", "/api/v1/servers/{id}/logs"])
        // A websocket, not a request and its answer: tests/e2e drives it.
        .args(["--exclude-path", "/agent/v1"])
        .env("SCHEMATHESIS_HOOKS", "pmr_hooks")
        .env("PYTHONPATH", &hooks)
        .env("PMR_KEEP_TOKEN_ID", keep_token_id)
        .env("NO_COLOR", "1")
        .current_dir(hub.dir.path())
        .output()
        .unwrap();
    let report = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "schemathesis with the {who}'s token found something:\n{report}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn schemathesis_finds_nothing_with_an_owner_or_a_viewer_token() {
    let Some(st) = schemathesis() else { return };
    let hub = Hub::start();
    for (email, role) in [
        ("owner@example.com", "owner"),
        ("viewer@example.com", "viewer"),
    ] {
        hub.admin(&["users", "add", email, "--role", role]);
    }
    let token = |name: &str, email: &str, role: &str| {
        let out = hub.admin(&[
            "tokens", "create", "--name", name, "--user", email, "--role", role,
        ]);
        out.trim().to_string()
    };
    let owner = token("st-owner", "owner@example.com", "owner");
    let viewer = token("st-viewer", "viewer@example.com", "viewer");
    let tokens = hub.get("/api/v1/tokens").json();
    let id_of = |name: &str| {
        tokens
            .as_array()
            .unwrap()
            .iter()
            .find(|t| t["name"] == name)
            .map(|t| t["id"].to_string())
            .unwrap()
    };
    // The viewer first: the owner's run may remove the viewer's account.
    run(&st, &hub, &viewer, &id_of("st-viewer"), "viewer");
    run(&st, &hub, &owner, &id_of("st-owner"), "owner");
}
