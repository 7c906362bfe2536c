//! Bad input gives typed errors, and the (single) connection stays usable:
//! every case runs on a pool of one connection, which holds a temporary
//! marker table, and after each failure a good query must still see it.

#![allow(clippy::unwrap_used)]

use crate::support::{both_with, Kind, TestDb};
use std::sync::{Arc, Mutex};
use sylvan::prelude::*;
use sylvan::{ConstraintKind, PoolConfig};

fn one_connection() -> PoolConfig {
    PoolConfig::default().max_size(1)
}

/// The identity of the pool's one connection when the case started, by
/// test name: seeing the same one later proves the connection survived.
fn marks() -> &'static Mutex<std::collections::HashMap<String, i64>> {
    static MARKS: std::sync::OnceLock<Mutex<std::collections::HashMap<String, i64>>> =
        std::sync::OnceLock::new();
    MARKS.get_or_init(Mutex::default)
}

async fn mark_session(t: &TestDb) {
    let id = t.connection_id(&t.db).await.unwrap();
    marks().lock().unwrap().insert(t.name.clone(), id);
}

/// A good query must succeed on the same session after a failure.
async fn still_usable(t: &TestDb, after: &str) {
    let id = t
        .connection_id(&t.db)
        .await
        .unwrap_or_else(|e| panic!("{:?}: connection unusable after {after}: {e:?}", t.kind));
    let marked = marks().lock().unwrap().get(&t.name).copied();
    assert_eq!(
        Some(id),
        marked,
        "{:?}: the connection was replaced after {after}",
        t.kind
    );
    let n: i64 =
        t.db.fetch_one("SELECT CAST($1 AS BIGINT) + 1", (1_i64,))
            .await
            .unwrap_or_else(|e| panic!("{:?}: query failed after {after}: {e:?}", t.kind));
    assert_eq!(n, 2);
}

fn assert_decode(e: &Error, expected_type: &str, column_contains: &str) {
    match e {
        Error::Decode {
            column, expected, ..
        } => {
            assert_eq!(*expected, expected_type, "{e}");
            assert!(
                column.contains(column_contains),
                "column `{column}` should mention `{column_contains}`"
            );
        }
        other => panic!("expected Error::Decode, got {other:?}"),
    }
}

#[tokio::test]
async fn u64_above_i64_max_is_an_encode_error() {
    both_with("err_u64", one_connection(), |t| async move {
        mark_session(&t).await;
        t.db.execute("CREATE TABLE u (v BIGINT)", ()).await.unwrap();
        let e =
            t.db.execute("INSERT INTO u (v) VALUES ($1)", (u64::MAX,))
                .await
                .unwrap_err();
        assert!(matches!(e, Error::Encode { .. }), "{e:?}");
        still_usable(&t, "u64 encode error").await;
        let e =
            t.db.fetch_one::<i64, _>("SELECT CAST($1 AS BIGINT)", (i64::MAX as u64 + 1,))
                .await
                .unwrap_err();
        assert!(matches!(e, Error::Encode { .. }), "{e:?}");
        still_usable(&t, "u64 encode error in a fetch").await;
        // The largest u64 that fits works and comes back as u64.
        t.db.execute("INSERT INTO u (v) VALUES ($1)", (i64::MAX as u64,))
            .await
            .unwrap();
        let back: u64 = t.db.fetch_one("SELECT v FROM u", ()).await.unwrap();
        assert_eq!(back, i64::MAX as u64);
        let count: i64 = t.db.fetch_one("SELECT COUNT(*) FROM u", ()).await.unwrap();
        assert_eq!(count, 1);
        t
    })
    .await;
}

#[tokio::test]
async fn text_with_nul_is_invalid_on_postgres_and_faithful_on_sqlite() {
    both_with("err_nul", one_connection(), |t| async move {
        mark_session(&t).await;
        t.db.execute("CREATE TABLE s (id BIGINT, v TEXT)", ())
            .await
            .unwrap();
        let text = "before\0after";
        let result =
            t.db.execute("INSERT INTO s (id, v) VALUES ($1, $2)", (1_i64, text))
                .await;
        match t.kind {
            Kind::Postgres => {
                let e = result.unwrap_err();
                match &e {
                    Error::InvalidValue { index, .. } => assert_eq!(*index, 2, "{e}"),
                    other => panic!("expected InvalidValue, got {other:?}"),
                }
                still_usable(&t, "NUL text").await;
                let count: i64 = t.db.fetch_one("SELECT COUNT(*) FROM s", ()).await.unwrap();
                assert_eq!(count, 0);
            }
            Kind::Sqlite => {
                assert_eq!(result.unwrap(), 1);
                let back: String =
                    t.db.fetch_one("SELECT v FROM s WHERE id = 1", ())
                        .await
                        .unwrap();
                assert_eq!(back, text);
                let len: i64 =
                    t.db.fetch_one("SELECT length(CAST(v AS BLOB)) FROM s", ())
                        .await
                        .unwrap();
                assert_eq!(len, 12);
                let typ: String = t.db.fetch_one("SELECT typeof(v) FROM s", ()).await.unwrap();
                assert_eq!(typ, "text");
            }
        }
        t
    })
    .await;
}

