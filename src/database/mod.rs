//! `Database`: a pooled handle over either backend, picked by URL.

#[cfg(feature = "sqlite")]
use crate::backend::may_change_session;
#[cfg(feature = "postgres")]
use crate::backend::postgres::{PgConn, PgPool};
#[cfg(feature = "sqlite")]
use crate::backend::sqlite::{SqliteConn, SqlitePool};
use crate::backend::Dialect;
use crate::connection::Connection;
use crate::error::{Error, Result};
use crate::executor::private::{Origin, Run};
use crate::pool::PoolStatus;
#[cfg(feature = "postgres")]
use crate::router::{Execute, Query, ReadOp, Router, StreamStart};
use crate::row::{Cardinality, FromRow};
use crate::transaction::{Transaction, TransactionOptions};
use crate::value::{Binds, Value};
use futures_util::stream::{Stream, StreamExt};
use std::sync::Arc;

mod builder;
pub use builder::DatabaseBuilder;

/// A database: a connection pool over SQLite or PostgreSQL, chosen by the
/// URL. Cheap to clone (clones share the pool).
///
/// Every [`Executor`](crate::Executor) call on a `Database` checks a
/// connection out for that statement and returns it. On SQLite, reads
/// (`SELECT`, `VALUES`, `WITH`, `EXPLAIN` that do not write) spread over the
/// reader connections, and everything else goes through the single writer.
/// A SQLite statement is queued on its connection's worker thread, which
/// holds at most 32 queued statements; waiting for a connection and for
/// room in that queue together take at most the pool's wait timeout
/// ([`Error::PoolTimeout`]).
///
/// ```
/// use sylvan::prelude::*;
/// # tokio::runtime::Runtime::new().unwrap().block_on(async {
/// let db = Database::connect("sqlite::memory:").await?;
/// let two: i64 = db.fetch_one("SELECT 1 + $1", (1,)).await?;
/// assert_eq!(two, 2);
/// assert_eq!(db.dialect(), sylvan::Dialect::Sqlite);
/// # Ok::<_, sylvan::Error>(()) }).unwrap();
/// ```
///
/// # Read replicas
///
/// A PostgreSQL `Database` built with [`replica`](DatabaseBuilder::replica)
/// URLs (streaming replicas) sends plain reads run outside a transaction
/// to its usable replicas, round-robin, and everything else to the
/// primary: writes, transactions ([`begin`](Self::begin),
/// [`transaction`](Self::transaction), [`transaction_retry`](Self::transaction_retry),
/// read-only ones included) and [`acquire`](Self::acquire).
/// [`fetch_stream`](Self::fetch_stream), [`QuerySet::stream`](crate::QuerySet::stream)
/// and [`acquire_reader`](Self::acquire_reader) route like reads. What
/// counts as a read: [`Statement::is_read`](crate::Statement::is_read).
///
/// A replica is **usable** when its last health check (every
/// [`replica_check_interval`](DatabaseBuilder::replica_check_interval),
/// each bounded by [`replica_check_timeout`](DatabaseBuilder::replica_check_timeout))
/// reached it, found it a standby, and measured a lag within
/// [`max_replica_lag`](DatabaseBuilder::max_replica_lag). The lag is
/// measured against the primary: how long ago the primary had flushed WAL
/// that the replica has not replayed yet (0 when it has replayed all of
/// it, so an idle primary does not make its replicas look stale, and a
/// replica cut off from the primary is seen falling behind). When the
/// primary cannot be reached by the check, the replica's own view is used:
/// 0 when it replayed all it received, else the age of the last
/// transaction it replayed. With no usable replica, reads go to the
/// primary. [`members`](Self::members) shows each server's state.
///
/// **Failures.** A read the replica refuses as a write (SQLSTATE 25006,
/// e.g. `SELECT nextval(…)`), or cancels because it conflicts with the
/// WAL being replayed (40001, "conflict with recovery"), runs again on the
/// primary: nothing happened on the read-only server. A read that fails
/// because the replica could not be reached or its connection broke
/// ([`Error::ConnectionLost`],
/// [`Error::Connect`], a connect or liveness-check timeout: a stopped
/// server, a cut network) marks the replica unusable at once, until a
/// health check finds it well, and runs once more on another usable
/// replica or else the primary (if that fails too, its error is
/// returned). A stream is retried only when it fails before its first
/// row; after that its error is returned. Other errors (a statement
/// timeout, a bad column) are returned as they are. A replica that goes
/// silent (no reply, no reset) is skipped once a health check times out;
/// a read that reaches it first waits for the pool's liveness check and
/// connect timeout and is then retried, or, if its statement was already
/// sent, ends at the statement timeout (set one) or TCP keepalive.
///
/// **Read-your-writes.** A replica may lag behind the primary by up to the
/// maximum lag. Force the primary per handle ([`primary`](Self::primary)),
/// per block ([`on_primary`](crate::on_primary)), per query
/// ([`QuerySet::primary`](crate::QuerySet::primary)), or by rule
/// ([`RoutingPolicy`](crate::RoutingPolicy)).
///
/// ```no_run
/// use std::time::Duration;
/// use sylvan::prelude::*;
/// # async fn demo() -> sylvan::Result<()> {
/// let db = Database::builder("postgres://app@primary:5432/app")
///     .replica("postgres://app@replica-1:5432/app")
///     .replica("postgres://app@replica-2:5432/app")
///     .max_replica_lag(Duration::from_secs(2))
///     .connect()
///     .await?;
/// // A plain read: on a replica.
/// let n: i64 = db.fetch_one("SELECT count(*) FROM note", ()).await?;
/// // A write: on the primary; and a read that must see it.
/// db.execute("INSERT INTO note (body) VALUES ($1)", ("hi",)).await?;
/// let m: i64 = db.primary().fetch_one("SELECT count(*) FROM note", ()).await?;
/// for member in db.members() {
///     println!("{:?} {} usable={} lag={:?}", member.role, member.address, member.usable, member.lag);
/// }
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct Database {
    pub(crate) inner: Arc<Inner>,
    /// The read replicas (PostgreSQL), if any.
    #[cfg(feature = "postgres")]
    pub(crate) router: Option<Arc<Router>>,
    /// Made by [`Database::primary`]: every statement to the primary.
    #[cfg(feature = "postgres")]
    pub(crate) pinned: bool,
}

