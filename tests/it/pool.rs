//! Pool behaviour against real databases: size limits under load, the three
//! timeouts, `close()`, idle and lifetime expiry, recovery from a killed
//! PostgreSQL backend, and FIFO fairness.

#![allow(clippy::unwrap_used)]

use crate::support::{both_with, eventually, pg_base_url, Kind, TestDb};
use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use sylvan::prelude::*;
use sylvan::{PoolConfig, TimeoutPhase};

/// Slack allowed on top of a timeout on this noisy two-core machine.
const SLACK: Duration = Duration::from_millis(1500);

/// A one-connection pool on the base PostgreSQL URL (no `application_name`,
/// so it never counts among a test's own sessions).
async fn pg_admin() -> Database {
    Database::builder(&pg_base_url())
        .pool(PoolConfig::default().max_size(1))
        .connect()
        .await
        .expect("admin connection")
}

/// The error and its whole `source()` chain, as one string.
fn chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut out = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        out.push_str(": ");
        out.push_str(&s.to_string());
        source = s.source();
    }
    out
}

const ECHO: &str = "SELECT CAST($1 AS BIGINT)";

// 1 ---------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_thousand_tasks_never_open_more_than_max_size() {
    both_with(
        "pool_many_tasks",
        PoolConfig::default().max_size(4),
        |t| async move {
            t.db.execute("CREATE TABLE hits (id BIGINT PRIMARY KEY)", ())
                .await
                .unwrap();
            let stop = Arc::new(AtomicBool::new(false));

            let status_sampler = tokio::spawn({
                let db = t.db.clone();
                let stop = Arc::clone(&stop);
                async move {
                    let (mut max, mut samples) = (0_usize, 0_usize);
                    while !stop.load(Ordering::SeqCst) {
                        max = max.max(db.status().size);
                        samples += 1;
                        tokio::time::sleep(Duration::from_millis(1)).await;
                    }
                    (max, samples)
                }
            });
            let pg_sampler = (t.kind == Kind::Postgres).then(|| {
                let name = t.name.clone();
                let stop = Arc::clone(&stop);
                tokio::spawn(async move {
                    let admin = pg_admin().await;
                    let (mut max, mut samples) = (0_i64, 0_usize);
                    while !stop.load(Ordering::SeqCst) {
                        let n: i64 = admin
                            .fetch_one(
                                "SELECT count(*) FROM pg_stat_activity WHERE application_name = $1",
                                (name.as_str(),),
                            )
                            .await
                            .expect("sample pg_stat_activity");
                        max = max.max(n);
                        samples += 1;
                        tokio::time::sleep(Duration::from_millis(2)).await;
                    }
                    admin.close();
                    (max, samples)
                })
            });

            let tasks: Vec<_> = (0..2000_i64)
                .map(|i| {
                    let db = t.db.clone();
                    tokio::spawn(async move {
                        if i % 10 == 0 {
                            db.execute("INSERT INTO hits (id) VALUES ($1)", (i,))
                                .await?;
                        }
                        db.fetch_one::<i64, _>(ECHO, (i,)).await
                    })
                })
                .collect();
            for (i, task) in tasks.into_iter().enumerate() {
                let got = task
                    .await
                    .expect("task panicked")
                    .unwrap_or_else(|e| panic!("task {i} failed: {e}"));
                assert_eq!(got, i as i64, "task {i} got another task's row");
            }
            stop.store(true, Ordering::SeqCst);

            let (max, samples) = status_sampler.await.unwrap();
            assert!(samples > 0);
            assert!(max <= 4, "status().size reached {max} on a pool of 4");
            if let Some(pg) = pg_sampler {
                let (max, samples) = pg.await.unwrap();
                assert!(samples > 0);
                assert!(max >= 1, "the sampler never saw this pool's sessions");
                assert!(
                    max <= 4,
                    "{max} sessions of a pool of 4 in pg_stat_activity"
                );
            }
            let hits: i64 =
                t.db.fetch_one("SELECT count(*) FROM hits", ())
                    .await
                    .unwrap();
            assert_eq!(hits, 200);
            let status = t.db.status();
            assert!(status.size <= 4 && status.idle == status.size, "{status:?}");
            t
        },
    )
    .await;
}

