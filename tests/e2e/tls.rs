//! Real TLS: a CA made for the test, and a pinned self-signed certificate.

use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, IsCa, KeyPair, KeyUsagePurpose};

use crate::harness::{Agent, Hub, Tls, wait_until};

/// A CA and a certificate for 127.0.0.1/localhost signed by it, as PEM files.
pub fn make_ca(dir: &std::path::Path) -> Tls {
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    let ca = CertifiedIssuer::self_signed(ca_params, KeyPair::generate().unwrap()).unwrap();
    let leaf_key = KeyPair::generate().unwrap();
    let leaf = CertificateParams::new(vec!["localhost".to_string(), "127.0.0.1".to_string()])
        .unwrap()
        .signed_by(&leaf_key, &ca)
        .unwrap();
    let (cert, key, ca_path) = (dir.join("hub.crt"), dir.join("hub.key"), dir.join("ca.crt"));
    std::fs::write(&cert, leaf.pem()).unwrap();
    std::fs::write(&key, leaf_key.serialize_pem()).unwrap();
    std::fs::write(&ca_path, ca.pem()).unwrap();
    Tls::Ca {
        cert,
        key,
        ca: ca_path,
    }
}

#[test]
fn ca_signed_hub_is_verified() {
    let certs = tempfile::tempdir().unwrap();
    let tls = make_ca(certs.path());
    let Tls::Ca { ca, .. } = &tls else {
        unreachable!()
    };
    let ca = ca.display().to_string();
    let hub = Hub::start(tls);
    // Trusting another CA, the agent refuses the hub, and says why.
    let other_dir = tempfile::tempdir().unwrap();
    let Tls::Ca { ca: other_ca, .. } = make_ca(other_dir.path()) else {
        unreachable!()
    };
    let other_ca = other_ca.display().to_string();
    let stranger = Agent::new();
    stranger.link(&hub, "other-ca", &["--ca", &other_ca]);
    let status = wait_until("a certificate error", || {
        let s = stranger.status();
        (s.contains("certificate") || s.contains("UnknownIssuer")).then_some(s)
    });
    assert!(status.contains("disconnected"), "{status}");
    // With it, the link is up.
    let agent = Agent::new();
    agent.link(&hub, "with-ca", &["--ca", &ca]);
    wait_until("connected over TLS", || {
        agent.status().contains("status:   connected").then_some(())
    });
    // New settings that cannot work are refused, and the link runs on.
    let junk = certs.path().join("junk.crt");
    std::fs::write(&junk, "not a certificate\n").unwrap();
    let url = hub.ws_url();
    let junk_s = junk.display().to_string();
    let args = [
        "link",
        &hub.secret,
        &hub.public,
        "with-ca",
        "--hub",
        &url,
        "--ca",
        &junk_s,
    ];
    let out = agent.run(&args);
    let said = String::from_utf8_lossy(&out.stderr).to_string();
    assert!(!out.status.success() && said.contains("junk.crt"), "{said}");
    let status = agent.status();
    assert!(status.contains("status:   connected"), "{status}");
}

#[test]
fn self_signed_hub_with_a_pinned_fingerprint() {
    let hub = Hub::start(Tls::SelfSigned);
    let fp = hub
        .fingerprint
        .clone()
        .expect("the hub printed its fingerprint");
    let agent = Agent::new();
    agent.link(&hub, "pinned", &["--fingerprint", &fp]);
    wait_until("connected", || {
        agent.status().contains("status:   connected").then_some(())
    });
    let wrong = Agent::new();
    let bad = "00:".repeat(31) + "00";
    wrong.link(&hub, "wrong-pin", &["--fingerprint", &bad]);
    wait_until("pin refused", || {
        wrong.status().contains("pinned fingerprint").then_some(())
    });
}
