//! Generated migrations on both backends: a sequence of model changes,
//! each planned against the files before it, applied to a database
//! holding rows, and compared with a fresh database the new models made;
//! then every step rolled back. Renames are asked, never guessed.
//!
//! The catalogs compared: on PostgreSQL `information_schema.columns`,
//! `pg_indexes` and `pg_constraint` (names and definitions); on SQLite
//! `pragma_table_info`, `pragma_index_list` / `pragma_index_info` and
//! `pragma_foreign_key_list`. Not compared: SQLite's stored `CREATE TABLE`
//! text (a table changed by `ALTER TABLE ADD COLUMN` keeps its original
//! text plus the column, a rebuilt one has the new text) and the names of
//! SQLite's automatic UNIQUE indexes (numbered by position); column order
//! (lines are sorted, since PostgreSQL appends added columns).

use crate::support::{Kind, TestDb};
use sylvan::prelude::*;
use sylvan::{Ambiguity, Answer, MakeMigrations, Migration, Migrations, PoolConfig, Schema};

mod v1 {
    #[derive(sylvan::Model)]
    #[model(table = "mm_author")]
    pub struct Author {
        #[model(primary_key, auto)]
        pub id: i64,
        pub name: String,
    }

    #[derive(sylvan::Model)]
    #[model(table = "mm_book")]
    pub struct Book {
        #[model(primary_key, auto)]
        pub id: i64,
        #[model(foreign_key = Author, on_delete = "cascade")]
        pub author_id: i64,
        pub title: String,
    }
}

/// (2) columns added, with a default or nullable.
mod v2 {
    pub use super::v1::Author;

    #[derive(sylvan::Model)]
    #[model(table = "mm_book")]
    pub struct Book {
        #[model(primary_key, auto)]
        pub id: i64,
        #[model(foreign_key = Author, on_delete = "cascade")]
        pub author_id: i64,
        pub title: String,
        #[model(default = "0")]
        pub pages: i32,
        pub note: Option<String>,
        pub editor_id: Option<i64>,
    }
}

/// (3) a column of the referenced table made nullable: SQLite rebuilds
/// the parent table, which must keep its children's rows.
mod v3 {
    #[derive(sylvan::Model)]
    #[model(table = "mm_author")]
    pub struct Author {
        #[model(primary_key, auto)]
        pub id: i64,
        pub name: Option<String>,
    }

    #[derive(sylvan::Model)]
    #[model(table = "mm_book")]
    pub struct Book {
        #[model(primary_key, auto)]
        pub id: i64,
        #[model(foreign_key = Author, on_delete = "cascade")]
        pub author_id: i64,
        pub title: String,
        #[model(default = "0")]
        pub pages: i32,
        pub note: Option<String>,
        pub editor_id: Option<i64>,
    }
}

/// (4) an index, and a UNIQUE constraint.
mod v4 {
    pub use super::v3::Author;

    #[derive(sylvan::Model)]
    #[model(table = "mm_book")]
    pub struct Book {
        #[model(primary_key, auto)]
        pub id: i64,
        #[model(foreign_key = Author, on_delete = "cascade")]
        pub author_id: i64,
        #[model(index)]
        pub title: String,
        #[model(default = "0")]
        pub pages: i32,
        #[model(unique)]
        pub note: Option<String>,
        pub editor_id: Option<i64>,
    }
}

/// (5) an existing column becomes a foreign key.
mod v5 {
    pub use super::v3::Author;

    #[derive(sylvan::Model)]
    #[model(table = "mm_book")]
    pub struct Book {
        #[model(primary_key, auto)]
        pub id: i64,
        #[model(foreign_key = Author, on_delete = "cascade")]
        pub author_id: i64,
        #[model(index)]
        pub title: String,
        #[model(default = "0")]
        pub pages: i32,
        #[model(unique)]
        pub note: Option<String>,
        #[model(foreign_key = Author, on_delete = "set_null")]
        pub editor_id: Option<i64>,
    }
}

/// (6) a column dropped, a default changed.
mod v6 {
    pub use super::v3::Author;

    #[derive(sylvan::Model)]
    #[model(table = "mm_book")]
    pub struct Book {
        #[model(primary_key, auto)]
        pub id: i64,
        #[model(foreign_key = Author, on_delete = "cascade")]
        pub author_id: i64,
        #[model(index)]
        pub title: String,
        #[model(default = "1")]
        pub pages: i32,
        #[model(foreign_key = Author, on_delete = "set_null")]
        pub editor_id: Option<i64>,
    }
}

