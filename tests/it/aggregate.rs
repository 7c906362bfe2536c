//! Projections (`values`), aggregates with and without GROUP BY, F
//! expressions in filters, projections and updates, and the row counts of
//! bulk `update` / `delete`, on both backends.

use crate::support::{both, Kind, TestDb};
use std::sync::{Arc, Mutex};
use sylvan::prelude::*;
use sylvan::{Assignment, Condition, Model, QuerySet};

#[derive(Debug, Clone, PartialEq, Model)]
struct Book {
    // Keys written by the tests (the implicit `id` would be generated).
    #[model(primary_key)]
    id: i64,
    title: String,
    author: String,
    genre: Option<String>,
    stock: i32,
    sold: i32,
    price: f64,
    pages: Option<i32>,
    rating: Option<f64>,
}

#[allow(clippy::too_many_arguments)]
fn book(
    id: i64,
    title: &str,
    author: &str,
    genre: Option<&str>,
    stock: i32,
    sold: i32,
    price: f64,
    pages: Option<i32>,
    rating: Option<f64>,
) -> Book {
    Book {
        id,
        title: title.to_owned(),
        author: author.to_owned(),
        genre: genre.map(str::to_owned),
        stock,
        sold,
        price,
        pages,
        rating,
    }
}

async fn create_books(t: &TestDb) {
    let sql = match t.kind {
        Kind::Sqlite => {
            "CREATE TABLE book (id INTEGER PRIMARY KEY, title TEXT NOT NULL, author TEXT NOT NULL, \
             genre TEXT, stock INTEGER NOT NULL, sold INTEGER NOT NULL, price REAL NOT NULL, \
             pages INTEGER, rating REAL)"
        }
        Kind::Postgres => {
            "CREATE TABLE book (id BIGINT PRIMARY KEY, title TEXT NOT NULL, author TEXT NOT NULL, \
             genre TEXT, stock INTEGER NOT NULL, sold INTEGER NOT NULL, \
             price DOUBLE PRECISION NOT NULL, pages INTEGER, rating DOUBLE PRECISION)"
        }
    };
    t.db.execute(sql, ()).await.unwrap();
}

async fn insert_all(t: &TestDb, rows: Vec<Book>) {
    for row in rows {
        row.insert(&t.db)
            .await
            .unwrap_or_else(|e| panic!("{:?}: insert: {e}", t.kind));
    }
}

/// | id | title      | author  | genre   | stock | sold | price | pages | rating |
/// |----|------------|---------|---------|-------|------|-------|-------|--------|
/// | 1  | Dune       | herbert | scifi   | 5     | 1    | 10.0  | 600   | 4.5    |
/// | 2  | Emma       | austen  | classic | 0     | 7    | 7.5   | 400   | NULL   |
/// | 3  | Persuasion | austen  | classic | 2     | 3    | 6.0   | NULL  | 4.0    |
/// | 4  | Messiah    | herbert | scifi   | 1     | 0    | 12.5  | 300   | 3.5    |
/// | 5  | Ulysses    | joyce   | NULL    | 3     | 2    | 20.0  | NULL  | NULL   |
async fn seed(t: &TestDb) {
    create_books(t).await;
    insert_all(
        t,
        vec![
            book(
                1,
                "Dune",
                "herbert",
                Some("scifi"),
                5,
                1,
                10.0,
                Some(600),
                Some(4.5),
            ),
            book(
                2,
                "Emma",
                "austen",
                Some("classic"),
                0,
                7,
                7.5,
                Some(400),
                None,
            ),
            book(
                3,
                "Persuasion",
                "austen",
                Some("classic"),
                2,
                3,
                6.0,
                None,
                Some(4.0),
            ),
            book(
                4,
                "Messiah",
                "herbert",
                Some("scifi"),
                1,
                0,
                12.5,
                Some(300),
                Some(3.5),
            ),
            book(5, "Ulysses", "joyce", None, 3, 2, 20.0, None, None),
        ],
    )
    .await;
}

/// Collects what went wrong on both backends, so a test of a known bug
/// reports every backend it affects.
#[derive(Clone, Default)]
struct Failures(Arc<Mutex<Vec<String>>>);

impl Failures {
    fn check(&self, ok: bool, what: String) {
        if !ok {
            self.0.lock().unwrap().push(what);
        }
    }

    fn assert_none(&self) {
        let failures = self.0.lock().unwrap();
        assert!(failures.is_empty(), "{failures:#?}");
    }
}

fn books() -> QuerySet<Book> {
    Book::objects()
}

fn by_id() -> QuerySet<Book> {
    Book::objects().order_by(Book::ID.asc())
}

fn approx(a: Option<f64>, b: f64) -> bool {
    a.is_some_and(|a| (a - b).abs() <= 1e-9 * b.abs().max(1.0))
}

