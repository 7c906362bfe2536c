//! The replicas' health check: a background task that, every
//! `check_interval`, asks each replica whether it is a standby and how far
//! behind it is, and marks it usable or not.
//!
//! Invariants: the task holds only a `Weak` to the router between rounds,
//! so it ends within one interval plus one check timeout after the last
//! `Database` clone is dropped (or at once after `close`). Each check,
//! connection opening included, is bounded by `check_timeout`. It keeps one
//! connection per replica of its own, outside the pool, so a busy pool
//! never delays a check and a check never takes a reader's slot.
//!
//! **Lag**: `0` when the replica has replayed all the WAL it received,
//! else the age of the last transaction it replayed. The first branch is
//! what makes an idle primary look current: with no new commits, the last
//! replayed transaction is old although nothing is missing. What it cannot
//! see is a replica whose connection to the primary broke while caught up
//! on what it had received: it reads as lag 0 while it falls behind
//! (PostgreSQL shows that state only to privileged roles, in
//! `pg_stat_wal_receiver`).

use super::member::Member;
use super::Router;
use crate::backend::postgres::PgConn;
use crate::row::Cardinality;
use std::sync::{Arc, Weak};
use std::time::Duration;

/// Recovery state and lag in seconds (NULL when unknown: no WAL received
/// or replayed yet since the standby started).
const LAG_SQL: &str = "SELECT pg_is_in_recovery(), \
     (CASE WHEN pg_last_wal_receive_lsn() = pg_last_wal_replay_lsn() THEN 0 \
      ELSE EXTRACT(EPOCH FROM now() - pg_last_xact_replay_timestamp()) END)::float8";

/// Checks one replica, reusing (or reopening) its health connection.
pub(crate) async fn check(member: &Member, conn: &mut Option<PgConn>, router: &Router) {
    let settings = &router.settings;
    let limit = settings.check_timeout;
    let probe = async {
        if conn.as_ref().is_none_or(PgConn::is_broken) {
            *conn = None;
            *conn = Some(member.pool.dedicated().await?);
        }
        match conn.as_ref() {
            Some(c) => {
                c.query::<(bool, Option<f64>)>(LAG_SQL, &[], Cardinality::One)
                    .await
            }
            None => Ok(Vec::new()),
        }
    };
    let outcome = tokio::time::timeout(limit, probe).await;
    match outcome {
        Err(_) => {
            *conn = None;
            member.set_down(format!(
                "unreachable: its health check did not finish within {limit:?}"
            ));
        }
        Ok(Err(e)) => {
            *conn = None;
            member.set_down(format!("unreachable: {}", crate::error::chain(&e)));
        }
        Ok(Ok(rows)) => match rows.first() {
            Some((false, _)) => {
                member.set_lagging(None, "not a standby (pg_is_in_recovery() is false)".into())
            }
            Some((true, Some(secs))) if secs.is_finite() => {
                let lag = Duration::from_secs_f64(secs.max(0.0));
                if lag > settings.max_lag {
                    member.set_lagging(
                        Some(lag),
                        format!(
                            "lagging {lag:?} behind, above the maximum of {:?}",
                            settings.max_lag
                        ),
                    );
                } else {
                    member.set_up(lag);
                }
            }
            _ => member.set_lagging(
                None,
                "replication lag unknown (no WAL received or replayed yet)".into(),
            ),
        },
    }
}

/// Checks every replica at once.
pub(crate) async fn check_all(router: &Router, conns: &mut [Option<PgConn>]) {
    let checks = router
        .members
        .iter()
        .zip(conns.iter_mut())
        .map(|(member, conn)| check(member, conn, router));
    futures_util::future::join_all(checks).await;
}

/// Spawns the health task for `router`, with the health connections the
/// first check opened.
pub(crate) fn spawn(router: &Arc<Router>, mut conns: Vec<Option<PgConn>>) {
    let weak: Weak<Router> = Arc::downgrade(router);
    let interval = router.settings.check_interval;
    tokio::spawn(async move {
        loop {
            tokio::time::sleep(interval).await;
            let Some(router) = weak.upgrade() else { return };
            if router.is_closed() {
                return;
            }
            check_all(&router, &mut conns).await;
        }
    });
}