/// (7) a type widened.
mod v7 {
    pub use super::v3::Author;

    #[derive(sylvan::Model)]
    #[model(table = "mm_book")]
    pub struct Book {
        #[model(primary_key, auto)]
        pub id: i64,
        #[model(foreign_key = Author, on_delete = "cascade")]
        pub author_id: i64,
        #[model(index)]
        pub title: String,
        #[model(default = "1")]
        pub pages: i64,
        #[model(foreign_key = Author, on_delete = "set_null")]
        pub editor_id: Option<i64>,
    }
}

fn schemas() -> Vec<Schema> {
    vec![
        Schema::new(),
        Schema::new().model::<v1::Author>().model::<v1::Book>(),
        Schema::new().model::<v2::Author>().model::<v2::Book>(),
        Schema::new().model::<v3::Author>().model::<v3::Book>(),
        Schema::new().model::<v4::Author>().model::<v4::Book>(),
        Schema::new().model::<v5::Author>().model::<v5::Book>(),
        Schema::new().model::<v6::Author>().model::<v6::Book>(),
        Schema::new().model::<v7::Author>().model::<v7::Book>(),
    ]
}

/// A fresh database of the same backend as `t`.
async fn fresh(t: &TestDb, name: &str) -> TestDb {
    let pool = PoolConfig::default().max_size(2);
    match t.kind {
        Kind::Sqlite => TestDb::sqlite_file(name, pool).await,
        Kind::Postgres => TestDb::postgres(name, pool)
            .await
            .expect("PostgreSQL was reachable a moment ago"),
    }
}

/// The schema as the catalog describes it (see the module docs), sorted.
async fn catalog(t: &TestDb) -> Vec<String> {
    let queries: &[&str] = match t.kind {
        Kind::Postgres => &[
            "SELECT 'column ' || table_name || '.' || column_name || ' ' || data_type || ' ' \
             || is_nullable || ' ' || COALESCE(column_default, '-') || ' ' || is_identity \
             FROM information_schema.columns \
             WHERE table_schema = current_schema() AND table_name <> 'sylvan_migrations'",
            "SELECT 'index ' || tablename || ' ' || indexname || ' ' || indexdef FROM pg_indexes \
             WHERE schemaname = current_schema() AND tablename <> 'sylvan_migrations'",
            "SELECT 'constraint ' || cl.relname || ' ' || co.conname || ' ' || co.contype::text || ' ' \
             || pg_get_constraintdef(co.oid) FROM pg_constraint co \
             JOIN pg_class cl ON cl.oid = co.conrelid \
             WHERE cl.relnamespace = current_schema()::regnamespace \
             AND cl.relname <> 'sylvan_migrations'",
        ],
        Kind::Sqlite => &[
            "SELECT 'column ' || m.name || '.' || p.name || ' ' || p.type || ' ' || p.\"notnull\" \
             || ' ' || COALESCE(p.dflt_value, '-') || ' ' || p.pk \
             FROM sqlite_schema m JOIN pragma_table_info(m.name) p \
             WHERE m.type = 'table' AND m.name NOT IN ('sylvan_migrations', 'sqlite_sequence')",
            "SELECT 'index ' || m.name || ' ' \
             || CASE WHEN il.name LIKE 'sqlite_autoindex%' THEN 'auto' ELSE il.name END \
             || ' ' || il.\"unique\" || ' ' || il.origin || ' ' \
             || (SELECT group_concat(ii.name) FROM pragma_index_info(il.name) ii) \
             FROM sqlite_schema m JOIN pragma_index_list(m.name) il \
             WHERE m.type = 'table' AND m.name NOT IN ('sylvan_migrations', 'sqlite_sequence')",
            "SELECT 'foreign key ' || m.name || ' ' || f.\"table\" || ' ' || f.\"from\" || ' ' \
             || f.\"to\" || ' ' || f.on_delete \
             FROM sqlite_schema m JOIN pragma_foreign_key_list(m.name) f \
             WHERE m.type = 'table' AND m.name NOT IN ('sylvan_migrations', 'sqlite_sequence')",
            "SELECT 'index sql ' || name || ' ' || sql FROM sqlite_schema \
             WHERE type = 'index' AND sql IS NOT NULL",
        ],
    };
    let mut lines = Vec::new();
    for sql in queries {
        let rows: Vec<String> = t.db.fetch_all(sql, ()).await.unwrap();
        lines.extend(
            rows.into_iter()
                .map(|r| r.replace(&format!("{}.", t.name), "")),
        );
    }
    lines.sort();
    lines
}

