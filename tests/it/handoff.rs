//! Clean hand-offs: the next borrower of a connection never sees the
//! session state the previous one left behind (RELIABILITY promise 14).
//! Every case runs on a pool of one connection, so the next borrower gets
//! the very same session (on PostgreSQL the backend pid is checked: the
//! session was reset, not replaced).

use crate::support::{Kind, TestDb};
use std::time::Duration;
use sylvan::prelude::*;
use sylvan::PoolConfig;

fn one() -> PoolConfig {
    PoolConfig::default().max_size(1)
}

/// One kind of session state: how to leave it behind, and a query whose
/// answer must be the same before and after.
struct Case {
    what: &'static str,
    leave: &'static str,
    probe: &'static str,
}

const PG_CASES: &[Case] = &[
    Case {
        what: "SET statement_timeout",
        leave: "SET statement_timeout = '1h'",
        probe: "SELECT current_setting('statement_timeout')",
    },
    Case {
        what: "SET search_path",
        leave: "SET search_path = pg_catalog",
        probe: "SELECT current_setting('search_path')",
    },
    Case {
        what: "SET ROLE",
        leave: "SET ROLE pg_monitor",
        probe: "SELECT CAST(current_user AS TEXT)",
    },
    Case {
        what: "SET SESSION AUTHORIZATION",
        leave: "SET SESSION AUTHORIZATION pg_monitor",
        probe: "SELECT CAST(session_user AS TEXT)",
    },
    Case {
        what: "SET application_name",
        leave: "SET application_name = 'somebody_else'",
        probe: "SELECT current_setting('application_name')",
    },
    Case {
        what: "a custom setting (row-level security)",
        leave: "SET app.tenant = '42'",
        probe: "SELECT COALESCE(current_setting('app.tenant', true), '')",
    },
    Case {
        what: "set_config(…, false)",
        leave: "SELECT set_config('app.user_id', '7', false)",
        probe: "SELECT COALESCE(current_setting('app.user_id', true), '')",
    },
    Case {
        what: "a temporary table",
        leave: "CREATE TEMP TABLE handoff_tmp (x INT)",
        probe: "SELECT CAST(to_regclass('pg_temp.handoff_tmp') IS NULL AS TEXT)",
    },
    Case {
        what: "LISTEN",
        leave: "LISTEN handoff_channel",
        probe: "SELECT CAST(count(*) AS TEXT) FROM pg_listening_channels()",
    },
    Case {
        what: "a session advisory lock",
        leave: "SELECT pg_advisory_lock(4242)",
        probe: "SELECT CAST(count(*) AS TEXT) FROM pg_locks \
                WHERE locktype = 'advisory' AND pid = pg_backend_pid()",
    },
    Case {
        what: "a PREPAREd statement",
        leave: "PREPARE handoff_stmt AS SELECT 1",
        probe: "SELECT CAST(count(*) AS TEXT) FROM pg_prepared_statements WHERE from_sql",
    },
    Case {
        what: "an open cursor",
        leave: "DECLARE handoff_cur CURSOR WITH HOLD FOR SELECT 1",
        probe: "SELECT CAST(count(*) AS TEXT) FROM pg_cursors",
    },
];

async fn pid<E: Executor>(e: &E) -> i64 {
    e.fetch_one("SELECT CAST(pg_backend_pid() AS BIGINT)", ())
        .await
        .unwrap()
}

/// Leaves each kind of state through the `Database` (one statement, one
/// checkout) and through a held `Connection`, then checks the next borrower.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_session_state_never_reaches_the_next_borrower() {
    let Some(t) = TestDb::postgres("handoff_pg", one()).await else {
        return;
    };
    let session = pid(&t.db).await;
    for case in PG_CASES {
        let before: String = t.db.fetch_one(case.probe, ()).await.unwrap();
        for held in [false, true] {
            if held {
                let conn = t.db.acquire().await.unwrap();
                conn.execute(case.leave, ()).await.unwrap();
                // The holder sees its own state.
                let during: String = conn.fetch_one(case.probe, ()).await.unwrap();
                assert_ne!(during, before, "{}: the state was not set", case.what);
            } else {
                t.db.execute(case.leave, ()).await.unwrap();
            }
            let after: String = t.db.fetch_one(case.probe, ()).await.unwrap();
            assert_eq!(
                after, before,
                "{} (held connection: {held}) reached the next borrower",
                case.what
            );
            assert_eq!(pid(&t.db).await, session, "{}: session replaced", case.what);
        }
    }
    t.cleanup().await;
}

