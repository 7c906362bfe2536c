//! The library-loans example (`examples/loans/app.rs`, issue 12): its
//! service functions on both backends, with the results and the number of
//! queries they promise.

#[path = "../../examples/loans/app.rs"]
mod app;

use crate::support::{both, both_with, capture_queries, query_events, TestDb};
use app::{Author, Book, Genre, Isbn, Loan, LoanError, Member};
use chrono::{DateTime, Duration, TimeZone, Utc};
use serde_json::json;
use sylvan::prelude::*;
use sylvan::PoolConfig;
use uuid::Uuid;

/// Everything seeded, by name.
struct Library {
    now: DateTime<Utc>,
    le_guin: Author,
    herbert: Author,
    austen: Author,
    calvino: Author,
    /// Dune, The Left Hand of Darkness, A Wizard of Earthsea,
    /// The Dispossessed, Pride and Prejudice.
    books: Vec<Book>,
    /// Ann, Bob, Cid, Dee.
    members: Vec<Member>,
}

fn isbn(s: &str) -> Isbn {
    Isbn(s.into())
}

async fn library(db: &Database) -> Library {
    app::schema().create_all(db).await.unwrap();
    let now = Utc.with_ymd_and_hms(2026, 3, 1, 10, 0, 0).unwrap();
    let authors = Author::insert_many(
        [
            "Ursula K. Le Guin",
            "Frank Herbert",
            "Jane Austen",
            "Italo Calvino",
        ]
        .into_iter()
        .map(|name| Author {
            id: 0,
            name: name.into(),
        })
        .collect(),
        db,
    )
    .await
    .unwrap();
    let book = |isbn: &str, title: &str, author: &Author, genre, tags: &[&str]| Book {
        id: 0,
        isbn: Isbn(isbn.into()),
        title: title.into(),
        author_id: author.id,
        genre,
        tags: json!(tags),
    };
    let books = Book::insert_many(
        vec![
            book(
                "1",
                "Dune",
                &authors[1],
                Genre::ScienceFiction,
                &["space", "desert"],
            ),
            book(
                "2",
                "The Left Hand of Darkness",
                &authors[0],
                Genre::ScienceFiction,
                &["space", "classic"],
            ),
            book(
                "3",
                "A Wizard of Earthsea",
                &authors[0],
                Genre::Fantasy,
                &["magic"],
            ),
            book(
                "4",
                "The Dispossessed",
                &authors[0],
                Genre::ScienceFiction,
                &["spaceship"],
            ),
            book("5", "Pride and Prejudice", &authors[2], Genre::Novel, &[]),
        ],
        db,
    )
    .await
    .unwrap();
    let members: Vec<Member> = ["Ann", "Bob", "Cid", "Dee"]
        .iter()
        .enumerate()
        .map(|(i, name)| Member {
            id: Uuid::from_u128(0xa000 + i as u128),
            name: (*name).into(),
            email: format!("{name}@example.org"),
        })
        .collect();
    assert_eq!(Member::bulk_insert(&members, db).await.unwrap(), 4);
    Library {
        now,
        le_guin: authors[0].clone(),
        herbert: authors[1].clone(),
        austen: authors[2].clone(),
        calvino: authors[3].clone(),
        books,
        members,
    }
}

/// A loan of `book` to `member` borrowed `days_ago` days before `now`,
/// due [`app::LOAN_DAYS`] later, returned `returned` days after borrowing.
fn past_loan(
    l: &Library,
    book: usize,
    member: usize,
    days_ago: i64,
    returned: Option<i64>,
) -> Loan {
    let borrowed_at = l.now - Duration::days(days_ago);
    Loan {
        id: 0,
        book_id: l.books[book].id,
        member_id: l.members[member].id,
        borrowed_at,
        due_at: borrowed_at + Duration::days(app::LOAN_DAYS),
        returned_at: returned.map(|d| borrowed_at + Duration::days(d)),
    }
}

async fn open_loans(db: &Database, book: &Book) -> i64 {
    Loan::objects()
        .filter(Loan::BOOK_ID.eq(book.id) & Loan::RETURNED_AT.is_null())
        .count(db)
        .await
        .unwrap()
}