#[tokio::test]
async fn wrong_column_types_are_decode_errors() {
    both_with("err_decode", one_connection(), |t| async move {
        mark_session(&t).await;
        t.db.execute(
            "CREATE TABLE m (word TEXT, num BIGINT, missing BIGINT, note TEXT)",
            (),
        )
        .await
        .unwrap();
        t.db.execute(
            "INSERT INTO m (word, num, missing, note) VALUES ('hello', 7, NULL, NULL)",
            (),
        )
        .await
        .unwrap();

        let e =
            t.db.fetch_one::<i64, _>("SELECT word FROM m", ())
                .await
                .unwrap_err();
        assert_decode(&e, "i64", "word");
        still_usable(&t, "TEXT read as i64").await;

        // Numeric-looking text is still text.
        let e =
            t.db.fetch_one::<i64, _>("SELECT CAST('12' AS TEXT)", ())
                .await
                .unwrap_err();
        assert_decode(&e, "i64", "0");
        still_usable(&t, "numeric text read as i64").await;

        let e =
            t.db.fetch_one::<String, _>("SELECT num FROM m", ())
                .await
                .unwrap_err();
        assert_decode(&e, "String", "num");
        still_usable(&t, "BIGINT read as String").await;

        let e =
            t.db.fetch_one::<i64, _>("SELECT missing FROM m", ())
                .await
                .unwrap_err();
        assert_decode(&e, "i64", "missing");
        still_usable(&t, "NULL read as i64").await;

        let e =
            t.db.fetch_one::<String, _>("SELECT note FROM m", ())
                .await
                .unwrap_err();
        assert_decode(&e, "String", "note");
        still_usable(&t, "NULL read as String").await;

        // In a tuple, the failing column is named.
        let e =
            t.db.fetch_one::<(String, i64, i64), _>("SELECT word, num, missing FROM m", ())
                .await
                .unwrap_err();
        assert_decode(&e, "i64", "2 (missing)");
        still_usable(&t, "NULL in a tuple").await;

        // The Option versions work.
        let ok: (Option<String>, Option<i64>, Option<i64>, Option<String>) =
            t.db.fetch_one("SELECT word, num, missing, note FROM m", ())
                .await
                .unwrap();
        assert_eq!(ok, (Some("hello".into()), Some(7), None, None));

        // A decode error in the middle of many rows leaves missing half-read.
        for i in 0..50_i64 {
            t.db.execute(
                "INSERT INTO m (word, num, missing) VALUES ($1, $2, $2)",
                ("w", 100 + i),
            )
            .await
            .unwrap();
        }
        // 50 good rows, then the NULL one.
        let e =
            t.db.fetch_all::<i64, _>("SELECT missing FROM m ORDER BY num DESC", ())
                .await
                .unwrap_err();
        assert_decode(&e, "i64", "missing");
        still_usable(&t, "decode error mid-stream").await;
        let count: i64 = t.db.fetch_one("SELECT COUNT(*) FROM m", ()).await.unwrap();
        assert_eq!(count, 51);
        t
    })
    .await;
}

#[tokio::test]
async fn out_of_range_reads_are_decode_errors() {
    both_with("err_range", one_connection(), |t| async move {
        mark_session(&t).await;
        t.db.execute("CREATE TABLE r (v BIGINT)", ()).await.unwrap();
        t.db.execute("INSERT INTO r (v) VALUES ($1)", (40_000_i64,))
            .await
            .unwrap();
        let e =
            t.db.fetch_one::<i16, _>("SELECT v FROM r", ())
                .await
                .unwrap_err();
        assert_decode(&e, "i16", "v");
        still_usable(&t, "i16 out of range").await;
        t.db.execute("UPDATE r SET v = $1", (3_000_000_000_i64,))
            .await
            .unwrap();
        let e =
            t.db.fetch_one::<i32, _>("SELECT v FROM r", ())
                .await
                .unwrap_err();
        assert_decode(&e, "i32", "v");
        still_usable(&t, "i32 out of range").await;
        t.db.execute("UPDATE r SET v = $1", (-1_i64,))
            .await
            .unwrap();
        let e =
            t.db.fetch_one::<u64, _>("SELECT v FROM r", ())
                .await
                .unwrap_err();
        assert_decode(&e, "u64", "v");
        still_usable(&t, "negative u64").await;
        // Integers other than 0 and 1 are not booleans.
        let e =
            t.db.fetch_one::<bool, _>("SELECT CAST(2 AS BIGINT)", ())
                .await
                .unwrap_err();
        assert_decode(&e, "bool", "0");
        still_usable(&t, "2 read as bool").await;
        // A double that is not an exact f32.
        let e =
            t.db.fetch_one::<f32, _>("SELECT CAST(0.1 AS DOUBLE PRECISION)", ())
                .await
                .unwrap_err();
        assert_decode(&e, "f32", "0");
        still_usable(&t, "0.1 read as f32").await;
        // Edges that fit.
        t.db.execute("UPDATE r SET v = $1", (-32_768_i64,))
            .await
            .unwrap();
        let v: i16 = t.db.fetch_one("SELECT v FROM r", ()).await.unwrap();
        assert_eq!(v, i16::MIN);
        t
    })
    .await;
}

