//! Query counting (`sylvan::testing::count_queries` / `assert_num_queries`):
//! exact counts of known operations on both backends, scopes private to
//! their task, nested scopes counted in both.

use crate::support::both;
use sylvan::prelude::*;
use sylvan::testing::{assert_num_queries, count_queries};
use sylvan::{Schema, StreamExt};

#[derive(Debug, Clone, PartialEq, Model)]
#[model(table = "qc_items")]
struct Item {
    #[model(primary_key, auto)]
    id: i64,
    name: String,
}

async fn setup(db: &Database) {
    Schema::new().model::<Item>().create_all(db).await.unwrap();
}

fn item(name: &str) -> Item {
    Item {
        id: 0,
        name: name.into(),
    }
}

#[tokio::test]
async fn known_operations_run_a_known_number_of_statements() {
    both("qc_exact", |t| async move {
        let db = &t.db;
        setup(db).await;

        let (stored, log) = count_queries(item("a").insert(db)).await;
        stored.unwrap();
        assert_eq!(log.len(), 1, "{log}");
        assert!(log.statements()[0].starts_with("INSERT INTO"), "{log}");

        let stored = assert_num_queries(1, Item::insert_many(vec![item("b"), item("c")], db))
            .await
            .unwrap();
        assert_eq!(stored.len(), 2);

        // A read, a count and a filtered update: one statement each.
        let (_, log) = count_queries(async {
            let all = Item::objects().all(db).await.unwrap();
            assert_eq!(all.len(), 3);
            assert_eq!(Item::objects().count(db).await.unwrap(), 3);
            Item::objects()
                .filter(Item::NAME.eq("a"))
                .update([Item::NAME.set("z")], db)
                .await
                .unwrap();
        })
        .await;
        assert_eq!(log.len(), 3, "{log}");
        assert_eq!(log.count_containing("qc_items"), 3);

        // BEGIN, INSERT, SAVEPOINT, INSERT, ROLLBACK TO, RELEASE, COMMIT.
        let (_, log) = count_queries(async {
            let mut tx = db.begin().await.unwrap();
            item("d").insert(&tx).await.unwrap();
            let sp = tx.savepoint().await.unwrap();
            item("e").insert(&sp).await.unwrap();
            sp.rollback().await.unwrap();
            tx.commit().await.unwrap();
        })
        .await;
        assert_eq!(log.len(), 7, "{log}");
        assert!(log.statements()[0].starts_with("BEGIN"), "{log}");
        assert!(log.statements()[4].starts_with("ROLLBACK TO"), "{log}");
        assert_eq!(log.statements()[6], "COMMIT", "{log}");

        // The transaction closure: BEGIN, the body's statements, COMMIT.
        assert_num_queries(3, async {
            db.transaction(async |tx| {
                tx.execute("DELETE FROM qc_items WHERE name = $1", ("d",))
                    .await
            })
            .await
            .unwrap()
        })
        .await;

        // A read-looking write: on SQLite a reader refuses it and the
        // writer runs it, still one statement.
        let (ids, log) = count_queries(db.fetch_all::<i64, _>(
            "WITH n AS (SELECT 'w' AS name) INSERT INTO qc_items (name) SELECT name FROM n RETURNING id",
            (),
        ))
        .await;
        assert_eq!(ids.unwrap().len(), 1);
        assert_eq!(log.len(), 1, "{log}");

        // A row stream counts once; a script once.
        let (n, log) = count_queries(async {
            let mut rows = Item::objects().stream(db);
            let mut n = 0;
            while let Some(row) = rows.next().await {
                row.unwrap();
                n += 1;
            }
            drop(rows);
            let conn = db.acquire().await.unwrap();
            conn.execute_script("SELECT 1; SELECT 2").await.unwrap();
            n
        })
        .await;
        assert_eq!(n, 4);
        assert_eq!(log.len(), 2, "{log}");
        assert_eq!(log.statements()[1], "SELECT 1; SELECT 2");
        t
    })
    .await;
}

#[tokio::test]
async fn concurrent_tasks_count_only_their_own_statements() {
    both("qc_tasks", |t| async move {
        setup(&t.db).await;
        let barrier = std::sync::Arc::new(tokio::sync::Barrier::new(2));
        let task = |n: usize| {
            let db = t.db.clone();
            let barrier = barrier.clone();
            tokio::spawn(async move {
                count_queries(async {
                    barrier.wait().await;
                    for i in 0..n {
                        let _: i64 = db
                            .fetch_one("SELECT CAST($1 AS BIGINT)", (i as i64,))
                            .await
                            .unwrap();
                        tokio::task::yield_now().await;
                    }
                })
                .await
                .1
            })
        };
        let (a, b) = tokio::join!(task(10), task(25));
        assert_eq!(a.unwrap().len(), 10);
        assert_eq!(b.unwrap().len(), 25);

        // A task spawned inside a scope is not counted by it.
        let db = t.db.clone();
        let (_, log) = count_queries(async {
            tokio::spawn(async move { db.fetch_one::<i64, _>("SELECT 1", ()).await })
                .await
                .unwrap()
                .unwrap();
            t.db.fetch_one::<i64, _>("SELECT 2", ()).await.unwrap();
        })
        .await;
        assert_eq!(log.statements(), ["SELECT 2"]);
        t
    })
    .await;
}

#[tokio::test]
async fn nested_scopes_count_in_both() {
    both("qc_nested", |t| async move {
        let db = &t.db;
        let ((inner, _), outer) = count_queries(async {
            db.fetch_one::<i64, _>("SELECT 1", ()).await.unwrap();
            let inner = count_queries(async {
                db.fetch_one::<i64, _>("SELECT 2", ()).await.unwrap();
                db.fetch_one::<i64, _>("SELECT 3", ()).await.unwrap();
            })
            .await;
            db.fetch_one::<i64, _>("SELECT 4", ()).await.unwrap();
            (inner.1, ())
        })
        .await;
        assert_eq!(inner.statements(), ["SELECT 2", "SELECT 3"]);
        assert_eq!(
            outer.statements(),
            ["SELECT 1", "SELECT 2", "SELECT 3", "SELECT 4"]
        );
        t
    })
    .await;
}

#[tokio::test]
async fn assert_num_queries_lists_the_statements_when_the_count_differs() {
    both("qc_assert", |t| async move {
        let db = t.db.clone();
        let failed = tokio::spawn(async move {
            assert_num_queries(1, async {
                db.fetch_one::<i64, _>("SELECT 1", ()).await.unwrap();
                db.fetch_one::<i64, _>("SELECT 2", ()).await.unwrap();
            })
            .await
        })
        .await
        .expect_err("no panic");
        let message = failed.into_panic();
        let message = message
            .downcast_ref::<String>()
            .map(String::as_str)
            .unwrap_or("");
        assert_eq!(
            message,
            "2 != 1 : 2 queries executed, 1 expected\nCaptured queries were:\n1. SELECT 1\n2. SELECT 2\n"
        );
        t
    })
    .await;
}
