//! What only the SQLite backend has: its file's modes and its upgrades
//! from older schemas (the cases every backend passes are in
//! `store/tests/`).

use super::*;

#[test]
fn the_data_dir_and_database_are_private() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let db = data.join("hub.db");
    let s = SqliteStore::open(&db).unwrap();
    s.hub_id().unwrap();
    let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&data), 0o700);
    assert_eq!(mode(&db), 0o600);
    assert_eq!(mode(&data.join("hub.db-wal")), 0o600);
    // An older database left readable by others is tightened.
    drop(s);
    std::fs::set_permissions(&db, std::fs::Permissions::from_mode(0o644)).unwrap();
    SqliteStore::open(&db).unwrap();
    assert_eq!(mode(&db), 0o600);
}

#[test]
fn a_version_1_database_is_upgraded_and_keeps_its_tokens() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("hub.db");
    {
        // As pmr-hub before users left it: schema 1, user_version 0, a token.
        let c = rusqlite::Connection::open(&path).unwrap();
        c.execute_batch(include_str!("../../../migrations/sqlite/001_init.sql"))
            .unwrap();
        c.execute(
            "INSERT INTO api_tokens (name, token_hash, created_at) VALUES ('ops', 'H', 1)",
            [],
        )
        .unwrap();
    }
    let s = SqliteStore::open(&path).unwrap();
    let t = s.token("H").unwrap().expect("the old token");
    assert_eq!(
        (t.name.as_str(), t.role, t.user.is_none()),
        ("ops", None, true)
    );
    assert!(s.users().unwrap().is_empty());
}
