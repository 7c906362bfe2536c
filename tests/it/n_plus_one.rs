//! N+1 detection (`sylvan::testing::detect_n_plus_one`): a loop over 50
//! books calling the author accessor is reported with its statement, count
//! and line; the same data through `select_related` or a prefetch is not;
//! neither is a statement repeated outside a loop over a result.

use crate::support::{both, TestDb};
use sylvan::prelude::*;
use sylvan::testing::{
    allow_n_plus_one, assert_no_n_plus_one, count_queries, detect_n_plus_one, NPlusOne,
};
use sylvan::{Schema, StreamExt};

#[derive(Debug, Clone, PartialEq, Model)]
#[model(table = "npo_authors")]
struct Author {
    #[model(primary_key, auto)]
    id: i64,
    name: String,
}

#[derive(Debug, Clone, PartialEq, Model)]
#[model(table = "npo_books")]
struct Book {
    #[model(primary_key, auto)]
    id: i64,
    #[model(foreign_key = Author)]
    author_id: i64,
    title: String,
}

/// 5 authors and 50 books, book `i` by author `i % 5`.
async fn fixture(db: &Database) -> Vec<Author> {
    Schema::new()
        .model::<Author>()
        .model::<Book>()
        .create_all(db)
        .await
        .unwrap();
    let authors = (0..5)
        .map(|i| Author {
            id: 0,
            name: format!("author {i}"),
        })
        .collect();
    let authors = Author::insert_many(authors, db).await.unwrap();
    let books = (0..50)
        .map(|i| Book {
            id: 0,
            author_id: authors[i % 5].id,
            title: format!("book {i}"),
        })
        .collect();
    Book::insert_many(books, db).await.unwrap();
    authors
}

async fn all_books<E: Executor>(on: &E) -> Vec<Book> {
    Book::objects()
        .order_by(Book::ID.asc())
        .all(on)
        .await
        .unwrap()
}

/// The one report of `found`, checked against the author loop at `line`.
fn assert_author_loop(t: &TestDb, found: &[NPlusOne], line: u32) {
    assert_eq!(found.len(), 1, "{:?}: {found:#?}", t.kind);
    let report = &found[0];
    assert_eq!(report.count, 50, "{report}");
    assert!(
        report.statement.contains("FROM \"npo_authors\" WHERE"),
        "{report}"
    );
    assert!(report.source.contains("npo_books"), "{report}");
    assert_eq!(report.source_rows, 50);
    let at = report.location.as_deref().unwrap_or("");
    assert!(
        at.contains(&format!("n_plus_one.rs:{line}:")),
        "location {at:?}, expected line {line}: {report}"
    );
    let text = report.to_string();
    assert!(text.contains("ran 50 times") && text.contains("select_related(...)"));
}

#[tokio::test]
async fn a_loop_calling_the_author_accessor_is_reported() {
    both("npo_loop", |t| async move {
        let db = &t.db;
        fixture(db).await;
        let line = line!() + 5;
        let (names, found) = detect_n_plus_one(async {
            let books = all_books(db).await;
            let mut names = Vec::new();
            for book in &books {
                names.push(book.author(db).await.unwrap().name);
            }
            names
        })
        .await;
        assert_eq!(names.len(), 50);
        assert_eq!(names[7], "author 2");
        assert_author_loop(&t, &found, line);
        t
    })
    .await;
}

#[tokio::test]
async fn select_related_and_prefetch_are_not_reported() {
    both("npo_fixed", |t| async move {
        let db = &t.db;
        let authors = fixture(db).await;
        let (pairs, found) = detect_n_plus_one(async {
            Book::objects()
                .order_by(Book::ID.asc())
                .select_related(Book::AUTHOR)
                .all(db)
                .await
                .unwrap()
        })
        .await;
        assert_eq!(pairs.len(), 50);
        assert_eq!(pairs[7].1.name, "author 2");
        assert!(found.is_empty(), "{found:#?}");

        // Prefetch: the authors, then every author's books in one query.
        let lists = assert_no_n_plus_one(async {
            let authors = Author::objects()
                .order_by(Author::ID.asc())
                .all(db)
                .await
                .unwrap();
            Book::AUTHOR.load_for(&authors, db).await.unwrap()
        })
        .await;
        assert_eq!(lists.len(), authors.len());
        assert!(lists.iter().all(|books| books.len() == 10));
        t
    })
    .await;
}

