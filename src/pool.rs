//! Pool configuration and status, shared by both backends' deadpool managers.
//!
//! deadpool supplies the slots, the fair (FIFO) waiting queue and the three
//! timeouts; Sylvan adds finite defaults for all of them, a maximum lifetime
//! and an idle timeout (checked when a connection is handed out, and by a
//! background reaper), and the record of the last connection error so that a
//! timeout can say why.

use crate::error::{Error, TimeoutPhase};
use deadpool::managed::{Manager, Pool, PoolError, TimeoutType};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// How long a PostgreSQL connection may sit idle before it is checked alive
/// at checkout (see [`PoolConfig::liveness_check_after`]).
pub const DEFAULT_LIVENESS_CHECK_AFTER: Duration = Duration::from_millis(500);

/// Pool settings. Build with the methods; every timeout is finite.
///
/// | setting | default | URL parameter |
/// |---|---|---|
/// | `max_size` | 2 × CPUs, at least 4 | `pool_max_size` |
/// | `wait_timeout` | 30 s | `pool_wait_timeout` |
/// | `create_timeout` | 10 s | `pool_create_timeout` |
/// | `recycle_timeout` | 5 s | `pool_recycle_timeout` |
/// | `max_lifetime` | 30 min | `pool_max_lifetime` (`off` to disable) |
/// | `idle_timeout` | 10 min | `pool_idle_timeout` (`off` to disable) |
/// | `liveness_check_after` | 500 ms | `pool_liveness_check_after` (`off` to disable) |
/// | `statement_timeout` | off | `statement_timeout` (`off` to disable) |
///
/// **Liveness** (PostgreSQL): a connection that sat idle for
/// `liveness_check_after` or longer is checked alive with an empty query
/// before it is handed out, within 90% of `recycle_timeout`. A dead one is
/// discarded and the checkout moves on to another connection or opens a new
/// one, without an error to the caller. When a check fails, every other
/// connection idle at least as long is discarded too without a check: they
/// went through the same network or server, so a checkout behind a cut
/// costs at most one recycle timeout plus one connect, not one recycle
/// timeout per dead connection. HikariCP's 500 ms bypass window is the model:
/// a connection used moments ago is almost surely alive, and checking it
/// would add a round trip to every busy checkout.
///
/// **Statement timeout** (both backends): bounds every statement, from the
/// moment it is sent until its result has arrived, including a reply lost in
/// a silent network; see [`Error::StatementTimeout`]. Off by default, like
/// PostgreSQL's own `statement_timeout`, because a sensible bound depends on
/// the workload (a report or a migration may legitimately run for minutes).
/// Override it per call with [`Executor::with_timeout`](crate::Executor::with_timeout)
/// or per query with [`QuerySet::timeout`](crate::QuerySet::timeout).
/// It does not bound `interact` closures, nor the rows of a
/// [`fetch_stream`](crate::Database::fetch_stream) (on PostgreSQL it bounds
/// the stream's start). On PostgreSQL, once a statement timed out, later
/// statements on the same checked-out connection fail at once with
/// [`Error::ConnectionLost`] (its reply may still be on its way); the
/// connection is discarded when it goes back to the pool.
///
/// On SQLite, one of the `max_size` connections is the writer and the rest
/// are readers; a pool of 1 is a single connection doing both.
///
/// ```
/// use std::time::Duration;
/// use sylvan::PoolConfig;
/// let config = PoolConfig::default().max_size(8).wait_timeout(Duration::from_secs(2));
/// assert_eq!(config.max_size_value(), 8);
/// ```
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct PoolConfig {
    max_size: usize,
    wait_timeout: Duration,
    create_timeout: Duration,
    recycle_timeout: Duration,
    max_lifetime: Option<Duration>,
    idle_timeout: Option<Duration>,
    liveness_check_after: Option<Duration>,
    statement_timeout: Option<Duration>,
}

impl Default for PoolConfig {
    fn default() -> Self {
        let cpus = std::thread::available_parallelism().map_or(2, usize::from);
        PoolConfig {
            max_size: (cpus * 2).max(4),
            wait_timeout: Duration::from_secs(30),
            create_timeout: Duration::from_secs(10),
            recycle_timeout: Duration::from_secs(5),
            max_lifetime: Some(Duration::from_secs(30 * 60)),
            idle_timeout: Some(Duration::from_secs(10 * 60)),
            liveness_check_after: Some(DEFAULT_LIVENESS_CHECK_AFTER),
            statement_timeout: None,
        }
    }
}

