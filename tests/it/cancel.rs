//! Cancellation: futures dropped mid-query, connections dropped inside a
//! transaction, and random timeouts under load must leave the pool clean.

#![allow(clippy::unwrap_used)]

use crate::support::{both_with, eventually, Kind, TestDb};
use std::future::Future;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use sylvan::prelude::*;
use sylvan::{Connection, PoolConfig};

const ECHO: &str = "SELECT CAST($1 AS BIGINT)";

/// A query that runs for a long time: five seconds on PostgreSQL, a
/// billion-row recursive CTE (a minute or more) on SQLite.
fn slow_query(kind: Kind) -> &'static str {
    match kind {
        Kind::Postgres => "SELECT CAST(1 AS BIGINT) FROM pg_sleep(5)",
        Kind::Sqlite => {
            "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 1000000000) \
             SELECT count(*) FROM c"
        }
    }
}

/// True when no backend of this test is running a query or sitting inside
/// a transaction.
async fn pg_all_idle(t: &TestDb) -> bool {
    t.pg_sessions().await.iter().all(|(_, state)| {
        let s = state.as_deref().unwrap_or("");
        s != "active" && !s.starts_with("idle in transaction")
    })
}

/// This test's backends with their state, running time and query, for
/// failure messages.
async fn pg_activity(t: &TestDb) -> Vec<(i32, Option<String>, Option<f64>, Option<String>)> {
    let admin = Database::builder(&crate::support::pg_base_url())
        .pool(PoolConfig::default().max_size(1))
        .connect()
        .await
        .unwrap();
    let rows = admin
        .fetch_all(
            "SELECT pid, state, \
                    CAST(extract(epoch FROM now() - query_start) AS DOUBLE PRECISION), query \
             FROM pg_stat_activity WHERE application_name = $1",
            (t.name.as_str(),),
        )
        .await
        .unwrap();
    admin.close();
    rows
}

async fn assert_pool_settles(t: &TestDb) {
    assert!(
        eventually(Duration::from_secs(1), || async {
            let s = t.db.status();
            s.idle == s.size && s.waiting == 0
        })
        .await,
        "pool did not return to idle: {:?}",
        t.db.status()
    );
    if t.kind == Kind::Postgres {
        assert!(
            eventually(Duration::from_secs(3), || async { pg_all_idle(t).await }).await,
            "backends still busy: {:?}",
            pg_activity(t).await
        );
    }
}

/// Many concurrent queries, each checking it got its own row back.
async fn assert_own_rows(db: &Database) {
    let tasks: Vec<_> = (0..50_i64)
        .map(|i| {
            let db = db.clone();
            tokio::spawn(async move {
                let got: i64 = db.fetch_one(ECHO, (i * 7 + 1,)).await.unwrap();
                assert_eq!(got, i * 7 + 1, "a query got another query's row");
                let pair: (i64, String) = db
                    .fetch_one("SELECT CAST($1 AS BIGINT), $2", (i, format!("row-{i}")))
                    .await
                    .unwrap();
                assert_eq!(pair, (i, format!("row-{i}")));
            })
        })
        .collect();
    for task in tasks {
        task.await.unwrap();
    }
}

// 8 ---------------------------------------------------------------------

