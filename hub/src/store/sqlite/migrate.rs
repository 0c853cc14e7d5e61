//! Schema migrations, numbered, each applied once in its own transaction;
//! `PRAGMA user_version` holds the number of the last one applied.

use anyhow::Context;
use rusqlite::Connection;

/// Every migration, in order; the number is the index plus one.
const MIGRATIONS: &[&str] = &[
    include_str!("../../../migrations/sqlite/001_init.sql"),
    include_str!("../../../migrations/sqlite/002_users.sql"),
    include_str!("../../../migrations/sqlite/003_alerts.sql"),
    include_str!("../../../migrations/sqlite/004_exceptions.sql"),
    include_str!("../../../migrations/sqlite/005_alert_state.sql"),
];

/// Brings the database up to the newest schema; refuses a newer one.
pub(super) fn migrate(c: &mut Connection) -> anyhow::Result<()> {
    // One migration per transaction, the version read inside it under the
    // write lock: two processes starting at once never apply one twice.
    loop {
        let tx = c.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        let at: usize = tx.pragma_query_value(None, "user_version", |r| r.get(0))?;
        anyhow::ensure!(
            at <= MIGRATIONS.len(),
            "the database has schema version {at}, newer than this pmr-hub knows ({}): upgrade pmr-hub",
            MIGRATIONS.len()
        );
        let Some(sql) = MIGRATIONS.get(at) else {
            return Ok(());
        };
        let n = at + 1;
        tx.execute_batch(sql)
            .with_context(|| format!("cannot apply schema migration {n}"))?;
        tx.pragma_update(None, "user_version", n)?;
        tx.commit()?;
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn migrations_apply_once_and_a_newer_schema_is_refused() {
        let mut c = rusqlite::Connection::open_in_memory().unwrap();
        super::migrate(&mut c).unwrap();
        super::migrate(&mut c).unwrap();
        let v: usize = c
            .pragma_query_value(None, "user_version", |r| r.get(0))
            .unwrap();
        assert_eq!(v, super::MIGRATIONS.len());
        c.pragma_update(None, "user_version", 99).unwrap();
        let err = super::migrate(&mut c).unwrap_err().to_string();
        assert!(err.contains("newer"), "{err}");
    }
}
