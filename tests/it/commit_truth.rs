//! `commit()` returns `Ok` only if the server committed (RELIABILITY
//! promise 13), and errors keep their causes (promise 16).

use crate::support::{both, pg_base_url, Kind, TestDb};
use std::time::Duration;
use sylvan::prelude::*;
use sylvan::PoolConfig;

async fn create_items(t: &TestDb) {
    t.db.execute("CREATE TABLE items (id BIGINT PRIMARY KEY, note TEXT)", ())
        .await
        .unwrap();
}

async fn ids(db: &Database) -> Vec<i64> {
    db.fetch_all("SELECT id FROM items ORDER BY id", ())
        .await
        .unwrap()
}

/// A statement that takes ~300 ms and then inserts `id` (a duplicate key
/// when `id` already exists, which fails only after the wait).
fn slow_insert(kind: Kind) -> &'static str {
    match kind {
        Kind::Postgres => "INSERT INTO items (id) SELECT $1 FROM pg_sleep(0.3)",
        Kind::Sqlite => {
            "INSERT INTO items (id) SELECT $1 FROM \
             (WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 3000000) \
              SELECT max(x) FROM c)"
        }
    }
}

fn is_aborted(r: &sylvan::Result<()>) -> bool {
    matches!(r, Err(Error::TransactionAborted { .. }))
}

/// A statement abandoned by its caller's timeout, which later fails (a
/// duplicate key) or succeeds on the server: either way the transaction is
/// refused and none of its writes are committed, on both backends.
async fn abandoned_statement_cases(t: TestDb) -> TestDb {
    create_items(&t).await;
    for (round, later_fails) in [(0_i64, true), (1, false)] {
        let base = round * 100;
        let tx = t.db.begin().await.unwrap();
        tx.execute("INSERT INTO items (id) VALUES ($1)", (base + 1,))
            .await
            .unwrap();
        let id = if later_fails { base + 1 } else { base + 2 };
        let cut = tokio::time::timeout(
            Duration::from_millis(50),
            tx.execute(slow_insert(t.kind), (id,)),
        )
        .await;
        assert!(cut.is_err(), "{:?}: the slow statement finished", t.kind);
        // Give the server time to finish (and fail or succeed) the statement.
        tokio::time::sleep(Duration::from_millis(400)).await;
        let next = tx
            .execute("INSERT INTO items (id) VALUES ($1)", (base + 3,))
            .await
            .map(|_| ());
        assert!(is_aborted(&next), "{:?} round {round}: {next:?}", t.kind);
        let committed = tx.commit().await;
        assert!(
            is_aborted(&committed),
            "{:?} round {round}: {committed:?}",
            t.kind
        );
        let seen = ids(&t.db).await;
        assert!(
            seen.iter().all(|i| *i < base || *i >= base + 100),
            "{:?} round {round}: writes of a refused transaction are visible: {seen:?}",
            t.kind
        );
    }
    // The pool is healthy and the next transaction commits.
    let tx = t.db.begin().await.unwrap();
    tx.execute("INSERT INTO items (id) VALUES (1000)", ())
        .await
        .unwrap();
    tx.commit().await.unwrap();
    assert_eq!(ids(&t.db).await, vec![1000]);
    t
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_transaction_with_an_abandoned_statement_never_commits() {
    both("truth_abandoned", abandoned_statement_cases).await;
}

/// PostgreSQL ends a session that sits idle in a transaction past
/// `idle_in_transaction_session_timeout` with FATAL 25P03: the server said
/// the transaction is gone, so commit reports it aborted (not "outcome
/// unknown"), and the server's message is the cause of later
/// `ConnectionLost` errors.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_session_killed_for_idling_in_a_transaction_reports_it_aborted() {
    let Some(t) = TestDb::postgres("truth_idle", PoolConfig::default().max_size(2)).await else {
        return;
    };
    create_items(&t).await;
    let url = format!("{}%20-cidle_in_transaction_session_timeout%3D200", t.url);
    let db = Database::builder(&url)
        .pool(PoolConfig::default().max_size(1))
        .connect()
        .await
        .unwrap();

    let tx = db.begin().await.unwrap();
    tx.execute("INSERT INTO items (id) VALUES (1)", ())
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(700)).await;
    let e = tx.commit().await.unwrap_err();
    assert!(
        matches!(e, Error::TransactionAborted { .. }),
        "expected TransactionAborted, got {e:?}"
    );
    assert!(e.to_string().contains("25P03"), "{e}");

    // A held connection killed the same way: ConnectionLost whose cause is
    // the server's FATAL message.
    let conn = db.acquire().await.unwrap();
    conn.execute("BEGIN", ()).await.unwrap();
    tokio::time::sleep(Duration::from_millis(700)).await;
    let e = conn.execute("SELECT 1", ()).await.unwrap_err();
    assert!(e.is_connection_lost(), "{e:?}");
    let cause = crate::support::error_chain(&e);
    assert!(
        cause.contains("25P03"),
        "the cause is not the server's FATAL: {cause}"
    );
    drop(conn);
    // The pool replaces the dead connection.
    let n: i64 = db
        .fetch_one("SELECT count(*) FROM items", ())
        .await
        .unwrap();
    assert_eq!(n, 0);
    db.close();
    t.cleanup().await;
}