/// A script whose first statement is not `BEGIN` opens a transaction: the
/// next borrower's writes must still commit on their own.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_transaction_opened_by_a_script_is_rolled_back_before_the_next_borrower() {
    let Some(t) = TestDb::postgres("handoff_script", one()).await else {
        return;
    };
    t.db.execute("CREATE TABLE notes (id BIGINT PRIMARY KEY)", ())
        .await
        .unwrap();
    {
        let conn = t.db.acquire().await.unwrap();
        conn.execute_script("SET application_name = 'x'; BEGIN")
            .await
            .unwrap();
        conn.execute("INSERT INTO notes (id) VALUES (1)", ())
            .await
            .unwrap();
    }
    t.db.execute("INSERT INTO notes (id) VALUES (2)", ())
        .await
        .unwrap();
    // Seen from another session: 2 committed, 1 rolled back.
    let other = Database::connect(&t.url).await.unwrap();
    let ids: Vec<i64> = other
        .fetch_all("SELECT id FROM notes ORDER BY id", ())
        .await
        .unwrap();
    assert_eq!(ids, vec![2]);
    other.close();
    assert!(
        t.pg_sessions()
            .await
            .iter()
            .all(|(_, state)| state.as_deref() != Some("idle in transaction")),
        "a session was left idle in transaction"
    );
    t.cleanup().await;
}

#[derive(Debug, Clone, Model)]
#[model(table = "handoff_users")]
struct User {
    #[model(primary_key, auto)]
    id: i64,
    name: String,
}

/// The ORM's own statements never change session state, so they cost no
/// reset: the last statement the server saw from the session is the ORM's
/// query, not the reset.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn orm_statements_cost_no_session_reset() {
    let Some(t) = TestDb::postgres("handoff_orm", one()).await else {
        return;
    };
    User::create_table(&t.db).await.unwrap();
    let ada = User {
        id: 0,
        name: "ada".into(),
    }
    .insert(&t.db)
    .await
    .unwrap();
    // A raw statement that changes the session: reset on return.
    t.db.execute("SET application_name = 'x'", ())
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert!(last_query(&t).await.contains("RESET ALL"));
    // Now only ORM statements.
    for _ in 0..3 {
        User::get(&t.db, ada.id).await.unwrap();
        User::objects()
            .filter(User::NAME.eq("ada"))
            .count(&t.db)
            .await
            .unwrap();
    }
    tokio::time::sleep(Duration::from_millis(100)).await;
    let last = last_query(&t).await;
    assert!(
        last.to_lowercase().contains("count") && !last.contains("RESET"),
        "the ORM statement was followed by a reset: {last}"
    );
    t.cleanup().await;
}

/// The last statement the test's session ran, from `pg_stat_activity`.
async fn last_query(t: &TestDb) -> String {
    let admin = Database::connect(&crate::support::pg_base_url())
        .await
        .unwrap();
    let q: String = admin
        .fetch_one(
            "SELECT query FROM pg_stat_activity WHERE application_name = $1",
            (t.name.as_str(),),
        )
        .await
        .unwrap();
    admin.close();
    q
}

/// SQLite: a connection that ran a raw statement changing its state
/// (pragma, temporary table) or an `interact` closure is closed instead of
/// reused; other statements keep it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_session_state_never_reaches_the_next_borrower() {
    for memory in [false, true] {
        let t = if memory {
            TestDb::sqlite_memory("handoff_sqlite", one()).await
        } else {
            TestDb::sqlite_file("handoff_sqlite", one()).await
        };
        assert_eq!(t.kind, Kind::Sqlite);
        t.db.execute("CREATE TABLE kept (x INTEGER)", ())
            .await
            .unwrap();
        let first = t.connection_id(&t.db).await.unwrap();
        t.db.execute("INSERT INTO kept (x) VALUES (1)", ())
            .await
            .unwrap();
        assert_eq!(t.connection_id(&t.db).await.unwrap(), first, "plain SQL");

        t.db.execute("PRAGMA foreign_keys = OFF", ()).await.unwrap();
        let fk: i64 = t.db.fetch_one("PRAGMA foreign_keys", ()).await.unwrap();
        assert_eq!(fk, 1, "a pragma reached the next borrower");

        {
            let conn = t.db.acquire().await.unwrap();
            conn.execute("CREATE TEMP TABLE scratch (x INTEGER)", ())
                .await
                .unwrap();
            conn.execute("INSERT INTO scratch (x) VALUES (1)", ())
                .await
                .unwrap();
        }
        let n: i64 =
            t.db.fetch_one(
                "SELECT count(*) FROM sqlite_temp_master WHERE name = 'scratch'",
                (),
            )
            .await
            .unwrap();
        assert_eq!(n, 0, "a temporary table reached the next borrower");

        t.db.interact(|c| c.execute_batch("PRAGMA recursive_triggers = ON"))
            .await
            .unwrap()
            .unwrap();
        let rt: i64 =
            t.db.fetch_one("PRAGMA recursive_triggers", ())
                .await
                .unwrap();
        assert_eq!(
            rt, 0,
            "an interact closure's pragma reached the next borrower"
        );

        // The database itself is intact.
        let kept: i64 =
            t.db.fetch_one("SELECT count(*) FROM kept", ())
                .await
                .unwrap();
        assert_eq!(kept, 1);
        t.cleanup().await;
    }
}