// 2 ---------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn checkout_of_a_full_pool_times_out_in_the_wait_phase() {
    let wait = Duration::from_millis(300);
    let config = PoolConfig::default().max_size(1).wait_timeout(wait);
    both_with("pool_wait_timeout", config, |t| async move {
        // On SQLite a pool of 1 is the single writer, which also serves reads.
        let held = t.db.acquire().await.unwrap();

        let start = Instant::now();
        let err =
            t.db.acquire()
                .await
                .expect_err("the only connection is held");
        let elapsed = start.elapsed();
        match &err {
            Error::PoolTimeout {
                phase: TimeoutPhase::Wait,
                timeout,
                ..
            } => {
                assert_eq!(*timeout, wait)
            }
            other => panic!("expected a wait timeout, got {other:?}"),
        }
        assert!(err.is_retryable());
        assert!(elapsed >= wait, "timed out early: {elapsed:?}");
        assert!(elapsed <= wait + SLACK, "timed out late: {elapsed:?}");
        assert!(
            err.to_string().contains("waiting for a free connection"),
            "{err}"
        );

        // A plain query (a read, routed to a reader where there is one) too.
        let start = Instant::now();
        let err =
            t.db.fetch_one::<i64, _>(ECHO, (1_i64,))
                .await
                .expect_err("pool is full");
        let elapsed = start.elapsed();
        assert!(
            matches!(
                err,
                Error::PoolTimeout {
                    phase: TimeoutPhase::Wait,
                    ..
                }
            ),
            "{err:?}"
        );
        assert!(elapsed >= wait && elapsed <= wait + SLACK, "{elapsed:?}");

        drop(held);
        let v: i64 = t.db.fetch_one(ECHO, (7_i64,)).await.unwrap();
        assert_eq!(v, 7);
        t
    })
    .await;
}

// 3 ---------------------------------------------------------------------