async fn dropped_query_leaves_the_pool_clean(t: TestDb) -> TestDb {
    let sql = slow_query(t.kind);
    for round in 0..3 {
        let start = Instant::now();
        let timed_out = tokio::time::timeout(
            Duration::from_millis(100),
            t.db.fetch_one::<i64, _>(sql, ()),
        )
        .await;
        assert!(
            timed_out.is_err(),
            "round {round}: the slow query finished?"
        );
        assert!(start.elapsed() < Duration::from_secs(2));

        // The very next query, on the same connection when the pool has
        // one, returns long before the slow query could have finished.
        let start = Instant::now();
        let v: i64 = tokio::time::timeout(Duration::from_secs(3), t.db.fetch_one(ECHO, (42_i64,)))
            .await
            .expect("the next query waited for the abandoned one")
            .unwrap();
        assert_eq!(v, 42);
        assert!(start.elapsed() < Duration::from_secs(3));
    }
    assert_pool_settles(&t).await;
    assert_own_rows(&t.db).await;

    // The same through a checked-out connection dropped after the timeout.
    let conn = t.db.acquire_reader().await.unwrap();
    let timed_out = tokio::time::timeout(
        Duration::from_millis(100),
        conn.fetch_one::<i64, _>(sql, ()),
    )
    .await;
    assert!(timed_out.is_err());
    drop(conn);
    assert_pool_settles(&t).await;
    assert_own_rows(&t.db).await;

    if t.kind == Kind::Sqlite {
        // Every reader (and the writer) answers promptly: no interrupted
        // statement is still running anywhere.
        let max = t.db.status().max_size;
        let mut held = vec![t.db.acquire().await.unwrap()];
        for _ in 1..max {
            held.push(t.db.acquire_reader().await.unwrap());
        }
        for conn in &held {
            let v: i64 =
                tokio::time::timeout(Duration::from_secs(2), conn.fetch_one(ECHO, (9_i64,)))
                    .await
                    .expect("a connection is still busy with an abandoned query")
                    .unwrap();
            assert_eq!(v, 9);
        }
    }
    t
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dropped_query_sqlite_single_connection() {
    let t = TestDb::sqlite_file("cancel_query_1", PoolConfig::default().max_size(1)).await;
    dropped_query_leaves_the_pool_clean(t).await.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dropped_query_sqlite_readers() {
    let t = TestDb::sqlite_file("cancel_query_4", PoolConfig::default().max_size(4)).await;
    dropped_query_leaves_the_pool_clean(t).await.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dropped_query_postgres() {
    for size in [1, 3] {
        let config = PoolConfig::default().max_size(size);
        if let Some(t) = TestDb::postgres("cancel_query_pg", config).await {
            let t = dropped_query_leaves_the_pool_clean(t).await;
            // No pg_sleep is left running on the server.
            assert!(
                eventually(Duration::from_secs(3), || async {
                    pg_all_idle(&t).await && t.pg_sessions().await.len() <= size
                })
                .await,
                "{:?}",
                t.pg_sessions().await
            );
            t.cleanup().await;
        }
    }
}

// 9 ---------------------------------------------------------------------

/// True when `conn` is inside a transaction.
async fn in_transaction(t: &TestDb, conn: &Connection) -> bool {
    match t.kind {
        Kind::Sqlite => conn.interact(|c| !c.is_autocommit()).await.unwrap(),
        Kind::Postgres => {
            // Outside a transaction every statement gets its own xid.
            let a: i64 = conn.fetch_one("SELECT txid_current()", ()).await.unwrap();
            let b: i64 = conn.fetch_one("SELECT txid_current()", ()).await.unwrap();
            a == b
        }
    }
}

async fn assert_no_open_transaction(t: &TestDb, what: &str) {
    let conn = t.db.acquire().await.unwrap();
    assert!(
        !in_transaction(t, &conn).await,
        "{what}: next checkout is inside a transaction"
    );
    drop(conn);
    let n: i64 = t.db.fetch_one("SELECT count(*) FROM tx", ()).await.unwrap();
    assert_eq!(n, 0, "{what}: an uncommitted insert became visible");
    if t.kind == Kind::Postgres {
        assert!(
            eventually(Duration::from_secs(2), || async { pg_all_idle(t).await }).await,
            "{what}: {:?}",
            t.pg_sessions().await
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_connection_dropped_inside_a_transaction_is_rolled_back() {
    both_with(
        "cancel_tx",
        PoolConfig::default().max_size(1),
        |t| async move {
            t.db.execute("CREATE TABLE tx (id BIGINT PRIMARY KEY)", ())
                .await
                .unwrap();

            for begin in ["BEGIN", "begin", "  /* c */ BEGIN", "START TRANSACTION"] {
                if begin.contains("START") && t.kind == Kind::Sqlite {
                    continue;
                }
                let c = t.db.acquire().await.unwrap();
                c.execute(begin, ()).await.unwrap();
                c.execute("INSERT INTO tx (id) VALUES (1)", ())
                    .await
                    .unwrap();
                assert!(in_transaction(&t, &c).await);
                drop(c);
                assert_no_open_transaction(&t, begin).await;
            }

            // BEGIN (and the insert after it) dropped by a timeout at any point.
            let delays_us = [0_u64, 0, 20, 50, 100, 200, 400, 700, 1000, 2000, 5000];
            for (i, us) in delays_us.into_iter().enumerate() {
                let c = t.db.acquire().await.unwrap();
                let work = async {
                    c.execute("BEGIN", ()).await?;
                    c.execute("INSERT INTO tx (id) VALUES ($1)", (i as i64,))
                        .await?;
                    Ok::<_, Error>(())
                };
                let outcome = tokio::time::timeout(Duration::from_micros(us), work).await;
                if let Ok(r) = outcome {
                    r.unwrap();
                }
                drop(c);
                assert_no_open_transaction(&t, &format!("timeout {us}us")).await;
            }
            t
        },
    )
    .await;
}

/// On PostgreSQL the transaction must end when the connection comes back,
/// not whenever it is next checked out: otherwise the session sits
/// `idle in transaction` holding its locks.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_returned_connection_does_not_stay_idle_in_transaction() {
    let Some(t) = TestDb::postgres("cancel_tx_idle", PoolConfig::default().max_size(2)).await
    else {
        return;
    };
    t.db.execute("CREATE TABLE tx (id BIGINT PRIMARY KEY)", ())
        .await
        .unwrap();
    let c = t.db.acquire().await.unwrap();
    c.execute("BEGIN", ()).await.unwrap();
    c.execute("INSERT INTO tx (id) VALUES (1)", ())
        .await
        .unwrap();
    drop(c);
    // No further checkout: the pool alone must end the transaction.
    assert!(
        eventually(Duration::from_secs(2), || async { pg_all_idle(&t).await }).await,
        "the returned connection stays idle in transaction: {:?}",
        t.pg_sessions().await
    );
    t.cleanup().await;
}

/// Why the above matters: a lock taken by a leaked transaction would block
/// another pooled connection until the leaking connection happened to be
/// checked out again (here: never).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_leaked_transaction_does_not_block_other_connections() {
    let Some(t) = TestDb::postgres("cancel_tx_lock", PoolConfig::default().max_size(2)).await
    else {
        return;
    };
    t.db.execute(
        "CREATE TABLE acct (id BIGINT PRIMARY KEY, n BIGINT NOT NULL)",
        (),
    )
    .await
    .unwrap();
    t.db.execute("INSERT INTO acct (id, n) VALUES (1, 0)", ())
        .await
        .unwrap();
    // Open both connections so the idle queue holds two.
    let (a, b) = (t.db.acquire().await.unwrap(), t.db.acquire().await.unwrap());
    drop((a, b));
    let c = t.db.acquire().await.unwrap();
    c.execute("BEGIN", ()).await.unwrap();
    c.execute("UPDATE acct SET n = n + 1 WHERE id = 1", ())
        .await
        .unwrap();
    drop(c); // e.g. an early `?` return: the transaction was never finished
    let r = tokio::time::timeout(
        Duration::from_secs(3),
        t.db.execute("UPDATE acct SET n = n + 10 WHERE id = 1", ()),
    )
    .await;
    assert!(
        r.is_ok(),
        "blocked by a lock held by a transaction nobody owns"
    );
    r.unwrap().unwrap();
    let n: i64 =
        t.db.fetch_one("SELECT n FROM acct WHERE id = 1", ())
            .await
            .unwrap();
    assert_eq!(n, 10);
    t.cleanup().await;
}

// 10 --------------------------------------------------------------------

/// splitmix64: a small deterministic generator (the seed is printed).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn random_cancellation_stress_leaves_the_pool_healthy() {
    let seed = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(1, |d| d.as_nanos() as u64);
    eprintln!("random_cancellation_stress seed = {seed}");
    both_with(
        "cancel_stress",
        PoolConfig::default().max_size(4),
        move |t| async move {
            t.db.execute("CREATE TABLE acked (id BIGINT PRIMARY KEY)", ())
                .await
                .unwrap();
            t.db.execute("CREATE TABLE tx (id BIGINT PRIMARY KEY)", ())
                .await
                .unwrap();
            let slow = match t.kind {
            Kind::Postgres => "SELECT CAST(1 AS BIGINT) FROM pg_sleep(0.003)",
            Kind::Sqlite => {
                "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 50000) \
                 SELECT count(*) FROM c"
            }
        };
            let stop = Arc::new(AtomicBool::new(false));
            let sampler = tokio::spawn({
                let db = t.db.clone();
                let stop = Arc::clone(&stop);
                async move {
                    let mut max = 0;
                    while !stop.load(Ordering::SeqCst) {
                        max = max.max(db.status().size);
                        tokio::time::sleep(Duration::from_millis(1)).await;
                    }
                    max
                }
            });
            let acked = Arc::new(AtomicU64::new(0));
            let mut rng = Rng(seed);
            let tasks: Vec<_> = (0..200_i64)
                .map(|i| {
                    let db = t.db.clone();
                    let acked = Arc::clone(&acked);
                    let op = rng.below(5);
                    let limit = Duration::from_micros(rng.below(5001));
                    let start_delay = Duration::from_micros(rng.below(3000));
                    tokio::spawn(async move {
                        tokio::time::sleep(start_delay).await;
                        let work = async {
                            match op {
                                0 | 1 => {
                                    let v: i64 = db.fetch_one(ECHO, (i,)).await?;
                                    assert_eq!(v, i, "got another query's row");
                                }
                                2 => {
                                    db.execute("INSERT INTO acked (id) VALUES ($1)", (i,))
                                        .await?;
                                    acked.fetch_add(1, Ordering::SeqCst);
                                }
                                3 => {
                                    let c = db.acquire().await?;
                                    c.execute("BEGIN", ()).await?;
                                    c.execute("INSERT INTO tx (id) VALUES ($1)", (i,)).await?;
                                    let v: i64 = c.fetch_one(ECHO, (i,)).await?;
                                    assert_eq!(v, i);
                                    // dropped without COMMIT
                                }
                                _ => {
                                    let _: i64 = db.fetch_one(slow, ()).await?;
                                }
                            }
                            Ok::<_, Error>(())
                        };
                        // A timeout is fine; an error is not.
                        if let Ok(Err(e)) = tokio::time::timeout(limit, work).await {
                            panic!("task {i} (op {op}) failed: {e:?}");
                        }
                    })
                })
                .collect();
            for task in tasks {
                task.await.expect("a task panicked");
            }
            stop.store(true, Ordering::SeqCst);
            let max = sampler.await.unwrap();
            assert!(max <= 4, "pool grew to {max}");

            // Op 3 returns connections inside a transaction: the pool must
            // roll them back by itself, with no further checkout.
            assert_pool_settles(&t).await;
            let status = t.db.status();
            assert!(status.size <= 4, "{status:?}");
            if t.kind == Kind::Postgres {
                assert!(
                    eventually(Duration::from_secs(3), || async {
                        t.pg_sessions().await.len() <= 4
                    })
                    .await,
                    "{:?}",
                    t.pg_sessions().await
                );
            }
            let start = Instant::now();
            let v: i64 =
                tokio::time::timeout(Duration::from_secs(1), t.db.fetch_one(ECHO, (77_i64,)))
                    .await
                    .expect("final query took over a second")
                    .unwrap();
            assert_eq!(v, 77);
            assert!(start.elapsed() < Duration::from_secs(1));

            // Data invariants: no acknowledged insert lost, no uncommitted one kept.
            let rows: i64 =
                t.db.fetch_one("SELECT count(*) FROM acked", ())
                    .await
                    .unwrap();
            let acked = acked.load(Ordering::SeqCst) as i64;
            assert!(
                rows >= acked,
                "{rows} rows but {acked} acknowledged inserts"
            );
            let leaked: i64 = t.db.fetch_one("SELECT count(*) FROM tx", ()).await.unwrap();
            assert_eq!(
                leaked, 0,
                "rows of never-committed transactions became visible"
            );
            assert_own_rows(&t.db).await;
            t
        },
    )
    .await;
}

// SQLite interrupt edge cases -------------------------------------------

/// A SQLite file database with a `done()` function counting how many times
/// a statement ran to its end (it is evaluated once, after the aggregate).
async fn sqlite_with_done_counter(
    pool: PoolConfig,
) -> (Database, Arc<AtomicU64>, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("done.db").display());
    let done = Arc::new(AtomicU64::new(0));
    let db = Database::builder(&url)
        .pool(pool)
        .sqlite_on_connect({
            let done = Arc::clone(&done);
            move |c| {
                let done = Arc::clone(&done);
                c.create_scalar_function(
                    "done",
                    0,
                    sylvan::rusqlite::functions::FunctionFlags::SQLITE_UTF8,
                    move |_| {
                        done.fetch_add(1, Ordering::SeqCst);
                        Ok(0_i64)
                    },
                )
            }
        })
        .connect()
        .await
        .unwrap();
    (db, done, dir)
}

/// About a second or two of work on SQLite, reporting completion to `done()`.
const COUNTED_SLOW: &str =
    "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 3000000) \
     SELECT count(*) + done() FROM c";

/// A query future dropped just as its job starts on the worker must still
/// be interrupted. `sqlite3_interrupt` is a no-op when no statement is
/// running (SQLite clears the flag when a statement starts on an idle
/// connection), so an interrupt that lands between the worker's
/// "caller still waiting?" check and the first `sqlite3_step` is lost and
/// the abandoned statement runs to its end, holding the connection.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_query_cancelled_as_it_starts_is_still_interrupted() {
    let (db, done, _dir) = sqlite_with_done_counter(PoolConfig::default().max_size(1)).await;
    let waker = std::task::Waker::noop();
    let mut cx = std::task::Context::from_waker(waker);
    for i in 0..800_u64 {
        {
            let mut query = Box::pin(db.fetch_one::<i64, _>(COUNTED_SLOW, ()));
            // Check out and send the job to the worker...
            for _ in 0..3 {
                assert!(query.as_mut().poll(&mut cx).is_pending());
            }
            // ...then drop the future 0-200 µs later, sweeping the moment
            // the worker starts the job.
            let spin = Instant::now();
            while spin.elapsed() < Duration::from_nanos((i % 800) * 250) {
                std::hint::spin_loop();
            }
        }
        // Queued behind the abandoned job: returns once it is over.
        let _: i64 = db.fetch_one("SELECT 1", ()).await.unwrap();
        assert_eq!(
            done.load(Ordering::SeqCst),
            0,
            "iteration {i}: a cancelled query ran to completion ({} µs after it was sent)",
            i * 250 / 1000
        );
    }
    db.close();
}

/// Dropping a query that is still queued behind another statement on the
/// same checked-out connection must not interrupt that other statement.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancelling_a_queued_query_does_not_interrupt_the_running_one() {
    let (db, done, _dir) = sqlite_with_done_counter(PoolConfig::default().max_size(1)).await;
    let conn = db.acquire().await.unwrap();
    let (slow, queued) = tokio::join!(
        conn.fetch_one::<i64, _>(COUNTED_SLOW, ()),
        tokio::time::timeout(
            Duration::from_millis(100),
            conn.fetch_one::<i64, _>("SELECT 1", ())
        ),
    );
    assert!(queued.is_err(), "the queued query should have timed out");
    let slow = slow.expect("the running statement was interrupted by another future's drop");
    assert_eq!(slow, 3_000_000);
    assert_eq!(done.load(Ordering::SeqCst), 1);
    drop(conn);
    db.close();
}

