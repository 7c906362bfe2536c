//! The library-loans service of `app.rs`, run end to end: creates the
//! schema, seeds authors, books, members and loans, calls every service
//! function and prints what it got.
//!
//! ```sh
//! cargo run --example loans --all-features                 # SQLite in memory
//! DATABASE_URL=postgres://postgres@127.0.0.1:5432/test \
//!     cargo run --example loans --all-features             # PostgreSQL
//! ```
//!
//! On PostgreSQL the example works in a schema of its own
//! (`sylvan_loans_<pid>`), reached with `options=-csearch_path=…`, and
//! drops it at the end, so it can be run again and again.

mod app;

use app::{Author, Book, Genre, Isbn, LoanError, Member};
use chrono::{DateTime, Duration, TimeZone, Utc};
use serde_json::json;
use sylvan::prelude::*;
use sylvan::{BoxError, PoolConfig};
use uuid::Uuid;

/// A book to seed: ISBN, title, author (index into the authors), genre, tags.
type BookSeed = (
    &'static str,
    &'static str,
    usize,
    Genre,
    &'static [&'static str],
);

const BOOKS: &[BookSeed] = &[
    (
        "978-0441172719",
        "Dune",
        1,
        Genre::ScienceFiction,
        &["space", "desert", "classic"],
    ),
    (
        "978-0441478125",
        "The Left Hand of Darkness",
        0,
        Genre::ScienceFiction,
        &["space", "classic"],
    ),
    (
        "978-0547773742",
        "A Wizard of Earthsea",
        0,
        Genre::Fantasy,
        &["magic", "classic"],
    ),
    (
        "978-0061054884",
        "The Dispossessed",
        0,
        Genre::ScienceFiction,
        &["space", "politics"],
    ),
    (
        "978-0141439518",
        "Pride and Prejudice",
        2,
        Genre::Novel,
        &["classic", "romance"],
    ),
    (
        "978-0871404237",
        "SPQR",
        3,
        Genre::NonFiction,
        &["history", "rome"],
    ),
];

/// A fixed "today", so that the output is the same on every run.
fn today() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 3, 1, 10, 0, 0)
        .single()
        .unwrap_or_else(Utc::now)
}

fn member(n: u128, name: &str) -> Member {
    Member {
        // Fixed ids for a reproducible run; a real service would use
        // `Uuid::new_v4()` (uuid's `v4` feature).
        id: Uuid::from_u128(0x5eed_0000_0000_4000_8000_0000_0000_0000 | n),
        name: name.into(),
        email: format!("{}@example.org", name.to_lowercase()),
    }
}

fn day(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%d").to_string()
}