#[tokio::test]
async fn wrong_bind_counts_are_bind_count_errors() {
    both_with("err_bindcount", one_connection(), |t| async move {
        mark_session(&t).await;
        t.db.execute("CREATE TABLE b (x BIGINT, y BIGINT)", ())
            .await
            .unwrap();
        let check = |e: Error, want_expected: usize, want_given: usize, sql: &str| match &e {
            Error::BindCount {
                expected,
                given,
                sql: in_error,
            } => {
                assert_eq!((*expected, *given), (want_expected, want_given), "{e}");
                // Exact text (placeholders included): see `errors_carry_the_sql_as_written`.
                assert_eq!(
                    same_modulo_placeholders(in_error),
                    same_modulo_placeholders(sql),
                    "{e}"
                );
                assert_eq!(e.sql(), Some(in_error.as_str()));
            }
            other => panic!("expected BindCount, got {other:?}"),
        };
        let sql = "INSERT INTO b (x, y) VALUES ($1, $2)";
        check(t.db.execute(sql, (1_i64,)).await.unwrap_err(), 2, 1, sql);
        still_usable(&t, "too few binds").await;
        check(
            t.db.execute(sql, (1_i64, 2_i64, 3_i64)).await.unwrap_err(),
            2,
            3,
            sql,
        );
        still_usable(&t, "too many binds").await;
        check(t.db.execute(sql, ()).await.unwrap_err(), 2, 0, sql);
        still_usable(&t, "no binds").await;

        let sql = "SELECT x FROM b WHERE x = $1 OR y = $1";
        check(
            t.db.fetch_all::<i64, _>(sql, (1_i64, 2_i64))
                .await
                .unwrap_err(),
            1,
            2,
            sql,
        );
        still_usable(&t, "too many binds for a repeated placeholder").await;

        let sql = "SELECT COUNT(*) FROM b";
        check(
            t.db.fetch_one::<i64, _>(sql, (1_i64,)).await.unwrap_err(),
            0,
            1,
            sql,
        );
        still_usable(&t, "binds for a statement without placeholders").await;

        let count: i64 = t.db.fetch_one("SELECT COUNT(*) FROM b", ()).await.unwrap();
        assert_eq!(count, 0, "nothing was inserted");
        t
    })
    .await;
}

#[tokio::test]
async fn syntax_errors_are_database_errors_with_the_sql() {
    both_with("err_syntax", one_connection(), |t| async move {
        mark_session(&t).await;
        let sql = "SELEC 1";
        let e = t.db.execute(sql, ()).await.unwrap_err();
        assert!(matches!(e, Error::Database { .. }), "{e:?}");
        assert_eq!(e.sql(), Some(sql));
        assert!(e.to_string().contains(sql), "{e}");
        if let Error::Database { code, .. } = &e {
            let want = match t.kind {
                Kind::Postgres => "42601",
                Kind::Sqlite => "SQLITE_ERROR",
            };
            assert_eq!(code.as_deref(), Some(want));
        }
        still_usable(&t, "syntax error in execute").await;

        let sql = "SELECT * FROM no_such_table";
        let e = t.db.fetch_all::<i64, _>(sql, ()).await.unwrap_err();
        assert!(matches!(e, Error::Database { .. }), "{e:?}");
        assert_eq!(e.sql(), Some(sql));
        still_usable(&t, "missing table").await;
        t
    })
    .await;
}

/// Problems found on either backend, reported together once both ran.
#[derive(Clone, Default)]
struct Failures(Arc<Mutex<Vec<String>>>);

impl Failures {
    fn add(&self, kind: Kind, what: String) {
        self.0.lock().unwrap().push(format!("{kind:?}: {what}"));
    }

