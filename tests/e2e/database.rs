//! The hub on PostgreSQL: TLS to the database, verified; a SQLite hub
//! moved over with its history.

use crate::harness::{Agent, Hub, Tls, wait_until};
use crate::tls::make_ca;

/// How many of the hub database's connections use TLS, and how many are there.
fn tls_connections(pg: &pmr_tests::postgres::Postgres) -> (u32, u32) {
    let out = pg.psql(
        "postgres",
        "SELECT count(*) FILTER (WHERE s.ssl), count(*) FROM pg_stat_activity a
         JOIN pg_stat_ssl s USING (pid) WHERE a.datname = 'hub'",
    );
    let (tls, all) = out.split_once('|').expect("two counts");
    (tls.parse().unwrap(), all.parse().unwrap())
}

#[test]
fn the_hub_reaches_its_database_over_verified_tls_and_refuses_an_unknown_certificate() {
    let dir = tempfile::tempdir().unwrap();
    let Tls::Ca { cert, key, ca } = make_ca(dir.path()) else {
        unreachable!()
    };
    let pg = pmr_tests::postgres::Postgres::start_tls(&cert, &key);
    pg.create_database("hub");
    let url = format!(
        "postgres://postgres@localhost:{}/hub?sslmode=verify-full&sslrootcert={}",
        pg.port(),
        ca.display()
    );
    let hub = Hub::on_database(&url);
    let (tls, all) = tls_connections(&pg);
    assert!(all > 0 && tls == all, "{tls} of {all} connections use TLS");
    assert!(hub.get("/api/v1/servers").is_array());

    // A server certificate no configured root signed: no connection at all,
    // and the hub says why.
    let other = tempfile::tempdir().unwrap();
    let Tls::Ca { ca: stranger, .. } = make_ca(other.path()) else {
        unreachable!()
    };
    let refused = hub
        .command()
        .env(
            "PMR_HUB_DATABASE",
            url.replace(&ca.display().to_string(), &stranger.display().to_string()),
        )
        .args(["keys", "list"])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&refused.stderr);
    assert!(!refused.status.success(), "{text}");
    assert!(
        text.contains("cannot connect to the database") && text.contains("certificate"),
        "{text}"
    );
}

#[test]
fn a_sqlite_hub_with_history_moves_to_postgres_and_serves_the_same_data() {
    let mut old = Hub::on_sqlite();
    let agent = Agent::new();
    agent.write("tick.sh", "while true; do sleep 1; done\n");
    agent.ok(&["start", "tick.sh", "--name", "api"]);
    agent.link(&old, "web-1", &[]);
    let p = wait_until("the app on the hub", || old.process("web-1", "api"));
    let pid = p["pid"].as_i64().unwrap().to_string();
    assert!(
        std::process::Command::new("kill")
            .args(["-9", &pid])
            .status()
            .unwrap()
            .success()
    );
    wait_until("the crash stored", || {
        let evs = old.get("/api/v1/events?app=api");
        (evs["events"]
            .as_array()?
            .iter()
            .any(|e| e["kind"] == "exit"))
        .then_some(())
    });
    let out = old.admin(&["users", "add", "ops@example.com", "--role", "operator"]);
    assert!(out.status.success());
    let servers = old.get("/api/v1/servers");
    let events = old.get("/api/v1/events?limit=100")["events"].clone();
    let users = old.get("/api/v1/users");
    old.stop();
    agent.ok(&["unlink"]);

    let pg = pmr_tests::postgres::Postgres::start();
    pg.create_database("hub");
    let migrate = |to: &str| {
        let from = format!("sqlite://{}", old.dir.path().join("hub.db").display());
        old.command()
            .args(["migrate", "--from", &from, "--to", to])
            .output()
            .unwrap()
    };
    let out = migrate(&pg.url("hub"));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(text.contains("events") && text.contains("copied"), "{text}");

    // The hub on PostgreSQL serves what the SQLite hub had (its own e2e
    // token comes on top of the copied one).
    let new = Hub::on_database(&pg.url("hub"));
    let same = |v: &serde_json::Value, keys: &[&str]| -> Vec<String> {
        v.as_array()
            .unwrap()
            .iter()
            .map(|x| {
                keys.iter()
                    .map(|k| x[*k].to_string())
                    .collect::<Vec<_>>()
                    .join(" ")
            })
            .collect()
    };
    let server_keys = ["id", "name", "bucket", "machine_id"];
    assert_eq!(
        same(&new.get("/api/v1/servers"), &server_keys),
        same(&servers, &server_keys)
    );
    let event_keys = ["id", "server", "seq", "kind", "app", "signal"];
    assert_eq!(
        same(&new.get("/api/v1/events?limit=100")["events"], &event_keys),
        same(&events, &event_keys)
    );
    assert_eq!(
        same(&new.get("/api/v1/users"), &["email", "role"]),
        same(&users, &["email", "role"])
    );

    // A database that holds a hub already is refused, and keeps what it has.
    let again = migrate(&pg.url("hub"));
    let err = String::from_utf8_lossy(&again.stderr);
    assert!(
        !again.status.success() && err.contains("already holds a hub"),
        "{err}"
    );
    assert_eq!(
        same(&new.get("/api/v1/servers"), &server_keys),
        same(&servers, &server_keys)
    );
}