async fn stocks(t: &TestDb) -> Vec<i32> {
    by_id().values(Book::STOCK).all(&t.db).await.unwrap()
}

async fn ids(t: &TestDb, what: &str, q: QuerySet<Book>) -> Vec<i64> {
    let mut v: Vec<i64> = q
        .values(Book::ID)
        .all(&t.db)
        .await
        .unwrap_or_else(|e| panic!("{:?}: {what}: {e}", t.kind));
    v.sort_unstable();
    v
}

#[tokio::test]
async fn values_projections_decode_into_tuples() {
    both("agg_values", |t| async move {
        seed(&t).await;
        let k = t.kind;
        let titles: Vec<String> = by_id().values(Book::TITLE).all(&t.db).await.unwrap();
        assert_eq!(
            titles,
            ["Dune", "Emma", "Persuasion", "Messiah", "Ulysses"],
            "{k:?}"
        );

        let pairs: Vec<(i64, String)> = by_id()
            .filter(Book::AUTHOR.eq("austen"))
            .values((Book::ID, Book::TITLE))
            .all(&t.db)
            .await
            .unwrap();
        assert_eq!(
            pairs,
            [(2, "Emma".to_owned()), (3, "Persuasion".to_owned())],
            "{k:?}"
        );

        type Nullable = (i64, Option<i32>, Option<f64>, Option<String>);
        let nullable: Vec<Nullable> = by_id()
            .values((Book::ID, Book::PAGES, Book::RATING, Book::GENRE))
            .all(&t.db)
            .await
            .unwrap();
        assert_eq!(
            nullable,
            [
                (1, Some(600), Some(4.5), Some("scifi".to_owned())),
                (2, Some(400), None, Some("classic".to_owned())),
                (3, None, Some(4.0), Some("classic".to_owned())),
                (4, Some(300), Some(3.5), Some("scifi".to_owned())),
                (5, None, None, None),
            ],
            "{k:?}"
        );

        // Eight items, the widest projection.
        type Wide = (
            i64,
            String,
            String,
            Option<String>,
            i32,
            i32,
            f64,
            Option<i32>,
        );
        let wide: Vec<Wide> = by_id()
            .filter(Book::ID.eq(5))
            .values((
                Book::ID,
                Book::TITLE,
                Book::AUTHOR,
                Book::GENRE,
                Book::STOCK,
                Book::SOLD,
                Book::PRICE,
                Book::PAGES,
            ))
            .all(&t.db)
            .await
            .unwrap();
        assert_eq!(
            wide,
            [(5, "Ulysses".into(), "joyce".into(), None, 3, 2, 20.0, None)],
            "{k:?}"
        );

        // Expressions: NULL propagates, types follow the column.
        let exprs: Vec<(i64, i32, f64, Option<i32>)> = by_id()
            .values((
                Book::ID,
                Book::STOCK + Book::SOLD,
                Book::PRICE * 2.0,
                Book::PAGES + 1,
            ))
            .all(&t.db)
            .await
            .unwrap();
        assert_eq!(
            exprs,
            [
                (1, 6, 20.0, Some(601)),
                (2, 7, 15.0, Some(401)),
                (3, 5, 12.0, None),
                (4, 1, 25.0, Some(301)),
                (5, 5, 40.0, None),
            ],
            "{k:?}"
        );
        let single: Vec<i32> = by_id().values(Book::STOCK * 10).all(&t.db).await.unwrap();
        assert_eq!(single, [50, 0, 20, 10, 30], "{k:?}");

        // Windows and terminals.
        let window: Vec<String> = books()
            .order_by(Book::PRICE.desc())
            .limit(2)
            .offset(1)
            .values(Book::TITLE)
            .all(&t.db)
            .await
            .unwrap();
        assert_eq!(window, ["Messiah", "Dune"], "{k:?}");
        let first = books()
            .order_by(Book::PRICE.desc())
            .values((Book::TITLE, Book::PRICE))
            .first(&t.db)
            .await
            .unwrap();
        assert_eq!(first, Some(("Ulysses".to_owned(), 20.0)), "{k:?}");
        let second = books()
            .order_by(Book::PRICE.desc())
            .offset(1)
            .values((Book::TITLE, Book::PRICE))
            .first(&t.db)
            .await
            .unwrap();
        assert_eq!(second, Some(("Messiah".to_owned(), 12.5)), "{k:?}");
        let none = books()
            .filter(Book::ID.gt(100))
            .values(Book::TITLE)
            .first(&t.db)
            .await
            .unwrap();
        assert_eq!(none, None, "{k:?}");
        let empty: Vec<String> = books()
            .filter(Condition::any([]))
            .values(Book::TITLE)
            .all(&t.db)
            .await
            .unwrap();
        assert!(empty.is_empty(), "{k:?}");

        let one = books()
            .filter(Book::ID.eq(2))
            .values(Book::TITLE)
            .one(&t.db)
            .await
            .unwrap();
        assert_eq!(one, "Emma", "{k:?}");
        let r = books()
            .filter(Book::ID.eq(99))
            .values(Book::TITLE)
            .one(&t.db)
            .await;
        assert!(matches!(r, Err(Error::NotFound)), "{k:?}: {r:?}");

        // DISTINCT projections, NULL as one value sorting last.
        let authors: Vec<String> = books()
            .distinct()
            .order_by(Book::AUTHOR.asc())
            .values(Book::AUTHOR)
            .all(&t.db)
            .await
            .unwrap();
        assert_eq!(authors, ["austen", "herbert", "joyce"], "{k:?}");
        let genres: Vec<Option<String>> = books()
            .distinct()
            .order_by(Book::GENRE.asc())
            .values(Book::GENRE)
            .all(&t.db)
            .await
            .unwrap();
        assert_eq!(
            genres,
            [Some("classic".into()), Some("scifi".into()), None],
            "{k:?}"
        );
        t
    })
    .await;
}