    fn assert_none(&self) {
        let list = self.0.lock().unwrap();
        assert!(
            list.is_empty(),
            "{} problem(s):\n{}",
            list.len(),
            list.join("\n")
        );
    }
}

/// The error carries the statement as the caller wrote it, `$1` and all.
#[tokio::test]
async fn errors_carry_the_sql_as_written() {
    let failures = Failures::default();
    both_with("err_sql_as_written", one_connection(), |t| {
        let failures = failures.clone();
        async move {
            mark_session(&t).await;
            t.db.execute("CREATE TABLE c (v BIGINT UNIQUE)", ())
                .await
                .unwrap();
            t.db.execute("INSERT INTO c (v) VALUES (1)", ())
                .await
                .unwrap();
            let cases: [(&str, Error); 4] = [
                (
                    "SELEC $1",
                    t.db.execute("SELEC $1", (1_i64,)).await.unwrap_err(),
                ),
                (
                    "SELECT CAST($1 AS BIGINT) FROM no_such_table",
                    t.db.fetch_one::<i64, _>(
                        "SELECT CAST($1 AS BIGINT) FROM no_such_table",
                        (1_i64,),
                    )
                    .await
                    .unwrap_err(),
                ),
                (
                    "INSERT INTO c (v) VALUES ($1)",
                    t.db.execute("INSERT INTO c (v) VALUES ($1)", (1_i64,))
                        .await
                        .unwrap_err(),
                ),
                (
                    "INSERT INTO c (v) VALUES ($1), ($2)",
                    t.db.execute("INSERT INTO c (v) VALUES ($1), ($2)", (1_i64,))
                        .await
                        .unwrap_err(),
                ),
            ];
            for (sql, e) in cases {
                if e.sql() != Some(sql) {
                    failures.add(
                        t.kind,
                        format!("`{sql}` reported as {:?} in {e:?}", e.sql()),
                    );
                }
                if !e.to_string().contains(sql) {
                    failures.add(t.kind, format!("`{sql}` missing from message `{e}`"));
                }
            }
            still_usable(&t, "errors with placeholders").await;
            t
        }
    })
    .await;
    failures.assert_none();
}

async fn constraint_schema(t: &TestDb) {
    t.db.execute("CREATE TABLE parent (id BIGINT PRIMARY KEY)", ())
        .await
        .unwrap();
    t.db.execute(
        "CREATE TABLE child (
            id BIGINT PRIMARY KEY,
            parent_id BIGINT REFERENCES parent (id),
            name TEXT NOT NULL,
            qty BIGINT CONSTRAINT qty_positive CHECK (qty > 0),
            email TEXT CONSTRAINT child_email_key UNIQUE
        )",
        (),
    )
    .await
    .unwrap();
    t.db.execute("INSERT INTO parent (id) VALUES (1)", ())
        .await
        .unwrap();
    t.db.execute(
        "INSERT INTO child (id, parent_id, name, qty, email) VALUES (1, 1, 'a', 1, 'a@example.com')",
        (),
    )
    .await
    .unwrap();
}

/// The SQL with `?N` (SQLite's spelling) turned back into `$N`.
fn same_modulo_placeholders(sql: &str) -> String {
    sql.replace('?', "$")
}

/// Checks a constraint error; on PostgreSQL also the constraint name and table.
fn assert_constraint(
    t: &TestDb,
    e: &Error,
    kind: ConstraintKind,
    pg_constraint: Option<&str>,
    sql: &str,
) {
    match e {
        Error::Constraint {
            kind: k,
            constraint,
            table,
            ..
        } => {
            assert_eq!(*k, kind, "{e}");
            assert_eq!(e.constraint_kind(), Some(kind));
            // Exact text (placeholders included): see `errors_carry_the_sql_as_written`.
            assert_eq!(
                e.sql().map(same_modulo_placeholders),
                Some(same_modulo_placeholders(sql)),
                "{e}"
            );
            assert!(!e.is_retryable());
            match t.kind {
                Kind::Postgres => {
                    assert_eq!(constraint.as_deref(), pg_constraint, "{e}");
                    let want_table =
                        if kind == ConstraintKind::Unique && pg_constraint == Some("parent_pkey") {
                            "parent"
                        } else {
                            "child"
                        };
                    assert_eq!(table.as_deref(), Some(want_table), "{e}");
                }
                Kind::Sqlite => {
                    // SQLite names the table for UNIQUE and NOT NULL; never a wrong one.
                    assert!(
                        table.is_none()
                            || table.as_deref() == Some("child")
                            || table.as_deref() == Some("parent"),
                        "{e}"
                    );
                }
            }
        }
        other => panic!("expected Error::Constraint({kind}), got {other:?}"),
    }
}

