//! SQLite under faults: a panic inside a transaction, a flood of callers on
//! a small pool, and cancellations of queued and running jobs.
//!
//! Every test is bounded by its own timeout, so a hang fails instead of
//! stalling the run; timing bounds leave slack for a busy 2-core machine.

use crate::support::TestDb;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::task::Poll;
use std::time::{Duration, Instant};
use sylvan::prelude::*;
use sylvan::rusqlite;
use sylvan::{PoolConfig, TimeoutPhase};

/// The longest any test here may take.
const TEST_LIMIT: Duration = Duration::from_secs(120);

/// Jobs one worker may hold queued (`QUEUE_DEPTH` in the SQLite worker).
const QUEUE_DEPTH: usize = 32;

/// Runs `test`, failing it if it takes longer than [`TEST_LIMIT`].
async fn bounded<F: Future>(test: F) -> F::Output {
    tokio::time::timeout(TEST_LIMIT, test)
        .await
        .expect("the test hung")
}

/// Polls `f` once with the current task's waker.
async fn poll_once<F: Future + Unpin>(f: &mut F) -> Poll<F::Output> {
    std::future::poll_fn(|cx| Poll::Ready(Pin::new(&mut *f).poll(cx))).await
}

/// A query that counts to `n` (SQLite steps it for a long time when `n`
/// is large).
fn counting_to(n: u64) -> String {
    format!(
        "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < {n}) \
         SELECT count(*) FROM c"
    )
}

fn is_aborted(e: &Error) -> bool {
    matches!(e, Error::TransactionAborted { .. })
}

/// A panic in `Transaction::interact` after a write in the same
/// transaction poisons it: nothing of it is ever durable, and the pool is
/// healthy afterwards.
async fn panic_in_transaction_poisons_it(t: &TestDb) {
    let db = &t.db;
    db.execute(
        "CREATE TABLE poisoned (id INTEGER PRIMARY KEY, note TEXT NOT NULL)",
        (),
    )
    .await
    .unwrap();
    db.execute("INSERT INTO poisoned VALUES (0, 'before')", ())
        .await
        .unwrap();

    let tx = db.begin().await.unwrap();
    tx.execute("INSERT INTO poisoned VALUES (1, 'in the transaction')", ())
        .await
        .unwrap();
    let seen: i64 = tx
        .interact(|c| c.query_row("SELECT count(*) FROM poisoned", [], |r| r.get(0)))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(seen, 2, "interact runs inside the transaction");
    let panicked: sylvan::Result<()> = tx
        .interact(|c| {
            c.execute("INSERT INTO poisoned VALUES (2, 'in the closure')", [])
                .unwrap();
            panic!("a closure panics half-way (expected by the test)");
        })
        .await;
    assert!(
        matches!(panicked, Err(Error::WorkerPanicked)),
        "{panicked:?}"
    );

    let later = tx
        .execute("INSERT INTO poisoned VALUES (3, 'after')", ())
        .await
        .unwrap_err();
    assert!(is_aborted(&later), "{later:?}");
    let read = tx
        .fetch_one::<i64, _>("SELECT count(*) FROM poisoned", ())
        .await
        .unwrap_err();
    assert!(is_aborted(&read), "{read:?}");
    let closure = tx.interact(|_| ()).await.unwrap_err();
    assert!(is_aborted(&closure), "{closure:?}");
    let commit = tx.commit().await.unwrap_err();
    assert!(is_aborted(&commit), "commit after a panic: {commit:?}");

    let ids: Vec<i64> = db
        .fetch_all("SELECT id FROM poisoned ORDER BY id", ())
        .await
        .unwrap();
    assert_eq!(ids, vec![0], "the poisoned transaction left nothing behind");

    // The pool is healthy: the next transaction (on a fresh writer) commits.
    let tx = db.begin().await.unwrap();
    tx.execute("INSERT INTO poisoned VALUES (4, 'next')", ())
        .await
        .unwrap();
    tx.interact(|c| c.execute("INSERT INTO poisoned VALUES (5, 'next closure')", []))
        .await
        .unwrap()
        .unwrap();
    tx.commit().await.unwrap();
    let ids: Vec<i64> = db
        .fetch_all("SELECT id FROM poisoned ORDER BY id", ())
        .await
        .unwrap();
    assert_eq!(ids, vec![0, 4, 5]);
    let status = db.status();
    assert!(status.size <= status.max_size, "{status:?}");
}

