//! Read replicas against a real streaming replica (see `support::replica`):
//! routing of reads, writes and transactions, forcing the primary, the
//! 25006 fallback, spreading, status, and the health task's end. Failures
//! (lag, a replica cut off, stopped, stopped mid-read, recovery conflicts)
//! are in `replica_faults`. `pg_is_in_recovery()` says where a statement
//! ran; the per-member statement counts say where an ORM statement went.

use crate::support::eventually;
use crate::support::replica::{
    cluster, counts, free_port, replicated, routed, url, where_read, CHECK,
};
use std::time::{Duration, Instant};
use sylvan::prelude::*;
use sylvan::{MemberRole, Route, Statement, StreamExt, TransactionOptions};

#[derive(Debug, Clone, PartialEq, Model)]
#[model(table = "rr_item")]
struct RrItem {
    #[model(primary_key, auto)]
    id: i64,
    name: String,
}

#[derive(Debug, Clone, PartialEq, Model)]
#[model(table = "rr_forced")]
struct RrForced {
    #[model(primary_key, auto)]
    id: i64,
}

#[tokio::test]
async fn reads_go_to_the_replica_and_writes_and_transactions_to_the_primary() {
    let Some(c) = cluster() else { return };
    let db = routed(c, "rr_basic", &[c.steady_port], |b| b).await;
    let members = db.members();
    assert_eq!(members.len(), 2);
    assert_eq!(members[0].role, MemberRole::Primary);
    assert_eq!(members[1].role, MemberRole::Replica);
    assert_eq!(members[1].address, format!("127.0.0.1:{}", c.steady_port));
    assert!(members[1].usable, "{members:?}");
    assert!(members[1].lag.is_some_and(|l| l < Duration::from_secs(5)));

    assert!(where_read(&db).await);
    let with: bool = db
        .fetch_one("WITH x AS (SELECT 1) SELECT pg_is_in_recovery() FROM x", ())
        .await
        .unwrap();
    assert!(with);
    db.execute("CREATE TABLE rr_basic_t (id int)", ())
        .await
        .unwrap();
    db.execute("INSERT INTO rr_basic_t VALUES (1)", ())
        .await
        .unwrap();
    let locked: bool = db
        .fetch_one("SELECT pg_is_in_recovery() FROM rr_basic_t FOR UPDATE", ())
        .await
        .unwrap();
    assert!(!locked, "a locking read runs on the primary");
    let inserted: bool = db
        .fetch_one(
            "INSERT INTO rr_basic_t VALUES (2) RETURNING pg_is_in_recovery()",
            (),
        )
        .await
        .unwrap();
    assert!(!inserted);

    let tx = db.begin().await.unwrap();
    assert!(!tx
        .fetch_one::<bool, _>("SELECT pg_is_in_recovery()", ())
        .await
        .unwrap());
    tx.rollback().await.unwrap();
    let ro = db
        .begin_with(TransactionOptions::new().read_only(true))
        .await
        .unwrap();
    assert!(!ro
        .fetch_one::<bool, _>("SELECT pg_is_in_recovery()", ())
        .await
        .unwrap());
    ro.rollback().await.unwrap();
    let in_closure = db
        .transaction(async |tx| {
            tx.fetch_one::<bool, _>("SELECT pg_is_in_recovery()", ())
                .await
        })
        .await
        .unwrap();
    assert!(!in_closure);
    let retried = db
        .transaction_retry(TransactionOptions::new(), 2, async |tx| {
            tx.fetch_one::<bool, _>("SELECT pg_is_in_recovery()", ())
                .await
        })
        .await
        .unwrap();
    assert!(!retried);
    let conn = db.acquire().await.unwrap();
    assert!(!conn
        .fetch_one::<bool, _>("SELECT pg_is_in_recovery()", ())
        .await
        .unwrap());
    drop(conn);
    let reader = db.acquire_reader().await.unwrap();
    assert!(reader
        .fetch_one::<bool, _>("SELECT pg_is_in_recovery()", ())
        .await
        .unwrap());
    drop(reader);
    let streamed: Vec<bool> = db
        .fetch_stream::<bool, _>("SELECT pg_is_in_recovery()", ())
        .collect::<Vec<_>>()
        .await
        .into_iter()
        .collect::<sylvan::Result<_>>()
        .unwrap();
    assert_eq!(streamed, vec![true]);
    db.close();
}