#[tokio::test]
async fn aggregates_without_group_by() {
    both("agg_plain", |t| async move {
        seed(&t).await;
        let k = t.kind;
        let (count, sum, avg, min, max): (i64, Option<i64>, Option<f64>, Option<i32>, Option<i32>) =
            books()
                .values((
                    Book::ID.count(),
                    Book::STOCK.sum(),
                    Book::STOCK.avg(),
                    Book::STOCK.min(),
                    Book::STOCK.max(),
                ))
                .one(&t.db)
                .await
                .unwrap_or_else(|e| panic!("{k:?}: {e}"));
        assert_eq!(
            (count, sum, min, max),
            (5, Some(11), Some(0), Some(5)),
            "{k:?}"
        );
        assert!(approx(avg, 2.2), "{k:?}: {avg:?}");

        // avg of integers is not integer division.
        let avg: Option<f64> = books()
            .filter(Book::ID.in_([1, 2]))
            .values(Book::STOCK.avg())
            .one(&t.db)
            .await
            .unwrap();
        assert_eq!(avg, Some(2.5), "{k:?}");

        let (sum, avg, min, max): (Option<f64>, Option<f64>, Option<f64>, Option<f64>) = books()
            .values((
                Book::PRICE.sum(),
                Book::PRICE.avg(),
                Book::PRICE.min(),
                Book::PRICE.max(),
            ))
            .one(&t.db)
            .await
            .unwrap();
        assert_eq!(
            (sum, min, max),
            (Some(56.0), Some(6.0), Some(20.0)),
            "{k:?}"
        );
        assert!(approx(avg, 11.2), "{k:?}: {avg:?}");

        // Nullable columns: NULLs are skipped by every aggregate.
        let (count, sum, avg, min, max): (i64, Option<i64>, Option<f64>, Option<i32>, Option<i32>) =
            books()
                .values((
                    Book::PAGES.count(),
                    Book::PAGES.sum(),
                    Book::PAGES.avg(),
                    Book::PAGES.min(),
                    Book::PAGES.max(),
                ))
                .one(&t.db)
                .await
                .unwrap();
        assert_eq!(
            (count, sum, min, max),
            (3, Some(1300), Some(300), Some(600)),
            "{k:?}"
        );
        assert!(approx(avg, 1300.0 / 3.0), "{k:?}: {avg:?}");
        let (count, sum, avg, min, max): (i64, Option<f64>, Option<f64>, Option<f64>, Option<f64>) =
            books()
                .values((
                    Book::RATING.count(),
                    Book::RATING.sum(),
                    Book::RATING.avg(),
                    Book::RATING.min(),
                    Book::RATING.max(),
                ))
                .one(&t.db)
                .await
                .unwrap();
        assert_eq!(
            (count, sum, min, max),
            (3, Some(12.0), Some(3.5), Some(4.5)),
            "{k:?}"
        );
        assert!(approx(avg, 4.0), "{k:?}: {avg:?}");

        // Text min/max, and COUNT of a nullable column.
        type Texts = (
            Option<String>,
            Option<String>,
            Option<String>,
            Option<String>,
            Option<String>,
            Option<String>,
            i64,
        );
        let texts: Texts = books()
            .values((
                Book::TITLE.min(),
                Book::TITLE.max(),
                Book::AUTHOR.min(),
                Book::AUTHOR.max(),
                Book::GENRE.min(),
                Book::GENRE.max(),
                Book::GENRE.count(),
            ))
            .one(&t.db)
            .await
            .unwrap();
        assert_eq!(
            texts,
            (
                Some("Dune".into()),
                Some("Ulysses".into()),
                Some("austen".into()),
                Some("joyce".into()),
                Some("classic".into()),
                Some("scifi".into()),
                4
            ),
            "{k:?}"
        );

        // With a filter, including one on an F expression.
        let (sum, avg): (Option<i64>, Option<f64>) = books()
            .filter(Book::AUTHOR.eq("herbert"))
            .values((Book::STOCK.sum(), Book::PRICE.avg()))
            .one(&t.db)
            .await
            .unwrap();
        assert_eq!((sum, avg), (Some(6), Some(11.25)), "{k:?}");
        let sum: Option<f64> = books()
            .filter(Book::STOCK.gt(Book::SOLD))
            .values(Book::PRICE.sum())
            .one(&t.db)
            .await
            .unwrap();
        assert_eq!(sum, Some(42.5), "{k:?}");

        // An aggregate without GROUP BY is one row for all / first too.
        let all: Vec<i64> = books().values(Book::ID.count()).all(&t.db).await.unwrap();
        assert_eq!(all, [5], "{k:?}");
        let first: Option<i64> = books().values(Book::ID.count()).first(&t.db).await.unwrap();
        assert_eq!(first, Some(5), "{k:?}");
        t
    })
    .await;
}

