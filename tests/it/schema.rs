//! DDL from models, round-tripped on both backends.

use crate::support::both;
use sylvan::prelude::*;

#[derive(Debug, Clone, PartialEq, sylvan::Model)]
#[model(table = "ddl_author")]
struct Author {
    #[model(primary_key, auto)]
    id: i64,
    #[model(unique)]
    email: String,
    #[model(index)]
    name: String,
    #[model(default = "7")]
    books: i32,
    active: bool,
    bio: Option<String>,
    score: Option<f64>,
    avatar: Option<Vec<u8>>,
}

fn author(email: &str) -> Author {
    Author {
        id: 0,
        email: email.into(),
        name: "n".into(),
        books: 1,
        active: true,
        bio: None,
        score: Some(2.5),
        avatar: Some(vec![0, 1, 2]),
    }
}

#[tokio::test]
async fn create_insert_query_drop() {
    both("ddl", |t| async move {
        Author::create_table(&t.db).await.unwrap();
        // Idempotent.
        Author::create_table(&t.db).await.unwrap();
        let a = author("a@x").insert(&t.db).await.unwrap();
        let b = author("b@x").insert(&t.db).await.unwrap();
        assert!(b.id > a.id);
        assert_eq!(Author::get(&t.db, a.id).await.unwrap(), a);
        // UNIQUE from the model.
        let dup = author("a@x").insert(&t.db).await.unwrap_err();
        assert!(dup.is_unique_violation(), "{dup}");
        // NOT NULL from the model: a raw insert leaving `name` out.
        let missing =
            t.db.execute(
                "INSERT INTO ddl_author (email, active) VALUES ($1, $2)",
                ("c@x", true),
            )
            .await
            .unwrap_err();
        assert!(missing.is_not_null_violation(), "{missing}");
        // DEFAULT from the model.
        t.db.execute(
            "INSERT INTO ddl_author (email, name, active) VALUES ($1, $2, $3)",
            ("d@x", "d", false),
        )
        .await
        .unwrap();
        let d = Author::objects()
            .filter(Author::EMAIL.eq("d@x"))
            .get(&t.db)
            .await
            .unwrap();
        assert_eq!(d.books, 7);
        assert!(!d.active);
        assert_eq!(Author::objects().count(&t.db).await.unwrap(), 3);
        Author::drop_table(&t.db).await.unwrap();
        assert!(Author::objects().count(&t.db).await.is_err());
        t
    })
    .await;
}