#[derive(Debug)]
pub(crate) enum Inner {
    #[cfg(feature = "sqlite")]
    Sqlite(SqlitePool),
    #[cfg(feature = "postgres")]
    Postgres(PgPool),
}

/// A connection outside the pool: see [`Database::dedicated`].
#[derive(Debug)]
pub(crate) enum Dedicated {
    #[cfg(feature = "sqlite")]
    Sqlite(SqliteConn, Option<std::path::PathBuf>),
    #[cfg(feature = "postgres")]
    Postgres(PgConn),
}

impl Database {
    /// Connects with the settings in `url` (see [the URL table](crate#connection-urls)).
    /// Opens one connection before returning, so a wrong path, host or
    /// password fails here.
    pub async fn connect(url: &str) -> Result<Database> {
        Database::builder(url).connect().await
    }

    /// A builder for settings beyond the URL.
    pub fn builder(url: &str) -> DatabaseBuilder {
        DatabaseBuilder::new(url)
    }

    /// The SQL dialect of the backend.
    pub fn dialect(&self) -> Dialect {
        match *self.inner {
            #[cfg(feature = "sqlite")]
            Inner::Sqlite(_) => Dialect::Sqlite,
            #[cfg(feature = "postgres")]
            Inner::Postgres(_) => Dialect::Postgres,
        }
    }

    /// Checks out a connection (on SQLite: the writer).
    pub async fn acquire(&self) -> Result<Connection> {
        match &*self.inner {
            #[cfg(feature = "sqlite")]
            Inner::Sqlite(pool) => pool.writer().await,
            #[cfg(feature = "postgres")]
            Inner::Postgres(pool) => pool.get().await,
        }
    }

