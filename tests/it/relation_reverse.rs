//! The reverse side of a foreign key (parent to children): accessor,
//! filters, prefetch and the parent-to-children LEFT JOIN, on both backends.

use crate::support::both;
use sylvan::prelude::*;
use sylvan::testing::count_queries;
use sylvan::{QuerySet, Reverse, Schema};

#[derive(Debug, Clone, PartialEq, Model)]
#[model(table = "rev_authors")]
struct Author {
    #[model(primary_key, auto)]
    id: i64,
    name: String,
}

#[derive(Debug, Clone, PartialEq, Model)]
#[model(table = "rev_books")]
struct Book {
    #[model(primary_key, auto)]
    id: i64,
    #[model(foreign_key = Author)]
    author_id: Option<i64>,
    title: String,
}

impl Author {
    const BOOKS: Reverse<Author, Book, Option<i64>> = Book::AUTHOR.reverse();

    fn books(&self) -> QuerySet<Book> {
        Self::BOOKS.of(self)
    }
}

/// Employees and their managers: a model pointing at itself.
#[derive(Debug, Clone, PartialEq, Model)]
#[model(table = "rev_staff")]
struct Employee {
    #[model(primary_key, auto)]
    id: i64,
    #[model(foreign_key = Employee)]
    manager_id: Option<i64>,
    name: String,
}

/// Models of the prefetch test alone, so that its query count does not see
/// the statements of the other tests running at the same time.
#[derive(Debug, Clone, PartialEq, Model)]
#[model(table = "rev_pf_writers")]
struct Writer {
    #[model(primary_key, auto)]
    id: i64,
}

#[derive(Debug, Clone, PartialEq, Model)]
#[model(table = "rev_pf_novels")]
struct Novel {
    #[model(primary_key, auto)]
    id: i64,
    #[model(foreign_key = Writer)]
    writer_id: i64,
}

struct Fixture {
    ann: Author,
    bob: Author,
    carl: Author,
    dune: Book,
    emma: Book,
    orphan: Book,
    heidi: Book,
}

