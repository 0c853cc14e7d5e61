//! The `meta` table's values: the hub's own bookkeeping (marks, tokens'
//! expiry, versions), read and written inside the writer's transaction.

use rusqlite::{Connection, OptionalExtension, params};

/// A number kept in `meta`, if set.
pub(super) fn meta_i64(c: &Connection, key: &str) -> rusqlite::Result<Option<i64>> {
    Ok(
        c.query_row("SELECT value FROM meta WHERE key = ?1", params![key], |r| {
            r.get::<_, String>(0)
        })
        .optional()?
        .and_then(|v| v.parse().ok()),
    )
}

/// Sets a `meta` value.
pub(super) fn set_meta(c: &Connection, key: &str, value: &str) -> rusqlite::Result<()> {
    c.execute(
        "INSERT INTO meta (key, value) VALUES (?1, ?2) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
        params![key, value],
    )?;
    Ok(())
}
