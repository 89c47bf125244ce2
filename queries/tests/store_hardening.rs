//! DuckDB as the server runs it: no statement can read or write a file other than the store,
//! attach another database, install or load an extension, or change a setting back
//! (reliability drill 9, docs/reliability.md).

use footfall_queries::{Checkpointer, Store, StoreOptions};

/// A store opened and locked the way the server does it.
fn locked_store(dir: &std::path::Path) -> (Store, Checkpointer) {
    let store = Store::open(&dir.join("footfall.duckdb"), &StoreOptions::default()).unwrap();
    let checkpointer = Checkpointer::spawn(&store).unwrap();
    store.lock_configuration().unwrap();
    (store, checkpointer)
}

/// Paths the refused statements name: fixed, as SQL here is never assembled from strings.
const COPY_TARGET: &str = "/tmp/footfall-hardening-copy.csv";
const ATTACH_TARGET: &str = "/tmp/footfall-hardening-attach.duckdb";

#[test]
fn a_locked_store_refuses_files_extensions_and_settings() {
    let dir = tempfile::tempdir().unwrap();
    let _ = std::fs::remove_file(COPY_TARGET);
    let _ = std::fs::remove_file(ATTACH_TARGET);
    let (store, _checkpointer) = locked_store(dir.path());
    let conn = store.connection().unwrap();
    let refused = [
        "SELECT * FROM read_csv('/etc/passwd')",
        "SELECT * FROM read_text('/etc/passwd')",
        "SELECT * FROM read_blob('/etc/hostname')",
        "SELECT * FROM glob('/etc/*')",
        "COPY (SELECT 1) TO '/tmp/footfall-hardening-copy.csv'",
        "ATTACH '/tmp/footfall-hardening-attach.duckdb' AS other",
        "INSTALL httpfs",
        "LOAD httpfs",
        "SET enable_external_access = true",
        "SET lock_configuration = false",
        "SET memory_limit = '64GB'",
        "SET autoinstall_known_extensions = true",
    ];
    for sql in refused {
        // Refused by the configuration, not by a typo here.
        let error = conn.execute_batch(sql).err().map(|e| e.to_string());
        assert!(
            error
                .as_deref()
                .is_some_and(|e| e.contains("disabled by configuration")
                    || e.contains("disabled through configuration")
                    || e.contains("configuration has been locked")),
            "{sql}: {error:?}"
        );
    }
    // A bound path is no way round it either.
    assert!(conn
        .prepare("SELECT * FROM read_csv(?)")
        .and_then(|mut s| s.query_row(["/etc/passwd"], |r| r.get::<_, String>(0)))
        .is_err());
    assert!(
        !std::path::Path::new(COPY_TARGET).exists(),
        "nothing written"
    );
    assert!(
        !std::path::Path::new(ATTACH_TARGET).exists(),
        "nothing made"
    );
    // The store itself still works: reads, writes, checkpoints.
    conn.execute_batch(
        "INSERT INTO dropped_events VALUES (DATE '2026-12-02', 'a.test', 'bot', 1); CHECKPOINT",
    )
    .unwrap();
    let count: i64 = conn
        .query_row("SELECT count(*) FROM dropped_events", [], |r| r.get(0))
        .unwrap();
    assert_eq!(count, 1);
    store.check().unwrap();
}

#[test]
fn an_unlocked_store_takes_settings() {
    // The lock is what refuses them above, not a setting this test cannot make.
    let store = Store::open_in_memory(&StoreOptions::default()).unwrap();
    let conn = store.connection().unwrap();
    conn.execute_batch("SET memory_limit = '64MB'").unwrap();
    store.lock_configuration().unwrap();
    assert!(conn.execute_batch("SET memory_limit = '32MB'").is_err());
}

#[test]
fn a_locked_store_still_reports_its_memory() {
    // The server asks for this once a minute after locking the store (src/memory.rs).
    let dir = tempfile::tempdir().unwrap();
    let (store, _checkpointer) = locked_store(dir.path());
    let conn = store.connection().unwrap();
    conn.execute_batch(
        "CREATE TABLE filler AS SELECT range AS n, repeat('x', 100) AS s FROM range(200000)",
    )
    .unwrap();
    let by_tag = store.memory_by_tag().unwrap();
    assert!(
        !by_tag.is_empty(),
        "a table of 200,000 rows holds some memory"
    );
    assert!(by_tag
        .iter()
        .all(|(tag, bytes)| !tag.is_empty() && *bytes > 0));
    assert!(
        by_tag.windows(2).all(|w| w[0].1 >= w[1].1),
        "largest first: {by_tag:?}"
    );
}