/// The catalog of a fresh database where `create_all` made `schema`.
async fn created(t: &TestDb, schema: &Schema) -> Vec<String> {
    let f = fresh(t, "mm_fresh").await;
    schema.create_all(&f.db).await.unwrap();
    let lines = catalog(&f).await;
    f.cleanup().await;
    lines
}

async fn titles(t: &TestDb) -> Vec<(i64, String)> {
    t.db.fetch_all("SELECT author_id, title FROM mm_book ORDER BY id", ())
        .await
        .unwrap()
}

#[tokio::test]
async fn each_model_change_migrates_like_a_fresh_database_and_rolls_back() {
    crate::support::both("makemigrations", |t| async move {
        let dir = tempfile::tempdir().unwrap();
        let schemas = schemas();
        let mut books = Vec::new();
        for (step, schema) in schemas.iter().enumerate().skip(1) {
            let plan = MakeMigrations::new(schema.clone())
                .name(format!("step_{step}"))
                .plan_dir(dir.path())
                .unwrap()
                .unwrap_or_else(|| panic!("step {step}: a change"));
            plan.write().unwrap();
            if step == 1 {
                // A hand-written migration beside the generated ones: it
                // runs on both backends and records no state.
                std::fs::write(
                    dir.path().join("0002_seed.sql"),
                    "INSERT INTO mm_author (name) VALUES ('Ada');\n\
                     INSERT INTO mm_book (author_id, title) VALUES (1, 'first');\n\
                     -- down\nDELETE FROM mm_book;\nDELETE FROM mm_author;\n",
                )
                .unwrap();
                books.push((1, "first".to_owned()));
            }
            let migrations = Migrations::from_dir(dir.path()).unwrap();
            migrations.run(&t.db).await.unwrap();
            assert_eq!(
                catalog(&t).await,
                created(&t, schema).await,
                "step {step}: {}",
                plan.text()
            );
            assert_eq!(titles(&t).await, books, "step {step}: rows kept");
            t.db.execute(
                "INSERT INTO mm_book (author_id, title) VALUES (1, $1)",
                (format!("book {step}"),),
            )
            .await
            .unwrap();
            books.push((1, format!("book {step}")));
            // Nothing changed since: no plan, no file.
            let again = MakeMigrations::new(schema.clone())
                .plan_dir(dir.path())
                .unwrap();
            assert!(
                again.is_none(),
                "step {step}: {:?}",
                again.map(|p| p.file_name())
            );
        }
        let text = std::fs::read_to_string(dir.path().join("0004_step_3.sql")).unwrap();
        assert!(text.contains("-- sylvan:sqlite-foreign-keys-off"), "{text}");
        assert!(text.contains("\"__sylvan_new_mm_author\""), "{text}");
        assert!(text.contains("DROP NOT NULL"), "{text}");
        if t.kind == Kind::Sqlite {
            let on: i64 = t.db.fetch_one("PRAGMA foreign_keys", ()).await.unwrap();
            assert_eq!(on, 1, "the pool's connections keep their foreign keys");
        }
        let pages: i64 =
            t.db.fetch_one("SELECT pages FROM mm_book WHERE title = 'book 7'", ())
                .await
                .unwrap();
        assert_eq!(pages, 1, "the new default");

        // Every step back, down to nothing.
        let migrations = Migrations::from_dir(dir.path()).unwrap();
        for step in (1..schemas.len()).rev() {
            migrations.rollback(&t.db, 1).await.unwrap();
            if step == 1 {
                // The seed's down section ran.
                migrations.rollback(&t.db, 1).await.unwrap();
            }
            assert_eq!(
                catalog(&t).await,
                created(&t, &schemas[step - 1]).await,
                "rolled back step {step}"
            );
            if step > 1 {
                assert_eq!(
                    titles(&t).await.len(),
                    books.len(),
                    "rolled back step {step}: rows kept"
                );
            }
        }
        t
    })
    .await;
}