/// The SQLite side of `a_leaked_transaction_does_not_block_other_connections`:
/// a writer returned inside `BEGIN IMMEDIATE` must be rolled back at once;
/// if it keeps the write lock until it is next checked out, another process
/// (here: a second pool on the same file) gets `SQLITE_BUSY` after its busy
/// timeout.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_leaked_sqlite_write_transaction_does_not_lock_out_other_processes() {
    let t = TestDb::sqlite_file("cancel_tx_sqlite_lock", PoolConfig::default().max_size(2)).await;
    t.db.execute("CREATE TABLE w (x BIGINT)", ()).await.unwrap();
    let other = Database::builder(&t.url)
        .pool(PoolConfig::default().max_size(2))
        .sqlite_busy_timeout(Duration::from_millis(500))
        .connect()
        .await
        .unwrap();
    for round in 0..5_i64 {
        let c = t.db.acquire().await.unwrap();
        c.execute("BEGIN IMMEDIATE", ()).await.unwrap();
        c.execute("INSERT INTO w (x) VALUES (1)", ()).await.unwrap();
        drop(c); // never committed or rolled back by its user
        tokio::time::sleep(Duration::from_millis(100)).await;
        let r = other.execute("INSERT INTO w (x) VALUES (2)", ()).await;
        assert!(
            r.is_ok(),
            "round {round}: locked out by a transaction nobody owns: {r:?}"
        );
    }
    let n: i64 = other
        .fetch_one("SELECT count(*) FROM w WHERE x = 1", ())
        .await
        .unwrap();
    assert_eq!(n, 0, "an abandoned insert was committed");
    other.close();
    t.cleanup().await;
}