#[tokio::test]
async fn aggregates_over_zero_rows() {
    both("agg_zero", |t| async move {
        seed(&t).await;
        let k = t.kind;
        type Row8 = (
            i64,
            Option<i64>,
            Option<f64>,
            Option<i32>,
            Option<i32>,
            Option<f64>,
            Option<String>,
            i64,
        );
        let agg = |q: QuerySet<Book>| {
            q.values((
                Book::ID.count(),
                Book::STOCK.sum(),
                Book::STOCK.avg(),
                Book::STOCK.min(),
                Book::STOCK.max(),
                Book::PRICE.sum(),
                Book::TITLE.min(),
                Book::PAGES.count(),
            ))
        };
        let nothing: Row8 = (0, None, None, None, None, None, None, 0);
        let got: Row8 = agg(books().filter(Book::ID.lt(0)))
            .one(&t.db)
            .await
            .unwrap();
        assert_eq!(got, nothing, "{k:?}: filtered to nothing");
        let got: Row8 = agg(books().filter(Condition::any([])))
            .one(&t.db)
            .await
            .unwrap();
        assert_eq!(got, nothing, "{k:?}: false filter");

        // Over a column whose every value is NULL.
        let got: (i64, Option<i64>, Option<f64>, Option<i32>, i64) = books()
            .filter(Book::PAGES.is_null())
            .values((
                Book::PAGES.count(),
                Book::PAGES.sum(),
                Book::PAGES.avg(),
                Book::PAGES.max(),
                Book::ID.count(),
            ))
            .one(&t.db)
            .await
            .unwrap();
        assert_eq!(got, (0, None, None, None, 2), "{k:?}: all NULL");

        // Grouped over zero rows: no groups at all.
        let grouped = books()
            .filter(Book::ID.lt(0))
            .group_by(Book::AUTHOR)
            .values((Book::AUTHOR, Book::ID.count()));
        assert!(grouped.all(&t.db).await.unwrap().is_empty(), "{k:?}");
        assert_eq!(grouped.first(&t.db).await.unwrap(), None, "{k:?}");
        let r = grouped.one(&t.db).await;
        assert!(matches!(r, Err(Error::NotFound)), "{k:?}: {r:?}");

        // An empty table.
        assert_eq!(books().delete(&t.db).await.unwrap(), 5, "{k:?}");
        let got: Row8 = agg(books()).one(&t.db).await.unwrap();
        assert_eq!(got, nothing, "{k:?}: empty table");
        let rows: Vec<Row8> = agg(books()).all(&t.db).await.unwrap();
        assert_eq!(rows, [nothing], "{k:?}: empty table, all");
        t
    })
    .await;
}

