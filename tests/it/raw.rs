//! The raw executor API: row counts, fetch cardinalities, placeholders,
//! `RETURNING` routing, checked-out connections, URLs, `interact` and
//! dynamic bind lists — each on SQLite and PostgreSQL.

#![allow(clippy::unwrap_used)]

use crate::support::{both, Kind, TestDb};
use sylvan::prelude::*;
use sylvan::{Connection, ToValue, Value};

/// `CREATE TABLE items` with three rows `(1, 10, 'a')`, `(2, 20, 'b')`, `(3, 30, 'c')`.
async fn items(t: &TestDb) {
    t.db.execute(
        "CREATE TABLE items (id BIGINT PRIMARY KEY, n BIGINT NOT NULL, name TEXT NOT NULL)",
        (),
    )
    .await
    .unwrap();
    for (id, n, name) in [(1_i64, 10_i64, "a"), (2, 20, "b"), (3, 30, "c")] {
        let changed =
            t.db.execute(
                "INSERT INTO items (id, n, name) VALUES ($1, $2, $3)",
                (id, n, name),
            )
            .await
            .unwrap();
        assert_eq!(changed, 1);
    }
}

#[tokio::test]
async fn execute_returns_affected_row_counts() {
    both("execute_counts", |t| async move {
        items(&t).await;
        assert_eq!(
            t.db.execute("UPDATE items SET n = n + 1", ())
                .await
                .unwrap(),
            3
        );
        assert_eq!(
            t.db.execute("UPDATE items SET n = n + 1 WHERE id >= $1", (2_i64,))
                .await
                .unwrap(),
            2
        );
        assert_eq!(
            t.db.execute("UPDATE items SET n = 0 WHERE id = $1", (99_i64,))
                .await
                .unwrap(),
            0
        );
        assert_eq!(
            t.db.execute(
                "INSERT INTO items (id, n, name) VALUES (4, 4, 'd'), (5, 5, 'e'), (6, 6, 'f')",
                ()
            )
            .await
            .unwrap(),
            3
        );
        assert_eq!(
            t.db.execute(
                "INSERT INTO items (id, n, name) SELECT id + 100, n, name FROM items WHERE id > $1",
                (100_i64,)
            )
            .await
            .unwrap(),
            0
        );
        assert_eq!(
            t.db.execute("DELETE FROM items WHERE id IN ($1, $2)", (5_i64, 6_i64))
                .await
                .unwrap(),
            2
        );
        // An INSERT … RETURNING run through `execute` still reports changes.
        assert_eq!(
            t.db.execute(
                "INSERT INTO items (id, n, name) VALUES (7, 7, 'g') RETURNING id",
                ()
            )
            .await
            .unwrap(),
            1
        );
        let n: Vec<(i64, i64)> =
            t.db.fetch_all("SELECT id, n FROM items ORDER BY id", ())
                .await
                .unwrap();
        assert_eq!(n, vec![(1, 11), (2, 22), (3, 32), (4, 4), (7, 7)]);
        t
    })
    .await;
}

