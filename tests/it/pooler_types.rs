//! Types behind a transaction pooler (`pooler=transaction`): where
//! unnamed statements typed by their values differ from prepared ones, and
//! result columns whose type the driver must look up.

use crate::pooler::{connect, pooled, script};
use crate::support::pgbouncer::bouncer;
use std::time::Duration;
use sylvan::prelude::*;

/// Where unnamed statements typed by their values differ from prepared
/// ones (as documented on `DatabaseBuilder::transaction_pooler`): the
/// server, not Sylvan, converts a value bound into a column of another
/// type, and an `i64` is a `BIGINT` where the server would have inferred
/// an `INTEGER`. Direct connections both, so only the mode differs.
#[tokio::test]
async fn unnamed_statements_differ_only_where_documented() {
    let Some(b) = bouncer() else { return };
    let prepared = connect(&b.direct_url(""), 1).await;
    let unnamed = connect(&b.direct_url("pooler=transaction"), 1).await;
    prepared
        .execute(
            "CREATE TABLE IF NOT EXISTS pooler_diff (id BIGINT PRIMARY KEY, r REAL, i INTEGER)",
            (),
        )
        .await
        .unwrap();
    prepared
        .execute("DELETE FROM pooler_diff", ())
        .await
        .unwrap();
    let insert = "INSERT INTO pooler_diff (id, r, i) VALUES ($1, $2, $3)";
    // 0.1 is not exactly a REAL: refused by Sylvan, rounded by the server.
    let e = prepared
        .execute(insert, (1_i64, 0.1_f64, None::<i32>))
        .await
        .unwrap_err();
    assert!(matches!(e, Error::InvalidValue { .. }), "{e:?}");
    unnamed
        .execute(insert, (1_i64, 0.1_f64, None::<i32>))
        .await
        .unwrap();
    let r: f32 = unnamed
        .fetch_one("SELECT r FROM pooler_diff WHERE id = $1", (1_i64,))
        .await
        .unwrap();
    assert_eq!(r, 0.1_f32);
    // Text into an INTEGER column: refused by Sylvan, parsed by the server.
    let e = prepared
        .execute(insert, (2_i64, None::<f32>, "12"))
        .await
        .unwrap_err();
    assert!(matches!(e, Error::InvalidValue { .. }), "{e:?}");
    unnamed
        .execute(insert, (2_i64, None::<f32>, "12"))
        .await
        .unwrap();
    // Out of range either way, a typed error either way.
    for db in [&prepared, &unnamed] {
        let e = db
            .execute(insert, (3_i64, None::<f32>, i64::MAX))
            .await
            .unwrap_err();
        assert!(
            matches!(e, Error::InvalidValue { .. } | Error::Database { .. }),
            "{e:?}"
        );
    }
    // A function whose argument the server would type INTEGER.
    let s: String = prepared
        .fetch_one("SELECT repeat('x', $1)", (3_i64,))
        .await
        .unwrap();
    assert_eq!(s, "xxx");
    let e = unnamed
        .fetch_one::<String, _>("SELECT repeat('x', $1)", (3_i64,))
        .await
        .unwrap_err();
    assert!(
        matches!(&e, Error::Database { code: Some(c), .. } if c == "42883"),
        "{e:?}"
    );
    let s: String = unnamed
        .fetch_one("SELECT repeat('x', $1)", (3_i32,))
        .await
        .unwrap();
    assert_eq!(s, "xxx");
    prepared
        .execute("DROP TABLE pooler_diff", ())
        .await
        .unwrap();
}

#[tokio::test]
async fn an_enum_column_is_a_typed_error_and_its_text_cast_works() {
    let Some(b) = bouncer() else { return };
    let db = pooled(b, 2).await;
    script(
        &db,
        "DROP TABLE IF EXISTS pooler_moody; DROP TYPE IF EXISTS pooler_mood; \
         CREATE TYPE pooler_mood AS ENUM ('sad', 'ok'); \
         CREATE TABLE pooler_moody (id BIGINT PRIMARY KEY, mood pooler_mood NOT NULL)",
    )
    .await
    .unwrap();
    db.execute("INSERT INTO pooler_moody VALUES ($1, $2)", (1_i64, "ok"))
        .await
        .unwrap();
    let as_text: String = db
        .fetch_one(
            "SELECT mood::text FROM pooler_moody WHERE id = $1",
            (1_i64,),
        )
        .await
        .unwrap();
    assert_eq!(as_text, "ok");
    // The driver looks the enum type up with a named statement of its own:
    // when the pooler keeps the session, Sylvan refuses the type (a decode
    // error naming the cast); when it lands on another session, the lookup
    // fails and is reported naming the same cast. Never a hang, never a raw
    // 26000.
    for _ in 0..4 {
        let r = tokio::time::timeout(
            Duration::from_secs(10),
            db.fetch_one::<String, _>("SELECT mood FROM pooler_moody WHERE id = $1", (1_i64,)),
        )
        .await
        .expect("hung");
        assert_lookup_refused(r);
    }
    // Other clients of this process too.
    for _ in 0..3 {
        let other = pooled(b, 1).await;
        let r = other
            .fetch_one::<String, _>("SELECT mood FROM pooler_moody WHERE id = $1", (1_i64,))
            .await;
        assert_lookup_refused(r);
    }
    script(&db, "DROP TABLE pooler_moody; DROP TYPE pooler_mood")
        .await
        .unwrap();
}

/// A decode error or a refused lookup, both naming the cast.
fn assert_lookup_refused(r: sylvan::Result<String>) {
    match r {
        Err(Error::Decode { actual, .. }) => assert!(actual.contains("cast"), "{actual}"),
        Err(e @ Error::NeedsSession { .. }) => assert!(e.to_string().contains("::text"), "{e}"),
        other => panic!("{other:?}"),
    }
}