#[tokio::test]
async fn panic_in_transaction_interact_poisons_it_file() {
    bounded(async {
        let t = TestDb::sqlite_file("panic_tx_file", PoolConfig::default().max_size(2)).await;
        panic_in_transaction_poisons_it(&t).await;
        // A second pool (new connections) on the same file sees the same.
        let other = Database::connect(&t.url).await.unwrap();
        let ids: Vec<i64> = other
            .fetch_all("SELECT id FROM poisoned ORDER BY id", ())
            .await
            .unwrap();
        assert_eq!(ids, vec![0, 4, 5]);
        other.close();
        t.cleanup().await;
    })
    .await;
}

#[tokio::test]
async fn panic_in_transaction_interact_poisons_it_memory() {
    bounded(async {
        let t = TestDb::sqlite_memory("panic_tx_mem", PoolConfig::default().max_size(2)).await;
        panic_in_transaction_poisons_it(&t).await;
        t.cleanup().await;
    })
    .await;
}

#[tokio::test]
async fn panic_in_transaction_interact_poisons_it_single_connection() {
    bounded(async {
        // A pool of one: the writer is also the only reader.
        let t = TestDb::sqlite_file("panic_tx_one", PoolConfig::default().max_size(1)).await;
        panic_in_transaction_poisons_it(&t).await;
        t.cleanup().await;
    })
    .await;
}

#[tokio::test]
async fn panic_in_interact_rolls_back_the_transaction_it_began() {
    bounded(async {
        let t = TestDb::sqlite_file("panic_begin", PoolConfig::default().max_size(2)).await;
        t.db.execute("CREATE TABLE p (id INTEGER PRIMARY KEY)", ())
            .await
            .unwrap();
        let conn = t.db.acquire().await.unwrap();
        let panicked: sylvan::Result<()> = conn
            .interact(|c| {
                c.execute_batch("BEGIN IMMEDIATE; INSERT INTO p VALUES (1);")
                    .unwrap();
                panic!("a closure panics inside its own transaction (expected by the test)");
            })
            .await;
        assert!(matches!(panicked, Err(Error::WorkerPanicked)));
        // Rolled back at once, while the connection is still checked out:
        // the write lock is free and the row never existed.
        let n: i64 = conn
            .interact(|c| c.query_row("SELECT count(*) FROM p", [], |r| r.get(0)))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(n, 0);
        let autocommit = conn.interact(|c| c.is_autocommit()).await.unwrap();
        assert!(autocommit);
        drop(conn);
        t.db.execute("INSERT INTO p VALUES (2)", ()).await.unwrap();
        let ids: Vec<i64> = t.db.fetch_all("SELECT id FROM p", ()).await.unwrap();
        assert_eq!(ids, vec![2]);
        t.cleanup().await;
    })
    .await;
}

#[tokio::test]
async fn transaction_interact_is_unsupported_on_postgres() {
    bounded(async {
        let Some(t) = TestDb::postgres("tx_interact_pg", PoolConfig::default().max_size(2)).await
        else {
            return;
        };
        let tx = t.db.begin().await.unwrap();
        let e = tx.interact(|_| ()).await.unwrap_err();
        assert!(matches!(e, Error::Unsupported { .. }), "{e:?}");
        tx.rollback().await.unwrap();
        t.cleanup().await;
    })
    .await;
}