    /// A connection of its own, outside the pool, closed when dropped (see
    /// the backends' `dedicated`), and on SQLite the database file.
    pub(crate) async fn dedicated(&self) -> Result<Dedicated> {
        Ok(match &*self.inner {
            #[cfg(feature = "sqlite")]
            Inner::Sqlite(pool) => {
                let (conn, file) = pool.dedicated().await?;
                Dedicated::Sqlite(conn, file)
            }
            #[cfg(feature = "postgres")]
            Inner::Postgres(pool) => Dedicated::Postgres(pool.dedicated().await?),
        })
    }

    /// Checks out a connection for reading: on SQLite a reader (which
    /// refuses writes); on PostgreSQL a usable replica's (see
    /// [read replicas](#read-replicas)), else the same as [`Database::acquire`].
    pub async fn acquire_reader(&self) -> Result<Connection> {
        match &*self.inner {
            #[cfg(feature = "sqlite")]
            Inner::Sqlite(pool) => pool.reader().await,
            #[cfg(feature = "postgres")]
            Inner::Postgres(pool) => match &self.router {
                Some(router) if !self.pinned => router.reader(pool).await,
                _ => pool.get().await,
            },
        }
    }

    /// Begins a transaction (on SQLite: on the writer, `BEGIN IMMEDIATE`).
    /// See [`Transaction`].
    pub async fn begin(&self) -> Result<Transaction<'static>> {
        self.begin_with(TransactionOptions::new()).await
    }

    /// Begins a transaction with options (isolation level, read-only).
    /// On PostgreSQL every transaction runs on the primary; on SQLite a
    /// read-only one runs on a reader.
    pub async fn begin_with(&self, options: TransactionOptions) -> Result<Transaction<'static>> {
        let conn = match &*self.inner {
            #[cfg(feature = "sqlite")]
            Inner::Sqlite(pool) if options.is_read_only() => {
                if !pool.has_readers() {
                    return Err(Error::Unsupported {
                        backend: "sqlite",
                        what: "a read-only transaction needs reader connections: use a pool of 2 or more".into(),
                    });
                }
                pool.reader().await?
            }
            _ => self.acquire().await?,
        };
        Transaction::begin_owned(conn, options).await
    }

    /// Runs `f` in a transaction: commits when it returns `Ok`, rolls back
    /// when it returns `Err`, panics, or is cancelled.
    ///
    /// ```
    /// use sylvan::prelude::*;
    /// # tokio::runtime::Runtime::new().unwrap().block_on(async {
    /// let db = Database::connect("sqlite::memory:").await?;
    /// db.execute("CREATE TABLE acct (id INTEGER PRIMARY KEY, balance INTEGER NOT NULL)", ()).await?;
    /// db.execute("INSERT INTO acct VALUES (1, 100), (2, 0)", ()).await?;
    /// // The body is an async closure: it may borrow from the caller.
    /// let moves: Vec<(i64, i64)> = vec![(1, -30), (2, 30)];
    /// let note: &str = "transfer";
    /// let applied = db.transaction(async |tx| {
    ///     for (id, delta) in &moves {
    ///         tx.execute("UPDATE acct SET balance = balance + $1 WHERE id = $2", (*delta, *id)).await?;
    ///     }
    ///     Ok::<_, sylvan::Error>(format!("{note}: {} rows", moves.len()))
    /// }).await?;
    /// assert_eq!(applied, "transfer: 2 rows");
    /// let b: i64 = db.fetch_one("SELECT balance FROM acct WHERE id = 2", ()).await?;
    /// assert_eq!(b, 30);
    /// # Ok::<_, sylvan::Error>(()) }).unwrap();
    /// ```
    ///
    /// The closure gets a `&mut Transaction<'_>` (pass it where an executor
    /// is expected; helpers take `&Transaction<'_>`, not
    /// `&Transaction<'static>`, which keeps the future `Send` for
    /// `tokio::spawn`). Its error type `E` needs `From<sylvan::Error>` so
    /// that `?` works inside and a failed `COMMIT` can be returned. (The boxed form of earlier versions,
    /// `|tx| Box::pin(async move { … })`, no longer compiles: Rust cannot
    /// infer a plain closure's argument from an async-closure bound. Write
    /// `async |tx| { … }`.)
    pub async fn transaction<R, E, F>(&self, f: F) -> std::result::Result<R, E>
    where
        F: for<'t, 'c> AsyncFnOnce(&'t mut Transaction<'c>) -> std::result::Result<R, E>,
        E: From<Error>,
    {
        self.transaction_with(TransactionOptions::new(), f).await
    }

    /// [`Database::transaction`] with options.
    pub async fn transaction_with<R, E, F>(
        &self,
        options: TransactionOptions,
        f: F,
    ) -> std::result::Result<R, E>
    where
        F: for<'t, 'c> AsyncFnOnce(&'t mut Transaction<'c>) -> std::result::Result<R, E>,
        E: From<Error>,
    {
        let mut tx = self.begin_with(options).await?;
        let result = f(&mut tx).await;
        finish(tx, result).await
    }

    /// Runs `f` in a transaction and runs it again, after a growing
    /// randomised pause, when it fails with a serialization failure or a
    /// deadlock (or SQLite's `SQLITE_BUSY` from another process), up to
    /// `attempts` runs in all. Use it with
    /// [`IsolationLevel::Serializable`](crate::IsolationLevel::Serializable).
    /// A failure during COMMIT whose outcome is unknown is never retried.
    ///
    /// The body is an `async |tx| { … }` closure called once per run. Inside
    /// `tokio::spawn`, a body that borrows the spawned task's own locals can
    /// fail to compile with "implementation of `Send` is not general enough"
    /// (a rustc limitation, rust-lang/rust#110338): write `async move |tx|`
    /// over owned (cloned) values there.
    pub async fn transaction_retry<R, F>(
        &self,
        options: TransactionOptions,
        attempts: u32,
        f: F,
    ) -> Result<R>
    where
        F: for<'t, 'c> AsyncFn(&'t mut Transaction<'c>) -> Result<R>,
    {
        let mut attempt = 1;
        loop {
            // Not `transaction_with(options, &f)`: the future of `&F`'s call
            // trips rustc's higher-ranked `Send` check inside `tokio::spawn`.
            let result = match self.begin_with(options).await {
                Ok(mut tx) => {
                    let result = f(&mut tx).await;
                    finish(tx, result).await
                }
                Err(e) => Err(e),
            };
            match result {
                Err(e) if attempt < attempts && e.is_transaction_conflict() => {
                    tokio::time::sleep(crate::transaction::backoff(attempt)).await;
                    attempt += 1;
                }
                other => return other,
            }
        }
    }

    /// A connection suited to `sql`: on SQLite a reader for reads.
    #[cfg(feature = "sqlite")]
    pub(crate) async fn acquire_for(&self, sql: &str) -> Result<Connection> {
        match &*self.inner {
            #[cfg(feature = "sqlite")]
            Inner::Sqlite(pool) => pool.connection_for(sql).await,
            #[cfg(feature = "postgres")]
            Inner::Postgres(pool) => pool.get().await,
        }
    }

    /// PostgreSQL: starts streaming the rows of `sql`, routed like a read
    /// (the connection must outlive the rows). `None` on SQLite.
    #[cfg(feature = "postgres")]
    #[cfg_attr(not(feature = "sqlite"), allow(irrefutable_let_patterns))]
    pub(crate) async fn start_pg_stream(
        &self,
        sql: &str,
        binds: &[Value],
    ) -> Option<Result<(tokio_postgres::RowStream, Connection)>> {
        let Inner::Postgres(pool) = &*self.inner else {
            return None;
        };
        let op = StreamStart { sql, binds };
        Some(match &self.router {
            Some(router) => {
                let to_replica = !self.pinned && router.wants_replica(sql, Origin::Raw);
                router.run(pool, &op, to_replica).await
            }
            None => match pool.get().await {
                Ok(conn) => op.run(&conn).await.map(|rows| (rows, conn)),
                Err(e) => Err(e),
            },
        })
    }

    /// Streams the rows of a query, decoded one at a time: the whole result
    /// is never in memory. The stream holds a pooled connection until it
    /// ends or is dropped.
    ///
    /// ```
    /// use sylvan::prelude::*;
    /// use sylvan::StreamExt;
    /// # tokio::runtime::Runtime::new().unwrap().block_on(async {
    /// let db = Database::connect("sqlite::memory:").await?;
    /// let mut rows = db.fetch_stream::<i64, _>("WITH RECURSIVE n(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM n WHERE x < 100000) SELECT x FROM n", ());
    /// let mut sum = 0;
    /// while let Some(x) = rows.next().await {
    ///     sum += x?;
    /// }
    /// assert_eq!(sum, 5_000_050_000);
    /// # Ok::<_, sylvan::Error>(()) }).unwrap();
    /// ```
    pub fn fetch_stream<T: FromRow, B: Binds>(
        &self,
        sql: &str,
        binds: B,
    ) -> impl Stream<Item = Result<T>> + Send + 'static {
        let start = binds
            .into_values()
            .map(|binds| (self.clone(), sql.to_owned(), binds));
        match start {
            Ok((db, sql, binds)) => crate::stream::rows(db, sql, binds),
            Err(e) => futures_util::stream::once(async move { Err(e) }).boxed(),
        }
    }

    /// Runs `f` against the SQLite writer connection on its worker thread,
    /// holding the writer until `f` returns. See [`Connection::interact`]:
    /// a panic in `f` returns [`Error::WorkerPanicked`], rolls back any
    /// transaction `f` left open and discards the connection. To run a
    /// closure inside a transaction, use [`Transaction::interact`].
    #[cfg(feature = "sqlite")]
    pub async fn interact<F, R>(&self, f: F) -> Result<R>
    where
        F: FnOnce(&mut rusqlite::Connection) -> R + Send + 'static,
        R: Send + 'static,
    {
        self.acquire().await?.interact(f).await
    }

    /// SQLite: the most jobs ever queued at once on one connection's worker
    /// of this pool (bounded by the queue depth); 0 on PostgreSQL. For
    /// tests and diagnostics, not a stable API.
    #[doc(hidden)]
    pub fn sqlite_queue_high_water(&self) -> usize {
        match &*self.inner {
            #[cfg(feature = "sqlite")]
            Inner::Sqlite(pool) => pool.queue_high_water(),
            #[cfg(feature = "postgres")]
            Inner::Postgres(_) => 0,
        }
    }

    /// Refuses `what` (an operation that needs a session of its own, such
    /// as migrating) on a `Database` behind a transaction pooler.
    #[cfg_attr(not(feature = "postgres"), allow(unused_variables))]
    pub(crate) fn needs_session(&self, what: &str, fix: &str) -> Result<()> {
        match &*self.inner {
            #[cfg(feature = "postgres")]
            Inner::Postgres(pool) if pool.is_behind_transaction_pooler() => {
                Err(Error::NeedsSession {
                    what: what.to_owned(),
                    fix: fix.to_owned(),
                    sql: None,
                })
            }
            _ => Ok(()),
        }
    }

    /// A snapshot of the pool (on SQLite, writer and readers together; with
    /// replicas, the primary's: see [`Database::members`]).
    pub fn status(&self) -> PoolStatus {
        match &*self.inner {
            #[cfg(feature = "sqlite")]
            Inner::Sqlite(pool) => pool.status(),
            #[cfg(feature = "postgres")]
            Inner::Postgres(pool) => pool.status(),
        }
    }

    /// Closes the pool: every waiting and future checkout fails at once with
    /// [`Error::PoolClosed`]; connections close as they come back.
    pub fn close(&self) {
        match &*self.inner {
            #[cfg(feature = "sqlite")]
            Inner::Sqlite(pool) => pool.close(),
            #[cfg(feature = "postgres")]
            Inner::Postgres(pool) => pool.close(),
        }
        #[cfg(feature = "postgres")]
        if let Some(router) = &self.router {
            router.close();
        }
    }

    /// True once [`Database::close`] was called.
    pub fn is_closed(&self) -> bool {
        match &*self.inner {
            #[cfg(feature = "sqlite")]
            Inner::Sqlite(pool) => pool.is_closed(),
            #[cfg(feature = "postgres")]
            Inner::Postgres(pool) => pool.is_closed(),
        }
    }
}