#[tokio::test]
async fn orm_reads_go_to_the_replica_and_orm_writes_to_the_primary() {
    let Some(c) = cluster() else { return };
    let db = routed(c, "rr_orm", &[c.steady_port], |b| b).await;
    for sql in sylvan::create_table_sql::<RrItem>(db.dialect()) {
        db.execute(&sql, ()).await.unwrap();
    }
    let before = counts(&db);
    let item = RrItem {
        id: 0,
        name: "a".into(),
    }
    .insert(&db)
    .await
    .unwrap();
    RrItem::objects()
        .filter(RrItem::ID.eq(item.id))
        .update([RrItem::NAME.set("b")], &db)
        .await
        .unwrap();
    let mut other = RrItem {
        id: 0,
        name: "c".into(),
    }
    .insert(&db)
    .await
    .unwrap();
    other.name = "d".into();
    other.save(&db).await.unwrap();
    other.delete(&db).await.unwrap();
    let after_writes = counts(&db);
    assert_eq!(after_writes.0 - before.0, 5, "writes on the primary");
    assert_eq!(after_writes.1, before.1, "no write tried on the replica");

    // Reads: on the replica, which shows the writes once it replayed them.
    assert!(
        eventually(Duration::from_secs(5), || async {
            // The table itself may not have reached the replica yet.
            RrItem::objects().all(&db).await.ok()
                == Some(vec![RrItem {
                    id: item.id,
                    name: "b".into(),
                }])
        })
        .await
    );
    let reads = counts(&db);
    assert_eq!(reads.0, after_writes.0, "no read on the primary");
    assert!(reads.1 > after_writes.1);
    assert_eq!(RrItem::objects().count(&db).await.unwrap(), 1);
    assert!(RrItem::objects().exists(&db).await.unwrap());
    assert_eq!(counts(&db).0, after_writes.0);
    // get_or_create looks up and inserts on the primary.
    let (_, created) = RrItem::objects()
        .filter(RrItem::NAME.eq("e"))
        .get_or_create(&db, || RrItem {
            id: 0,
            name: "e".into(),
        })
        .await
        .unwrap();
    assert!(created);
    let last = counts(&db);
    assert_eq!(last.1, reads.1 + 2, "count and exists on the replica");
    assert_eq!(last.0, after_writes.0 + 2, "get and insert on the primary");
    db.close();
}

#[tokio::test]
async fn the_primary_can_be_forced_per_handle_scope_query_and_policy() {
    let Some(c) = cluster() else { return };
    let db = routed(c, "rr_force", &[c.steady_port], |b| b).await;
    for sql in sylvan::create_table_sql::<RrForced>(db.dialect()) {
        db.execute(&sql, ()).await.unwrap();
    }
    assert!(replicated(&db, "rr_forced").await);
    assert!(where_read(&db).await);
    assert!(!where_read(&db.primary()).await, "per handle");
    let pinned = db.primary();
    assert!(!pinned
        .fetch_stream::<bool, _>("SELECT pg_is_in_recovery()", ())
        .next()
        .await
        .unwrap()
        .unwrap());
    assert!(pinned.acquire_reader().await.is_ok());
    let scoped = sylvan::on_primary(async { where_read(&db).await }).await;
    assert!(!scoped, "per scope");
    assert!(where_read(&db).await, "only inside the scope");

    let before = counts(&db);
    RrForced::objects().primary().count(&db).await.unwrap();
    RrForced::objects().primary().all(&db).await.unwrap();
    let mut rows = RrForced::objects().primary().stream(&db);
    while let Some(row) = rows.next().await {
        row.unwrap();
    }
    let after = counts(&db);
    assert_eq!(after.0 - before.0, 3, "per query");
    assert_eq!(after.1, before.1);
    RrForced::objects().count(&db).await.unwrap();
    assert_eq!(counts(&db).1, after.1 + 1);

    let policed = routed(c, "rr_policy", &[c.steady_port], |b| {
        b.routing_policy(|s: &Statement<'_>| match s.table().as_deref() {
            Some("pg_database") => Route::Primary,
            _ => Route::Default,
        })
    })
    .await;
    let on_db: bool = policed
        .fetch_one("SELECT pg_is_in_recovery() FROM pg_database LIMIT 1", ())
        .await
        .unwrap();
    assert!(!on_db, "policy: primary");
    let on_ns: bool = policed
        .fetch_one("SELECT pg_is_in_recovery() FROM pg_namespace LIMIT 1", ())
        .await
        .unwrap();
    assert!(on_ns, "policy: default");
    db.close();
    policed.close();
}

