//! Link an agent, see it in the API and /metrics, crash an app, act on it.

use std::time::Instant;

use serde_json::json;

use crate::harness::{Agent, Hub, Tls, wait_until};

#[test]
fn linked_agent_shows_apps_events_and_obeys_actions() {
    let hub = Hub::start(Tls::None);
    let agent = Agent::new();
    agent.write("tick.sh", "while true; do sleep 1; done\n");
    agent.ok(&["start", "tick.sh", "--name", "api"]);
    let linked_at = Instant::now();
    agent.link(&hub, "web-1", &[]);
    let p = wait_until("the app in the API", || hub.process("web-1", "api"));
    // The target is 2 s; the bound here only avoids hanging.
    eprintln!(
        "server and app visible {} ms after `pmr link`",
        linked_at.elapsed().as_millis()
    );
    assert_eq!(p["status"], "online");
    let server = hub.server("web-1").unwrap();
    assert_eq!(server["online"], true);
    assert_eq!(server["bucket"], "prod");
    assert!(server["host"]["mem_total"].as_u64().unwrap() > 0);
    assert!(
        agent.status().contains("status:   connected"),
        "{}",
        agent.status()
    );

    // A crash shows as an exit event and a restart.
    let pid = p["pid"].as_i64().unwrap();
    std::process::Command::new("kill")
        .args(["-9", &pid.to_string()])
        .status()
        .unwrap();
    let ev = wait_until("the exit event", || {
        let evs = hub.get("/api/v1/events?app=api");
        evs["events"]
            .as_array()?
            .iter()
            .find(|e| e["kind"] == "exit" && e["signal"] == "SIGKILL")
            .cloned()
    });
    assert_eq!(ev["server"], "web-1");
    wait_until("restart count", || {
        (hub.process("web-1", "api")?["restart_time"] == 1).then_some(())
    });

    // A remote restart goes through the agent's own restart.
    let before = agent.jlist()[0]["pid"].clone();
    let (status, res) = hub.http(
        "POST",
        "/api/v1/actions",
        Some(&json!({"server": "web-1", "action": "restart", "targets": ["api"], "wait": true})),
        true,
    );
    assert_eq!(status, 200, "{res}");
    assert_eq!(res["ok"], true, "{res}");
    let after = agent.jlist()[0]["pid"].clone();
    assert_ne!(before, after);
    assert_eq!(agent.jlist()[0]["pm2_env"]["restart_time"], 2);
    // The hub recorded who asked and the outcome.
    let id = res["id"].as_str().unwrap();
    let rec = hub.get(&format!("/api/v1/actions/{id}"));
    assert_eq!(rec["requested_by"], "token:e2e");
    assert_eq!(rec["ok"], true);
    // An unknown app is a clear failure, not a silent success.
    let (_, res) = hub.http(
        "POST",
        "/api/v1/actions",
        Some(&json!({"server": "web-1", "action": "stop", "targets": ["ghost"], "wait": true})),
        true,
    );
    assert_eq!(res["ok"], false, "{res}");
    assert!(res["message"].as_str().unwrap().contains("ghost"));
    // A flush names one app or none, as pm2's: several are refused whole.
    let two = json!({"server": "web-1", "action": "flush", "targets": ["api", "ghost"]});
    let (status, res) = hub.http("POST", "/api/v1/actions", Some(&two), true);
    assert_eq!(status, 422, "{res}");
    assert!(res["error"].to_string().contains("one app"), "{res}");

    // Versions by app and server (null revisions until versioning is collected).
    let v = hub.get("/api/v1/versions?app=api");
    assert_eq!(v[0]["app"], "api");
    assert_eq!(v[0]["instances"][0]["server"], "web-1");
    assert_eq!(v[0]["differs"], false);

    // The API needs a token.
    let (status, _) = hub.http("GET", "/api/v1/servers", None, false);
    assert_eq!(status, 401);

    // /metrics parses with a real Prometheus text parser and has the app.
    let (status, text) = hub.http("GET", "/metrics", None, false);
    assert_eq!(status, 200);
    let text = text.as_str().unwrap().to_string();
    let lines = text.lines().map(|l| Ok(l.to_string()));
    let scrape = prometheus_parse::Scrape::parse(lines).expect("valid exposition");
    let restarts = scrape
        .samples
        .iter()
        .find(|s| s.metric == "pmr_process_restarts" && s.labels.get("app") == Some("api"))
        .expect("process series");
    assert_eq!(restarts.labels.get("server"), Some("web-1"));
    assert_eq!(restarts.labels.get("bucket"), Some("prod"));
    assert!(
        scrape
            .samples
            .iter()
            .any(|s| s.metric == "pmr_hub_agents_connected")
    );
    // Everything above went through ingest's change feed once: its first
    // subscriber counted it by kind.
    let changes = |kind: &str| -> f64 {
        let (_, text) = hub.http("GET", "/metrics", None, false);
        let lines = text.as_str().unwrap().lines().map(|l| Ok(l.to_string()));
        let scrape = prometheus_parse::Scrape::parse(lines).unwrap();
        scrape
            .samples
            .iter()
            .find(|s| s.metric == "pmr_hub_changes_total" && s.labels.get("kind") == Some(kind))
            .map_or(0.0, |s| match s.value {
                prometheus_parse::Value::Counter(v) => v,
                _ => 0.0,
            })
    };
    for (kind, at_least) in [
        ("server_up", 1.0),
        ("process_status", 1.0),
        ("restart", 1.0),
        ("event", 2.0),
        ("action_result", 1.0),
        ("sample", 1.0),
    ] {
        let n = changes(kind);
        assert!(
            n >= at_least,
            "{kind}: {n} changes, want at least {at_least}"
        );
    }
    assert_eq!(changes("missed"), 0.0);
    // Exactly once: online now (every up after the first had a down before
    // it), and one result for each of the two remote actions.
    assert_eq!(changes("server_up") - changes("server_down"), 1.0);
    assert_eq!(changes("action_result"), 2.0);

    // Unlink: the hub sees the server go offline, once.
    agent.ok(&["unlink"]);
    wait_until("offline", || {
        (hub.server("web-1")?["online"] == false).then_some(())
    });
    wait_until("server_down published", || {
        (changes("server_down") == 1.0).then_some(())
    });
}