impl PoolConfig {
    /// Most connections open at once.
    pub fn max_size(mut self, n: usize) -> Self {
        self.max_size = n;
        self
    }
    /// How long a checkout waits for a free slot.
    pub fn wait_timeout(mut self, d: Duration) -> Self {
        self.wait_timeout = d;
        self
    }
    /// How long opening one connection may take.
    pub fn create_timeout(mut self, d: Duration) -> Self {
        self.create_timeout = d;
        self
    }
    /// How long checking an idle connection before reuse may take.
    pub fn recycle_timeout(mut self, d: Duration) -> Self {
        self.recycle_timeout = d;
        self
    }
    /// Connections older than this are closed instead of reused (`None`: never).
    pub fn max_lifetime(mut self, d: Option<Duration>) -> Self {
        self.max_lifetime = d;
        self
    }
    /// Connections idle longer than this are closed (`None`: never).
    pub fn idle_timeout(mut self, d: Option<Duration>) -> Self {
        self.idle_timeout = d;
        self
    }

    /// Check a PostgreSQL connection alive before handing it out when it sat
    /// idle this long or longer (`None`: never; zero: always). See the
    /// liveness section above.
    pub fn liveness_check_after(mut self, d: Option<Duration>) -> Self {
        self.liveness_check_after = d;
        self
    }
    /// The default statement timeout of every statement (`None`: none). See
    /// the statement timeout section above.
    ///
    /// ```
    /// use std::time::Duration;
    /// use sylvan::prelude::*;
    /// use sylvan::PoolConfig;
    /// # tokio::runtime::Runtime::new().unwrap().block_on(async {
    /// let db = Database::builder("sqlite::memory:")
    ///     .pool(PoolConfig::default().statement_timeout(Some(Duration::from_millis(50))))
    ///     .connect()
    ///     .await?;
    /// let endless = "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) SELECT count(*) FROM c";
    /// let err = db.fetch_one::<i64, _>(endless, ()).await.unwrap_err();
    /// assert!(err.is_statement_timeout());
    /// // The pool is fine afterwards.
    /// let one: i64 = db.fetch_one("SELECT 1", ()).await?;
    /// assert_eq!(one, 1);
    /// # Ok::<_, sylvan::Error>(()) }).unwrap();
    /// ```
    pub fn statement_timeout(mut self, d: Option<Duration>) -> Self {
        self.statement_timeout = d;
        self
    }

    /// The configured maximum size.
    pub fn max_size_value(&self) -> usize {
        self.max_size
    }
    /// The configured wait timeout.
    pub fn wait_timeout_value(&self) -> Duration {
        self.wait_timeout
    }
    /// The configured create timeout.
    pub fn create_timeout_value(&self) -> Duration {
        self.create_timeout
    }
    /// The configured recycle timeout.
    pub fn recycle_timeout_value(&self) -> Duration {
        self.recycle_timeout
    }
    /// The configured maximum lifetime.
    pub fn max_lifetime_value(&self) -> Option<Duration> {
        self.max_lifetime
    }
    /// The configured idle timeout.
    pub fn idle_timeout_value(&self) -> Option<Duration> {
        self.idle_timeout
    }
    /// The configured liveness check window.
    pub fn liveness_check_after_value(&self) -> Option<Duration> {
        self.liveness_check_after
    }
    /// The configured default statement timeout.
    pub fn statement_timeout_value(&self) -> Option<Duration> {
        self.statement_timeout
    }

    pub(crate) fn validate(&self) -> Result<(), Error> {
        if self.max_size == 0 {
            return Err(Error::Config("pool max_size must be at least 1".into()));
        }
        for (name, d) in [
            ("wait_timeout", self.wait_timeout),
            ("create_timeout", self.create_timeout),
            ("recycle_timeout", self.recycle_timeout),
        ] {
            if d.is_zero() {
                return Err(Error::Config(format!("pool {name} must be above zero")));
            }
        }
        if self.statement_timeout.is_some_and(|d| d.is_zero()) {
            return Err(Error::Config(
                "statement_timeout must be above zero (or off)".into(),
            ));
        }
        Ok(())
    }

    /// Builds a deadpool pool with these settings.
    pub(crate) fn build<M: Manager>(&self, manager: M, max_size: usize) -> Result<Pool<M>, Error> {
        Pool::builder(manager)
            .max_size(max_size)
            // The most recently used connection goes out first: its worker
            // thread (SQLite) is still awake and its caches warm, the others
            // sleep (and can reach their idle timeout). Waiters are still
            // served first come, first served.
            .queue_mode(deadpool::managed::QueueMode::Lifo)
            .wait_timeout(Some(self.wait_timeout))
            .create_timeout(Some(self.create_timeout))
            .recycle_timeout(Some(self.recycle_timeout))
            .runtime(deadpool::Runtime::Tokio1)
            .build()
            .map_err(|e| Error::Config(format!("cannot build pool: {e}")))
    }

