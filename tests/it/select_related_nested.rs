//! `select_related` chained (several paths) and nested (`a.then(b)`), in
//! one JOIN query, on both backends.

use crate::support::both;
use sylvan::prelude::*;
use sylvan::testing::count_queries;
use sylvan::Schema;

#[derive(Debug, Clone, PartialEq, Model)]
#[model(table = "nest_authors")]
struct Author {
    #[model(primary_key, auto)]
    id: i64,
    name: String,
}

#[derive(Debug, Clone, PartialEq, Model)]
#[model(table = "nest_books")]
struct Book {
    #[model(primary_key, auto)]
    id: i64,
    #[model(foreign_key = Author)]
    author_id: Option<i64>,
    title: String,
}

#[derive(Debug, Clone, PartialEq, Model)]
#[model(table = "nest_members")]
struct Member {
    #[model(primary_key, auto)]
    id: i64,
    name: String,
    #[model(foreign_key = Member)]
    referrer_id: Option<i64>,
}

#[derive(Debug, Clone, PartialEq, Model)]
#[model(table = "nest_loans")]
struct Loan {
    #[model(primary_key, auto)]
    id: i64,
    #[model(foreign_key = Book)]
    book_id: i64,
    #[model(foreign_key = Member)]
    member_id: Option<i64>,
}

struct Fixture {
    ann: Author,
    dune: Book,
    anon: Book,
    max: Member,
    eve: Member,
    loans: Vec<Loan>,
}

async fn fixture(db: &Database) -> Fixture {
    Schema::new()
        .model::<Author>()
        .model::<Book>()
        .model::<Member>()
        .model::<Loan>()
        .create_all(db)
        .await
        .unwrap();
    let ann = Author {
        id: 0,
        name: "Ann".into(),
    }
    .insert(db)
    .await
    .unwrap();
    let dune = Book {
        id: 0,
        author_id: Some(ann.id),
        title: "Dune".into(),
    }
    .insert(db)
    .await
    .unwrap();
    let anon = Book {
        id: 0,
        author_id: None,
        title: "Beowulf".into(),
    }
    .insert(db)
    .await
    .unwrap();
    let max = Member {
        id: 0,
        name: "Max".into(),
        referrer_id: None,
    }
    .insert(db)
    .await
    .unwrap();
    let eve = Member {
        id: 0,
        name: "Eve".into(),
        referrer_id: Some(max.id),
    }
    .insert(db)
    .await
    .unwrap();
    let loans = Loan::insert_many(
        vec![
            Loan {
                id: 0,
                book_id: dune.id,
                member_id: Some(eve.id),
            },
            Loan {
                id: 0,
                book_id: anon.id,
                member_id: None,
            },
            Loan {
                id: 0,
                book_id: dune.id,
                member_id: Some(max.id),
            },
        ],
        db,
    )
    .await
    .unwrap();
    Fixture {
        ann,
        dune,
        anon,
        max,
        eve,
        loans,
    }
}

#[tokio::test]
async fn loan_book_author_and_member_in_one_query() {
    both("nest_one_query", |t| async move {
        let db = &t.db;
        let f = fixture(db).await;
        let (rows, log) = count_queries(
            Loan::objects()
                .order_by(Loan::ID.asc())
                .select_related(Loan::BOOK.then(Book::AUTHOR))
                .select_related(Loan::MEMBER)
                .all(db),
        )
        .await;
        let rows = rows.unwrap();
        assert_eq!(log.len(), 1, "{log}");
        let l = &f.loans;
        assert_eq!(
            rows,
            vec![
                (
                    l[0].clone(),
                    (f.dune.clone(), Some(f.ann.clone())),
                    Some(f.eve.clone())
                ),
                (l[1].clone(), (f.anon.clone(), None), None),
                (
                    l[2].clone(),
                    (f.dune.clone(), Some(f.ann.clone())),
                    Some(f.max.clone())
                ),
            ]
        );
        // Three levels, and four paths in one query.
        let rows = Loan::objects()
            .filter(Loan::ID.eq(l[0].id))
            .select_related(Loan::BOOK)
            .select_related(Loan::BOOK.then(Book::AUTHOR))
            .select_related(Loan::MEMBER.then(Member::REFERRER.then(Member::REFERRER)))
            .select_related(Loan::MEMBER)
            .all(db)
            .await
            .unwrap();
        assert_eq!(
            rows,
            vec![(
                l[0].clone(),
                f.dune.clone(),
                (f.dune.clone(), Some(f.ann.clone())),
                Some((f.eve.clone(), Some((f.max.clone(), None)))),
                Some(f.eve.clone()),
            )]
        );
        t
    })
    .await;
}

#[tokio::test]
async fn a_nullable_step_makes_the_rest_of_the_path_optional() {
    both("nest_nullable", |t| async move {
        let db = &t.db;
        let f = fixture(db).await;
        // Loan → Member (nullable) → referrer Member (nullable): the same
        // table joined twice under two aliases, LEFT JOINs all the way.
        let q = Loan::objects()
            .filter(Loan::BOOK.has(Book::TITLE.eq("Dune")) | Loan::MEMBER.column().is_null())
            .order_by(Loan::ID.desc())
            .select_related(Loan::MEMBER.then(Member::REFERRER));
        let (sql, _) = q.to_sql(db.dialect());
        assert_eq!(sql.matches(" LEFT JOIN ").count(), 2, "{sql}");
        let rows = q.all(db).await.unwrap();
        let l = &f.loans;
        assert_eq!(
            rows,
            vec![
                (l[2].clone(), Some((f.max.clone(), None))),
                (l[1].clone(), None),
                (l[0].clone(), Some((f.eve.clone(), Some(f.max.clone())))),
            ]
        );
        t
    })
    .await;
}