#[tokio::test]
async fn integer_sums_widen_and_overflow_is_an_error() {
    both("agg_wide", |t| async move {
        create_books(&t).await;
        let k = t.kind;
        insert_all(
            &t,
            vec![
                book(
                    i64::MAX,
                    "a",
                    "x",
                    None,
                    i32::MAX,
                    i32::MIN,
                    1.0,
                    Some(i32::MAX),
                    None,
                ),
                book(
                    i64::MAX - 1,
                    "b",
                    "x",
                    None,
                    i32::MAX,
                    i32::MIN,
                    1.0,
                    Some(i32::MAX),
                    None,
                ),
            ],
        )
        .await;
        type Wide = (
            Option<i64>,
            Option<i64>,
            Option<i64>,
            Option<f64>,
            Option<i32>,
            Option<i32>,
        );
        let (stock, sold, pages, avg, max, min): Wide = books()
            .values((
                Book::STOCK.sum(),
                Book::SOLD.sum(),
                Book::PAGES.sum(),
                Book::STOCK.avg(),
                Book::STOCK.max(),
                Book::SOLD.min(),
            ))
            .one(&t.db)
            .await
            .unwrap_or_else(|e| panic!("{k:?}: {e}"));
        assert_eq!(stock, Some(2 * i64::from(i32::MAX)), "{k:?}");
        assert_eq!(sold, Some(2 * i64::from(i32::MIN)), "{k:?}");
        assert_eq!(pages, Some(2 * i64::from(i32::MAX)), "{k:?}");
        assert_eq!(avg, Some(f64::from(i32::MAX)), "{k:?}");
        assert_eq!((max, min), (Some(i32::MAX), Some(i32::MIN)), "{k:?}");
        // Sums past i64 fail on both backends instead of wrapping.
        let r = books().values(Book::ID.sum()).one(&t.db).await;
        assert!(r.is_err(), "{k:?}: i64 sum overflow gave {r:?}");
        // So does i32 arithmetic past i32 (an error, never a wrapped value).
        let r = books().values(Book::STOCK + Book::STOCK).all(&t.db).await;
        assert!(r.is_err(), "{k:?}: i32 overflow gave {r:?}");
        // i64 min/max at the extremes.
        let (lo, hi): (Option<i64>, Option<i64>) = books()
            .values((Book::ID.min(), Book::ID.max()))
            .one(&t.db)
            .await
            .unwrap();
        assert_eq!((lo, hi), (Some(i64::MAX - 1), Some(i64::MAX)), "{k:?}");
        t
    })
    .await;
}

#[tokio::test]
async fn group_by_aggregates() {
    both("agg_group", |t| async move {
        seed(&t).await;
        let k = t.kind;
        type PerAuthor = (
            String,
            i64,
            Option<i64>,
            Option<f64>,
            Option<i32>,
            Option<f64>,
        );
        let rows: Vec<PerAuthor> = books()
            .order_by(Book::AUTHOR.asc())
            .group_by(Book::AUTHOR)
            .values((
                Book::AUTHOR,
                Book::ID.count(),
                Book::STOCK.sum(),
                Book::PRICE.avg(),
                Book::PAGES.max(),
                Book::RATING.avg(),
            ))
            .all(&t.db)
            .await
            .unwrap_or_else(|e| panic!("{k:?}: {e}"));
        assert_eq!(
            rows,
            [
                (
                    "austen".into(),
                    2,
                    Some(2),
                    Some(6.75),
                    Some(400),
                    Some(4.0)
                ),
                (
                    "herbert".into(),
                    2,
                    Some(6),
                    Some(11.25),
                    Some(600),
                    Some(4.0)
                ),
                ("joyce".into(), 1, Some(3), Some(20.0), None, None),
            ],
            "{k:?}"
        );

        // A nullable group column: NULL is one group, last ascending and
        // first descending.
        let asc: Vec<(Option<String>, i64)> = books()
            .order_by(Book::GENRE.asc())
            .group_by(Book::GENRE)
            .values((Book::GENRE, Book::ID.count()))
            .all(&t.db)
            .await
            .unwrap();
        assert_eq!(
            asc,
            [
                (Some("classic".into()), 2),
                (Some("scifi".into()), 2),
                (None, 1)
            ],
            "{k:?}"
        );
        let desc: Vec<(Option<String>, i64)> = books()
            .order_by(Book::GENRE.desc())
            .group_by(Book::GENRE)
            .values((Book::GENRE, Book::ID.count()))
            .all(&t.db)
            .await
            .unwrap();
        assert_eq!(
            desc,
            [
                (None, 1),
                (Some("scifi".into()), 2),
                (Some("classic".into()), 2)
            ],
            "{k:?}"
        );
        let pages: Vec<(Option<i32>, i64)> = books()
            .order_by(Book::PAGES.asc())
            .group_by(Book::PAGES)
            .values((Book::PAGES, Book::ID.count()))
            .all(&t.db)
            .await
            .unwrap();
        assert_eq!(
            pages,
            [(Some(300), 1), (Some(400), 1), (Some(600), 1), (None, 2)],
            "{k:?}"
        );

        // Two group columns.
        let two: Vec<(String, Option<String>, i64)> = books()
            .order_by((Book::AUTHOR.asc(), Book::GENRE.asc()))
            .group_by((Book::AUTHOR, Book::GENRE))
            .values((Book::AUTHOR, Book::GENRE, Book::ID.count()))
            .all(&t.db)
            .await
            .unwrap();
        assert_eq!(
            two,
            [
                ("austen".into(), Some("classic".into()), 2),
                ("herbert".into(), Some("scifi".into()), 2),
                ("joyce".into(), None, 1),
            ],
            "{k:?}"
        );

        // WHERE applies before grouping.
        let filtered: Vec<(String, i64)> = books()
            .filter(Book::STOCK.gt(0))
            .order_by(Book::AUTHOR.asc())
            .group_by(Book::AUTHOR)
            .values((Book::AUTHOR, Book::ID.count()))
            .all(&t.db)
            .await
            .unwrap();
        assert_eq!(
            filtered,
            [
                ("austen".into(), 1),
                ("herbert".into(), 2),
                ("joyce".into(), 1)
            ],
            "{k:?}"
        );
        // Windows over groups.
        let window: Vec<(String, i64)> = books()
            .order_by(Book::AUTHOR.asc())
            .limit(1)
            .offset(1)
            .group_by(Book::AUTHOR)
            .values((Book::AUTHOR, Book::ID.count()))
            .all(&t.db)
            .await
            .unwrap();
        assert_eq!(window, [("herbert".into(), 2)], "{k:?}");
        // Aggregates only, grouped by a column not selected.
        let counts: Vec<i64> = books()
            .order_by(Book::AUTHOR.asc())
            .group_by(Book::AUTHOR)
            .values(Book::ID.count())
            .all(&t.db)
            .await
            .unwrap();
        assert_eq!(counts, [2, 2, 1], "{k:?}");

        // Terminals.
        let grouped = || {
            books()
                .order_by(Book::AUTHOR.asc())
                .group_by(Book::AUTHOR)
                .values((Book::AUTHOR, Book::ID.count()))
        };
        assert_eq!(
            grouped().first(&t.db).await.unwrap(),
            Some(("austen".into(), 2)),
            "{k:?}"
        );
        let joyce = books()
            .filter(Book::AUTHOR.eq("joyce"))
            .group_by(Book::AUTHOR)
            .values((Book::AUTHOR, Book::ID.count()))
            .one(&t.db)
            .await
            .unwrap();
        assert_eq!(joyce, ("joyce".into(), 1), "{k:?}");
        t
    })
    .await;
}

