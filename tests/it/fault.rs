//! Network faults between the pool and PostgreSQL, simulated with the relay
//! of `support::relay`: no call may hang, errors are typed, and the pool
//! recovers (RELIABILITY.md promises 1, 2, 4, 5, 12). Each test is bounded
//! by its own `tokio::time::timeout`, so a hang fails it, and ends with the
//! oracle: pool size never above its max, a final query succeeds, no backend
//! of the test's `application_name` left `active` or `idle in transaction`.
//!
//! The statement timeout on SQLite is at the end.

#![allow(clippy::unwrap_used)]

use crate::support::relay::{Fault, Relay};
use crate::support::{both_with, eventually, Kind, TestDb};
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};
use sylvan::prelude::*;
use sylvan::{PoolConfig, TimeoutPhase};

/// Slack for timing bounds on a noisy, shared 2-core machine.
const SLACK: Duration = Duration::from_millis(1500);

/// A test schema on the server (reached directly) and a pool through a
/// relay in front of the same server, with the same `application_name`.
struct Faulty {
    t: TestDb,
    relay: Relay,
    db: Database,
    max_size: usize,
}

async fn faulty(name: &str, pool: PoolConfig) -> Option<Faulty> {
    let t = TestDb::postgres(name, PoolConfig::default().max_size(1)).await?;
    let relay = Relay::start().await;
    let max_size = pool.max_size_value();
    let db = Database::builder(&relay.url(&t.url))
        .pool(pool)
        .connect()
        .await
        .expect("connect through the relay");
    Some(Faulty {
        t,
        relay,
        db,
        max_size,
    })
}

/// Short timeouts so that the suite stays fast.
fn quick_pool(max_size: usize) -> PoolConfig {
    PoolConfig::default()
        .max_size(max_size)
        .wait_timeout(Duration::from_secs(3))
        .create_timeout(Duration::from_secs(2))
        .recycle_timeout(Duration::from_secs(1))
}

