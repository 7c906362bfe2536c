//! Statement-level behaviour: the PostgreSQL statement cache healing after
//! schema changes, pipelining on one connection, and the tracing hook.

use crate::support::{both, capture_queries, query_events, Kind};
use sylvan::prelude::*;
use sylvan::Value;

#[tokio::test]
async fn cached_statements_heal_after_schema_changes() {
    both("heal", |t| async move {
        let db = &t.db;
        db.execute(
            "CREATE TABLE h (id BIGINT PRIMARY KEY, a TEXT NOT NULL)",
            (),
        )
        .await
        .unwrap();
        db.execute("INSERT INTO h (id, a) VALUES ($1, $2)", (1_i64, "x"))
            .await
            .unwrap();
        // Prime every pooled connection's cache with `SELECT *`.
        for _ in 0..8 {
            let row: Vec<Value> = db.fetch_all("SELECT * FROM h", ()).await.unwrap();
            assert_eq!(row.len(), 1);
        }
        // The result type of the cached `SELECT *` changes.
        db.execute("ALTER TABLE h ADD COLUMN b TEXT", ())
            .await
            .unwrap();
        db.execute("UPDATE h SET b = $1", ("y",)).await.unwrap();
        for _ in 0..8 {
            let rows: Vec<(i64, String, Option<String>)> =
                db.fetch_all("SELECT * FROM h", ()).await.unwrap();
            assert_eq!(rows, vec![(1, "x".to_owned(), Some("y".to_owned()))]);
        }
        // A column type change under a cached INSERT.
        db.execute("ALTER TABLE h ALTER COLUMN a TYPE VARCHAR(10)", ())
            .await
            .or_else(|e| {
                if t.kind == Kind::Sqlite {
                    Ok(0)
                } else {
                    Err(e)
                }
            })
            .unwrap();
        db.execute("INSERT INTO h (id, a) VALUES ($1, $2)", (2_i64, "z"))
            .await
            .unwrap();
        let n: i64 = db.fetch_one("SELECT count(*) FROM h", ()).await.unwrap();
        assert_eq!(n, 2);
        t
    })
    .await;
}

#[tokio::test]
async fn concurrent_queries_on_one_connection() {
    both("pipeline", |t| async move {
        let conn = t.db.acquire().await.unwrap();
        let (a, b, c) = tokio::join!(
            conn.fetch_one::<i64, _>("SELECT CAST($1 AS BIGINT) + 1", (1_i64,)),
            conn.fetch_one::<i64, _>("SELECT CAST($1 AS BIGINT) + 2", (1_i64,)),
            conn.fetch_one::<String, _>("SELECT CAST($1 AS TEXT)", ("three",)),
        );
        assert_eq!(
            (a.unwrap(), b.unwrap(), c.unwrap().as_str()),
            (2, 3, "three")
        );
        drop(conn);
        t
    })
    .await;
}

#[tokio::test]
async fn one_trace_event_per_statement_without_bind_values() {
    capture_queries();
    both("trace", |t| async move {
        let marker = format!("trace_marker_{}", t.name);
        t.db.execute(&format!("CREATE TABLE {marker} (s TEXT)"), ())
            .await
            .unwrap();
        t.db.execute(
            &format!("INSERT INTO {marker} (s) VALUES ($1)"),
            ("secret-value",),
        )
        .await
        .unwrap();
        let _: Vec<String> =
            t.db.fetch_all(&format!("SELECT s FROM {marker}"), ())
                .await
                .unwrap();
        let events = query_events(&marker);
        assert_eq!(events.len(), 3, "{events:#?}");
        for e in &events {
            assert!(
                e.contains("rows=") && e.contains("elapsed_us=") && e.contains("backend="),
                "{e}"
            );
            assert!(
                !e.contains("secret-value"),
                "bind value leaked into a trace: {e}"
            );
        }
        assert!(events[2].contains("rows=1"), "{events:#?}");
        t
    })
    .await;
}
