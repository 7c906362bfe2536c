//! Transactions and savepoints. Users' documentation (drop and
//! cancellation, poisoning, SQLite locking): `docs/guide/transactions.md`,
//! rendered as `sylvan::docs::transactions`.

mod options;
mod retry;
mod savepoint;
mod state;
mod stream;

pub use options::{IsolationLevel, TransactionOptions};
pub(crate) use retry::backoff;

use crate::backend::Dialect;
use crate::connection::Connection;
use crate::error::{Error, Result};
use crate::executor::private::{Origin, Run};
use crate::row::{Cardinality, FromRow};
use crate::value::Value;
use savepoint::savepoint_name;
use state::{lock_state, Pending, TxState, ABANDONED};
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};

/// A boxed future borrowing a transaction, for code that stores or returns
/// such futures. [`Database::transaction`](crate::Database::transaction)
/// takes an async closure (`async |tx| { … }`) and no longer needs it.
pub type TxFuture<'t, T> = Pin<Box<dyn Future<Output = T> + Send + 't>>;

enum Conn<'c> {
    Owned(Box<Connection>),
    Borrowed(&'c Connection),
}

impl Conn<'_> {
    fn get(&self) -> &Connection {
        match self {
            Conn::Owned(c) => c,
            Conn::Borrowed(c) => c,
        }
    }
}

/// An open transaction, or a savepoint inside one.
///
/// It commits only when told to. Dropped at any point — after an error, a
/// panic, or with its future cancelled at any await — it is rolled back
/// before its connection serves anyone else.
///
/// A statement whose future is dropped before it finishes (a caller's
/// `tokio::time::timeout`, a cancelled task) or that hits a statement
/// timeout *poisons* the transaction on both backends: whether it ran is
/// unknown (on PostgreSQL it may still be running and later succeed or
/// fail; on SQLite it is interrupted), so every later statement and
/// [`commit`](Self::commit) fail with [`Error::TransactionAborted`] and the
/// transaction is rolled back. `commit()` returns `Ok` only when the server
/// committed. A row stream ([`fetch_stream`](Self::fetch_stream),
/// `QuerySet::stream(&mut tx)`) counts as one statement: read it to its end,
/// since one dropped early poisons the transaction the same way.
///
/// ```
/// use sylvan::prelude::*;
/// # tokio::runtime::Runtime::new().unwrap().block_on(async {
/// let db = Database::connect("sqlite::memory:").await?;
/// db.execute("CREATE TABLE t (x INTEGER)", ()).await?;
///
/// let mut tx = db.begin().await?;
/// tx.execute("INSERT INTO t (x) VALUES (1)", ()).await?;
/// {
///     let sp = tx.savepoint().await?;
///     sp.execute("INSERT INTO t (x) VALUES (2)", ()).await?;
///     sp.rollback().await?; // only the savepoint's work is undone
/// }
/// tx.commit().await?;
///
/// let xs: Vec<i64> = db.fetch_all("SELECT x FROM t", ()).await?;
/// assert_eq!(xs, vec![1]);
/// # Ok::<_, sylvan::Error>(()) }).unwrap();
/// ```
#[must_use = "a transaction is rolled back when dropped: call commit()"]
pub struct Transaction<'c> {
    conn: Conn<'c>,
    /// 0 for the transaction itself, n for the n-th nested savepoint.
    depth: usize,
    /// Shared by every level of one transaction.
    state: Arc<Mutex<TxState>>,
    done: bool,
}

impl std::fmt::Debug for Transaction<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Transaction")
            .field("depth", &self.depth)
            .field("done", &self.done)
            .finish_non_exhaustive()
    }
}

/// Rolls back the transaction `BEGIN` may have opened if `begin_borrowed`
/// is cancelled before it returns one.
struct BeginGuard<'a> {
    conn: &'a Connection,
    armed: bool,
}

impl Drop for BeginGuard<'_> {
    fn drop(&mut self) {
        if self.armed {
            self.conn.roll_back_soon();
        }
    }
}