/// Fills the database; returns the members.
async fn seed(db: &Database, now: DateTime<Utc>) -> Result<Vec<Member>, BoxError> {
    let authors = Author::insert_many(
        [
            "Ursula K. Le Guin",
            "Frank Herbert",
            "Jane Austen",
            "Mary Beard",
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
    .await?;
    let books: Vec<Book> = BOOKS
        .iter()
        .map(|(isbn, title, author, genre, tags)| Book {
            id: 0,
            isbn: Isbn((*isbn).into()),
            title: (*title).into(),
            author_id: authors[*author].id,
            genre: *genre,
            tags: json!(tags),
        })
        .collect();
    let books = Book::insert_many(books, db).await?;
    let members = vec![
        member(1, "Ann"),
        member(2, "Bob"),
        member(3, "Cid"),
        member(4, "Dee"),
    ];
    Member::bulk_insert(&members, db).await?;

    // History: returned loans, loaded in one statement.
    let history: Vec<app::Loan> = [(0, 0, 90), (0, 4, 70), (1, 5, 60), (0, 2, 50), (2, 0, 40)]
        .into_iter()
        .map(|(who, book, days_ago): (usize, usize, i64)| {
            let borrowed_at = now - Duration::days(days_ago);
            app::Loan {
                id: 0,
                book_id: books[book].id,
                member_id: members[who].id,
                borrowed_at,
                due_at: borrowed_at + Duration::days(app::LOAN_DAYS),
                returned_at: Some(borrowed_at + Duration::days(10)),
            }
        })
        .collect();
    let n = app::Loan::bulk_insert(&history, db).await?;
    println!(
        "seeded {} authors, {} books, {} members and {n} past loans",
        authors.len(),
        books.len(),
        members.len()
    );

    // Current loans, through the service: two of them are overdue today.
    for (who, book, days_ago) in [(1, 0, 30), (2, 1, 25), (0, 4, 3)] {
        let isbn = &books[book].isbn;
        let loan = app::borrow(db, members[who].id, isbn, now - Duration::days(days_ago)).await?;
        println!(
            "borrow: {} takes {:?} on {}, due {}",
            members[who].name,
            books[book].title,
            day(loan.borrowed_at),
            day(loan.due_at)
        );
    }
    Ok(members)
}

/// Calls every service function and prints the results.
async fn run(db: &Database) -> Result<(), BoxError> {
    let now = today();
    app::schema().create_all(db).await?;
    let members = seed(db, now).await?;
    let dune = Isbn("978-0441172719".into());
    let spqr = Isbn("978-0871404237".into());

    println!("\n== borrow refused: the book is out");
    match app::borrow(db, members[3].id, &dune, now).await {
        Err(e @ LoanError::AlreadyOut { .. }) => println!("Dee asks for Dune: {e}"),
        other => return Err(format!("expected AlreadyOut, got {other:?}").into()),
    }
    match app::borrow(db, members[3].id, &Isbn("000-0000000000".into()), now).await {
        Err(e @ LoanError::UnknownBook(_)) => println!("Dee asks for an unknown ISBN: {e}"),
        other => return Err(format!("expected UnknownBook, got {other:?}").into()),
    }

    println!("\n== two members ask for SPQR at the same moment");
    let (a, b) = tokio::join!(
        app::borrow(db, members[2].id, &spqr, now),
        app::borrow(db, members[3].id, &spqr, now)
    );
    for (who, result) in [("Cid", a), ("Dee", b)] {
        match result {
            Ok(loan) => println!("{who}: lent, due {}", day(loan.due_at)),
            Err(e) => println!("{who}: refused: {e}"),
        }
    }

    println!("\n== overdue on {} (one query)", day(now));
    for (loan, (book, author), member) in app::overdue(db, now).await? {
        let late = (now - loan.due_at).num_days();
        println!(
            "{:<4} has {:?} by {} — due {}, {late} days late",
            member.name,
            book.title,
            author.name,
            day(loan.due_at)
        );
    }

    println!("\n== return");
    let back = app::return_book(db, &dune, now).await?;
    println!(
        "Dune is back (loan {}, returned {})",
        back.id,
        back.returned_at.map(day).unwrap_or_default()
    );
    match app::return_book(db, &dune, now).await {
        Err(e @ LoanError::NotOnLoan(_)) => println!("returning it again: {e}"),
        other => return Err(format!("expected NotOnLoan, got {other:?}").into()),
    }
    println!(
        "overdue now: {} loan(s)",
        app::overdue(db, now).await?.len()
    );

    println!("\n== top members by loans (one query)");
    for (m, loans) in app::top_members(db, 3).await? {
        println!("{:<4} {loans}", m.name);
    }

    println!("\n== books tagged \"space\" (JSON containment)");
    for b in app::books_tagged(db, "space").await? {
        println!("{} {:?} {}", b.isbn, b.title, b.tags);
    }

    println!("\n== author page");
    let le_guin = Author::objects()
        .filter(Author::NAME.startswith("Ursula"))
        .get(db)
        .await?;
    let (author, books) = app::author_page(db, le_guin.id).await?;
    println!("{} (id {}):", author.name, author.id);
    for b in books {
        println!("  {:?} ({:?})", b.title, b.genre);
    }
    match app::author_page(db, -1).await {
        Err(e @ LoanError::UnknownAuthor(_)) => println!("author -1: {e}"),
        other => return Err(format!("expected UnknownAuthor, got {other:?}").into()),
    }

    println!("\n== catalog (two queries)");
    for (author, books) in app::catalog(db).await? {
        let titles: Vec<&str> = books.iter().map(|b| b.title.as_str()).collect();
        println!(
            "{:<18} {}",
            author.name,
            if titles.is_empty() {
                "—".to_owned()
            } else {
                titles.join(", ")
            }
        );
    }
    Ok(())
}

#[tokio::main]
async fn main() -> Result<(), BoxError> {
    let url = std::env::var("DATABASE_URL").unwrap_or_default();
    if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        // A schema of our own. Raw SQL because Sylvan creates tables, not
        // schemas: CREATE/DROP SCHEMA is the database administrator's part.
        let schema = format!("sylvan_loans_{}", std::process::id());
        let admin = Database::builder(&url)
            .pool(PoolConfig::default().max_size(1))
            .connect()
            .await?;
        admin
            .execute(&format!("CREATE SCHEMA \"{schema}\""), ())
            .await?;
        let sep = if url.contains('?') { '&' } else { '?' };
        let db = Database::connect(&format!("{url}{sep}options=-csearch_path%3D{schema}")).await;
        println!("library loans on PostgreSQL (schema {schema})\n");
        let result = match db {
            Ok(db) => {
                let result = run(&db).await;
                db.close();
                result
            }
            Err(e) => Err(e.into()),
        };
        admin
            .execute(&format!("DROP SCHEMA \"{schema}\" CASCADE"), ())
            .await?;
        admin.close();
        result
    } else if url.is_empty() || url.starts_with("sqlite:") {
        let url = if url.is_empty() {
            "sqlite::memory:".to_owned()
        } else {
            url
        };
        println!("library loans on SQLite ({url})\n");
        let db = Database::connect(&url).await?;
        let result = run(&db).await;
        db.close();
        result
    } else {
        Err(format!("DATABASE_URL must be a postgres:// or sqlite: URL, not {url:?}").into())
    }
}
