//! Read replicas under failure, on the spare replica (see
//! `support::replica`; these tests take its lock in turn): a lagging
//! replica, one cut off from the primary, stopped, stopped mid-read, a
//! recovery conflict, and migrations that must not read a stale replica;
//! and one gone silent behind the fault relay (steady replica, no lock).

use crate::support::eventually;
use crate::support::relay::{Fault, Relay};
use crate::support::replica::{cluster, counts, free_port, routed, spare, url, where_read};
use std::time::{Duration, Instant};
use sylvan::prelude::*;

#[tokio::test]
async fn a_lagging_replica_is_skipped_until_it_catches_up() {
    let Some(c) = cluster() else { return };
    let spare = spare(c).await;
    let db = routed(c, "rr_lag", &[spare.port], |b| {
        b.max_replica_lag(Duration::from_millis(300))
    })
    .await;
    // A transaction replayed, so that the lag is known when paused.
    db.execute("CREATE TABLE rr_lag_before (x int)", ())
        .await
        .unwrap();
    assert!(
        eventually(Duration::from_secs(5), || async {
            spare
                .fetch_bool("SELECT pg_last_xact_replay_timestamp() IS NOT NULL")
                .await
                && where_read(&db).await
        })
        .await,
        "{:?}",
        db.members()
    );
    spare.sql("SELECT pg_wal_replay_pause()").await;
    db.execute("CREATE TABLE rr_lag_t (x int)", ())
        .await
        .unwrap();
    let started = Instant::now();
    assert!(
        eventually(Duration::from_secs(5), || async { !where_read(&db).await }).await,
        "{:?}",
        db.members()
    );
    let moved = started.elapsed();
    let m = db.members();
    assert!(!m[1].usable);
    assert!(
        m[1].reason.as_deref().unwrap_or("").contains("lagging"),
        "{m:?}"
    );
    assert!(m[1].lag.is_some_and(|l| l > Duration::from_millis(300)));
    spare.sql("SELECT pg_wal_replay_resume()").await;
    assert!(eventually(Duration::from_secs(5), || async { where_read(&db).await }).await);
    eprintln!("rr_lag: reads moved to the primary {moved:?} after the write");
    db.close();
}

#[tokio::test]
async fn a_replica_cut_off_from_the_primary_is_skipped_while_it_falls_behind() {
    let Some(c) = cluster() else { return };
    let spare = spare(c).await;
    let db = routed(c, "rr_cut", &[spare.port], |b| {
        b.max_replica_lag(Duration::from_millis(300))
    })
    .await;
    assert!(
        eventually(Duration::from_secs(5), || async { where_read(&db).await }).await,
        "{:?}",
        db.members()
    );
    // The spare's WAL receiver now looks for the primary where there is
    // none: the spare has replayed all it received, so the replica-only
    // lag formula would read 0.
    spare.set_primary_port(free_port()).await;
    db.execute("CREATE TABLE rr_cut_t (x int)", ())
        .await
        .unwrap();
    let started = Instant::now();
    assert!(
        eventually(Duration::from_secs(2), || async { !where_read(&db).await }).await,
        "{:?}",
        db.members()
    );
    let moved = started.elapsed();
    assert!(db.members()[1]
        .reason
        .as_deref()
        .unwrap_or("")
        .contains("lagging"));
    spare.set_primary_port(c.primary_port).await;
    assert!(
        eventually(Duration::from_secs(10), || async { where_read(&db).await }).await,
        "{:?}",
        db.members()
    );
    eprintln!(
        "rr_cut: reads moved to the primary {moved:?} after the write, back {:?} later",
        started.elapsed() - moved
    );
    db.close();
}

#[tokio::test]
async fn a_stopped_replica_is_skipped_and_used_again_once_restarted() {
    let Some(c) = cluster() else { return };
    let spare = spare(c).await;
    let db = routed(c, "rr_stop", &[spare.port], |b| b).await;
    assert!(where_read(&db).await);
    spare.stop().await;
    // Every read succeeds, each quickly, on the primary.
    let until = Instant::now() + Duration::from_millis(500);
    while Instant::now() < until {
        let started = Instant::now();
        assert!(!where_read(&db).await);
        assert!(started.elapsed() < Duration::from_secs(2));
    }
    let m = db.members();
    assert!(!m[1].usable);
    assert!(m[1].reason.is_some(), "{m:?}");
    spare.start().await;
    let started = Instant::now();
    assert!(
        eventually(Duration::from_secs(10), || async { where_read(&db).await }).await,
        "{:?}",
        db.members()
    );
    eprintln!(
        "rr_stop: replica used again {:?} after pg_ctl start returned",
        started.elapsed()
    );
    db.close();
}

#[tokio::test]
async fn a_replica_stopped_mid_read_is_retried_on_the_primary() {
    let Some(c) = cluster() else { return };
    let spare = spare(c).await;
    let db = routed(c, "rr_midread", &[spare.port], |b| b).await;
    assert!(where_read(&db).await);
    let reader = db.clone();
    let started = Instant::now();
    let read = tokio::spawn(async move {
        reader
            .fetch_one::<bool, _>("SELECT pg_is_in_recovery() FROM pg_sleep(1)", ())
            .await
    });
    tokio::time::sleep(Duration::from_millis(300)).await;
    spare.stop().await;
    let result = tokio::time::timeout(Duration::from_secs(10), read)
        .await
        .expect("the read never hangs")
        .unwrap();
    let elapsed = started.elapsed();
    assert!(!result.unwrap(), "retried on the primary");
    assert!(elapsed < Duration::from_secs(5), "{elapsed:?}");
    let m = db.members();
    assert!(!m[1].usable);
    assert!(m[1].reason.is_some(), "{m:?}");
    assert_eq!((m[0].statements, m[1].statements), (1, 2));
    spare.start().await;
    eprintln!("rr_midread: read retried and done in {elapsed:?}");
    db.close();
}

