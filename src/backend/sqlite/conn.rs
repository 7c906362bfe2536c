//! Opening SQLite connections and running statements on their workers.

use super::error::map_error;
use super::types::bind_all;
use super::worker::{QueueConfig, Reply, Worker};
use crate::backend::rewrite_placeholders_for_sqlite;
use crate::error::{Error, Result};
use crate::observe::{self, Kind, Rows};
use crate::row::{Cardinality, FromRow, Row, RowDecoder};
use crate::value::Value;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// A hook run on every new SQLite connection, on its worker thread.
pub(crate) type OnConnect =
    Arc<dyn Fn(&rusqlite::Connection) -> rusqlite::Result<()> + Send + Sync>;

/// Where a SQLite database lives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Location {
    /// A file, created if missing.
    File(PathBuf),
    /// A private in-memory database shared by the pool's connections
    /// (SQLite's `memdb` VFS under a name unique to this process).
    Memory(String),
}

/// How to open the connections of one SQLite database.
#[derive(Clone)]
pub(crate) struct SqliteOptions {
    pub(crate) location: Location,
    pub(crate) busy_timeout: Duration,
    pub(crate) synchronous: &'static str,
    pub(crate) statement_cache: usize,
    pub(crate) on_connect: Option<OnConnect>,
}

impl std::fmt::Debug for SqliteOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqliteOptions")
            .field("location", &self.location)
            .field("busy_timeout", &self.busy_timeout)
            .field("synchronous", &self.synchronous)
            .finish_non_exhaustive()
    }
}

/// Whether a connection may write.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Role {
    /// The single writer: every write of the pool goes through it.
    Writer,
    /// A reader: `PRAGMA query_only` refuses writes.
    Reader,
}

/// Opens one connection (call on the worker thread).
pub(crate) fn open(options: &SqliteOptions, role: Role) -> Result<rusqlite::Connection> {
    use rusqlite::OpenFlags;
    let connect_err = |e: rusqlite::Error| Error::Connect { source: e.into() };
    let flags = OpenFlags::SQLITE_OPEN_READ_WRITE
        | OpenFlags::SQLITE_OPEN_CREATE
        | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    let conn = match &options.location {
        Location::File(path) => rusqlite::Connection::open_with_flags(path, flags),
        Location::Memory(name) => rusqlite::Connection::open_with_flags(
            format!("file:/{name}?vfs=memdb"),
            flags | OpenFlags::SQLITE_OPEN_URI,
        ),
    }
    .map_err(connect_err)?;
    conn.busy_timeout(options.busy_timeout)
        .map_err(connect_err)?;
    conn.set_prepared_statement_cache_capacity(options.statement_cache);
    let file = matches!(options.location, Location::File(_));
    if file && role == Role::Writer {
        let mode: String = conn
            .query_row("PRAGMA journal_mode=WAL", [], |r| r.get(0))
            .map_err(connect_err)?;
        if !mode.eq_ignore_ascii_case("wal") {
            return Err(Error::Config(format!(
                "SQLite refused WAL mode (journal_mode is {mode})"
            )));
        }
    }
    let mut pragmas = format!(
        "PRAGMA foreign_keys = ON; PRAGMA synchronous = {};",
        options.synchronous
    );
    if role == Role::Reader {
        pragmas.push_str(" PRAGMA query_only = ON;");
    }
    conn.execute_batch(&pragmas).map_err(connect_err)?;
    if let Some(hook) = &options.on_connect {
        hook(&conn).map_err(connect_err)?;
    }
    Ok(conn)
}

/// One pooled SQLite connection.
#[derive(Debug)]
pub(crate) struct SqliteConn {
    pub(crate) worker: Worker,
    pub(crate) last_used: Instant,
    /// The pool's default statement timeout (see `crate::timeout`).
    pub(crate) statement_timeout: Option<Duration>,
}

impl SqliteConn {
    /// Starts the worker thread and opens the connection there.
    pub(crate) async fn connect(
        options: Arc<SqliteOptions>,
        role: Role,
        queue: QueueConfig,
    ) -> Result<Self> {
        let worker = Worker::spawn(move || open(&options, role), queue).await?;
        Ok(SqliteConn {
            worker,
            last_used: Instant::now(),
            statement_timeout: None,
        })
    }

    /// Runs a statement, returning the number of rows it changed.
    pub(crate) async fn execute(&self, sql: &str, binds: Vec<Value>, mode: Mode) -> Result<u64> {
        let reply = self.submit_execute(sql, binds, mode, None).await?;
        bounded(self.statement_timeout, sql, reply).await?
    }

