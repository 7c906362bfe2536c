//! Querysets as subqueries: `in_subquery`, `EXISTS`, and related-row
//! existence through a foreign key (`Relation::any`), on both backends.

use crate::support::{both, TestDb};
use sylvan::prelude::*;
use sylvan::{Condition, Schema};

#[derive(Debug, Clone, PartialEq, Model)]
#[model(table = "sub_authors")]
struct Author {
    #[model(primary_key, auto)]
    id: i64,
    name: String,
    country: Option<String>,
    #[model(foreign_key = Author, on_delete = "set_null")]
    mentor_id: Option<i64>,
}

#[derive(Debug, Clone, PartialEq, Model)]
#[model(table = "sub_books")]
struct Book {
    #[model(primary_key, auto)]
    id: i64,
    #[model(foreign_key = Author)]
    author_id: i64,
    title: String,
    pages: i32,
}

/// Authors: Ann (NO), Bob (SE, mentored by Ann), Cid (no country,
/// mentored by Bob). Books: Ann "A1" 100, "A2" 600; Bob "B1" 300.
async fn seed(t: &TestDb) {
    let db = &t.db;
    Schema::new()
        .model::<Author>()
        .model::<Book>()
        .create_all(db)
        .await
        .unwrap();
    let mut ids = Vec::new();
    for (name, country, mentor) in [
        ("Ann", Some("NO"), None),
        ("Bob", Some("SE"), Some(0)),
        ("Cid", None, Some(1)),
    ] {
        let a = Author {
            id: 0,
            name: name.into(),
            country: country.map(Into::into),
            mentor_id: mentor.map(|i: usize| ids[i]),
        }
        .insert(db)
        .await
        .unwrap();
        ids.push(a.id);
    }
    for (who, title, pages) in [(0, "A1", 100), (0, "A2", 600), (1, "B1", 300)] {
        Book {
            id: 0,
            author_id: ids[who],
            title: title.into(),
            pages,
        }
        .insert(db)
        .await
        .unwrap();
    }
}

async fn titles(t: &TestDb, filter: Condition<Book>) -> Vec<String> {
    Book::objects()
        .filter(filter)
        .order_by(Book::TITLE.asc())
        .values(Book::TITLE)
        .all(&t.db)
        .await
        .unwrap_or_else(|e| panic!("{:?}: {e}", t.kind))
}

async fn authors(t: &TestDb, filter: Condition<Author>) -> Vec<String> {
    Author::objects()
        .filter(filter)
        .order_by(Author::NAME.asc())
        .values(Author::NAME)
        .all(&t.db)
        .await
        .unwrap_or_else(|e| panic!("{:?}: {e}", t.kind))
}

#[tokio::test]
async fn in_subquery_matches_the_selected_values() {
    both("sub_in", |t| async move {
        seed(&t).await;
        let k = t.kind;
        // Binds before, inside and after the subquery keep their numbers.
        let nordic = Author::objects()
            .filter(Author::COUNTRY.in_(["NO", "SE"]) & Author::NAME.ne("Bob"))
            .values(Author::ID);
        let got = titles(
            &t,
            Book::PAGES.gt(50) & Book::AUTHOR_ID.in_subquery(nordic) & Book::TITLE.ne("zz"),
        )
        .await;
        assert_eq!(got, ["A1", "A2"], "{k:?}");
        // Negated; a nullable column selected against a non-null one.
        let mentors = Author::objects().values(Author::MENTOR_ID);
        let got = authors(&t, !Author::ID.in_subquery(mentors)).await;
        // NOT IN over a list holding NULL is never true (SQL's rule).
        assert_eq!(got, Vec::<String>::new(), "{k:?}");
        let mentors = Author::objects()
            .filter(Author::MENTOR_ID.is_not_null())
            .values(Author::MENTOR_ID);
        assert_eq!(
            authors(&t, !Author::ID.in_subquery(mentors)).await,
            ["Cid"],
            "{k:?}"
        );
        // An expression on the left, a limited and ordered subquery.
        let longest = Book::objects()
            .order_by(Book::PAGES.desc())
            .limit(1)
            .values(Book::PAGES);
        assert_eq!(
            titles(&t, (Book::PAGES * 2).in_subquery(longest)).await,
            ["B1"],
            "{k:?}"
        );
        t
    })
    .await;
}

#[tokio::test]
async fn exists_and_not_exists() {
    both("sub_exists", |t| async move {
        seed(&t).await;
        let k = t.kind;
        let long = Book::objects().filter(Book::PAGES.gt(500));
        let huge = Book::objects().filter(Book::PAGES.gt(5000));
        assert_eq!(
            authors(&t, Condition::exists(long.clone())).await.len(),
            3,
            "{k:?}"
        );
        assert_eq!(
            authors(&t, Condition::exists(huge.clone())).await.len(),
            0,
            "{k:?}"
        );
        assert_eq!(
            authors(&t, !Condition::exists(huge)).await.len(),
            3,
            "{k:?}"
        );
        assert_eq!(
            authors(&t, !Condition::exists(long) | Author::NAME.eq("Bob")).await,
            ["Bob"],
            "{k:?}"
        );
        t
    })
    .await;
}

#[tokio::test]
async fn related_rows_exist_through_a_foreign_key() {
    both("sub_any", |t| async move {
        seed(&t).await;
        let k = t.kind;
        let all = || Condition::all([]);
        assert_eq!(
            authors(&t, Book::AUTHOR.any(all())).await,
            ["Ann", "Bob"],
            "{k:?}"
        );
        assert_eq!(
            authors(&t, !Book::AUTHOR.any(all())).await,
            ["Cid"],
            "{k:?}"
        );
        assert_eq!(
            authors(
                &t,
                Book::AUTHOR.any(Book::PAGES.ge(300) & Book::TITLE.startswith("B"))
            )
            .await,
            ["Bob"],
            "{k:?}"
        );
        // A model's relation to itself: authors who mentor someone from
        // a country, and authors mentoring nobody.
        assert_eq!(
            authors(&t, Author::MENTOR.any(Author::COUNTRY.is_not_null())).await,
            ["Ann"],
            "{k:?}"
        );
        assert_eq!(
            authors(&t, !Author::MENTOR.any(Condition::all([]))).await,
            ["Cid"],
            "{k:?}"
        );
        t
    })
    .await;
}