/// A server that accepts TCP connections and never says a word.
async fn black_hole() -> (u16, tokio::task::JoinHandle<()>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let task = tokio::spawn(async move {
        let mut sockets = Vec::new();
        while let Ok((socket, _)) = listener.accept().await {
            sockets.push(socket); // keep it open, never answer
        }
    });
    (port, task)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stalled_server_is_a_create_timeout_not_a_hang() {
    let (port, server) = black_hole().await;
    let create = Duration::from_millis(500);
    let url = format!("postgres://postgres@127.0.0.1:{port}/x");
    let start = Instant::now();
    let result = tokio::time::timeout(
        Duration::from_secs(10),
        Database::builder(&url)
            .pool(PoolConfig::default().create_timeout(create))
            .connect(),
    )
    .await
    .expect("connect() hung on a stalled server");
    let elapsed = start.elapsed();
    let err = result.expect_err("a server that never answers cannot be connected to");
    // The create timeout fires, and says why: the connect never failed, it
    // stalled in the handshake.
    match &err {
        Error::PoolTimeout {
            phase: TimeoutPhase::Create,
            timeout,
            last_error,
        } => {
            assert_eq!(*timeout, create);
            assert!(
                last_error
                    .as_deref()
                    .is_some_and(|c| c.contains("handshake")),
                "{last_error:?}"
            );
        }
        other => panic!("expected a create timeout, got {other:?}"),
    }
    assert!(
        err.to_string().contains("opening a new connection"),
        "{err}"
    );
    assert!(elapsed >= create, "{elapsed:?}");
    assert!(elapsed <= create + SLACK, "{elapsed:?}");
    server.abort();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_connection_fails_fast_with_its_cause() {
    // A port that was free a moment ago: nothing listens there.
    let port = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    };
    let url = format!("postgres://postgres@127.0.0.1:{port}/x");
    let start = Instant::now();
    let result = tokio::time::timeout(
        Duration::from_secs(10),
        Database::builder(&url)
            .pool(PoolConfig::default().create_timeout(Duration::from_secs(5)))
            .connect(),
    )
    .await
    .expect("connect() hung on a refused port");
    let elapsed = start.elapsed();
    let err = result.expect_err("nothing listens on that port");
    assert!(matches!(err, Error::Connect { .. }), "{err:?}");
    assert!(elapsed < SLACK, "a refused connection took {elapsed:?}");
    let text = chain(&err).to_lowercase();
    assert!(text.contains("refused"), "the cause is lost: {text}");
}

// 4 ---------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn close_wakes_every_waiter_and_refuses_later_checkouts() {
    let config = PoolConfig::default()
        .max_size(2)
        .wait_timeout(Duration::from_secs(20));
    both_with("pool_close", config, |t| async move {
        // Fill the pool: on SQLite the writer and the one reader, on
        // PostgreSQL two connections.
        let held = vec![
            t.db.acquire().await.unwrap(),
            t.db.acquire_reader().await.unwrap(),
        ];
        let mut waiters = Vec::new();
        for i in 0..6 {
            let db = t.db.clone();
            waiters.push(tokio::spawn(async move {
                let result = match i % 3 {
                    0 => db.acquire().await.map(drop),
                    1 => db.acquire_reader().await.map(drop),
                    _ => db.fetch_one::<i64, _>(ECHO, (1_i64,)).await.map(drop),
                };
                (result, Instant::now())
            }));
        }
        assert!(
            eventually(Duration::from_secs(5), || async {
                t.db.status().waiting >= 6
            })
            .await,
            "waiters did not queue: {:?}",
            t.db.status()
        );

        let closed_at = Instant::now();
        t.db.close();
        assert!(t.db.is_closed());
        for waiter in waiters {
            let (result, woke) = tokio::time::timeout(Duration::from_secs(5), waiter)
                .await
                .expect("a waiter was not woken by close()")
                .unwrap();
            assert!(matches!(result, Err(Error::PoolClosed)), "{result:?}");
            let delay = woke.saturating_duration_since(closed_at);
            assert!(delay < SLACK, "woken {delay:?} after close()");
        }

        let start = Instant::now();
        assert!(matches!(t.db.acquire().await, Err(Error::PoolClosed)));
        assert!(matches!(
            t.db.acquire_reader().await,
            Err(Error::PoolClosed)
        ));
        assert!(matches!(
            t.db.execute("SELECT 1", ()).await,
            Err(Error::PoolClosed)
        ));
        assert!(start.elapsed() < SLACK);

        // Connections close as they come back.
        drop(held);
        assert!(
            eventually(Duration::from_secs(2), || async { t.db.status().size == 0 }).await,
            "{:?}",
            t.db.status()
        );
        if t.kind == Kind::Postgres {
            assert!(
                eventually(Duration::from_secs(3), || async {
                    t.pg_sessions().await.is_empty()
                })
                .await,
                "backends still open after close: {:?}",
                t.pg_sessions().await
            );
        }
        t
    })
    .await;
}

// 5 ---------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_connections_are_reaped_and_replaced() {
    let config = PoolConfig::default()
        .max_size(4)
        .idle_timeout(Some(Duration::from_millis(200)))
        .max_lifetime(None);
    both_with("pool_idle_timeout", config, |t| async move {
        // Open every connection of the pool at once.
        let held = vec![
            t.db.acquire().await.unwrap(),
            t.db.acquire_reader().await.unwrap(),
            t.db.acquire_reader().await.unwrap(),
            t.db.acquire_reader().await.unwrap(),
        ];
        assert_eq!(t.db.status().size, 4);
        drop(held);

        assert!(
            eventually(Duration::from_secs(3), || async { t.db.status().size == 0 }).await,
            "idle connections were not reaped: {:?}",
            t.db.status()
        );
        if t.kind == Kind::Postgres {
            assert!(
                eventually(Duration::from_secs(3), || async {
                    t.pg_sessions().await.is_empty()
                })
                .await,
                "reaped connections are still open on the server: {:?}",
                t.pg_sessions().await
            );
        }
        // New connections are made on demand.
        for i in 0..5_i64 {
            let v: i64 = t.db.fetch_one(ECHO, (i,)).await.unwrap();
            assert_eq!(v, i);
        }
        t.db.execute("CREATE TABLE after_reap (x BIGINT)", ())
            .await
            .unwrap();
        assert!(t.db.status().size >= 1);
        t
    })
    .await;
}