#[test]
fn runtime_links_from_environment() {
    let hub = Hub::start(Tls::None);
    let work = tempfile::tempdir().unwrap();
    let home = tempfile::Builder::new()
        .prefix("pmr")
        .tempdir_in("/tmp")
        .unwrap();
    std::fs::write(
        work.path().join("svc.sh"),
        "env > env.txt\nwhile true; do sleep 1; done\n",
    )
    .unwrap();
    let mut child = std::process::Command::new(crate::harness::bin("pmr-runtime"))
        .arg("svc.sh")
        .current_dir(work.path())
        .env("PMR_HOME", home.path())
        .env("PMR_PUBLIC_KEY", &hub.public)
        .env("PMR_SECRET_KEY", &hub.secret)
        .env("PMR_HUB_URL", hub.ws_url())
        .env("PMR_MACHINE_NAME", "container-7")
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let p = wait_until("the container's app", || hub.process("container-7", "svc"));
    assert_eq!(p["status"], "online");
    // The bucket secret is pmr's, not the app's.
    let env = wait_until("the app's env", || {
        std::fs::read_to_string(work.path().join("env.txt"))
            .ok()
            .filter(|e| !e.is_empty())
    });
    assert!(!env.contains("PMR_SECRET_KEY"), "the app got the secret");
    assert!(env.contains("PMR_MACHINE_NAME=container-7"));
    std::process::Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    let status = child.wait().unwrap();
    assert!(status.success(), "{status}");

    // Half a key pair is refused.
    let out = std::process::Command::new(crate::harness::bin("pmr-runtime"))
        .arg("svc.sh")
        .current_dir(work.path())
        .env("PMR_HOME", home.path())
        .env("PMR_PUBLIC_KEY", &hub.public)
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("PMR_SECRET_KEY"));
}

/// Given several replicas' addresses, the agent tries them in turn: the
/// first is dead (nothing listens), the link comes up through the second.
#[test]
fn an_agent_given_several_hub_addresses_links_through_one_that_answers() {
    let hub = Hub::start(Tls::None);
    let dead = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let dead_url = format!("ws://127.0.0.1:{}", dead.local_addr().unwrap().port());
    drop(dead);
    let agent = Agent::new();
    let hubs = format!("{dead_url},{}", hub.ws_url());
    agent.ok(&["link", &hub.secret, &hub.public, "replicas", "--hub", &hubs]);
    wait_until("linked through the second address", || {
        agent.status().contains("status:   connected").then_some(())
    });
    wait_until("the server on the hub", || {
        let servers = hub.get("/api/v1/servers");
        servers
            .as_array()?
            .iter()
            .find(|s| s["name"] == "replicas")
            .map(|_| ())
    });
    let log = std::fs::read_to_string(agent.home.path().join("pmr.log")).unwrap_or_default();
    assert!(
        log.contains(&format!("linked to {}", hub.ws_url())),
        "{log}"
    );
}