impl Transaction<'static> {
    /// Begins a transaction on a connection it owns (if this is cancelled,
    /// the connection goes back to the pool, which rolls it back).
    pub(crate) async fn begin_owned(conn: Connection, options: TransactionOptions) -> Result<Self> {
        let sql = options.begin_sql(conn.dialect());
        conn.execute_with(&sql, Vec::new(), false, Origin::Rendered)
            .await?;
        Ok(Transaction {
            conn: Conn::Owned(Box::new(conn)),
            depth: 0,
            state: Arc::default(),
            done: false,
        })
    }
}

impl<'c> Transaction<'c> {
    /// Begins a transaction on a borrowed connection, which it borrows
    /// exclusively until it ends: nothing else can run on that connection
    /// beside the transaction and escape its bookkeeping.
    pub(crate) async fn begin_borrowed(
        conn: &'c mut Connection,
        options: TransactionOptions,
    ) -> Result<Self> {
        let conn: &'c Connection = conn;
        let sql = options.begin_sql(conn.dialect());
        let mut guard = BeginGuard { conn, armed: true };
        conn.execute_with(&sql, Vec::new(), false, Origin::Rendered)
            .await?;
        guard.armed = false;
        Ok(Transaction {
            conn: Conn::Borrowed(conn),
            depth: 0,
            state: Arc::default(),
            done: false,
        })
    }

    fn connection(&self) -> &Connection {
        self.conn.get()
    }

