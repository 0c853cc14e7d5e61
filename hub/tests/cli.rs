//! The real `pmr-hub` binary's admin verbs and settings errors.

use std::process::Command;

fn hub(dir: &std::path::Path, args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_pmr-hub"))
        .arg("--data-dir")
        .arg(dir)
        .args(args)
        .output()
        .unwrap()
}

#[test]
fn keys_create_list_revoke_and_the_secret_is_not_stored() {
    let dir = tempfile::tempdir().unwrap();
    let out = hub(dir.path(), &["keys", "create", "--bucket", "prod"]);
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    let secret = text
        .lines()
        .find_map(|l| l.strip_prefix("secret key: "))
        .unwrap()
        .trim()
        .to_string();
    let public = text
        .lines()
        .find_map(|l| l.strip_prefix("public key: "))
        .unwrap()
        .trim()
        .to_string();
    assert!(secret.starts_with('S') && public.starts_with('P'));
    // Nothing in the data directory holds the secret.
    for entry in std::fs::read_dir(dir.path()).unwrap().flatten() {
        let bytes = std::fs::read(entry.path()).unwrap_or_default();
        assert!(
            !String::from_utf8_lossy(&bytes).contains(&secret),
            "secret found in {:?}",
            entry.path()
        );
    }
    let list = String::from_utf8(hub(dir.path(), &["keys", "list"]).stdout).unwrap();
    assert!(list.contains(&public) && list.contains("active"), "{list}");
    assert!(
        hub(dir.path(), &["keys", "revoke", &public])
            .status
            .success()
    );
    let list = String::from_utf8(hub(dir.path(), &["keys", "list"]).stdout).unwrap();
    assert!(list.contains("revoked"), "{list}");
    let out = hub(dir.path(), &["keys", "revoke", "PNOPE"]);
    assert!(!out.status.success());
}

#[test]
fn config_file_errors_name_the_line_and_defaults_print() {
    let dir = tempfile::tempdir().unwrap();
    let out = hub(dir.path(), &["serve", "--print-config"]);
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.contains("listen = \"0.0.0.0:9615\""), "{text}");
    let cfg = dir.path().join("hub.toml");
    std::fs::write(&cfg, "listen = \"127.0.0.1:0\"\nmax_series = \"lots\"\n").unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_pmr-hub"))
        .args(["--config", cfg.to_str().unwrap(), "serve"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(err.contains("hub.toml") && err.contains("line 2"), "{err}");
}
