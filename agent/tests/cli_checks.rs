//! Arguments checked before a command reports success.

use pmr_shared::link::keys::SecretKey;

use crate::helper::Pmr;

#[test]
fn link_checks_the_hub_address_before_it_says_linked() {
    let t = Pmr::new();
    let secret = SecretKey::generate();
    let (s, p) = (secret.to_text(), secret.public().to_string());
    for bad in [
        "wss://a,",
        "wss://a,ws://b",
        "wss://a.example wss://b.example",
        "wss://hub:99999",
        "wss://hub:port",
        "wss://",
        "wss://[::1",
        "wss://hub..example:9615",
        "wss://me@hub:9615",
    ] {
        let err = t.fails(&["link", &s, &p, "m1", "--hub", bad]);
        assert!(
            err.contains("--hub") && err.contains("wss://host:port"),
            "{bad}: {err}"
        );
        assert!(
            !t.home().join("link.json").exists(),
            "{bad}: nothing stored"
        );
    }
    for good in [
        "ws://127.0.0.1:9",
        "wss://[::1]:9615/pmr",
        "wss://hub-1.example.com",
        "wss://a.example:9615,wss://b.example:9615",
    ] {
        let out = t.ok(&["link", &s, &p, "m1", "--hub", good]);
        assert!(out.contains("Link"), "{good}: {out}");
        let status = t.ok(&["link", "status"]);
        assert!(!status.contains("invalid"), "{good}: {status}");
    }
}
