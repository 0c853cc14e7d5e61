//! The `meta` table's values: the hub's own bookkeeping (marks, tokens'
//! expiry, versions), read and written inside the writer's transaction.

use postgres::Transaction;

/// A number kept in `meta`, if set.
pub(super) fn meta_i64(c: &mut Transaction<'_>, key: &str) -> Result<Option<i64>, postgres::Error> {
    Ok(
        c.query_opt("SELECT value FROM meta WHERE key = $1", &[&key])?
            .and_then(|r| r.get::<_, String>(0).parse().ok()),
    )
}

/// Sets a `meta` value.
pub(super) fn set_meta(
    c: &mut Transaction<'_>,
    key: &str,
    value: &str,
) -> Result<(), postgres::Error> {
    c.execute(
        "INSERT INTO meta (key, value) VALUES ($1, $2) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
        &[&key, &value],
    )?;
    Ok(())
}
