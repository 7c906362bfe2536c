//! The PostgreSQL pool.

use super::conn::PgConn;
use crate::connection::Connection;
use crate::error::{Error, Result};
use crate::pool::{spawn_reaper, LastError, LastUsed, PoolConfig, PoolStatus};
use deadpool::managed::{Manager, Metrics, Pool, RecycleError, RecycleResult};
use std::time::Instant;

/// deadpool manager for PostgreSQL connections.
#[derive(Debug)]
pub(crate) struct PgManager {
    config: tokio_postgres::Config,
    pool_config: PoolConfig,
    pub(crate) last_error: LastError,
}

impl LastUsed for PgConn {
    fn last_used(&self) -> Instant {
        self.last_used
    }
}

impl Manager for PgManager {
    type Type = PgConn;
    type Error = Error;

    async fn create(&self) -> Result<PgConn> {
        let result = PgConn::connect(&self.config).await;
        if let Err(e) = &result {
            self.last_error.record(e);
        }
        result
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
    pub(crate) async fn connect(
        config: tokio_postgres::Config,
        pool_config: PoolConfig,
    ) -> Result<Self> {
        let manager = PgManager {
            config,
            pool_config: pool_config.clone(),
            last_error: LastError::default(),
        };
        let pool = pool_config.build(manager, pool_config.max_size_value())?;
        let pool = PgPool {
            pool,
            config: pool_config,
        };
        drop(pool.get().await?);
        spawn_reaper(&pool.pool, &pool.config);
        Ok(pool)
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

    pub(crate) fn close(&self) {
        self.pool.close();
    }

    pub(crate) fn is_closed(&self) -> bool {
        self.pool.is_closed()
    }
}
