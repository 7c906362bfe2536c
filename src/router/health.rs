//! The replicas' health check: a background task that, every
//! `check_interval`, asks each replica whether it is a standby and how far
//! behind the primary it is, and marks it usable or not.
//!
//! Invariants: the task holds only a `Weak` to the router between rounds,
//! so it ends within one interval plus one check timeout after the last
//! `Database` clone is dropped (or at once after `close`). Each check,
//! connection opening included, is bounded by `check_timeout`. It keeps one
//! connection per server of its own, outside the pools, so a busy pool
//! never delays a check and a check never takes a reader's slot.
//!
//! **Lag** is measured against the primary's clock: each round first reads
//! the primary's flushed WAL position (`pg_current_wal_flush_lsn()`, as far
//! as a replica can have received) and keeps these samples for a while.
//! A replica that has replayed up to position R lags by the time since the
//! oldest sample beyond R (0 when none is): a write the primary had flushed
//! then is still missing on the replica. This sees an idle primary as
//! current (no sample beyond R), and a replica whose connection to the
//! primary broke as falling behind as soon as the primary writes.
//! The common replica-only formula (`0 when receive LSN = replay LSN, else
//! now() − pg_last_xact_replay_timestamp()`) reads 0 for such a replica
//! forever; it is used alone when the primary could not be sampled in the
//! round, and as a lower bound when the replica is behind every sample
//! kept (just after start or an outage of the primary, when the samples
//! do not reach back far enough). The measure is at most one interval
//! late; samples are kept for the max lag plus two intervals and a check
//! timeout, so a longer lag is reported as at least that.

use super::member::Member;
use super::Router;
use crate::backend::postgres::PgConn;
use crate::options::PgTarget;
use crate::row::Cardinality;
use std::collections::VecDeque;
use std::sync::{Arc, Weak};
use std::time::{Duration, Instant};

/// The primary's flushed WAL position, in bytes.
const PRIMARY_SQL: &str = "SELECT (pg_current_wal_flush_lsn() - '0/0'::pg_lsn)::int8";

/// Recovery state, replayed WAL position, and the replica-only lag in
/// seconds (NULL when unknown: no WAL received or replayed yet).
const REPLICA_SQL: &str = "SELECT pg_is_in_recovery(), \
     (pg_last_wal_replay_lsn() - '0/0'::pg_lsn)::int8, \
     (CASE WHEN pg_last_wal_receive_lsn() = pg_last_wal_replay_lsn() THEN 0 \
      ELSE EXTRACT(EPOCH FROM now() - pg_last_xact_replay_timestamp()) END)::float8";

/// The health task's own connections and the primary's recent positions.
pub(crate) struct Probes {
    primary_target: PgTarget,
    primary: Option<PgConn>,
    clock: WalClock,
    replicas: Vec<Option<PgConn>>,
}

impl Probes {
    pub(crate) fn new(primary_target: PgTarget, replicas: usize) -> Self {
        Probes {
            primary_target,
            primary: None,
            clock: WalClock::default(),
            replicas: (0..replicas).map(|_| None).collect(),
        }
    }

    /// Reads the primary's position; false when it could not be read.
    async fn sample_primary(&mut self, router: &Router) -> bool {
        let settings = &router.settings;
        let target = &self.primary_target;
        let conn = &mut self.primary;
        let read = async {
            if conn.as_ref().is_none_or(PgConn::is_broken) {
                *conn = None;
                *conn = Some(PgConn::connect(target).await?);
            }
            match conn.as_ref() {
                Some(c) => c.query::<i64>(PRIMARY_SQL, &[], Cardinality::One).await,
                None => Ok(Vec::new()),
            }
        };
        let position = match tokio::time::timeout(settings.check_timeout, read).await {
            Ok(Ok(rows)) => rows.first().copied(),
            _ => None,
        };
        let Some(position) = position else {
            self.primary = None;
            return false;
        };
        let keep = settings.max_lag + settings.check_interval * 2 + settings.check_timeout;
        self.clock.record(Instant::now(), position, keep);
        true
    }
}

/// The primary's recent flushed WAL positions.
#[derive(Debug, Default)]
struct WalClock {
    /// (when read, position), oldest first.
    samples: VecDeque<(Instant, i64)>,
}

impl WalClock {
    /// Adds a sample, dropping those older than `keep` (but never the last).
    fn record(&mut self, now: Instant, position: i64, keep: Duration) {
        self.samples.push_back((now, position));
        while self.samples.len() > 1
            && self
                .samples
                .front()
                .is_some_and(|(t, _)| now.duration_since(*t) > keep)
        {
            self.samples.pop_front();
        }
    }

    /// How long ago the primary had flushed beyond `replayed`.
    /// `Exact` when a kept sample is at or before `replayed` (the replica
    /// had caught up with the primary as of then); else `AtLeast` (the
    /// replica is behind every kept sample: the samples are new, after
    /// the start or an outage of the primary, or the lag is older).
    fn lag_behind(&self, replayed: i64, now: Instant) -> ClockLag {
        let caught_up_once = self
            .samples
            .front()
            .is_some_and(|(_, oldest)| *oldest <= replayed);
        let lag = self
            .samples
            .iter()
            .find(|(_, position)| *position > replayed)
            .map_or(Duration::ZERO, |(t, _)| now.saturating_duration_since(*t));
        if caught_up_once {
            ClockLag::Exact(lag)
        } else {
            ClockLag::AtLeast(lag)
        }
    }
}

