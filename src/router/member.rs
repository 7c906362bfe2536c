//! One read replica: its pool, whether reads may go to it, and why not.

use crate::backend::postgres::PgPool;
use crate::pool::PoolStatus;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::Duration;

/// The role of a [`MemberStatus`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum MemberRole {
    /// The primary: writes, transactions, and reads when no replica is usable.
    Primary,
    /// A read replica.
    Replica,
}

/// A snapshot of one server of a [`Database`](crate::Database): see
/// [`Database::members`](crate::Database::members). May be stale by the
/// time it is read.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct MemberStatus {
    /// Primary or replica.
    pub role: MemberRole,
    /// `host:port` (never the user or password).
    pub address: String,
    /// True when statements may go to it now.
    pub usable: bool,
    /// Why it is not usable (unreachable, lagging, not a standby, closed).
    pub reason: Option<String>,
    /// The replication lag at its last health check (replicas only; see
    /// [read replicas](crate::Database#read-replicas)); `None` when unknown.
    pub lag: Option<Duration>,
    /// Statements the `Database` routed to it so far, and reader checkouts
    /// ([`acquire_reader`](crate::Database::acquire_reader)); a read retried
    /// elsewhere counts on both servers. Transactions and
    /// [`acquire`](crate::Database::acquire) are not counted.
    pub statements: u64,
    /// Its connection pool.
    pub pool: PoolStatus,
}

/// What the last health check (or a failed read) found.
#[derive(Debug, Default)]
struct Health {
    reason: Option<String>,
    lag: Option<Duration>,
}

/// A replica and its state.
#[derive(Debug)]
pub(crate) struct Member {
    pub(crate) address: String,
    pub(crate) pool: PgPool,
    usable: AtomicBool,
    statements: AtomicU64,
    health: Mutex<Health>,
}

impl Member {
    /// A replica not yet checked: unusable until its first health check.
    pub(crate) fn new(pool: PgPool) -> Self {
        Member {
            address: super::address(&pool.target().config),
            pool,
            usable: AtomicBool::new(false),
            statements: AtomicU64::new(0),
            health: Mutex::new(Health {
                reason: Some("not checked yet".into()),
                lag: None,
            }),
        }
    }

    fn health(&self) -> std::sync::MutexGuard<'_, Health> {
        // Two plain fields cannot be left half-written by a panic.
        self.health
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    pub(crate) fn is_usable(&self) -> bool {
        self.usable.load(Ordering::Acquire)
    }

    pub(crate) fn count_statement(&self) {
        self.statements.fetch_add(1, Ordering::Relaxed);
    }

    /// Usable, with the lag just measured.
    pub(crate) fn set_up(&self, lag: Duration) {
        let mut health = self.health();
        health.reason = None;
        health.lag = Some(lag);
        self.usable.store(true, Ordering::Release);
    }

    /// Not usable because of `reason`; `lag` when it was measured.
    pub(crate) fn set_lagging(&self, lag: Option<Duration>, reason: String) {
        let mut health = self.health();
        health.reason = Some(reason);
        health.lag = lag;
        self.usable.store(false, Ordering::Release);
    }

    /// Not usable because it cannot be reached: its idle connections are
    /// dead too and are closed.
    pub(crate) fn set_down(&self, reason: String) {
        {
            let mut health = self.health();
            health.reason = Some(reason);
            self.usable.store(false, Ordering::Release);
        }
        self.pool.discard_idle();
    }

    pub(crate) fn status(&self) -> MemberStatus {
        let health = self.health();
        let closed = self.pool.is_closed();
        MemberStatus {
            role: MemberRole::Replica,
            address: self.address.clone(),
            usable: self.is_usable() && !closed,
            reason: if closed {
                Some("closed".into())
            } else {
                health.reason.clone()
            },
            lag: health.lag,
            statements: self.statements.load(Ordering::Relaxed),
            pool: self.pool.status(),
        }
    }
}

/// Counts the primary's statements (the primary's pool is shared with a
/// `Database` without replicas, which counts nothing).
#[derive(Debug, Default)]
pub(crate) struct Counter(AtomicU64);

impl Counter {
    pub(crate) fn add(&self) {
        self.0.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn get(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }
}