/// 2,000 concurrent 64 KB inserts on a pool of 2 with a 200 ms wait
/// timeout: the overflow fails fast with a wait-phase timeout, every
/// acknowledged row is there, and no worker ever queues more than its bound.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn flood_of_inserts_fails_fast_and_stays_bounded() {
    const CALLERS: usize = 2_000;
    const WAIT: Duration = Duration::from_millis(200);
    const SLACK: Duration = Duration::from_secs(2);
    bounded(async {
        let t = TestDb::sqlite_file(
            "flood",
            PoolConfig::default().max_size(2).wait_timeout(WAIT),
        )
        .await;
        t.db.execute(
            "CREATE TABLE blobs (id INTEGER PRIMARY KEY, data BLOB NOT NULL)",
            (),
        )
        .await
        .unwrap();
        let mut tasks = tokio::task::JoinSet::new();
        for i in 0..CALLERS {
            let db = t.db.clone();
            tasks.spawn(async move {
                let payload = vec![(i % 251) as u8; 64 * 1024];
                let start = Instant::now();
                let result = db
                    .execute("INSERT INTO blobs (data) VALUES ($1)", (payload,))
                    .await;
                (result, start.elapsed())
            });
        }
        let (mut ok, mut timed_out) = (0_i64, 0_usize);
        let mut slowest = Duration::ZERO;
        while let Some(joined) = tasks.join_next().await {
            let (result, took) = joined.unwrap();
            slowest = slowest.max(took);
            match result {
                Ok(1) => ok += 1,
                Err(Error::PoolTimeout {
                    phase: TimeoutPhase::Wait,
                    timeout,
                    ..
                }) => {
                    assert_eq!(timeout, WAIT);
                    timed_out += 1;
                }
                other => panic!("unexpected result: {other:?}"),
            }
        }
        eprintln!(
            "flood: ok {ok}, timed out {timed_out}, slowest {slowest:?}, queue high water {}",
            t.db.sqlite_queue_high_water()
        );
        assert!(
            slowest < WAIT + SLACK,
            "the slowest caller waited {slowest:?} (ok {ok}, timed out {timed_out})"
        );
        assert!(ok > 0, "nothing succeeded");
        assert!(timed_out > 0, "no overflow: the flood was too small");
        let rows: i64 =
            t.db.fetch_one("SELECT count(*) FROM blobs", ())
                .await
                .unwrap();
        assert_eq!(
            rows, ok,
            "every acknowledged insert is there, and only those"
        );
        let high = t.db.sqlite_queue_high_water();
        assert!(
            (1..=QUEUE_DEPTH).contains(&high),
            "a worker queued {high} jobs (bound {QUEUE_DEPTH})"
        );
        // Healthy afterwards.
        t.db.execute("INSERT INTO blobs (data) VALUES ($1)", (vec![1_u8],))
            .await
            .unwrap();
        let status = t.db.status();
        assert!(status.size <= 2, "{status:?}");
        t.cleanup().await;
    })
    .await;
}

/// When a job of [`many_cancellations_are_never_missed`] is dropped.
#[derive(Debug, Clone, Copy)]
enum Plan {
    Keep,
    DropAfter(Duration),
    /// Dropped this long after it starts, then one `DropOnSignal` job too.
    DropOnceStarted(Duration),
    DropOnSignal,
}

/// How one job of [`many_cancellations_are_never_missed`] ended.
#[derive(Debug)]
enum Outcome {
    /// Awaited to the end.
    Kept(sylvan::Result<rusqlite::Result<()>>),
    /// Dropped; how far the job had got by the time the drop returned.
    Dropped { started: bool, counting: bool },
}