#[tokio::test]
async fn f_expressions_in_filters() {
    both("agg_f_filter", |t| async move {
        seed(&t).await;
        let k = t.kind;
        let cases: Vec<(&str, QuerySet<Book>, Vec<i64>)> = vec![
            (
                "stock > sold",
                books().filter(Book::STOCK.gt(Book::SOLD)),
                vec![1, 4, 5],
            ),
            (
                "stock < sold",
                books().filter(Book::STOCK.lt(Book::SOLD)),
                vec![2, 3],
            ),
            (
                "stock = sold",
                books().filter(Book::STOCK.eq(Book::SOLD)),
                vec![],
            ),
            (
                "stock + sold = 5",
                books().filter((Book::STOCK + Book::SOLD).eq(5)),
                vec![3, 5],
            ),
            (
                "stock*2 >= sold+3",
                books().filter((Book::STOCK * 2).ge(Book::SOLD + 3)),
                vec![1, 5],
            ),
            (
                "price > rating*2",
                books().filter(Book::PRICE.gt(Book::RATING * 2.0)),
                vec![1, 4],
            ),
            (
                "exclude price > rating*2",
                books().exclude(Book::PRICE.gt(Book::RATING * 2.0)),
                vec![3],
            ),
            (
                "price/2 between",
                books().filter((Book::PRICE / 2.0).between(5.0, 6.5)),
                vec![1, 4],
            ),
            (
                "stock - sold < 0",
                books().filter((Book::STOCK - Book::SOLD).lt(0)),
                vec![2, 3],
            ),
            (
                "sold / 2 = 1 (integer)",
                books().filter((Book::SOLD / 2).eq(1)),
                vec![3, 5],
            ),
            (
                "nested",
                books().filter(((Book::STOCK + 1) * 2).eq(12)),
                vec![1],
            ),
            (
                "nullable expr",
                books().filter((Book::PAGES - 100).gt(250)),
                vec![1, 2],
            ),
            (
                "expr vs expr",
                books().filter((Book::STOCK + Book::SOLD).gt(Book::SOLD * 2)),
                vec![1, 4, 5],
            ),
            (
                "expr vs nullable column",
                books().filter((Book::PRICE * 0.5).lt(Book::RATING)),
                vec![3],
            ),
            (
                "minus negative",
                books().filter((Book::STOCK - -1).eq(6)),
                vec![1],
            ),
            (
                "expr in",
                books().filter((Book::STOCK + Book::SOLD).in_([1, 7])),
                vec![2, 4],
            ),
            (
                "combined",
                books().filter(Book::STOCK.gt(Book::SOLD) & (Book::PRICE * 2.0).gt(30.0)),
                vec![5],
            ),
        ];
        for (what, q, expected) in cases {
            assert_eq!(ids(&t, what, q).await, expected, "{k:?}: {what}");
        }
        t
    })
    .await;
}

