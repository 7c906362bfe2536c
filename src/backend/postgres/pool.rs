//! The PostgreSQL pool.

use super::conn::PgConn;
use crate::connection::Connection;
use crate::error::TimeoutPhase;
use crate::error::{Error, Result};
use crate::options::PgTarget;
use crate::pool::{spawn_reaper, LastError, LastUsed, PoolConfig, PoolStatus};
use deadpool::managed::{Manager, Metrics, Pool, RecycleError, RecycleResult};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// deadpool manager for PostgreSQL connections.
#[derive(Debug)]
pub(crate) struct PgManager {
    target: PgTarget,
    pool_config: PoolConfig,
    pub(crate) last_error: LastError,
    /// The `last_used` of the most recent idle connection that failed its
    /// liveness check: connections idle since then or earlier are presumed
    /// dead too (same server, same network) and discarded unchecked.
    dead_if_idle_since: Mutex<Option<Instant>>,
}

/// The share of the recycle timeout the liveness check gets, so that it ends
/// first and its failure is recorded (deadpool's timer is the backstop).
fn inner_budget(outer: Duration) -> Duration {
    outer.mul_f64(0.9)
}

impl PgManager {
    fn dead_mark(&self) -> std::sync::MutexGuard<'_, Option<Instant>> {
        // An `Option<Instant>` cannot be left half-written by a panic.
        self.dead_if_idle_since
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn presumed_dead(&self, conn: &PgConn) -> bool {
        self.dead_mark().is_some_and(|mark| conn.last_used <= mark)
    }

    fn mark_dead_if_idle_since(&self, last_used: Instant) {
        let mut mark = self.dead_mark();
        if mark.is_none_or(|m| m < last_used) {
            *mark = Some(last_used);
        }
    }
}

impl LastUsed for PgConn {
    fn last_used(&self) -> Instant {
        self.last_used
    }
}

impl Manager for PgManager {
    type Type = PgConn;
    type Error = Error;

    /// Opens a connection within the create timeout (deadpool's own timer,
    /// set a little later, is only a backstop). tokio-postgres's
    /// `connect_timeout` covers only the TCP connect: a server that accepts
    /// and then stalls in the startup handshake would otherwise hang until
    /// deadpool's timer fires, with no cause to report.
    async fn create(&self) -> Result<PgConn> {
        let limit = self.pool_config.create_timeout_value();
        match tokio::time::timeout(limit, PgConn::connect(&self.target)).await {
            Ok(Ok(mut conn)) => {
                conn.statement_timeout = self.pool_config.statement_timeout_value();
                Ok(conn)
            }
            Ok(Err(e)) => {
                self.last_error.record(&e);
                Err(e)
            }
            Err(_) => {
                let cause = format!(
                    "the server did not complete the connection and startup handshake within {limit:?} (it may have accepted the TCP connection and then stalled, or the network dropped the replies)"
                );
                self.last_error.set(cause.clone());
                Err(Error::PoolTimeout {
                    phase: TimeoutPhase::Create,
                    timeout: limit,
                    last_error: Some(cause),
                })
            }
        }
    }

    async fn recycle(&self, conn: &mut PgConn, metrics: &Metrics) -> RecycleResult<Error> {
        if conn.is_broken() {
            return Err(RecycleError::message("connection closed or broken"));
        }
        if conn.is_abandoned() && !conn.clean().await {
            return Err(RecycleError::message(
                "an abandoned query could not be cancelled",
            ));
        }
        if let Some(why) = self.pool_config.expired(metrics.created, conn.last_used) {
            return Err(RecycleError::message(why));
        }
        if self.presumed_dead(conn) {
            return Err(RecycleError::message(
                "a connection idle at least as long failed its liveness check",
            ));
        }
        let check_after = self.pool_config.liveness_check_after_value();
        if check_after.is_some_and(|after| conn.last_used.elapsed() >= after) {
            let budget = inner_budget(self.pool_config.recycle_timeout_value());
            if !conn.ping(budget).await {
                self.mark_dead_if_idle_since(conn.last_used);
                return Err(RecycleError::message(
                    "the idle connection failed its liveness check",
                ));
            }
        }
        conn.reset().await?;
        Ok(())
    }
}

/// The pool of one PostgreSQL database.
#[derive(Debug)]
pub(crate) struct PgPool {
    pool: Pool<PgManager>,
    config: PoolConfig,
}

impl PgPool {
    /// Builds the pool and opens one connection, so a bad server or
    /// credentials fail here.
    pub(crate) async fn connect(target: PgTarget, pool_config: PoolConfig) -> Result<Self> {
        let pool = PgPool::lazy(target, pool_config)?;
        drop(pool.get().await?);
        Ok(pool)
    }

    /// Builds the pool without opening a connection (a read replica that
    /// is down at start must not fail the `Database`).
    pub(crate) fn lazy(target: PgTarget, pool_config: PoolConfig) -> Result<Self> {
        let manager = PgManager {
            target,
            pool_config: pool_config.clone(),
            last_error: LastError::default(),
            dead_if_idle_since: Mutex::new(None),
        };
        // Our own bound in `create` reports a stalled connect with its
        // cause; deadpool's create timer is the backstop, a little later.
        let create = pool_config.create_timeout_value();
        let backstop = pool_config
            .clone()
            .create_timeout(create + (create / 10).max(Duration::from_millis(100)));
        let pool = backstop.build(manager, pool_config.max_size_value())?;
        let pool = PgPool {
            pool,
            config: pool_config,
        };
        spawn_reaper(&pool.pool, &pool.config);
        Ok(pool)
    }

    /// The settings this pool's connections are opened with.
    pub(crate) fn target(&self) -> &PgTarget {
        &self.pool.manager().target
    }

    /// Closes every idle connection: after its server went away they are
    /// all dead, and checking each one at checkout would cost a round trip.
    pub(crate) fn discard_idle(&self) {
        let _ = self.pool.retain(|_, _| false);
    }

    /// A connection.
    pub(crate) async fn get(&self) -> Result<Connection> {
        match self.pool.get().await {
            Ok(obj) => Ok(Connection::postgres(obj)),
            Err(e) => Err(self.config.map_error(e, &self.pool.manager().last_error)),
        }
    }

    /// A connection of its own, outside the pool and not counted in its
    /// size, closed when dropped: whatever session state it holds (the
    /// migrator's session advisory lock) dies with it, whenever the caller
    /// stops.
    pub(crate) async fn dedicated(&self) -> Result<PgConn> {
        self.pool.manager().create().await
    }

    pub(crate) fn status(&self) -> PoolStatus {
        PoolStatus::of(&self.pool)
    }

    /// True with `pooler=transaction`.
    pub(crate) fn is_behind_transaction_pooler(&self) -> bool {
        self.pool.manager().target.transaction_pooler
    }

    pub(crate) fn close(&self) {
        self.pool.close();
    }

    pub(crate) fn is_closed(&self) -> bool {
        self.pool.is_closed()
    }
}