#[tokio::test]
async fn constraint_violations_are_typed() {
    both_with("err_constraints", one_connection(), |t| async move {
        mark_session(&t).await;
        constraint_schema(&t).await;

        let sql = "INSERT INTO child (id, parent_id, name, qty, email) VALUES ($1, $2, $3, $4, $5)";
        let e =
            t.db.execute(sql, (2_i64, 1_i64, "b", 1_i64, "a@example.com"))
                .await
                .unwrap_err();
        assert_constraint(&t, &e, ConstraintKind::Unique, Some("child_email_key"), sql);
        assert!(e.is_unique_violation());
        if t.kind == Kind::Sqlite {
            assert!(
                matches!(&e, Error::Constraint { table: Some(table), .. } if table == "child"),
                "{e:?}"
            );
        }
        still_usable(&t, "unique violation").await;

        let e =
            t.db.execute(sql, (1_i64, 1_i64, "b", 1_i64, "b@example.com"))
                .await
                .unwrap_err();
        assert_constraint(&t, &e, ConstraintKind::Unique, Some("child_pkey"), sql);
        still_usable(&t, "primary key violation").await;

        let e =
            t.db.execute("INSERT INTO parent (id) VALUES ($1)", (1_i64,))
                .await
                .unwrap_err();
        assert_constraint(
            &t,
            &e,
            ConstraintKind::Unique,
            Some("parent_pkey"),
            "INSERT INTO parent (id) VALUES ($1)",
        );
        still_usable(&t, "parent primary key violation").await;

        let e =
            t.db.execute(sql, (3_i64, 99_i64, "c", 1_i64, "c@example.com"))
                .await
                .unwrap_err();
        assert_constraint(
            &t,
            &e,
            ConstraintKind::ForeignKey,
            Some("child_parent_id_fkey"),
            sql,
        );
        assert!(e.is_foreign_key_violation());
        still_usable(&t, "foreign key violation").await;

        // Deleting a referenced parent.
        let e =
            t.db.execute("DELETE FROM parent WHERE id = $1", (1_i64,))
                .await
                .unwrap_err();
        assert!(e.is_foreign_key_violation(), "{e:?}");
        still_usable(&t, "foreign key violation on delete").await;

        let e =
            t.db.execute(sql, (4_i64, 1_i64, None::<String>, 1_i64, "d@example.com"))
                .await
                .unwrap_err();
        assert_constraint(&t, &e, ConstraintKind::NotNull, None, sql);
        assert!(e.is_not_null_violation());
        if t.kind == Kind::Sqlite {
            assert!(
                matches!(&e, Error::Constraint { table: Some(table), .. } if table == "child"),
                "{e:?}"
            );
        }
        still_usable(&t, "not null violation").await;

        let e =
            t.db.execute(sql, (5_i64, 1_i64, "e", 0_i64, "e@example.com"))
                .await
                .unwrap_err();
        assert_constraint(&t, &e, ConstraintKind::Check, Some("qty_positive"), sql);
        assert!(e.is_check_violation());
        still_usable(&t, "check violation").await;

        // Nothing but the first child got in.
        let ids: Vec<i64> =
            t.db.fetch_all("SELECT id FROM child ORDER BY id", ())
                .await
                .unwrap();
        assert_eq!(ids, vec![1]);
        t
    })
    .await;
}

/// SQLite reports `CHECK constraint failed: <expression>` for an unnamed
/// check; the table must not be guessed from a dot inside the expression.
#[tokio::test]
async fn sqlite_check_violation_table_is_not_guessed_from_the_expression() {
    let t = TestDb::sqlite_file("err_check_table", one_connection()).await;
    t.db.execute("CREATE TABLE prices (amount REAL CHECK (amount > 0.5))", ())
        .await
        .unwrap();
    let e =
        t.db.execute("INSERT INTO prices (amount) VALUES ($1)", (0.25_f64,))
            .await
            .unwrap_err();
    match &e {
        Error::Constraint { kind, table, .. } => {
            assert_eq!(*kind, ConstraintKind::Check);
            assert!(
                table.is_none() || table.as_deref() == Some("prices"),
                "bogus table: {e:?}"
            );
        }
        other => panic!("expected a check violation, got {other:?}"),
    }
    t.cleanup().await;
}