    fn state(&self) -> std::sync::MutexGuard<'_, TxState> {
        lock_state(&self.state)
    }

    /// Refuses every statement once one was abandoned (see [`ABANDONED`]).
    fn usable(&self) -> Result<()> {
        if self.state().abandoned {
            return Err(Error::TransactionAborted {
                reason: ABANDONED.into(),
            });
        }
        Ok(())
    }

    /// Runs one user statement of the transaction: refused once the
    /// transaction is poisoned; dropped savepoints are rolled back first;
    /// a drop before it finishes poisons the transaction; a failure is
    /// recorded.
    async fn statement<T>(&self, run: impl Future<Output = Result<T>>) -> Result<T> {
        self.usable()?;
        self.flush().await?;
        let pending = Pending::new(&self.state);
        let result = run.await;
        pending.done();
        if matches!(result, Err(Error::StatementTimeout { .. })) {
            // Cancelled mid-way, like a dropped statement.
            self.state().abandoned = true;
        }
        self.note(&result);
        result
    }

    /// True for a savepoint (a nested transaction).
    pub fn is_savepoint(&self) -> bool {
        self.depth > 0
    }

    /// Records a failed statement: on PostgreSQL it aborts the transaction.
    fn note<T>(&self, result: &Result<T>) {
        let server_error = matches!(
            result,
            Err(Error::Constraint { .. }
                | Error::SerializationFailure { .. }
                | Error::Database { .. }
                | Error::ConnectionLost { .. })
        );
        if server_error && self.connection().dialect() == Dialect::Postgres {
            let mut state = self.state();
            state.failed_at = Some(state.failed_at.map_or(self.depth, |d| d.min(self.depth)));
        }
    }

    /// The savepoint at `depth` was rolled back: a failure inside it no
    /// longer aborts the transaction.
    fn rolled_back_to(&self, depth: usize) {
        let mut state = self.state();
        if state.failed_at.is_some_and(|d| d >= depth) {
            state.failed_at = None;
        }
    }

    /// Runs one control statement of this transaction.
    async fn control(&self, sql: &str) -> Result<()> {
        let result = self
            .connection()
            .execute_with(sql, Vec::new(), true, Origin::Rendered)
            .await
            .map(|_| ());
        self.note(&result);
        result
    }

    /// Starts a savepoint: a nested transaction whose work can be rolled
    /// back alone. The outer transaction is borrowed until it ends.
    pub async fn savepoint(&mut self) -> Result<Transaction<'_>> {
        self.usable()?;
        self.flush().await?;
        let depth = self.depth + 1;
        self.control(&format!("SAVEPOINT {}", savepoint_name(depth)))
            .await?;
        Ok(Transaction {
            conn: Conn::Borrowed(self.connection()),
            depth,
            state: Arc::clone(&self.state),
            done: false,
        })
    }

    /// Runs a script of several statements without binds inside the
    /// transaction (see [`Connection::execute_script`]).
    pub async fn execute_script(&self, sql: &str) -> Result<()> {
        self.statement(self.connection().script_with(sql, true, Origin::Raw))
            .await
    }

    /// Commits (a savepoint: releases it into the outer transaction).
    ///
    /// `Ok` means the server committed. Otherwise:
    /// - a PostgreSQL transaction in which a statement failed (outside a
    ///   savepoint rolled back since) was aborted by the server: committing
    ///   it rolls it back and returns [`Error::TransactionAborted`]. Sylvan
    ///   also checks the server's own view in the same round trip as
    ///   `COMMIT`, so a failure its bookkeeping missed is caught too;
    /// - a transaction with an abandoned statement (a statement future
    ///   dropped, e.g. by the caller's timeout, or a statement timeout) is
    ///   rolled back on both backends and reported as
    ///   [`Error::TransactionAborted`], even if that statement went on to
    ///   succeed on the server;
    /// - a session the server ended because it sat idle in the transaction
    ///   (PostgreSQL's `idle_in_transaction_session_timeout`, SQLSTATE
    ///   25P03) is [`Error::TransactionAborted`]: the server said so;
    /// - if the connection fails while `COMMIT` is in flight, the outcome is
    ///   unknown and reported as [`Error::CommitOutcomeUnknown`], never as
    ///   success or as a clean rollback.
    pub async fn commit(mut self) -> Result<()> {
        // Refused with `done` unset: the drop rolls back (or the pool
        // cancels the abandoned statement and discards the connection).
        self.usable()?;
        self.flush().await?;
        if self.depth > 0 {
            self.control(&format!("RELEASE SAVEPOINT {}", savepoint_name(self.depth)))
                .await?;
            self.done = true;
            return Ok(());
        }
        if self.state().failed_at.is_some() {
            return self.roll_back_aborted("a statement failed earlier in the transaction (outside a rolled-back savepoint), so PostgreSQL aborted it").await;
        }
        let result = match self.connection().commit_transaction().await {
            Ok(()) => Ok(()),
            Err(e) if is_aborted_transaction(&e) => {
                return self.roll_back_aborted("PostgreSQL had already aborted the transaction (a statement in it failed), so COMMIT would have rolled it back").await;
            }
            #[cfg(feature = "postgres")]
            Err(e) if crate::backend::postgres::is_idle_in_transaction_timeout(&e) => {
                Err(Error::TransactionAborted {
                    reason: format!("the server ended the session because it sat idle inside the transaction, which it rolled back ({})", crate::error::chain(&e)),
                })
            }
            Err(Error::ConnectionLost { source, .. }) => {
                Err(Error::CommitOutcomeUnknown { source })
            }
            Err(e) => Err(e),
        };
        self.done = result.is_ok();
        result
    }

    /// Rolls back a transaction the server aborted and reports it.
    async fn roll_back_aborted(&mut self, reason: &str) -> Result<()> {
        let rolled_back = self
            .connection()
            .execute_with("ROLLBACK", Vec::new(), false, Origin::Rendered)
            .await;
        if rolled_back.is_ok() {
            self.connection().transaction_closed();
            self.done = true;
        }
        Err(Error::TransactionAborted {
            reason: reason.into(),
        })
    }

    /// Rolls back (a savepoint: only its own work).
    ///
    /// With an abandoned statement (see [`Transaction::commit`]) nothing is
    /// sent, since the statement may still be running: the transaction is
    /// rolled back as when dropped (on PostgreSQL the pool cancels the
    /// statement and discards the connection).
    pub async fn rollback(mut self) -> Result<()> {
        if self.usable().is_err() {
            return Ok(());
        }
        self.flush().await?;
        if self.depth > 0 {
            let name = savepoint_name(self.depth);
            self.control(&format!("ROLLBACK TO SAVEPOINT {name}"))
                .await?;
            self.rolled_back_to(self.depth);
            self.control(&format!("RELEASE SAVEPOINT {name}")).await?;
        } else {
            self.connection()
                .execute_with("ROLLBACK", Vec::new(), false, Origin::Rendered)
                .await?;
            self.connection().transaction_closed();
        }
        self.done = true;
        Ok(())
    }

    /// Runs `f` against the raw rusqlite connection of this transaction, on
    /// its worker thread, inside the transaction (see
    /// [`Connection::interact`]). SQLite only; on PostgreSQL it returns
    /// [`Error::Unsupported`]. Refused with [`Error::TransactionAborted`] if
    /// SQLite already rolled the transaction back. `f` must not end the
    /// transaction itself (`COMMIT`, `ROLLBACK`): its later statements would
    /// then be refused as aborted.
    ///
    /// A panic in `f` returns [`Error::WorkerPanicked`] and poisons the
    /// transaction: the worker rolls it back at once (the work of `f` and
    /// of the statements before it is never committed), later statements
    /// and `commit()` fail with [`Error::TransactionAborted`], and the
    /// connection is discarded when it goes back to the pool.
    #[cfg(feature = "sqlite")]
    pub async fn interact<F, R>(&self, f: F) -> Result<R>
    where
        F: FnOnce(&mut rusqlite::Connection) -> R + Send + 'static,
        R: Send + 'static,
    {
        // PostgreSQL: refused before anything runs.
        self.connection().sqlite_conn()?;
        // Like every statement: refused once the transaction is poisoned,
        // and a drop before it finishes poisons it.
        self.statement(
            self.connection()
                .interact_as(f, crate::backend::sqlite::Mode::InTransaction),
        )
        .await
    }
}