#[tokio::test]
async fn a_read_the_replica_refuses_as_a_write_runs_on_the_primary() {
    let Some(c) = cluster() else { return };
    let db = routed(c, "rr_25006", &[c.steady_port], |b| b).await;
    db.execute("CREATE SEQUENCE rr_seq", ()).await.unwrap();
    assert!(replicated(&db, "rr_seq").await);
    let before = counts(&db);
    let first: i64 = db.fetch_one("SELECT nextval('rr_seq')", ()).await.unwrap();
    let second: i64 = db.fetch_one("SELECT nextval('rr_seq')", ()).await.unwrap();
    assert_eq!((first, second), (1, 2));
    let after = counts(&db);
    assert_eq!(after.1 - before.1, 2, "tried on the replica");
    assert_eq!(after.0 - before.0, 2, "then run on the primary");
    assert!(db.members()[1].usable, "a refusal does not mark it down");
    db.close();
}

#[tokio::test]
async fn reads_spread_round_robin_over_the_replicas() {
    let Some(c) = cluster() else { return };
    let db = routed(c, "rr_spread", &[c.steady_port, c.steady_port], |b| b).await;
    for _ in 0..10 {
        assert!(where_read(&db).await);
    }
    let m = db.members();
    assert_eq!(
        (m[0].statements, m[1].statements, m[2].statements),
        (0, 5, 5)
    );
    db.close();
}

#[tokio::test]
async fn an_unreachable_replica_does_not_fail_connect_and_reads_go_to_the_primary() {
    let Some(c) = cluster() else { return };
    let dead = free_port();
    let started = Instant::now();
    let db = routed(c, "rr_dead", &[dead], |b| b).await;
    assert!(started.elapsed() < Duration::from_secs(3));
    let m = db.members();
    assert!(!m[1].usable);
    let reason = m[1].reason.clone().unwrap_or_default();
    assert!(reason.contains("unreachable"), "{reason}");
    assert!(!where_read(&db).await);
    assert_eq!(counts(&db), (1, 0));
    db.close();
}

#[tokio::test]
async fn sqlite_with_replicas_is_unsupported() {
    let err = Database::builder("sqlite::memory:")
        .replica("postgres://postgres@127.0.0.1:1/x")
        .connect()
        .await
        .unwrap_err();
    assert!(matches!(err, sylvan::Error::Unsupported { .. }), "{err}");
}

#[tokio::test]
async fn the_health_task_ends_with_the_last_handle() {
    let Some(c) = cluster() else { return };
    let app = "rr_health_end";
    let db = routed(c, app, &[c.steady_port], |b| b).await;
    assert!(where_read(&db).await);
    let watcher = Database::connect(&url(c.steady_port, "rr_health_watch"))
        .await
        .unwrap();
    let sessions = || async {
        watcher
            .fetch_one::<i64, _>(
                "SELECT count(*) FROM pg_stat_activity WHERE application_name = $1",
                (app,),
            )
            .await
            .unwrap()
    };
    assert!(sessions().await >= 2, "the health check's and the read's");
    let clone = db.clone();
    drop(db);
    tokio::time::sleep(CHECK * 3).await;
    assert!(sessions().await >= 2, "a clone keeps it alive");
    drop(clone);
    assert!(eventually(Duration::from_secs(3), || async { sessions().await == 0 }).await);
}
