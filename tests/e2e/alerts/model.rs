//! Alertmanager's webhook body, checked by a receiver's library from PyPI:
//! `prometheus-alert-model` (Pydantic models of the payload, pinned), in a
//! virtualenv under `target/`, made once.

use std::io::Write as _;
use std::path::PathBuf;
use std::process::{Command, Stdio};

const PACKAGE: &str = "prometheus-alert-model==1.0.0";

/// The virtualenv's python, or None when PyPI cannot be reached here.
fn python() -> Option<PathBuf> {
    let venv = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target/alert-model-venv");
    let py = venv.join("bin/python");
    let ready = venv.join("ready");
    if ready.exists() {
        return Some(py);
    }
    let ok = Command::new("python3")
        .arg("-m")
        .arg("venv")
        .arg(&venv)
        .status()
        .unwrap();
    assert!(ok.success(), "python3 -m venv failed");
    let out = Command::new(venv.join("bin/pip"))
        .args(["install", "-q", "--disable-pip-version-check", PACKAGE])
        .output()
        .unwrap();
    if !out.status.success() {
        let reach = Command::new(venv.join("bin/pip"))
            .args(["download", "--no-deps", "-q", "-d"])
            .arg(venv.join("probe"))
            .arg("pip")
            .status()
            .unwrap();
        if !reach.success() {
            eprintln!("SKIPPED: PyPI cannot be reached, so {PACKAGE} cannot be installed");
            return None;
        }
        panic!(
            "pip install {PACKAGE} failed although PyPI answers:\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    std::fs::write(&ready, "").unwrap();
    Some(py)
}

/// Parses `body` with the library's `AlertGroup`; returns what it read, as
/// JSON (None when PyPI is out of reach).
pub fn parsed(body: &[u8]) -> Option<serde_json::Value> {
    let py = python()?;
    let script = "import sys, json\nfrom prometheus_alert_model import AlertGroup\n\
                  g = AlertGroup.parse_raw(sys.stdin.buffer.read())\n\
                  print(json.dumps({'receiver': g.receiver, 'status': g.status, 'group_key': g.group_key,\n\
                  'alerts': [{'status': a.status, 'fingerprint': a.fingerprint, 'starts_at': a.starts_at.isoformat(),\n\
                  'labels': a.labels} for a in g.alerts], 'common_labels': g.common_labels}))\n";
    let mut child = Command::new(py)
        .args(["-c", script])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(body).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "the library refused the body:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    Some(serde_json::from_slice(&out.stdout).unwrap())
}