impl Database {
    /// A SQLite raw statement that may change session state runs on a
    /// checked-out connection, which then closes instead of going back to
    /// the pool (see [`Connection`]); every other SQLite statement is
    /// queued on a worker without holding a connection.
    #[cfg(feature = "sqlite")]
    fn sqlite_needs_connection(sql: &str, origin: Origin) -> bool {
        origin == Origin::Raw && may_change_session(sql, false, false)
    }
}

impl Run for Database {
    async fn run_execute(
        &self,
        sql: &str,
        binds: Result<Vec<Value>>,
        origin: Origin,
    ) -> Result<u64> {
        let binds = binds?;
        match &*self.inner {
            #[cfg(feature = "sqlite")]
            Inner::Sqlite(pool) if Self::sqlite_needs_connection(sql, origin) => {
                let conn = pool.connection_for(sql).await?;
                conn.execute_with(sql, binds, false, origin).await
            }
            #[cfg(feature = "sqlite")]
            Inner::Sqlite(pool) => pool.execute(sql, binds).await,
            #[cfg(feature = "postgres")]
            Inner::Postgres(pool) => match &self.router {
                Some(router) => {
                    let to_replica = !self.pinned && router.wants_replica(sql, origin);
                    let op = Execute { sql, binds, origin };
                    Ok(router.run(pool, &op, to_replica).await?.0)
                }
                None => {
                    let conn = pool.get().await?;
                    conn.execute_with(sql, binds, false, origin).await
                }
            },
        }
    }