impl Drop for Transaction<'_> {
    fn drop(&mut self) {
        if self.done {
            return;
        }
        if self.depth > 0 {
            // Rolled back before the outer transaction's next statement.
            self.state().dropped.push(self.depth);
        } else if let Conn::Borrowed(conn) = &self.conn {
            // The caller keeps the connection: roll back before its next use.
            conn.roll_back_soon();
        }
        // An owned connection goes back to the pool, which rolls it back
        // before anyone else gets it.
    }
}

impl Run for Transaction<'_> {
    async fn run_execute(
        &self,
        sql: &str,
        binds: Result<Vec<Value>>,
        origin: Origin,
    ) -> Result<u64> {
        let binds = binds?;
        self.statement(self.connection().execute_with(sql, binds, true, origin))
            .await
    }

    async fn run_query<T: FromRow>(
        &self,
        sql: &str,
        binds: Result<Vec<Value>>,
        cardinality: Cardinality,
        origin: Origin,
    ) -> Result<Vec<T>> {
        let binds = binds?;
        self.statement(
            self.connection()
                .query_with(sql, binds, cardinality, true, origin),
        )
        .await
    }

    fn run_dialect(&self) -> Dialect {
        self.connection().dialect()
    }
}

/// The server refused a statement because the transaction was already
/// aborted (SQLSTATE 25P02): what `COMMIT`'s check reports.
fn is_aborted_transaction(e: &Error) -> bool {
    matches!(e, Error::Database { code: Some(code), .. } if code == "25P02")
}

#[cfg(test)]
#[cfg(feature = "postgres")]
mod tests {
    use super::*;

    /// The checked COMMIT catches an aborted transaction even when the
    /// transaction's own bookkeeping missed the failure (simulated here by
    /// running the failing statement on the connection directly).
    #[tokio::test]
    async fn checked_commit_catches_a_failure_the_bookkeeping_missed() {
        let url = std::env::var("SYLVAN_TEST_PG_URL")
            .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into());
        let db = match crate::Database::connect(&url).await {
            Ok(db) => db,
            Err(e) if std::env::var("SYLVAN_REQUIRE_PG").as_deref() != Ok("1") => {
                eprintln!("SKIP postgres: {e}");
                return;
            }
            Err(e) => panic!("PostgreSQL is required: {e}"),
        };
        let tx = db.begin().await.expect("begin");
        let failed = tx
            .connection()
            .execute_with("SELECT 1 / 0", Vec::new(), true, Origin::Raw)
            .await;
        assert!(failed.is_err());
        assert!(tx.state().failed_at.is_none(), "the bookkeeping saw it");
        let e = tx
            .commit()
            .await
            .expect_err("committed an aborted transaction");
        assert!(matches!(e, Error::TransactionAborted { .. }), "{e:?}");
        // The connection is usable again.
        let one: i64 = crate::Executor::fetch_one(&db, "SELECT 1::bigint", ())
            .await
            .expect("query after");
        assert_eq!(one, 1);
    }
}
