//! A connection checked out of the pool.

#[cfg(feature = "postgres")]
use crate::backend::postgres::{refuse_session_state, PgConn, PgManager};
#[cfg(feature = "sqlite")]
use crate::backend::sqlite::{Mode, SqliteConn, SqliteManager};
use crate::backend::{may_change_session, Dialect};
use crate::error::{Error, Result};
use crate::executor::private::{Origin, Run};
use crate::row::{Cardinality, FromRow};
use crate::transaction::{Transaction, TransactionOptions};
use crate::value::Value;
use deadpool::managed::Object;
use std::time::Instant;

/// A pooled connection, returned to the pool when dropped.
///
/// It runs every statement it is given on its one connection, which makes it
/// the place for session state. On SQLite, [`Database::acquire`](crate::Database::acquire)
/// hands out the single writer (hold it briefly: other writers wait for it)
/// and [`Database::acquire_reader`](crate::Database::acquire_reader) a
/// read-only connection.
///
/// Dropping it at any point is safe: a statement still running is
/// interrupted (SQLite) or cancelled and the connection discarded
/// (PostgreSQL), and an open transaction is rolled back before anyone else
/// gets the connection.
///
/// Session state a raw statement may leave behind never reaches the next
/// borrower: on PostgreSQL the session is reset when the connection goes
/// back to the pool (settings, role, temporary tables, `LISTEN`, session
/// advisory locks, SQL `PREPARE`d statements, an open transaction) — or,
/// behind a transaction pooler (`pooler=transaction`), where a reset could
/// not reach the session, such statements are refused
/// ([`Error::NeedsSession`]) and only an open transaction is rolled back; on
/// SQLite a connection that ran a raw `PRAGMA`, `ATTACH`/`DETACH`,
/// `CREATE TEMP …`, or an [`interact`](Self::interact) closure is closed
/// rather than reused. Statements Sylvan renders itself
/// (QuerySets, models) never change session state and cost no reset.
#[derive(Debug)]
pub struct Connection {
    inner: Option<Inner>,
}

// Boxing the larger variant would cost an allocation per checkout, on the
// hot path; moving ~300 bytes when a connection is handed out costs less.
#[allow(clippy::large_enum_variant)]
#[derive(Debug)]
enum Inner {
    #[cfg(feature = "sqlite")]
    Sqlite(Object<SqliteManager>),
    #[cfg(feature = "postgres")]
    Postgres(Object<PgManager>),
}

impl Connection {
    #[cfg(feature = "sqlite")]
    pub(crate) fn sqlite(obj: Object<SqliteManager>) -> Self {
        Connection {
            inner: Some(Inner::Sqlite(obj)),
        }
    }

    #[cfg(feature = "postgres")]
    pub(crate) fn postgres(obj: Object<PgManager>) -> Self {
        Connection {
            inner: Some(Inner::Postgres(obj)),
        }
    }

    fn inner(&self) -> Result<&Inner> {
        self.inner.as_ref().ok_or(Error::PoolClosed)
    }

    #[cfg(feature = "sqlite")]
    pub(crate) fn sqlite_conn(&self) -> Result<&SqliteConn> {
        match self.inner()? {
            #[cfg(feature = "sqlite")]
            Inner::Sqlite(c) => Ok(c),
            #[cfg(feature = "postgres")]
            Inner::Postgres(_) => Err(unsupported("postgres", "a SQLite operation")),
        }
    }

    #[cfg(feature = "postgres")]
    pub(crate) fn pg_conn(&self) -> Result<&PgConn> {
        match self.inner()? {
            #[cfg(feature = "postgres")]
            Inner::Postgres(c) => Ok(c),
            #[cfg(feature = "sqlite")]
            Inner::Sqlite(_) => Err(unsupported("sqlite", "a PostgreSQL operation")),
        }
    }

    /// The SQL dialect of this connection's backend.
    pub fn dialect(&self) -> Dialect {
        match self.inner {
            #[cfg(feature = "postgres")]
            Some(Inner::Postgres(_)) => Dialect::Postgres,
            _ => Dialect::Sqlite,
        }
    }

