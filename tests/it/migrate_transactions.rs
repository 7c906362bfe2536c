//! Migrations and transactions: transaction control in a migration is
//! refused before anything runs; `-- sylvan:no-transaction` migrations run
//! outside a transaction, holding the migration lock, recorded only once
//! they succeeded.

use crate::support::{both, Kind, TestDb};
use std::time::Duration;
use sylvan::prelude::*;
use sylvan::{Migration, Migrations};

/// The advisory lock key of Sylvan's migrators ("sylvanmg").
const LOCK_KEY: i64 = 0x7379_6c76_616e_6d67;

fn dir_with(files: &[(&str, &str)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for (name, text) in files {
        std::fs::write(dir.path().join(name), text).unwrap();
    }
    dir
}

async fn table_exists(t: &TestDb, table: &str) -> bool {
    let sql = match t.kind {
        Kind::Sqlite => "SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = $1",
        Kind::Postgres => {
            "SELECT COUNT(*) FROM information_schema.tables \
             WHERE table_schema = current_schema() AND table_name = $1"
        }
    };
    let n: i64 = t.db.fetch_one(sql, (table,)).await.unwrap();
    n > 0
}

async fn index_exists(t: &TestDb, index: &str) -> bool {
    let sql = match t.kind {
        Kind::Sqlite => "SELECT COUNT(*) FROM sqlite_master WHERE type = 'index' AND name = $1",
        Kind::Postgres => {
            "SELECT COUNT(*) FROM pg_indexes WHERE schemaname = current_schema() AND indexname = $1"
        }
    };
    let n: i64 = t.db.fetch_one(sql, (index,)).await.unwrap();
    n > 0
}

#[tokio::test]
async fn a_migration_with_commit_is_refused_before_anything_runs() {
    both("migrate_commit", |t| async move {
        let files = [
            ("0001_first.sql", "CREATE TABLE first_t (x INTEGER);\n"),
            (
                "0002_sneaky.sql",
                "CREATE TABLE second_t (x INTEGER);\nCOMMIT;\nCREATE TABLE third_t (x INTEGER);\n",
            ),
        ];
        let dir = dir_with(&files);
        let e = Migrations::from_dir(dir.path()).unwrap_err();
        let text = e.to_string();
        assert!(
            matches!(
                e,
                Error::Migration {
                    version: Some(2),
                    ..
                }
            ),
            "{e:?}"
        );
        assert!(
            text.contains("0002_sneaky.sql") && text.contains("`COMMIT`"),
            "{text}"
        );

        // Built without the file check (as embed_migrations! does, which
        // checks at compile time), run() refuses it all the same, first.
        let unchecked = Migrations::embedded(vec![
            Migration::new(1, "first", files[0].1, None),
            Migration::new(2, "sneaky", files[1].1, None),
        ]);
        let e = unchecked.run(&t.db).await.unwrap_err();
        assert!(e.to_string().contains("migration 2 (sneaky)"), "{e}");
        assert!(e.to_string().contains("`COMMIT`"), "{e}");
        for table in ["first_t", "second_t", "third_t", "sylvan_migrations"] {
            assert!(!table_exists(&t, table).await, "{table} was created");
        }
        // A DO block's BEGIN … END is no transaction control.
        if t.kind == Kind::Postgres {
            let ok = Migrations::new([Migration::new(
                1,
                "do_block",
                "DO $$ BEGIN CREATE TABLE from_do (x INT); END $$;",
                None,
            )])
            .unwrap();
            assert_eq!(ok.run(&t.db).await.unwrap(), [1]);
            assert!(table_exists(&t, "from_do").await);
        }
        t
    })
    .await;
}

fn index_migrations(kind: Kind) -> Migrations {
    let concurrently = match kind {
        Kind::Postgres => "CONCURRENTLY ",
        Kind::Sqlite => "",
    };
    let up = format!(
        "-- sylvan:no-transaction\n\
         CREATE INDEX {concurrently}items_x ON items (x);\n\
         CREATE INDEX {concurrently}items_y ON items (y);\n"
    );
    let down = format!("DROP INDEX {concurrently}items_x;\nDROP INDEX {concurrently}items_y;\n");
    let dir = dir_with(&[
        (
            "0001_items.sql",
            "CREATE TABLE items (x INTEGER, y INTEGER);\n",
        ),
        ("0002_indexes.sql", &format!("{up}-- down\n{down}")),
    ]);
    Migrations::from_dir(dir.path()).unwrap()
}

#[tokio::test]
async fn a_no_transaction_migration_creates_an_index_concurrently() {
    both("migrate_no_tx", |t| async move {
        let m = index_migrations(t.kind);
        assert!(m.list()[0].is_transactional());
        assert!(!m.list()[1].is_transactional());
        assert_eq!(m.run(&t.db).await.unwrap(), [1, 2]);
        assert!(index_exists(&t, "items_x").await && index_exists(&t, "items_y").await);
        let applied = m.applied(&t.db).await.unwrap();
        assert_eq!(applied.len(), 2);
        assert_eq!(applied[1].checksum, m.list()[1].checksum());
        assert_eq!(m.run(&t.db).await.unwrap(), Vec::<i64>::new());

        // The down section runs the same way.
        assert_eq!(m.rollback(&t.db, 1).await.unwrap(), [2]);
        assert!(!index_exists(&t, "items_x").await);
        assert_eq!(m.applied(&t.db).await.unwrap().len(), 1);
        assert_eq!(m.run(&t.db).await.unwrap(), [2]);
        assert!(index_exists(&t, "items_y").await);
        t
    })
    .await;
}

#[tokio::test]
async fn a_no_transaction_migration_runs_on_sqlite_memory() {
    let t = TestDb::sqlite_memory("migrate_no_tx_mem", sylvan::PoolConfig::default()).await;
    let m = index_migrations(Kind::Sqlite);
    assert_eq!(m.run(&t.db).await.unwrap(), [1, 2]);
    assert!(index_exists(&t, "items_x").await);
    assert_eq!(m.rollback(&t.db, 1).await.unwrap(), [2]);
    assert!(!index_exists(&t, "items_x").await);
    t.cleanup().await;
}

#[tokio::test]
async fn a_failed_no_transaction_migration_is_not_recorded_and_keeps_its_partial_work() {
    both("migrate_no_tx_fail", |t| async move {
        let broken = Migrations::new([
            Migration::new(1, "items", "CREATE TABLE items (x INTEGER)", None),
            Migration::new(
                2,
                "half",
                "-- sylvan:no-transaction\nCREATE INDEX items_x ON items (x);\nCREATE INDEX items_z ON items (no_such_column);\n",
                None,
            ),
        ])
        .unwrap();
        let e = broken.run(&t.db).await.unwrap_err();
        assert!(matches!(e, Error::Migration { version: Some(2), .. }), "{e:?}");
        assert!(e.to_string().contains("outside a transaction"), "{e}");
        // Not recorded; the statement before the failing one stays.
        let applied = broken.applied(&t.db).await.unwrap();
        assert_eq!(applied.iter().map(|a| a.version).collect::<Vec<_>>(), [1]);
        assert!(index_exists(&t, "items_x").await);
        // The lock was released: a fixed migration runs.
        let fixed = Migrations::new([
            Migration::new(1, "items", "CREATE TABLE items (x INTEGER)", None),
            Migration::new(
                2,
                "half",
                "-- sylvan:no-transaction\nCREATE INDEX IF NOT EXISTS items_x ON items (x);\n",
                None,
            ),
        ])
        .unwrap();
        let ran = tokio::time::timeout(Duration::from_secs(30), fixed.run(&t.db))
            .await
            .expect("the migration lock was not released");
        assert_eq!(ran.unwrap(), [2]);
        t
    })
    .await;
}

#[tokio::test]
async fn no_transaction_session_state_stays_off_the_pool() {
    both("migrate_no_tx_state", |t| async move {
        let setting = match t.kind {
            Kind::Sqlite => "PRAGMA foreign_keys = OFF",
            Kind::Postgres => "SET application_name = 'changed_by_migration'",
        };
        let m = Migrations::new([Migration::new(
            1,
            "state",
            Box::leak(format!("-- sylvan:no-transaction\n{setting};\n").into_boxed_str()),
            None,
        )])
        .unwrap();
        assert_eq!(m.run(&t.db).await.unwrap(), [1]);
        for _ in 0..4 {
            match t.kind {
                Kind::Sqlite => {
                    let fk: i64 = t.db.fetch_one("PRAGMA foreign_keys", ()).await.unwrap();
                    assert_eq!(fk, 1);
                }
                Kind::Postgres => {
                    let name: String =
                        t.db.fetch_one("SELECT current_setting('application_name')", ())
                            .await
                            .unwrap();
                    assert_eq!(name, t.name);
                }
            }
        }
        t
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_no_transaction_migration_waits_for_the_migration_lock() {
    both("migrate_no_tx_lock", |t| async move {
        let m = index_migrations(t.kind);
        // Migration 1 is transactional: apply it first, so that the wait
        // below is the no-transaction one's.
        let first = Migrations::new([m.list()[0].clone()]).unwrap();
        assert_eq!(first.run(&t.db).await.unwrap(), [1]);
        // Someone else holds the lock: PostgreSQL's advisory lock on
        // another session, SQLite's lock file from this test.
        let other = Database::builder(&t.url)
            .pool(sylvan::PoolConfig::default().max_size(1))
            .connect()
            .await
            .unwrap();
        let holder = other.acquire().await.unwrap();
        let mut lock_file = None;
        match t.kind {
            Kind::Postgres => {
                // Polled, as a migrator does: a blocking lock here would
                // deadlock with another test's CREATE INDEX CONCURRENTLY
                // migration holding the same key in the same database.
                while !holder
                    .fetch_one::<bool, _>("SELECT pg_try_advisory_lock($1)", (LOCK_KEY,))
                    .await
                    .unwrap()
                {
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
            }
            Kind::Sqlite => {
                let path = t.url.strip_prefix("sqlite://").unwrap();
                let f = std::fs::OpenOptions::new()
                    .create(true)
                    .truncate(false)
                    .write(true)
                    .open(format!("{path}-sylvan-migrate.lock"))
                    .unwrap();
                f.lock().unwrap();
                lock_file = Some(f);
            }
        }
        let db = t.db.clone();
        let m2 = m.clone();
        let task = tokio::spawn(async move { m2.run(&db).await });
        tokio::time::sleep(Duration::from_millis(500)).await;
        assert!(
            !task.is_finished(),
            "ran while another migrator held the lock"
        );
        match t.kind {
            Kind::Postgres => {
                holder
                    .execute("SELECT pg_advisory_unlock($1)", (LOCK_KEY,))
                    .await
                    .unwrap();
            }
            Kind::Sqlite => drop(lock_file.take()),
        }
        let ran = tokio::time::timeout(Duration::from_secs(30), task)
            .await
            .expect("still waiting after the lock was released")
            .unwrap()
            .unwrap();
        assert_eq!(ran, [2]);
        assert!(index_exists(&t, "items_x").await);
        drop(holder);
        other.close();
        t
    })
    .await;
}