/// 200 slow jobs on one connection, dropped in a scrambled order while
/// waiting for room, queued, or running (some on purpose just after they
/// start). Each job marks its start, pauses
/// (between statements, where an interrupt does nothing), marks the start
/// of a long query, runs it, then writes its row. A job dropped before it
/// started must never run, and one dropped before its long query began must
/// have that query stopped (the progress handler checks every 500 VM steps,
/// far fewer than the query takes): either way its row is absent. Every
/// kept job ran.
#[tokio::test]
async fn many_cancellations_are_never_missed() {
    const JOBS: usize = 200;
    bounded(async {
        let t = TestDb::sqlite_file("cancel_many", PoolConfig::default().max_size(2)).await;
        t.db.execute("CREATE TABLE done (id INTEGER PRIMARY KEY)", ())
            .await
            .unwrap();
        let conn = t.db.acquire().await.unwrap();
        let flags = |_| {
            Arc::new(
                (0..JOBS)
                    .map(|_| AtomicBool::new(false))
                    .collect::<Vec<_>>(),
            )
        };
        let (started, counting) = (flags(0), flags(1));
        let slow = Arc::new(counting_to(20_000));
        let signal = tokio::sync::Notify::new();
        let mut seed = 0x9e37_79b9_7f4a_7c15_u64;
        let jobs = (0..JOBS).map(|i| {
            // xorshift: a quarter of the jobs are kept, a quarter dropped
            // after 0–400 ms, a quarter dropped 0–1.5 ms after they start
            // (mostly in their pause), each followed at once by the drop of
            // one of the last quarter (likely queued).
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            let plan = match seed % 4 {
                0 => Plan::Keep,
                1 => Plan::DropAfter(Duration::from_millis(seed % 400)),
                2 => Plan::DropOnceStarted(Duration::from_micros(seed % 1_500)),
                _ => Plan::DropOnSignal,
            };
            let signal = &signal;
            let (started, counting) = (Arc::clone(&started), Arc::clone(&counting));
            let slow = Arc::clone(&slow);
            let conn = &conn;
            async move {
                let (started_flags, counting_flags) = (Arc::clone(&started), Arc::clone(&counting));
                let mut job = Box::pin(conn.interact(move |c| {
                    started_flags[i].store(true, Ordering::SeqCst);
                    std::thread::sleep(Duration::from_millis(2));
                    counting_flags[i].store(true, Ordering::SeqCst);
                    c.query_row(&slow, [], |r| r.get::<_, i64>(0))?;
                    c.execute("INSERT INTO done (id) VALUES (?1)", [i as i64])?;
                    Ok(())
                }));
                match plan {
                    Plan::Keep => return Outcome::Kept(job.await),
                    Plan::DropAfter(after) => {
                        if let Ok(result) = tokio::time::timeout(after, &mut job).await {
                            return Outcome::Kept(result);
                        }
                    }
                    Plan::DropOnceStarted(after) => loop {
                        let tick = Duration::from_millis(1);
                        if let Ok(result) = tokio::time::timeout(tick, &mut job).await {
                            return Outcome::Kept(result);
                        }
                        if started[i].load(Ordering::SeqCst) {
                            // The reply needs no polling to arrive.
                            tokio::time::sleep(after).await;
                            drop(job);
                            signal.notify_one();
                            return Outcome::Dropped {
                                started: true,
                                counting: counting[i].load(Ordering::SeqCst),
                            };
                        }
                    },
                    Plan::DropOnSignal => {
                        tokio::select! {
                            result = &mut job => return Outcome::Kept(result),
                            () = signal.notified() => {}
                        }
                    }
                }
                drop(job);
                Outcome::Dropped {
                    started: started[i].load(Ordering::SeqCst),
                    counting: counting[i].load(Ordering::SeqCst),
                }
            }
        });
        let outcomes = futures_util::future::join_all(jobs).await;
        drop(conn);
        let done: std::collections::HashSet<i64> = t
            .db
            .fetch_all::<i64, _>("SELECT id FROM done", ())
            .await
            .unwrap()
            .into_iter()
            .collect();
        let (mut kept, mut unstarted, mut paused, mut counting_at_drop) = (0, 0, 0, 0);
        for (i, outcome) in outcomes.iter().enumerate() {
            let present = done.contains(&(i as i64));
            match outcome {
                Outcome::Kept(result) => {
                    kept += 1;
                    assert!(
                        matches!(result, Ok(Ok(()))),
                        "kept job {i} failed: {result:?}"
                    );
                    assert!(present, "kept job {i} left no row");
                }
                Outcome::Dropped { started: false, .. } => {
                    unstarted += 1;
                    assert!(!present, "job {i} was dropped before it started, yet it ran");
                }
                Outcome::Dropped {
                    counting: false, ..
                } => {
                    paused += 1;
                    assert!(
                        !present,
                        "job {i} was dropped before its long query began, yet the query ran to the end"
                    );
                }
                Outcome::Dropped { .. } => counting_at_drop += 1,
            }
        }
        eprintln!(
            "cancellations: kept {kept}, dropped before start {unstarted}, \
             between statements {paused}, while counting {counting_at_drop}"
        );
        assert!(
            kept > 0 && unstarted > 0,
            "kept {kept}, dropped before start {unstarted}"
        );
        t.cleanup().await;
    })
    .await;
}