    /// Runs `f` against the raw rusqlite connection on its worker thread —
    /// the escape hatch for what Sylvan does not wrap (custom functions,
    /// backups, pragmas). SQLite only; on PostgreSQL it returns
    /// [`Error::Unsupported`]. To run a closure inside a transaction, use
    /// [`Transaction::interact`].
    ///
    /// A panic in `f` is caught on the worker and returned as
    /// [`Error::WorkerPanicked`]; that connection is then discarded when it
    /// goes back to the pool. If the connection was inside a transaction
    /// when `f` panicked (one `f` began, or a Sylvan transaction), the
    /// worker rolls it back at once, before anything else runs on the
    /// connection: the half-done work never becomes durable, and the
    /// transaction's later statements and `commit()` fail with
    /// [`Error::TransactionAborted`].
    ///
    /// Like every statement, the job waits for room in the worker's bounded
    /// queue, at most the pool's wait timeout ([`Error::PoolTimeout`]).
    /// Dropping the future before `f` starts drops `f` at once, unrun;
    /// dropping it while `f` runs interrupts the SQLite statement running
    /// then or next (`f` sees `SQLITE_INTERRUPT` errors).
    ///
    /// Since `f` may change the connection's state (pragmas, functions,
    /// temporary tables), the connection is closed when it goes back to the
    /// pool instead of being reused; register what every connection needs
    /// with [`DatabaseBuilder::sqlite_on_connect`](crate::DatabaseBuilder::sqlite_on_connect).
    ///
    /// ```
    /// # tokio::runtime::Runtime::new().unwrap().block_on(async {
    /// let db = sylvan::Database::connect("sqlite::memory:").await?;
    /// let conn = db.acquire().await?;
    /// let version: String = conn
    ///     .interact(|c| c.query_row("SELECT sqlite_version()", [], |r| r.get(0)))
    ///     .await??;
    /// assert!(version.starts_with('3'));
    /// # Ok::<_, Box<dyn std::error::Error>>(()) }).unwrap();
    /// ```
    #[cfg(feature = "sqlite")]
    pub async fn interact<F, R>(&self, f: F) -> Result<R>
    where
        F: FnOnce(&mut rusqlite::Connection) -> R + Send + 'static,
        R: Send + 'static,
    {
        self.interact_as(f, Mode::Session).await
    }

    /// [`Connection::interact`] in `mode`: `Mode::InTransaction` for a
    /// transaction open on this connection, refused with
    /// [`Error::TransactionAborted`] if SQLite already rolled it back.
    #[cfg(feature = "sqlite")]
    pub(crate) async fn interact_as<F, R>(&self, f: F, mode: Mode) -> Result<R>
    where
        F: FnOnce(&mut rusqlite::Connection) -> R + Send + 'static,
        R: Send + 'static,
    {
        match self.inner()? {
            #[cfg(feature = "sqlite")]
            Inner::Sqlite(c) => {
                // May change the connection's state: closed on return.
                c.worker.retire();
                c.interact(f, mode).await
            }
            #[cfg(feature = "postgres")]
            Inner::Postgres(_) => Err(unsupported(
                "postgres",
                "interact (a closure on the raw rusqlite connection)",
            )),
        }
    }
}