/// A lag read from the [`WalClock`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ClockLag {
    Exact(Duration),
    AtLeast(Duration),
}

/// What one replica answered.
type Answer = (bool, Option<i64>, Option<f64>);

/// Asks one replica, reusing (or reopening) its health connection.
async fn ask(
    member: &Member,
    conn: &mut Option<PgConn>,
    limit: Duration,
) -> Result<Answer, String> {
    let probe = async {
        if conn.as_ref().is_none_or(PgConn::is_broken) {
            *conn = None;
            *conn = Some(member.pool.dedicated().await?);
        }
        match conn.as_ref() {
            Some(c) => c.query::<Answer>(REPLICA_SQL, &[], Cardinality::One).await,
            None => Ok(Vec::new()),
        }
    };
    let outcome = tokio::time::timeout(limit, probe).await;
    let failure = match outcome {
        Ok(Ok(rows)) => match rows.first() {
            Some(answer) => return Ok(*answer),
            None => "the health check returned no row".to_owned(),
        },
        Ok(Err(e)) => crate::error::chain(&e),
        Err(_) => format!("its health check did not finish within {limit:?}"),
    };
    *conn = None;
    Err(failure)
}

/// A lag in seconds from the server, if it makes sense.
fn seconds(secs: f64) -> Option<Duration> {
    secs.is_finite()
        .then(|| Duration::from_secs_f64(secs.max(0.0)))
}

/// Judges one replica from its answer.
fn judge(
    member: &Member,
    answer: Result<Answer, String>,
    lag_behind: Option<ClockLag>,
    router: &Router,
) {
    let max = router.settings.max_lag;
    let lag = match (answer, lag_behind) {
        (Err(why), _) => return member.set_down(format!("unreachable: {why}")),
        (Ok((false, _, _)), _) => {
            return member.set_lagging(None, "not a standby (pg_is_in_recovery() is false)".into())
        }
        (Ok((true, Some(_), _)), Some(ClockLag::Exact(lag))) => lag,
        // Behind every sample: the replica's own view may know more.
        (Ok((true, Some(_), own)), Some(ClockLag::AtLeast(lag))) => {
            own.and_then(seconds).map_or(lag, |own| own.max(lag))
        }
        (Ok((true, _, Some(secs))), None) if secs.is_finite() => {
            Duration::from_secs_f64(secs.max(0.0))
        }
        _ => {
            return member.set_lagging(
                None,
                "replication lag unknown (no WAL received or replayed yet)".into(),
            )
        }
    };
    if lag > max {
        member.set_lagging(
            Some(lag),
            format!("lagging {lag:?} behind, above the maximum of {max:?}"),
        );
    } else {
        member.set_up(lag);
    }
}

/// One round: the primary's position, then every replica at once.
pub(crate) async fn check_all(router: &Router, probes: &mut Probes) {
    let sampled = probes.sample_primary(router).await;
    let limit = router.settings.check_timeout;
    let asks = router
        .members
        .iter()
        .zip(probes.replicas.iter_mut())
        .map(|(member, conn)| ask(member, conn, limit));
    let answers = futures_util::future::join_all(asks).await;
    for (member, answer) in router.members.iter().zip(answers) {
        let behind = match (&answer, sampled) {
            (Ok((_, Some(replayed), _)), true) => {
                Some(probes.clock.lag_behind(*replayed, Instant::now()))
            }
            _ => None,
        };
        judge(member, answer, behind, router);
    }
}

/// Spawns the health task for `router`, with the probes of the first round.
pub(crate) fn spawn(router: &Arc<Router>, mut probes: Probes) {
    let weak: Weak<Router> = Arc::downgrade(router);
    let interval = router.settings.check_interval;
    tokio::spawn(async move {
        loop {
            tokio::time::sleep(interval).await;
            let Some(router) = weak.upgrade() else { return };
            if router.is_closed() {
                return;
            }
            check_all(&router, &mut probes).await;
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lag_is_the_age_of_the_oldest_position_not_replayed() {
        let t0 = Instant::now();
        let at = |ms| t0 + Duration::from_millis(ms);
        let keep = Duration::from_secs(10);
        let mut clock = WalClock::default();
        // An idle primary: the same position for a long time.
        for ms in [0, 1000, 2000, 3000] {
            clock.record(at(ms), 100, keep);
        }
        let exact = |ms| ClockLag::Exact(Duration::from_millis(ms));
        assert_eq!(clock.lag_behind(100, at(3000)), exact(0));
        assert_eq!(clock.lag_behind(150, at(3000)), exact(0));
        // Writes from t=4 s; a replica stuck at 100 lags from then on.
        clock.record(at(4000), 200, keep);
        clock.record(at(5000), 300, keep);
        assert_eq!(clock.lag_behind(100, at(5500)), exact(1500));
        assert_eq!(clock.lag_behind(200, at(5500)), exact(500));
        assert_eq!(clock.lag_behind(300, at(5500)), exact(0));
        // Old samples go, the newest stays: a replica behind all of them
        // lags at least the age of the oldest kept.
        clock.record(at(20_000), 400, keep);
        assert_eq!(clock.samples.len(), 1);
        assert_eq!(
            clock.lag_behind(100, at(21_000)),
            ClockLag::AtLeast(Duration::from_secs(1))
        );
        assert_eq!(clock.lag_behind(400, at(21_000)), exact(0));
    }
}
