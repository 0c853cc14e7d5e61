//! The hub on PostgreSQL: TLS to the database, verified.

use crate::harness::Hub;
use crate::harness::Tls;
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