/// A running job is cancelled while it is between two statements (where an
/// interrupt does nothing), then a queued one is cancelled too: the running
/// one must still be stopped at its next statement, and the queued one must
/// never run.
#[tokio::test]
async fn running_job_is_stopped_after_a_second_cancellation() {
    bounded(async {
        let t = TestDb::sqlite_file("cancel_two", PoolConfig::default().max_size(2)).await;
        t.db.execute("CREATE TABLE done (id INTEGER PRIMARY KEY)", ())
            .await
            .unwrap();
        let conn = t.db.acquire().await.unwrap();
        let (started_tx, started_rx) = tokio::sync::oneshot::channel::<()>();
        let endless = counting_to(1_000_000_000_000);
        let mut running = Box::pin(conn.interact(move |c| {
            let _ = started_tx.send(());
            // Between statements: the cancellation lands here.
            std::thread::sleep(Duration::from_millis(200));
            let counted = c.query_row(&endless, [], |r| r.get::<_, i64>(0));
            if counted.is_ok() {
                c.execute("INSERT INTO done (id) VALUES (1)", [])?;
            }
            counted.map(|_| ())
        }));
        assert!(poll_once(&mut running).await.is_pending());
        let mut queued =
            Box::pin(conn.interact(|c| c.execute("INSERT INTO done (id) VALUES (2)", [])));
        assert!(poll_once(&mut queued).await.is_pending());
        started_rx.await.unwrap();
        let cancelled_at = Instant::now();
        drop(running);
        drop(queued);
        // The next statement runs once the endless query has been stopped.
        let next = tokio::time::timeout(
            Duration::from_secs(10),
            conn.fetch_one::<i64, _>("SELECT count(*) FROM done", ()),
        )
        .await
        .expect("the cancelled running job was not stopped");
        assert_eq!(next.unwrap(), 0, "a cancelled job wrote");
        let took = cancelled_at.elapsed();
        assert!(took < Duration::from_secs(5), "stopped only after {took:?}");
        drop(conn);
        t.db.execute("INSERT INTO done (id) VALUES (3)", ())
            .await
            .unwrap();
        t.cleanup().await;
    })
    .await;
}

/// A job dropped while queued behind a busy worker gives its closure (and
/// everything the closure owns, such as binds) back at once, not when the
/// worker reaches it.
#[tokio::test]
async fn a_cancelled_queued_job_frees_its_closure_at_once() {
    bounded(async {
        let t = TestDb::sqlite_file("cancel_frees", PoolConfig::default().max_size(2)).await;
        let conn = t.db.acquire().await.unwrap();
        let (release_tx, release_rx) = std::sync::mpsc::channel::<()>();
        let mut busy = Box::pin(conn.interact(move |_| {
            let _ = release_rx.recv_timeout(Duration::from_secs(30));
        }));
        assert!(poll_once(&mut busy).await.is_pending());
        let token = Arc::new(());
        let held = Arc::clone(&token);
        let mut queued = Box::pin(conn.interact(move |_| drop(held)));
        assert!(poll_once(&mut queued).await.is_pending());
        assert_eq!(
            Arc::strong_count(&token),
            2,
            "the queued job holds its closure"
        );
        drop(queued);
        assert_eq!(
            Arc::strong_count(&token),
            1,
            "the dropped job's closure is still held by the queue"
        );
        release_tx.send(()).unwrap();
        busy.await.unwrap();
        drop(conn);
        t.cleanup().await;
    })
    .await;
}

