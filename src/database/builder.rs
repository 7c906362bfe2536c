//! [`DatabaseBuilder`]: settings beyond the URL, and opening the pools.

use super::{Database, Inner};
#[cfg(feature = "postgres")]
use crate::backend::postgres::PgPool;
#[cfg(feature = "sqlite")]
use crate::backend::sqlite::{OnConnect, SqlitePool};
#[cfg(all(feature = "sqlite", feature = "postgres"))]
use crate::error::Error;
use crate::error::Result;
use crate::options::{ConnectOptions, Target};
use crate::pool::PoolConfig;
#[cfg(feature = "postgres")]
use crate::router::Replicas;
use std::sync::Arc;
#[cfg(feature = "sqlite")]
use std::time::Duration;

/// Settings for [`Database`] beyond its URL. Values set here override the
/// URL's.
///
/// ```
/// # tokio::runtime::Runtime::new().unwrap().block_on(async {
/// use std::time::Duration;
/// let db = sylvan::Database::builder("sqlite::memory:")
///     .pool(sylvan::PoolConfig::default().max_size(2).wait_timeout(Duration::from_secs(1)))
///     .connect()
///     .await?;
/// assert_eq!(db.status().max_size, 2);
/// # Ok::<_, sylvan::Error>(()) }).unwrap();
/// ```
#[must_use = "a builder does nothing until .connect() is awaited"]
pub struct DatabaseBuilder {
    url: String,
    pool: Option<PoolConfig>,
    #[cfg(feature = "sqlite")]
    busy_timeout: Option<Duration>,
    #[cfg(feature = "sqlite")]
    on_connect: Option<OnConnect>,
    #[cfg(feature = "postgres")]
    pub(crate) replicas: Replicas,
    #[cfg(feature = "postgres")]
    transaction_pooler: Option<bool>,
}

impl std::fmt::Debug for DatabaseBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut out = f.debug_struct("DatabaseBuilder");
        out.field("pool", &self.pool);
        #[cfg(feature = "sqlite")]
        out.field("busy_timeout", &self.busy_timeout);
        #[cfg(feature = "postgres")]
        out.field("replicas", &self.replicas)
            .field("transaction_pooler", &self.transaction_pooler);
        out.finish_non_exhaustive()
    }
}

impl DatabaseBuilder {
    pub(super) fn new(url: &str) -> Self {
        DatabaseBuilder {
            url: url.to_owned(),
            pool: None,
            #[cfg(feature = "sqlite")]
            busy_timeout: None,
            #[cfg(feature = "sqlite")]
            on_connect: None,
            #[cfg(feature = "postgres")]
            replicas: Replicas::default(),
            #[cfg(feature = "postgres")]
            transaction_pooler: None,
        }
    }

    /// Pool settings (replacing any `pool_*` URL parameters).
    pub fn pool(mut self, config: PoolConfig) -> Self {
        self.pool = Some(config);
        self
    }

    /// SQLite's busy timeout (how long a connection waits on a lock held by
    /// another process). Ignored on PostgreSQL.
    #[cfg(feature = "sqlite")]
    pub fn sqlite_busy_timeout(mut self, d: Duration) -> Self {
        self.busy_timeout = Some(d);
        self
    }

    /// A hook run on every new SQLite connection, on its worker thread,
    /// after Sylvan's own pragmas: register functions, set pragmas. Ignored
    /// on PostgreSQL.
    #[cfg(feature = "sqlite")]
    pub fn sqlite_on_connect<F>(mut self, hook: F) -> Self
    where
        F: Fn(&rusqlite::Connection) -> rusqlite::Result<()> + Send + Sync + 'static,
    {
        self.on_connect = Some(Arc::new(hook));
        self
    }

