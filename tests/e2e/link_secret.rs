//! `pmr link` with the secret key off the command line: `-` reads it from
//! standard input, `--secret-file PATH` from a file. Bad input fails before
//! anything is linked.

use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::{Command, Output, Stdio};

use pmr_shared::link::keys::SecretKey;

use crate::harness::{Agent, Hub, Tls, bin, wait_until};

/// `pmr args...` in the agent's home, with `input` on standard input.
fn run_with_stdin(agent: &Agent, args: &[&str], input: &str) -> Output {
    let mut child = Command::new(bin("pmr"))
        .env("PMR_HOME", agent.home.path())
        .env("NO_COLOR", "1")
        .env("PMR_LINK_BACKOFF_MAX_MS", "2000")
        .current_dir(agent.work.path())
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // The CLI may fail before reading; a closed pipe is not the test's concern.
    let _ = child.stdin.take().unwrap().write_all(input.as_bytes());
    child.wait_with_output().unwrap()
}

fn text(out: &Output) -> (String, String) {
    (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn write_mode(path: &Path, body: &str, mode: u32) {
    std::fs::write(path, body).unwrap();
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
}

/// `secret` with one character changed: the checksum catches it.
fn typo(secret: &str) -> String {
    let mut s = secret.to_string();
    let c = if &s[10..11] == "A" { "B" } else { "A" };
    s.replace_range(10..11, c);
    s
}

fn wait_online(hub: &Hub, name: &str) {
    wait_until(&format!("{name} online in /api/v1/servers"), || {
        (hub.server(name)?["online"] == true).then_some(())
    });
}

/// Fails with a message containing every one of `needles`, and no daemon
/// was asked to link.
fn assert_refused(out: &Output, needles: &[&str]) {
    let (stdout, stderr) = text(out);
    assert!(
        !out.status.success(),
        "expected a failure; stdout: {stdout} stderr: {stderr}"
    );
    for n in needles {
        assert!(stderr.contains(n), "{n:?} not in: {stderr}");
    }
    assert!(
        !stdout.contains("shows whether the hub accepted"),
        "{stdout}"
    );
}

#[test]
fn secret_from_stdin_links_and_reaches_the_hub() {
    let hub = Hub::start(Tls::None);
    let agent = Agent::new();
    let url = hub.ws_url();
    // Surrounding spaces, a trailing newline and later lines are ignored.
    let input = format!("  {}  \nignored\n", hub.secret);
    let out = run_with_stdin(
        &agent,
        &["link", "-", &hub.public, "web-stdin", "--hub", &url],
        &input,
    );
    let (stdout, stderr) = text(&out);
    assert!(out.status.success(), "{stdout}{stderr}");
    wait_online(&hub, "web-stdin");
    let saved = std::fs::read_to_string(agent.home.path().join("link.json")).unwrap();
    assert!(saved.contains(&hub.secret), "{saved}");
    wait_until("status connected", || {
        agent.status().contains("status:   connected").then_some(())
    });
}

#[test]
fn secret_file_links_and_reaches_the_hub() {
    let hub = Hub::start(Tls::None);
    let agent = Agent::new();
    let url = hub.ws_url();
    let file = agent.work.path().join("hub.secret");
    write_mode(&file, &format!("{}\n", hub.secret), 0o600);
    let file = file.to_str().unwrap();
    let out = agent.run(&[
        "link",
        "--secret-file",
        file,
        &hub.public,
        "web-file",
        "--hub",
        &url,
    ]);
    let (stdout, stderr) = text(&out);
    assert!(out.status.success(), "{stdout}{stderr}");
    // A 0600 file draws no warning.
    assert!(!stderr.contains("WARN"), "{stderr}");
    wait_online(&hub, "web-file");
    assert!(agent.status().contains("machine:  web-file"));
}

#[test]
fn bad_secrets_and_files_fail_early_and_leave_the_agent_unlinked() {
    let hub = Hub::start(Tls::None);
    let agent = Agent::new();
    let url = hub.ws_url();
    let link = |secret_args: &[&str]| -> Vec<String> {
        let mut v: Vec<String> = vec!["link".into()];
        v.extend(secret_args.iter().map(|s| s.to_string()));
        v.extend([
            hub.public.clone(),
            "web-bad".into(),
            "--hub".into(),
            url.clone(),
        ]);
        v
    };
    let run_stdin = |input: &str| {
        let args = link(&["-"]);
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        run_with_stdin(&agent, &args, input)
    };
    let run_file = |path: &str| {
        let args = link(&["--secret-file", path]);
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        agent.run(&args)
    };

    // Standard input: a typo, another bucket's secret, nothing at all.
    assert_refused(
        &run_stdin(&format!("{}\n", typo(&hub.secret))),
        &["secret key from standard input", "checksum"],
    );
    let other = SecretKey::generate().to_text();
    assert_refused(&run_stdin(&format!("{other}\n")), &["does not belong"]);
    assert_refused(&run_stdin(""), &["no secret key on standard input"]);
    assert_refused(&run_stdin("\n"), &["no secret key on standard input"]);
    // The public key where the secret should be.
    assert_refused(
        &run_stdin(&format!("{}\n", hub.public)),
        &["secret key from standard input"],
    );

    // Files: missing, a directory, empty, two lines, a typo.
    let dir = agent.work.path();
    let missing = dir.join("nope.secret");
    let missing = missing.to_str().unwrap();
    assert_refused(&run_file(missing), &[missing, "no such file"]);
    let d = dir.to_str().unwrap();
    assert_refused(&run_file(d), &[d, "is a directory"]);
    let empty = dir.join("empty.secret");
    write_mode(&empty, "\n", 0o600);
    let empty = empty.to_str().unwrap();
    assert_refused(&run_file(empty), &[empty, "empty"]);
    let two = dir.join("two.secret");
    write_mode(&two, &format!("{}\n{}\n", hub.secret, hub.public), 0o600);
    let two = two.to_str().unwrap();
    assert_refused(&run_file(two), &[two, "more than one line"]);
    // A file others can read is named in a warning; its typo is still refused.
    let open = dir.join("open.secret");
    write_mode(&open, &typo(&hub.secret), 0o644);
    let open = open.to_str().unwrap();
    let out = run_file(open);
    assert_refused(&out, &[open, "checksum"]);
    let (_, stderr) = text(&out);
    assert!(
        stderr.contains("[PMR][WARN]") && stderr.contains("chmod 600"),
        "{stderr}"
    );

    // Both ways at once, or the secret positional as well as the file.
    let good = dir.join("good.secret");
    write_mode(&good, &hub.secret, 0o600);
    let good = good.to_str().unwrap();
    assert_refused(
        &agent.run(&[
            "link",
            "--secret-file",
            good,
            "-",
            &hub.public,
            "--hub",
            &url,
        ]),
        &["one way"],
    );
    assert_refused(
        &agent.run(&[
            "link",
            "--secret-file",
            good,
            &hub.secret,
            &hub.public,
            "web-bad",
            "--hub",
            &url,
        ]),
        &["<public-key> [machine-name]"],
    );

    // Nothing was half-done: no settings written, nothing at the hub.
    assert!(!agent.home.path().join("link.json").exists());
    let status = agent.status();
    assert!(status.contains("not linked"), "{status}");
    assert!(hub.server("web-bad").is_none());
}
