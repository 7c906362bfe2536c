//! `#[sylvan::test]` and `sylvan::testing`: each test gets a database of
//! its own, set up from a schema or migrations, on both backends; tests
//! running at once never see each other's rows; the PostgreSQL database
//! is dropped afterwards, also when the body panics or returns `Err`.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use sylvan::prelude::*;
use sylvan::testing::{Backend, Setup, TestDatabase, TestRun};
use sylvan::{Dialect, Schema};

#[derive(Debug, Clone, PartialEq, Model)]
#[model(table = "fresh_note")]
struct Note {
    id: i64,
    owner: String,
}

fn notes() -> Schema {
    Schema::new().model::<Note>()
}

fn backend_of(db: &Database) -> Backend {
    if db.dialect() == Dialect::Postgres {
        Backend::Postgres
    } else {
        Backend::Sqlite
    }
}

/// Inserts `n` notes of `owner`.
async fn add(db: &Database, owner: &str, n: usize) -> sylvan::Result<()> {
    for _ in 0..n {
        Note {
            id: 0,
            owner: owner.to_owned(),
        }
        .insert(db)
        .await?;
    }
    Ok(())
}

/// The owners of every note, sorted.
async fn owners(db: &Database) -> sylvan::Result<Vec<String>> {
    Note::objects()
        .order_by(Note::OWNER.asc())
        .values(Note::OWNER)
        .all(db)
        .await
}

#[sylvan::test(schema = notes)]
async fn databases_made_at_once_are_isolated(db: Database) -> sylvan::Result<()> {
    let backend = backend_of(&db);
    let setup = Setup::schema(notes());
    let (a, b) = tokio::join!(
        TestDatabase::create(backend, &setup),
        TestDatabase::create(backend, &setup)
    );
    let (a, b) = (a?, b?);
    assert_eq!(a.backend(), backend);
    if backend == Backend::Postgres {
        assert_ne!(a.name(), b.name());
        assert!(a.name().is_some_and(|n| n.starts_with("sylvan_t_")));
    } else {
        assert_eq!(a.name(), None);
    }
    let (ra, rb, rdb) = tokio::join!(
        add(a.database(), "a", 3),
        add(b.database(), "b", 2),
        add(&db, "outer", 1)
    );
    ra?;
    rb?;
    rdb?;
    assert_eq!(owners(a.database()).await?, ["a", "a", "a"]);
    assert_eq!(owners(b.database()).await?, ["b", "b"]);
    assert_eq!(owners(&db).await?, ["outer"]);
    a.drop_database().await?;
    b.drop_database().await?;
    Ok(())
}

/// Per backend: how many of the two overlapping tests have inserted.
static INSERTED: [AtomicUsize; 2] = [AtomicUsize::new(0), AtomicUsize::new(0)];

/// Inserts, waits (up to 5 s) until the other test of the pair has
/// inserted too, then checks it sees only its own rows. The test harness
/// runs the two at once unless `--test-threads=1`, where the wait times
/// out and the check still runs.
async fn insert_meet_count(db: Database, me: &str, n: usize) -> sylvan::Result<()> {
    add(&db, me, n).await?;
    let arrived = &INSERTED[backend_of(&db) as usize];
    arrived.fetch_add(1, Ordering::SeqCst);
    let deadline = Instant::now() + Duration::from_secs(5);
    while arrived.load(Ordering::SeqCst) < 2 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(owners(&db).await?, vec![me.to_owned(); n]);
    assert_eq!(Note::objects().count(&db).await?, n as i64);
    Ok(())
}

#[sylvan::test(schema = notes)]
async fn overlapping_tests_see_their_own_rows_left(db: Database) -> sylvan::Result<()> {
    insert_meet_count(db, "left", 2).await
}

#[sylvan::test(schema = notes)]
async fn overlapping_tests_see_their_own_rows_right(db: Database) -> sylvan::Result<()> {
    insert_meet_count(db, "right", 3).await
}

#[sylvan::test(migrations = "tests/migrations")]
async fn a_migrations_directory_is_applied(db: Database) -> sylvan::Result<()> {
    let applied: Vec<i64> = db
        .fetch_all("SELECT version FROM applied_log ORDER BY version", ())
        .await?;
    assert_eq!(applied, [1, 2, 3]);
    let tagged: Vec<Option<String>> = db.fetch_all("SELECT tag FROM notes", ()).await?;
    assert_eq!(tagged, [None, None]);
    // Recorded as applied: running them again does nothing.
    let again = sylvan::embed_migrations!("tests/migrations")
        .run(&db)
        .await?;
    assert!(again.is_empty(), "{again:?}");
    Ok(())
}

fn two_migrations() -> sylvan::Migrations {
    sylvan::Migrations::new([
        sylvan::Migration::new(1, "a", "CREATE TABLE fresh_a (x INTEGER)", None),
        sylvan::Migration::new(2, "b", "INSERT INTO fresh_a (x) VALUES (42)", None),
    ])
    .unwrap()
}

