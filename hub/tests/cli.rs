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

#[test]
fn users_add_list_reset_remove_and_no_password_is_stored() {
    let dir = tempfile::tempdir().unwrap();
    assert!(
        hub(dir.path(), &["keys", "create", "--bucket", "prod"])
            .status
            .success()
    );
    let out = hub(
        dir.path(),
        &["users", "add", "ops@example.com", "--role", "operator"],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    let password = text
        .lines()
        .find_map(|l| l.strip_prefix("password for ops@example.com: "))
        .expect("a generated password, shown once")
        .to_string();
    assert_eq!(password.len(), 20);
    // Limited to a bucket; a chosen password from stdin.
    let mut child = Command::new(env!("CARGO_BIN_EXE_pmr-hub"))
        .arg("--data-dir")
        .arg(dir.path())
        .args([
            "users",
            "add",
            "view@example.com",
            "--role",
            "viewer",
            "--buckets",
            "prod",
            "--password-stdin",
        ])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write;
    child
        .stdin
        .take()
        .unwrap()
        .write_all(b"a long enough passphrase\n")
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success());
    assert!(
        !String::from_utf8_lossy(&out.stdout).contains("password for"),
        "a chosen password is not shown"
    );

    let list = String::from_utf8(hub(dir.path(), &["users", "list"]).stdout).unwrap();
    assert!(
        list.contains("ops@example.com\toperator\tall buckets"),
        "{list}"
    );
    assert!(list.contains("view@example.com\tviewer\tprod"), "{list}");
    // Neither password is anywhere in the data directory; the hashes are argon2id.
    let db = std::fs::read(dir.path().join("hub.db")).unwrap();
    let db = String::from_utf8_lossy(&db);
    assert!(!db.contains(&password) && !db.contains("a long enough passphrase"));
    assert!(db.contains("$argon2id$"));

    // Mistakes are refused with what is wrong.
    let bad = |args: &[&str], want: &str| {
        let out = hub(dir.path(), args);
        let err = String::from_utf8_lossy(&out.stderr).to_string();
        assert!(
            !out.status.success() && err.contains(want),
            "{args:?}: {err}"
        );
    };
    bad(
        &["users", "add", "ops@example.com", "--role", "viewer"],
        "exists already",
    );
    bad(
        &["users", "add", "x@example.com", "--role", "root"],
        "unknown role `root`",
    );
    bad(
        &["users", "add", "not-an-address", "--role", "viewer"],
        "not an e-mail address",
    );
    bad(
        &[
            "users",
            "add",
            "y@example.com",
            "--role",
            "viewer",
            "--buckets",
            "stagin",
        ],
        "no bucket `stagin`",
    );
    bad(
        &["users", "remove", "nobody@example.com"],
        "no user nobody@example.com",
    );

    let out = hub(dir.path(), &["users", "reset-password", "ops@example.com"]);
    let text = String::from_utf8(out.stdout).unwrap();
    let again = text
        .lines()
        .find_map(|l| l.strip_prefix("password for ops@example.com: "))
        .unwrap();
    assert_ne!(again, password);
    assert!(
        hub(dir.path(), &["users", "remove", "ops@example.com"])
            .status
            .success()
    );
    let list = String::from_utf8(hub(dir.path(), &["users", "list"]).stdout).unwrap();
    assert!(!list.contains("ops@example.com"), "{list}");
}

#[test]
fn a_database_url_password_is_never_printed() {
    let dir = tempfile::tempdir().unwrap();
    let url = "postgres://u:s3cret@db/x";
    let cfg = dir.path().join("hub.toml");
    std::fs::write(&cfg, format!("database = \"{url}\"\n")).unwrap();
    let broken = dir.path().join("broken.toml");
    // An unterminated string: TOML's error quotes the line.
    std::fs::write(&broken, format!("database = \"{url}\n")).unwrap();
    let bin = env!("CARGO_BIN_EXE_pmr-hub");
    let data = dir.path().to_str().unwrap();
    let runs = [
        Command::new(bin)
            .args(["--data-dir", data, "--database", url, "serve"])
            .output(),
        Command::new(bin)
            .args(["--data-dir", data, "keys", "list"])
            .env("PMR_HUB_DATABASE", url)
            .output(),
        Command::new(bin)
            .args([
                "--data-dir",
                data,
                "--config",
                cfg.to_str().unwrap(),
                "serve",
            ])
            .output(),
        Command::new(bin)
            .args(["--data-dir", data, "--config", broken.to_str().unwrap()])
            .args(["serve"])
            .output(),
    ];
    for (i, out) in runs.into_iter().enumerate() {
        let out = out.unwrap();
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(!out.status.success(), "run {i}: {text}");
        assert!(
            !text.contains("s3cret"),
            "run {i} shows the password: {text}"
        );
        // Refused as written (the broken file) or unreachable (no host db).
        assert!(
            text.contains("u:****@db") || text.contains("database u@db:5432/x"),
            "run {i} names the database: {text}"
        );
    }
}
