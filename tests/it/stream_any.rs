//! `QuerySet::stream` and `fetch_stream` on a checked-out connection and
//! inside a transaction, on both backends: the transaction's own rows are
//! seen, rows arrive one at a time, and a stream dropped early poisons the
//! transaction (its documented behaviour) while a connection stays usable.

use crate::support::{both, Kind};
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;
use sylvan::prelude::*;
use sylvan::StreamExt;

const COUNT_TO: &str =
    "WITH RECURSIVE n(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM n WHERE x < $1) SELECT x FROM n";

fn count_to(kind: Kind) -> String {
    match kind {
        Kind::Sqlite => COUNT_TO.to_owned(),
        Kind::Postgres => COUNT_TO.replace("$1", "CAST($1 AS BIGINT)"),
    }
}

#[derive(Debug, PartialEq, sylvan::Model)]
#[model(table = "stream_any_rows")]
struct StreamRow {
    id: i64,
    name: String,
}

async fn create_table(db: &Database) {
    db.execute(
        "CREATE TABLE stream_any_rows (id BIGINT PRIMARY KEY, name TEXT NOT NULL)",
        (),
    )
    .await
    .unwrap();
}

async fn count(db: &Database) -> i64 {
    db.fetch_one("SELECT count(*) FROM stream_any_rows", ())
        .await
        .unwrap()
}

#[tokio::test]
async fn a_queryset_streamed_in_a_transaction_sees_its_own_rows_and_commits() {
    both("stream_any_tx", |t| async move {
        create_table(&t.db).await;
        let mut tx = t.db.begin().await.unwrap();
        for i in 1..=5_i64 {
            tx.execute(
                "INSERT INTO stream_any_rows (id, name) VALUES ($1, $2)",
                (i, format!("n{i}")),
            )
            .await
            .unwrap();
        }
        let mut seen = Vec::new();
        {
            let mut rows = StreamRow::objects()
                .filter(StreamRow::ID.gt(1))
                .order_by(StreamRow::ID.desc())
                .stream(&mut tx);
            while let Some(row) = rows.next().await {
                seen.push(row.unwrap());
            }
        }
        let ids: Vec<i64> = seen.iter().map(|r| r.id).collect();
        assert_eq!(ids, vec![5, 4, 3, 2]);
        assert_eq!(seen[0].name, "n5");
        // Nothing is visible outside before the commit, everything after.
        assert_eq!(count(&t.db).await, 0);
        tx.execute(
            "INSERT INTO stream_any_rows (id, name) VALUES (6, 'n6')",
            (),
        )
        .await
        .unwrap();
        tx.commit().await.unwrap();
        assert_eq!(count(&t.db).await, 6);
        t
    })
    .await;
}

#[tokio::test]
async fn a_queryset_streams_on_a_checked_out_connection() {
    both("stream_any_conn", |t| async move {
        create_table(&t.db).await;
        let mut conn = t.db.acquire().await.unwrap();
        conn.execute(
            "INSERT INTO stream_any_rows (id, name) VALUES (1, 'a'), (2, 'b'), (3, 'c')",
            (),
        )
        .await
        .unwrap();
        let names: Vec<String> = StreamRow::objects()
            .order_by(StreamRow::ID.asc())
            .stream(&mut conn)
            .map(|r| r.unwrap().name)
            .collect()
            .await;
        assert_eq!(names, vec!["a", "b", "c"]);

        // Dropped early, the stream leaves the connection usable.
        let mut rows = conn.fetch_stream::<i64, _>(&count_to(t.kind), (1_000_000_i64,));
        assert_eq!(rows.next().await.unwrap().unwrap(), 1);
        drop(rows);
        let n: i64 = tokio::time::timeout(
            Duration::from_secs(30),
            conn.fetch_one("SELECT CAST($1 AS BIGINT)", (7_i64,)),
        )
        .await
        .expect("the connection answers after a dropped stream")
        .unwrap();
        assert_eq!(n, 7);
        t
    })
    .await;
}

