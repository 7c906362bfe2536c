//! Pattern lookups take `String` and `&String` as `eq` does, with the same
//! rows as the `&str` form, on both backends.

use crate::support::{both, TestDb};
use sylvan::prelude::*;
use sylvan::{Condition, Schema};

#[derive(Debug, Clone, PartialEq, Model)]
#[model(table = "pt_book")]
struct Book {
    #[model(primary_key, auto)]
    id: i64,
    title: String,
}

#[tokio::test]
async fn pattern_lookups_take_owned_and_borrowed_strings() {
    both("pt_strings", |t: TestDb| async move {
        Schema::new()
            .model::<Book>()
            .create_all(&t.db)
            .await
            .unwrap();
        for title in [
            "Rust in Action",
            "The RUST book",
            "Gardening",
            "50% trust_me",
        ] {
            Book {
                id: 0,
                title: title.into(),
            }
            .insert(&t.db)
            .await
            .unwrap();
        }
        let count = |c: Condition<Book>| {
            let db = t.db.clone();
            async move { Book::objects().filter(c).count(&db).await.unwrap() }
        };
        let rust = String::from("rust");
        let book = String::from("BOOK");
        let sale = format!("{}%", "50\\%");
        let owned: [(Condition<Book>, Condition<Book>, i64); 8] = [
            (
                Book::TITLE.icontains(rust.clone()),
                Book::TITLE.icontains("rust"),
                3,
            ),
            (Book::TITLE.contains(&rust), Book::TITLE.contains("rust"), 1),
            (
                Book::TITLE.startswith(String::from("The")),
                Book::TITLE.startswith("The"),
                1,
            ),
            (
                Book::TITLE.istartswith(&rust),
                Book::TITLE.istartswith("rust"),
                1,
            ),
            (
                Book::TITLE.endswith(String::from("ing")),
                Book::TITLE.endswith("ing"),
                1,
            ),
            (
                Book::TITLE.iendswith(&book),
                Book::TITLE.iendswith("BOOK"),
                1,
            ),
            (
                Book::TITLE.like(format!("%{}%", "in")),
                Book::TITLE.like("%in%"),
                2,
            ),
            (Book::TITLE.ilike(&sale), Book::TITLE.ilike("50\\%%"), 1),
        ];
        for (i, (by_string, by_str, expected)) in owned.into_iter().enumerate() {
            assert_eq!(count(by_string).await, expected, "case {i} ({:?})", t.kind);
            assert_eq!(count(by_str).await, expected, "case {i} ({:?})", t.kind);
        }
        t
    })
    .await;
}
