//! JSON lookups (feature `json`): typed values by key path, key existence
//! and containment, on both backends.

use crate::support::{both, TestDb};
use serde_json::json;
use sylvan::prelude::*;
use sylvan::{Condition, JsonKey};

#[derive(Debug, Clone, PartialEq, Model)]
#[model(table = "json_events")]
struct Event {
    #[model(primary_key, auto)]
    id: i64,
    name: String,
    data: serde_json::Value,
    extra: Option<serde_json::Value>,
}

async fn seed(t: &TestDb) {
    Event::create_table(&t.db).await.unwrap();
    for (name, data, extra) in [
        (
            "a",
            json!({"user": {"name": "Ann", "age": 30, "admin": true}, "tags": ["x", "y"], "score": 1.5}),
            Some(json!({"k": 1})),
        ),
        (
            "b",
            json!({"user": {"name": "Bob", "age": 17, "admin": false}, "tags": ["y"], "score": 2}),
            None,
        ),
        (
            "c",
            json!({"user": {"name": "Cid"}, "tags": [], "items": [{"sku": "p1", "n": 2}, {"sku": "p2", "n": 1}]}),
            Some(json!([1])),
        ),
        ("d", json!([1, 2, {"deep": [true, null]}]), None),
    ] {
        Event {
            id: 0,
            name: name.into(),
            data,
            extra,
        }
        .insert(&t.db)
        .await
        .unwrap();
    }
}

async fn names(t: &TestDb, filter: Condition<Event>) -> Vec<String> {
    Event::objects()
        .filter(filter)
        .order_by(Event::NAME.asc())
        .values(Event::NAME)
        .all(&t.db)
        .await
        .unwrap_or_else(|e| panic!("{:?}: {e}", t.kind))
}

#[tokio::test]
async fn typed_values_by_key_path() {
    both("json_get", |t| async move {
        seed(&t).await;
        let k = t.kind;
        let data = Event::DATA;
        assert_eq!(
            names(&t, data.json_get::<i64>(["user", "age"]).ge(18)).await,
            ["a"],
            "{k:?}"
        );
        assert_eq!(
            names(&t, data.json_get::<String>(["user", "name"]).eq("Bob")).await,
            ["b"],
            "{k:?}"
        );
        assert_eq!(
            names(&t, data.json_get::<bool>(["user", "admin"]).eq(true)).await,
            ["a"],
            "{k:?}"
        );
        assert_eq!(
            names(&t, data.json_get::<f64>(["score"]).gt(1.6)).await,
            ["b"],
            "{k:?}"
        );
        // Array indexes, and a missing path is NULL.
        let first_tag = data.json_get::<String>([JsonKey::from("tags"), JsonKey::from(0)]);
        assert_eq!(names(&t, first_tag.clone().eq("y")).await, ["b"], "{k:?}");
        assert_eq!(names(&t, first_tag.is_null()).await, ["c", "d"], "{k:?}");
        // Selected and ordered: decoded as the asked type.
        type Row = (
            String,
            Option<String>,
            Option<i64>,
            Option<serde_json::Value>,
        );
        let rows: Vec<Row> = Event::objects()
            .order_by((
                data.json_get::<i64>(["user", "age"]).desc().nulls_last(),
                Event::NAME.asc(),
            ))
            .values((
                Event::NAME,
                data.json_get::<String>(["user", "name"]),
                data.json_get::<i64>(["user", "age"]),
                data.json_get::<serde_json::Value>(["tags"]),
            ))
            .all(&t.db)
            .await
            .unwrap();
        assert_eq!(
            rows,
            [
                (
                    "a".into(),
                    Some("Ann".into()),
                    Some(30),
                    Some(json!(["x", "y"]))
                ),
                ("b".into(), Some("Bob".into()), Some(17), Some(json!(["y"]))),
                ("c".into(), Some("Cid".into()), None, Some(json!([]))),
                ("d".into(), None, None, None),
            ],
            "{k:?}"
        );
        // JSON values read from a nested path of a nested path, on a
        // nullable column.
        let deep: Vec<Option<serde_json::Value>> = Event::objects()
            .filter(Event::NAME.eq("d"))
            .values(
                data.json_get::<serde_json::Value>([2])
                    .json_get::<serde_json::Value>(["deep"]),
            )
            .all(&t.db)
            .await
            .unwrap();
        assert_eq!(deep, [Some(json!([true, null]))], "{k:?}");
        assert_eq!(
            names(&t, Event::EXTRA.json_get::<i64>(["k"]).eq(1)).await,
            ["a"],
            "{k:?}"
        );
        t
    })
    .await;
}

#[tokio::test]
async fn has_key_and_contains() {
    both("json_has", |t| async move {
        seed(&t).await;
        let k = t.kind;
        let data = Event::DATA;
        assert_eq!(names(&t, data.has_key("items")).await, ["c"], "{k:?}");
        assert_eq!(names(&t, data.has_key("score")).await, ["a", "b"], "{k:?}");
        assert_eq!(
            names(
                &t,
                data.json_get::<serde_json::Value>(["user"]).has_key("age")
            )
            .await,
            ["a", "b"],
            "{k:?}"
        );
        assert_eq!(names(&t, Event::EXTRA.has_key("k")).await, ["a"], "{k:?}");

        let contains = |v| names(&t, data.json_contains(v));
        assert_eq!(
            contains(json!({"user": {"name": "Ann"}})).await,
            ["a"],
            "{k:?}"
        );
        assert_eq!(contains(json!({"tags": ["y"]})).await, ["a", "b"], "{k:?}");
        assert_eq!(contains(json!({"tags": ["y", "x"]})).await, ["a"], "{k:?}");
        assert_eq!(
            contains(json!({"tags": []})).await,
            ["a", "b", "c"],
            "{k:?}"
        );
        assert_eq!(contains(json!({"score": 2})).await, ["b"], "{k:?}");
        assert_eq!(contains(json!({"score": 2.0})).await, ["b"], "{k:?}");
        assert_eq!(
            contains(json!({"user": {"admin": false}})).await,
            ["b"],
            "{k:?}"
        );
        assert_eq!(
            contains(json!({"items": [{"sku": "p2"}]})).await,
            ["c"],
            "{k:?}"
        );
        assert_eq!(
            contains(json!({"items": [{"sku": "p2", "n": 2}]})).await,
            Vec::<String>::new(),
            "{k:?}"
        );
        assert_eq!(contains(json!([{"deep": [null]}, 2])).await, ["d"], "{k:?}");
        assert_eq!(contains(json!({})).await, ["a", "b", "c"], "{k:?}");
        // Types must match: the string "2" is not the number 2.
        assert_eq!(
            contains(json!({"score": "2"})).await,
            Vec::<String>::new(),
            "{k:?}"
        );
        assert_eq!(
            contains(json!({"user": {"name": "ann"}})).await,
            Vec::<String>::new(),
            "{k:?}"
        );
        assert_eq!(
            names(
                &t,
                !data.json_contains(json!({"tags": ["y"]})) & data.has_key("user")
            )
            .await,
            ["c"],
            "{k:?}"
        );
        t
    })
    .await;
}
