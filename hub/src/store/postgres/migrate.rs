//! Schema migrations on PostgreSQL, numbered, each applied once in its own
//! transaction under an advisory lock, so replicas starting together never
//! apply one twice; `pmr_schema` holds the numbers applied.

use anyhow::Context;
use postgres::Client;

/// Every migration, in order; the number is the index plus one.
const MIGRATIONS: &[&str] = &[
    include_str!("../../../migrations/postgres/001_init.sql"),
    include_str!("../../../migrations/postgres/002_cluster.sql"),
];

/// The advisory lock's key: "pmr-hub" in ASCII, a number no other user of
/// the database is likely to take.
const LOCK: i64 = 0x0070_6d72_2d68_7562;

/// Brings the database up to the newest schema; refuses a newer one.
pub(super) fn migrate(c: &mut Client) -> anyhow::Result<()> {
    loop {
        let mut tx = c.transaction()?;
        tx.execute("SELECT pg_advisory_xact_lock($1)", &[&LOCK])?;
        tx.batch_execute("CREATE TABLE IF NOT EXISTS pmr_schema (version BIGINT PRIMARY KEY, applied_at TIMESTAMPTZ NOT NULL DEFAULT now())")?;
        let at: i64 = tx
            .query_one("SELECT COALESCE(MAX(version), 0) FROM pmr_schema", &[])?
            .get(0);
        let at = at as usize;
        anyhow::ensure!(
            at <= MIGRATIONS.len(),
            "the database has schema version {at}, newer than this pmr-hub knows ({}): upgrade pmr-hub",
            MIGRATIONS.len()
        );
        let Some(sql) = MIGRATIONS.get(at) else {
            return Ok(());
        };
        let n = at as i64 + 1;
        tx.batch_execute(sql)
            .with_context(|| format!("cannot apply schema migration {n}"))?;
        tx.execute("INSERT INTO pmr_schema (version) VALUES ($1)", &[&n])?;
        tx.commit()?;
    }
}