impl Connection {
    /// Begins a transaction on this connection (on SQLite's writer:
    /// `BEGIN IMMEDIATE`). See [`Transaction`]. The transaction borrows the
    /// connection exclusively: run everything through the transaction
    /// until it ends.
    ///
    /// ```
    /// use sylvan::prelude::*;
    /// # tokio::runtime::Runtime::new().unwrap().block_on(async {
    /// let db = Database::connect("sqlite::memory:").await?;
    /// let mut conn = db.acquire().await?;
    /// conn.execute("CREATE TABLE t (x INTEGER)", ()).await?;
    /// let tx = conn.begin().await?;
    /// tx.execute("INSERT INTO t VALUES (1)", ()).await?;
    /// tx.commit().await?;
    /// let n: i64 = conn.fetch_one("SELECT count(*) FROM t", ()).await?;
    /// assert_eq!(n, 1);
    /// # Ok::<_, sylvan::Error>(()) }).unwrap();
    /// ```
    pub async fn begin(&mut self) -> Result<Transaction<'_>> {
        self.begin_with(TransactionOptions::new()).await
    }

    /// Begins a transaction with options.
    pub async fn begin_with(&mut self, options: TransactionOptions) -> Result<Transaction<'_>> {
        Transaction::begin_borrowed(self, options).await
    }

    /// Streams the rows of a query on this connection, decoded one at a
    /// time: the whole result is never in memory. The stream borrows the
    /// connection exclusively (`&mut`) until it is dropped, so nothing else
    /// runs on it meanwhile.
    ///
    /// Dropping the stream early leaves the connection usable: on SQLite
    /// the statement is interrupted; on PostgreSQL the rows still coming
    /// are read and discarded before the next statement, and the connection
    /// is cleaned (the query cancelled) when it goes back to the pool.
    ///
    /// ```
    /// use sylvan::prelude::*;
    /// use sylvan::StreamExt;
    /// # tokio::runtime::Runtime::new().unwrap().block_on(async {
    /// let db = Database::connect("sqlite::memory:").await?;
    /// let mut conn = db.acquire().await?;
    /// let mut rows = conn.fetch_stream::<i64, _>("SELECT $1 UNION ALL SELECT 2", (1,));
    /// let mut xs = Vec::new();
    /// while let Some(x) = rows.next().await {
    ///     xs.push(x?);
    /// }
    /// drop(rows);
    /// assert_eq!(xs, vec![1, 2]);
    /// let n: i64 = conn.fetch_one("SELECT 3", ()).await?; // usable again
    /// assert_eq!(n, 3);
    /// # Ok::<_, sylvan::Error>(()) }).unwrap();
    /// ```
    pub fn fetch_stream<T: FromRow, B: crate::value::Binds>(
        &mut self,
        sql: &str,
        binds: B,
    ) -> impl futures_util::Stream<Item = Result<T>> + Send + '_ {
        use futures_util::StreamExt;
        match binds.into_values() {
            Ok(binds) => crate::stream::rows_on(self, sql.to_owned(), binds, false, Origin::Raw),
            Err(e) => futures_util::stream::once(async move { Err(e) }).boxed(),
        }
    }

    /// Runs a script of several statements separated by `;`, without binds
    /// (PostgreSQL's simple query protocol, SQLite's `execute_batch`): for
    /// migrations and schema scripts. Never put user input in a script.
    pub async fn execute_script(&self, sql: &str) -> Result<()> {
        self.script_with(sql, false, Origin::Raw).await
    }

    /// Marks the connection for a reset (or, on SQLite, for closing) before
    /// its next borrower when raw SQL may change session state. Behind a
    /// transaction pooler, where no reset can reach the session, raw SQL
    /// that would leave session state is refused instead
    /// ([`Error::NeedsSession`]), and a script is followed by a `ROLLBACK`
    /// on return in case it left a transaction open.
    pub(crate) fn note_origin(&self, sql: &str, origin: Origin, script: bool) -> Result<()> {
        if origin == Origin::Rendered {
            return Ok(());
        }
        match self.inner.as_ref() {
            #[cfg(feature = "postgres")]
            Some(Inner::Postgres(c)) if c.is_behind_transaction_pooler() => {
                refuse_session_state(sql, script)?;
                if script {
                    c.mark_session_dirty();
                }
            }
            #[cfg(feature = "postgres")]
            Some(Inner::Postgres(c)) if may_change_session(sql, true, script) => {
                c.mark_session_dirty()
            }
            #[cfg(feature = "sqlite")]
            Some(Inner::Sqlite(c)) if may_change_session(sql, false, script) => c.worker.retire(),
            _ => {}
        }
        Ok(())
    }

    #[cfg(feature = "sqlite")]
    fn mode(in_transaction: bool) -> Mode {
        if in_transaction {
            Mode::InTransaction
        } else {
            Mode::Session
        }
    }

    /// A script; `in_transaction`: refuse it if SQLite already rolled back.
    #[cfg_attr(not(feature = "sqlite"), allow(unused_variables))]
    pub(crate) async fn script_with(
        &self,
        sql: &str,
        in_transaction: bool,
        origin: Origin,
    ) -> Result<()> {
        self.note_origin(sql, origin, true)?;
        match self.inner()? {
            #[cfg(feature = "sqlite")]
            Inner::Sqlite(c) => c.execute_script(sql, Self::mode(in_transaction)).await,
            #[cfg(feature = "postgres")]
            Inner::Postgres(c) => c.execute_script(sql).await,
        }
    }

    /// A statement; `in_transaction`: refuse it if SQLite already rolled back.
    #[cfg_attr(not(feature = "sqlite"), allow(unused_variables))]
    pub(crate) async fn execute_with(
        &self,
        sql: &str,
        binds: Vec<Value>,
        in_transaction: bool,
        origin: Origin,
    ) -> Result<u64> {
        self.note_origin(sql, origin, false)?;
        match self.inner()? {
            #[cfg(feature = "sqlite")]
            Inner::Sqlite(c) => c.execute(sql, binds, Self::mode(in_transaction)).await,
            #[cfg(feature = "postgres")]
            Inner::Postgres(c) => c.execute(sql, &binds).await,
        }
    }

    /// A query; `in_transaction`: refuse it if SQLite already rolled back.
    #[cfg_attr(not(feature = "sqlite"), allow(unused_variables))]
    pub(crate) async fn query_with<T: FromRow>(
        &self,
        sql: &str,
        binds: Vec<Value>,
        cardinality: Cardinality,
        in_transaction: bool,
        origin: Origin,
    ) -> Result<Vec<T>> {
        self.note_origin(sql, origin, false)?;
        let rows = match self.inner()? {
            #[cfg(feature = "sqlite")]
            Inner::Sqlite(c) => {
                c.query(sql, binds, cardinality, Self::mode(in_transaction))
                    .await?
            }
            #[cfg(feature = "postgres")]
            Inner::Postgres(c) => c.query(sql, &binds, cardinality).await?,
        };
        cardinality.check(&rows)?;
        Ok(rows)
    }

    /// PostgreSQL: a query with borrowed binds (the replica router may send
    /// the same statement to a second server), with the same origin check
    /// and cardinality check as [`Connection::query_with`].
    #[cfg(feature = "postgres")]
    pub(crate) async fn pg_query<T: FromRow>(
        &self,
        sql: &str,
        binds: &[Value],
        cardinality: Cardinality,
        origin: Origin,
    ) -> Result<Vec<T>> {
        self.note_origin(sql, origin, false)?;
        let rows = self.pg_conn()?.query(sql, binds, cardinality).await?;
        cardinality.check(&rows)?;
        Ok(rows)
    }

    /// PostgreSQL: [`Connection::execute_with`] with borrowed binds.
    #[cfg(feature = "postgres")]
    pub(crate) async fn pg_execute(
        &self,
        sql: &str,
        binds: &[Value],
        origin: Origin,
    ) -> Result<u64> {
        self.note_origin(sql, origin, false)?;
        self.pg_conn()?.execute(sql, binds).await
    }

    /// PostgreSQL: starts a row stream with borrowed binds.
    #[cfg(feature = "postgres")]
    pub(crate) async fn pg_stream(
        &self,
        sql: &str,
        binds: &[Value],
        origin: Origin,
    ) -> Result<tokio_postgres::RowStream> {
        self.note_origin(sql, origin, false)?;
        self.pg_conn()?.query_stream(sql, binds).await
    }

    /// Commits the open transaction (PostgreSQL: checking in the same round
    /// trip that the server has not aborted it).
    pub(crate) async fn commit_transaction(&self) -> Result<()> {
        match self.inner()? {
            #[cfg(feature = "sqlite")]
            Inner::Sqlite(c) => c
                .execute("COMMIT", Vec::new(), Mode::InTransaction)
                .await
                .map(|_| ()),
            #[cfg(feature = "postgres")]
            Inner::Postgres(c) => c.commit().await,
        }
    }

    /// A transaction on this connection ended cleanly (COMMIT or ROLLBACK).
    pub(crate) fn transaction_closed(&self) {
        #[cfg(feature = "postgres")]
        if let Ok(pg) = self.pg_conn() {
            pg.transaction_closed();
        }
    }

    /// A transaction on this connection was dropped unfinished while the
    /// connection stays checked out: roll it back before its next statement.
    pub(crate) fn roll_back_soon(&self) {
        match self.inner.as_ref() {
            #[cfg(feature = "sqlite")]
            Some(Inner::Sqlite(c)) => c.worker.rollback_if_dirty(),
            #[cfg(feature = "postgres")]
            Some(Inner::Postgres(c)) => c.roll_back_before_next_statement(),
            None => {}
        }
    }
}