/// A loopback relay in front of PostgreSQL that forwards the first chunk a
/// client sends at once (the startup packet, or a whole cancel request) and
/// every later client-to-server chunk `delay` late, in order. Server to
/// client is not delayed.
async fn delaying_relay(delay: Duration) -> (u16, tokio::task::JoinHandle<()>) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let base = crate::support::pg_base_url();
    let target = base
        .split('@')
        .nth(1)
        .and_then(|rest| rest.split('/').next())
        .unwrap_or("127.0.0.1:5432")
        .to_owned();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let task = tokio::spawn(async move {
        while let Ok((client, _)) = listener.accept().await {
            let target = target.clone();
            tokio::spawn(async move {
                let Ok(server) = tokio::net::TcpStream::connect(&target).await else {
                    return;
                };
                let (mut client_read, mut client_write) = client.into_split();
                let (mut server_read, mut server_write) = server.into_split();
                tokio::spawn(async move {
                    let _ = tokio::io::copy(&mut server_read, &mut client_write).await;
                });
                let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<(Instant, Vec<u8>)>();
                tokio::spawn(async move {
                    while let Some((due, bytes)) = rx.recv().await {
                        tokio::time::sleep_until(due.into()).await;
                        if server_write.write_all(&bytes).await.is_err() {
                            return;
                        }
                    }
                });
                let mut first = true;
                let mut buf = vec![0_u8; 64 * 1024];
                loop {
                    let n = match client_read.read(&mut buf).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => n,
                    };
                    let due = if first {
                        Instant::now()
                    } else {
                        Instant::now() + delay
                    };
                    first = false;
                    if tx.send((due, buf[..n].to_vec())).is_err() {
                        return;
                    }
                }
            });
        }
    });
    (port, task)
}