    async fn run_query<T: FromRow>(
        &self,
        sql: &str,
        binds: Result<Vec<Value>>,
        cardinality: Cardinality,
        origin: Origin,
    ) -> Result<Vec<T>> {
        let binds = binds?;
        match &*self.inner {
            #[cfg(feature = "sqlite")]
            Inner::Sqlite(pool) if Self::sqlite_needs_connection(sql, origin) => {
                let conn = pool.connection_for(sql).await?;
                conn.query_with(sql, binds, cardinality, false, origin)
                    .await
            }
            #[cfg(feature = "sqlite")]
            Inner::Sqlite(pool) => {
                let rows = pool.query(sql, binds, cardinality).await?;
                cardinality.check(&rows)?;
                Ok(rows)
            }
            #[cfg(feature = "postgres")]
            Inner::Postgres(pool) => match &self.router {
                Some(router) => {
                    let to_replica = !self.pinned && router.wants_replica(sql, origin);
                    let op = Query {
                        sql,
                        binds,
                        cardinality,
                        origin,
                        _rows: std::marker::PhantomData::<fn() -> T>,
                    };
                    Ok(router.run(pool, &op, to_replica).await?.0)
                }
                None => {
                    let conn = pool.get().await?;
                    conn.query_with(sql, binds, cardinality, false, origin)
                        .await
                }
            },
        }
    }

    fn run_dialect(&self) -> Dialect {
        self.dialect()
    }
}

/// Ends a transaction run by [`Database::transaction`]: commits when the
/// closure returned `Ok`, rolls back when it returned `Err`.
async fn finish<R, E: From<Error>>(
    tx: Transaction<'static>,
    result: std::result::Result<R, E>,
) -> std::result::Result<R, E> {
    match result {
        Ok(value) => {
            tx.commit().await?;
            Ok(value)
        }
        Err(e) => {
            // The closure's error wins; the pool rolls back if this fails.
            let _ = tx.rollback().await;
            Err(e)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn handles_are_send_and_sync() {
        fn is<T: Send + Sync>() {}
        is::<Database>();
        is::<Connection>();
    }
}