/// Samples the pool's size in the background; the highest value seen.
fn watch_size(db: &Database) -> (Arc<AtomicUsize>, tokio::task::JoinHandle<()>) {
    let peak = Arc::new(AtomicUsize::new(0));
    let (db, seen) = (db.clone(), Arc::clone(&peak));
    let task = tokio::spawn(async move {
        while !db.is_closed() {
            seen.fetch_max(db.status().size, Ordering::Relaxed);
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    });
    (peak, task)
}

impl Faulty {
    /// RELIABILITY.md's oracle, with the relay passing again.
    async fn oracle(self, peak: Option<(Arc<AtomicUsize>, tokio::task::JoinHandle<()>)>) {
        self.relay.set_all(Fault::Pass);
        let status = self.db.status();
        assert!(status.size <= self.max_size, "pool above max: {status:?}");
        let start = Instant::now();
        let n: i64 = tokio::time::timeout(
            Duration::from_secs(1) + SLACK,
            self.db.fetch_one("SELECT CAST($1 AS BIGINT)", (41_i64,)),
        )
        .await
        .expect("final query hung")
        .expect("final query failed");
        assert_eq!(n, 41);
        assert!(start.elapsed() < Duration::from_secs(1) + SLACK);
        assert!(
            eventually(Duration::from_secs(3), || async {
                let s = self.db.status();
                s.idle == s.size && s.waiting == 0
            })
            .await,
            "connections not returned: {:?}",
            self.db.status()
        );
        assert!(
            eventually(Duration::from_secs(5), || async {
                self.t.pg_sessions().await.iter().all(|(_, state)| {
                    let s = state.as_deref().unwrap_or("");
                    s != "active" && !s.starts_with("idle in transaction")
                })
            })
            .await,
            "backends left busy: {:?}",
            self.t.pg_sessions().await
        );
        if let Some((peak, task)) = peak {
            self.db.close();
            let _ = task.await;
            let peak = peak.load(Ordering::Relaxed);
            assert!(
                peak <= self.max_size,
                "pool reached {peak} > {}",
                self.max_size
            );
        }
        self.db.close();
        drop(self.relay);
        self.t.cleanup().await;
    }
}

fn is_statement_timeout(e: &Error) -> bool {
    matches!(e, Error::StatementTimeout { .. })
}

// Blackhole mid-query ---------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reply_lost_in_a_silent_network_is_a_statement_timeout() {
    let bound = Duration::from_millis(300);
    let pool = quick_pool(2).statement_timeout(Some(bound));
    let Some(f) = faulty("fault_blackhole_query", pool).await else {
        return;
    };
    let peak = watch_size(&f.db);
    tokio::time::timeout(Duration::from_secs(20), async {
        let one: i64 =
            f.db.fetch_one("SELECT CAST(1 AS BIGINT)", ())
                .await
                .unwrap();
        assert_eq!(one, 1);

        // Existing connections go silent; new ones still pass.
        f.relay.set_existing(Fault::Blackhole);
        let start = Instant::now();
        let err =
            f.db.fetch_one::<i64, _>("SELECT CAST($1 AS BIGINT)", (7_i64,))
                .await
                .unwrap_err();
        let took = start.elapsed();
        assert!(is_statement_timeout(&err), "{err:?}");
        assert_eq!(err.sql(), Some("SELECT CAST($1 AS BIGINT)"));
        assert!(err.to_string().contains("statement"), "{err}");
        assert!(took >= bound && took < bound + SLACK, "took {took:?}");

        // The pool is not stuck behind the lost reply: the next query gets
        // another connection and its own row.
        let got: i64 =
            f.db.fetch_one("SELECT CAST($1 AS BIGINT)", (8_i64,))
                .await
                .unwrap();
        assert_eq!(got, 8);

        // A per-call override, shorter than the pool's.
        f.relay.set_existing(Fault::Blackhole);
        let start = Instant::now();
        let err =
            f.db.with_timeout(Duration::from_millis(100))
                .fetch_one::<i64, _>("SELECT CAST($1 AS BIGINT)", (9_i64,))
                .await
                .unwrap_err();
        assert!(is_statement_timeout(&err), "{err:?}");
        assert!(start.elapsed() < Duration::from_millis(100) + SLACK);

        // A transaction's statement, through `tx.with_timeout`.
        f.relay.set_all(Fault::Pass);
        let tx = f.db.begin().await.unwrap();
        f.relay.set_existing(Fault::Blackhole);
        let err = tx
            .with_timeout(Duration::from_millis(100))
            .execute("SELECT 1", ())
            .await
            .unwrap_err();
        assert!(is_statement_timeout(&err), "{err:?}");
        drop(tx);

        // The network comes back: every slot returns (the abandoned
        // statements are cancelled and their connections discarded).
        f.relay.set_all(Fault::Pass);
        assert!(
            eventually(Duration::from_secs(5), || async {
                let s = f.db.status();
                s.idle == s.size
            })
            .await,
            "slots not back: {:?}",
            f.db.status()
        );
        let got: i64 =
            f.db.fetch_one("SELECT CAST($1 AS BIGINT)", (10_i64,))
                .await
                .unwrap();
        assert_eq!(got, 10);
    })
    .await
    .expect("the blackhole test hung");
    f.oracle(Some(peak)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_statement_timeout_cancels_the_work_on_the_server() {
    let Some(f) = faulty("fault_slow_statement", quick_pool(2)).await else {
        return;
    };
    tokio::time::timeout(Duration::from_secs(15), async {
        let start = Instant::now();
        let err =
            f.db.with_timeout(Duration::from_millis(300))
                .execute("SELECT pg_sleep(30)", ())
                .await
                .unwrap_err();
        assert!(is_statement_timeout(&err), "{err:?}");
        assert!(start.elapsed() < Duration::from_millis(300) + SLACK);
        // The pg_sleep was cancelled, not left running for 30 s.
        assert!(
            eventually(Duration::from_secs(3), || async {
                f.t.pg_sessions()
                    .await
                    .iter()
                    .all(|(_, s)| s.as_deref() != Some("active"))
            })
            .await,
            "{:?}",
            f.t.pg_sessions().await
        );
        // A statement inside a transaction that times out aborts it:
        // commit never reports success.
        let tx = f.db.begin().await.unwrap();
        let err = tx
            .with_timeout(Duration::from_millis(200))
            .execute("SELECT pg_sleep(30)", ())
            .await
            .unwrap_err();
        assert!(is_statement_timeout(&err), "{err:?}");
        // The connection is given up: the commit does not queue behind the
        // abandoned statement, it reports the transaction aborted at once.
        let commit = tokio::time::timeout(Duration::from_secs(1), tx.commit())
            .await
            .expect("commit after a statement timeout hung");
        assert!(
            matches!(commit, Err(Error::TransactionAborted { .. })),
            "{commit:?}"
        );
        // Same for raw statements on a held connection.
        let conn = f.db.acquire().await.unwrap();
        f.relay.set_existing(Fault::Blackhole);
        let err = conn
            .with_timeout(Duration::from_millis(100))
            .execute("SELECT 1", ())
            .await
            .unwrap_err();
        assert!(is_statement_timeout(&err), "{err:?}");
        let next = tokio::time::timeout(Duration::from_secs(1), conn.execute("SELECT 1", ()))
            .await
            .expect("a statement behind a lost reply hung");
        assert!(
            matches!(next, Err(Error::ConnectionLost { .. })),
            "{next:?}"
        );
        drop(conn);
        f.relay.set_all(Fault::Pass);
    })
    .await
    .expect("hung");
    f.oracle(None).await;
}

// Idle connections blackholed ------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dead_idle_connections_are_replaced_without_an_error() {
    let recycle = Duration::from_secs(1);
    let pool = quick_pool(5).recycle_timeout(recycle);
    let Some(f) = faulty("fault_idle_blackhole", pool).await else {
        return;
    };
    let peak = watch_size(&f.db);
    tokio::time::timeout(Duration::from_secs(20), async {
        // Four idle connections.
        let held = futures_util::future::join_all((0..4).map(|_| f.db.acquire())).await;
        for c in &held {
            let c = c.as_ref().unwrap();
            let _: i64 = c.fetch_one("SELECT CAST(1 AS BIGINT)", ()).await.unwrap();
        }
        drop(held);
        assert_eq!(f.db.status().idle, 4);
        // Idle beyond the liveness window, then their network goes silent.
        tokio::time::sleep(sylvan::DEFAULT_LIVENESS_CHECK_AFTER + Duration::from_millis(200)).await;
        f.relay.set_existing(Fault::Blackhole);

        let start = Instant::now();
        let got: i64 =
            f.db.fetch_one("SELECT CAST($1 AS BIGINT)", (5_i64,))
                .await
                .expect("the caller must not see the dead connections");
        let took = start.elapsed();
        assert_eq!(got, 5);
        // One liveness check's time plus one connect, not one recycle
        // timeout per dead connection.
        assert!(took < recycle + SLACK, "took {took:?}");
        // The dead ones are gone.
        assert!(f.db.status().size <= 2, "{:?}", f.db.status());
    })
    .await
    .expect("checkout hung on dead idle connections");
    f.oracle(Some(peak)).await;
}

// Accept-then-stall ----------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_that_accepts_and_stalls_is_a_create_timeout_with_a_cause() {
    let create = Duration::from_millis(800);
    let Some(f) = faulty("fault_stall", quick_pool(2).create_timeout(create)).await else {
        return;
    };
    tokio::time::timeout(Duration::from_secs(15), async {
        let check = |e: Error, start: Instant| {
            let took = start.elapsed();
            match &e {
                Error::PoolTimeout {
                    phase: TimeoutPhase::Create,
                    last_error: Some(cause),
                    ..
                } => assert!(cause.contains("handshake"), "{cause}"),
                other => panic!("expected a create timeout with a cause, got {other:?}"),
            }
            assert!(took < create + SLACK, "took {took:?}");
        };
        f.relay.set_new(Fault::Stall);
        // A new pool against the stalled server.
        let start = Instant::now();
        let e = Database::builder(&f.relay.url(&f.t.url))
            .pool(quick_pool(1).create_timeout(create))
            .connect()
            .await
            .unwrap_err();
        check(e, start);
        // A running pool that needs a new connection.
        let held = f.db.acquire().await.unwrap();
        let start = Instant::now();
        let e = f.db.acquire().await.unwrap_err();
        check(e, start);
        drop(held);
    })
    .await
    .expect("hung");
    f.oracle(None).await;
}

