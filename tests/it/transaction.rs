//! Transactions on both backends: commit visibility and rollback, nested
//! and dropped savepoints, the closure forms (`transaction`,
//! `transaction_with`, `transaction_retry`), panics and cancellation at
//! every await, constraint errors recovered through a savepoint, concurrent
//! read-modify-write, read-only and isolation options, and transactions on
//! a checked-out connection.

#![allow(clippy::unwrap_used)]

use crate::support::{both, both_with, eventually, Kind, TestDb};
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;
use sylvan::prelude::*;
use sylvan::{Connection, IsolationLevel, PoolConfig, TransactionOptions};

#[derive(Debug, Clone, PartialEq, Model)]
#[model(table = "items")]
struct Item {
    #[model(primary_key)]
    id: i64,
    grp: i64,
    note: Option<String>,
}

const INSERT: &str = "INSERT INTO items (id, grp) VALUES ($1, $2)";

async fn create_items(t: &TestDb) {
    t.db.execute(
        "CREATE TABLE items (id BIGINT PRIMARY KEY, grp BIGINT NOT NULL, note TEXT)",
        (),
    )
    .await
    .unwrap();
}

async fn insert<E: Executor>(e: &E, id: i64, grp: i64) -> sylvan::Result<u64> {
    e.execute(INSERT, (id, grp)).await
}

/// Every id in `items`, as `e` sees it.
async fn ids<E: Executor>(e: &E) -> Vec<i64> {
    e.fetch_all("SELECT id FROM items ORDER BY id", ())
        .await
        .unwrap()
}

async fn group_rows(db: &Database, grp: i64) -> i64 {
    retry_stray(|| db.fetch_one("SELECT count(*) FROM items WHERE grp = $1", (grp,)))
        .await
        .unwrap()
}

/// PostgreSQL SQLSTATE 57014 (query canceled). No test here cancels a
/// statement on purpose through the server, so this is the known bug
/// pinned by `a_cleanup_cancel_never_hits_the_next_user_of_the_connection`:
/// the cancel the pool sends for an abandoned statement can land on a later
/// statement of the reused session. Tests that abandon statements on
/// PostgreSQL tolerate it (and only it) where it cannot hide what they
/// check.
fn is_stray_cancel(e: &Error) -> bool {
    matches!(e, Error::Database { code: Some(c), .. } if c == "57014")
}

/// Runs `f` again (up to three runs) when it fails with a stray cancel.
async fn retry_stray<T, F, Fut>(mut f: F) -> sylvan::Result<T>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = sylvan::Result<T>>,
{
    let mut runs = 1;
    loop {
        match f().await {
            Err(e) if runs < 3 && is_stray_cancel(&e) => runs += 1,
            other => return other,
        }
    }
}

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

/// Watches this test's PostgreSQL backends through one admin connection
/// (a no-op on SQLite).
struct Watch {
    admin: Option<Database>,
    name: String,
}

impl Watch {
    async fn new(t: &TestDb) -> Watch {
        let admin = match t.kind {
            Kind::Sqlite => None,
            Kind::Postgres => Some(
                Database::builder(&crate::support::pg_base_url())
                    .pool(PoolConfig::default().max_size(1))
                    .connect()
                    .await
                    .unwrap(),
            ),
        };
        Watch {
            admin,
            name: t.name.clone(),
        }
    }

    /// Backends of this test running a query or sitting in a transaction.
    async fn busy(&self) -> Vec<(i32, String, String)> {
        let Some(admin) = &self.admin else {
            return Vec::new();
        };
        admin
            .fetch_all(
                "SELECT pid, state, query FROM pg_stat_activity \
                 WHERE application_name = $1 \
                   AND (state = 'active' OR state LIKE 'idle in transaction%')",
                (self.name.as_str(),),
            )
            .await
            .unwrap()
    }

    /// Waits (3 s at most) until no backend of this test is busy.
    async fn assert_settled(&self, what: &str) {
        if self.admin.is_none() {
            return;
        }
        let settled = eventually(Duration::from_secs(3), || async {
            self.busy().await.is_empty()
        })
        .await;
        assert!(
            settled,
            "{what}: backends still active or idle in transaction: {:?}",
            self.busy().await
        );
    }

    fn close(self) {
        if let Some(admin) = self.admin {
            admin.close();
        }
    }
}

async fn assert_serves_quickly(db: &Database, what: &str) {
    for _ in 0..3 {
        let r = tokio::time::timeout(
            Duration::from_secs(1),
            db.fetch_one::<i64, _>("SELECT CAST(1 AS BIGINT)", ()),
        )
        .await;
        match r {
            Ok(Ok(v)) => {
                assert_eq!(v, 1);
                return;
            }
            // See `is_stray_cancel`: try again, with a fresh second.
            Ok(Err(e)) if is_stray_cancel(&e) => {}
            other => panic!("{what}: the pool did not serve a query within a second: {other:?}"),
        }
    }
    panic!("{what}: three stray cancels in a row");
}

/// Runs a future but drops it the `n`-th time it would wait (`n = 0`: at
/// its first await that is not ready at once). `None` when it was dropped.
struct CutAfter<F: Future> {
    fut: Pin<Box<F>>,
    waits_left: usize,
}

fn cut_after<F: Future>(n: usize, fut: F) -> CutAfter<F> {
    CutAfter {
        fut: Box::pin(fut),
        waits_left: n,
    }
}

impl<F: Future> Future for CutAfter<F> {
    type Output = Option<F::Output>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match self.fut.as_mut().poll(cx) {
            Poll::Ready(v) => Poll::Ready(Some(v)),
            Poll::Pending if self.waits_left == 0 => Poll::Ready(None),
            Poll::Pending => {
                self.waits_left -= 1;
                Poll::Pending
            }
        }
    }
}

async fn yields(n: usize) {
    for _ in 0..n {
        tokio::task::yield_now().await;
    }
}

const PANIC_MARK: &str = "intentional panic inside a transaction";

/// Keeps the 500 intentional panics out of the output (any other panic
/// still goes to the previous hook).
fn quiet_intentional_panics() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if !info
                .payload_as_str()
                .is_some_and(|m| m.contains(PANIC_MARK))
            {
                previous(info);
            }
        }));
    });
}

fn boom(i: i64) {
    panic!("{PANIC_MARK} ({i})");
}

// 1: commit visibility and rollback -------------------------------------

