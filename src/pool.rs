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
