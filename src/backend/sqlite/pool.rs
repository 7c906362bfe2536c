//! The SQLite pool: one writer connection and a set of readers.
//!
//! Every write goes through the single writer, so concurrent writers queue
//! in the pool's FIFO instead of failing with `SQLITE_BUSY`. Reads go to the
//! readers (which have `PRAGMA query_only` on); a statement routed as a read
//! that turns out to write is re-run on the writer.
//!
//! A `Database` statement checks a connection out, queues its job on the
//! connection's worker and hands the connection back before awaiting the
//! reply. Overload is bounded all the same: each worker queues at most
//! [`QUEUE_DEPTH`](super::worker::QUEUE_DEPTH) jobs, and a caller waits for
//! the pool and then for room in that queue within one `wait_timeout`
//! (measured from the start of the call), failing with
//! [`Error::PoolTimeout`] (phase `Wait`) after it.

use super::conn::{bounded, Location, Mode, Role, SqliteConn, SqliteOptions};
use super::worker::QueueConfig;
use crate::backend::first_keyword_is;
use crate::connection::Connection;
use crate::error::{Error, Result};
use crate::observe::{self, Kind};
use crate::pool::{spawn_reaper, LastError, LastUsed, PoolConfig, PoolStatus};
use crate::row::{Cardinality, FromRow};
use crate::value::Value;
use deadpool::managed::{Manager, Metrics, Pool, RecycleError, RecycleResult};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Instant;

/// Statements sent to a reader first.
const READ_KEYWORDS: &[&str] = &["SELECT", "VALUES", "WITH", "EXPLAIN"];

/// deadpool manager for one role of SQLite connection.
#[derive(Debug)]
pub(crate) struct SqliteManager {
    options: Arc<SqliteOptions>,
    role: Role,
    config: PoolConfig,
    queue: QueueConfig,
    pub(crate) last_error: LastError,
}

impl LastUsed for SqliteConn {
    fn last_used(&self) -> Instant {
        self.last_used
    }
}

impl Manager for SqliteManager {
    type Type = SqliteConn;
    type Error = Error;

    async fn create(&self) -> Result<SqliteConn> {
        let result =
            SqliteConn::connect(Arc::clone(&self.options), self.role, self.queue.clone()).await;
        match result {
            Ok(mut conn) => {
                conn.statement_timeout = self.config.statement_timeout_value();
                Ok(conn)
            }
            Err(e) => {
                self.last_error.record(&e);
                Err(e)
            }
        }
    }

    async fn recycle(&self, conn: &mut SqliteConn, metrics: &Metrics) -> RecycleResult<Error> {
        if conn.worker.is_broken() {
            return Err(RecycleError::message(
                "the SQLite worker stopped or panicked",
            ));
        }
        if let Some(why) = self.config.expired(metrics.created, conn.last_used) {
            return Err(RecycleError::message(why));
        }
        if conn.worker.may_be_dirty() {
            // Queued behind whatever a dropped caller left running.
            let clean = conn
                .worker
                .call(|c| {
                    super::worker::rollback_open_transaction(c);
                    c.is_autocommit()
                })
                .await?;
            if !clean {
                return Err(RecycleError::message(
                    "could not roll back an open transaction",
                ));
            }
        }
        Ok(())
    }
}

/// The pools of one SQLite database.
#[derive(Debug)]
pub(crate) struct SqlitePool {
    writer: Pool<SqliteManager>,
    readers: Option<Pool<SqliteManager>>,
    config: PoolConfig,
    queue: QueueConfig,
    /// Keeps an in-memory database alive while the pool lives, whatever
    /// happens to the pooled connections.
    _anchor: Option<SqliteConn>,
}

impl SqlitePool {
    /// Builds the pools and opens the writer (which sets WAL mode on a
    /// file), so a bad path fails here.
    pub(crate) async fn connect(options: SqliteOptions, config: PoolConfig) -> Result<Self> {
        let options = Arc::new(options);
        let queue = QueueConfig {
            wait_timeout: config.wait_timeout_value(),
            high_water: Arc::new(AtomicUsize::new(0)),
        };
        let manager = |role| SqliteManager {
            options: Arc::clone(&options),
            role,
            config: config.clone(),
            queue: queue.clone(),
            last_error: LastError::default(),
        };
        let anchor = match options.location {
            Location::Memory(_) => {
                Some(SqliteConn::connect(Arc::clone(&options), Role::Writer, queue.clone()).await?)
            }
            Location::File(_) => None,
        };
        let writer = config.build(manager(Role::Writer), 1)?;
        let readers = match config.max_size_value() {
            1 => None,
            n => Some(config.build(manager(Role::Reader), n - 1)?),
        };
        let pool = SqlitePool {
            writer,
            readers,
            config: config.clone(),
            queue,
            _anchor: anchor,
        };
        drop(pool.writer().await?);
        spawn_reaper(&pool.writer, &config);
        if let Some(readers) = &pool.readers {
            spawn_reaper(readers, &config);
        }
        Ok(pool)
    }