    /// Why a connection should be closed rather than reused, if it should.
    pub(crate) fn expired(&self, created: Instant, last_used: Instant) -> Option<&'static str> {
        if self
            .max_lifetime
            .is_some_and(|max| created.elapsed() >= max)
        {
            Some("connection reached its max lifetime")
        } else if self
            .idle_timeout
            .is_some_and(|max| last_used.elapsed() >= max)
        {
            Some("connection was idle too long")
        } else {
            None
        }
    }

    /// Turns a deadpool error into ours.
    pub(crate) fn map_error(&self, e: PoolError<Error>, last_error: &LastError) -> Error {
        let timeout = |phase, timeout| Error::PoolTimeout {
            phase,
            timeout,
            last_error: last_error.get(),
        };
        match e {
            PoolError::Timeout(TimeoutType::Wait) => timeout(TimeoutPhase::Wait, self.wait_timeout),
            PoolError::Timeout(TimeoutType::Create) => {
                timeout(TimeoutPhase::Create, self.create_timeout)
            }
            PoolError::Timeout(TimeoutType::Recycle) => {
                timeout(TimeoutPhase::Recycle, self.recycle_timeout)
            }
            PoolError::Backend(e) => e,
            PoolError::Closed => Error::PoolClosed,
            PoolError::NoRuntimeSpecified | PoolError::PostCreateHook(_) => {
                Error::Config(e.to_string())
            }
        }
    }
}

/// A point-in-time snapshot of a pool. The numbers may already be stale when
/// you read them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct PoolStatus {
    /// Configured maximum number of connections.
    pub max_size: usize,
    /// Connections currently open (idle or in use).
    pub size: usize,
    /// Open connections not in use.
    pub idle: usize,
    /// Tasks waiting for a connection.
    pub waiting: usize,
}

impl PoolStatus {
    pub(crate) fn of<M: Manager>(pool: &Pool<M>) -> Self {
        let s = pool.status();
        PoolStatus {
            max_size: s.max_size,
            size: s.size,
            idle: s.available,
            waiting: s.waiting,
        }
    }

    #[cfg_attr(not(feature = "sqlite"), allow(dead_code))]
    pub(crate) fn add(self, other: PoolStatus) -> Self {
        PoolStatus {
            max_size: self.max_size + other.max_size,
            size: self.size + other.size,
            idle: self.idle + other.idle,
            waiting: self.waiting + other.waiting,
        }
    }
}

/// The last error seen while opening a connection.
#[derive(Debug, Default)]
pub(crate) struct LastError(Mutex<Option<String>>);

impl LastError {
    pub(crate) fn record(&self, e: &Error) {
        let text = crate::error::chain(e);
        *self
            .0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = Some(text);
    }

    /// Records a cause written by Sylvan rather than an error.
    #[cfg_attr(not(feature = "postgres"), allow(dead_code))]
    pub(crate) fn set(&self, text: String) {
        *self
            .0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = Some(text);
    }

    pub(crate) fn get(&self) -> Option<String> {
        self.0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }
}

/// A pooled connection type that remembers when it was last returned.
pub(crate) trait LastUsed {
    fn last_used(&self) -> Instant;
}

/// Closes expired idle connections in the background while the pool lives.
pub(crate) fn spawn_reaper<M>(pool: &Pool<M>, config: &PoolConfig)
where
    M: Manager + 'static,
    M::Type: LastUsed,
{
    let period = match (config.max_lifetime, config.idle_timeout) {
        (None, None) => return,
        (a, b) => {
            a.into_iter()
                .chain(b)
                .min()
                .unwrap_or(Duration::from_secs(60))
                / 4
        }
    };
    let period = period.clamp(Duration::from_millis(50), Duration::from_secs(30));
    let weak = pool.weak();
    let config = config.clone();
    tokio::spawn(async move {
        loop {
            tokio::time::sleep(period).await;
            let Some(pool) = weak.upgrade() else { return };
            if pool.is_closed() {
                return;
            }
            let _ = pool.retain(|conn, metrics| {
                config.expired(metrics.created, conn.last_used()).is_none()
            });
        }
    });
}
