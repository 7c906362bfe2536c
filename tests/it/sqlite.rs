//! SQLite concurrency: one writer and many readers, WAL, pragmas on every
//! connection, shared `:memory:` databases, and statements kept off the
//! tokio runtime threads.

#![allow(clippy::unwrap_used)]

use crate::support::TestDb;
use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use sylvan::prelude::*;
use sylvan::rusqlite::functions::FunctionFlags;
use sylvan::{Connection, PoolConfig};

// 11 --------------------------------------------------------------------

async fn insert_concurrently(dbs: &[Database], tasks: i64, rows: i64) -> Vec<String> {
    let mut handles = Vec::new();
    for task in 0..tasks {
        let db = dbs[task as usize % dbs.len()].clone();
        handles.push(tokio::spawn(async move {
            let mut errors = Vec::new();
            for n in 0..rows {
                if let Err(e) = db
                    .execute("INSERT INTO w (task, n) VALUES ($1, $2)", (task, n))
                    .await
                {
                    errors.push(format!("task {task} row {n}: {e}"));
                }
                if n % 50 == 0 {
                    // Interleave some reads.
                    if let Err(e) = db
                        .fetch_one::<i64, _>("SELECT count(*) FROM w WHERE task = $1", (task,))
                        .await
                    {
                        errors.push(format!("task {task} read: {e}"));
                    }
                }
            }
            errors
        }));
    }
    let mut errors = Vec::new();
    for h in handles {
        errors.extend(h.await.expect("writer task panicked"));
    }
    errors
}

async fn assert_rows(db: &Database, tasks: i64, rows: i64) {
    let total: i64 = db.fetch_one("SELECT count(*) FROM w", ()).await.unwrap();
    assert_eq!(total, tasks * rows);
    let per_task: Vec<(i64, i64)> = db
        .fetch_all(
            "SELECT task, count(*) FROM w GROUP BY task ORDER BY task",
            (),
        )
        .await
        .unwrap();
    assert_eq!(per_task, (0..tasks).map(|t| (t, rows)).collect::<Vec<_>>());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sixteen_concurrent_writers_lose_nothing() {
    let t = TestDb::sqlite_file("sqlite_writers", PoolConfig::default().max_size(4)).await;
    t.db.execute(
        "CREATE TABLE w (task BIGINT NOT NULL, n BIGINT NOT NULL, PRIMARY KEY (task, n))",
        (),
    )
    .await
    .unwrap();
    let errors = insert_concurrently(std::slice::from_ref(&t.db), 16, 500).await;
    assert!(
        errors.is_empty(),
        "{} errors, first: {:?}",
        errors.len(),
        errors.first()
    );
    assert_rows(&t.db, 16, 500).await;
    t.cleanup().await;
}

/// Two pools (as two processes would) on one file: the busy timeout, not
/// the pool's writer queue, serialises them, and still nothing fails.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_pools_on_one_file_write_without_busy_errors() {
    let t = TestDb::sqlite_file("sqlite_two_pools", PoolConfig::default().max_size(3)).await;
    t.db.execute(
        "CREATE TABLE w (task BIGINT NOT NULL, n BIGINT NOT NULL, PRIMARY KEY (task, n))",
        (),
    )
    .await
    .unwrap();
    let other = Database::builder(&t.url)
        .pool(PoolConfig::default().max_size(3))
        .connect()
        .await
        .unwrap();
    let errors = insert_concurrently(&[t.db.clone(), other.clone()], 8, 100).await;
    assert!(
        errors.is_empty(),
        "{} errors, first: {:?}",
        errors.len(),
        errors.first()
    );
    assert_rows(&t.db, 8, 100).await;
    assert_rows(&other, 8, 100).await;
    other.close();
    t.cleanup().await;
}

