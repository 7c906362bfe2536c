//! `Migrations::status` on both backends (applied, pending, edited,
//! missing, reported rather than refused), checksums recorded by earlier
//! versions still accepted, and a stale embedded set refused.

use crate::support::both;
use sylvan::prelude::*;
use sylvan::{Migration, MigrationState, Migrations};

fn states(status: &[sylvan::MigrationStatus]) -> Vec<(i64, &str, &'static str)> {
    status
        .iter()
        .map(|s| (s.version, s.name.as_str(), s.state.label()))
        .collect()
}

#[tokio::test]
async fn status_reports_applied_pending_edited_and_missing() {
    both("migrate_status", |t| async move {
        let a = || Migration::new(1, "a", "CREATE TABLE sa (x INTEGER)", None);
        let b = || Migration::new(2, "b", "CREATE TABLE sb (x INTEGER)", None);
        let c = || Migration::new(3, "c", "CREATE TABLE sc (x INTEGER)", None);
        let all = Migrations::new([a(), b(), c()]).unwrap();
        // Before anything: the tracking table is created, all pending.
        assert_eq!(
            states(&all.status(&t.db).await.unwrap()),
            [
                (1, "a", "pending"),
                (2, "b", "pending"),
                (3, "c", "pending")
            ]
        );
        Migrations::new([a(), b()])
            .unwrap()
            .run(&t.db)
            .await
            .unwrap();
        let status = all.status(&t.db).await.unwrap();
        assert_eq!(
            states(&status),
            [
                (1, "a", "applied"),
                (2, "b", "applied"),
                (3, "c", "pending")
            ]
        );
        match &status[0].state {
            MigrationState::Applied { at } => assert!(at.starts_with("20"), "{at}"),
            other => panic!("{other:?}"),
        }
        assert!(status[0]
            .to_string()
            .starts_with("0001  applied  a  (applied 20"));

        // 1 edited, 2 gone, 3 pending: reported, where run refuses.
        let drifted = Migrations::new([
            Migration::new(1, "a", "CREATE TABLE sa (x BIGINT)", None),
            c(),
        ])
        .unwrap();
        let status = drifted.status(&t.db).await.unwrap();
        assert_eq!(
            states(&status),
            [(1, "a", "edited"), (2, "b", "missing"), (3, "c", "pending")]
        );
        assert!(status[0].state.is_drift() && status[1].state.is_drift());
        assert!(!status[2].state.is_drift());
        assert!(drifted.run(&t.db).await.is_err());
        t
    })
    .await;
}

/// FNV-1a 64 as the previous version recorded it.
fn legacy_fnv(text: &str) -> String {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in text.as_bytes() {
        hash ^= u64::from(*byte);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    format!("{hash:016x}")
}

#[tokio::test]
async fn checksums_recorded_by_the_previous_version_are_accepted() {
    both("migrate_legacy_sum", |t| async move {
        let up = "CREATE TABLE lg (x INTEGER);\n";
        let m = Migrations::new([Migration::new(1, "lg", up, None)]).unwrap();
        assert_eq!(m.list()[0].checksum().len(), 64);
        assert!(m.applied(&t.db).await.unwrap().is_empty());
        // As the previous version applied it: its SQL, an FNV checksum.
        t.db.execute(up, ()).await.unwrap();
        t.db.execute(
            "INSERT INTO sylvan_migrations (version, name, checksum, applied_at) VALUES ($1, $2, $3, $4)",
            (1_i64, "lg", legacy_fnv(up), "2025-01-01 00:00:00"),
        )
        .await
        .unwrap();
        assert_eq!(states(&m.status(&t.db).await.unwrap()), [(1, "lg", "applied")]);
        assert_eq!(m.run(&t.db).await.unwrap(), Vec::<i64>::new());
        // Not rewritten.
        assert_eq!(m.applied(&t.db).await.unwrap()[0].checksum, legacy_fnv(up));
        // Also when the file now has CRLF line endings.
        let crlf = Migrations::new([Migration::new(1, "lg", "CREATE TABLE lg (x INTEGER);\r\n", None)])
            .unwrap();
        assert_eq!(crlf.run(&t.db).await.unwrap(), Vec::<i64>::new());
        // But an edit is still one.
        let edited = Migrations::new([Migration::new(1, "lg", "CREATE TABLE lg (x BIGINT);\n", None)])
            .unwrap();
        assert_eq!(states(&edited.status(&t.db).await.unwrap()), [(1, "lg", "edited")]);
        assert!(edited.run(&t.db).await.is_err());
        t
    })
    .await;
}

#[tokio::test]
async fn a_stale_embedded_set_is_refused_naming_the_file() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("0001_a.sql"),
        "CREATE TABLE st (x INTEGER);\n",
    )
    .unwrap();
    std::fs::write(dir.path().join("0002_b.sql"), "SELECT 1;\n").unwrap();
    let path: &'static str = Box::leak(dir.path().display().to_string().into_boxed_str());
    // Compiled when the directory held 0001_a.sql only.
    let stale = Migrations::embedded_from(
        path,
        &["0001_a.sql"],
        vec![Migration::new(
            1,
            "a",
            "CREATE TABLE st (x INTEGER);\n",
            None,
        )],
    );
    let db = Database::connect("sqlite::memory:").await.unwrap();
    for e in [
        stale.run(&db).await.unwrap_err(),
        stale.status(&db).await.unwrap_err(),
        stale.rollback(&db, 1).await.unwrap_err(),
    ] {
        let text = e.to_string();
        assert!(matches!(e, Error::Migration { .. }), "{e:?}");
        assert!(text.contains("added 0002_b.sql"), "{text}");
        assert!(text.contains("cargo:rerun-if-changed"), "{text}");
    }
    let tables: Vec<(String,)> = db
        .fetch_all("SELECT name FROM sqlite_master WHERE name = 'st'", ())
        .await
        .unwrap();
    assert!(tables.is_empty(), "nothing ran");
    // The real `embed_migrations!` of the suite matches its directory.
    let embedded: Migrations = sylvan::embed_migrations!("tests/migrations");
    assert_eq!(embedded.run(&db).await.unwrap(), vec![1, 2, 3]);
}