mod named {
    #[derive(sylvan::Model)]
    #[model(table = "mm_note")]
    pub struct Note {
        #[model(primary_key, auto)]
        pub id: i64,
        #[model(index)]
        pub title: String,
    }
}

mod renamed {
    #[derive(sylvan::Model)]
    #[model(table = "mm_note")]
    pub struct Note {
        #[model(primary_key, auto)]
        pub id: i64,
        #[model(index)]
        pub name: String,
    }
}

mod moved {
    #[derive(sylvan::Model)]
    #[model(table = "mm_memo")]
    pub struct Note {
        #[model(primary_key, auto)]
        pub id: i64,
        #[model(index)]
        pub name: String,
    }
}

#[tokio::test]
async fn a_rename_is_asked_for_and_keeps_the_data_when_hinted() {
    crate::support::both("mm_rename", |t| async move {
        let dir = tempfile::tempdir().unwrap();
        let before = Schema::new().model::<named::Note>();
        let after = Schema::new().model::<renamed::Note>();
        MakeMigrations::new(before)
            .plan_dir(dir.path())
            .unwrap()
            .unwrap()
            .write()
            .unwrap();
        Migrations::from_dir(dir.path())
            .unwrap()
            .run(&t.db)
            .await
            .unwrap();
        t.db.execute("INSERT INTO mm_note (title) VALUES ('kept')", ())
            .await
            .unwrap();

        let e = MakeMigrations::new(after.clone())
            .plan_dir(dir.path())
            .unwrap_err()
            .to_string();
        for needle in [
            ".rename_column(\"mm_note\", \"title\", \"name\")",
            ".drop_column(\"mm_note\", \"title\")",
        ] {
            assert!(e.contains(needle), "{e}");
        }
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
        // The hook is asked the same question.
        let e = MakeMigrations::new(after.clone())
            .on_ambiguity(|q: &Ambiguity| {
                assert!(matches!(q, Ambiguity::Column { removed, .. } if removed == "title"));
                Answer::Stop
            })
            .plan_dir(dir.path())
            .unwrap_err();
        assert!(e.to_string().contains("was \"title\" renamed"), "{e}");

        let plan = MakeMigrations::new(after.clone())
            .rename_column("mm_note", "title", "name")
            .plan_dir(dir.path())
            .unwrap()
            .unwrap();
        assert!(
            plan.text()
                .contains("ALTER TABLE \"mm_note\" RENAME COLUMN \"title\" TO \"name\""),
            "{}",
            plan.text()
        );
        plan.write().unwrap();
        let m = Migrations::from_dir(dir.path()).unwrap();
        m.run(&t.db).await.unwrap();
        let name: String =
            t.db.fetch_one("SELECT name FROM mm_note", ())
                .await
                .unwrap();
        assert_eq!(name, "kept");
        assert_eq!(catalog(&t).await, created(&t, &after).await);

        // A table rename, answered by the hook.
        let moved_schema = Schema::new().model::<moved::Note>();
        let plan = MakeMigrations::new(moved_schema.clone())
            .on_ambiguity(|q: &Ambiguity| match q {
                Ambiguity::Table { added, .. } => Answer::Rename(added[0].clone()),
                _ => Answer::Stop,
            })
            .plan_dir(dir.path())
            .unwrap()
            .unwrap();
        plan.write().unwrap();
        let m = Migrations::from_dir(dir.path()).unwrap();
        m.run(&t.db).await.unwrap();
        let name: String =
            t.db.fetch_one("SELECT name FROM mm_memo", ())
                .await
                .unwrap();
        assert_eq!(name, "kept");
        assert_eq!(catalog(&t).await, created(&t, &moved_schema).await);

        m.rollback(&t.db, 2).await.unwrap();
        let title: String =
            t.db.fetch_one("SELECT title FROM mm_note", ())
                .await
                .unwrap();
        assert_eq!(title, "kept");
        assert_eq!(
            catalog(&t).await,
            created(&t, &Schema::new().model::<named::Note>()).await
        );
        t
    })
    .await;
}

