//! A `#[derive(Model)]` struct decoded from raw SQL finds its columns by
//! name: another column order decodes correctly, extra columns are ignored,
//! and a missing column is an `Error::Decode` naming it — on both backends,
//! for `fetch_all`, `fetch_one` and `fetch_stream`.

use crate::support::{both, TestDb};
use sylvan::prelude::*;
use sylvan::{Schema, StreamExt};

#[derive(Debug, Clone, PartialEq, Model)]
#[model(table = "rm_person")]
struct Person {
    #[model(primary_key, auto)]
    id: i64,
    #[model(column = "full_name")]
    name: String,
    age: Option<i32>,
    #[model(skip)]
    note: String,
}

async fn people(t: &TestDb) -> Vec<Person> {
    Schema::new()
        .model::<Person>()
        .create_all(&t.db)
        .await
        .unwrap();
    let mut out = Vec::new();
    for (name, age) in [("Ada", Some(36)), ("Grace", None), ("Edsger", Some(72))] {
        let p = Person {
            id: 0,
            name: name.into(),
            age,
            note: String::new(),
        };
        out.push(p.insert(&t.db).await.unwrap());
    }
    out
}

#[tokio::test]
async fn raw_rows_decode_into_a_model_by_column_name() {
    both("rm_by_name", |t: TestDb| async move {
        let stored = people(&t).await;
        // The model's own order, and `SELECT *`.
        let all: Vec<Person> =
            t.db.fetch_all("SELECT * FROM rm_person ORDER BY id", ())
                .await
                .unwrap();
        assert_eq!(all, stored, "{:?}", t.kind);
        // Reversed, with an extra column in front and upper case names.
        let reversed: Vec<Person> =
            t.db.fetch_all(
                "SELECT 1 AS extra, AGE, full_name, id FROM rm_person ORDER BY id",
                (),
            )
            .await
            .unwrap();
        assert_eq!(reversed, stored, "{:?}", t.kind);
        let one: Person =
            t.db.fetch_one(
                "SELECT full_name, age, id FROM rm_person WHERE id = $1",
                (stored[1].id,),
            )
            .await
            .unwrap();
        assert_eq!(one, stored[1]);
        let mut stream = t
            .db
            .fetch_stream::<Person, _>("SELECT age, id, full_name FROM rm_person ORDER BY id", ());
        let mut streamed = Vec::new();
        while let Some(p) = stream.next().await {
            streamed.push(p.unwrap());
        }
        assert_eq!(streamed, stored, "{:?}", t.kind);
        // The ORM path is unchanged.
        let orm = Person::objects()
            .order_by(Person::ID.asc())
            .all(&t.db)
            .await
            .unwrap();
        assert_eq!(orm, stored);
        t
    })
    .await;
}

#[tokio::test]
async fn a_missing_column_is_a_decode_error_naming_it() {
    both("rm_missing", |t: TestDb| async move {
        people(&t).await;
        let e =
            t.db.fetch_all::<Person, _>("SELECT id, age FROM rm_person", ())
                .await
                .unwrap_err();
        match &e {
            Error::Decode {
                column, expected, ..
            } => {
                assert_eq!(column, "full_name", "{e}");
                assert_eq!(*expected, "Person");
            }
            other => panic!("{:?}: expected a decode error, got {other:?}", t.kind),
        }
        assert!(e.to_string().contains("full_name"), "{e}");
        let mut stream =
            t.db.fetch_stream::<Person, _>("SELECT full_name, id FROM rm_person", ());
        let first = stream.next().await.unwrap().unwrap_err();
        assert!(
            matches!(first, Error::Decode { ref column, .. } if column == "age"),
            "{first}"
        );
        drop(stream);
        // The connection stays usable.
        let n: i64 =
            t.db.fetch_one("SELECT COUNT(*) FROM rm_person", ())
                .await
                .unwrap();
        assert_eq!(n, 3);
        t
    })
    .await;
}
