//! JSON lookups (feature `json`): typed values by key path, key existence
//! and containment, on both backends.

use serde_json::json;
use sylvan::prelude::*;
use sylvan::{Condition, JsonKey, Schema};

#[derive(Debug, Clone, PartialEq, Model)]
#[model(table = "json_events")]
struct Event {
    #[model(primary_key, auto)]
    id: i64,
    name: String,
    data: serde_json::Value,
    extra: Option<serde_json::Value>,
}

fn events() -> Schema {
    Schema::new().model::<Event>()
}

async fn seed(db: &Database) {
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
        .insert(db)
        .await
        .unwrap();
    }
}

async fn names(db: &Database, filter: Condition<Event>) -> Vec<String> {
    Event::objects()
        .filter(filter)
        .order_by(Event::NAME.asc())
        .values(Event::NAME)
        .all(db)
        .await
        .unwrap_or_else(|e| panic!("{:?}: {e}", db.dialect()))
}

#[sylvan::test(schema = events)]
async fn typed_values_by_key_path(db: Database) {
    seed(&db).await;
    let k = db.dialect();
    let data = Event::DATA;
    assert_eq!(
        names(&db, data.json_get::<i64>(["user", "age"]).ge(18)).await,
        ["a"],
        "{k:?}"
    );
    assert_eq!(
        names(&db, data.json_get::<String>(["user", "name"]).eq("Bob")).await,
        ["b"],
        "{k:?}"
    );
    assert_eq!(
        names(&db, data.json_get::<bool>(["user", "admin"]).eq(true)).await,
        ["a"],
        "{k:?}"
    );
    assert_eq!(
        names(&db, data.json_get::<f64>(["score"]).gt(1.6)).await,
        ["b"],
        "{k:?}"
    );
    // Array indexes, and a missing path is NULL.
    let first_tag = data.json_get::<String>([JsonKey::from("tags"), JsonKey::from(0)]);
    assert_eq!(names(&db, first_tag.clone().eq("y")).await, ["b"], "{k:?}");
    assert_eq!(names(&db, first_tag.is_null()).await, ["c", "d"], "{k:?}");
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
        .all(&db)
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
        .all(&db)
        .await
        .unwrap();
    assert_eq!(deep, [Some(json!([true, null]))], "{k:?}");
    assert_eq!(
        names(&db, Event::EXTRA.json_get::<i64>(["k"]).eq(1)).await,
        ["a"],
        "{k:?}"
    );
}

#[sylvan::test(schema = events)]
async fn has_key_and_contains(db: Database) {
    seed(&db).await;
    let k = db.dialect();
    let data = Event::DATA;
    assert_eq!(names(&db, data.has_key("items")).await, ["c"], "{k:?}");
    assert_eq!(names(&db, data.has_key("score")).await, ["a", "b"], "{k:?}");
    assert_eq!(
        names(
            &db,
            data.json_get::<serde_json::Value>(["user"]).has_key("age")
        )
        .await,
        ["a", "b"],
        "{k:?}"
    );
    assert_eq!(names(&db, Event::EXTRA.has_key("k")).await, ["a"], "{k:?}");

    let contains = |v| names(&db, data.json_contains(v));
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
            &db,
            !data.json_contains(json!({"tags": ["y"]})) & data.has_key("user")
        )
        .await,
        ["c"],
        "{k:?}"
    );
}