/// An identity of the connection behind `conn`: the backend pid on
/// PostgreSQL, the worker thread's name on SQLite.
async fn connection_identity(t: &TestDb, conn: &sylvan::Connection) -> String {
    match t.kind {
        Kind::Postgres => conn
            .fetch_one::<i32, _>("SELECT pg_backend_pid()", ())
            .await
            .unwrap()
            .to_string(),
        Kind::Sqlite => conn
            .interact(|_| std::thread::current().name().unwrap_or("").to_owned())
            .await
            .unwrap(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connections_are_replaced_after_max_lifetime() {
    let config = PoolConfig::default()
        .max_size(1)
        .max_lifetime(Some(Duration::from_millis(400)))
        .idle_timeout(None);
    both_with("pool_max_lifetime", config, |t| async move {
        let first = {
            let conn = t.db.acquire().await.unwrap();
            connection_identity(&t, &conn).await
        };
        // Keep the connection busy (never idle) past its lifetime.
        let mut seen = vec![first.clone()];
        let start = Instant::now();
        while start.elapsed() < Duration::from_millis(1200) {
            let conn = t.db.acquire().await.unwrap();
            let id = connection_identity(&t, &conn).await;
            if seen.last() != Some(&id) {
                seen.push(id);
            }
            drop(conn);
            tokio::time::sleep(Duration::from_millis(30)).await;
        }
        assert!(
            seen.len() >= 2,
            "the connection {first} lived past its max lifetime"
        );
        let unique: HashSet<_> = seen.iter().collect();
        assert_eq!(
            unique.len(),
            seen.len(),
            "an expired connection came back: {seen:?}"
        );
        if t.kind == Kind::Postgres {
            // The expired backends are gone: at most the current one remains.
            assert!(
                eventually(Duration::from_secs(3), || async {
                    t.pg_sessions().await.len() <= 1
                })
                .await,
                "{:?}",
                t.pg_sessions().await
            );
        }
        let v: i64 = t.db.fetch_one(ECHO, (3_i64,)).await.unwrap();
        assert_eq!(v, 3);
        t
    })
    .await;
}

// 6 ---------------------------------------------------------------------

/// Terminates every backend of this test's pool; returns how many.
async fn kill_backends(t: &TestDb) -> i64 {
    let admin = pg_admin().await;
    let killed: i64 = admin
        .fetch_one(
            "SELECT count(*) FROM (SELECT pg_terminate_backend(pid) AS ok \
             FROM pg_stat_activity WHERE application_name = $1) k WHERE ok",
            (t.name.as_str(),),
        )
        .await
        .unwrap();
    admin.close();
    killed
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_backends_are_replaced_without_a_rebuild() {
    let Some(t) = TestDb::postgres("pool_killed", PoolConfig::default().max_size(3)).await else {
        return;
    };
    // Open all three connections and note their pids.
    let held = vec![
        t.db.acquire().await.unwrap(),
        t.db.acquire().await.unwrap(),
        t.db.acquire().await.unwrap(),
    ];
    let mut old = HashSet::new();
    for c in &held {
        old.insert(
            c.fetch_one::<i32, _>("SELECT pg_backend_pid()", ())
                .await
                .unwrap(),
        );
    }
    drop(held);
    assert_eq!(kill_backends(&t).await, 3);
    tokio::time::sleep(Duration::from_millis(200)).await;

    // Every later query succeeds, on new backends.
    for i in 0..20_i64 {
        let pid: i32 =
            t.db.fetch_one("SELECT pg_backend_pid()", ())
                .await
                .unwrap_or_else(|e| panic!("query {i} after the kill failed: {e:?}"));
        assert!(!old.contains(&pid), "a killed backend {pid} was reused");
    }
    assert!(t.db.status().size <= 3);
    t.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_query_right_after_a_kill_fails_at_most_once_as_connection_lost() {
    let Some(t) = TestDb::postgres("pool_killed_now", PoolConfig::default().max_size(1)).await
    else {
        return;
    };
    let mut outcomes = Vec::new();
    for round in 0..5 {
        let v: i64 = t.db.fetch_one(ECHO, (round,)).await.unwrap();
        assert_eq!(v, round);
        // (A backend killed in the previous round may still be listed
        // while it exits, so at least one.)
        assert!(kill_backends(&t).await >= 1);
        // No pause: the client may or may not have seen the socket close.
        match t.db.fetch_one::<i64, _>(ECHO, (round,)).await {
            Ok(v) => {
                assert_eq!(v, round);
                outcomes.push("ok");
            }
            Err(e) => {
                assert!(e.is_connection_lost(), "round {round}: {e:?}");
                outcomes.push("connection lost");
            }
        }
        let v: i64 = t
            .db
            .fetch_one(ECHO, (round + 100,))
            .await
            .unwrap_or_else(|e| panic!("round {round}: the query after the failure failed: {e:?}"));
        assert_eq!(v, round + 100);
    }
    eprintln!("query right after pg_terminate_backend: {outcomes:?}");
    t.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_backend_killed_mid_query_is_connection_lost_and_replaced() {
    let Some(t) = TestDb::postgres("pool_killed_mid", PoolConfig::default().max_size(2)).await
    else {
        return;
    };
    let db = t.db.clone();
    let running = tokio::spawn(async move {
        db.fetch_one::<i64, _>("SELECT CAST(1 AS BIGINT) FROM pg_sleep(10)", ())
            .await
    });
    assert!(
        eventually(Duration::from_secs(5), || async {
            t.pg_sessions()
                .await
                .iter()
                .any(|(_, s)| s.as_deref() == Some("active"))
        })
        .await,
        "the sleeping query never showed up"
    );
    let start = Instant::now();
    assert!(kill_backends(&t).await >= 1);
    let result = tokio::time::timeout(Duration::from_secs(5), running)
        .await
        .expect("the query on a killed backend hung")
        .unwrap();
    let err = result.expect_err("its backend was killed");
    assert!(err.is_connection_lost(), "{err:?}");
    assert!(start.elapsed() < SLACK, "{:?}", start.elapsed());
    let v: i64 = t.db.fetch_one(ECHO, (5_i64,)).await.unwrap();
    assert_eq!(v, 5);
    assert!(t.db.status().size <= 2);
    t.cleanup().await;
}

// 7 ---------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn waiters_are_served_first_come_first_served() {
    let config = PoolConfig::default()
        .max_size(1)
        .wait_timeout(Duration::from_secs(20));
    both_with("pool_fifo", config, |t| async move {
        let held = t.db.acquire().await.unwrap();
        let order = Arc::new(Mutex::new(Vec::new()));
        let mut tasks = Vec::new();
        for i in 0..10_usize {
            let db = t.db.clone();
            let order = Arc::clone(&order);
            tasks.push(tokio::spawn(async move {
                let conn = db.acquire().await.unwrap();
                order.lock().unwrap().push(i);
                tokio::time::sleep(Duration::from_millis(5)).await;
                drop(conn);
            }));
            // Start the next waiter only once this one is queued.
            assert!(
                eventually(Duration::from_secs(5), || async {
                    t.db.status().waiting > i
                })
                .await,
                "waiter {i} never queued"
            );
        }
        drop(held);
        for task in tasks {
            tokio::time::timeout(Duration::from_secs(10), task)
                .await
                .expect("a waiter starved")
                .unwrap();
        }
        let order = order.lock().unwrap().clone();
        assert_eq!(
            order,
            (0..10).collect::<Vec<_>>(),
            "waiters served out of order"
        );
        t
    })
    .await;
}