// 12 --------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readers_make_progress_while_a_write_transaction_is_open() {
    let t = TestDb::sqlite_file("sqlite_reader_progress", PoolConfig::default().max_size(4)).await;
    t.db.execute("CREATE TABLE r (id INTEGER PRIMARY KEY, v TEXT)", ())
        .await
        .unwrap();
    for i in 0..3_i64 {
        t.db.execute("INSERT INTO r (v) VALUES ($1)", (format!("v{i}"),))
            .await
            .unwrap();
    }

    let writer = t.db.acquire().await.unwrap();
    writer.execute("BEGIN IMMEDIATE", ()).await.unwrap();
    writer
        .execute("INSERT INTO r (v) VALUES ('new')", ())
        .await
        .unwrap();
    let inside: i64 = writer
        .fetch_one("SELECT count(*) FROM r", ())
        .await
        .unwrap();
    assert_eq!(inside, 4);

    // Another write queues for the writer instead of failing.
    let queued = tokio::spawn({
        let db = t.db.clone();
        async move { db.execute("INSERT INTO r (v) VALUES ('queued')", ()).await }
    });

    // Reads go to the readers and see the last committed state, promptly.
    for _ in 0..10 {
        let n: i64 = tokio::time::timeout(
            Duration::from_secs(2),
            t.db.fetch_one("SELECT count(*) FROM r", ()),
        )
        .await
        .expect("a reader was blocked by the open write transaction")
        .unwrap();
        assert_eq!(n, 3);
    }
    let reader = t.db.acquire_reader().await.unwrap();
    let n: i64 = reader
        .fetch_one("SELECT count(*) FROM r", ())
        .await
        .unwrap();
    assert_eq!(n, 3);
    drop(reader);
    assert!(
        !queued.is_finished(),
        "a second write ran inside another's transaction"
    );

    writer.execute("COMMIT", ()).await.unwrap();
    drop(writer);
    let changed = tokio::time::timeout(Duration::from_secs(5), queued)
        .await
        .expect("the queued write never ran")
        .unwrap()
        .unwrap();
    assert_eq!(changed, 1);
    let n: i64 = t.db.fetch_one("SELECT count(*) FROM r", ()).await.unwrap();
    assert_eq!(n, 5);
    let new: i64 =
        t.db.fetch_one("SELECT count(*) FROM r WHERE v = 'new'", ())
            .await
            .unwrap();
    assert_eq!(new, 1);
    t.cleanup().await;
}

// 13 --------------------------------------------------------------------