#[test]
fn wrong_keys_are_refused_before_connecting() {
    let hub = Hub::start(Tls::None);
    let agent = Agent::new();
    let url = hub.ws_url();
    let out = agent.run(&["link", &hub.public, &hub.secret, "x", "--hub", &url]);
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("secret key"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut typo = hub.secret.clone();
    typo.replace_range(8..9, if &typo[8..9] == "A" { "B" } else { "A" });
    let out = agent.run(&["link", &typo, &hub.public, "x", "--hub", &url]);
    assert!(String::from_utf8_lossy(&out.stderr).contains("checksum"));
    assert!(
        !agent.home.path().join("link.json").exists(),
        "nothing stored"
    );
}

#[test]
fn history_and_a_link_that_survives_the_daemon() {
    use std::os::unix::fs::PermissionsExt;
    let hub = Hub::start(Tls::None);
    let agent = Agent::new();
    agent.write("w.sh", "while true; do sleep 1; done\n");
    agent.ok(&["start", "w.sh"]);
    agent.link(&hub, "keeper", &[]);
    let mode = std::fs::metadata(agent.home.path().join("link.json"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600, "the secret is private");
    // A 10-second rollup reaches the process history.
    let server_id = wait_until("server", || hub.server("keeper")?["id"].as_i64());
    // Rollups cover 10 s: allow for a loaded machine.
    let hist = crate::harness::wait_for(
        "a rollup in the history",
        std::time::Duration::from_secs(90),
        || {
            // 404 until the first snapshot arrives.
            let (status, v) = hub.http(
                "GET",
                &format!("/api/v1/servers/{server_id}/processes/0"),
                None,
                true,
            );
            // A window that closed just after the app started may hold
            // only its first sample, taken before its memory was read.
            let measured = v["history"]
                .as_array()?
                .iter()
                .any(|row| row["memory"][1].as_f64().is_some_and(|m| m > 0.0));
            (status == 200 && measured).then_some(v)
        },
    );
    assert_eq!(hist["process"]["name"], "w");
    // The daemon restarts (SIGTERM saves, resurrect restores): the link comes back by itself.
    agent.ok(&["update"]);
    crate::harness::wait_for("linked again", std::time::Duration::from_secs(60), || {
        let s = agent.status();
        eprintln!("{s}");
        s.contains("status:   connected").then_some(())
    });
    assert_eq!(hub.server("keeper").unwrap()["online"], true);
}

#[test]
fn hub_sees_versioning_metrics_and_scales() {
    let hub = Hub::start(Tls::None);
    let agent = Agent::new();
    let repo = agent.work.path().join("repo");
    std::fs::create_dir_all(&repo).unwrap();
    let git = |args: &[&str]| crate::harness::git(&repo, args);
    git(&["init", "-q"]);
    // A metric through the notify socket, from a shell app.
    std::fs::write(
        repo.join("w.py"),
        "import os, socket, time\ns = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)\ns.connect(os.environ['PMR_NOTIFY_SOCKET'])\nwhile True:\n    s.send(b'METRIC=queue=5')\n    time.sleep(0.5)\n",
    )
    .unwrap();
    git(&["add", "."]);
    git(&["commit", "-q", "-m", "deployed version"]);
    agent.ok(&[
        "start",
        repo.join("w.py").to_str().unwrap(),
        "--name",
        "worker",
    ]);
    agent.link(&hub, "web-2", &[]);
    let p = wait_until("metrics and versioning in the API", || {
        let p = hub.process("web-2", "worker")?;
        (p["metrics"]["queue"] == 5.0 && p["versioning"]["comment"] == "deployed version")
            .then_some(p)
    });
    let rev = p["versioning"]["revision"].as_str().unwrap().to_string();
    let v = hub.get("/api/v1/versions?app=worker");
    assert_eq!(v[0]["instances"][0]["versioning"]["revision"], rev.as_str());
    // Scale through the hub: the agent's own scale.
    let (status, res) = hub.http(
        "POST",
        "/api/v1/actions",
        Some(&json!({"server": "web-2", "action": "scale", "targets": ["worker"], "params": 3, "wait": true})),
        true,
    );
    assert_eq!(status, 200, "{res}");
    assert_eq!(res["ok"], true, "{res}");
    assert_eq!(agent.jlist().len(), 3);
    // A new commit under the running app is a deploy event once it restarts.
    std::fs::write(repo.join("README"), "v2").unwrap();
    git(&["add", "."]);
    git(&["commit", "-q", "-m", "second"]);
    agent.ok(&["restart", "worker"]);
    let ev = wait_until("the deploy event", || {
        let evs = hub.get("/api/v1/events?app=worker");
        evs["events"]
            .as_array()?
            .iter()
            .find(|e| e["kind"] == "deploy")
            .cloned()
    });
    assert_ne!(ev["detail"], rev.as_str());
}
