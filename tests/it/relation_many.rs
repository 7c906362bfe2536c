//! Many-to-many through a join model: add, remove, clear, the accessor,
//! filters and prefetch, on both backends.

use crate::support::both;
use sylvan::prelude::*;
use sylvan::testing::count_queries;
use sylvan::{ManyToMany, Schema};

#[derive(Debug, Clone, PartialEq, Model)]
#[model(table = "m2m_books")]
struct Book {
    #[model(primary_key, auto)]
    id: i64,
    title: String,
}

#[derive(Debug, Clone, PartialEq, Model)]
#[model(table = "m2m_tags")]
struct Tag {
    #[model(primary_key, auto)]
    id: i64,
    name: String,
}

/// The join model, with a column of its own that has a default.
#[derive(Debug, Clone, PartialEq, Model)]
#[model(table = "m2m_book_tags")]
struct BookTag {
    #[model(primary_key, auto)]
    id: i64,
    #[model(foreign_key = Book, on_delete = "cascade")]
    book_id: i64,
    #[model(foreign_key = Tag, on_delete = "cascade")]
    tag_id: i64,
    #[model(default = "1")]
    weight: i32,
}

impl Book {
    const TAGS: ManyToMany<Book, BookTag, Tag, i64, i64> =
        ManyToMany::new(BookTag::BOOK, BookTag::TAG);
}

impl Tag {
    const BOOKS: ManyToMany<Tag, BookTag, Book, i64, i64> = Book::TAGS.reverse();
}

fn schema() -> Schema {
    Schema::new()
        .model::<Book>()
        .model::<Tag>()
        .model::<BookTag>()
}

async fn books_and_tags(db: &Database, books: &[&str], tags: &[&str]) -> (Vec<Book>, Vec<Tag>) {
    schema().create_all(db).await.unwrap();
    let books = Book::insert_many(
        books
            .iter()
            .map(|t| Book {
                id: 0,
                title: (*t).into(),
            })
            .collect(),
        db,
    )
    .await
    .unwrap();
    let tags = Tag::insert_many(
        tags.iter()
            .map(|n| Tag {
                id: 0,
                name: (*n).into(),
            })
            .collect(),
        db,
    )
    .await
    .unwrap();
    (books, tags)
}

#[tokio::test]
async fn add_remove_and_clear_links() {
    both("m2m_links", |t| async move {
        let db = &t.db;
        let (b, g) = books_and_tags(db, &["Dune", "Emma"], &["scifi", "classic"]).await;
        assert!(Book::TAGS.add(&b[0], &g[0], db).await.unwrap());
        // Adding twice links once.
        assert!(!Book::TAGS.add(&b[0], &g[0], db).await.unwrap());
        assert!(Book::TAGS.add(&b[0], &g[1], db).await.unwrap());
        assert!(Tag::BOOKS.add(&g[1], &b[1], db).await.unwrap());
        let links = BookTag::objects()
            .order_by(BookTag::ID.asc())
            .all(db)
            .await
            .unwrap();
        let pairs: Vec<(i64, i64, i32)> = links
            .iter()
            .map(|l| (l.book_id, l.tag_id, l.weight))
            .collect();
        assert_eq!(
            pairs,
            vec![
                (b[0].id, g[0].id, 1),
                (b[0].id, g[1].id, 1),
                (b[1].id, g[1].id, 1)
            ]
        );
        // A row that is not in the database links nothing.
        let ghost = Tag {
            id: 9_999,
            name: "ghost".into(),
        };
        assert!(!Book::TAGS.add(&b[0], &ghost, db).await.unwrap());

        assert_eq!(
            Book::TAGS
                .of(&b[0])
                .order_by(Tag::ID.asc())
                .all(db)
                .await
                .unwrap(),
            g
        );
        assert_eq!(
            Tag::BOOKS
                .of(&g[1])
                .order_by(Book::ID.asc())
                .all(db)
                .await
                .unwrap(),
            b
        );
        assert_eq!(Book::TAGS.remove(&b[0], &g[0], db).await.unwrap(), 1);
        assert_eq!(Book::TAGS.remove(&b[0], &g[0], db).await.unwrap(), 0);
        assert_eq!(
            Book::TAGS.of(&b[0]).all(db).await.unwrap(),
            vec![g[1].clone()]
        );
        assert_eq!(Tag::BOOKS.clear(&g[1], db).await.unwrap(), 2);
        assert_eq!(BookTag::objects().count(db).await.unwrap(), 0);
        t
    })
    .await;
}

#[tokio::test]
async fn filter_through_a_many_to_many() {
    both("m2m_filter", |t| async move {
        let db = &t.db;
        let (b, g) = books_and_tags(db, &["Dune", "Emma", "Heidi"], &["scifi", "classic"]).await;
        Book::TAGS.add(&b[0], &g[0], db).await.unwrap();
        Book::TAGS.add(&b[0], &g[1], db).await.unwrap();
        Book::TAGS.add(&b[1], &g[1], db).await.unwrap();
        let classics = Book::objects()
            .filter(Book::TAGS.has(Tag::NAME.eq("classic")))
            .order_by(Book::ID.asc())
            .all(db)
            .await
            .unwrap();
        assert_eq!(classics, vec![b[0].clone(), b[1].clone()]);
        // Two matching tags: the book is listed once.
        let tagged = Book::objects()
            .filter(Book::TAGS.has(Tag::NAME.ne("")))
            .count(db)
            .await
            .unwrap();
        assert_eq!(tagged, 2);
        let untagged = Book::objects()
            .exclude(Book::TAGS.has(Tag::NAME.ne("")))
            .all(db)
            .await
            .unwrap();
        assert_eq!(untagged, vec![b[2].clone()]);
        let scifi_books = Tag::objects()
            .filter(Tag::BOOKS.has(Book::TITLE.eq("Emma")))
            .all(db)
            .await
            .unwrap();
        assert_eq!(scifi_books, vec![g[1].clone()]);
        t
    })
    .await;
}

#[tokio::test]
async fn many_to_many_prefetch_is_one_query() {
    both("m2m_prefetch", |t| async move {
        let db = &t.db;
        let titles: Vec<String> = (0..50).map(|i| format!("b{i}")).collect();
        let names: Vec<String> = (0..5).map(|i| format!("t{i}")).collect();
        let (b, g) = books_and_tags(
            db,
            &titles.iter().map(String::as_str).collect::<Vec<_>>(),
            &names.iter().map(String::as_str).collect::<Vec<_>>(),
        )
        .await;
        // Book i has tags 0..(i % 5), added in reverse order.
        for (i, book) in b.iter().enumerate() {
            for tag in g[..i % 5].iter().rev() {
                Book::TAGS.add(book, tag, db).await.unwrap();
            }
        }
        let (with_tags, log) = count_queries(Book::TAGS.attach(b.clone(), db)).await;
        let with_tags = with_tags.unwrap();
        assert_eq!(log.len(), 1, "{log}");
        assert_eq!(log.count_containing(r#"JOIN "m2m_book_tags""#), 1, "{log}");
        for (i, (book, tags)) in with_tags.iter().enumerate() {
            assert_eq!(book, &b[i]);
            // Each book's tags, ordered by the tag's key.
            assert_eq!(tags, &g[..i % 5].to_vec());
        }
        assert!(Book::TAGS.load_for(&[], db).await.unwrap().is_empty());
        t
    })
    .await;
}
