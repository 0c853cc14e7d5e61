//! `pmr-hub migrate`: a SQLite hub's data into an empty PostgreSQL
//! database, every table in one transaction (all of it or nothing), with
//! the ids kept, so links, scripts and agents see the same hub after.

use std::path::Path;

use anyhow::Context;
use postgres::binary_copy::BinaryCopyInWriter;
use postgres::types::{ToSql, Type};
use rusqlite::types::Value;

use super::postgres::PgStore;
use super::postgres::connect;
use super::sqlite::SqliteStore;

/// Every table, in the order their references need.
const TABLES: &[&str] = &[
    "meta",
    "buckets",
    "keys",
    "servers",
    "events",
    "rollups",
    "stream_seq",
    "users",
    "sessions",
    "api_tokens",
    "actions",
    "audit",
    "alert_rules",
    "receivers",
    "alerts",
    "deliveries",
    "alert_notifications",
    "exception_groups",
];

/// Copies the hub at `from` (a SQLite file) into the PostgreSQL database at
/// `to`, which must hold no hub yet; rows copied per table.
pub fn sqlite_to_postgres(from: &Path, to: &str) -> anyhow::Result<Vec<(&'static str, u64)>> {
    anyhow::ensure!(from.exists(), "--from {}: no such file", from.display());
    // Both at their newest schema first (the source as a start would).
    drop(SqliteStore::open(from)?);
    drop(PgStore::open(to)?);
    let src =
        rusqlite::Connection::open_with_flags(from, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
            .with_context(|| format!("cannot open {}", from.display()))?;
    let target = connect::target(to)?;
    let mut dest = target.connect()?;
    let mut tx = dest.transaction()?;
    for t in ["servers", "users", "keys", "alert_rules"] {
        let n: i64 = tx
            .query_one(&format!("SELECT count(*) FROM {t}"), &[])?
            .get(0);
        anyhow::ensure!(
            n == 0,
            "--to {}: the database already holds a hub ({n} row(s) in {t}); migrate into an empty one",
            connect::describe(&target.config)
        );
    }
    tx.execute("DELETE FROM meta", &[])?;
    let mut copied = Vec::new();
    for &table in TABLES {
        let n = copy_table(&src, &mut tx, table).with_context(|| format!("table {table}"))?;
        copied.push((table, n));
    }
    // Ids go on from the highest copied one.
    tx.batch_execute(
        "DO $$ DECLARE t record; BEGIN
           FOR t IN SELECT table_name FROM information_schema.columns
             WHERE table_schema = current_schema() AND column_name = 'id' AND is_identity = 'YES'
           LOOP
             EXECUTE format('SELECT setval(pg_get_serial_sequence(%L, ''id''), GREATEST((SELECT MAX(id) FROM %I), 1))',
               t.table_name, t.table_name);
           END LOOP;
         END $$;",
    )?;
    tx.commit()?;
    Ok(copied)
}

/// One table, by binary COPY: the columns both schemas have, each value
/// as the target column's type.
fn copy_table(
    src: &rusqlite::Connection,
    tx: &mut postgres::Transaction<'_>,
    table: &str,
) -> anyhow::Result<u64> {
    let dest_cols: Vec<(String, Type)> = tx
        .query(
            "SELECT column_name, data_type FROM information_schema.columns
             WHERE table_schema = current_schema() AND table_name = $1 ORDER BY ordinal_position",
            &[&table],
        )?
        .iter()
        .map(|r| (r.get::<_, String>(0), pg_type(&r.get::<_, String>(1))))
        .collect();
    let src_cols: Vec<String> = src
        .prepare(&format!("SELECT name FROM pragma_table_info('{table}')"))?
        .query_map([], |r| r.get(0))?
        .collect::<Result<_, _>>()?;
    let cols: Vec<&(String, Type)> = dest_cols
        .iter()
        .filter(|(name, _)| src_cols.contains(name))
        .collect();
    let names: Vec<&str> = cols.iter().map(|(n, _)| n.as_str()).collect();
    let types: Vec<Type> = cols.iter().map(|(_, t)| t.clone()).collect();
    let sink = tx.copy_in(&format!(
        "COPY {table} ({}) FROM STDIN BINARY",
        names.join(", ")
    ))?;
    let mut writer = BinaryCopyInWriter::new(sink, &types);
    let mut st = src.prepare(&format!("SELECT {} FROM {table}", names.join(", ")))?;
    let mut rows = st.query([])?;
    let mut n = 0;
    while let Some(row) = rows.next()? {
        let values: Vec<Box<dyn ToSql + Sync>> = types
            .iter()
            .enumerate()
            .map(|(i, t)| Ok(as_type(row.get::<_, Value>(i)?, t)))
            .collect::<rusqlite::Result<_>>()?;
        let refs: Vec<&(dyn ToSql + Sync)> = values.iter().map(|v| &**v).collect();
        writer.write(&refs)?;
        n += 1;
    }
    writer.finish()?;
    Ok(n)
}

fn pg_type(data_type: &str) -> Type {
    match data_type {
        "bigint" => Type::INT8,
        "double precision" => Type::FLOAT8,
        "boolean" => Type::BOOL,
        _ => Type::TEXT,
    }
}

/// A SQLite value (typed loosely, as SQLite stores them) as `t`.
fn as_type(v: Value, t: &Type) -> Box<dyn ToSql + Sync> {
    let int = |v: &Value| match v {
        Value::Integer(i) => Some(*i),
        Value::Real(f) => Some(*f as i64),
        Value::Text(s) => s.parse().ok(),
        _ => None,
    };
    match *t {
        Type::INT8 => Box::new(int(&v)),
        Type::BOOL => Box::new(int(&v).map(|i| i != 0)),
        Type::FLOAT8 => Box::new(match v {
            Value::Real(f) => Some(f),
            Value::Integer(i) => Some(i as f64),
            Value::Text(s) => s.parse().ok(),
            _ => None,
        }),
        _ => Box::new(match v {
            Value::Text(s) => Some(s),
            Value::Integer(i) => Some(i.to_string()),
            Value::Real(f) => Some(f.to_string()),
            Value::Blob(b) => Some(String::from_utf8_lossy(&b).into_owned()),
            Value::Null => None,
        }),
    }
}