/// A cancel request is a separate connection, so it can reach the server
/// before the abandoned query does (here: the relay holds the query back);
/// the server then ignores the cancel, and the abandoned query runs to its
/// end on a backend the pool no longer counts.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_abandoned_query_is_cancelled_even_if_the_cancel_overtakes_it() {
    let probe = Database::builder(&crate::support::pg_base_url())
        .pool(
            PoolConfig::default()
                .max_size(1)
                .create_timeout(Duration::from_secs(5)),
        )
        .connect()
        .await;
    if probe.is_err() && !crate::support::require_pg() {
        eprintln!("SKIP: PostgreSQL unreachable");
        return;
    }
    probe.unwrap().close();
    let (port, relay) = delaying_relay(Duration::from_millis(200)).await;
    let name = format!("t_cancel_overtaken_{}", std::process::id());
    let db = Database::builder(&format!(
        "postgres://postgres@127.0.0.1:{port}/test?application_name={name}"
    ))
    .pool(PoolConfig::default().max_size(1))
    .connect()
    .await
    .unwrap();
    // Parse reaches the server at ~200 ms, Bind/Execute at ~400 ms; the
    // timeout fires at 300 ms, in between.
    let r = tokio::time::timeout(
        Duration::from_millis(300),
        db.fetch_one::<i64, _>("SELECT CAST(1 AS BIGINT) FROM pg_sleep(4)", ()),
    )
    .await;
    assert!(r.is_err());
    let admin = Database::builder(&crate::support::pg_base_url())
        .pool(PoolConfig::default().max_size(1))
        .connect()
        .await
        .unwrap();
    // If the cancel was lost, pg_sleep(4) runs until ~4.4 s; sample well
    // before that, and well after any retried cancel could have landed.
    tokio::time::sleep(Duration::from_millis(2500)).await;
    let still_running: i64 = admin
        .fetch_one(
            "SELECT count(*) FROM pg_stat_activity \
             WHERE application_name = $1 AND state = 'active'",
            (name.as_str(),),
        )
        .await
        .unwrap();
    admin.close();
    db.close();
    relay.abort();
    assert_eq!(
        still_running, 0,
        "the abandoned pg_sleep is still running 2.5 s after its cancellation"
    );
}
