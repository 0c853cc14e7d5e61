//! One store test suite, run on both backends: SQLite in a temporary file
//! and PostgreSQL in a cluster of the test's own (`initdb` on a free port),
//! each case on a fresh database.

use std::sync::Arc;

use pmr_shared::link::messages::{Event, EventKind};

use super::postgres::PgStore;
use super::sqlite::SqliteStore;
use super::{Store, Write, Written, write_one};

mod cases;

/// A fresh database a case opens (and may open again).
pub(super) trait Db {
    /// The store on this database, migrated.
    fn open(&self) -> Arc<dyn Store>;
}

struct Sqlite(tempfile::TempDir);

impl Db for Sqlite {
    fn open(&self) -> Arc<dyn Store> {
        Arc::new(SqliteStore::open(&self.0.path().join("hub.db")).unwrap())
    }
}

struct Postgres(String);

impl Db for Postgres {
    fn open(&self) -> Arc<dyn Store> {
        Arc::new(PgStore::open(&self.0).unwrap())
    }
}

/// A case: it gets a fresh database.
type Case = fn(&dyn Db);

/// Every case, by name.
const CASES: &[(&str, Case)] = &[
    (
        "events_are_stored_once_and_resume_tracks_them",
        cases::events_are_stored_once_and_resume_tracks_them,
    ),
    (
        "ten_second_rows_fold_into_five_minute_rows",
        cases::ten_second_rows_fold_into_five_minute_rows,
    ),
    (
        "one_failing_write_takes_back_only_its_own_rows",
        cases::one_failing_write_takes_back_only_its_own_rows,
    ),
    (
        "pruning_goes_in_bounded_chunks_until_done",
        cases::pruning_goes_in_bounded_chunks_until_done,
    ),
    (
        "alert_state_survives_a_reopen_and_ids_are_never_reused",
        cases::alert_state_survives_a_reopen_and_ids_are_never_reused,
    ),
];

#[test]
fn the_store_suite_on_sqlite() {
    for (name, case) in CASES {
        eprintln!("sqlite: {name}");
        case(&Sqlite(tempfile::tempdir().unwrap()));
    }
}

#[test]
fn the_store_suite_on_postgres() {
    let pg = pmr_tests::postgres::Postgres::start();
    for (i, (name, case)) in CASES.iter().enumerate() {
        eprintln!("postgres: {name}");
        let db = format!("case{i}");
        pg.create_database(&db);
        case(&Postgres(pg.url(&db)));
    }
}

/// The id of server `m1` in the bucket, recorded now.
pub(super) fn server_id(s: &dyn Store, bucket_id: i64) -> i64 {
    let w = Write::UpsertServer {
        bucket_id,
        machine_id: "m1".into(),
        name: "web".into(),
        version: "0.1.0".into(),
        now: 5,
    };
    match write_one(s, w).unwrap() {
        Written::Id(id) => id,
        other => panic!("{other:?}"),
    }
}

/// How many rows a write stored that were not there before.
pub(super) fn new_rows(s: &dyn Store, w: Write) -> u64 {
    match write_one(s, w).unwrap() {
        Written::Rows(n) => n,
        other => panic!("{other:?}"),
    }
}

/// An app's exit with sequence number `seq`, for every store test.
pub(crate) fn event(seq: u64) -> Event {
    Event {
        seq,
        at: 1,
        kind: EventKind::Exit,
        pm_id: 0,
        name: "api".into(),
        namespace: None,
        code: Some(1),
        signal: None,
        detail: None,
    }
}