/// A cached `SELECT *` goes stale when its table changes; inside a
/// transaction it cannot be healed by re-preparing (the failure already
/// aborted the transaction), so the real cause (0A000) is reported, not the
/// 25P02 of a doomed retry. Outside a transaction it heals.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stale_cached_plan_inside_a_transaction_reports_its_real_cause() {
    let Some(t) = TestDb::postgres("truth_stale", PoolConfig::default().max_size(1)).await else {
        return;
    };
    t.db.execute("CREATE TABLE s (a BIGINT)", ()).await.unwrap();
    t.db.execute("INSERT INTO s (a) VALUES (1)", ())
        .await
        .unwrap();
    let mut conn = t.db.acquire().await.unwrap();
    let _: Vec<i64> = conn.fetch_all("SELECT * FROM s", ()).await.unwrap();
    let other = Database::connect(&t.url).await.unwrap();
    other
        .execute("ALTER TABLE s ADD COLUMN b BIGINT", ())
        .await
        .unwrap();
    other.close();
    let tx = conn.begin().await.unwrap();
    let e = tx
        .fetch_all::<(i64, Option<i64>), _>("SELECT * FROM s", ())
        .await
        .unwrap_err();
    match &e {
        Error::Database { code, .. } => assert_eq!(code.as_deref(), Some("0A000"), "{e}"),
        other => panic!("expected the 0A000 database error, got {other:?}"),
    }
    tx.rollback().await.unwrap();
    let rows: Vec<(i64, Option<i64>)> = conn.fetch_all("SELECT * FROM s", ()).await.unwrap();
    assert_eq!(rows, vec![(1, None)]);
    drop(conn);
    t.cleanup().await;
}

/// A connect failure says why: the server's message or the I/O error.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connect_errors_show_their_cause() {
    let Some(t) = TestDb::postgres("truth_connect", PoolConfig::default().max_size(1)).await else {
        return;
    };
    t.cleanup().await;
    let base = pg_base_url();
    let (prefix, _) = base.rsplit_once('/').unwrap();
    let url = format!("{prefix}/sylvan_no_such_database?pool_create_timeout=5s");
    let e = Database::connect(&url).await.unwrap_err();
    let text = e.to_string();
    assert!(
        text.contains("sylvan_no_such_database") && text.contains("does not exist"),
        "{text}"
    );

    let e = Database::connect("postgres://postgres@127.0.0.1:1/test")
        .await
        .unwrap_err();
    let text = e.to_string().to_lowercase();
    assert!(text.contains("refused"), "{text}");

    let e = Database::connect("sqlite:///nonexistent-dir-sylvan/x/y.db")
        .await
        .unwrap_err();
    assert!(e.to_string().contains("unable to open"), "{e}");
}

/// A backend terminated by an administrator (57P01) while idle: the next
/// statement on that connection is `ConnectionLost` whose cause is the
/// server's FATAL message, and the pool replaces the connection.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_terminated_backend_is_connection_lost_with_the_servers_message() {
    let Some(t) = TestDb::postgres("truth_terminated", PoolConfig::default().max_size(1)).await
    else {
        return;
    };
    let conn = t.db.acquire().await.unwrap();
    let victim = t.connection_id(&conn).await.unwrap();
    let admin = Database::connect(&pg_base_url()).await.unwrap();
    let _: bool = admin
        .fetch_one("SELECT pg_terminate_backend(CAST($1 AS INT))", (victim,))
        .await
        .unwrap();
    admin.close();
    tokio::time::sleep(Duration::from_millis(200)).await;
    let e = conn.execute("SELECT 1", ()).await.unwrap_err();
    assert!(e.is_connection_lost(), "{e:?}");
    let cause = crate::support::error_chain(&e);
    assert!(cause.contains("57P01"), "{cause}");
    drop(conn);
    let replaced = t.connection_id(&t.db).await.unwrap();
    assert_ne!(replaced, victim);
    t.cleanup().await;
}
