//! The replica settings of [`DatabaseBuilder`], and building the router.

use super::{health, Router, RoutingPolicy};
use crate::backend::postgres::PgPool;
use crate::database::DatabaseBuilder;
use crate::error::{Error, Result};
use crate::options::{ConnectOptions, Target};
use crate::pool::PoolConfig;
use std::sync::Arc;
use std::time::Duration;

/// Default [`DatabaseBuilder::max_replica_lag`].
pub const DEFAULT_MAX_REPLICA_LAG: Duration = Duration::from_secs(5);
/// Default [`DatabaseBuilder::replica_check_interval`].
pub const DEFAULT_REPLICA_CHECK_INTERVAL: Duration = Duration::from_secs(1);
/// Default [`DatabaseBuilder::replica_check_timeout`].
pub const DEFAULT_REPLICA_CHECK_TIMEOUT: Duration = Duration::from_secs(2);

/// How replicas are judged.
#[derive(Debug, Clone)]
pub(crate) struct ReplicaSettings {
    pub(crate) max_lag: Duration,
    pub(crate) check_interval: Duration,
    pub(crate) check_timeout: Duration,
}

/// The replica part of a [`DatabaseBuilder`].
#[derive(Default)]
pub(crate) struct Replicas {
    urls: Vec<(String, Option<PoolConfig>)>,
    max_lag: Option<Duration>,
    check_interval: Option<Duration>,
    check_timeout: Option<Duration>,
    policy: Option<Arc<dyn RoutingPolicy>>,
}

impl std::fmt::Debug for Replicas {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // URLs may hold passwords.
        f.debug_struct("Replicas")
            .field("count", &self.urls.len())
            .field("max_lag", &self.max_lag)
            .field("check_interval", &self.check_interval)
            .finish_non_exhaustive()
    }
}

impl Replicas {
    #[cfg_attr(not(feature = "sqlite"), allow(dead_code))]
    pub(crate) fn is_empty(&self) -> bool {
        self.urls.is_empty()
    }

    /// Builds the replicas' pools and checks each once (within the check
    /// timeout), then starts the health task. A replica that cannot be
    /// reached is kept, unusable, and checked again later.
    pub(crate) async fn connect(
        self,
        primary: &PgPool,
        primary_pool: &PoolConfig,
    ) -> Result<Option<Arc<Router>>> {
        if self.urls.is_empty() {
            return Ok(None);
        }
        let settings = ReplicaSettings {
            max_lag: self.max_lag.unwrap_or(DEFAULT_MAX_REPLICA_LAG),
            check_interval: self
                .check_interval
                .unwrap_or(DEFAULT_REPLICA_CHECK_INTERVAL),
            check_timeout: self.check_timeout.unwrap_or(DEFAULT_REPLICA_CHECK_TIMEOUT),
        };
        if settings.check_interval.is_zero() || settings.check_timeout.is_zero() {
            return Err(Error::Config(
                "replica check interval and timeout must be above zero".into(),
            ));
        }
        let mut pools = Vec::with_capacity(self.urls.len());
        for (url, pool) in self.urls {
            let ConnectOptions { target, .. } = ConnectOptions::parse(&url)?;
            #[cfg_attr(not(feature = "sqlite"), allow(irrefutable_let_patterns))]
            let Target::Postgres(target) = target
            else {
                return Err(Error::Config(
                    "a replica URL must be a PostgreSQL URL".into(),
                ));
            };
            let pool = pool.unwrap_or_else(|| primary_pool.clone());
            pool.validate()?;
            pools.push(PgPool::lazy(*target, pool)?);
        }
        let router = Arc::new(Router::new(pools, settings, self.policy));
        let mut probes = health::Probes::new(primary.target().clone(), router.members.len());
        health::check_all(&router, &mut probes).await;
        health::spawn(&router, probes);
        Ok(Some(router))
    }
}

impl DatabaseBuilder {
    /// Adds a read replica (PostgreSQL streaming replica, URL as for the
    /// primary), with the primary's pool settings. Plain reads go to the
    /// usable replicas: see [the routing rules](crate::Database#read-replicas).
    /// A replica that cannot be reached when [`connect`](Self::connect)
    /// runs does not fail it: it is skipped and checked again later. On
    /// SQLite, `connect` fails with [`Error::Unsupported`]. `pool_*`
    /// parameters in a replica URL are ignored (see
    /// [`replica_with_pool`](Self::replica_with_pool)). The health check
    /// keeps one connection of its own to each replica and one to the
    /// primary, outside the pools.
    pub fn replica(mut self, url: &str) -> Self {
        self.replicas.urls.push((url.to_owned(), None));
        self
    }

    /// [`replica`](Self::replica) with a pool of its own settings.
    pub fn replica_with_pool(mut self, url: &str, pool: PoolConfig) -> Self {
        self.replicas.urls.push((url.to_owned(), Some(pool)));
        self
    }

    /// The most replication lag a replica may show at its last health
    /// check and still get reads (default [`DEFAULT_MAX_REPLICA_LAG`], 5 s).
    pub fn max_replica_lag(mut self, lag: Duration) -> Self {
        self.replicas.max_lag = Some(lag);
        self
    }

    /// How often each replica is checked (default
    /// [`DEFAULT_REPLICA_CHECK_INTERVAL`], 1 s). A replica that went down
    /// or fell behind stops getting reads within about this long (at once
    /// when a read on it fails to reach it), and one that recovered gets
    /// them again within about this long.
    pub fn replica_check_interval(mut self, interval: Duration) -> Self {
        self.replicas.check_interval = Some(interval);
        self
    }

    /// The bound of one health check, opening its connection included
    /// (default [`DEFAULT_REPLICA_CHECK_TIMEOUT`], 2 s); a replica that
    /// does not answer within it is unusable. `connect` waits for the
    /// first check of every replica, so at most this long more.
    pub fn replica_check_timeout(mut self, timeout: Duration) -> Self {
        self.replicas.check_timeout = Some(timeout);
        self
    }

    /// A rule that may send a statement to the primary or a replica
    /// against the default: see [`RoutingPolicy`].
    pub fn routing_policy(mut self, policy: impl RoutingPolicy) -> Self {
        self.replicas.policy = Some(Arc::new(policy));
        self
    }
}