    /// Queues a statement (waiting for room in the queue until one wait
    /// timeout after `since`, default now); the reply says how many rows it
    /// changed.
    pub(crate) async fn submit_execute(
        &self,
        sql: &str,
        binds: Vec<Value>,
        mode: Mode,
        since: Option<Instant>,
    ) -> Result<Reply<Result<u64>>> {
        observe::statement(sql, &binds, Kind::Execute);
        let sql = SqlText::new(sql);
        self.worker
            .submit(
                move |conn| {
                    mode.check(conn)?;
                    let start = Instant::now();
                    let result = execute_on(conn, &sql, &binds);
                    if let Ok(n) = &result {
                        trace(&sql.written, *n, start);
                    }
                    result
                },
                mode.is_session(),
                since,
            )
            .await
    }

    /// Runs several statements without binds.
    pub(crate) async fn execute_script(&self, sql: &str, mode: Mode) -> Result<()> {
        observe::statement(sql, &[], Kind::Script);
        let script = sql.to_owned();
        let reply = self
            .worker
            .submit(
                move |conn| {
                    mode.check(conn)?;
                    conn.execute_batch(&script)
                        .map_err(|e| map_error(e, &script))
                },
                true,
                None,
            )
            .await?;
        bounded(self.statement_timeout, sql, reply).await?
    }

    /// Runs a query and decodes its rows on the worker.
    pub(crate) async fn query<T: FromRow>(
        &self,
        sql: &str,
        binds: Vec<Value>,
        cardinality: Cardinality,
        mode: Mode,
    ) -> Result<Vec<T>> {
        let observed = observe::statement(sql, &binds, Kind::Query);
        let reply = self
            .submit_query(sql, binds, cardinality, false, mode, None, observed)
            .await?;
        let rows = bounded(self.statement_timeout, sql, reply).await??;
        rows.map_err(|_| Error::Config("a statement was refused".into()))
    }

    /// Queues a query whose rows are decoded on the worker (waiting for
    /// room as [`SqliteConn::submit_execute`] does). With
    /// `only_if_read_only`, a statement that would write is not run and its
    /// binds come back as `Ok(Err(binds))` (the caller then sends it to the
    /// writer). `observed`: where the rows are recorded (the caller ran the
    /// statement hook once, see `crate::observe`).
    #[allow(clippy::too_many_arguments)]
    pub(crate) async fn submit_query<T: FromRow>(
        &self,
        sql: &str,
        binds: Vec<Value>,
        cardinality: Cardinality,
        only_if_read_only: bool,
        mode: Mode,
        since: Option<Instant>,
        observed: Rows,
    ) -> Result<Reply<QueryResult<T>>> {
        let sql = SqlText::new(sql);
        self.worker
            .submit(
                move |conn| {
                    mode.check(conn)?;
                    let start = Instant::now();
                    let result =
                        query_on::<T>(conn, &sql, binds, cardinality, only_if_read_only, observed);
                    if let Ok(Ok(rows)) = &result {
                        trace(&sql.written, rows.len() as u64, start);
                    }
                    result
                },
                mode.is_session(),
                since,
            )
            .await
    }

    /// Runs `f` on the raw connection as a session job; in
    /// `Mode::InTransaction` it is refused if the transaction is gone.
    pub(crate) async fn interact<F, R>(&self, f: F, mode: Mode) -> Result<R>
    where
        F: FnOnce(&mut rusqlite::Connection) -> R + Send + 'static,
        R: Send + 'static,
    {
        self.worker
            .call(move |conn| {
                mode.check(conn)?;
                Ok(f(conn))
            })
            .await?
    }
}

/// Awaits a job's reply within the statement timeout in force (the
/// connection's default unless overridden, see `crate::timeout`). On expiry
/// the reply is dropped, which interrupts the job on the worker.
pub(crate) async fn bounded<R>(default: Option<Duration>, sql: &str, reply: Reply<R>) -> Result<R> {
    let timeout = crate::timeout::effective(default);
    crate::timeout::bound(timeout, sql, reply, || {}).await
}

/// How a statement reaches a connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Mode {
    /// One self-contained statement of a `Database` call.
    Detached,
    /// A statement on a checked-out connection.
    Session,
    /// A statement of an open transaction: refused if SQLite already rolled
    /// the transaction back (an interrupted write does, and the worker does
    /// after a job panicked inside it), so that it cannot run, and commit,
    /// on its own.
    InTransaction,
}

impl Mode {
    fn is_session(self) -> bool {
        self != Mode::Detached
    }

    fn check(self, conn: &rusqlite::Connection) -> Result<()> {
        if self == Mode::InTransaction && conn.is_autocommit() {
            return Err(Error::TransactionAborted {
                reason: "SQLite rolled the transaction back (an interrupted or failed statement, or a closure that panicked on the connection)"
                    .into(),
            });
        }
        Ok(())
    }
}