#[tokio::test]
async fn update_with_f_expressions_counts_rows() {
    both("agg_update", |t| async move {
        seed(&t).await;
        let k = t.kind;
        // Sell one of everything in stock until nothing is left.
        let mut counts = Vec::new();
        loop {
            let n = books()
                .filter(Book::STOCK.gt(0))
                .update([Book::STOCK.set(Book::STOCK - 1)], &t.db)
                .await
                .unwrap_or_else(|e| panic!("{k:?}: {e}"));
            counts.push(n);
            if n == 0 {
                break;
            }
            if counts.len() == 1 {
                assert_eq!(stocks(&t).await, [4, 0, 1, 0, 2], "{k:?}");
            }
        }
        assert_eq!(counts, [4, 3, 2, 1, 1, 0], "{k:?}");
        assert_eq!(stocks(&t).await, [0, 0, 0, 0, 0], "{k:?}");
        t
    })
    .await;
}

#[tokio::test]
async fn update_assignments() {
    both("agg_assign", |t| async move {
        seed(&t).await;
        let k = t.kind;
        // Every right-hand side sees the row as it was: a swap works.
        let n = books()
            .update(
                [Book::STOCK.set(Book::SOLD), Book::SOLD.set(Book::STOCK)],
                &t.db,
            )
            .await
            .unwrap();
        assert_eq!(n, 5, "{k:?}");
        let pairs: Vec<(i32, i32)> = by_id()
            .values((Book::STOCK, Book::SOLD))
            .all(&t.db)
            .await
            .unwrap();
        assert_eq!(pairs, [(1, 5), (7, 0), (3, 2), (0, 1), (2, 3)], "{k:?}");

        // Several assignments, values and expressions mixed.
        let n = books()
            .filter(Book::AUTHOR.eq("austen"))
            .update(
                [Book::PRICE.set(Book::PRICE * 2.0), Book::TITLE.set("x")],
                &t.db,
            )
            .await
            .unwrap();
        assert_eq!(n, 2, "{k:?}");
        let austen: Vec<(String, f64)> = by_id()
            .filter(Book::AUTHOR.eq("austen"))
            .values((Book::TITLE, Book::PRICE))
            .all(&t.db)
            .await
            .unwrap();
        assert_eq!(austen, [("x".into(), 15.0), ("x".into(), 12.0)], "{k:?}");
        let n = books()
            .filter(Book::ID.eq(5))
            .update([Book::TITLE.set(String::from("Ulysses 2"))], &t.db)
            .await
            .unwrap();
        assert_eq!(n, 1, "{k:?}");

        // Nullable columns: NULL stays NULL through arithmetic, and the
        // update still counts the row.
        let n = books()
            .update([Book::PAGES.set(Book::PAGES + 1)], &t.db)
            .await
            .unwrap();
        assert_eq!(n, 5, "{k:?}");
        let pages: Vec<Option<i32>> = by_id().values(Book::PAGES).all(&t.db).await.unwrap();
        assert_eq!(
            pages,
            [Some(601), Some(401), None, Some(301), None],
            "{k:?}"
        );
        let n = books()
            .filter(Book::PAGES.is_null())
            .update(
                [Book::PAGES.set(100), Book::RATING.set(Book::RATING * 2.0)],
                &t.db,
            )
            .await
            .unwrap();
        assert_eq!(n, 2, "{k:?}");
        let got: Vec<(Option<i32>, Option<f64>)> = by_id()
            .values((Book::PAGES, Book::RATING))
            .all(&t.db)
            .await
            .unwrap();
        assert_eq!(
            got,
            [
                (Some(601), Some(4.5)),
                (Some(401), None),
                (Some(100), Some(8.0)),
                (Some(301), Some(3.5)),
                (Some(100), None)
            ],
            "{k:?}"
        );
        // A non-null column set from a nullable one (all values present).
        let n = books()
            .filter(Book::PAGES.is_not_null())
            .update([Book::STOCK.set(Book::PAGES)], &t.db)
            .await
            .unwrap();
        assert_eq!(n, 5, "{k:?}");
        assert_eq!(stocks(&t).await, [601, 401, 100, 301, 100], "{k:?}");

        // Matched rows count even when nothing changes.
        let n = books()
            .filter(Book::ID.eq(1))
            .update([Book::STOCK.set(Book::STOCK)], &t.db)
            .await
            .unwrap();
        assert_eq!(n, 1, "{k:?}");
        // No match.
        let n = books()
            .filter(Book::ID.gt(100))
            .update([Book::STOCK.set(0)], &t.db)
            .await
            .unwrap();
        assert_eq!(n, 0, "{k:?}");
        let n = books()
            .filter(Condition::any([]))
            .update([Book::STOCK.set(0)], &t.db)
            .await
            .unwrap();
        assert_eq!(n, 0, "{k:?}");
        // No assignments: nothing to do.
        let n = books()
            .update(std::iter::empty::<Assignment<Book>>(), &t.db)
            .await
            .unwrap();
        assert_eq!(n, 0, "{k:?}");
        assert_eq!(stocks(&t).await, [601, 401, 100, 301, 100], "{k:?}");
        // An F-expression filter comparing two columns.
        let n = books()
            .filter((Book::STOCK - Book::PAGES).eq(0) & Book::ID.ne(1))
            .update([Book::STOCK.set(Book::STOCK * 0)], &t.db)
            .await
            .unwrap();
        assert_eq!(n, 4, "{k:?}");
        assert_eq!(stocks(&t).await, [601, 0, 0, 0, 0], "{k:?}");
        t
    })
    .await;
}