#[tokio::test]
async fn borrowing_a_book_that_is_out_is_refused_with_a_typed_error() {
    both("loans_borrow", |t| async move {
        let db = &t.db;
        let l = library(db).await;
        let (ann, bob) = (l.members[0].id, l.members[1].id);
        let dune = &l.books[0];

        let loan = app::borrow(db, ann, &dune.isbn, l.now).await.unwrap();
        assert_eq!((loan.book_id, loan.member_id), (dune.id, ann));
        assert_eq!(loan.due_at, l.now + Duration::days(app::LOAN_DAYS));
        assert_eq!(loan.returned_at, None);
        assert_eq!(Loan::get(db, loan.id).await.unwrap(), loan);

        match app::borrow(db, bob, &dune.isbn, l.now).await {
            Err(LoanError::AlreadyOut { isbn, due_at }) => {
                assert_eq!((isbn, due_at), (dune.isbn.clone(), loan.due_at));
            }
            other => panic!("expected AlreadyOut, got {other:?}"),
        }
        match app::borrow(db, bob, &isbn("nope"), l.now).await {
            Err(LoanError::UnknownBook(i)) => assert_eq!(i, isbn("nope")),
            other => panic!("expected UnknownBook, got {other:?}"),
        }
        let stranger = Uuid::from_u128(7);
        match app::borrow(db, stranger, &l.books[1].isbn, l.now).await {
            Err(LoanError::UnknownMember(m)) => assert_eq!(m, stranger),
            other => panic!("expected UnknownMember, got {other:?}"),
        }
        // The refusals wrote nothing.
        assert_eq!(Loan::objects().count(db).await.unwrap(), 1);

        // Returned, it can be lent again.
        let back = app::return_book(db, &dune.isbn, l.now + Duration::days(2))
            .await
            .unwrap();
        assert_eq!(back.id, loan.id);
        assert_eq!(back.returned_at, Some(l.now + Duration::days(2)));
        let again = app::borrow(db, bob, &dune.isbn, l.now + Duration::days(3))
            .await
            .unwrap();
        assert_eq!(again.member_id, bob);
        assert_eq!(open_loans(db, dune).await, 1);
        t
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_borrows_of_one_book_lend_it_once() {
    both_with(
        "loans_race",
        PoolConfig::default().max_size(8),
        |t| async move {
            let l = library(&t.db).await;
            // Open all eight connections first, so that the borrows overlap
            // instead of waiting for connections one by one; every book is
            // raced for, to give a missing lock more chances to show.
            // (Without the row lock in `borrow`, PostgreSQL lent some book
            // twice in nearly every run. SQLite serialises write
            // transactions on its one writer, and has no connections to
            // open ahead.)
            if t.kind == crate::support::Kind::Postgres {
                let mut held = Vec::new();
                for _ in 0..8 {
                    held.push(t.db.acquire().await.unwrap());
                }
                drop(held);
            }
            let mut tasks = Vec::new();
            for round in 0..2 {
                for book in &l.books {
                    for m in &l.members {
                        let (db, member, isbn) = (t.db.clone(), m.id, book.isbn.clone());
                        let now = l.now + Duration::minutes(round);
                        // The service futures are Send: a web handler can
                        // spawn them.
                        tasks.push(tokio::spawn(async move {
                            (isbn.clone(), app::borrow(&db, member, &isbn, now).await)
                        }));
                    }
                }
            }
            let mut lent = std::collections::HashMap::<Isbn, usize>::new();
            let mut refused = 0;
            for task in tasks {
                match task.await.unwrap() {
                    (isbn, Ok(_)) => *lent.entry(isbn).or_default() += 1,
                    (_, Err(LoanError::AlreadyOut { .. })) => refused += 1,
                    (_, Err(e)) => panic!("unexpected error: {e:?}"),
                }
            }
            for book in &l.books {
                assert_eq!(lent.get(&book.isbn), Some(&1), "{} lent once", book.title);
                assert_eq!(open_loans(&t.db, book).await, 1);
            }
            assert_eq!(refused, 2 * 4 * l.books.len() - l.books.len());
            t
        },
    )
    .await;
}

#[tokio::test]
async fn returning_closes_the_open_loan_only() {
    both("loans_return", |t| async move {
        let db = &t.db;
        let l = library(db).await;
        let old = past_loan(&l, 2, 0, 60, Some(5));
        assert_eq!(Loan::bulk_insert(&[old], db).await.unwrap(), 1);
        match app::return_book(db, &l.books[2].isbn, l.now).await {
            Err(LoanError::NotOnLoan(i)) => assert_eq!(i, l.books[2].isbn),
            other => panic!("expected NotOnLoan, got {other:?}"),
        }
        let open = app::borrow(db, l.members[1].id, &l.books[2].isbn, l.now)
            .await
            .unwrap();
        let other = app::borrow(db, l.members[2].id, &l.books[3].isbn, l.now)
            .await
            .unwrap();
        let back = app::return_book(db, &l.books[2].isbn, l.now).await.unwrap();
        assert_eq!(back.id, open.id);
        // The old loan keeps its return time, the other book stays out.
        let returned: Vec<(i64, Option<DateTime<Utc>>)> = Loan::objects()
            .order_by(Loan::ID.asc())
            .values((Loan::ID, Loan::RETURNED_AT))
            .all(db)
            .await
            .unwrap();
        assert_eq!(
            returned,
            vec![
                (1, Some(l.now - Duration::days(55))),
                (open.id, Some(l.now)),
                (other.id, None),
            ]
        );
        assert!(matches!(
            app::return_book(db, &l.books[2].isbn, l.now).await,
            Err(LoanError::NotOnLoan(_))
        ));
        t
    })
    .await;
}

#[tokio::test]
async fn overdue_lists_exactly_the_overdue_loans_in_one_query() {
    capture_queries();
    both("loans_overdue", |t| async move {
        let db = &t.db;
        let l = library(db).await;
        let loans = Loan::insert_many(
            vec![
                past_loan(&l, 0, 1, 30, None),    // Bob, Dune: 9 days late
                past_loan(&l, 1, 2, 22, None),    // Cid: 1 day late
                past_loan(&l, 2, 0, 10, None),    // Ann: due in 11 days
                past_loan(&l, 3, 3, 40, Some(5)), // Dee: was due long ago, returned
                past_loan(&l, 4, 3, 21, None),    // Dee: due exactly now, not late yet
            ],
            db,
        )
        .await
        .unwrap();
        let marker = format!("backend=\"{}\"", backend(&t));
        let joins = |e: &String| {
            e.contains(&marker) && e.contains("lib_loan") && e.contains("sylvan_related_2")
        };
        let before = query_events("lib_loan").iter().filter(|e| joins(e)).count();
        let late = app::overdue(db, l.now).await.unwrap();
        let after = query_events("lib_loan").iter().filter(|e| joins(e)).count();
        assert_eq!(after - before, 1, "overdue() must be one query");
        assert_eq!(
            late,
            vec![
                (
                    loans[0].clone(),
                    (l.books[0].clone(), l.herbert.clone()),
                    l.members[1].clone()
                ),
                (
                    loans[1].clone(),
                    (l.books[1].clone(), l.le_guin.clone()),
                    l.members[2].clone()
                ),
            ]
        );
        // A minute later the loan due now is late too; returned, Dune is not.
        let later = l.now + Duration::minutes(1);
        app::return_book(db, &l.books[0].isbn, later).await.unwrap();
        let ids: Vec<i64> = app::overdue(db, later)
            .await
            .unwrap()
            .iter()
            .map(|(loan, ..)| loan.id)
            .collect();
        assert_eq!(ids, [loans[1].id, loans[4].id]);
        t
    })
    .await;
}

fn backend(t: &TestDb) -> &'static str {
    match t.kind {
        crate::support::Kind::Sqlite => "sqlite",
        crate::support::Kind::Postgres => "postgres",
    }
}

#[tokio::test]
async fn top_members_are_ordered_by_their_number_of_loans_in_one_query() {
    capture_queries();
    both("loans_top", |t| async move {
        let db = &t.db;
        let l = library(db).await;
        // Cid 3 loans, Ann 2, Dee 2, Bob 0; returned loans count too.
        let loans: Vec<Loan> = [(0, 2), (1, 2), (2, 2), (0, 0), (1, 0), (2, 3), (3, 3)]
            .into_iter()
            .enumerate()
            .map(|(i, (book, member))| past_loan(&l, book, member, 60 - 5 * i as i64, Some(3)))
            .collect();
        assert_eq!(Loan::bulk_insert(&loans, db).await.unwrap(), 7);

        let marker = format!("backend=\"{}\"", backend(&t));
        let grouped = |e: &String| {
            e.contains(&marker) && e.contains("lib_member") && e.contains("sylvan_agg")
        };
        let before = query_events("lib_member")
            .iter()
            .filter(|e| grouped(e))
            .count();
        let top = app::top_members(db, 3).await.unwrap();
        let after = query_events("lib_member")
            .iter()
            .filter(|e| grouped(e))
            .count();
        assert_eq!(after - before, 1, "top_members() must be one query");
        let names: Vec<(&str, i64)> = top.iter().map(|(m, n)| (m.name.as_str(), *n)).collect();
        // Ties by name: Ann before Dee; Bob (no loans) is cut by the limit.
        assert_eq!(names, [("Cid", 3), ("Ann", 2), ("Dee", 2)]);
        assert_eq!(top[0].0, l.members[2]);

        let all = app::top_members(db, 10).await.unwrap();
        assert_eq!(
            all.last().map(|(m, n)| (m.name.as_str(), *n)),
            Some(("Bob", 0))
        );
        t
    })
    .await;
}

#[tokio::test]
async fn books_tagged_matches_whole_tags_in_the_json_array() {
    both("loans_tags", |t| async move {
        let db = &t.db;
        let l = library(db).await;
        let titles = |books: Vec<Book>| books.into_iter().map(|b| b.title).collect::<Vec<_>>();
        assert_eq!(
            titles(app::books_tagged(db, "space").await.unwrap()),
            ["Dune", "The Left Hand of Darkness"] // not "spaceship"
        );
        assert_eq!(
            titles(app::books_tagged(db, "magic").await.unwrap()),
            ["A Wizard of Earthsea"]
        );
        assert!(app::books_tagged(db, "spa").await.unwrap().is_empty());
        assert!(app::books_tagged(db, "").await.unwrap().is_empty());
        // A tag with quotes and a backslash is a value, not JSON syntax.
        let odd = r#"say "hi" \o/"#;
        Book::objects()
            .filter(Book::ISBN.eq(l.books[4].isbn.clone()))
            .update([Book::TAGS.set(json!([odd]))], db)
            .await
            .unwrap();
        assert_eq!(
            titles(app::books_tagged(db, odd).await.unwrap()),
            ["Pride and Prejudice"]
        );
        t
    })
    .await;
}

#[tokio::test]
async fn author_page_and_catalog_load_books_through_the_reverse_relation() {
    capture_queries();
    both("loans_catalog", |t| async move {
        let db = &t.db;
        let l = library(db).await;
        let (author, books) = app::author_page(db, l.le_guin.id).await.unwrap();
        assert_eq!(author, l.le_guin);
        let titles: Vec<&str> = books.iter().map(|b| b.title.as_str()).collect();
        assert_eq!(
            titles,
            [
                "A Wizard of Earthsea",
                "The Dispossessed",
                "The Left Hand of Darkness"
            ]
        );
        assert!(matches!(
            app::author_page(db, -5).await,
            Err(LoanError::UnknownAuthor(-5))
        ));

        // The catalog: the authors, then every author's books in one
        // prefetch (the only queries ordering authors by name and books by
        // key in this file). Events hold the SQL as `Debug` text, so its
        // quotes are escaped.
        let marker = format!("backend=\"{}\"", backend(&t));
        let authors_q =
            |e: &String| e.contains(&marker) && e.contains(r#"ORDER BY \"lib_author\".\"name\""#);
        let books_q =
            |e: &String| e.contains(&marker) && e.contains(r#"ORDER BY \"lib_book\".\"id\""#);
        let count =
            |f: &dyn Fn(&String) -> bool| query_events("lib_").iter().filter(|e| f(e)).count();
        let (a0, b0) = (count(&authors_q), count(&books_q));
        let catalog = app::catalog(db).await.unwrap();
        assert_eq!((count(&authors_q) - a0, count(&books_q) - b0), (1, 1));
        let by_author: Vec<(&str, Vec<&str>)> = catalog
            .iter()
            .map(|(a, books)| {
                (
                    a.name.as_str(),
                    books.iter().map(|b| b.title.as_str()).collect(),
                )
            })
            .collect();
        assert_eq!(
            by_author,
            vec![
                ("Frank Herbert", vec!["Dune"]),
                ("Italo Calvino", vec![]),
                ("Jane Austen", vec!["Pride and Prejudice"]),
                (
                    "Ursula K. Le Guin",
                    vec![
                        "The Left Hand of Darkness",
                        "A Wizard of Earthsea",
                        "The Dispossessed"
                    ]
                ),
            ]
        );
        assert_eq!(catalog[1].0, l.calvino);
        assert_eq!(catalog[2].0, l.austen);
        t
    })
    .await;
}
