//! The LIKE helpers escape `%`, `_` and `\` with an `ESCAPE` clause that
//! reads the same whatever PostgreSQL's `standard_conforming_strings` says.

use crate::support::{both, TestDb};
use sylvan::prelude::*;
use sylvan::{Condition, PoolConfig, Schema};

#[derive(Debug, Clone, PartialEq, Model)]
#[model(table = "like_items")]
struct Item {
    #[model(primary_key, auto)]
    id: i64,
    name: String,
}

const NAMES: [&str; 8] = [
    "50% off",
    "50x off",
    "a_b",
    "axb",
    r"back\slash",
    "it's",
    r"ends with \",
    "Plain",
];

/// Runs every LIKE helper with patterns full of `%`, `_`, `\` and `'`, and
/// checks the rows against the same test done in Rust.
async fn every_helper_matches(db: &Database) {
    Schema::new().model::<Item>().create_all(db).await.unwrap();
    let items: Vec<Item> = NAMES
        .iter()
        .map(|n| Item {
            id: 0,
            name: (*n).to_owned(),
        })
        .collect();
    let items = Item::insert_many(items, db).await.unwrap();
    let names = |rows: Vec<Item>| {
        let mut v: Vec<String> = rows.into_iter().map(|i| i.name).collect();
        v.sort();
        v
    };
    let expect = |f: &dyn Fn(&str) -> bool| {
        let mut v: Vec<String> = items
            .iter()
            .filter(|i| f(&i.name))
            .map(|i| i.name.clone())
            .collect();
        v.sort();
        v
    };
    for s in [
        "%", "0% ", "_", "a_b", r"\", r"k\s", "'", "it's", r"\'", "%'_\\", "plain", "PLAIN",
    ] {
        let lower = s.to_lowercase();
        let cases: [(&str, Condition<Item>, Vec<String>); 6] = [
            (
                "contains",
                Item::NAME.contains(s),
                expect(&|n| n.contains(s)),
            ),
            (
                "startswith",
                Item::NAME.startswith(s),
                expect(&|n| n.starts_with(s)),
            ),
            (
                "endswith",
                Item::NAME.endswith(s),
                expect(&|n| n.ends_with(s)),
            ),
            (
                "icontains",
                Item::NAME.icontains(s),
                expect(&|n| n.to_lowercase().contains(&lower)),
            ),
            (
                "istartswith",
                Item::NAME.istartswith(s),
                expect(&|n| n.to_lowercase().starts_with(&lower)),
            ),
            (
                "iendswith",
                Item::NAME.iendswith(s),
                expect(&|n| n.to_lowercase().ends_with(&lower)),
            ),
        ];
        for (helper, condition, expected) in cases {
            let got = Item::objects().filter(condition).all(db).await;
            let got = got.unwrap_or_else(|e| panic!("{helper}({s:?}): {e}"));
            assert_eq!(names(got), expected, "{helper}({s:?})");
        }
    }
    // The user's own patterns, `\` escaping the next character.
    for (pattern, expected) in [
        (r"50\%%", vec!["50% off"]),
        (r"a\_b", vec!["a_b"]),
        ("a_b", vec!["a_b", "axb"]),
        (r"back\\%", vec![r"back\slash"]),
        ("it's", vec!["it's"]),
        (r"%\\", vec![r"ends with \"]),
    ] {
        let got = Item::objects()
            .filter(Item::NAME.like(pattern))
            .all(db)
            .await;
        let got = got.unwrap_or_else(|e| panic!("like({pattern:?}): {e}"));
        assert_eq!(names(got), expected, "like({pattern:?})");
        let got = Item::objects()
            .filter(Item::NAME.ilike(pattern))
            .all(db)
            .await;
        let got = got.unwrap_or_else(|e| panic!("ilike({pattern:?}): {e}"));
        assert_eq!(names(got), expected, "ilike({pattern:?})");
    }
}

#[tokio::test]
async fn like_helpers_escape_their_wildcards() {
    both("like_escape", |t| async move {
        every_helper_matches(&t.db).await;
        t
    })
    .await;
}

#[tokio::test]
async fn like_helpers_work_without_standard_conforming_strings() {
    let Some(t) = TestDb::postgres("like_escape_scs_off", PoolConfig::default()).await else {
        return;
    };
    // The test schema's URL, with one more server option.
    let url = t.url.replace(
        "options=-csearch_path%3D",
        "options=-cstandard_conforming_strings%3Doff%20-csearch_path%3D",
    );
    assert_ne!(url, t.url, "the support URL changed shape: {}", t.url);
    let db = Database::builder(&url)
        .pool(PoolConfig::default().max_size(2))
        .connect()
        .await
        .unwrap();
    let setting: String = db
        .fetch_one("SHOW standard_conforming_strings", ())
        .await
        .unwrap();
    assert_eq!(setting, "off");
    every_helper_matches(&db).await;
    db.close();
    t.cleanup().await;
}