#[tokio::test]
async fn migrations_read_what_they_applied_on_the_primary() {
    let Some(c) = cluster() else { return };
    let spare = spare(c).await;
    let db = routed(c, "rr_migrate", &[spare.port], |b| b).await;
    assert!(where_read(&db).await);
    // The replica shows none of what the migrations do, yet stays usable
    // (within the default maximum lag) for the few statements below.
    spare.sql("SELECT pg_wal_replay_pause()").await;
    let m: sylvan::Migrations = sylvan::embed_migrations!("tests/migrations");
    assert_eq!(m.run(&db).await.unwrap(), vec![1, 2, 3]);
    assert_eq!(m.run(&db).await.unwrap(), Vec::<i64>::new());
    assert_eq!(m.applied(&db).await.unwrap().len(), 3);
    assert!(where_read(&db).await, "reads still go to the replica");
    spare.sql("SELECT pg_wal_replay_resume()").await;
    db.close();
}

#[tokio::test]
async fn a_read_cancelled_by_a_recovery_conflict_runs_on_the_primary() {
    let Some(c) = cluster() else { return };
    let spare = spare(c).await;
    let db = routed(c, "rr_conflict", &[spare.port], |b| b).await;
    db.execute("CREATE TABLE rr_conflict_t (x int)", ())
        .await
        .unwrap();
    db.execute("INSERT INTO rr_conflict_t VALUES (1)", ())
        .await
        .unwrap();
    // The spare cancels a query in the way of replay at once.
    spare
        .sql("ALTER SYSTEM SET max_standby_streaming_delay = 0")
        .await;
    spare.sql("SELECT pg_reload_conf()").await;
    let direct = Database::connect(&url(spare.port, "rr_conflict_direct"))
        .await
        .unwrap();
    assert!(
        eventually(Duration::from_secs(5), || async {
            let row = direct.fetch_one::<i64, _>("SELECT count(*) FROM rr_conflict_t", ());
            let delay = direct.fetch_one::<String, _>("SHOW max_standby_streaming_delay", ());
            row.await.ok() == Some(1) && delay.await.ok().as_deref() == Some("0")
        })
        .await
    );
    direct.close();
    assert!(where_read(&db).await);
    let before = counts(&db);
    let reader = db.clone();
    let read = tokio::spawn(async move {
        reader
            .fetch_one::<bool, _>(
                "SELECT pg_is_in_recovery() FROM rr_conflict_t, pg_sleep(1)",
                (),
            )
            .await
    });
    tokio::time::sleep(Duration::from_millis(300)).await;
    // Replaying this lock conflicts with the read's lock on the spare.
    let tx = db.begin().await.unwrap();
    tx.execute("LOCK TABLE rr_conflict_t IN ACCESS EXCLUSIVE MODE", ())
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(500)).await;
    tx.commit().await.unwrap();
    let result = tokio::time::timeout(Duration::from_secs(10), read)
        .await
        .expect("the read never hangs")
        .unwrap();
    assert!(
        !result.unwrap(),
        "cancelled on the spare, run on the primary"
    );
    let after = counts(&db);
    assert_eq!((after.0 - before.0, after.1 - before.1), (1, 1));
    assert!(db.members()[1].usable, "a conflict does not mark it down");
    db.close();
}

#[tokio::test]
async fn a_replica_gone_silent_is_skipped_and_reads_still_end() {
    let Some(c) = cluster() else { return };
    // The steady replica behind a relay that can swallow everything.
    let relay = Relay::start_to(format!("127.0.0.1:{}", c.steady_port)).await;
    let app = "rr_silent";
    let db = routed(c, app, &[], |b| {
        b.replica(&relay.url(&url(c.steady_port, app)))
            .pool(
                sylvan::PoolConfig::default()
                    .max_size(4)
                    .create_timeout(Duration::from_secs(1))
                    .recycle_timeout(Duration::from_secs(1)),
            )
            .replica_check_timeout(Duration::from_millis(500))
    })
    .await;
    assert!(where_read(&db).await);
    // Idle past the liveness window, then no byte passes, no FIN, no RST.
    tokio::time::sleep(Duration::from_millis(600)).await;
    relay.set_all(Fault::Blackhole);
    let started = Instant::now();
    assert!(!where_read(&db).await, "read on the primary");
    let first = started.elapsed();
    assert!(first < Duration::from_secs(4), "{first:?}");
    let m = db.members();
    assert!(!m[1].usable, "{m:?}");
    let started = Instant::now();
    assert!(!where_read(&db).await);
    assert!(
        started.elapsed() < Duration::from_millis(500),
        "skipped now"
    );
    relay.set_all(Fault::Pass);
    assert!(
        eventually(Duration::from_secs(5), || async { where_read(&db).await }).await,
        "{:?}",
        db.members()
    );
    eprintln!("rr_silent: the first read after the cut took {first:?}");
    db.close();
}