// Reset during COMMIT --------------------------------------------------

/// xorshift64*: reproducible timing without a dependency.
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D) % n
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reset_during_commit_is_never_reported_as_success_without_the_row() {
    let Some(f) = faulty("fault_commit_reset", quick_pool(1)).await else {
        return;
    };
    f.t.db
        .execute("CREATE TABLE acked (id BIGINT PRIMARY KEY)", ())
        .await
        .unwrap();
    let relay = Arc::new(f.relay);
    let mut rng = Rng(0x5EED_F00D);
    let (mut ok, mut failed) = (0, 0);
    tokio::time::timeout(Duration::from_secs(30), async {
        // Each chunk takes 2 ms each way, so COMMIT (prepare, then execute)
        // takes ~10 ms; the reset lands 0-40 ms after it starts: before,
        // during and after.
        relay.set_new(Fault::Delay(Duration::from_millis(2)));
        for i in 0..50_i64 {
            // The reset of the last round may not have been noticed yet by
            // the connection it killed: a typed failure, then a retry.
            let mut tx = None;
            for _ in 0..5 {
                let attempt = async {
                    let tx = f.db.begin().await?;
                    tx.execute("INSERT INTO acked (id) VALUES ($1)", (i,))
                        .await?;
                    Ok::<_, Error>(tx)
                };
                match attempt.await {
                    Ok(t) => {
                        tx = Some(t);
                        break;
                    }
                    Err(e) => assert!(e.is_connection_lost(), "{e:?}"),
                }
            }
            let tx = tx.expect("no transaction after 5 attempts");
            let at = Duration::from_micros(rng.below(40_000));
            let cutter = {
                let relay = Arc::clone(&relay);
                tokio::spawn(async move {
                    let start = Instant::now();
                    while start.elapsed() < at {
                        tokio::task::yield_now().await;
                    }
                    relay.set_existing(Fault::Reset);
                })
            };
            let outcome = tx.commit().await;
            cutter.await.unwrap();
            let present: Option<i64> =
                f.t.db
                    .fetch_optional("SELECT id FROM acked WHERE id = $1", (i,))
                    .await
                    .unwrap();
            match outcome {
                Ok(()) => {
                    ok += 1;
                    assert_eq!(present, Some(i), "COMMIT reported Ok but row {i} is absent");
                }
                Err(Error::TransactionAborted { .. }) => {
                    failed += 1;
                    assert_eq!(present, None, "reported rolled back but row {i} is present");
                }
                Err(e) => {
                    failed += 1;
                    assert!(
                        matches!(
                            e,
                            Error::CommitOutcomeUnknown { .. } | Error::ConnectionLost { .. }
                        ),
                        "iteration {i}: {e:?}"
                    );
                }
            }
        }
    })
    .await
    .expect("hung");
    eprintln!("reset during COMMIT: {ok} committed, {failed} failed");
    // The last round's reset may land on a connection only after it went
    // back to the pool (idle too briefly for a liveness check): let it land
    // before the oracle's final query, which must not race it.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let relay = Arc::try_unwrap(relay).unwrap();
    let f = Faulty { relay, ..f };
    f.oracle(None).await;
}

