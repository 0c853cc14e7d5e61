//! Two replicas on one real PostgreSQL, a real agent and app: each replica
//! sees the agent the other holds, acts on it, and takes it over when the
//! other dies.

use serde_json::json;

use crate::harness::{Agent, Hub, wait_until};
use crate::hostile_ws::metric;

/// Two replicas on a fresh database of their own cluster.
fn replicas(pg: &pmr_tests::postgres::Postgres) -> (Hub, Hub) {
    pg.create_database("hub");
    let url = pg.url("hub");
    (Hub::on_database(&url), Hub::on_database(&url))
}

#[test]
fn a_replica_sees_acts_on_and_takes_over_the_agent_another_replica_holds() {
    let pg = pmr_tests::postgres::Postgres::start();
    let (mut a, b) = replicas(&pg);
    let agent = Agent::new();
    agent.write("tick.sh", "while true; do sleep 1; done\n");
    agent.ok(&["start", "tick.sh", "--name", "api"]);
    // The first address answers, so the agent's session is on A.
    let hubs = format!("{},{}", a.ws_url(), b.ws_url());
    agent.ok(&["link", &a.secret, &a.public, "web-1", "--hub", &hubs]);
    let up = "pmr_server_up{bucket=\"prod\",server=\"web-1\"}";
    wait_until("A holds the agent", || {
        (metric(&a, up) == Some(1.0)).then_some(())
    });

    // B sees the agent and its app, but does not count it as its own.
    let p = wait_until("B sees the app on A's agent", || {
        b.process("web-1", "api")
            .filter(|p| p["status"] == "online")
    });
    assert_eq!(b.server("web-1").unwrap()["online"], true);
    assert_eq!(metric(&b, up), None, "B's /metrics counts only its agents");
    // B's API names both replicas, who holds the agent and the lease.
    let status = b.get("/api/v1/cluster");
    let replicas = status["replicas"].as_array().unwrap();
    assert_eq!(
        (status["store"].as_str(), replicas.len()),
        (Some("postgres"), 2),
        "{status}"
    );
    let this = |r: &&serde_json::Value| r["this"] == true;
    let (on_b, on_a): (Vec<_>, Vec<_>) = replicas.iter().partition(this);
    assert_eq!(
        (on_a[0]["agents"].as_i64(), on_b[0]["agents"].as_i64()),
        (Some(1), Some(0)),
        "{status}"
    );
    assert_eq!(
        replicas.iter().filter(|r| r["lease"] == true).count(),
        1,
        "{status}"
    );

    // An action through B reaches the agent through A, and B's caller
    // gets the agent's answer.
    let before = p["pid"].clone();
    let restart = json!({"server": "web-1", "action": "restart", "targets": ["api"], "wait": true});
    let (status, res) = b.http("POST", "/api/v1/actions", Some(&restart), true);
    assert_eq!((status, res["ok"].clone()), (200, json!(true)), "{res}");
    assert_eq!(agent.jlist()[0]["pm2_env"]["restart_time"], 1);
    assert_ne!(agent.jlist()[0]["pid"], before);
    let id = res["id"].as_str().unwrap();
    wait_until("the outcome recorded, seen from A", || {
        (a.get(&format!("/api/v1/actions/{id}"))["ok"] == true).then_some(())
    });
    wait_until("A's view shows the restart", || {
        (a.process("web-1", "api")?["restart_time"] == 1).then_some(())
    });

    // A dies without a word: the agent links through B, which holds it.
    a.stop();
    wait_until("B holds the agent", || {
        (metric(&b, up) == Some(1.0)).then_some(())
    });
    assert_eq!(b.server("web-1").unwrap()["online"], true);
    let (status, res) = b.http("POST", "/api/v1/actions", Some(&restart), true);
    assert_eq!((status, res["ok"].clone()), (200, json!(true)), "{res}");
    assert_eq!(agent.jlist()[0]["pm2_env"]["restart_time"], 2);
}

#[test]
fn a_replica_without_the_others_sealing_key_refuses_to_start_and_says_why() {
    let pg = pmr_tests::postgres::Postgres::start();
    let (a, _b) = replicas(&pg);
    let stranger = "ab".repeat(32);
    let out = a
        .command()
        .env("PMR_HUB_SECRETS_KEY", &stranger)
        .args(["serve", "--listen", "127.0.0.1:0"])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{err}");
    assert!(
        err.contains("sealing key") && err.contains("same key"),
        "{err}"
    );
}

/// `/readyz`'s status on `hub`.
fn readiness(hub: &Hub) -> u16 {
    hub.http("GET", "/readyz", None, false).0
}