async fn commit_is_visible_and_rollback_leaves_nothing(t: TestDb) -> TestDb {
    create_items(&t).await;
    // A second pool on the same database: another process, in effect.
    let other = Database::builder(&t.url)
        .pool(PoolConfig::default().max_size(2))
        .connect()
        .await
        .unwrap();

    let tx = t.db.begin().await.unwrap();
    assert!(!tx.is_savepoint());
    insert(&tx, 1, 1).await.unwrap();
    insert(&tx, 2, 1).await.unwrap();
    assert_eq!(ids(&tx).await, vec![1, 2], "own writes are visible inside");
    // Not visible from any other connection before COMMIT (on SQLite the
    // pool's reads go to a reader while the writer holds this transaction).
    assert_eq!(ids(&t.db).await, Vec::<i64>::new());
    assert_eq!(ids(&other).await, Vec::<i64>::new());
    let n: i64 =
        t.db.fetch_one("SELECT count(*) FROM items", ())
            .await
            .unwrap();
    assert_eq!(n, 0);
    tx.commit().await.unwrap();
    assert_eq!(ids(&t.db).await, vec![1, 2]);
    assert_eq!(ids(&other).await, vec![1, 2]);

    // Explicit rollback.
    let tx = t.db.begin().await.unwrap();
    insert(&tx, 3, 2).await.unwrap();
    tx.execute("UPDATE items SET grp = 99", ()).await.unwrap();
    tx.rollback().await.unwrap();
    assert_eq!(ids(&t.db).await, vec![1, 2]);
    assert_eq!(ids(&other).await, vec![1, 2]);
    assert_eq!(group_rows(&t.db, 99).await, 0);

    // Dropped without commit or rollback.
    let tx = t.db.begin().await.unwrap();
    insert(&tx, 4, 2).await.unwrap();
    tx.execute("DELETE FROM items WHERE id = 1", ())
        .await
        .unwrap();
    drop(tx);
    assert_eq!(ids(&t.db).await, vec![1, 2]);
    assert_eq!(ids(&other).await, vec![1, 2]);

    // The next transaction runs at once (SQLite: the write lock is free).
    let tx = tokio::time::timeout(Duration::from_secs(5), t.db.begin())
        .await
        .expect("the next BEGIN waited for the dropped transaction")
        .unwrap();
    insert(&tx, 5, 3).await.unwrap();
    tx.commit().await.unwrap();
    assert_eq!(ids(&other).await, vec![1, 2, 5]);

    // Another process can write once the transactions are over.
    insert(&other, 6, 3).await.unwrap();
    assert_eq!(ids(&t.db).await, vec![1, 2, 5, 6]);
    other.close();
    t
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn commit_is_visible_to_other_connections_and_rollback_leaves_nothing() {
    both(
        "tx_visibility",
        commit_is_visible_and_rollback_leaves_nothing,
    )
    .await;
}

// 2: savepoints ---------------------------------------------------------

async fn savepoint_cases(t: TestDb) -> TestDb {
    create_items(&t).await;

    // A savepoint rolled back keeps the outer work.
    let mut tx = t.db.begin().await.unwrap();
    insert(&tx, 1, 0).await.unwrap();
    {
        let sp = tx.savepoint().await.unwrap();
        assert!(sp.is_savepoint());
        insert(&sp, 2, 0).await.unwrap();
        assert_eq!(ids(&sp).await, vec![1, 2]);
        sp.rollback().await.unwrap();
    }
    assert_eq!(ids(&tx).await, vec![1]);
    insert(&tx, 3, 0).await.unwrap();
    tx.commit().await.unwrap();
    assert_eq!(ids(&t.db).await, vec![1, 3]);

    // Two levels deep.
    let mut tx = t.db.begin().await.unwrap();
    insert(&tx, 10, 1).await.unwrap();
    {
        let mut sp1 = tx.savepoint().await.unwrap();
        insert(&sp1, 11, 1).await.unwrap();
        {
            let sp2 = sp1.savepoint().await.unwrap();
            assert!(sp2.is_savepoint());
            insert(&sp2, 12, 1).await.unwrap();
            assert_eq!(ids(&sp2).await, vec![1, 3, 10, 11, 12]);
            sp2.rollback().await.unwrap();
        }
        assert_eq!(ids(&sp1).await, vec![1, 3, 10, 11]);
        {
            let sp2 = sp1.savepoint().await.unwrap();
            insert(&sp2, 13, 1).await.unwrap();
            sp2.commit().await.unwrap();
        }
        assert_eq!(ids(&sp1).await, vec![1, 3, 10, 11, 13]);
        sp1.commit().await.unwrap();
    }
    {
        // A released inner savepoint goes when its outer savepoint is
        // rolled back.
        let mut sp1 = tx.savepoint().await.unwrap();
        insert(&sp1, 14, 1).await.unwrap();
        {
            let sp2 = sp1.savepoint().await.unwrap();
            insert(&sp2, 15, 1).await.unwrap();
            sp2.commit().await.unwrap();
        }
        assert_eq!(ids(&sp1).await, vec![1, 3, 10, 11, 13, 14, 15]);
        sp1.rollback().await.unwrap();
    }
    assert_eq!(ids(&tx).await, vec![1, 3, 10, 11, 13]);
    tx.commit().await.unwrap();
    assert_eq!(ids(&t.db).await, vec![1, 3, 10, 11, 13]);

    // A savepoint dropped without commit or rollback is rolled back before
    // the outer transaction's next statement.
    let mut tx = t.db.begin().await.unwrap();
    insert(&tx, 20, 2).await.unwrap();
    {
        let sp = tx.savepoint().await.unwrap();
        insert(&sp, 21, 2).await.unwrap();
    }
    assert_eq!(group_ids(&tx, 2).await, vec![20], "dropped savepoint kept");
    {
        let mut sp1 = tx.savepoint().await.unwrap();
        insert(&sp1, 22, 2).await.unwrap();
        {
            let sp2 = sp1.savepoint().await.unwrap();
            insert(&sp2, 23, 2).await.unwrap();
        }
        assert_eq!(group_ids(&sp1, 2).await, vec![20, 22]);
        // sp1 dropped too
    }
    insert(&tx, 24, 2).await.unwrap();
    assert_eq!(group_ids(&tx, 2).await, vec![20, 24]);
    {
        // Both levels dropped with nothing run in between.
        let mut sp1 = tx.savepoint().await.unwrap();
        insert(&sp1, 25, 2).await.unwrap();
        let sp2 = sp1.savepoint().await.unwrap();
        insert(&sp2, 26, 2).await.unwrap();
    }
    {
        // A new savepoint after a dropped one (same depth, same name).
        let sp = tx.savepoint().await.unwrap();
        insert(&sp, 27, 2).await.unwrap();
        sp.commit().await.unwrap();
    }
    {
        // Dropped, then the outer commits straight away.
        let sp = tx.savepoint().await.unwrap();
        insert(&sp, 28, 2).await.unwrap();
    }
    tx.commit().await.unwrap();
    assert_eq!(group_ids(&t.db, 2).await, vec![20, 24, 27]);

    // A released savepoint is kept when the outer commits...
    let mut tx = t.db.begin().await.unwrap();
    {
        let sp = tx.savepoint().await.unwrap();
        insert(&sp, 30, 3).await.unwrap();
        sp.commit().await.unwrap();
    }
    tx.commit().await.unwrap();
    // ...and goes with the outer transaction when it rolls back or is dropped.
    let mut tx = t.db.begin().await.unwrap();
    {
        let sp = tx.savepoint().await.unwrap();
        insert(&sp, 31, 3).await.unwrap();
        sp.commit().await.unwrap();
    }
    tx.rollback().await.unwrap();
    let mut tx = t.db.begin().await.unwrap();
    {
        let sp = tx.savepoint().await.unwrap();
        insert(&sp, 32, 3).await.unwrap();
        sp.commit().await.unwrap();
    }
    {
        let sp = tx.savepoint().await.unwrap();
        insert(&sp, 33, 3).await.unwrap();
    }
    drop(tx);
    // A dropped savepoint, then an explicit rollback of the outer.
    let mut tx = t.db.begin().await.unwrap();
    {
        let sp = tx.savepoint().await.unwrap();
        insert(&sp, 34, 3).await.unwrap();
    }
    tx.rollback().await.unwrap();
    assert_eq!(group_ids(&t.db, 3).await, vec![30]);
    assert_eq!(
        ids(&t.db).await,
        vec![1, 3, 10, 11, 13, 20, 24, 27, 30],
        "final state"
    );
    t
}

async fn group_ids<E: Executor>(e: &E, grp: i64) -> Vec<i64> {
    e.fetch_all("SELECT id FROM items WHERE grp = $1 ORDER BY id", (grp,))
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn savepoints_roll_back_alone_nest_and_are_rolled_back_when_dropped() {
    both("tx_savepoints", savepoint_cases).await;
}

/// A savepoint dropped unfinished is queued for rollback before the outer
/// transaction's next statement. If that next statement is itself cancelled
/// (a timeout) and the transaction goes on, the queued rollback must still
/// happen: the dropped savepoint's work must never be committed.
async fn dropped_savepoint_survives_a_cancelled_statement(t: TestDb) -> TestDb {
    create_items(&t).await;
    // One held connection: no pool cleanup (and no stray cancel) between
    // the rounds.
    let mut conn = t.db.acquire().await.unwrap();
    let mut expected = 0;
    for n in 0..6_usize {
        let base = n as i64 * 10;
        let mut tx = conn.begin().await.unwrap();
        insert(&tx, base, 0).await.unwrap();
        {
            let sp = tx.savepoint().await.unwrap();
            insert(&sp, base + 1, 1).await.unwrap();
        }
        // The next statement (a read) is cancelled at its n-th await.
        let cut = cut_after(n, tx.fetch_one::<i64, _>("SELECT count(*) FROM items", ())).await;
        let later = insert(&tx, base + 2, 0).await;
        let committed = tx.commit().await;
        assert_eq!(
            group_ids(&t.db, 1).await,
            Vec::<i64>::new(),
            "{:?}, cut at wait {n}: the dropped savepoint's row was committed",
            t.kind
        );
        match cut {
            // The read finished: the transaction goes on and commits.
            Some(read) => {
                read.unwrap();
                later.unwrap();
                committed.unwrap();
                expected += 2;
            }
            // Cut before the read was sent (while the dropped savepoint
            // was being rolled back): nothing was abandoned.
            None if later.is_ok() => {
                committed.unwrap();
                expected += 2;
            }
            // The read was abandoned: the whole transaction is refused.
            None => {
                for r in [later.map(|_| ()), committed] {
                    assert!(
                        matches!(r, Err(Error::TransactionAborted { .. })),
                        "{:?}, cut at wait {n}: {r:?}",
                        t.kind
                    );
                }
            }
        }
        assert_eq!(group_ids(&t.db, 0).await.len(), expected);
    }
    drop(conn);
    t
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dropped_savepoint_stays_rolled_back_when_the_next_statement_is_cancelled() {
    both(
        "tx_sp_cancel",
        dropped_savepoint_survives_a_cancelled_statement,
    )
    .await;
}

// 3: the closure form ---------------------------------------------------

#[derive(Debug)]
enum AppError {
    Db(Error),
    Rejected(i64),
}

impl From<Error> for AppError {
    fn from(e: Error) -> Self {
        AppError::Db(e)
    }
}

async fn closure_cases(t: TestDb) -> TestDb {
    create_items(&t).await;

    // Err rolls back, with the caller's own error type.
    let r: Result<(), AppError> =
        t.db.transaction(async |tx| {
            insert(&*tx, 1, 1).await?;
            Item {
                id: 2,
                grp: 1,
                note: Some("model".into()),
            }
            .insert(&*tx)
            .await?;
            let n = Item::objects().filter(Item::GRP.eq(1)).count(&*tx).await?;
            Err(AppError::Rejected(n))
        })
        .await;
    match r {
        Err(AppError::Rejected(n)) => assert_eq!(n, 2, "both inserts seen inside"),
        Err(AppError::Db(e)) => panic!("{e}"),
        Ok(()) => panic!("the closure failed"),
    }
    assert_eq!(ids(&t.db).await, Vec::<i64>::new());

    // Err with sylvan::Error, from a failing statement through `?`.
    let r =
        t.db.transaction(async |tx| {
            insert(&*tx, 3, 1).await?;
            Item::get(&*tx, 12345).await?;
            Ok::<_, Error>(())
        })
        .await;
    assert!(r.unwrap_err().is_not_found());
    assert_eq!(ids(&t.db).await, Vec::<i64>::new());

    // Ok commits and hands back the closure's value; QuerySet terminals and
    // the per-object API run inside.
    let first =
        t.db.transaction(async |tx| {
            let a = Item {
                id: 10,
                grp: 2,
                note: None,
            }
            .insert(&*tx)
            .await?;
            let b = Model::insert(
                Item {
                    id: 11,
                    grp: 2,
                    note: Some("b".into()),
                },
                &*tx,
            )
            .await?;
            let c = Item {
                id: 12,
                grp: 2,
                note: None,
            }
            .insert(&*tx)
            .await?;
            let all = Item::objects()
                .filter(Item::GRP.eq(2))
                .order_by(Item::ID.asc())
                .all(&*tx)
                .await?;
            assert_eq!(all, vec![a, b.clone(), c.clone()]);
            assert!(Item::objects().filter(Item::ID.eq(10)).exists(&*tx).await?);
            let deleted = Item::objects().filter(Item::ID.eq(10)).delete(&*tx).await?;
            assert_eq!(deleted, 1);
            c.delete(&*tx).await?;
            let mut b = b;
            b.note = Some("changed".into());
            b.save(&*tx).await?;
            let mut fresh = Item::get(&*tx, 11).await?;
            fresh.refresh(&*tx).await?;
            assert_eq!(fresh.note.as_deref(), Some("changed"));
            // A savepoint inside the closure.
            {
                let sp = tx.savepoint().await?;
                insert(&sp, 13, 2).await?;
                sp.rollback().await?;
            }
            Item::objects()
                .filter(Item::GRP.eq(2))
                .order_by(Item::ID.asc())
                .first(&*tx)
                .await
        })
        .await
        .unwrap();
    assert_eq!(
        first,
        Some(Item {
            id: 11,
            grp: 2,
            note: Some("changed".into())
        })
    );
    assert_eq!(ids(&t.db).await, vec![11]);
    assert_eq!(
        Item::get(&t.db, 11).await.unwrap().note.as_deref(),
        Some("changed")
    );

    // transaction_with: the options reach BEGIN; Ok commits.
    let n =
        t.db.transaction_with(
            TransactionOptions::new().isolation(IsolationLevel::Serializable),
            async |tx| {
                insert(&*tx, 20, 3).await?;
                Item::objects().count(&*tx).await
            },
        )
        .await
        .unwrap();
    assert_eq!(n, 2);
    if t.kind == Kind::Postgres {
        let level: String =
            t.db.transaction_with(
                TransactionOptions::new().isolation(IsolationLevel::RepeatableRead),
                async |tx| {
                    tx.fetch_one("SELECT current_setting('transaction_isolation')", ())
                        .await
                },
            )
            .await
            .unwrap();
        assert_eq!(level, "repeatable read");
    }
    assert_eq!(ids(&t.db).await, vec![11, 20]);
    t
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_closure_form_commits_on_ok_and_rolls_back_on_err() {
    both("tx_closure", closure_cases).await;
}

async fn retry_cases(t: TestDb) -> TestDb {
    create_items(&t).await;
    let opts = TransactionOptions::new();

    // A conflict is retried up to `attempts` runs in all; each failed run
    // is rolled back.
    let calls = Arc::new(AtomicUsize::new(0));
    let r: sylvan::Result<()> =
        t.db.transaction_retry(opts, 3, async |tx| {
            let call = calls.fetch_add(1, Ordering::SeqCst) as i64;
            insert(&*tx, 100 + call, 1).await?;
            Err(Error::SerializationFailure {
                message: "simulated".into(),
                sql: "simulated".into(),
            })
        })
        .await;
    assert!(
        matches!(r, Err(Error::SerializationFailure { .. })),
        "{r:?}"
    );
    assert_eq!(calls.load(Ordering::SeqCst), 3);
    assert_eq!(ids(&t.db).await, Vec::<i64>::new());

    // Success on the third run: only that run's work is kept.
    let calls = Arc::new(AtomicUsize::new(0));
    let got =
        t.db.transaction_retry(opts, 5, async |tx| {
            let call = calls.fetch_add(1, Ordering::SeqCst) as i64;
            insert(&*tx, 200 + call, 2).await?;
            if call < 2 {
                return Err(Error::SerializationFailure {
                    message: "simulated".into(),
                    sql: "simulated".into(),
                });
            }
            Ok(call)
        })
        .await
        .unwrap();
    assert_eq!(got, 2);
    assert_eq!(calls.load(Ordering::SeqCst), 3);
    assert_eq!(ids(&t.db).await, vec![202]);

    // Other errors are not retried.
    let calls = Arc::new(AtomicUsize::new(0));
    let r: sylvan::Result<()> =
        t.db.transaction_retry(opts, 5, async |tx| {
            calls.fetch_add(1, Ordering::SeqCst);
            insert(&*tx, 202, 2).await?; // duplicate key
            Ok(())
        })
        .await;
    assert!(r.unwrap_err().is_unique_violation());
    assert_eq!(calls.load(Ordering::SeqCst), 1);
    let calls = Arc::new(AtomicUsize::new(0));
    let r: sylvan::Result<()> =
        t.db.transaction_retry(opts, 5, async |_tx| {
            calls.fetch_add(1, Ordering::SeqCst);
            Err(Error::CommitOutcomeUnknown {
                source: "simulated".into(),
            })
        })
        .await;
    assert!(matches!(r, Err(Error::CommitOutcomeUnknown { .. })));
    assert_eq!(calls.load(Ordering::SeqCst), 1);
    assert_eq!(ids(&t.db).await, vec![202]);
    t
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn transaction_retry_reruns_conflicts_only() {
    both("tx_retry", retry_cases).await;
}

// 4: panics -------------------------------------------------------------

async fn panics_roll_back(t: TestDb) -> TestDb {
    const RUNS: i64 = 500;
    const AT_ONCE: i64 = 8;
    create_items(&t).await;
    let watch = Watch::new(&t).await;
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
    let mut stray = 0;
    for start in (0..RUNS).step_by(AT_ONCE as usize) {
        let tasks: Vec<_> = (start..(start + AT_ONCE).min(RUNS))
            .map(|i| {
                let db = t.db.clone();
                tokio::spawn(async move {
                    db.transaction(async |tx| {
                        // Panic at different points of the transaction.
                        if i % 5 == 0 {
                            boom(i);
                        }
                        insert(&*tx, i, i).await?;
                        if i % 5 == 1 {
                            boom(i);
                        }
                        {
                            let sp = tx.savepoint().await?;
                            insert(&sp, RUNS + i, i).await?;
                            if i % 5 == 2 {
                                boom(i); // with the savepoint open
                            }
                            sp.commit().await?;
                        }
                        let n = Item::objects().filter(Item::GRP.eq(i)).count(&*tx).await?;
                        assert_eq!(n, 2);
                        if i % 5 == 3 {
                            // With a statement in flight.
                            let stmt = std::pin::pin!(
                                tx.fetch_one::<i64, _>("SELECT count(*) FROM items", ())
                            );
                            let _ = futures_poll_once(stmt).await;
                        }
                        boom(i);
                        Ok::<_, Error>(())
                    })
                    .await
                })
            })
            .collect();
        for task in tasks {
            match task.await {
                Err(e) => assert!(e.is_panic(), "{e:?}"),
                // A PostgreSQL transaction hit by the known stray cancel
                // (see `is_stray_cancel`) fails before its panic; it is
                // rolled back like the others.
                Ok(Err(e)) if is_stray_cancel(&e) => stray += 1,
                Ok(r) => panic!("the transaction did not panic: {r:?}"),
            }
        }
    }
    if stray > 0 {
        eprintln!("{:?}: {stray} stray cancels", t.kind);
    }
    stop.store(true, Ordering::SeqCst);
    let max = sampler.await.unwrap();
    assert!(max <= 4, "pool grew to {max}");
    let status = t.db.status();
    assert!(status.size <= 4, "{status:?}");
    watch.assert_settled("after 500 panics").await;
    assert_serves_quickly(&t.db, "after 500 panics").await;
    let n: i64 = retry_stray(|| t.db.fetch_one("SELECT count(*) FROM items", ()))
        .await
        .unwrap();
    assert_eq!(n, 0, "rows of panicking transactions exist");

    // The pool still runs transactions, concurrently.
    let tasks: Vec<_> = (0..16_i64)
        .map(|i| {
            let db = t.db.clone();
            tokio::spawn(async move {
                retry_stray(|| {
                    db.transaction(async |tx| {
                        insert(&*tx, 10_000 + i, -1).await?;
                        Ok::<_, Error>(())
                    })
                })
                .await
            })
        })
        .collect();
    for task in tasks {
        task.await.unwrap().unwrap();
    }
    assert_eq!(group_rows(&t.db, -1).await, 16);
    assert!(t.db.status().size <= 4);
    watch.assert_settled("after the final transactions").await;
    watch.close();
    t
}

/// Polls `fut` once and gives up if it is not ready.
async fn futures_poll_once<F: Future + Unpin>(mut fut: F) -> Option<F::Output> {
    std::future::poll_fn(|cx| match Pin::new(&mut fut).poll(cx) {
        Poll::Ready(v) => Poll::Ready(Some(v)),
        Poll::Pending => Poll::Ready(None),
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_panic_inside_the_closure_rolls_back_and_the_pool_stays_healthy() {
    quiet_intentional_panics();
    both_with(
        "tx_panic",
        PoolConfig::default().max_size(4),
        panics_roll_back,
    )
    .await;
}

// 5: cancellation at every await ----------------------------------------

/// One unit of work: the two rows of group `g`, both or neither.
async fn pair(db: &Database, g: i64, slow: Option<&str>) -> sylvan::Result<()> {
    let tx = db.begin().await?;
    insert(&tx, 2 * g, g).await?;
    if let Some(sql) = slow {
        let _: i64 = tx.fetch_one(sql, ()).await?;
    }
    insert(&tx, 2 * g + 1, g).await?;
    tx.commit().await
}

/// The same through the closure form.
async fn pair_closure(db: &Database, g: i64) -> sylvan::Result<()> {
    db.transaction(async |tx| {
        insert(&*tx, 2 * g, g).await?;
        {
            let sp = tx.savepoint().await?;
            insert(&sp, 2 * g + 1, g).await?;
            sp.commit().await?;
        }
        Ok(())
    })
    .await
}

/// The oracle after one cut: nothing busy on the server, the pool answers,
/// and group `g` is whole or absent (whole if the work committed, absent if
/// it failed). True when the work committed.
async fn check_cut(
    t: &TestDb,
    watch: &Watch,
    g: i64,
    outcome: Option<sylvan::Result<()>>,
    what: &str,
) -> bool {
    watch.assert_settled(what).await;
    assert_serves_quickly(&t.db, what).await;
    let n = group_rows(&t.db, g).await;
    let committed = matches!(outcome, Some(Ok(())));
    match outcome {
        Some(Ok(())) => assert_eq!(n, 2, "{what}: committed, yet {n} rows"),
        // Only the known stray cancel may fail a transaction that was not
        // cut; it must then be rolled back.
        Some(Err(e)) if is_stray_cancel(&e) => {
            eprintln!("{what}: stray cancel: {e}");
            assert_eq!(n, 0, "{what}: failed, yet {n} rows");
        }
        Some(Err(e)) => panic!("{what}: the transaction failed: {e:?}"),
        None => assert!(n == 0 || n == 2, "{what}: half-written ({n} of 2 rows)"),
    }
    committed
}

async fn cancellation_cases(t: TestDb) -> TestDb {
    create_items(&t).await;
    let watch = Watch::new(&t).await;
    let kind = t.kind;
    let mut g = 0_i64;

    // Dropped at its n-th wait, for n = 0, 1, 2, … until it completes
    // three times in a row.
    for closure in [false, true] {
        let mut in_a_row = 0;
        let mut n = 0;
        while in_a_row < 3 {
            assert!(n < 300, "never completed");
            g += 1;
            let outcome = if closure {
                cut_after(n, pair_closure(&t.db, g)).await
            } else {
                cut_after(n, pair(&t.db, g, None)).await
            };
            let what = format!("{kind:?} cut at wait {n} (closure: {closure})");
            if check_cut(&t, &watch, g, outcome, &what).await {
                in_a_row += 1;
            } else {
                in_a_row = 0;
            }
            n += 1;
        }
    }

    // tokio::time::timeout with tiny and zero durations.
    for us in [
        0_u64, 0, 0, 1, 2, 5, 10, 20, 35, 50, 75, 100, 150, 200, 300, 400, 500, 700, 1000, 1500,
        2000, 3000, 5000, 8000,
    ] {
        g += 1;
        let outcome = tokio::time::timeout(Duration::from_micros(us), pair(&t.db, g, None))
            .await
            .ok();
        check_cut(&t, &watch, g, outcome, &format!("{kind:?} timeout {us} µs")).await;
    }

    // tokio::select! against a branch ready at once or after k yields.
    for k in 0..16 {
        g += 1;
        let outcome = tokio::select! {
            biased;
            r = pair(&t.db, g, None) => Some(r),
            () = yields(k) => None,
        };
        check_cut(
            &t,
            &watch,
            g,
            outcome,
            &format!("{kind:?} select, {k} yields"),
        )
        .await;
    }
    for round in 0..8 {
        g += 1;
        let outcome = tokio::select! {
            r = pair_closure(&t.db, g) => Some(r),
            () = std::future::ready(()) => None,
        };
        check_cut(
            &t,
            &watch,
            g,
            outcome,
            &format!("{kind:?} select ready #{round}"),
        )
        .await;
    }

    // Dropped at COMMIT: the two rows are written, then COMMIT is cut.
    for n in 0..4 {
        g += 1;
        let tx = t.db.begin().await.unwrap();
        insert(&tx, 2 * g, g).await.unwrap();
        insert(&tx, 2 * g + 1, g).await.unwrap();
        let outcome = cut_after(n, tx.commit()).await;
        check_cut(
            &t,
            &watch,
            g,
            outcome,
            &format!("{kind:?} COMMIT cut at wait {n}"),
        )
        .await;
    }
    g += 1;
    let tx = t.db.begin().await.unwrap();
    insert(&tx, 2 * g, g).await.unwrap();
    insert(&tx, 2 * g + 1, g).await.unwrap();
    let outcome = tokio::time::timeout(Duration::ZERO, tx.commit()).await.ok();
    check_cut(
        &t,
        &watch,
        g,
        outcome,
        &format!("{kind:?} COMMIT timeout 0"),
    )
    .await;

    // Dropped in the middle of a long statement between the two inserts:
    // the statement must stop (PostgreSQL: no backend left `active`).
    let slow = match kind {
        Kind::Postgres => "SELECT CAST(1 AS BIGINT) FROM pg_sleep(5)",
        Kind::Sqlite => {
            "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 1000000000) \
             SELECT count(*) FROM c"
        }
    };
    for ms in [5_u64, 30, 100] {
        g += 1;
        let outcome = tokio::time::timeout(Duration::from_millis(ms), pair(&t.db, g, Some(slow)))
            .await
            .ok();
        assert!(outcome.is_none(), "the slow statement finished?");
        check_cut(
            &t,
            &watch,
            g,
            outcome,
            &format!("{kind:?} mid-statement {ms} ms"),
        )
        .await;
    }

    // The data invariant over everything.
    let broken: Vec<(i64, i64)> =
        t.db.fetch_all(
            "SELECT grp, count(*) FROM items GROUP BY grp HAVING count(*) <> 2",
            (),
        )
        .await
        .unwrap();
    assert!(broken.is_empty(), "half-written groups: {broken:?}");
    let status = t.db.status();
    assert!(status.size <= 4, "{status:?}");

    // SQLite: no write lock left behind for another process.
    if kind == Kind::Sqlite {
        let other = Database::builder(&t.url)
            .pool(PoolConfig::default().max_size(1))
            .sqlite_busy_timeout(Duration::from_secs(3))
            .connect()
            .await
            .unwrap();
        insert(&other, -1, -100).await.unwrap();
        other.close();
    }
    watch.close();
    t
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_transaction_dropped_at_any_await_leaves_nothing_half_written() {
    both("tx_cancel", cancellation_cases).await;
}

/// A statement cancelled mid-run while its transaction goes on: the
/// transaction must stay one unit. Either COMMIT succeeds and everything
/// acknowledged inside it is there, or it fails and nothing of it is.
async fn cancelled_write_keeps_atomicity(t: TestDb) -> TestDb {
    create_items(&t).await;
    let slow_write = match t.kind {
        Kind::Postgres => "INSERT INTO items (id, grp) SELECT 1000000, -1 FROM pg_sleep(1)",
        Kind::Sqlite => {
            "INSERT INTO items (id, grp) SELECT 1000000 + x, -1 FROM \
             (WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 20000000) \
              SELECT x FROM c) AS s"
        }
    };
    // A held connection: no pool cleanup (and no stray cancel) meanwhile.
    let mut conn = t.db.acquire().await.unwrap();
    let tx = conn.begin().await.unwrap();
    insert(&tx, 1, 1).await.unwrap();
    let cut = tokio::time::timeout(Duration::from_millis(50), tx.execute(slow_write, ())).await;
    assert!(cut.is_err(), "the slow write finished?");
    let later = insert(&tx, 2, 1).await;
    let committed = tx.commit().await;
    let rows = group_ids(&t.db, 1).await;
    if committed.is_ok() {
        let mut expected = vec![1];
        if later.is_ok() {
            expected.push(2);
        }
        assert_eq!(rows, expected, "{:?}: committed work is missing", t.kind);
    } else {
        assert_eq!(
            rows,
            Vec::<i64>::new(),
            "{:?}: COMMIT failed ({committed:?}) but work done inside the transaction \
             after the cancelled statement was committed (its insert returned {later:?})",
            t.kind
        );
    }
    drop(conn);
    t
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cancelled_write_does_not_split_its_transaction() {
    both("tx_cancel_write", cancelled_write_keeps_atomicity).await;
}

// 6: constraint errors inside a transaction -----------------------------

async fn unique_violation_cases(t: TestDb) -> TestDb {
    create_items(&t).await;
    let mut tx = t.db.begin().await.unwrap();
    insert(&tx, 1, 1).await.unwrap();
    {
        let sp = tx.savepoint().await.unwrap();
        let e = insert(&sp, 1, 1).await.unwrap_err();
        assert!(e.is_unique_violation(), "{e:?}");
        assert!(matches!(e, Error::Constraint { .. }), "{e:?}");
        sp.rollback().await.unwrap();
    }
    insert(&tx, 2, 1).await.unwrap();
    {
        // The failing savepoint just dropped, not rolled back explicitly.
        let sp = tx.savepoint().await.unwrap();
        insert(&sp, 3, 1).await.unwrap();
        let e = insert(&sp, 2, 1).await.unwrap_err();
        assert!(e.is_unique_violation(), "{e:?}");
    }
    insert(&tx, 4, 1).await.unwrap();
    {
        // The model API's error is typed the same way.
        let sp = tx.savepoint().await.unwrap();
        let e = Item {
            id: 4,
            grp: 1,
            note: None,
        }
        .insert(&sp)
        .await
        .unwrap_err();
        assert!(e.is_unique_violation(), "{e:?}");
        sp.rollback().await.unwrap();
    }
    assert_eq!(ids(&tx).await, vec![1, 2, 4]);
    tx.commit().await.unwrap();
    assert_eq!(ids(&t.db).await, vec![1, 2, 4]);

    // The same in the closure form, the failure handled inside.
    let handled =
        t.db.transaction(async |tx| {
            insert(&*tx, 10, 2).await?;
            let failed = {
                let sp = tx.savepoint().await?;
                match insert(&sp, 1, 2).await {
                    Err(e) if e.is_unique_violation() => {
                        sp.rollback().await?;
                        true
                    }
                    Err(e) => return Err(e),
                    Ok(_) => {
                        sp.commit().await?;
                        false
                    }
                }
            };
            insert(&*tx, 11, 2).await?;
            Ok::<_, Error>(failed)
        })
        .await
        .unwrap();
    assert!(handled);
    assert_eq!(ids(&t.db).await, vec![1, 2, 4, 10, 11]);

    // Unhandled, it rolls the whole closure back.
    let r =
        t.db.transaction(async |tx| {
            insert(&*tx, 20, 3).await?;
            insert(&*tx, 1, 3).await?;
            Ok::<_, Error>(())
        })
        .await;
    assert!(r.unwrap_err().is_unique_violation());
    assert_eq!(ids(&t.db).await, vec![1, 2, 4, 10, 11]);
    t
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_unique_violation_is_typed_and_the_transaction_goes_on_after_a_savepoint() {
    both("tx_unique", unique_violation_cases).await;
}

/// `commit()` returning `Ok` must mean the work is committed. On
/// PostgreSQL a failed statement outside a savepoint aborts the whole
/// transaction, and the server answers a later COMMIT with a silent
/// ROLLBACK: that must not be reported as success.
async fn commit_after_a_failed_statement(t: TestDb) -> TestDb {
    create_items(&t).await;
    insert(&t.db, 1, 0).await.unwrap();

    let tx = t.db.begin().await.unwrap();
    insert(&tx, 10, 1).await.unwrap();
    let e = insert(&tx, 1, 1).await.unwrap_err();
    assert!(e.is_unique_violation(), "{e:?}");
    let committed = tx.commit().await;
    let rows = group_ids(&t.db, 1).await;
    match &committed {
        Ok(()) => assert_eq!(
            rows,
            vec![10],
            "{:?}: commit() returned Ok but the transaction's work is not there",
            t.kind
        ),
        Err(_) => assert_eq!(rows, Vec::<i64>::new()),
    }

    // The same through the closure: the error is swallowed, Ok returned.
    let r =
        t.db.transaction(async |tx| {
            insert(&*tx, 20, 2).await?;
            let _ignored = insert(&*tx, 1, 2).await;
            Ok::<_, Error>(())
        })
        .await;
    let rows = group_ids(&t.db, 2).await;
    match &r {
        Ok(()) => assert_eq!(
            rows,
            vec![20],
            "{:?}: transaction() returned Ok but its work is not there",
            t.kind
        ),
        Err(_) => assert_eq!(rows, Vec::<i64>::new()),
    }
    t
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn commit_never_reports_success_for_a_transaction_the_server_rolled_back() {
    both("tx_aborted_commit", commit_after_a_failed_statement).await;
}

/// A backend killed before COMMIT: the outcome is reported as unknown,
/// never as success, and the pool recovers.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_connection_lost_before_commit_is_commit_outcome_unknown() {
    let Some(t) = TestDb::postgres("tx_commit_lost", PoolConfig::default().max_size(2)).await
    else {
        return;
    };
    create_items(&t).await;
    let tx = t.db.begin().await.unwrap();
    insert(&tx, 1, 1).await.unwrap();
    let pid: i32 = tx.fetch_one("SELECT pg_backend_pid()", ()).await.unwrap();
    let admin = Database::connect(&crate::support::pg_base_url())
        .await
        .unwrap();
    let killed: bool = admin
        .fetch_one("SELECT pg_terminate_backend($1, 5000)", (pid,))
        .await
        .unwrap();
    assert!(killed);
    admin.close();
    let e = tx.commit().await.unwrap_err();
    assert!(
        matches!(e, Error::CommitOutcomeUnknown { .. }),
        "expected CommitOutcomeUnknown, got {e:?}"
    );
    assert!(!e.is_transaction_conflict());
    assert_eq!(ids(&t.db).await, Vec::<i64>::new());
    assert_serves_quickly(&t.db, "after a lost COMMIT").await;
    assert!(t.db.status().size <= 2);
    // And the pool runs transactions again.
    let tx = t.db.begin().await.unwrap();
    insert(&tx, 2, 1).await.unwrap();
    tx.commit().await.unwrap();
    assert_eq!(ids(&t.db).await, vec![2]);
    t.cleanup().await;
}

// 7: concurrent read-modify-write ---------------------------------------

async fn counter_cases(t: TestDb) -> TestDb {
    const TASKS: i64 = 32;
    t.db.execute(
        "CREATE TABLE counter (id BIGINT PRIMARY KEY, v BIGINT NOT NULL)",
        (),
    )
    .await
    .unwrap();
    t.db.execute("INSERT INTO counter (id, v) VALUES (1, 0)", ())
        .await
        .unwrap();
    // Each task increments this many times.
    let per_task: i64 = match t.kind {
        Kind::Sqlite => 3,
        Kind::Postgres => 2,
    };
    let attempts = Arc::new(AtomicUsize::new(0));
    let tasks: Vec<_> = (0..TASKS)
        .map(|_| {
            let db = t.db.clone();
            let attempts = Arc::clone(&attempts);
            let kind = t.kind;
            tokio::spawn(async move {
                for _ in 0..per_task {
                    match kind {
                        Kind::Postgres => {
                            // `async move` with its own handle: a body that
                            // borrows the spawned task's locals trips rustc's
                            // higher-ranked `Send` check (rust-lang/rust#110338).
                            let attempts = Arc::clone(&attempts);
                            db.transaction_retry(
                                TransactionOptions::new().isolation(IsolationLevel::Serializable),
                                50,
                                async move |tx| {
                                    attempts.fetch_add(1, Ordering::SeqCst);
                                    read_modify_write(tx).await
                                },
                            )
                            .await
                            .unwrap();
                        }
                        Kind::Sqlite => {
                            attempts.fetch_add(1, Ordering::SeqCst);
                            db.transaction(async |tx| read_modify_write(tx).await)
                                .await
                                .unwrap();
                        }
                    }
                }
            })
        })
        .collect();
    for task in tasks {
        task.await.unwrap();
    }
    let v: i64 =
        t.db.fetch_one("SELECT v FROM counter WHERE id = 1", ())
            .await
            .unwrap();
    assert_eq!(v, TASKS * per_task, "lost updates");
    eprintln!(
        "{:?}: {} increments took {} attempts",
        t.kind,
        TASKS * per_task,
        attempts.load(Ordering::SeqCst)
    );
    t
}

async fn read_modify_write(tx: &sylvan::Transaction<'_>) -> sylvan::Result<()> {
    let v: i64 = tx
        .fetch_one("SELECT v FROM counter WHERE id = 1", ())
        .await?;
    tokio::task::yield_now().await; // let the others read the same value
    let n = tx
        .execute("UPDATE counter SET v = $1 WHERE id = 1", (v + 1,))
        .await?;
    assert_eq!(n, 1);
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_read_modify_write_loses_no_update() {
    both("tx_counter", counter_cases).await;
}

// 8: read-only transactions and isolation levels ------------------------

fn is_read_only_error(kind: Kind, e: &Error) -> bool {
    match (kind, e) {
        (Kind::Postgres, Error::Database { code: Some(c), .. }) => c == "25006",
        (Kind::Sqlite, Error::Database { code: Some(c), .. }) => c.starts_with("SQLITE_READONLY"),
        _ => false,
    }
}

async fn read_only_cases(t: TestDb) -> TestDb {
    create_items(&t).await;
    insert(&t.db, 1, 1).await.unwrap();
    let ro = TransactionOptions::new().read_only(true);

    let tx = t.db.begin_with(ro).await.unwrap();
    assert_eq!(ids(&tx).await, vec![1]);
    if t.kind == Kind::Postgres {
        let setting: String = tx
            .fetch_one("SELECT current_setting('transaction_read_only')", ())
            .await
            .unwrap();
        assert_eq!(setting, "on");
    } else {
        // It runs on a reader: the writer is free for others meanwhile.
        tokio::time::timeout(Duration::from_secs(5), insert(&t.db, 2, 1))
            .await
            .expect("a read-only transaction held the writer")
            .unwrap();
        // SQLite transactions are serializable: the snapshot taken by the
        // first read does not see the later commit.
        assert_eq!(ids(&tx).await, vec![1]);
    }
    let e = insert(&tx, 3, 1).await.unwrap_err();
    assert!(
        is_read_only_error(t.kind, &e),
        "{:?}: expected a typed read-only error, got {e:?}",
        t.kind
    );
    tx.rollback().await.unwrap();

    // The closure form: the error comes back and nothing is written.
    let r =
        t.db.transaction_with(ro, async |tx| {
            let n = Item::objects().count(&*tx).await?;
            Item::objects()
                .filter(Item::ID.eq(1))
                .update([Item::GRP.set(5)], &*tx)
                .await?;
            Ok::<_, Error>(n)
        })
        .await;
    let e = r.unwrap_err();
    assert!(is_read_only_error(t.kind, &e), "{e:?}");
    assert_eq!(group_rows(&t.db, 5).await, 0);
    // A read-only transaction that only reads commits.
    let n =
        t.db.transaction_with(ro, async |tx| Item::objects().count(&*tx).await)
            .await
            .unwrap();
    assert_eq!(n, ids(&t.db).await.len() as i64);
    t
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_write_inside_a_read_only_transaction_fails_with_a_typed_error() {
    both("tx_read_only", read_only_cases).await;
}

/// With a pool of one there is no reader. PostgreSQL runs the read-only
/// transaction on its one connection and refuses writes; SQLite refuses to
/// begin it (its only connection is the writer) with a typed error.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_read_only_transaction_refuses_writes_on_a_single_connection_pool() {
    both_with(
        "tx_read_only_1",
        PoolConfig::default().max_size(1),
        |t| async move {
            create_items(&t).await;
            let begun =
                t.db.begin_with(TransactionOptions::new().read_only(true))
                    .await;
            if t.kind == Kind::Sqlite {
                assert!(
                    matches!(begun, Err(sylvan::Error::Unsupported { .. })),
                    "{:?}",
                    begun.map(|_| ())
                );
                assert!(ids(&t.db).await.is_empty());
                return t;
            }
            let tx = begun.unwrap();
            let r = insert(&tx, 1, 1).await;
            let committed = tx.commit().await;
            assert!(
                r.as_ref().is_err_and(|e| is_read_only_error(t.kind, e)),
                "{:?}: a write inside a read-only transaction returned {r:?} \
                 (commit: {committed:?}, rows now {:?})",
                t.kind,
                ids(&t.db).await
            );
            t
        },
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn isolation_levels_reach_postgres() {
    let Some(t) = TestDb::postgres("tx_isolation", PoolConfig::default().max_size(3)).await else {
        return;
    };
    create_items(&t).await;
    for (opts, expected) in [
        (TransactionOptions::new(), "read committed"),
        (
            TransactionOptions::new().isolation(IsolationLevel::ReadCommitted),
            "read committed",
        ),
        (
            TransactionOptions::new().isolation(IsolationLevel::RepeatableRead),
            "repeatable read",
        ),
        (
            TransactionOptions::new().isolation(IsolationLevel::Serializable),
            "serializable",
        ),
        (
            TransactionOptions::new()
                .isolation(IsolationLevel::Serializable)
                .read_only(true),
            "serializable",
        ),
    ] {
        let tx = t.db.begin_with(opts).await.unwrap();
        let got: String = tx
            .fetch_one("SELECT current_setting('transaction_isolation')", ())
            .await
            .unwrap();
        assert_eq!(got, expected, "{opts:?}");
        tx.commit().await.unwrap();
    }

    // Read committed sees a commit made meanwhile; repeatable read does not.
    let rc = t.db.begin().await.unwrap();
    let rr =
        t.db.begin_with(TransactionOptions::new().isolation(IsolationLevel::RepeatableRead))
            .await
            .unwrap();
    assert_eq!(ids(&rc).await, Vec::<i64>::new());
    assert_eq!(ids(&rr).await, Vec::<i64>::new());
    insert(&t.db, 1, 1).await.unwrap();
    assert_eq!(ids(&rc).await, vec![1]);
    assert_eq!(ids(&rr).await, Vec::<i64>::new());
    rc.commit().await.unwrap();
    rr.commit().await.unwrap();
    t.cleanup().await;
}

// 9: Connection::begin --------------------------------------------------

async fn connection_begin_cases(t: TestDb) -> TestDb {
    create_items(&t).await;
    let mut conn = t.db.acquire().await.unwrap();

    let tx = conn.begin().await.unwrap();
    insert(&tx, 1, 1).await.unwrap();
    assert!(in_transaction_via(&t, &tx).await);
    tx.commit().await.unwrap();
    // Committed: visible elsewhere while the connection is still held.
    assert_eq!(ids(&t.db).await, vec![1]);
    assert!(!in_transaction(&t, &conn).await);

    // Dropped unfinished: the same connection goes on in a fresh state.
    let tx = conn.begin().await.unwrap();
    insert(&tx, 2, 1).await.unwrap();
    drop(tx);
    assert!(
        !in_transaction(&t, &conn).await,
        "still inside the dropped transaction"
    );
    assert_eq!(ids(&conn).await, vec![1]);
    insert(&conn, 3, 1).await.unwrap(); // autocommit
    assert_eq!(
        ids(&t.db).await,
        vec![1, 3],
        "the insert did not autocommit"
    );

    // Dropped with a savepoint open and a failed statement inside it.
    let mut tx = conn.begin().await.unwrap();
    insert(&tx, 4, 1).await.unwrap();
    {
        let sp = tx.savepoint().await.unwrap();
        insert(&sp, 5, 1).await.unwrap();
        let e = insert(&sp, 1, 1).await.unwrap_err();
        assert!(e.is_unique_violation(), "{e:?}");
    }
    drop(tx);
    assert_eq!(ids(&conn).await, vec![1, 3]);

    // Dropped right after BEGIN, then begun again at once (SQLite refuses
    // a BEGIN inside a transaction).
    drop(conn.begin().await.unwrap());
    let tx = conn.begin().await.unwrap();
    insert(&tx, 6, 1).await.unwrap();
    tx.rollback().await.unwrap();
    let tx = conn.begin().await.unwrap();
    insert(&tx, 7, 1).await.unwrap();
    tx.commit().await.unwrap();
    assert_eq!(ids(&t.db).await, vec![1, 3, 7]);

    // A savepoint committed on a borrowed transaction.
    let mut tx = conn.begin().await.unwrap();
    {
        let sp = tx.savepoint().await.unwrap();
        insert(&sp, 8, 1).await.unwrap();
        sp.commit().await.unwrap();
    }
    tx.commit().await.unwrap();

    // The connection dropped with a borrowed transaction dropped: the pool
    // gets it back clean.
    let tx = conn.begin().await.unwrap();
    insert(&tx, 9, 1).await.unwrap();
    drop(tx);
    drop(conn);
    let conn = t.db.acquire().await.unwrap();
    assert!(!in_transaction(&t, &conn).await);
    drop(conn);
    assert_eq!(ids(&t.db).await, vec![1, 3, 7, 8]);
    t
}

/// True when the transaction's connection is inside a transaction (seen
/// through the transaction itself).
async fn in_transaction_via(t: &TestDb, tx: &sylvan::Transaction<'_>) -> bool {
    match t.kind {
        Kind::Sqlite => true, // BEGIN IMMEDIATE succeeded; nothing else to ask
        Kind::Postgres => {
            let a: i64 = tx.fetch_one("SELECT txid_current()", ()).await.unwrap();
            let b: i64 = tx.fetch_one("SELECT txid_current()", ()).await.unwrap();
            a == b
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connection_begin_commits_and_a_dropped_transaction_leaves_the_connection_fresh() {
    both("tx_conn_begin", connection_begin_cases).await;
}

/// `Connection::begin` cancelled while BEGIN is in flight: the caller keeps
/// the connection, so it must not be left inside a transaction nobody owns
/// (its next autocommit statements would be rolled back later).
async fn cancelled_connection_begin(t: TestDb) -> TestDb {
    create_items(&t).await;
    let mut conn = t.db.acquire().await.unwrap();
    // Warm up (PostgreSQL: BEGIN prepared and cached on this connection).
    conn.begin().await.unwrap().commit().await.unwrap();
    let mut id = 0_i64;
    for n in 0..6_usize {
        id += 1;
        if let Some(tx) = cut_after(n, conn.begin()).await {
            drop(tx.unwrap());
        }
        insert(&conn, id, 1).await.unwrap();
        assert!(
            ids(&t.db).await.contains(&id),
            "{:?}: begin cut at wait {n}: the next autocommit insert on the connection \
             is invisible (inside a leftover transaction: {})",
            t.kind,
            in_transaction(&t, &conn).await
        );
    }
    for us in [0_u64, 0, 5, 20, 100] {
        id += 1;
        if let Ok(tx) = tokio::time::timeout(Duration::from_micros(us), conn.begin()).await {
            drop(tx.unwrap());
        }
        insert(&conn, id, 1).await.unwrap();
        assert!(
            ids(&t.db).await.contains(&id),
            "{:?}: begin timed out after {us} µs: the next autocommit insert is invisible",
            t.kind
        );
    }
    drop(conn);
    t
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cancelled_connection_begin_does_not_leave_the_connection_in_a_transaction() {
    both("tx_conn_begin_cut", cancelled_connection_begin).await;
}

/// A transaction dropped with a statement in flight: the pool cancels that
/// statement before it reuses the session. The cancel request travels on
/// its own connection and is handled by the server whenever it gets to it,
/// so it must not be able to land on the next user's statement.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cleanup_cancel_never_hits_the_next_user_of_the_connection() {
    let Some(t) = TestDb::postgres("tx_stray_cancel", PoolConfig::default().max_size(1)).await
    else {
        return;
    };
    create_items(&t).await;
    let mut failed = Vec::new();
    for round in 0..200_i64 {
        {
            let tx = t.db.begin().await.unwrap();
            let stmt = std::pin::pin!(tx.fetch_one::<i64, _>("SELECT count(*) FROM items", ()));
            // On a fast machine the reply can arrive within the first poll;
            // such a round has nothing in flight to cancel.
            if futures_poll_once(stmt).await.is_some() {
                continue;
            }
            // dropped with the statement in flight
        }
        let r =
            t.db.transaction(async |tx| {
                insert(&*tx, round, 0).await?;
                insert(&*tx, -round - 1, 0).await?;
                Ok::<_, Error>(())
            })
            .await;
        if let Err(e) = r {
            failed.push((round, e));
        }
    }
    assert!(
        failed.is_empty(),
        "{} of 200 transactions on the reused session failed, first: {:?}",
        failed.len(),
        failed.first()
    );
    t.cleanup().await;
}