// Refuse during an outage ----------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn during_an_outage_calls_fail_fast_and_the_pool_recovers() {
    let pool = quick_pool(2).create_timeout(Duration::from_millis(800));
    let Some(f) = faulty("fault_refuse", pool).await else {
        return;
    };
    let peak = watch_size(&f.db);
    tokio::time::timeout(Duration::from_secs(20), async {
        let _: i64 =
            f.db.fetch_one("SELECT CAST(1 AS BIGINT)", ())
                .await
                .unwrap();
        // The server goes away: open connections are reset, new ones refused.
        f.relay.set_new(Fault::Refuse);
        f.relay.set_existing(Fault::Reset);
        for _ in 0..5 {
            let start = Instant::now();
            let err =
                f.db.fetch_one::<i64, _>("SELECT CAST(1 AS BIGINT)", ())
                    .await
                    .unwrap_err();
            let took = start.elapsed();
            assert!(
                matches!(
                    err,
                    Error::Connect { .. }
                        | Error::ConnectionLost { .. }
                        | Error::PoolTimeout { .. }
                ),
                "{err:?}"
            );
            assert!(
                took < Duration::from_millis(800) + SLACK,
                "took {took:?}: {err}"
            );
        }
        // Back: the pool refills itself.
        f.relay.set_all(Fault::Pass);
        assert!(
            eventually(Duration::from_secs(3), || async {
                f.db.fetch_one::<i64, _>("SELECT CAST(2 AS BIGINT)", ())
                    .await
                    .is_ok_and(|n| n == 2)
            })
            .await,
            "the pool did not recover"
        );
    })
    .await
    .expect("hung");
    f.oracle(Some(peak)).await;
}