async fn fixture(db: &Database) -> Fixture {
    Schema::new()
        .model::<Author>()
        .model::<Book>()
        .create_all(db)
        .await
        .unwrap();
    let mut a = Author::insert_many(
        ["Ann", "Bob", "Carl"]
            .map(|n| Author {
                id: 0,
                name: n.into(),
            })
            .to_vec(),
        db,
    )
    .await
    .unwrap();
    let b = Book::insert_many(
        [
            (Some(a[0].id), "Dune"),
            (Some(a[0].id), "Emma"),
            (None, "Orphan"),
            (Some(a[1].id), "Heidi"),
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
    let carl = a.pop().unwrap();
    let bob = a.pop().unwrap();
    let ann = a.pop().unwrap();
    let [dune, emma, orphan, heidi] = <[Book; 4]>::try_from(b).unwrap();
    Fixture {
        ann,
        bob,
        carl,
        dune,
        emma,
        orphan,
        heidi,
    }
}

#[tokio::test]
async fn reverse_accessor_is_a_queryset_of_the_children() {
    both("rev_accessor", |t| async move {
        let db = &t.db;
        let f = fixture(db).await;
        let books = f
            .ann
            .books()
            .order_by(Book::ID.asc())
            .all(db)
            .await
            .unwrap();
        assert_eq!(books, vec![f.dune.clone(), f.emma.clone()]);
        assert_eq!(f.carl.books().count(db).await.unwrap(), 0);
        // It filters, and writes: the children of one parent only.
        let renamed = f
            .ann
            .books()
            .filter(Book::TITLE.eq("Emma"))
            .update([Book::TITLE.set("Emma (2nd ed.)")], db)
            .await
            .unwrap();
        assert_eq!(renamed, 1);
        assert_eq!(
            Book::get(db, f.emma.id).await.unwrap().title,
            "Emma (2nd ed.)"
        );
        assert_eq!(Book::get(db, f.heidi.id).await.unwrap(), f.heidi);
        t
    })
    .await;
}

#[tokio::test]
async fn reverse_has_filters_parents_by_their_children() {
    both("rev_has", |t| async move {
        let db = &t.db;
        let f = fixture(db).await;
        let with_dune = Author::objects()
            .filter(Author::BOOKS.has(Book::TITLE.eq("Dune")))
            .all(db)
            .await
            .unwrap();
        assert_eq!(with_dune, vec![f.ann.clone()]);
        // Two matching children: the parent is listed once (a subquery, not
        // a JOIN).
        let any = Author::objects()
            .filter(Author::BOOKS.has(Book::TITLE.ne("")))
            .order_by(Author::ID.asc())
            .all(db)
            .await
            .unwrap();
        assert_eq!(any, vec![f.ann.clone(), f.bob.clone()]);
        // Exclude: authors without a book titled Dune. The orphan book's NULL
        // key does not turn `NOT IN` into "unknown" for everyone.
        let without = Author::objects()
            .exclude(Author::BOOKS.has(Book::TITLE.eq("Dune") | Book::TITLE.eq("Orphan")))
            .order_by(Author::ID.asc())
            .all(db)
            .await
            .unwrap();
        assert_eq!(without, vec![f.bob.clone(), f.carl.clone()]);
        // Combined with the forward filter of the children.
        let childless = Author::objects()
            .exclude(Author::BOOKS.has(Book::AUTHOR.has(Author::NAME.ne(""))))
            .all(db)
            .await
            .unwrap();
        assert_eq!(childless, vec![f.carl.clone()]);
        t
    })
    .await;
}

#[tokio::test]
async fn reverse_prefetch_is_one_query() {
    both("rev_prefetch", |t| async move {
        let db = &t.db;
        let f = fixture(db).await;
        let authors = Author::objects()
            .order_by(Author::ID.desc())
            .all(db)
            .await
            .unwrap();
        let with_books = Author::BOOKS.attach(authors, db).await.unwrap();
        assert_eq!(
            with_books,
            vec![
                (f.carl.clone(), vec![]),
                (f.bob.clone(), vec![f.heidi.clone()]),
                (f.ann.clone(), vec![f.dune.clone(), f.emma.clone()]),
            ]
        );
        let lists = Author::BOOKS
            .load_for(&[f.bob.clone(), f.bob.clone()], db)
            .await
            .unwrap();
        assert_eq!(lists, vec![vec![f.heidi.clone()], vec![]]);
        assert!(Author::BOOKS.load_for(&[], db).await.unwrap().is_empty());

        // 200 parents with 5 children each: one query.
        Schema::new()
            .model::<Writer>()
            .model::<Novel>()
            .create_all(db)
            .await
            .unwrap();
        let writers = Writer::insert_many(vec![Writer { id: 0 }; 200], db)
            .await
            .unwrap();
        let novels: Vec<Novel> = writers
            .iter()
            .flat_map(|w| {
                (0..5).map(move |_| Novel {
                    id: 0,
                    writer_id: w.id,
                })
            })
            .collect();
        Novel::insert_many(novels, db).await.unwrap();
        let (lists, log) = count_queries(Novel::WRITER.reverse().load_for(&writers, db)).await;
        let lists = lists.unwrap();
        assert_eq!(log.len(), 1, "{log}");
        assert_eq!(log.count_containing("rev_pf_novels"), 1, "{log}");
        assert_eq!(lists.len(), 200);
        for (w, novels) in writers.iter().zip(&lists) {
            assert_eq!(novels.len(), 5);
            assert!(novels.iter().all(|n| n.writer_id == w.id));
        }
        t
    })
    .await;
}

#[tokio::test]
async fn join_children_is_a_left_join_from_the_parent() {
    both("rev_join", |t| async move {
        let db = &t.db;
        let f = fixture(db).await;
        let rows = Author::objects()
            .join_children(Book::AUTHOR)
            .all(db)
            .await
            .unwrap();
        assert_eq!(
            rows,
            vec![
                (f.ann.clone(), Some(f.dune.clone())),
                (f.ann.clone(), Some(f.emma.clone())),
                (f.bob.clone(), Some(f.heidi.clone())),
                (f.carl.clone(), None),
            ]
        );
        // The query's filter and order apply to the parents; the reverse
        // constant works as well as the forward one.
        let rows = Author::objects()
            .filter(Author::NAME.ne("Bob"))
            .order_by(Author::NAME.desc())
            .join_children(Author::BOOKS)
            .all(db)
            .await
            .unwrap();
        assert_eq!(
            rows,
            vec![
                (f.carl.clone(), None),
                (f.ann.clone(), Some(f.dune.clone())),
                (f.ann.clone(), Some(f.emma.clone())),
            ]
        );
        // The orphan book has no parent row to join.
        assert!(rows.iter().all(|(_, b)| b.as_ref() != Some(&f.orphan)));
        // Limits would count children: refused with a typed error.
        let err = Author::objects()
            .limit(1)
            .join_children(Book::AUTHOR)
            .all(db)
            .await
            .unwrap_err();
        assert!(matches!(err, Error::Unsupported { .. }), "{err:?}");
        t
    })
    .await;
}

#[tokio::test]
async fn a_model_pointing_at_itself_joins_its_own_children() {
    both("rev_self", |t| async move {
        let db = &t.db;
        Employee::create_table(db).await.unwrap();
        let boss = Employee {
            id: 0,
            manager_id: None,
            name: "boss".into(),
        }
        .insert(db)
        .await
        .unwrap();
        let dev = Employee {
            id: 0,
            manager_id: Some(boss.id),
            name: "dev".into(),
        }
        .insert(db)
        .await
        .unwrap();
        let rows = Employee::objects()
            .join_children(Employee::MANAGER)
            .all(db)
            .await
            .unwrap();
        assert_eq!(
            rows,
            vec![(boss.clone(), Some(dev.clone())), (dev.clone(), None)]
        );
        let managers = Employee::objects()
            .filter(Employee::MANAGER.reverse().has(Employee::NAME.eq("dev")))
            .all(db)
            .await
            .unwrap();
        assert_eq!(managers, vec![boss.clone()]);
        assert_eq!(
            Employee::MANAGER.reverse().of(&boss).all(db).await.unwrap(),
            vec![dev]
        );
        t
    })
    .await;
}