/// A connection's queue is bounded too: a holder that fires many jobs at
/// once waits for room, and every job still runs.
#[tokio::test]
async fn session_jobs_wait_for_room_and_all_run() {
    bounded(async {
        let t = TestDb::sqlite_file("session_room", PoolConfig::default().max_size(2)).await;
        t.db.execute("CREATE TABLE done (id INTEGER PRIMARY KEY)", ())
            .await
            .unwrap();
        let conn = t.db.acquire().await.unwrap();
        let jobs = (0..(QUEUE_DEPTH as i64 * 4)).map(|i| {
            let conn = &conn;
            async move {
                conn.execute("INSERT INTO done (id) VALUES ($1)", (i,))
                    .await
            }
        });
        for result in futures_util::future::join_all(jobs).await {
            assert_eq!(result.unwrap(), 1);
        }
        drop(conn);
        let n: i64 =
            t.db.fetch_one("SELECT count(*) FROM done", ())
                .await
                .unwrap();
        assert_eq!(n, QUEUE_DEPTH as i64 * 4);
        assert!(t.db.sqlite_queue_high_water() <= QUEUE_DEPTH);
        t.cleanup().await;
    })
    .await;
}

/// With the worker busy and its queue full, one more job waits for room
/// for the pool's wait timeout and then fails with a wait-phase timeout,
/// without being queued; the queued ones all run once the worker is free.
#[tokio::test]
async fn a_full_queue_refuses_after_the_wait_timeout() {
    const WAIT: Duration = Duration::from_millis(200);
    bounded(async {
        let t = TestDb::sqlite_file(
            "queue_full",
            PoolConfig::default().max_size(2).wait_timeout(WAIT),
        )
        .await;
        let conn = t.db.acquire().await.unwrap();
        let (started_tx, started_rx) = tokio::sync::oneshot::channel::<()>();
        let (release_tx, release_rx) = std::sync::mpsc::channel::<()>();
        let mut busy = Box::pin(conn.interact(move |_| {
            let _ = started_tx.send(());
            let _ = release_rx.recv_timeout(Duration::from_secs(30));
        }));
        assert!(poll_once(&mut busy).await.is_pending());
        started_rx.await.unwrap();
        let mut queued: Vec<_> = (0..QUEUE_DEPTH)
            .map(|i| Box::pin(conn.interact(move |_| i)))
            .collect();
        for job in &mut queued {
            assert!(poll_once(job).await.is_pending());
        }
        let start = Instant::now();
        let refused = conn.interact(|_| ()).await.unwrap_err();
        let waited = start.elapsed();
        assert!(
            matches!(
                refused,
                Error::PoolTimeout {
                    phase: TimeoutPhase::Wait,
                    ..
                }
            ),
            "{refused:?}"
        );
        assert!(
            waited >= WAIT - Duration::from_millis(20) && waited < WAIT + Duration::from_secs(2),
            "waited {waited:?}"
        );
        release_tx.send(()).unwrap();
        busy.await.unwrap();
        for (i, job) in queued.into_iter().enumerate() {
            assert_eq!(job.await.unwrap(), i);
        }
        assert_eq!(t.db.sqlite_queue_high_water(), QUEUE_DEPTH);
        drop(conn);
        t.cleanup().await;
    })
    .await;
}
