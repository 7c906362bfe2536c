//! `select_related` keeps the query's `distinct` and `select_for_update`.

use crate::support::{both, Kind};
use std::time::Duration;
use sylvan::prelude::*;
use sylvan::{RowLock, Schema};

#[derive(Debug, Clone, PartialEq, Model)]
#[model(table = "srel_authors")]
struct Author {
    #[model(primary_key, auto)]
    id: i64,
    name: String,
}

#[derive(Debug, Clone, PartialEq, Model)]
#[model(table = "srel_books")]
struct Book {
    #[model(primary_key, auto)]
    id: i64,
    #[model(foreign_key = Author)]
    author_id: Option<i64>,
    title: String,
}

async fn fixture(db: &Database) -> (Vec<Author>, Vec<Book>) {
    Schema::new()
        .model::<Author>()
        .model::<Book>()
        .create_all(db)
        .await
        .unwrap();
    let authors = Author::insert_many(
        ["Ann", "Bob"]
            .map(|n| Author {
                id: 0,
                name: n.into(),
            })
            .to_vec(),
        db,
    )
    .await
    .unwrap();
    let books = Book::insert_many(
        [
            (Some(authors[0].id), "one"),
            (Some(authors[1].id), "two"),
            (None, "three"),
            (Some(authors[0].id), "four"),
        ]
        .map(|(author_id, title)| Book {
            id: 0,
            author_id,
            title: title.into(),
        })
        .to_vec(),
        db,
    )
    .await
    .unwrap();
    (authors, books)
}

#[tokio::test]
async fn select_related_keeps_distinct() {
    both("srel_distinct", |t| async move {
        let db = &t.db;
        let (authors, books) = fixture(db).await;
        let q = Book::objects()
            .distinct()
            .order_by((Book::ID * 2).desc())
            .select_related(Book::AUTHOR);
        let (sql, _) = q.to_sql(db.dialect());
        assert!(sql.starts_with("SELECT DISTINCT "), "{sql}");
        let rows = q.all(db).await.unwrap();
        let expected: Vec<(Book, Option<Author>)> = books
            .iter()
            .rev()
            .map(|b| {
                let a = authors.iter().find(|a| Some(a.id) == b.author_id);
                (b.clone(), a.cloned())
            })
            .collect();
        assert_eq!(rows, expected, "{:?}", t.kind);
        t
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn select_related_keeps_select_for_update() {
    both("srel_for_update", |t| async move {
        let db = &t.db;
        let (_, books) = fixture(db).await;
        let target = books[2].id; // the one without an author: LEFT JOIN's NULL side
        let a = db.begin().await.unwrap();
        let locked = Book::objects()
            .filter(Book::ID.eq(target))
            .select_for_update(RowLock::Wait)
            .select_related(Book::AUTHOR)
            .all(&a)
            .await
            .unwrap();
        assert_eq!(locked, [(books[2].clone(), None)]);
        if t.kind == Kind::Postgres {
            let (sql, _) = Book::objects()
                .select_for_update(RowLock::NoWait)
                .select_related(Book::AUTHOR)
                .to_sql(db.dialect());
            assert!(
                sql.ends_with(r#" FOR UPDATE OF "srel_books" NOWAIT"#),
                "{sql}"
            );
            // Another transaction sees the lock: NOWAIT fails, SKIP LOCKED
            // leaves the row out.
            let b = db.begin().await.unwrap();
            let r = tokio::time::timeout(
                Duration::from_secs(30),
                Book::objects()
                    .filter(Book::ID.eq(target))
                    .select_for_update(RowLock::NoWait)
                    .select_related(Book::AUTHOR)
                    .all(&b),
            )
            .await
            .expect("NOWAIT waited");
            assert!(
                matches!(&r, Err(Error::Database { code: Some(c), .. }) if c == "55P03"),
                "{r:?}"
            );
            b.rollback().await.unwrap();
            let b = db.begin().await.unwrap();
            let seen = tokio::time::timeout(
                Duration::from_secs(30),
                Book::objects()
                    .order_by(Book::ID.asc())
                    .select_for_update(RowLock::SkipLocked)
                    .select_related(Book::AUTHOR)
                    .all(&b),
            )
            .await
            .expect("SKIP LOCKED waited")
            .unwrap();
            let seen: Vec<i64> = seen.iter().map(|(b, _)| b.id).collect();
            let others: Vec<i64> = books
                .iter()
                .map(|b| b.id)
                .filter(|&id| id != target)
                .collect();
            assert_eq!(seen, others);
            b.rollback().await.unwrap();
        }
        a.rollback().await.unwrap();
        t
    })
    .await;
}
