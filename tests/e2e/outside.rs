//! An agent written from `docs/protocol.md` alone (`outside/client.mjs`,
//! Node, no dependencies) links to a real hub: the document is enough to
//! implement the protocol. The worked example's vectors
//! (`shared/tests/data/handshake_7.json`) are checked here against the Rust
//! implementation, and by the Node client against its own.

use std::io::{BufRead, BufReader, Read};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::Duration;

use pmr_shared::link::handshake::{self, AuthFields};
use pmr_shared::link::keys::SecretKey;
use pmr_shared::link::messages::{AgentMsg, HubMsg};
use serde_json::Value;

use crate::harness::{Hub, PATIENCE, Tls, wait_for, wait_until};

fn data_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/tests/data")
}

fn client_path() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("e2e/outside/client.mjs")
}

fn read(name: &str) -> String {
    std::fs::read_to_string(data_dir().join(name)).unwrap()
}

#[test]
fn the_worked_example_agrees_with_the_rust_implementation() {
    let v: Value = serde_json::from_str(&read("handshake_7.json")).unwrap();
    let s = |k: &str| v[k].as_str().unwrap_or_else(|| panic!("{k}")).to_string();
    let secret = SecretKey::parse(&s("secret_key")).unwrap();
    assert_eq!(secret.to_text(), read("secret_key_7.txt").trim());
    assert_eq!(handshake::hex(&secret.0.to_bytes()), s("seed_hex"));
    assert_eq!(handshake::hex(&[7u8; 32]), s("seed_hex"));
    let public = secret.public().to_string();
    assert_eq!(public, s("public_key"));
    assert_eq!(public, read("public_key_7.txt").trim());
    assert_eq!(
        handshake::hex(secret.public().0.as_bytes()),
        s("public_key_hex")
    );

    let nonce: [u8; 32] = handshake::unhex(&s("nonce_hex"))
        .unwrap()
        .try_into()
        .unwrap();
    let (hub_id, machine_id, machine_name, agent_version) = (
        s("hub_id"),
        s("machine_id"),
        s("machine_name"),
        s("agent_version"),
    );
    let f = AuthFields {
        hub_id: &hub_id,
        nonce: &nonce,
        proto: v["proto"].as_u64().unwrap() as u32,
        public_key: &public,
        machine_id: &machine_id,
        machine_name: &machine_name,
        agent_version: &agent_version,
        ts: v["ts"].as_i64().unwrap(),
    };
    let signed = handshake::signed_bytes(&f);
    let sig = handshake::sign(&secret, &f);
    let txt = read("handshake_7.txt");
    let mut lines = txt.lines();
    assert_eq!(handshake::hex(&signed), lines.next().unwrap());
    assert_eq!(handshake::hex(&sig), lines.next().unwrap());
    assert_eq!(handshake::hex(&signed), s("signed_bytes_hex"));
    assert_eq!(handshake::hex(&sig), s("signature_hex"));
    // Field by field: every one has its u32 length prefix, fixed-width ones too.
    let joined: String = v["signed_fields"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            let (len, val) = (
                f["length_hex"].as_str().unwrap(),
                f["value_hex"].as_str().unwrap(),
            );
            assert_eq!(
                u32::from_str_radix(len, 16).unwrap() as usize * 2,
                val.len(),
                "{f}"
            );
            format!("{len}{val}")
        })
        .collect();
    assert_eq!(joined, s("signed_bytes_hex"));
    assert_eq!(
        v["signed_fields"][3]["length_hex"]
            .as_str()
            .unwrap()
            .to_string()
            + v["signed_fields"][3]["value_hex"].as_str().unwrap(),
        "0000000400000001",
        "proto"
    );

    // The JSON the docs show is what the Rust types write and read.
    let auth = AgentMsg::Auth {
        proto: 1,
        public_key: public.clone(),
        machine_id: machine_id.clone(),
        machine_name: machine_name.clone(),
        agent_version: agent_version.clone(),
        ts: f.ts,
        nonce: handshake::hex(&nonce),
        sig: handshake::hex(&sig),
    };
    assert_eq!(serde_json::to_string(&auth).unwrap(), s("auth_json"));
    let hello: HubMsg = serde_json::from_str(&s("hello_json")).unwrap();
    assert_eq!(serde_json::to_string(&hello).unwrap(), s("hello_json"));
    assert!(handshake::verify(&secret.public(), &f, &sig));
}

/// The code blocks of the docs' worked example, in order.
fn worked_example_blocks() -> Vec<String> {
    let doc = std::fs::read_to_string(
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../docs/protocol.md"),
    )
    .unwrap();
    let start = doc
        .find("## Worked example: one full handshake")
        .expect("the worked example");
    let section = &doc[start..];
    let section = &section[..section.find("\n## ").unwrap_or(section.len())];
    section
        .split("```")
        .skip(1)
        .step_by(2)
        .map(|b| b.trim_start_matches("json").trim().to_string())
        .collect()
}

