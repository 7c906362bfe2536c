//! Property test of `json_contains`: random JSON documents and needles;
//! each backend must select exactly the documents that contain the needle
//! by PostgreSQL's rules, evaluated in Rust. On PostgreSQL this pins the
//! evaluator to `@>`; on SQLite it pins Sylvan's spelled-out containment
//! (`json_type`, `json_extract`, `json_each`) to the same rules.
//!
//! Rules: an object contains an object whose every member it contains
//! under the same key; an array contains an array each of whose elements
//! one of its elements contains (duplicates and order do not matter); a
//! scalar contains an equal scalar of the same JSON type (numbers by
//! value). Needles are objects or arrays at the top: PostgreSQL's special
//! case of a top-level array containing a bare scalar is not emulated.
//! Keys include `.`, `[`, `$`, spaces and `'`.

use crate::support::{Kind, TestDb};
use proptest::prelude::*;
use proptest::test_runner::{Config, TestCaseError, TestRunner};
use serde_json::{json, Map, Value};
use sylvan::prelude::*;
use sylvan::PoolConfig;

#[derive(Debug, Clone, PartialEq, Model)]
#[model(table = "json_prop_docs")]
struct Doc {
    #[model(primary_key)]
    id: i64,
    data: Value,
}

fn contains(doc: &Value, needle: &Value) -> bool {
    match (doc, needle) {
        (Value::Object(d), Value::Object(n)) => n
            .iter()
            .all(|(k, v)| d.get(k).is_some_and(|dv| contains(dv, v))),
        (Value::Array(d), Value::Array(n)) => n.iter().all(|v| d.iter().any(|dv| contains(dv, v))),
        (Value::Number(a), Value::Number(b)) => a.as_f64() == b.as_f64(),
        (a, b) if !a.is_object() && !a.is_array() => a == b,
        _ => false,
    }
}

fn key() -> impl Strategy<Value = String> {
    prop::sample::select(vec!["a", "b", "c d", "x.y", "[0]", "$", "it's"]).prop_map(str::to_owned)
}

fn scalar() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        (-2i64..3).prop_map(|n| json!(n)),
        Just(json!(1.5)),
        Just(json!(2.0)),
        prop::sample::select(vec!["", "a", "2", "it's", "q\"uote"]).prop_map(|s| json!(s)),
    ]
}

fn value() -> impl Strategy<Value = Value> {
    scalar().prop_recursive(3, 24, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::vec((key(), inner), 0..4)
                .prop_map(|kv| Value::Object(kv.into_iter().collect::<Map<_, _>>())),
        ]
    })
}

fn container() -> impl Strategy<Value = Value> {
    value().prop_filter("objects or arrays", |v| v.is_object() || v.is_array())
}

/// Needles mostly taken from inside the documents, so that many match.
fn case() -> impl Strategy<Value = (Vec<Value>, Vec<Value>)> {
    prop::collection::vec(container(), 1..6).prop_flat_map(|docs| {
        let picks = prop::collection::vec(
            prop_oneof![
                (0..docs.len(), any::<prop::sample::Index>())
                    .prop_map({
                        let docs = docs.clone();
                        move |(i, cut)| shrink_to_part(&docs[i], cut)
                    })
                    .boxed(),
                container().boxed(),
            ],
            1..5,
        );
        (Just(docs), picks)
    })
}

/// A needle contained in `doc`, or close to it: some of its members or
/// elements, recursively.
fn shrink_to_part(doc: &Value, cut: prop::sample::Index) -> Value {
    match doc {
        Value::Object(m) => {
            let keep = cut.index(m.len() + 1);
            Value::Object(
                m.iter()
                    .take(keep)
                    .map(|(k, v)| (k.clone(), shrink_to_part(v, cut)))
                    .collect(),
            )
        }
        Value::Array(a) => {
            let keep = cut.index(a.len() + 1);
            Value::Array(
                a.iter()
                    .skip(a.len() - keep)
                    .map(|v| shrink_to_part(v, cut))
                    .collect(),
            )
        }
        other => other.clone(),
    }
}

async fn check(t: &TestDb, docs: &[Value], needles: &[Value]) -> Result<(), TestCaseError> {
    Doc::objects().delete(&t.db).await.unwrap();
    for (i, data) in docs.iter().enumerate() {
        Doc {
            id: i as i64,
            data: data.clone(),
        }
        .insert(&t.db)
        .await
        .unwrap();
    }
    for needle in needles {
        let got: Vec<i64> = Doc::objects()
            .filter(Doc::DATA.json_contains(needle.clone()))
            .order_by(Doc::ID.asc())
            .values(Doc::ID)
            .all(&t.db)
            .await
            .map_err(|e| TestCaseError::fail(format!("{needle}: {e}")))?;
        let want: Vec<i64> = (0..docs.len() as i64)
            .filter(|&i| contains(&docs[i as usize], needle))
            .collect();
        prop_assert_eq!(got, want, "needle {}", needle);
    }
    Ok(())
}

fn run(kind: Kind) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let pool = PoolConfig::default().max_size(2);
    let t = match kind {
        Kind::Sqlite => rt.block_on(TestDb::sqlite_file("json_prop", pool)),
        Kind::Postgres => match rt.block_on(TestDb::postgres("json_prop", pool)) {
            Some(t) => t,
            None => return,
        },
    };
    rt.block_on(Doc::create_table(&t.db)).unwrap();
    let config = Config {
        failure_persistence: None,
        ..Config::with_cases(96)
    };
    let result = TestRunner::new(config).run(&case(), |(docs, needles)| {
        rt.block_on(check(&t, &docs, &needles))
    });
    rt.block_on(t.cleanup());
    if let Err(e) = result {
        panic!("{kind:?}: {e}");
    }
}

#[test]
fn json_contains_agrees_with_rust_on_sqlite() {
    run(Kind::Sqlite);
}

#[test]
fn json_contains_agrees_with_rust_on_postgres() {
    run(Kind::Postgres);
}

#[test]
fn contains_evaluator() {
    assert!(contains(&json!({"a": [1, 2]}), &json!({"a": [2, 2]})));
    assert!(contains(&json!([1, [2, 3]]), &json!([[3]])));
    assert!(!contains(&json!([1, [2, 3]]), &json!([3])));
    assert!(contains(&json!({"n": 2}), &json!({"n": 2.0})));
    assert!(!contains(&json!({"n": "2"}), &json!({"n": 2})));
    assert!(!contains(&json!([]), &json!({})));
}