async fn count_of(conn: &Connection) -> i64 {
    conn.fetch_one("SELECT count(*) FROM m", ()).await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn memory_database_is_shared_by_all_pool_connections() {
    let t = TestDb::sqlite_memory("sqlite_memory", PoolConfig::default().max_size(4)).await;
    let writer = t.db.acquire().await.unwrap();
    let readers = [
        t.db.acquire_reader().await.unwrap(),
        t.db.acquire_reader().await.unwrap(),
        t.db.acquire_reader().await.unwrap(),
    ];
    assert_eq!(t.db.status().size, 4);
    writer
        .execute(
            "CREATE TABLE m (id INTEGER PRIMARY KEY, v TEXT NOT NULL)",
            (),
        )
        .await
        .unwrap();
    for v in ["a", "b", "c"] {
        writer
            .execute("INSERT INTO m (v) VALUES ($1)", (v,))
            .await
            .unwrap();
    }
    for (i, r) in readers.iter().enumerate() {
        assert_eq!(count_of(r).await, 3, "reader {i}");
        let vs: Vec<String> = r
            .fetch_all("SELECT v FROM m ORDER BY id", ())
            .await
            .unwrap();
        assert_eq!(vs, ["a", "b", "c"]);
    }
    // Distinct connections, each on its own worker thread.
    let mut threads = HashSet::new();
    for c in readers.iter().chain([&writer]) {
        threads.insert(
            c.interact(|_| std::thread::current().name().unwrap_or("").to_owned())
                .await
                .unwrap(),
        );
    }
    assert_eq!(threads.len(), 4, "{threads:?}");
    t.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn memory_database_survives_its_connections_being_reaped() {
    let config = PoolConfig::default()
        .max_size(4)
        .idle_timeout(Some(Duration::from_millis(10)))
        .max_lifetime(Some(Duration::from_millis(100)));
    let t = TestDb::sqlite_memory("sqlite_memory_reap", config).await;
    t.db.execute(
        "CREATE TABLE m (id INTEGER PRIMARY KEY, v TEXT NOT NULL)",
        (),
    )
    .await
    .unwrap();
    t.db.execute("INSERT INTO m (v) VALUES ('kept'), ('too')", ())
        .await
        .unwrap();
    for round in 0..3 {
        let held = vec![
            t.db.acquire().await.unwrap(),
            t.db.acquire_reader().await.unwrap(),
            t.db.acquire_reader().await.unwrap(),
            t.db.acquire_reader().await.unwrap(),
        ];
        drop(held);
        let start = Instant::now();
        while t.db.status().size > 0 {
            assert!(
                start.elapsed() < Duration::from_secs(3),
                "round {round}: not reaped: {:?}",
                t.db.status()
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let n: i64 = t.db.fetch_one("SELECT count(*) FROM m", ()).await.unwrap();
        assert_eq!(n, 2 + round, "round {round}: the in-memory data is gone");
        t.db.execute("INSERT INTO m (v) VALUES ('more')", ())
            .await
            .unwrap();
    }
    t.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn separate_memory_databases_do_not_share_data() {
    let a = TestDb::sqlite_memory("sqlite_memory_a", PoolConfig::default().max_size(2)).await;
    let b = TestDb::sqlite_memory("sqlite_memory_b", PoolConfig::default().max_size(2)).await;
    a.db.execute("CREATE TABLE m (v TEXT)", ()).await.unwrap();
    a.db.execute("INSERT INTO m (v) VALUES ('a')", ())
        .await
        .unwrap();
    let err =
        b.db.fetch_one::<i64, _>("SELECT count(*) FROM m", ())
            .await
            .expect_err("b must not see a's table");
    assert!(err.to_string().contains("no such table"), "{err}");
    b.db.execute("CREATE TABLE m (v TEXT)", ()).await.unwrap();
    b.db.execute("INSERT INTO m (v) VALUES ('b1'), ('b2')", ())
        .await
        .unwrap();
    let na: i64 = a.db.fetch_one("SELECT count(*) FROM m", ()).await.unwrap();
    let nb: i64 = b.db.fetch_one("SELECT count(*) FROM m", ()).await.unwrap();
    assert_eq!((na, nb), (1, 2));
    // Also a third one opened after the others are gone starts empty.
    a.cleanup().await;
    b.cleanup().await;
    let c = TestDb::sqlite_memory("sqlite_memory_c", PoolConfig::default().max_size(2)).await;
    assert!(c
        .db
        .fetch_one::<i64, _>("SELECT count(*) FROM m", ())
        .await
        .is_err());
    c.cleanup().await;
}

// 14 --------------------------------------------------------------------

async fn pragma_i64(conn: &Connection, name: &str) -> i64 {
    conn.fetch_one(&format!("PRAGMA {name}"), ()).await.unwrap()
}

/// The writer and every reader of the pool, held at once.
async fn hold_all(db: &Database) -> (Connection, Vec<Connection>) {
    let writer = db.acquire().await.unwrap();
    let mut readers = Vec::new();
    for _ in 1..db.status().max_size {
        readers.push(db.acquire_reader().await.unwrap());
    }
    (writer, readers)
}

async fn check_pragmas(db: &Database, busy_ms: i64, file: bool) {
    let (writer, readers) = hold_all(db).await;
    assert_eq!(readers.len(), 3);
    for (role, conn) in
        std::iter::once(("writer", &writer)).chain(readers.iter().map(|r| ("reader", r)))
    {
        assert_eq!(
            pragma_i64(conn, "foreign_keys").await,
            1,
            "{role}: foreign_keys"
        );
        assert_eq!(
            pragma_i64(conn, "busy_timeout").await,
            busy_ms,
            "{role}: busy_timeout"
        );
        let query_only = pragma_i64(conn, "query_only").await;
        assert_eq!(
            query_only,
            i64::from(role == "reader"),
            "{role}: query_only"
        );
        if file {
            let mode: String = conn.fetch_one("PRAGMA journal_mode", ()).await.unwrap();
            assert_eq!(mode.to_lowercase(), "wal", "{role}: journal_mode");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_connection_has_the_pragmas() {
    let t = TestDb::sqlite_file("sqlite_pragmas", PoolConfig::default().max_size(4)).await;
    check_pragmas(&t.db, 5000, true).await;
    t.cleanup().await;

    let t = TestDb::sqlite_memory("sqlite_pragmas_mem", PoolConfig::default().max_size(4)).await;
    check_pragmas(&t.db, 5000, false).await;
    t.cleanup().await;

    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("busy.db").display());
    let db = Database::builder(&url)
        .pool(PoolConfig::default().max_size(4))
        .sqlite_busy_timeout(Duration::from_millis(1234))
        .connect()
        .await
        .unwrap();
    check_pragmas(&db, 1234, true).await;
    db.close();

    let url = format!(
        "sqlite://{}?busy_timeout=750ms&pool_max_size=4",
        dir.path().join("url.db").display()
    );
    let db = Database::connect(&url).await.unwrap();
    check_pragmas(&db, 750, true).await;
    db.close();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn foreign_keys_are_enforced() {
    let t = TestDb::sqlite_file("sqlite_fk", PoolConfig::default().max_size(4)).await;
    t.db.execute("CREATE TABLE p (id INTEGER PRIMARY KEY)", ())
        .await
        .unwrap();
    t.db.execute(
        "CREATE TABLE c (id INTEGER PRIMARY KEY, p BIGINT NOT NULL REFERENCES p (id))",
        (),
    )
    .await
    .unwrap();
    let err =
        t.db.execute("INSERT INTO c (id, p) VALUES (1, 99)", ())
            .await
            .expect_err("no parent 99");
    assert!(err.is_foreign_key_violation(), "{err:?}");
    t.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readers_refuse_writes() {
    let t = TestDb::sqlite_file("sqlite_readonly", PoolConfig::default().max_size(4)).await;
    t.db.execute("CREATE TABLE p (id INTEGER PRIMARY KEY)", ())
        .await
        .unwrap();
    let reader = t.db.acquire_reader().await.unwrap();
    let attempts: [(&str, bool); 5] = [
        ("INSERT INTO p (id) VALUES (1)", false),
        ("UPDATE p SET id = 2", false),
        ("CREATE TABLE q (x)", false),
        ("DROP TABLE p", false),
        ("INSERT INTO p (id) VALUES (3) RETURNING id", true),
    ];
    for (sql, returning) in attempts {
        let result = if returning {
            reader.fetch_all::<i64, _>(sql, ()).await.map(|_| 0)
        } else {
            reader.execute(sql, ()).await
        };
        let err = result.expect_err(sql);
        let text = err.to_string().to_lowercase();
        assert!(
            text.contains("readonly") || text.contains("read-only"),
            "{sql}: {err}"
        );
    }
    drop(reader);
    let n: i64 = t.db.fetch_one("SELECT count(*) FROM p", ()).await.unwrap();
    assert_eq!(n, 0, "a reader wrote");
    let tables: i64 =
        t.db.fetch_one(
            "SELECT count(*) FROM sqlite_master WHERE name IN ('p', 'q')",
            (),
        )
        .await
        .unwrap();
    assert_eq!(tables, 1);

    // Through the Database, a write that looks like a read goes to the writer.
    let id: i64 =
        t.db.fetch_one(
            "WITH v(x) AS (VALUES (5)) INSERT INTO p (id) SELECT x FROM v RETURNING id",
            (),
        )
        .await
        .unwrap();
    assert_eq!(id, 5);
    let n: i64 = t.db.fetch_one("SELECT count(*) FROM p", ()).await.unwrap();
    assert_eq!(n, 1);
    t.cleanup().await;
}

// 15 --------------------------------------------------------------------

/// `thread name|inside a tokio runtime`.
fn here() -> String {
    format!(
        "{}|{}",
        std::thread::current().name().unwrap_or(""),
        tokio::runtime::Handle::try_current().is_ok()
    )
}

fn assert_off_runtime(seen: &str) {
    let (thread, in_runtime) = seen.rsplit_once('|').expect("thread|runtime");
    assert!(
        thread.starts_with("sylvan-sqlite-"),
        "ran on thread {thread:?}"
    );
    assert_eq!(
        in_runtime, "false",
        "ran inside a tokio runtime on {thread:?}"
    );
}

async fn statements_run_on_worker_threads(url: &str) {
    let opened = Arc::new(Mutex::new(Vec::new()));
    let db =
        Database::builder(url)
            .pool(PoolConfig::default().max_size(4))
            .sqlite_on_connect({
                let opened = Arc::clone(&opened);
                move |c| {
                    opened.lock().unwrap().push(here());
                    c.create_scalar_function("where_am_i", 0, FunctionFlags::SQLITE_UTF8, |_| {
                        Ok(here())
                    })
                }
            })
            .connect()
            .await
            .unwrap();
    db.execute("CREATE TABLE w (v TEXT NOT NULL)", ())
        .await
        .unwrap();
    let tasks: Vec<_> = (0..8)
        .map(|_| {
            let db = db.clone();
            tokio::spawn(async move {
                let mut seen = Vec::new();
                for i in 0..25 {
                    seen.push(
                        db.fetch_one::<String, _>("SELECT where_am_i()", ())
                            .await
                            .unwrap(),
                    );
                    if i % 5 == 0 {
                        db.execute("INSERT INTO w (v) VALUES (where_am_i())", ())
                            .await
                            .unwrap();
                    }
                }
                seen
            })
        })
        .collect();
    let mut seen = Vec::new();
    for task in tasks {
        seen.extend(task.await.unwrap());
    }
    // The writer, directly, and a write whose RETURNING calls the function.
    let writer = db.acquire().await.unwrap();
    seen.push(writer.fetch_one("SELECT where_am_i()", ()).await.unwrap());
    seen.push(
        writer
            .fetch_one(
                "INSERT INTO w (v) VALUES (where_am_i()) RETURNING where_am_i()",
                (),
            )
            .await
            .unwrap(),
    );
    seen.push(writer.interact(|_| here()).await.unwrap());
    drop(writer);
    let stored: Vec<String> = db.fetch_all("SELECT v FROM w", ()).await.unwrap();
    assert_eq!(stored.len(), 8 * 5 + 1);

    for s in seen.iter().chain(&stored) {
        assert_off_runtime(s);
    }
    let opened = opened.lock().unwrap().clone();
    assert!(!opened.is_empty());
    for s in &opened {
        assert_off_runtime(s);
    }
    // Reads were spread over reader threads, writes on the writer's.
    let read_threads: HashSet<_> = seen.iter().map(|s| s.rsplit_once('|').unwrap().0).collect();
    let write_threads: HashSet<_> = stored
        .iter()
        .map(|s| s.rsplit_once('|').unwrap().0)
        .collect();
    assert!(read_threads.len() >= 2, "{read_threads:?}");
    assert_eq!(
        write_threads.len(),
        1,
        "more than one writer: {write_threads:?}"
    );
    db.close();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_statement_runs_on_a_multi_thread_runtime_thread() {
    let dir = tempfile::tempdir().unwrap();
    statements_run_on_worker_threads(&format!("sqlite://{}", dir.path().join("mt.db").display()))
        .await;
    statements_run_on_worker_threads("sqlite::memory:").await;
}

#[tokio::test(flavor = "current_thread")]
async fn no_statement_runs_on_a_current_thread_runtime() {
    let dir = tempfile::tempdir().unwrap();
    statements_run_on_worker_threads(&format!("sqlite://{}", dir.path().join("ct.db").display()))
        .await;
    statements_run_on_worker_threads("sqlite::memory:").await;
}