#[test]
fn replicas_that_lose_the_database_say_not_ready_and_come_back_with_nothing_lost() {
    let pg = pmr_tests::postgres::Postgres::start();
    let (a, b) = replicas(&pg);
    let agent = Agent::new();
    agent.write("tick.sh", "while true; do sleep 1; done\n");
    agent.ok(&["start", "tick.sh", "--name", "api"]);
    let hubs = format!("{},{}", a.ws_url(), b.ws_url());
    agent.ok(&["link", &a.secret, &a.public, "web-1", "--hub", &hubs]);
    let p = wait_until("B sees the app", || b.process("web-1", "api"));

    pg.stop();
    wait_until("both not ready", || {
        (readiness(&a) == 503 && readiness(&b) == 503).then_some(())
    });
    wait_until("the agent's session closed", || {
        (!agent.status().contains("status:   connected")).then_some(())
    });
    // The agent goes on supervising: a crash now waits in its queue.
    let pid = p["pid"].as_i64().unwrap().to_string();
    assert!(
        std::process::Command::new("kill")
            .args(["-9", &pid])
            .status()
            .unwrap()
            .success()
    );
    wait_until("the app restarted", || {
        (agent.jlist()[0]["pm2_env"]["restart_time"] == 1).then_some(())
    });
    // A few seconds down: the agent's attempts meanwhile are refused.
    std::thread::sleep(std::time::Duration::from_secs(3));
    assert_eq!((readiness(&a), readiness(&b)), (503, 503));

    pg.start_again();
    wait_until("both ready again", || {
        (readiness(&a) == 200 && readiness(&b) == 200).then_some(())
    });
    let crashes = |hub: &Hub| -> usize {
        hub.get("/api/v1/events?app=api")["events"]
            .as_array()
            .map_or(0, |e| e.iter().filter(|e| e["signal"] == "SIGKILL").count())
    };
    wait_until("the queued crash stored, seen from A", || {
        (crashes(&a) > 0).then_some(())
    });
    wait_until("the agent back", || {
        (b.server("web-1")?["online"] == true && a.server("web-1")?["online"] == true).then_some(())
    });
    assert_eq!(crashes(&b), 1, "stored exactly once");
}

#[test]
fn a_live_log_view_on_one_replica_follows_an_agent_on_another() {
    let pg = pmr_tests::postgres::Postgres::start();
    let (a, b) = replicas(&pg);
    let agent = Agent::new();
    agent.write(
        "talk.sh",
        "while true; do echo \"said $(date +%s%N)\"; sleep 0.2; done\n",
    );
    agent.ok(&["start", "talk.sh", "--name", "talk"]);
    agent.link(&a, "web-1", &[]);
    wait_until("B sees the app", || b.process("web-1", "talk"));
    let id = b.server("web-1").unwrap()["id"].as_i64().unwrap();
    let opened = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    // Lines written after the view opened on B, through A.
    let fresh = crate::feed::follow(&b, &format!("/api/v1/servers/{id}/logs?app=talk"))
        .flat_map(|batch| batch["lines"].as_array().unwrap().clone())
        .find(|l| {
            l["line"].as_str().unwrap()["said ".len()..]
                .parse::<u128>()
                .is_ok_and(|at| at > opened)
        })
        .expect("a line written after the view opened");
    assert_eq!(fresh["app"], "talk");
    assert_eq!(
        crate::hostile_ws::metric(&b, "pmr_server_up{bucket=\"prod\",server=\"web-1\"}"),
        None
    );
}

/// Whether `hub` says it holds the once-only lease.
fn holds_lease(hub: &Hub) -> bool {
    let (_, text) = hub.http("GET", "/readyz", None, false);
    text.as_str().is_some_and(|t| t.contains("lease: held"))
}

#[test]
fn a_replica_stopped_cleanly_gives_up_its_lease_and_leaves_the_list() {
    let pg = pmr_tests::postgres::Postgres::start();
    let (a, b) = replicas(&pg);
    wait_until("one of them holds the lease", || {
        (holds_lease(&a) || holds_lease(&b)).then_some(())
    });
    let (mut holder, other) = if holds_lease(&a) { (a, b) } else { (b, a) };
    let (_, text) = holder.http("GET", "/readyz", None, false);
    let id = text
        .as_str()
        .unwrap()
        .lines()
        .find_map(|l| l.strip_prefix("replica: "))
        .unwrap()
        .to_string();
    holder.terminate();
    // At once, before its lease could have run out: the lease is not its
    // own any more, and the other replica is alone in the list; it takes
    // the lease at its next beat (maybe already).
    let its = pg.psql(
        "hub",
        &format!("SELECT count(*) FROM cluster_leases WHERE holder = '{id}'"),
    );
    assert_eq!(its, "0", "the lease of {id}");
    let replicas = other.get("/api/v1/cluster")["replicas"]
        .as_array()
        .unwrap()
        .len();
    assert_eq!(replicas, 1);
    wait_until("the other holds the lease", || {
        holds_lease(&other).then_some(())
    });
}