/// Statements that change no rows report 0, whatever ran before them on the
/// same connection.
#[tokio::test]
async fn execute_of_ddl_reports_zero_rows() {
    let failures = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    both("execute_ddl_zero", |t| {
        let failures = failures.clone();
        async move {
            items(&t).await;
            for ddl in [
                "CREATE TABLE other (x BIGINT)",
                "CREATE INDEX items_n ON items (n)",
                "DROP TABLE other",
            ] {
                assert_eq!(
                    t.db.execute("UPDATE items SET n = n + 1", ())
                        .await
                        .unwrap(),
                    3
                );
                let n = t.db.execute(ddl, ()).await.unwrap();
                if n != 0 {
                    failures
                        .lock()
                        .unwrap()
                        .push(format!("{:?}: `{ddl}` reported {n} rows", t.kind));
                }
            }
            t
        }
    })
    .await;
    let failures = failures.lock().unwrap();
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

type Wide16 = (
    i64,
    i64,
    i64,
    i64,
    i64,
    i64,
    i64,
    i64,
    i64,
    i64,
    i64,
    i64,
    i64,
    i64,
    i64,
    i64,
);

#[tokio::test]
async fn fetch_all_into_tuples_and_scalars() {
    both("fetch_all", |t| async move {
        items(&t).await;
        let rows: Vec<(i64, i64, String)> =
            t.db.fetch_all("SELECT id, n, name FROM items ORDER BY id", ())
                .await
                .unwrap();
        assert_eq!(
            rows,
            vec![
                (1, 10, "a".to_owned()),
                (2, 20, "b".to_owned()),
                (3, 30, "c".to_owned())
            ]
        );
        let names: Vec<String> =
            t.db.fetch_all(
                "SELECT name FROM items WHERE n > $1 ORDER BY name DESC",
                (15_i64,),
            )
            .await
            .unwrap();
        assert_eq!(names, vec!["c", "b"]);
        let none: Vec<i64> =
            t.db.fetch_all("SELECT id FROM items WHERE n > $1", (1000_i64,))
                .await
                .unwrap();
        assert!(none.is_empty());
        // Only the first column is read for a scalar.
        let ids: Vec<i64> =
            t.db.fetch_all("SELECT id, name FROM items ORDER BY id", ())
                .await
                .unwrap();
        assert_eq!(ids, vec![1, 2, 3]);
        // Aggregates.
        let (count, total): (i64, i64) =
            t.db.fetch_one("SELECT COUNT(*), CAST(SUM(n) AS BIGINT) FROM items", ())
                .await
                .unwrap();
        assert_eq!((count, total), (3, 60));
        // A wide tuple.
        let wide: Wide16 =
            t.db.fetch_one(
                "SELECT 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16",
                (),
            )
            .await
            .unwrap();
        assert_eq!((wide.0, wide.7, wide.14, wide.15), (1, 8, 15, 16));
        let sum = wide.0
            + wide.1
            + wide.2
            + wide.3
            + wide.4
            + wide.5
            + wide.6
            + wide.7
            + wide.8
            + wide.9
            + wide.10
            + wide.11
            + wide.12
            + wide.13
            + wide.14
            + wide.15;
        assert_eq!(sum, 136);
        t
    })
    .await;
}

#[tokio::test]
async fn fetch_one_needs_exactly_one_row() {
    both("fetch_one", |t| async move {
        items(&t).await;
        let name: String =
            t.db.fetch_one("SELECT name FROM items WHERE id = $1", (2_i64,))
                .await
                .unwrap();
        assert_eq!(name, "b");

        let e =
            t.db.fetch_one::<String, _>("SELECT name FROM items WHERE id = $1", (42_i64,))
                .await
                .unwrap_err();
        assert!(matches!(e, Error::NotFound), "{e:?}");
        assert!(e.is_not_found());

        let e =
            t.db.fetch_one::<String, _>("SELECT name FROM items WHERE id <= $1", (2_i64,))
                .await
                .unwrap_err();
        assert!(matches!(e, Error::TooManyRows), "{e:?}");
        assert!(!e.is_not_found());

        let e =
            t.db.fetch_one::<i64, _>("SELECT id FROM items", ())
                .await
                .unwrap_err();
        assert!(matches!(e, Error::TooManyRows), "{e:?}");
        t
    })
    .await;
}

#[tokio::test]
async fn fetch_optional_gives_none_some_or_too_many() {
    both("fetch_optional", |t| async move {
        items(&t).await;
        let none: Option<String> =
            t.db.fetch_optional("SELECT name FROM items WHERE id = $1", (42_i64,))
                .await
                .unwrap();
        assert_eq!(none, None);
        let some: Option<(i64, String)> =
            t.db.fetch_optional("SELECT n, name FROM items WHERE id = $1", (3_i64,))
                .await
                .unwrap();
        assert_eq!(some, Some((30, "c".to_owned())));
        let e =
            t.db.fetch_optional::<String, _>("SELECT name FROM items", ())
                .await
                .unwrap_err();
        assert!(matches!(e, Error::TooManyRows), "{e:?}");
        // A NULL in the one row is Some(None), not None.
        let null: Option<Option<i64>> =
            t.db.fetch_optional("SELECT CAST(NULL AS BIGINT)", ())
                .await
                .unwrap();
        assert_eq!(null, Some(None));
        t
    })
    .await;
}

#[tokio::test]
async fn optional_ext_turns_not_found_into_none() {
    both("optional_ext", |t| async move {
        items(&t).await;
        let found =
            t.db.fetch_one::<String, _>("SELECT name FROM items WHERE id = $1", (1_i64,))
                .await
                .optional()
                .unwrap();
        assert_eq!(found, Some("a".to_owned()));
        let missing =
            t.db.fetch_one::<String, _>("SELECT name FROM items WHERE id = $1", (9_i64,))
                .await
                .optional()
                .unwrap();
        assert_eq!(missing, None);
        // Other errors stay errors.
        let e =
            t.db.fetch_one::<String, _>("SELECT name FROM items", ())
                .await
                .optional()
                .unwrap_err();
        assert!(matches!(e, Error::TooManyRows), "{e:?}");
        let e =
            t.db.fetch_one::<String, _>("SELECT name FROM no_such_table", ())
                .await
                .optional()
                .unwrap_err();
        assert!(matches!(e, Error::Database { .. }), "{e:?}");
        t
    })
    .await;
}

#[tokio::test]
async fn placeholders_bind_by_number_on_both_backends() {
    both("placeholders", |t| async move {
        // Reordered: $2 before $1.
        let s: String = t.db.fetch_one(
            "SELECT CAST($2 AS TEXT) || '-' || CAST($1 AS TEXT)",
            ("first", "second"),
        )
        .await
        .unwrap();
        assert_eq!(s, "second-first");
        let d: i64 = t.db.fetch_one("SELECT CAST($2 AS BIGINT) - CAST($1 AS BIGINT)", (1_i64, 10_i64))
            .await
            .unwrap();
        assert_eq!(d, 9);

        // Repeated: one bind for two uses.
        let r: i64 = t.db.fetch_one("SELECT CAST($1 AS BIGINT) * 10 + CAST($1 AS BIGINT)", (3_i64,))
            .await
            .unwrap();
        assert_eq!(r, 33);
        let r: (i64, String, i64) = t.db.fetch_one(
            "SELECT CAST($1 AS BIGINT), CAST($2 AS TEXT), CAST($1 AS BIGINT) + CAST($3 AS BIGINT)",
            (5_i64, "x", 100_i64),
        )
        .await
        .unwrap();
        assert_eq!(r, (5, "x".to_owned(), 105));

        // `$1` inside literals, quoted identifiers and comments is text.
        let lit: (String, String, String) = t.db.fetch_one(
            "SELECT '$1', 'it''s $2', CAST($1 AS TEXT) -- $2 in a comment\n",
            ("bound",),
        )
        .await
        .unwrap();
        assert_eq!(lit, ("$1".to_owned(), "it's $2".to_owned(), "bound".to_owned()));
        let quoted: String = t.db.fetch_one(
            "SELECT \"$1\" FROM (SELECT CAST($1 AS TEXT) AS \"$1\") AS sub /* $2 */",
            ("q",),
        )
        .await
        .unwrap();
        assert_eq!(quoted, "q");

        // Two-digit placeholders are not `$1` followed by `0`.
        let sql = "SELECT CAST($10 AS BIGINT) + CAST($1 AS BIGINT) + CAST($2 AS BIGINT) + CAST($3 AS BIGINT) + CAST($4 AS BIGINT) \
                   + CAST($5 AS BIGINT) + CAST($6 AS BIGINT) + CAST($7 AS BIGINT) + CAST($8 AS BIGINT) + CAST($9 AS BIGINT)";
        let total: i64 = t.db.fetch_one(sql, (1_i64, 2_i64, 3_i64, 4_i64, 5_i64, 6_i64, 7_i64, 8_i64, 9_i64, 1000_i64))
            .await
            .unwrap();
        assert_eq!(total, 1045);

        // Same rules for writes.
        t.db.execute("CREATE TABLE p (a TEXT, b TEXT, c TEXT)", ()).await.unwrap();
        t.db.execute("INSERT INTO p (a, b, c) VALUES ($2, '$1', $1)", ("one", "two")).await.unwrap();
        let row: (String, String, String) = t.db.fetch_one("SELECT a, b, c FROM p", ()).await.unwrap();
        assert_eq!(row, ("two".to_owned(), "$1".to_owned(), "one".to_owned()));
        t
    })
    .await;
}

#[tokio::test]
async fn insert_returning_through_fetch() {
    both("insert_returning", |t| async move {
        let ddl = match t.kind {
            Kind::Sqlite => "CREATE TABLE r (id INTEGER PRIMARY KEY AUTOINCREMENT, name TEXT NOT NULL)",
            Kind::Postgres => "CREATE TABLE r (id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY, name TEXT NOT NULL)",
        };
        t.db.execute(ddl, ()).await.unwrap();

        // A fetch that writes: on SQLite this must go to the writer.
        let id1: i64 = t.db.fetch_one("INSERT INTO r (name) VALUES ($1) RETURNING id", ("ada",))
            .await
            .unwrap();
        let id2: i64 = t.db.fetch_one("INSERT INTO r (name) VALUES ($1) RETURNING id", ("bob",))
            .await
            .unwrap();
        assert!(id2 > id1);
        let back: (i64, String) =
            t.db.fetch_one("INSERT INTO r (name) VALUES ($1) RETURNING id, name", ("cy",)).await.unwrap();
        assert!(back.0 > id2);
        assert_eq!(back.1, "cy");

        // Multi-row RETURNING through fetch_all.
        let ids: Vec<i64> = t.db.fetch_all(
            "INSERT INTO r (name) VALUES ($1), ($2), ($3) RETURNING id",
            ("d", "e", "f"),
        )
        .await
        .unwrap();
        assert_eq!(ids.len(), 3);

        // WITH … INSERT … RETURNING: starts like a read, but writes.
        let id_with: i64 = t.db.fetch_one(
            "WITH src AS (SELECT CAST($1 AS TEXT) AS name) INSERT INTO r (name) SELECT name FROM src RETURNING id",
            ("with",),
        )
        .await
        .unwrap();
        assert!(id_with > ids[2]);

        // fetch_optional of an UPDATE … RETURNING.
        let renamed: Option<String> = t.db.fetch_optional(
            "UPDATE r SET name = $1 WHERE id = $2 RETURNING name",
            ("ada2", id1),
        )
        .await
        .unwrap();
        assert_eq!(renamed.as_deref(), Some("ada2"));

        // Everything was committed and is visible to plain reads.
        let names: Vec<String> = t.db.fetch_all("SELECT name FROM r ORDER BY id", ()).await.unwrap();
        assert_eq!(names, vec!["ada2", "bob", "cy", "d", "e", "f", "with"]);
        let count: i64 = t.db.fetch_one("SELECT COUNT(*) FROM r", ()).await.unwrap();
        assert_eq!(count, 7);

        if t.kind == Kind::Postgres {
            // A data-modifying CTE (PostgreSQL only).
            let id: i64 = t.db.fetch_one(
                "WITH ins AS (INSERT INTO r (name) VALUES ($1) RETURNING id) SELECT id FROM ins",
                ("cte",),
            )
            .await
            .unwrap();
            let name: String = t.db.fetch_one("SELECT name FROM r WHERE id = $1", (id,)).await.unwrap();
            assert_eq!(name, "cte");
        }
        t
    })
    .await;
}

/// Generic over anything that runs SQL.
async fn count_items<E: Executor>(e: &E) -> i64 {
    e.fetch_one("SELECT COUNT(*) FROM items", ()).await.unwrap()
}

#[tokio::test]
async fn checked_out_connection_is_an_executor() {
    both("connection_executor", |t| async move {
        items(&t).await;
        let conn: Connection = t.db.acquire().await.unwrap();
        assert_eq!(conn.dialect(), t.db.dialect());
        assert_eq!(
            conn.execute("UPDATE items SET n = n * 2 WHERE id > $1", (1_i64,))
                .await
                .unwrap(),
            2
        );
        let rows: Vec<(i64, i64)> = conn
            .fetch_all("SELECT id, n FROM items ORDER BY id", ())
            .await
            .unwrap();
        assert_eq!(rows, vec![(1, 10), (2, 40), (3, 60)]);
        let one: String = conn
            .fetch_one("SELECT name FROM items WHERE id = $1", (1_i64,))
            .await
            .unwrap();
        assert_eq!(one, "a");
        let none: Option<String> = conn
            .fetch_optional("SELECT name FROM items WHERE id = $1", (9_i64,))
            .await
            .unwrap();
        assert_eq!(none, None);
        let e = conn
            .fetch_one::<i64, _>("SELECT id FROM items WHERE id = $1", (9_i64,))
            .await
            .unwrap_err();
        assert!(e.is_not_found(), "{e:?}");
        let id: i64 = conn
            .fetch_one(
                "INSERT INTO items (id, n, name) VALUES ($1, 0, 'z') RETURNING id",
                (10_i64,),
            )
            .await
            .unwrap();
        assert_eq!(id, 10);

        // Session state stays on the connection.
        conn.execute("CREATE TEMP TABLE session_only (x BIGINT)", ())
            .await
            .unwrap();
        conn.execute("INSERT INTO session_only (x) VALUES ($1)", (7_i64,))
            .await
            .unwrap();
        let x: i64 = conn
            .fetch_one("SELECT x FROM session_only", ())
            .await
            .unwrap();
        assert_eq!(x, 7);

        // Generic code takes both a Database and a Connection (and references).
        assert_eq!(count_items(&conn).await, 4);
        assert_eq!(count_items(&&conn).await, 4);
        drop(conn);
        assert_eq!(count_items(&t.db).await, 4);
        t
    })
    .await;
}

#[tokio::test]
async fn sqlite_reader_connection_refuses_writes() {
    let t = TestDb::sqlite_file("reader_refuses", sylvan::PoolConfig::default().max_size(3)).await;
    items(&t).await;
    let reader = t.db.acquire_reader().await.unwrap();
    assert_eq!(count_items(&reader).await, 3);
    let e = reader.execute("DELETE FROM items", ()).await.unwrap_err();
    assert!(matches!(e, Error::Database { .. }), "{e:?}");
    let e = reader
        .fetch_all::<i64, _>("DELETE FROM items RETURNING id", ())
        .await
        .unwrap_err();
    assert!(matches!(e, Error::Database { .. }), "{e:?}");
    drop(reader);
    assert_eq!(count_items(&t.db).await, 3);
    t.cleanup().await;
}

fn config_error(e: Error) -> String {
    match e {
        Error::Config(msg) => msg,
        other => panic!("expected Error::Config, got {other:?}"),
    }
}

#[tokio::test]
async fn bad_urls_are_config_errors_naming_the_problem() {
    let cases = [
        ("mysql://root@localhost/db", "unknown scheme"),
        ("sqlite::memory:?bogus=1", "bogus"),
        ("sqlite::memory:?bogus=1", "unknown SQLite parameter"),
        ("sqlite::memory:?pool_max_size=lots", "pool_max_size"),
        ("sqlite::memory:?pool_max_size=lots", "lots"),
        ("sqlite::memory:?pool_wait_timeout=soon", "not a duration"),
        ("sqlite::memory:?pool_idle_timeout=1y", "not a duration"),
        ("sqlite::memory:?synchronous=sometimes", "synchronous"),
        ("sqlite::memory:?statement_cache=many", "statement_cache"),
        ("sqlite::memory:?busy_timeout=forever", "not a duration"),
        ("sqlite://", "empty"),
        ("sqlite::memory:?pool_max_size=0", "max_size"),
        (
            "postgres://user:hunter2@127.0.0.1:1/db?pool_max_size=x",
            "pool_max_size",
        ),
        (
            "postgres://user:hunter2@127.0.0.1:1/db?no_such_option=1",
            "bad database URL",
        ),
    ];
    for (url, needle) in cases {
        let e = Database::connect(url).await.unwrap_err();
        let debug = format!("{e:?}");
        let msg = config_error(e);
        assert!(
            msg.contains(needle),
            "{url}: `{msg}` should mention `{needle}`"
        );
        assert!(
            !msg.contains("hunter2") && !debug.contains("hunter2"),
            "password leaked: {debug}"
        );
    }
}

#[tokio::test]
async fn good_urls_connect() {
    let db = Database::connect(
        "sqlite::memory:?pool_max_size=2&busy_timeout=250ms&synchronous=full&statement_cache=8",
    )
    .await
    .unwrap();
    let one: i64 = db.fetch_one("SELECT 1", ()).await.unwrap();
    assert_eq!(one, 1);
    assert_eq!(db.status().max_size, 2);
    db.close();

    let dir = tempfile::tempdir().unwrap();
    let url = format!(
        "sqlite://{}?pool_idle_timeout=off",
        dir.path().join("a b.db").display()
    );
    let db = Database::connect(&url).await.unwrap();
    db.execute("CREATE TABLE x (a BIGINT)", ()).await.unwrap();
    db.close();
    assert!(dir.path().join("a b.db").exists());
}

#[tokio::test]
async fn interact_is_sqlite_only() {
    both("interact", |t| async move {
        items(&t).await;
        let conn = t.db.acquire().await.unwrap();
        let via_conn = conn
            .interact(|c| c.query_row("SELECT COUNT(*) FROM items", [], |r| r.get::<_, i64>(0)))
            .await;
        // On SQLite `conn` is the writer, which `Database::interact` needs.
        drop(conn);
        let via_db =
            t.db.interact(|c| {
                c.execute(
                    "INSERT INTO items (id, n, name) VALUES (?1, ?2, ?3)",
                    (4_i64, 40_i64, "d"),
                )
            })
            .await;
        match t.kind {
            Kind::Sqlite => {
                assert_eq!(via_conn.unwrap().unwrap(), 3);
                assert_eq!(via_db.unwrap().unwrap(), 1);
                assert_eq!(count_items(&t.db).await, 4);
                // A reader connection interacts too.
                let reader = t.db.acquire_reader().await.unwrap();
                let n = reader
                    .interact(|c| {
                        c.query_row("SELECT MAX(n) FROM items", [], |r| r.get::<_, i64>(0))
                    })
                    .await
                    .unwrap()
                    .unwrap();
                assert_eq!(n, 40);
            }
            Kind::Postgres => {
                for e in [
                    via_conn.map(|_| ()).unwrap_err(),
                    via_db.map(|_| ()).unwrap_err(),
                ] {
                    match &e {
                        Error::Unsupported { backend, .. } => assert_eq!(*backend, "postgres"),
                        other => panic!("expected Unsupported, got {other:?}"),
                    }
                }
                // The connection is still fine.
                assert_eq!(count_items(&t.db).await, 3);
            }
        }
        t
    })
    .await;
}

#[tokio::test]
async fn dynamic_bind_lists() {
    both("dynamic_binds", |t| async move {
        t.db.execute(
            "CREATE TABLE d (id BIGINT PRIMARY KEY, name TEXT, score BIGINT)",
            (),
        )
        .await
        .unwrap();

        // Vec<Value>, including NULL.
        let values = vec![Value::I64(1), Value::Text("one".into()), Value::Null];
        assert_eq!(
            t.db.execute(
                "INSERT INTO d (id, name, score) VALUES ($1, $2, $3)",
                values
            )
            .await
            .unwrap(),
            1
        );

        // &[&dyn ToValue] built at run time.
        let id = 2_i64;
        let name = String::from("two");
        let score = Some(20_i64);
        let list: Vec<&dyn ToValue> = vec![&id, &name, &score];
        t.db.execute(
            "INSERT INTO d (id, name, score) VALUES ($1, $2, $3)",
            list.as_slice(),
        )
        .await
        .unwrap();
        let arr: [&dyn ToValue; 3] = [&3_i64, &"three", &None::<i64>];
        t.db.execute(
            "INSERT INTO d (id, name, score) VALUES ($1, $2, $3)",
            &arr[..],
        )
        .await
        .unwrap();

        // Arrays, Vecs and slices of one type.
        t.db.execute("INSERT INTO d (id, score) VALUES ($1, $2)", [4_i64, 40])
            .await
            .unwrap();
        t.db.execute("INSERT INTO d (id, score) VALUES ($1, $2)", vec![5_i64, 50])
            .await
            .unwrap();
        let slice: &[i64] = &[6, 60];
        t.db.execute("INSERT INTO d (id, score) VALUES ($1, $2)", slice)
            .await
            .unwrap();
        t.db.execute(
            "INSERT INTO d (id, name) VALUES ($1, $2)",
            vec![Value::I64(7), "seven".to_value().unwrap()],
        )
        .await
        .unwrap();

        // A dynamic IN list.
        let wanted = [1_i64, 3, 5];
        let placeholders: Vec<String> = (1..=wanted.len()).map(|i| format!("${i}")).collect();
        let sql = format!(
            "SELECT id FROM d WHERE id IN ({}) ORDER BY id",
            placeholders.join(", ")
        );
        let ids: Vec<i64> = t.db.fetch_all(&sql, &wanted[..]).await.unwrap();
        assert_eq!(ids, vec![1, 3, 5]);

        let rows: Vec<(i64, Option<String>, Option<i64>)> =
            t.db.fetch_all("SELECT id, name, score FROM d ORDER BY id", ())
                .await
                .unwrap();
        assert_eq!(
            rows,
            vec![
                (1, Some("one".into()), None),
                (2, Some("two".into()), Some(20)),
                (3, Some("three".into()), None),
                (4, None, Some(40)),
                (5, None, Some(50)),
                (6, None, Some(60)),
                (7, Some("seven".into()), None),
            ]
        );

        // Reading columns back as dynamic Values.
        let v: Vec<Value> =
            t.db.fetch_all("SELECT name FROM d WHERE id IN (1, 4) ORDER BY id", ())
                .await
                .unwrap();
        assert_eq!(v, vec![Value::Text("one".into()), Value::Null]);

        // A conversion error in a dynamic list fails before anything runs.
        let e =
            t.db.execute(
                "INSERT INTO d (id, score) VALUES ($1, $2)",
                vec![8_u64, u64::MAX],
            )
            .await
            .unwrap_err();
        assert!(matches!(e, Error::Encode { .. }), "{e:?}");
        let count: i64 = t.db.fetch_one("SELECT COUNT(*) FROM d", ()).await.unwrap();
        assert_eq!(count, 7);
        t
    })
    .await;
}