#[tokio::test]
async fn postgres_narrow_integer_parameters_are_range_checked() {
    both_with("err_pg_int_range", one_connection(), |t| async move {
        mark_session(&t).await;
        t.db.execute(
            "CREATE TABLE n (id BIGINT, small SMALLINT, normal INTEGER, single REAL)",
            (),
        )
        .await
        .unwrap();
        let sql = "INSERT INTO n (id, normal) VALUES ($1, $2)";
        let result = t.db.execute(sql, (1_i64, 3_000_000_000_i64)).await;
        match t.kind {
            Kind::Postgres => {
                let e = result.unwrap_err();
                assert!(matches!(e, Error::InvalidValue { index: 2, .. }), "{e:?}");
                still_usable(&t, "i64 into INTEGER").await;
                let e =
                    t.db.execute(
                        "INSERT INTO n (id, small) VALUES ($1, $2)",
                        (2_i64, 40_000_i32),
                    )
                    .await
                    .unwrap_err();
                assert!(matches!(e, Error::InvalidValue { index: 2, .. }), "{e:?}");
                still_usable(&t, "i32 into SMALLINT").await;
                // A float that REAL cannot hold exactly.
                let e =
                    t.db.execute(
                        "INSERT INTO n (id, single) VALUES ($1, $2)",
                        (3_i64, 0.1_f64),
                    )
                    .await
                    .unwrap_err();
                assert!(matches!(e, Error::InvalidValue { index: 2, .. }), "{e:?}");
                still_usable(&t, "0.1 into REAL").await;
                // Wrong kinds of value.
                let e =
                    t.db.execute("INSERT INTO n (id, normal) VALUES ($1, $2)", (4_i64, "12"))
                        .await
                        .unwrap_err();
                assert!(matches!(e, Error::InvalidValue { index: 2, .. }), "{e:?}");
                still_usable(&t, "text into INTEGER").await;
                let e =
                    t.db.execute("INSERT INTO n (id, normal) VALUES ($1, $2)", (5_i64, true))
                        .await
                        .unwrap_err();
                assert!(matches!(e, Error::InvalidValue { index: 2, .. }), "{e:?}");
                still_usable(&t, "bool into INTEGER").await;
                // The edges fit.
                t.db.execute(
                    "INSERT INTO n (id, small, normal, single) VALUES ($1, $2, $3, $4)",
                    (6_i64, i64::from(i16::MIN), i64::from(i32::MAX), 0.5_f64),
                )
                .await
                .unwrap();
                let row: (i16, i32, f32) =
                    t.db.fetch_one("SELECT small, normal, single FROM n", ())
                        .await
                        .unwrap();
                assert_eq!(row, (i16::MIN, i32::MAX, 0.5));
            }
            Kind::Sqlite => {
                // SQLite integers are 64-bit whatever the declared type.
                result.unwrap();
                let v: i64 = t.db.fetch_one("SELECT normal FROM n", ()).await.unwrap();
                assert_eq!(v, 3_000_000_000);
                let e =
                    t.db.fetch_one::<i32, _>("SELECT normal FROM n", ())
                        .await
                        .unwrap_err();
                assert_decode(&e, "i32", "normal");
                still_usable(&t, "i32 decode").await;
            }
        }
        t
    })
    .await;
}

#[tokio::test]
async fn nan_is_refused_by_sqlite_and_kept_by_postgres() {
    both_with("err_nan", one_connection(), |t| async move {
        mark_session(&t).await;
        t.db.execute(
            &format!("CREATE TABLE f (id BIGINT, d {}, r REAL)", t.double_type()),
            (),
        )
        .await
        .unwrap();
        match t.kind {
            Kind::Sqlite => {
                let e =
                    t.db.execute("INSERT INTO f (id, d) VALUES ($1, $2)", (1_i64, f64::NAN))
                        .await
                        .unwrap_err();
                assert!(matches!(e, Error::InvalidValue { index: 2, .. }), "{e:?}");
                still_usable(&t, "f64 NaN").await;
                let e =
                    t.db.execute("INSERT INTO f (id, r) VALUES ($1, $2)", (2_i64, f32::NAN))
                        .await
                        .unwrap_err();
                assert!(matches!(e, Error::InvalidValue { index: 2, .. }), "{e:?}");
                still_usable(&t, "f32 NaN").await;
                let e =
                    t.db.fetch_one::<Option<f64>, _>("SELECT $1", (-f64::NAN,))
                        .await
                        .unwrap_err();
                assert!(matches!(e, Error::InvalidValue { index: 1, .. }), "{e:?}");
                still_usable(&t, "NaN in a SELECT").await;
                let count: i64 = t.db.fetch_one("SELECT COUNT(*) FROM f", ()).await.unwrap();
                assert_eq!(count, 0, "nothing (and no NULL) was stored");
            }
            Kind::Postgres => {
                t.db.execute(
                    "INSERT INTO f (id, d, r) VALUES ($1, $2, $3)",
                    (1_i64, f64::NAN, f32::NAN),
                )
                .await
                .unwrap();
                // f64 NaN into REAL too.
                t.db.execute(
                    "INSERT INTO f (id, d, r) VALUES ($1, $2, $3)",
                    (2_i64, -f64::NAN, f64::NAN),
                )
                .await
                .unwrap();
                let rows: Vec<(f64, f32)> =
                    t.db.fetch_all("SELECT d, r FROM f ORDER BY id", ())
                        .await
                        .unwrap();
                assert_eq!(rows.len(), 2);
                for (d, r) in rows {
                    assert!(d.is_nan() && r.is_nan(), "{d} {r}");
                }
                let nan_rows: i64 =
                    t.db.fetch_one("SELECT COUNT(*) FROM f WHERE d = 'NaN' AND r = 'NaN'", ())
                        .await
                        .unwrap();
                assert_eq!(nan_rows, 2, "stored as NaN, not NULL");
                let r64: f64 =
                    t.db.fetch_one("SELECT r FROM f WHERE id = 1", ())
                        .await
                        .unwrap();
                assert!(r64.is_nan());
            }
        }
        t
    })
    .await;
}