    async fn checkout(&self, pool: &Pool<SqliteManager>) -> Result<Connection> {
        match pool.get().await {
            Ok(obj) => Ok(Connection::sqlite(obj)),
            Err(e) => Err(self.config.map_error(e, &pool.manager().last_error)),
        }
    }

    /// A writer connection of its own, outside the pool and not counted in
    /// its size, closed when dropped (so session state such as
    /// `PRAGMA foreign_keys = OFF` never reaches the pool), and the database
    /// file, `None` for an in-memory database.
    pub(crate) async fn dedicated(&self) -> Result<(SqliteConn, Option<std::path::PathBuf>)> {
        let options = Arc::clone(&self.writer.manager().options);
        let file = match &options.location {
            Location::File(path) => Some(path.clone()),
            Location::Memory(_) => None,
        };
        let queue = self.writer.manager().queue.clone();
        Ok((
            SqliteConn::connect(options, Role::Writer, queue).await?,
            file,
        ))
    }

    /// The writer connection.
    pub(crate) async fn writer(&self) -> Result<Connection> {
        self.checkout(&self.writer).await
    }

    /// A reader connection (the writer when the pool has no readers).
    pub(crate) async fn reader(&self) -> Result<Connection> {
        match &self.readers {
            Some(readers) => self.checkout(readers).await,
            None => self.writer().await,
        }
    }

    /// A reader for statements that start like reads, else the writer.
    pub(crate) async fn connection_for(&self, sql: &str) -> Result<Connection> {
        if first_keyword_is(sql, READ_KEYWORDS) {
            self.reader().await
        } else {
            self.writer().await
        }
    }

    /// Runs a query on a reader when it only reads, else on the writer.
    ///
    /// The statement is queued on the connection's worker and the
    /// connection goes straight back to the pool: statements of many
    /// callers queue on the workers and run back to back. Waiting for the
    /// connection and for room in its queue share one wait timeout (see the
    /// module docs).
    pub(crate) async fn query<T: FromRow>(
        &self,
        sql: &str,
        binds: Vec<Value>,
        cardinality: Cardinality,
    ) -> Result<Vec<T>> {
        // One statement, even when a reader refuses it and the writer runs it.
        let observed = observe::statement(sql, &binds, Kind::Query);
        let mut binds = binds;
        if self.readers.is_some() && first_keyword_is(sql, READ_KEYWORDS) {
            let since = Instant::now();
            let reply = {
                let conn = self.reader().await?;
                conn.sqlite_conn()?
                    .submit_query(
                        sql,
                        binds,
                        cardinality,
                        true,
                        Mode::Detached,
                        Some(since),
                        observed.clone(),
                    )
                    .await?
            };
            match bounded(self.config.statement_timeout_value(), sql, reply).await?? {
                Ok(rows) => return Ok(rows),
                Err(back) => binds = back,
            }
        }
        let since = Instant::now();
        let reply = {
            let conn = self.writer().await?;
            conn.sqlite_conn()?
                .submit_query(
                    sql,
                    binds,
                    cardinality,
                    false,
                    Mode::Detached,
                    Some(since),
                    observed,
                )
                .await?
        };
        bounded(self.config.statement_timeout_value(), sql, reply)
            .await??
            .map_err(|_| Error::Config("a statement was refused by the writer".into()))
    }

    /// Runs a statement on the writer (queued; see [`SqlitePool::query`]).
    pub(crate) async fn execute(&self, sql: &str, binds: Vec<Value>) -> Result<u64> {
        let since = Instant::now();
        let reply = {
            let conn = self.writer().await?;
            conn.sqlite_conn()?
                .submit_execute(sql, binds, Mode::Detached, Some(since))
                .await?
        };
        bounded(self.config.statement_timeout_value(), sql, reply).await?
    }

    /// The most jobs ever queued at once on one of the pool's workers
    /// (never above [`QUEUE_DEPTH`](super::worker::QUEUE_DEPTH)).
    pub(crate) fn queue_high_water(&self) -> usize {
        self.queue.high_water.load(Ordering::Relaxed)
    }

    /// True when the pool has reader connections beside the writer.
    pub(crate) fn has_readers(&self) -> bool {
        self.readers.is_some()
    }

    pub(crate) fn status(&self) -> PoolStatus {
        let writer = PoolStatus::of(&self.writer);
        match &self.readers {
            Some(readers) => writer.add(PoolStatus::of(readers)),
            None => writer,
        }
    }

    pub(crate) fn close(&self) {
        self.writer.close();
        if let Some(readers) = &self.readers {
            readers.close();
        }
    }

    pub(crate) fn is_closed(&self) -> bool {
        self.writer.is_closed()
    }
}
