//! Git versioning with libgit2 in a real temporary repository: commit,
//! branch, remote, uncommitted file; `pull`, `backward`, `forward` with
//! `post_update` and a reload; a directory outside git has none.

use std::path::Path;
use std::process::Command;

use crate::helper::{Pmr, wait_until};

fn git(dir: &Path, args: &[&str]) -> String {
    let out = Command::new("git")
        .args([
            "-c",
            "user.name=t",
            "-c",
            "user.email=t@e",
            "-c",
            "init.defaultBranch=main",
        ])
        .args(args)
        .current_dir(dir)
        .output()
        .expect("git runs");
    assert!(
        out.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

fn versioning(t: &Pmr) -> serde_json::Value {
    t.proc(0)["pm2_env"]["versioning"].clone()
}

#[test]
fn versioning_pull_backward_forward() {
    let t = Pmr::new();
    let origin = t.work().join("origin.git");
    let app = t.work().join("app");
    std::fs::create_dir_all(&origin).unwrap();
    git(&origin, &["init", "--bare", "-q"]);
    // An upstream with two commits; the app's clone starts at the first.
    let seed = t.work().join("seed");
    std::fs::create_dir_all(&seed).unwrap();
    git(&seed, &["init", "-q"]);
    std::fs::write(seed.join("app.sh"), "echo v1; sleep 100000\n").unwrap();
    git(&seed, &["add", "."]);
    git(&seed, &["commit", "-q", "-m", "first version"]);
    let first = git(&seed, &["rev-parse", "HEAD"]);
    git(
        &seed,
        &["remote", "add", "origin", origin.to_str().unwrap()],
    );
    git(&seed, &["push", "-q", "origin", "main"]);
    git(t.work(), &["clone", "-q", origin.to_str().unwrap(), "app"]);
    // A branch of its own besides main.
    git(&app, &["branch", "feature"]);
    std::fs::write(app.join("notes.txt"), "uncommitted").unwrap();
    std::fs::write(
        t.work().join("eco.json"),
        format!(
            r#"{{"apps": [{{"name": "app", "script": "app.sh", "cwd": "{}", "post_update": ["touch updated-by-post-update"]}}]}}"#,
            app.display()
        ),
    )
    .unwrap();
    t.ok(&["start", "eco.json"]);
    let v = wait_until("versioning read", || {
        let v = versioning(&t);
        v.is_object().then_some(v)
    });
    assert_eq!(v["type"], "git");
    assert_eq!(v["revision"], first.as_str());
    assert_eq!(v["comment"], "first version");
    assert_eq!(v["branch"], "main");
    assert_eq!(v["remote"], "origin");
    assert_eq!(v["url"], origin.to_str().unwrap());
    assert_eq!(v["unstaged"], true, "notes.txt is not committed");
    assert_eq!(v["branch_exists_on_remote"], true);
    assert_eq!(v["ahead"], false);
    assert_eq!(v["prev_rev"], serde_json::Value::Null);
    assert_eq!(v["repo_path"], app.to_str().unwrap());
    assert!(t.ok(&["describe", "app"]).contains("first version"));
    // Upstream moves on; pull fast-forwards, runs post_update, reloads.
    std::fs::write(seed.join("app.sh"), "echo v2; sleep 100000\n").unwrap();
    git(&seed, &["commit", "-q", "-am", "second version"]);
    let second = git(&seed, &["rev-parse", "HEAD"]);
    git(&seed, &["push", "-q", "origin", "main"]);
    std::fs::remove_file(app.join("notes.txt")).unwrap();
    t.ok(&["refresh-versioning", "app"]);
    assert_eq!(versioning(&t)["unstaged"], false);
    let out = t.ok(&["pull", "app"]);
    assert!(out.contains("Reloaded"), "{out}");
    assert!(
        app.join("updated-by-post-update").exists(),
        "post_update ran"
    );
    wait_until("the new version running and recorded", || {
        let v = versioning(&t);
        (v["revision"] == second.as_str() && t.log("app-out.log").contains("v2")).then_some(())
    });
    assert_eq!(versioning(&t)["prev_rev"], first.as_str());
    assert_eq!(t.proc(0)["pm2_env"]["restart_time"], 1);
    // Back one commit, then forward again.
    std::fs::remove_file(app.join("updated-by-post-update")).unwrap();
    t.ok(&["backward", "app"]);
    wait_until("back at the first version", || {
        let v = versioning(&t);
        (v["revision"] == first.as_str() && v["next_rev"] == second.as_str()).then_some(())
    });
    std::fs::remove_file(app.join("updated-by-post-update")).unwrap();
    t.ok(&["forward", "app"]);
    wait_until("forward at the second version", || {
        (versioning(&t)["revision"] == second.as_str()).then_some(())
    });
    std::fs::remove_file(app.join("updated-by-post-update")).unwrap();
    let err = t.fails(&["forward", "app"]);
    assert!(err.contains("newest"), "{err}");
    // Local edits are never overwritten.
    std::fs::write(app.join("app.sh"), "echo local edit\n").unwrap();
    let err = t.fails(&["backward", "app"]);
    assert!(err.contains("uncommitted"), "{err}");
}

#[test]
fn outside_a_repository_versioning_is_null() {
    let t = Pmr::new();
    t.write("a.sh", "sleep 100000\n");
    t.ok(&["start", "a.sh"]);
    t.wait_status(0, "online");
    std::thread::sleep(std::time::Duration::from_millis(300));
    assert_eq!(versioning(&t), serde_json::Value::Null);
    let out = t.ok(&["refresh-versioning", "a"]);
    assert!(out.contains("not in a git repository"), "{out}");
    let err = t.fails(&["pull", "a"]);
    assert!(err.contains("not in a git repository"), "{err}");
}