#[tokio::test]
async fn sqlite_invalid_utf8_text_is_a_decode_error_but_readable_as_bytes() {
    let t = TestDb::sqlite_file("err_utf8", one_connection()).await;
    mark_session(&t).await;
    t.db.execute("CREATE TABLE u (id INTEGER PRIMARY KEY, v TEXT)", ())
        .await
        .unwrap();
    let bad = vec![0x61_u8, 0xff, 0xfe, 0x62];
    // Through SQL: a blob cast to text keeps its bytes.
    t.db.execute(
        "INSERT INTO u (id, v) VALUES (1, CAST($1 AS TEXT))",
        (bad.clone(),),
    )
    .await
    .unwrap();
    // Through the raw connection: bytes bound as text.
    let raw = bad.clone();
    t.db.interact(move |c| {
        let text = sylvan::rusqlite::types::ValueRef::Text(&raw);
        c.execute(
            "INSERT INTO u (id, v) VALUES (2, ?1)",
            [sylvan::rusqlite::types::ToSqlOutput::Borrowed(text)],
        )
    })
    .await
    .unwrap()
    .unwrap();
    // An `interact` closure may change the connection's state, so that
    // connection is closed, by design, when it goes back to the pool.
    mark_session(&t).await;
    let types: Vec<String> =
        t.db.fetch_all("SELECT typeof(v) FROM u ORDER BY id", ())
            .await
            .unwrap();
    assert_eq!(types, vec!["text", "text"]);

    for id in [1_i64, 2] {
        let e =
            t.db.fetch_one::<String, _>("SELECT v FROM u WHERE id = $1", (id,))
                .await
                .unwrap_err();
        assert_decode(&e, "String", "v");
        still_usable(&t, "invalid UTF-8 read as String").await;
        let bytes: Vec<u8> =
            t.db.fetch_one("SELECT v FROM u WHERE id = $1", (id,))
                .await
                .unwrap();
        assert_eq!(bytes, bad);
        let value: sylvan::Value =
            t.db.fetch_one("SELECT v FROM u WHERE id = $1", (id,))
                .await
                .unwrap();
        assert_eq!(value, sylvan::Value::Blob(bad.clone()));
        let e =
            t.db.fetch_one::<Option<String>, _>("SELECT v FROM u WHERE id = $1", (id,))
                .await
                .unwrap_err();
        assert_decode(&e, "String", "v");
        still_usable(&t, "invalid UTF-8 read as Option<String>").await;
    }
    t.cleanup().await;
}

const SECRET: &str = "hunter2-very-secret-value";

fn assert_no_secret(e: &Error, secret: &str) {
    let display = e.to_string();
    let debug = format!("{e:?}");
    assert!(
        !display.contains(secret),
        "value leaked into Display: {display}"
    );
    assert!(!debug.contains(secret), "value leaked into Debug: {debug}");
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        assert!(
            !s.to_string().contains(secret),
            "value leaked into a source: {s}"
        );
        source = s.source();
    }
}