#[tokio::test]
async fn sqlite_foreign_keys_off_still_refuses_broken_references() {
    crate::support::both("mm_fk_check", |t| async move {
        let setup = Migration::parse(
            "0001_tables.sql",
            "CREATE TABLE mm_parent (id INTEGER PRIMARY KEY);\n\
             CREATE TABLE mm_child (id INTEGER PRIMARY KEY, \
             parent_id INTEGER REFERENCES mm_parent (id) ON DELETE CASCADE);\n\
             INSERT INTO mm_parent (id) VALUES (1);\n\
             INSERT INTO mm_child (id, parent_id) VALUES (1, 1);\n",
        )
        .unwrap();
        let broken = Migration::parse(
            "0002_broken.sql",
            "-- sylvan:sqlite-foreign-keys-off\n\
             INSERT INTO mm_child (id, parent_id) VALUES (2, 99);\n\
             DELETE FROM mm_parent;\n\
             -- down\nSELECT 1;\n",
        )
        .unwrap();
        let m = Migrations::new([setup, broken]).unwrap();
        let e = m.run(&t.db).await.unwrap_err();
        if t.kind == Kind::Sqlite {
            assert!(e.to_string().contains("breaking a foreign key"), "{e}");
        }
        // Rolled back: version 2 not recorded, no child row added, the
        // parent kept (and its child not cascaded away).
        let applied: Vec<i64> =
            t.db.fetch_all("SELECT version FROM sylvan_migrations", ())
                .await
                .unwrap();
        assert_eq!(applied, [1]);
        let rows: Vec<(i64, i64)> =
            t.db.fetch_all("SELECT id, parent_id FROM mm_child", ())
                .await
                .unwrap();
        assert_eq!(rows, [(1, 1)]);
        if t.kind == Kind::Sqlite {
            let on: i64 = t.db.fetch_one("PRAGMA foreign_keys", ()).await.unwrap();
            assert_eq!(on, 1);
        }
        t
    })
    .await;
}

mod two_states {
    #[derive(Debug, Clone, Copy, PartialEq, Eq, sylvan::FieldType)]
    #[field_type(rename_all = "snake_case")]
    pub enum State {
        Open,
        Closed,
    }

    #[derive(sylvan::Model)]
    #[model(table = "mm_ticket")]
    pub struct Ticket {
        #[model(primary_key, auto)]
        pub id: i64,
        pub state: State,
    }
}

mod three_states {
    #[derive(Debug, Clone, Copy, PartialEq, Eq, sylvan::FieldType)]
    #[field_type(rename_all = "snake_case")]
    pub enum State {
        Open,
        Closed,
        OnHold,
    }

    #[derive(sylvan::Model)]
    #[model(table = "mm_ticket")]
    pub struct Ticket {
        #[model(primary_key, auto)]
        pub id: i64,
        pub state: State,
    }
}

#[tokio::test]
async fn a_new_enum_value_changes_the_check_constraint() {
    crate::support::both("mm_enum", |t| async move {
        let dir = tempfile::tempdir().unwrap();
        let before = Schema::new().model::<two_states::Ticket>();
        let after = Schema::new().model::<three_states::Ticket>();
        for schema in [before.clone(), after.clone()] {
            MakeMigrations::new(schema)
                .plan_dir(dir.path())
                .unwrap()
                .unwrap()
                .write()
                .unwrap();
        }
        let m = Migrations::from_dir(dir.path()).unwrap();
        m.run(&t.db).await.unwrap();
        let insert = "INSERT INTO mm_ticket (state) VALUES ($1)";
        t.db.execute(insert, ("on_hold",)).await.unwrap();
        assert!(t.db.execute(insert, ("lost",)).await.is_err());
        assert_eq!(catalog(&t).await, created(&t, &after).await);
        if t.kind == Kind::Postgres {
            let check: String =
                t.db.fetch_one(
                    "SELECT pg_get_constraintdef(oid) FROM pg_constraint \
                     WHERE conname = 'mm_ticket_state_check'",
                    (),
                )
                .await
                .unwrap();
            assert!(check.contains("on_hold"), "{check}");
        }
        // Back: the row holding the new value must go first.
        t.db.execute("DELETE FROM mm_ticket", ()).await.unwrap();
        m.rollback(&t.db, 1).await.unwrap();
        assert!(t.db.execute(insert, ("on_hold",)).await.is_err());
        t.db.execute(insert, ("open",)).await.unwrap();
        assert_eq!(catalog(&t).await, created(&t, &before).await);
        t
    })
    .await;
}