#[test]
fn the_docs_show_the_vectors() {
    let v: Value = serde_json::from_str(&read("handshake_7.json")).unwrap();
    let s = |k: &str| v[k].as_str().unwrap().to_string();
    let hex_only = |b: &str| -> String {
        b.split_whitespace()
            .filter(|t| t.len() >= 6 && t.chars().all(|c| c.is_ascii_hexdigit()))
            .collect()
    };
    let blocks = worked_example_blocks();
    assert_eq!(blocks.len(), 5, "hello, fields, bytes, signature, auth");
    assert_eq!(blocks[0], s("hello_json"));
    assert_eq!(hex_only(&blocks[1]), s("signed_bytes_hex"), "per field");
    assert_eq!(hex_only(&blocks[2]), s("signed_bytes_hex"), "all together");
    assert_eq!(hex_only(&blocks[3]), s("signature_hex"));
    assert_eq!(blocks[4], s("auth_json"));
}

fn node_version() -> String {
    let out = Command::new("node")
        .arg("--version")
        .output()
        .expect("node is not installed: the outside-client test needs Node 20 or later");
    let v = String::from_utf8_lossy(&out.stdout).trim().to_string();
    let major: u32 = v
        .trim_start_matches('v')
        .split('.')
        .next()
        .and_then(|m| m.parse().ok())
        .unwrap_or(0);
    assert!(
        major >= 20,
        "node {v}: the outside client needs Node 20 or later"
    );
    v
}

#[test]
fn the_node_client_checks_itself_against_the_vectors() {
    node_version();
    let out = Command::new("node")
        .arg(client_path())
        .arg("--vectors-only")
        .arg("--vectors")
        .arg(data_dir())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: Value = serde_json::from_str(stdout.trim()).unwrap();
    assert_eq!(v["vectors"]["signed_bytes"], 171, "{v}");
}

#[test]
fn an_agent_written_from_the_docs_links_to_a_real_hub() {
    node_version();
    let hub = Hub::start(Tls::None);
    let name = "outside-1";
    let mut child = Command::new("node")
        .arg(client_path())
        .args(["--port", &hub.port.to_string()])
        .args(["--secret", &hub.secret])
        .args(["--public", &hub.public])
        .args(["--name", name])
        .args(["--machine-id", "outside-machine-1"])
        .arg("--vectors")
        .arg(data_dir())
        .arg("--hold")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stderr = child.stderr.take().unwrap();
    let err_thread = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = stderr.read_to_string(&mut s);
        s
    });
    let mut out = BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    out.read_line(&mut line).unwrap();
    let summary: Value = match serde_json::from_str(line.trim()) {
        Ok(v) => v,
        Err(_) => {
            let _ = child.kill();
            panic!(
                "no summary from the client: {line}\n{}\nhub log:\n{}",
                err_thread.join().unwrap(),
                hub.log()
            );
        }
    };
    assert_eq!(summary["ok"], true, "{summary}\nhub log:\n{}", hub.log());
    assert_eq!(summary["vectors"]["signed_bytes"], 171, "{summary}");
    assert_eq!(summary["resume"]["events"], 0, "{summary}");
    assert_eq!(summary["ack"]["stream"], "events", "{summary}");
    assert_eq!(summary["ack"]["seq"], 1, "{summary}");
    assert_eq!(summary["forged"]["code"], 4401, "{summary}");

    // While the client holds its session: online, its snapshot and event in.
    let server = wait_until("the outside agent online", || {
        hub.server(name).filter(|s| s["online"] == true)
    });
    assert_eq!(server["machine_id"], "outside-machine-1", "{server}");
    assert_eq!(server["agent_version"], "outside-0.1.0", "{server}");
    let p = wait_until("its process", || hub.process(name, "outside-api"));
    assert_eq!(p["status"], "online", "{p}");
    assert_eq!(p["memory"], 52_428_800, "{p}");
    let events = hub.get("/api/v1/events");
    let ev = events["events"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["server"] == name)
        .cloned()
        .unwrap_or_else(|| panic!("the event is not stored: {events}"));
    assert_eq!(ev["seq"], 1, "{ev}");
    assert_eq!(ev["kind"], "exit", "{ev}");
    assert_eq!(ev["code"], 1, "{ev}");
    assert_eq!(ev["detail"], "first line\nsecond line", "{ev}");
    // The forged handshake left no server behind, and was logged as such.
    assert!(
        hub.server(&format!("{name}-forged")).is_none()
            && hub.get("/api/v1/servers").as_array().unwrap().len() == 1,
        "{}",
        hub.get("/api/v1/servers")
    );
    assert!(hub.log().contains("bad_signature"), "{}", hub.log());

    // Closing stdin ends the session with a close frame: the server goes offline.
    drop(child.stdin.take());
    let status = wait_for("the client to exit", PATIENCE, || child.try_wait().unwrap());
    let mut rest = String::new();
    let _ = out.read_to_string(&mut rest);
    assert!(status.success(), "{rest}\n{}", err_thread.join().unwrap());
    wait_for("the outside agent offline", Duration::from_secs(10), || {
        (hub.server(name)?["online"] == false).then_some(())
    });
}