// Cut after N bytes ----------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_connection_cut_mid_stream_or_mid_handshake_is_a_typed_error() {
    let pool = quick_pool(2).create_timeout(Duration::from_millis(800));
    let Some(f) = faulty("fault_cut", pool).await else {
        return;
    };
    let peak = watch_size(&f.db);
    tokio::time::timeout(Duration::from_secs(15), async {
        // Mid-result: a few hundred bytes into a large reply.
        f.relay.set_existing(Fault::CutAfter(300));
        let err =
            f.db.fetch_all::<i64, _>(
                "SELECT CAST(x AS BIGINT) FROM generate_series(1, 100000) x",
                (),
            )
            .await
            .unwrap_err();
        assert!(err.is_connection_lost(), "{err:?}");
        // Mid-handshake: new connections are cut after 40 bytes.
        f.relay.set_new(Fault::CutAfter(40));
        let start = Instant::now();
        let err = Database::builder(&f.relay.url(&f.t.url))
            .pool(quick_pool(1))
            .connect()
            .await
            .unwrap_err();
        assert!(matches!(err, Error::Connect { .. }), "{err:?}");
        assert!(start.elapsed() < SLACK, "{:?}", start.elapsed());
    })
    .await
    .expect("hung");
    f.oracle(Some(peak)).await;
}

// Cancellation at every await, over a slow network ----------------------

/// Polls the inner future at most `limit` times, then drops it.
struct PollLimit<F> {
    inner: Option<Pin<Box<F>>>,
    polls: usize,
    limit: usize,
}