#[sylvan::test(migrations = two_migrations)]
async fn a_migrations_function_is_applied(db: Database) -> sylvan::Result<()> {
    let x: i32 = db.fetch_one("SELECT x FROM fresh_a", ()).await?;
    assert_eq!(x, 42);
    Ok(())
}

#[sylvan::test]
async fn no_setup_is_an_empty_database(db: Database) -> sylvan::Result<()> {
    // The table another test's schema made is not here.
    assert!(db
        .execute("SELECT owner FROM fresh_note", ())
        .await
        .is_err());
    Ok(())
}

#[sylvan::test(schema = notes, backends(sqlite))]
async fn one_backend_runs_once(db: Database) {
    assert_eq!(db.dialect(), Dialect::Sqlite);
}

#[sylvan::test(backends(sqlite), n_plus_one = false)]
#[should_panic(expected = "returned an error: NotFound")]
async fn an_err_fails_the_test(_db: Database) -> sylvan::Result<()> {
    Err(Error::NotFound)
}

/// What a body saw: its database handle and, on PostgreSQL, the name of
/// its database.
type Seen = Arc<Mutex<Option<(Database, String)>>>;

/// Runs `body` through `TestRun` on `backend`, catching its panic, and
/// returns what the body saw (`None` when the PostgreSQL half was
/// skipped) and whether the run panicked.
fn run_and_record<Fut>(
    backend: Backend,
    body: impl FnOnce(Database) -> Fut,
) -> (Option<(Database, String)>, bool)
where
    Fut: std::future::Future<Output = sylvan::Result<()>>,
{
    let seen: Seen = Arc::default();
    let keep = Arc::clone(&seen);
    let panicked = std::panic::catch_unwind(std::panic::AssertUnwindSafe(move || {
        TestRun::new("it::fresh_database::teardown", backend)
            .setup(Setup::schema(notes()))
            .run(move |db: Database| async move {
                let name: String = if db.dialect() == Dialect::Postgres {
                    db.fetch_one("SELECT current_database()::text", ()).await?
                } else {
                    String::new()
                };
                *keep.lock().unwrap() = Some((db.clone(), name));
                body(db).await
            })
    }))
    .is_err();
    let seen = seen.lock().unwrap().take();
    (seen, panicked)
}

/// True if the PostgreSQL database `name` exists.
fn pg_database_exists(name: &str) -> bool {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let admin = Database::connect(&TestDatabase::server_url())
            .await
            .unwrap();
        let found: Option<i32> = admin
            .fetch_optional("SELECT 1 FROM pg_database WHERE datname = $1", (name,))
            .await
            .unwrap();
        admin.close();
        found.is_some()
    })
}

#[test]
fn the_database_is_dropped_after_the_body_returns_panics_or_fails() {
    for backend in [Backend::Sqlite, Backend::Postgres] {
        let outcomes: [(&str, bool); 3] = [("returns", false), ("panics", true), ("fails", true)];
        for (how, should_panic) in outcomes {
            let (seen, panicked) = run_and_record(backend, move |db: Database| async move {
                add(&db, "x", 1).await?;
                match how {
                    "panics" => panic!("the body panics"),
                    "fails" => Err(Error::NotFound),
                    _ => Ok(()),
                }
            });
            let Some((db, name)) = seen else {
                // PostgreSQL skipped (the run printed SKIP).
                assert_eq!(backend, Backend::Postgres);
                assert!(!panicked);
                continue;
            };
            assert_eq!(panicked, should_panic, "{backend} body that {how}");
            assert!(
                db.is_closed(),
                "{backend} body that {how}: the pool is open"
            );
            if backend == Backend::Postgres {
                assert!(name.starts_with("sylvan_t_"), "{name}");
                assert!(
                    !pg_database_exists(&name),
                    "{name} is left after a body that {how}"
                );
            }
        }
    }
}

#[sylvan::test(schema = notes, backends(postgres))]
async fn the_template_is_built_once_and_locked_against_connections(
    db: Database,
) -> sylvan::Result<()> {
    let fingerprint = Setup::schema(notes()).fingerprint()?.unwrap();
    let template = format!("sylvan_tpl_{fingerprint}");
    let flags: (bool, bool) = db
        .fetch_one(
            "SELECT datistemplate, datallowconn FROM pg_database WHERE datname = $1",
            (template.as_str(),),
        )
        .await?;
    assert_eq!(flags, (true, false));
    let building: i64 = db
        .fetch_one(
            "SELECT count(*) FROM pg_database WHERE datname = $1",
            (format!("sylvan_tplb_{fingerprint}"),),
        )
        .await?;
    assert_eq!(building, 0, "a half-built template is left");
    // The test's database is a copy: the table is there, empty.
    assert_eq!(Note::objects().count(&db).await?, 0);
    Ok(())
}