#[tokio::test]
async fn update_and_delete_refuse_slicing() {
    both("agg_slicing", |t| async move {
        seed(&t).await;
        let k = t.kind;
        let sliced = [
            ("limit", books().limit(1)),
            ("offset", books().offset(1)),
            ("distinct", books().distinct()),
        ];
        for (what, q) in sliced {
            let r = q.update([Book::STOCK.set(99)], &t.db).await;
            assert!(
                matches!(r, Err(Error::Unsupported { .. })),
                "{k:?}: update {what}: {r:?}"
            );
            let r = q.delete(&t.db).await;
            assert!(
                matches!(r, Err(Error::Unsupported { .. })),
                "{k:?}: delete {what}: {r:?}"
            );
        }
        assert_eq!(
            books()
                .filter(Book::STOCK.eq(99))
                .count(&t.db)
                .await
                .unwrap(),
            0,
            "{k:?}"
        );
        assert_eq!(books().count(&t.db).await.unwrap(), 5, "{k:?}");
        t
    })
    .await;
}

#[tokio::test]
async fn delete_counts() {
    both("agg_delete", |t| async move {
        seed(&t).await;
        let k = t.kind;
        let austen = || books().filter(Book::AUTHOR.eq("austen"));
        assert_eq!(austen().delete(&t.db).await.unwrap(), 2, "{k:?}");
        assert_eq!(austen().delete(&t.db).await.unwrap(), 0, "{k:?}");
        assert_eq!(
            books()
                .filter(Condition::any([]))
                .delete(&t.db)
                .await
                .unwrap(),
            0,
            "{k:?}"
        );
        // `exclude` leaves rows whose condition is NULL alone: 1 (600 pages),
        // 4 (300) and 5 (NULL) remain; only 4 goes.
        assert_eq!(
            books()
                .exclude(Book::PAGES.gt(350))
                .delete(&t.db)
                .await
                .unwrap(),
            1,
            "{k:?}"
        );
        assert_eq!(ids(&t, "left", books()).await, [1, 5], "{k:?}");
        // An F-expression filter.
        assert_eq!(
            books()
                .filter(Book::STOCK.gt(Book::SOLD + 3))
                .delete(&t.db)
                .await
                .unwrap(),
            1,
            "{k:?}"
        );
        assert_eq!(books().delete(&t.db).await.unwrap(), 1, "{k:?}");
        assert_eq!(books().count(&t.db).await.unwrap(), 0, "{k:?}");
        assert_eq!(books().delete(&t.db).await.unwrap(), 0, "{k:?}");
        t
    })
    .await;
}

#[tokio::test]
async fn values_one_reports_too_many_rows() {
    let failures = Failures::default();
    both("agg_one_many", |t| {
        let failures = failures.clone();
        async move {
            seed(&t).await;
            let k = t.kind;
            let r = books()
                .filter(Book::AUTHOR.eq("austen"))
                .values(Book::TITLE)
                .one(&t.db)
                .await;
            failures.check(
                matches!(r, Err(Error::TooManyRows)),
                format!("{k:?}: values().one() on two rows: {r:?}"),
            );
            let r = books()
                .order_by(Book::AUTHOR.asc())
                .group_by(Book::AUTHOR)
                .values((Book::AUTHOR, Book::ID.count()))
                .one(&t.db)
                .await;
            failures.check(
                matches!(r, Err(Error::TooManyRows)),
                format!("{k:?}: grouped one() on three groups: {r:?}"),
            );
            t
        }
    })
    .await;
    failures.assert_none();
}