impl<F: Future> Future for PollLimit<F> {
    type Output = Option<F::Output>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let Some(inner) = self.inner.as_mut() else {
            return Poll::Ready(None);
        };
        match inner.as_mut().poll(cx) {
            Poll::Ready(out) => Poll::Ready(Some(out)),
            Poll::Pending => {
                self.polls += 1;
                if self.polls >= self.limit {
                    // Dropped at this await.
                    self.inner = None;
                    Poll::Ready(None)
                } else {
                    Poll::Pending
                }
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_transaction_dropped_at_any_await_over_a_slow_network_leaves_nothing_behind() {
    let Some(f) = faulty("fault_cancel_tx", quick_pool(2)).await else {
        return;
    };
    f.t.db
        .execute(
            "CREATE TABLE pair (k BIGINT NOT NULL, side INT NOT NULL)",
            (),
        )
        .await
        .unwrap();
    f.relay.set_all(Fault::Delay(Duration::from_millis(5)));
    let peak = watch_size(&f.db);
    let completed_at = tokio::time::timeout(Duration::from_secs(40), async {
        for n in 1..=200_usize {
            let k = n as i64;
            let db = f.db.clone();
            let tx = async move {
                let tx = db.begin().await?;
                tx.execute("INSERT INTO pair (k, side) VALUES ($1, 1)", (k,))
                    .await?;
                tx.execute("INSERT INTO pair (k, side) VALUES ($1, 2)", (k,))
                    .await?;
                tx.commit().await
            };
            let outcome = PollLimit {
                inner: Some(Box::pin(tx)),
                polls: 0,
                limit: n,
            }
            .await;
            // Both inserts or neither, whatever the drop point.
            let rows: i64 =
                f.t.db
                    .fetch_one("SELECT COUNT(*) FROM pair WHERE k = $1", (k,))
                    .await
                    .unwrap();
            if let Some(result) = outcome {
                result.unwrap();
                assert_eq!(rows, 2);
                return n;
            }
            assert!(rows == 0 || rows == 2, "half-written pair after {n} polls");
            // No session left inside a transaction.
            assert!(
                eventually(Duration::from_secs(5), || async {
                    f.t.pg_sessions().await.iter().all(|(_, s)| {
                        !s.as_deref()
                            .unwrap_or("")
                            .starts_with("idle in transaction")
                    })
                })
                .await,
                "idle in transaction after a drop at poll {n}: {:?}",
                f.t.pg_sessions().await
            );
            let s = f.db.status();
            assert!(s.size <= 2, "{s:?}");
        }
        panic!("the transaction never completed within 200 polls");
    })
    .await
    .expect("hung");
    eprintln!("transaction completed at poll {completed_at}");
    f.oracle(Some(peak)).await;
}

// The statement timeout on both backends -------------------------------

#[derive(sylvan::Model, Debug)]
#[model(table = "slow_rows")]
struct SlowRow {
    #[model(primary_key)]
    id: i64,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_queryset_timeout_bounds_a_slow_query_on_both_backends() {
    both_with(
        "fault_queryset_timeout",
        PoolConfig::default().max_size(2),
        |t| async move {
            let view = match t.kind {
                Kind::Sqlite => {
                    "CREATE VIEW slow_rows AS WITH RECURSIVE c(x) AS \
                     (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 2000000000) \
                     SELECT x AS id FROM c"
                }
                Kind::Postgres => {
                    "CREATE VIEW slow_rows AS SELECT CAST(1 AS BIGINT) AS id FROM pg_sleep(30)"
                }
            };
            t.db.execute(view, ()).await.unwrap();
            tokio::time::timeout(Duration::from_secs(10), async {
                let start = Instant::now();
                let err = SlowRow::objects()
                    .timeout(Duration::from_millis(50))
                    .count(&t.db)
                    .await
                    .unwrap_err();
                assert!(is_statement_timeout(&err), "{err:?}");
                assert!(start.elapsed() < Duration::from_millis(50) + SLACK);
                // The raw API, on a checked-out connection.
                let conn = t.db.acquire_reader().await.unwrap();
                let err = conn
                    .with_timeout(Duration::from_millis(50))
                    .fetch_one::<i64, _>("SELECT COUNT(*) FROM slow_rows", ())
                    .await
                    .unwrap_err();
                assert!(is_statement_timeout(&err), "{err:?}");
                drop(conn);
                // The pool is healthy.
                let n: i64 =
                    t.db.fetch_one("SELECT CAST(3 AS BIGINT)", ())
                        .await
                        .unwrap();
                assert_eq!(n, 3);
                assert!(
                    eventually(Duration::from_secs(5), || async {
                        let s = t.db.status();
                        s.idle == s.size
                    })
                    .await,
                    "{:?}",
                    t.db.status()
                );
            })
            .await
            .expect("hung");
            t
        },
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_url_sets_a_default_statement_timeout_on_sqlite() {
    let db = Database::connect("sqlite::memory:?statement_timeout=50ms&pool_max_size=2")
        .await
        .unwrap();
    let slow =
        "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) SELECT count(*) FROM c";
    tokio::time::timeout(Duration::from_secs(10), async {
        let start = Instant::now();
        let err = db.fetch_one::<i64, _>(slow, ()).await.unwrap_err();
        assert!(is_statement_timeout(&err), "{err:?}");
        assert!(start.elapsed() < Duration::from_millis(50) + SLACK);
        // A longer per-call override lets a quick statement through, and
        // the writer still works.
        let one: i64 = db
            .with_timeout(Duration::from_secs(5))
            .fetch_one("SELECT 1", ())
            .await
            .unwrap();
        assert_eq!(one, 1);
        db.execute("CREATE TABLE t (x INTEGER)", ()).await.unwrap();
        // A statement of a write transaction that times out is
        // interrupted; the transaction can still be rolled back, and the
        // writer is free afterwards.
        let tx = db.begin().await.unwrap();
        tx.execute("INSERT INTO t VALUES (1)", ()).await.unwrap();
        let err = tx.fetch_one::<i64, _>(slow, ()).await.unwrap_err();
        assert!(is_statement_timeout(&err), "{err:?}");
        tx.rollback().await.unwrap();
        let n: i64 = db.fetch_one("SELECT COUNT(*) FROM t", ()).await.unwrap();
        assert_eq!(n, 0);
        db.execute("INSERT INTO t VALUES (2)", ()).await.unwrap();
    })
    .await
    .expect("hung");
}