/// Queues a job that steps `sql` and sends each decoded row to `rows`,
/// waiting while the channel is full; it stops when the receiver is gone or
/// after the first error. Dropping the returned handle interrupts it.
/// `observed`: where the rows are recorded (the caller ran the statement
/// hook, see `crate::observe`).
pub(crate) async fn stream_rows<T: FromRow>(
    conn: &SqliteConn,
    sql: String,
    binds: Vec<Value>,
    rows: tokio::sync::mpsc::Sender<Result<T>>,
    mode: Mode,
    observed: Rows,
) -> Result<Reply<()>> {
    let sql = SqlText::new(&sql);
    conn.worker
        .submit(
            move |c| {
                let run = || -> Result<()> {
                    mode.check(c)?;
                    let written = sql.written.as_str();
                    let mut stmt = sql.prepare(c)?;
                    bind_all(&mut stmt, &binds, written)?;
                    let mut cursor = stmt.raw_query();
                    let mut decoder = RowDecoder::<T>::new(observed);
                    while let Some(row) = cursor.next().map_err(|e| map_error(e, written))? {
                        let item = decoder.decode(&Row::sqlite(row));
                        let failed = item.is_err();
                        if rows.blocking_send(item).is_err() || failed {
                            break;
                        }
                    }
                    Ok(())
                };
                if let Err(e) = run() {
                    let _ = rows.blocking_send(Err(e));
                }
            },
            mode.is_session(),
            None,
        )
        .await
}

/// Decoded rows, or the binds back when a read-only run was refused.
pub(crate) type QueryResult<T> = Result<std::result::Result<Vec<T>, Vec<Value>>>;

/// A statement as the caller wrote it (for errors and traces) and as SQLite
/// runs it (`$N` rewritten to `?N`).
struct SqlText {
    written: String,
    rewritten: Option<String>,
}

impl SqlText {
    fn new(sql: &str) -> Self {
        let rewritten = match rewrite_placeholders_for_sqlite(sql) {
            std::borrow::Cow::Borrowed(_) => None,
            std::borrow::Cow::Owned(s) => Some(s),
        };
        SqlText {
            written: sql.to_owned(),
            rewritten,
        }
    }

    fn runnable(&self) -> &str {
        self.rewritten.as_deref().unwrap_or(&self.written)
    }

    /// Prepares (or takes from the cache) and binds.
    fn prepare<'c>(&self, conn: &'c rusqlite::Connection) -> Result<rusqlite::CachedStatement<'c>> {
        conn.prepare_cached(self.runnable())
            .map_err(|e| map_error(e, &self.written))
    }
}

/// Changes made by a statement: `sqlite3_changes()` keeps the count of the
/// last INSERT/UPDATE/DELETE, so a statement that changed nothing (DDL, a
/// SELECT) is told apart by the running total.
fn execute_on(conn: &rusqlite::Connection, sql: &SqlText, binds: &[Value]) -> Result<u64> {
    let written = sql.written.as_str();
    let mut stmt = sql.prepare(conn)?;
    bind_all(&mut stmt, binds, written)?;
    let before = conn.total_changes();
    if stmt.column_count() == 0 {
        stmt.raw_execute().map_err(|e| map_error(e, written))?;
    } else {
        // A statement that returns rows (say `INSERT … RETURNING`): run it
        // to the end.
        let mut rows = stmt.raw_query();
        while rows.next().map_err(|e| map_error(e, written))?.is_some() {}
    }
    drop(stmt);
    if conn.total_changes() == before {
        Ok(0)
    } else {
        Ok(conn.changes())
    }
}

fn query_on<T: FromRow>(
    conn: &rusqlite::Connection,
    sql: &SqlText,
    binds: Vec<Value>,
    cardinality: Cardinality,
    only_if_read_only: bool,
    observed: Rows,
) -> QueryResult<T> {
    let written = sql.written.as_str();
    let mut stmt = sql.prepare(conn)?;
    if only_if_read_only && !stmt.readonly() {
        return Ok(Err(binds));
    }
    bind_all(&mut stmt, &binds, written)?;
    let limit = cardinality.read_limit();
    let mut out = Vec::new();
    let mut rows = stmt.raw_query();
    let mut decoder = RowDecoder::<T>::new(observed);
    while let Some(row) = rows.next().map_err(|e| map_error(e, written))? {
        out.push(decoder.decode(&Row::sqlite(row))?);
        if out.len() >= limit {
            break;
        }
    }
    Ok(Ok(out))
}

fn trace(sql: &str, rows: u64, start: Instant) {
    tracing::debug!(
        target: "sylvan::query",
        backend = "sqlite",
        sql,
        rows,
        elapsed_us = start.elapsed().as_micros() as u64,
    );
}