#[tokio::test]
async fn a_stream_dropped_early_poisons_the_transaction() {
    both("stream_any_poison", |t| async move {
        create_table(&t.db).await;
        let mut tx = t.db.begin().await.unwrap();
        tx.execute("INSERT INTO stream_any_rows (id, name) VALUES (1, 'a')", ())
            .await
            .unwrap();
        {
            let mut rows = tx.fetch_stream::<i64, _>(&count_to(t.kind), (1_000_000_i64,));
            assert_eq!(rows.next().await.unwrap().unwrap(), 1);
        }
        let err = tx
            .execute("INSERT INTO stream_any_rows (id, name) VALUES (2, 'b')", ())
            .await
            .unwrap_err();
        assert!(matches!(err, Error::TransactionAborted { .. }), "{err:?}");
        // A new stream is refused the same way.
        let first = tx
            .fetch_stream::<i64, _>("SELECT 1", ())
            .next()
            .await
            .unwrap();
        assert!(
            matches!(first, Err(Error::TransactionAborted { .. })),
            "{first:?}"
        );
        let err = tx.commit().await.unwrap_err();
        assert!(matches!(err, Error::TransactionAborted { .. }), "{err:?}");
        // Rolled back, and the pool still serves.
        let n = tokio::time::timeout(Duration::from_secs(30), count(&t.db))
            .await
            .expect("the pool answers after a poisoned transaction");
        assert_eq!(n, 0);
        t
    })
    .await;
}

/// Rows decoded so far by [`Counted`] (only the 10,000-row test uses it).
static DECODED: AtomicI64 = AtomicI64::new(0);

/// An id, counting every row decoded, wherever it is decoded (SQLite: on
/// the worker thread; PostgreSQL: as the stream is polled).
struct Counted(i64);

impl sylvan::FromRow for Counted {
    fn from_row(row: &sylvan::Row<'_>) -> sylvan::Result<Self> {
        DECODED.fetch_add(1, Ordering::SeqCst);
        Ok(Counted(row.get(0)?))
    }
}

#[tokio::test]
async fn a_stream_of_10000_rows_in_a_transaction_arrives_row_by_row() {
    both("stream_any_big", |t| async move {
        create_table(&t.db).await;
        let mut tx = t.db.begin().await.unwrap();
        let fill = format!(
            "INSERT INTO stream_any_rows (id, name) SELECT x, 'row' FROM ({}) AS s",
            count_to(t.kind)
        );
        let inserted = tx.execute(&fill, (10_000_i64,)).await.unwrap();
        assert_eq!(inserted, 10_000);
        DECODED.store(0, Ordering::SeqCst);
        let mut rows =
            tx.fetch_stream::<Counted, _>("SELECT id FROM stream_any_rows ORDER BY id", ());
        let mut counted = 0_i64;
        let mut most_ahead = 0_i64;
        while let Some(row) = rows.next().await {
            let Counted(id) = row.unwrap();
            counted += 1;
            // Each row arrives as its own item, in order ...
            assert_eq!(id, counted);
            // ... and is decoded only a bounded way ahead of the consumer
            // (SQLite: the worker's 64-row channel), never all 10,000 first.
            most_ahead = most_ahead.max(DECODED.load(Ordering::SeqCst) - counted);
            tokio::task::yield_now().await;
        }
        drop(rows);
        assert_eq!(counted, 10_000);
        assert!(
            most_ahead <= 200,
            "{most_ahead} rows decoded ahead of the consumer"
        );
        // Read to the end: the transaction goes on and commits.
        let models = StreamRow::objects().stream(&mut tx).count().await;
        assert_eq!(models, 10_000);
        tx.commit().await.unwrap();
        assert_eq!(count(&t.db).await, 10_000);
        t
    })
    .await;
}
