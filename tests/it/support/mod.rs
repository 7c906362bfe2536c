//! Test support: run one test body on SQLite and PostgreSQL, each test in
//! its own file or schema so tests never collide.
//!
//! PostgreSQL is found at `SYLVAN_TEST_PG_URL` (default
//! `postgres://postgres@127.0.0.1:5432/test`). When it is unreachable the
//! PostgreSQL half of a test is skipped with a message, unless
//! `SYLVAN_REQUIRE_PG=1` (set by `.ci/run`), which turns that into a failure.

pub mod pgbouncer;
pub mod relay;
#[cfg(feature = "postgres")]
pub mod replica;
#[cfg(feature = "tls")]
pub mod tls;

use std::future::Future;
use std::sync::atomic::{AtomicUsize, Ordering};
use sylvan::prelude::*;
use sylvan::PoolConfig;

/// Which backend a [`TestDb`] runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Sqlite,
    Postgres,
}

/// A database private to one test.
pub struct TestDb {
    pub db: Database,
    pub kind: Kind,
    /// The URL the pool was opened with (reuse it to open a second pool on
    /// the same database).
    pub url: String,
    /// PostgreSQL: the schema and `application_name` (through PgBouncer:
    /// the database); SQLite: the file stem.
    pub name: String,
    /// Through PgBouncer in transaction mode with `pooler=transaction`, in
    /// a database of its own (see [`pgbouncer`]).
    pub via_bouncer: bool,
    _dir: Option<tempfile::TempDir>,
}

static NEXT: AtomicUsize = AtomicUsize::new(0);

/// Registers `test_conn_id()`, a number unique to each SQLite connection
/// (PostgreSQL has `pg_backend_pid()`): tests compare it to prove a
/// connection was, or was not, replaced.
fn register_conn_id(conn: &rusqlite::Connection) -> rusqlite::Result<()> {
    static NEXT_CONN: std::sync::atomic::AtomicI64 = std::sync::atomic::AtomicI64::new(1);
    let id = NEXT_CONN.fetch_add(1, Ordering::Relaxed);
    conn.create_scalar_function(
        "test_conn_id",
        0,
        rusqlite::functions::FunctionFlags::SQLITE_UTF8,
        move |_| Ok(id),
    )
}

fn unique(name: &str) -> String {
    let clean: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '_'
            }
        })
        .take(30)
        .collect();
    format!(
        "t_{clean}_{}_{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    )
}

pub fn pg_base_url() -> String {
    std::env::var("SYLVAN_TEST_PG_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".to_owned())
}

pub fn require_pg() -> bool {
    std::env::var("SYLVAN_REQUIRE_PG").is_ok_and(|v| v == "1")
}

pub fn with_params(url: &str, params: &str) -> String {
    if url.contains('?') {
        format!("{url}&{params}")
    } else {
        format!("{url}?{params}")
    }
}

impl TestDb {
    /// A fresh SQLite file in a temporary directory.
    pub async fn sqlite_file(name: &str, pool: PoolConfig) -> TestDb {
        let dir = tempfile::tempdir().expect("tempdir");
        let name = unique(name);
        let path = dir.path().join(format!("{name}.db"));
        let url = format!("sqlite://{}", path.display());
        let db = Database::builder(&url)
            .sqlite_on_connect(register_conn_id)
            .pool(pool)
            .connect()
            .await
            .expect("open sqlite file");
        TestDb {
            db,
            kind: Kind::Sqlite,
            url,
            name,
            via_bouncer: false,
            _dir: Some(dir),
        }
    }

    /// A fresh `sqlite::memory:` database.
    pub async fn sqlite_memory(name: &str, pool: PoolConfig) -> TestDb {
        let url = "sqlite::memory:".to_owned();
        let db = Database::builder(&url)
            .sqlite_on_connect(register_conn_id)
            .pool(pool)
            .connect()
            .await
            .expect("open sqlite memory");
        TestDb {
            db,
            kind: Kind::Sqlite,
            url,
            name: unique(name),
            via_bouncer: false,
            _dir: None,
        }
    }

    /// A fresh schema on the PostgreSQL server, or `None` (with a message)
    /// when the server is unreachable and not required.
    pub async fn postgres(name: &str, pool: PoolConfig) -> Option<TestDb> {
        let base = pg_base_url();
        let admin = match Database::builder(&base)
            .pool(
                PoolConfig::default()
                    .max_size(1)
                    .create_timeout(std::time::Duration::from_secs(5)),
            )
            .connect()
            .await
        {
            Ok(db) => db,
            Err(e) if !require_pg() => {
                eprintln!(
                    "SKIP postgres half of `{name}`: {e} (set SYLVAN_REQUIRE_PG=1 to fail instead)"
                );
                return None;
            }
            Err(e) => panic!("PostgreSQL is required (SYLVAN_REQUIRE_PG=1) but unreachable: {e}"),
        };
        let name = unique(name);
        admin
            .execute(&format!("CREATE SCHEMA \"{name}\""), ())
            .await
            .expect("create schema");
        admin.close();
        let url = with_params(
            &base,
            &format!("application_name={name}&options=-csearch_path%3D{name}"),
        );
        let db = Database::builder(&url)
            .pool(pool)
            .connect()
            .await
            .expect("open postgres");
        Some(TestDb {
            db,
            kind: Kind::Postgres,
            url,
            name,
            via_bouncer: false,
            _dir: None,
        })
    }