#[cfg(all(feature = "sqlite", feature = "postgres"))]
fn unsupported(backend: &'static str, what: &str) -> Error {
    Error::Unsupported {
        backend,
        what: what.to_owned(),
    }
}

impl Drop for Connection {
    fn drop(&mut self) {
        match self.inner.take() {
            #[cfg(feature = "sqlite")]
            Some(Inner::Sqlite(mut obj)) => {
                if obj.worker.is_broken() {
                    drop(Object::take(obj));
                } else {
                    // Roll back now rather than at the next checkout, so an
                    // idle connection never holds the write lock.
                    obj.worker.rollback_if_dirty();
                    obj.last_used = Instant::now();
                }
            }
            #[cfg(feature = "postgres")]
            Some(Inner::Postgres(mut obj)) => {
                obj.last_used = Instant::now();
                if obj.is_broken() {
                    // Out of the pool now, not at the next checkout.
                    drop(Object::take(obj));
                } else if obj.needs_cleaning() {
                    // Cancel an abandoned query and roll back an open
                    // transaction now, rather than at the next checkout, so
                    // an idle connection never holds locks or runs work. The
                    // slot stays taken until then, so the pool never has
                    // more sessions than its size.
                    match tokio::runtime::Handle::try_current() {
                        Ok(runtime) => {
                            runtime.spawn(async move {
                                if !obj.clean().await {
                                    drop(Object::take(obj));
                                }
                            });
                        }
                        Err(_) => drop(Object::take(obj)),
                    }
                }
            }
            None => {}
        }
    }
}

impl Run for Connection {
    async fn run_execute(
        &self,
        sql: &str,
        binds: Result<Vec<Value>>,
        origin: Origin,
    ) -> Result<u64> {
        self.execute_with(sql, binds?, false, origin).await
    }

    async fn run_query<T: FromRow>(
        &self,
        sql: &str,
        binds: Result<Vec<Value>>,
        cardinality: Cardinality,
        origin: Origin,
    ) -> Result<Vec<T>> {
        self.query_with(sql, binds?, cardinality, false, origin)
            .await
    }

    fn run_dialect(&self) -> Dialect {
        self.dialect()
    }
}