    /// PostgreSQL: whether a transaction-mode pooler (PgBouncer with
    /// `pool_mode = transaction`, Supavisor and RDS Proxy in transaction
    /// mode, …) sits between Sylvan and the server; the same as
    /// `pooler=transaction` in the URL (`pooler=none` is the default).
    /// Ignored on SQLite.
    ///
    /// **When to use it**: whenever the URL names such a pooler. Behind it,
    /// each transaction (and each statement outside one) may run on a
    /// different server session, used by other clients in between, which
    /// breaks what Sylvan otherwise relies on: named prepared statements
    /// (they vanish or collide: SQLSTATE 26000 / 42P05, which Sylvan then
    /// reports as [`Error::TransactionPoolerDetected`]) and the session
    /// reset when a connection returns to the pool. With the setting on:
    ///
    /// - every statement is an unnamed one, parsed, bound and run in one
    ///   round trip; parameter types come from the values (`bool`, integers
    ///   as `SMALLINT`/`INTEGER`/`BIGINT` by their Rust width, floats,
    ///   bytes, dates and times, UUIDs, JSON as `JSONB`), while text and
    ///   `None` are left for the server to type from the statement, as when
    ///   it prepares one;
    /// - no session reset is sent on return (only a `ROLLBACK` when a
    ///   transaction may be open); raw statements that would leave session
    ///   state behind (`SET` without `LOCAL`, `RESET`, `LISTEN`, SQL
    ///   `PREPARE`/`DEALLOCATE`, `DISCARD`, `DECLARE … WITH HOLD`,
    ///   `CREATE TEMP …` without `ON COMMIT DROP`, session advisory locks)
    ///   fail with [`Error::NeedsSession`] before they run, as do
    ///   migrations: migrate over a direct URL. `set_config(…, false)`,
    ///   `LOAD` and functions that change session state are not detected:
    ///   avoid them;
    /// - statements the server cannot type are typed by the values: an
    ///   `i64` is a `BIGINT`, so `repeat('x', $1)` with an `i64` finds no
    ///   function (bind an `i32`, or cast: `$1::int`); text bound where a
    ///   number is expected is parsed by the server instead of refused by
    ///   Sylvan, and a float or integer bound into a narrower column is
    ///   converted (rounded) by the server's assignment cast rather than
    ///   checked for exactness;
    /// - a result column of a type tokio-postgres must look up (an enum, a
    ///   composite, an extension type) makes the driver prepare a named
    ///   statement of its own, which a transaction pooler may break: that
    ///   is [`Error::NeedsSession`] naming the fix, a cast to a supported
    ///   type in SQL (`mood::text`); Sylvan decodes none of those types
    ///   anyway;
    /// - the bind count is checked against the highest `$N` in the text
    ///   ([`Error::BindCount`]), as no prepared statement says it.
    ///
    /// **What it costs**: the server parses and plans every statement
    /// again instead of reusing a prepared one; the round trips are the
    /// same (one per statement). On a local server a point lookup took
    /// about 1.8 times as long (≈105 µs against ≈57 µs), a 1,000-row load
    /// the same; through PgBouncer add its own hop (`examples/pooler_cost.rs`
    /// measures it).
    ///
    /// ```no_run
    /// # tokio::runtime::Runtime::new().unwrap().block_on(async {
    /// // PgBouncer in transaction mode on port 6432.
    /// let db = sylvan::Database::builder("postgres://app@127.0.0.1:6432/app")
    ///     .transaction_pooler(true)
    ///     .connect()
    ///     .await?;
    /// # Ok::<_, sylvan::Error>(()) }).unwrap();
    /// ```
    #[cfg(feature = "postgres")]
    pub fn transaction_pooler(mut self, on: bool) -> Self {
        self.transaction_pooler = Some(on);
        self
    }

    /// Builds the pool and opens a first connection.
    pub async fn connect(self) -> Result<Database> {
        let ConnectOptions { target, pool } = ConnectOptions::parse(&self.url)?;
        let pool = self.pool.unwrap_or(pool);
        pool.validate()?;
        #[cfg(feature = "postgres")]
        #[cfg_attr(not(feature = "sqlite"), allow(unused_assignments))]
        let mut router = None;
        let inner = match target {
            #[cfg(all(feature = "sqlite", feature = "postgres"))]
            Target::Sqlite(_) if !self.replicas.is_empty() => {
                return Err(Error::Unsupported {
                    backend: "sqlite",
                    what: "read replicas (they are for PostgreSQL)".into(),
                })
            }
            #[cfg(feature = "sqlite")]
            Target::Sqlite(mut options) => {
                if let Some(d) = self.busy_timeout {
                    options.busy_timeout = d;
                }
                options.on_connect = self.on_connect;
                Inner::Sqlite(SqlitePool::connect(options, pool).await?)
            }
            #[cfg(feature = "postgres")]
            Target::Postgres(mut target) => {
                if let Some(on) = self.transaction_pooler {
                    target.transaction_pooler = on;
                }
                let primary = PgPool::connect(*target, pool.clone()).await?;
                router = self.replicas.connect(&primary, &pool).await?;
                Inner::Postgres(primary)
            }
        };
        Ok(Database {
            inner: Arc::new(inner),
            #[cfg(feature = "postgres")]
            router,
            #[cfg(feature = "postgres")]
            pinned: false,
        })
    }
}