#[tokio::test]
async fn a_statement_repeated_outside_a_result_loop_is_not_reported() {
    both("npo_repeat", |t| async move {
        let db = &t.db;
        let authors = fixture(db).await;
        let first = authors[0].id;
        let found = detect_n_plus_one(async {
            let books = all_books(db).await;
            assert_eq!(books.len(), 50);
            for _ in 0..50 {
                // The same key every time: a value in the rows, but constant.
                let a: String = db
                    .fetch_one("SELECT name FROM npo_authors WHERE id = $1", (first,))
                    .await
                    .unwrap();
                assert_eq!(a, "author 0");
            }
            for i in 0..50_i64 {
                // Loop-counter binds that are not values of any result.
                let n: i64 = db
                    .fetch_one("SELECT count(*) FROM npo_books WHERE id > $1", (i + 1000,))
                    .await
                    .unwrap();
                assert_eq!(n, 0);
            }
        })
        .await
        .1;
        assert!(found.is_empty(), "{found:#?}");
        t
    })
    .await;
}

#[tokio::test]
async fn an_allowed_loop_is_not_reported_but_still_counted() {
    both("npo_allow", |t| async move {
        let db = &t.db;
        fixture(db).await;
        let ((count, log), found) = detect_n_plus_one(count_queries(async {
            let books = all_books(db).await;
            allow_n_plus_one(async {
                for book in &books {
                    book.author(db).await.unwrap();
                }
            })
            .await;
            books.len()
        }))
        .await;
        assert_eq!(count, 50);
        assert_eq!(log.len(), 51);
        assert!(found.is_empty(), "{found:#?}");
        t
    })
    .await;
}

#[tokio::test]
async fn the_loop_is_reported_in_a_transaction_and_on_a_connection() {
    both("npo_tx_conn", |t| async move {
        let db = &t.db;
        fixture(db).await;
        let line = line!() + 5;
        let found = detect_n_plus_one(async {
            let tx = db.begin().await.unwrap();
            let books = all_books(&tx).await;
            for book in &books {
                book.author(&tx).await.unwrap();
            }
            tx.commit().await.unwrap();
        })
        .await
        .1;
        assert_author_loop(&t, &found, line);

        let line = line!() + 5;
        let found = detect_n_plus_one(async {
            let conn = db.acquire().await.unwrap();
            let books = all_books(&conn).await;
            for book in &books {
                book.author(&conn).await.unwrap();
            }
        })
        .await
        .1;
        assert_author_loop(&t, &found, line);
        t
    })
    .await;
}

#[tokio::test]
async fn a_loop_over_a_row_stream_is_reported() {
    both("npo_stream", |t| async move {
        let db = &t.db;
        fixture(db).await;
        let line = line!() + 5;
        let found = detect_n_plus_one(async {
            let mut books = Book::objects().order_by(Book::ID.asc()).stream(db);
            let mut n = 0;
            while let Some(book) = books.next().await {
                book.unwrap().author(db).await.unwrap();
                n += 1;
            }
            assert_eq!(n, 50);
        })
        .await
        .1;
        assert_author_loop(&t, &found, line);
        t
    })
    .await;
}

#[tokio::test]
async fn assert_no_n_plus_one_panics_with_the_report() {
    both("npo_panic", |t| async move {
        fixture(&t.db).await;
        let db = t.db.clone();
        let failed = tokio::spawn(async move {
            assert_no_n_plus_one(async {
                for book in &all_books(&db).await {
                    book.author(&db).await.unwrap();
                }
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
        assert!(message.contains("ran 50 times"), "{message}");
        assert!(message.contains("n_plus_one.rs:"), "{message}");
        t
    })
    .await;
}

fn library() -> Schema {
    Schema::new().model::<Author>().model::<Book>()
}

/// 2 authors and 6 books, then the author of each book, one by one.
async fn author_loop(db: &Database) -> sylvan::Result<()> {
    let authors = Author::insert_many(
        vec![
            Author {
                id: 0,
                name: "a".into(),
            },
            Author {
                id: 0,
                name: "b".into(),
            },
        ],
        db,
    )
    .await?;
    let books = (0..6)
        .map(|i| Book {
            id: 0,
            author_id: authors[i % 2].id,
            title: format!("book {i}"),
        })
        .collect();
    Book::insert_many(books, db).await?;
    for book in all_books(db).await {
        book.author(db).await?;
    }
    Ok(())
}

// `#[sylvan::test]` watches for N+1 queries unless told not to. (SQLite
// only: a skipped PostgreSQL half would not panic.)
#[sylvan::test(schema = library, backends(sqlite))]
#[should_panic(expected = "N+1")]
async fn the_test_macro_fails_a_test_that_runs_an_n_plus_one(db: Database) -> sylvan::Result<()> {
    author_loop(&db).await
}

#[sylvan::test(schema = library, n_plus_one = false)]
async fn the_test_macro_lets_a_loop_run_when_detection_is_off(db: Database) -> sylvan::Result<()> {
    author_loop(&db).await
}