    /// Drops the PostgreSQL schema (SQLite files go with the temp dir).
    pub async fn cleanup(self) {
        self.db.close();
        if self.kind == Kind::Postgres {
            if let Ok(admin) = Database::connect(&pg_base_url()).await {
                let sql = if self.via_bouncer {
                    format!("DROP DATABASE IF EXISTS \"{}\" WITH (FORCE)", self.name)
                } else {
                    format!("DROP SCHEMA IF EXISTS \"{}\" CASCADE", self.name)
                };
                let _ = admin.execute(&sql, ()).await;
                admin.close();
            }
        }
    }

    /// The identity of the connection a statement on `db` runs on:
    /// `pg_backend_pid()` or the SQLite connection's `test_conn_id()`.
    pub async fn connection_id<E: Executor>(&self, on: &E) -> sylvan::Result<i64> {
        let sql = match self.kind {
            Kind::Sqlite => "SELECT test_conn_id()",
            Kind::Postgres => "SELECT CAST(pg_backend_pid() AS BIGINT)",
        };
        on.fetch_one(sql, ()).await
    }

    /// SQL type names that differ between the backends.
    pub fn blob_type(&self) -> &'static str {
        match self.kind {
            Kind::Sqlite => "BLOB",
            Kind::Postgres => "BYTEA",
        }
    }

    pub fn double_type(&self) -> &'static str {
        match self.kind {
            Kind::Sqlite => "REAL",
            Kind::Postgres => "DOUBLE PRECISION",
        }
    }

    /// Backends of this test's application_name in pg_stat_activity, by state.
    pub async fn pg_sessions(&self) -> Vec<(i32, Option<String>)> {
        assert_eq!(self.kind, Kind::Postgres);
        let admin = Database::connect(&pg_base_url()).await.expect("admin");
        let rows = admin
            .fetch_all(
                "SELECT pid, state FROM pg_stat_activity WHERE application_name = $1",
                (self.name.as_str(),),
            )
            .await
            .expect("pg_stat_activity");
        admin.close();
        rows
    }
}

/// Runs `body` on a SQLite file database and on a PostgreSQL schema, each
/// with the given pool settings.
pub async fn both_with<F, Fut>(name: &str, pool: PoolConfig, body: F)
where
    F: Fn(TestDb) -> Fut,
    Fut: Future<Output = TestDb>,
{
    let t = TestDb::sqlite_file(name, pool.clone()).await;
    body(t).await.cleanup().await;
    if let Some(t) = TestDb::postgres(name, pool).await {
        body(t).await.cleanup().await;
    }
}

/// [`both_with`] with a small default pool.
pub async fn both<F, Fut>(name: &str, body: F)
where
    F: Fn(TestDb) -> Fut,
    Fut: Future<Output = TestDb>,
{
    both_with(name, PoolConfig::default().max_size(4), body).await
}

/// Polls `check` every 20 ms until it is true or `within` has passed.
pub async fn eventually<F, Fut>(within: std::time::Duration, mut check: F) -> bool
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    let deadline = std::time::Instant::now() + within;
    loop {
        if check().await {
            return true;
        }
        if std::time::Instant::now() >= deadline {
            return false;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}

/// An error and all its causes, for assertions on what a user would see.
pub fn error_chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(cause) = source {
        text.push_str(" <- ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

/// Every event of target `sylvan::query`, as `field=value` strings.
fn captured() -> &'static std::sync::Mutex<Vec<String>> {
    static EVENTS: std::sync::OnceLock<std::sync::Mutex<Vec<String>>> = std::sync::OnceLock::new();
    EVENTS.get_or_init(|| std::sync::Mutex::new(Vec::new()))
}

struct Capture;

struct Fields(String);

impl tracing::field::Visit for Fields {
    fn record_debug(&mut self, field: &tracing::field::Field, value: &dyn std::fmt::Debug) {
        self.0.push_str(&format!("{}={:?} ", field.name(), value));
    }
}

impl tracing::Subscriber for Capture {
    fn enabled(&self, meta: &tracing::Metadata<'_>) -> bool {
        meta.target().starts_with("sylvan")
    }
    fn new_span(&self, _: &tracing::span::Attributes<'_>) -> tracing::span::Id {
        tracing::span::Id::from_u64(1)
    }
    fn record(&self, _: &tracing::span::Id, _: &tracing::span::Record<'_>) {}
    fn record_follows_from(&self, _: &tracing::span::Id, _: &tracing::span::Id) {}
    fn event(&self, event: &tracing::Event<'_>) {
        if event.metadata().target() == "sylvan::query" {
            let mut fields = Fields(String::new());
            event.record(&mut fields);
            captured().lock().unwrap().push(fields.0);
        }
    }
    fn enter(&self, _: &tracing::span::Id) {}
    fn exit(&self, _: &tracing::span::Id) {}
}

/// Records every statement's trace event from now on (process-wide, since
/// SQLite statements run on worker threads).
pub fn capture_queries() {
    let _ = tracing::subscriber::set_global_default(Capture);
}

/// The recorded statement events whose text contains `marker`.
pub fn query_events(marker: &str) -> Vec<String> {
    captured()
        .lock()
        .unwrap()
        .iter()
        .filter(|e| e.contains(marker))
        .cloned()
        .collect()
}