#[tokio::test]
async fn errors_never_contain_bound_text() {
    both_with("err_no_secret_text", one_connection(), |t| async move {
        mark_session(&t).await;
        t.db.execute("CREATE TABLE acct (id BIGINT PRIMARY KEY, token TEXT UNIQUE, pin BIGINT CHECK (pin > 0))", ())
            .await
            .unwrap();
        let sql = "INSERT INTO acct (id, token, pin) VALUES ($1, $2, $3)";
        t.db.execute(sql, (1_i64, SECRET, 1_i64)).await.unwrap();

        let e = t.db.execute(sql, (2_i64, SECRET, 1_i64)).await.unwrap_err();
        assert!(e.is_unique_violation(), "{e:?}");
        assert_no_secret(&e, SECRET);
        still_usable(&t, "unique violation with a secret").await;

        let e = t.db.execute(sql, (3_i64, format!("{SECRET}-2"), -5_i64)).await.unwrap_err();
        assert!(e.is_check_violation(), "{e:?}");
        assert_no_secret(&e, SECRET);
        still_usable(&t, "check violation with a secret").await;

        let e = t.db.execute(sql, (4_i64, SECRET)).await.unwrap_err();
        assert!(matches!(e, Error::BindCount { .. }), "{e:?}");
        assert_no_secret(&e, SECRET);

        let e = t.db.execute("INSERT INTO acct (id, token) VALUES ($1, $2)", (5_i64, format!("{SECRET}\0")))
            .await;
        if t.kind == Kind::Postgres {
            let e = e.unwrap_err();
            assert!(matches!(e, Error::InvalidValue { .. }), "{e:?}");
            assert_no_secret(&e, SECRET);
        }
        still_usable(&t, "NUL text with a secret").await;

        // Text where a number belongs.
        let e = t.db.fetch_one::<i64, _>("SELECT token FROM acct WHERE id = $1", (1_i64,)).await.unwrap_err();
        assert_decode(&e, "i64", "token");
        assert_no_secret(&e, SECRET);
        if t.kind == Kind::Postgres {
            let e = t.db.execute("INSERT INTO acct (id, pin) VALUES ($1, $2)", (6_i64, SECRET)).await.unwrap_err();
            assert!(matches!(e, Error::InvalidValue { .. }), "{e:?}");
            assert_no_secret(&e, SECRET);
        }
        still_usable(&t, "decode error with a secret").await;
        t
    })
    .await;
}

/// Numbers can be secrets too (PINs, account numbers): the crate promises
/// bind values never appear in an error, and decode errors never show the
/// value found.
#[tokio::test]
async fn errors_never_contain_bound_or_read_numbers() {
    let failures = Failures::default();
    both_with("err_no_secret_numbers", one_connection(), |t| {
        let failures = failures.clone();
        async move {
            mark_session(&t).await;
            let check = |what: &str, e: &Error, secret: &str| {
                let shown = format!("{e} / {e:?}");
                if shown.contains(secret) {
                    failures.add(t.kind, format!("{what}: `{secret}` appears in {shown}"));
                }
            };
            let secret_u64: u64 = 18_446_744_073_709_550_123;
            let e =
                t.db.fetch_one::<i64, _>("SELECT CAST($1 AS BIGINT)", (secret_u64,))
                    .await
                    .unwrap_err();
            assert!(matches!(e, Error::Encode { .. }), "{e:?}");
            check("u64 encode error", &e, &secret_u64.to_string());

            t.db.execute(
                "CREATE TABLE pins (id BIGINT, pin BIGINT, four INTEGER, r REAL, flag BIGINT)",
                (),
            )
            .await
            .unwrap();
            let secret_pin: i64 = 4_198_765_432;
            if t.kind == Kind::Postgres {
                let e =
                    t.db.execute(
                        "INSERT INTO pins (id, four) VALUES ($1, $2)",
                        (1_i64, secret_pin),
                    )
                    .await
                    .unwrap_err();
                assert!(matches!(e, Error::InvalidValue { .. }), "{e:?}");
                check("i64 into INTEGER", &e, &secret_pin.to_string());
                let e =
                    t.db.execute(
                        "INSERT INTO pins (id, r) VALUES ($1, $2)",
                        (1_i64, 0.123_456_789_f64),
                    )
                    .await
                    .unwrap_err();
                assert!(matches!(e, Error::InvalidValue { .. }), "{e:?}");
                check("f64 into REAL", &e, "0.123456789");
                still_usable(&t, "range errors").await;
            }

            t.db.execute(
                "INSERT INTO pins (id, pin, r, flag) VALUES ($1, $2, $3, $4)",
                (2_i64, secret_pin, 0.5_f64, 7_i64),
            )
            .await
            .unwrap();
            let e =
                t.db.fetch_one::<i32, _>("SELECT pin FROM pins WHERE id = 2", ())
                    .await
                    .unwrap_err();
            assert_decode(&e, "i32", "pin");
            check("BIGINT read as i32", &e, &secret_pin.to_string());
            let e =
                t.db.fetch_one::<bool, _>("SELECT flag FROM pins WHERE id = 2", ())
                    .await
                    .unwrap_err();
            assert_decode(&e, "bool", "flag");
            check("7 read as bool", &e, "integer 7");
            let e = t
                .db
                .fetch_one::<f32, _>("SELECT CAST($1 AS DOUBLE PRECISION)", (0.123_456_789_f64,))
                .await
                .unwrap_err();
            assert_decode(&e, "f32", "0");
            check("double read as f32", &e, "0.123456789");
            still_usable(&t, "decode range errors").await;
            t
        }
    })
    .await;
    failures.assert_none();
}
