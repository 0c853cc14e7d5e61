//! Replicas of one database share the key receiver secrets are sealed
//! with: a hub given it by `PMR_HUB_SECRETS_KEY` keeps none beside its
//! database, another process of the same database given the same key signs
//! with a secret the first one sealed, and one given another key says it
//! cannot open it.

use serde_json::json;

use super::receiver::{Answer, Receiver};
use super::{add_receiver, signed};
use crate::harness::{ClearProxies, Hub, Tls};

#[test]
fn a_secret_sealed_by_one_process_signs_in_another_given_the_same_key() {
    let key = "5a".repeat(32);
    let hub = Hub::start_env(Tls::None, &[], &[("PMR_HUB_SECRETS_KEY", &key)]);
    let receiver = Receiver::start(Answer::Script(vec![200]));
    let (_, secret) = add_receiver(&hub, "shared", &receiver.url(), json!({}));
    assert!(!hub.dir.path().join("secrets.key").exists());
    let send = |key: &str| {
        hub.command()
            .args(["alerts", "test", "shared"])
            .env_clear_proxies()
            .env("PMR_HUB_SECRETS_KEY", key)
            .output()
            .unwrap()
    };
    let out = send(&key);
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success() && said.contains("delivered"), "{said}");
    assert!(signed(&receiver.got()[0], secret.as_deref().unwrap()));
    let out = send(&"77".repeat(32));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success() && err.contains("wrong key"), "{err}");
    assert_eq!(
        receiver.got().len(),
        1,
        "nothing sent with a key that opens nothing"
    );
}
