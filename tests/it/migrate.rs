//! Migrations on both backends: applied once and in order, recorded with
//! checksums, edits detected, down sections reverted, and two separate
//! processes migrating one database apply each migration once.

use crate::support::{both, Kind};
use sylvan::prelude::*;
use sylvan::{Migration, Migrations};

fn embedded() -> Migrations {
    sylvan::embed_migrations!("tests/migrations")
}

async fn log(db: &Database) -> Vec<i64> {
    db.fetch_all("SELECT version FROM applied_log ORDER BY version", ())
        .await
        .unwrap()
}

#[tokio::test]
async fn migrations_apply_once_in_order_and_roll_back() {
    both("migrate", |t| async move {
        let m = embedded();
        assert_eq!(
            m.list().iter().map(Migration::version).collect::<Vec<_>>(),
            [1, 2, 3]
        );
        assert_eq!(m.run(&t.db).await.unwrap(), vec![1, 2, 3]);
        assert_eq!(
            m.run(&t.db).await.unwrap(),
            Vec::<i64>::new(),
            "second run applies nothing"
        );
        assert_eq!(log(&t.db).await, vec![1, 2, 3]);
        let applied = m.applied(&t.db).await.unwrap();
        assert_eq!(applied.len(), 3);
        assert_eq!(applied[1].checksum, m.list()[1].checksum());
        let body: String =
            t.db.fetch_one("SELECT body FROM notes WHERE id = 2", ())
                .await
                .unwrap();
        assert_eq!(body, "it's quoted");
        t.db.execute("UPDATE notes SET tag = $1", ("x",))
            .await
            .unwrap();

        assert_eq!(m.rollback(&t.db, 2).await.unwrap(), vec![3, 2]);
        assert_eq!(log(&t.db).await, vec![1]);
        assert!(
            t.db.execute("UPDATE notes SET tag = $1", ("x",))
                .await
                .is_err(),
            "tag column is gone"
        );
        assert_eq!(m.run(&t.db).await.unwrap(), vec![2, 3]);
        assert_eq!(log(&t.db).await, vec![1, 2, 3]);
        t
    })
    .await;
}

#[tokio::test]
async fn an_edited_migration_is_detected() {
    both("migrate_edit", |t| async move {
        let v1 = Migrations::new([Migration::new(
            1,
            "create",
            "CREATE TABLE e (x INTEGER)",
            None,
        )])
        .unwrap();
        v1.run(&t.db).await.unwrap();
        let edited = Migrations::new([Migration::new(
            1,
            "create",
            "CREATE TABLE e (x BIGINT)",
            None,
        )])
        .unwrap();
        let err = edited.run(&t.db).await.unwrap_err();
        match &err {
            Error::Migration {
                version: Some(1),
                message,
            } => assert!(message.contains("changed"), "{message}"),
            other => panic!("expected a migration error for version 1, got {other:?}"),
        }
        // A missing file for an applied migration is an error too.
        let none = Migrations::new([]).unwrap();
        assert!(matches!(
            none.run(&t.db).await,
            Err(Error::Migration {
                version: Some(1),
                ..
            })
        ));
        t
    })
    .await;
}

#[tokio::test]
async fn a_failing_migration_rolls_back_and_names_itself() {
    both("migrate_fail", |t| async move {
        let m = Migrations::new([
            Migration::new(1, "ok", "CREATE TABLE f (x INTEGER)", None),
            Migration::new(2, "bad", "CREATE TABLE g (y INTEGER); SELEC 1", None),
        ])
        .unwrap();
        let err = m.run(&t.db).await.unwrap_err();
        assert!(
            matches!(
                err,
                Error::Migration {
                    version: Some(2),
                    ..
                }
            ),
            "{err:?}"
        );
        let applied = m.applied(&t.db).await.unwrap();
        assert_eq!(applied.iter().map(|a| a.version).collect::<Vec<_>>(), [1]);
        // Migration 2's first statement was rolled back with it.
        assert!(t
            .db
            .execute("INSERT INTO g (y) VALUES (1)", ())
            .await
            .is_err());
        // Rolling back a migration without a down section is refused.
        assert!(matches!(
            m.rollback(&t.db, 1).await,
            Err(Error::Migration {
                version: Some(1),
                ..
            })
        ));
        t
    })
    .await;
}

const CHILD_URL: &str = "SYLVAN_MIGRATE_CHILD_URL";

/// Not a test on its own: the child process of
/// `two_processes_apply_each_migration_once` (does nothing without its
/// environment variable).
#[tokio::test]
#[ignore = "child process of two_processes_apply_each_migration_once"]
async fn child_migrator() {
    if let Ok(url) = std::env::var(CHILD_URL) {
        let db = Database::connect(&url).await.unwrap();
        embedded().run(&db).await.unwrap();
    }
}

#[tokio::test]
async fn two_processes_apply_each_migration_once() {
    both("migrate_procs", |t| async move {
        let exe = std::env::current_exe().unwrap();
        let spawn = || {
            std::process::Command::new(&exe)
                .args([
                    "--exact",
                    "migrate::child_migrator",
                    "--ignored",
                    "--test-threads=1",
                ])
                .env(CHILD_URL, &t.url)
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .unwrap()
        };
        let (a, b) = (spawn(), spawn());
        for child in [a, b] {
            let out = child.wait_with_output().unwrap();
            let text = String::from_utf8_lossy(&out.stdout);
            assert!(
                out.status.success(),
                "child failed: {text}\n{}",
                String::from_utf8_lossy(&out.stderr)
            );
            assert!(text.contains("1 passed"), "the child did not run: {text}");
        }
        assert_eq!(
            log(&t.db).await,
            vec![1, 2, 3],
            "each migration ran exactly once"
        );
        let notes: i64 =
            t.db.fetch_one("SELECT count(*) FROM notes", ())
                .await
                .unwrap();
        assert_eq!(notes, 2);
        if t.kind == Kind::Postgres {
            // The advisory lock is transaction-scoped: no session of this
            // test holds it now.
            let held: i64 =
                t.db.fetch_one(
                    "SELECT count(*) FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid \
                     WHERE l.locktype = 'advisory' AND a.application_name = $1",
                    (t.name.as_str(),),
                )
                .await
                .unwrap();
            assert_eq!(held, 0);
        }
        t
    })
    .await;
}
