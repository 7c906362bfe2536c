//! [`TestDatabase`]: one test's private database, set up from a [`Setup`]
//! and dropped afterwards.
//!
//! Isolation: on SQLite each `TestDatabase` opens `sqlite::memory:`, which
//! Sylvan's URL parser turns into a `memdb` database of a name unique in
//! the process (`sylvan-memory-<pid>-<n>`), shared by every connection of
//! that one pool (readers and writer see the same data) and kept alive by
//! the pool's anchor connection; two test databases never share a name, so
//! never data. On PostgreSQL each test gets a database of its own (see
//! `postgres.rs`), so tests in one process, in several processes, or
//! running at once never see each other's rows.
//!
//! Teardown: [`TestDatabase::drop_database`] closes the pool and (PostgreSQL)
//! drops the database `WITH (FORCE)`. A `TestDatabase` dropped without it
//! drops its PostgreSQL database from its `Drop`, on a thread of its own
//! (its own current-thread runtime, so it works inside or outside a
//! runtime), and waits for it.

use super::postgres::{self as pg, PgDatabase};
use crate::{Database, Dialect, Error, Migrations, Result, Schema};
use sha2::{Digest, Sha256};

/// The backend a [`TestDatabase`] runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Backend {
    /// SQLite, in memory.
    Sqlite,
    /// PostgreSQL, a database cloned from a template.
    Postgres,
}

impl Backend {
    /// `"sqlite"` or `"postgres"`, as in the names of the generated tests.
    ///
    /// ```
    /// assert_eq!(sylvan::testing::Backend::Postgres.name(), "postgres");
    /// ```
    pub fn name(self) -> &'static str {
        match self {
            Backend::Sqlite => "sqlite",
            Backend::Postgres => "postgres",
        }
    }

    /// The SQL dialect of the backend.
    pub fn dialect(self) -> Dialect {
        match self {
            Backend::Sqlite => Dialect::Sqlite,
            Backend::Postgres => Dialect::Postgres,
        }
    }
}

impl std::fmt::Display for Backend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// What a fresh test database holds before the test body runs.
///
/// ```
/// use sylvan::testing::Setup;
/// use sylvan::{Migration, Migrations, Schema};
///
/// let empty = Setup::empty();
/// let tables = Setup::schema(Schema::new());
/// let migrated = Setup::migrations(Migrations::new([Migration::new(
///     1, "notes", "CREATE TABLE notes (id INTEGER PRIMARY KEY)", None,
/// )])?);
/// assert!(empty.fingerprint()?.is_none());
/// assert_ne!(tables.fingerprint()?, migrated.fingerprint()?);
/// # Ok::<_, sylvan::Error>(())
/// ```
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub enum Setup {
    /// Nothing: an empty database.
    #[default]
    Empty,
    /// The tables of a [`Schema`], created with [`Schema::create_all`].
    Schema(Schema),
    /// [`Migrations`], applied with [`Migrations::run`] (so the tracking
    /// table `sylvan_migrations` is there too).
    Migrations(Migrations),
}

impl Setup {
    /// An empty database.
    pub fn empty() -> Setup {
        Setup::Empty
    }

    /// The tables of `schema`.
    pub fn schema(schema: Schema) -> Setup {
        Setup::Schema(schema)
    }

    /// `migrations`, applied.
    pub fn migrations(migrations: Migrations) -> Setup {
        Setup::Migrations(migrations)
    }

    /// Sets up `db` (an empty database).
    pub async fn apply(&self, db: &Database) -> Result<()> {
        match self {
            Setup::Empty => Ok(()),
            Setup::Schema(schema) => schema.create_all(db).await,
            Setup::Migrations(migrations) => migrations.run(db).await.map(drop),
        }
    }

    /// 16 hex digits that change whenever the PostgreSQL database this
    /// setup builds would (the `CREATE` statements of a schema; the
    /// versions, names and checksums of migrations), `None` for an empty
    /// database. PostgreSQL templates are named after it.
    pub fn fingerprint(&self) -> Result<Option<String>> {
        let mut hash = Parts::new();
        hash.write("sylvan-testing-template-1");
        match self {
            Setup::Empty => return Ok(None),
            Setup::Schema(schema) => {
                hash.write("schema");
                for sql in schema.create_sql(Dialect::Postgres)? {
                    hash.write(&sql);
                }
            }
            Setup::Migrations(migrations) => {
                hash.write("migrations");
                for m in migrations.list() {
                    hash.write(&m.version().to_string());
                    hash.write(m.name());
                    hash.write(&m.checksum());
                }
            }
        }
        Ok(Some(hash.finish()))
    }
}

impl From<Schema> for Setup {
    fn from(schema: Schema) -> Setup {
        Setup::Schema(schema)
    }
}

impl From<Migrations> for Setup {
    fn from(migrations: Migrations) -> Setup {
        Setup::Migrations(migrations)
    }
}

/// SHA-256 (the hash of migration checksums) over length-prefixed parts,
/// so `["ab", "c"]` and `["a", "bc"]` differ.
struct Parts(Sha256);

impl Parts {
    fn new() -> Parts {
        Parts(Sha256::new())
    }

    fn write(&mut self, part: &str) {
        self.0.update((part.len() as u64).to_le_bytes());
        self.0.update(part.as_bytes());
    }

    /// The first 8 bytes of the digest, as 16 lowercase hex digits.
    fn finish(self) -> String {
        self.0.finalize()[..8]
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect()
    }
}

/// Why a [`TestDatabase`] could not be made: the PostgreSQL server (or the
/// backend's cargo feature) is missing, which a test may skip, or anything
/// else, which fails it.
#[derive(Debug)]
pub(crate) enum CreateError {
    /// The server could not be reached, or the backend was compiled out.
    Unavailable(Error),
    /// The server was reached, but the database could not be made.
    Failed(Error),
}

impl CreateError {
    fn into_error(self) -> Error {
        match self {
            CreateError::Unavailable(e) | CreateError::Failed(e) => e,
        }
    }
}

/// A database private to one test: on SQLite in memory, on PostgreSQL a
/// database of its own cloned from a template (see
/// [`docs::testing`](crate::docs::testing)). Call
/// [`drop_database`](Self::drop_database) at the end; dropped without it,
/// a PostgreSQL database is dropped from `Drop` (blocking for a moment).
///
/// ```
/// use sylvan::prelude::*;
/// use sylvan::testing::{Backend, Setup, TestDatabase};
/// # tokio::runtime::Runtime::new().unwrap().block_on(async {
/// let a = TestDatabase::create(Backend::Sqlite, &Setup::empty()).await?;
/// let b = TestDatabase::create(Backend::Sqlite, &Setup::empty()).await?;
/// a.database().execute("CREATE TABLE t (x INTEGER)", ()).await?;
/// // `b` is another database: no table `t` there.
/// assert!(b.database().execute("SELECT x FROM t", ()).await.is_err());
/// a.drop_database().await?;
/// b.drop_database().await?;
/// # Ok::<_, sylvan::Error>(()) }).unwrap();
/// ```
#[derive(Debug)]
pub struct TestDatabase {
    db: Database,
    backend: Backend,
    /// PostgreSQL: the database to drop; `None` once dropped.
    pg: Option<PgDatabase>,
}

impl TestDatabase {
    /// A fresh database on `backend`, set up by `setup`. On PostgreSQL the
    /// server is the one [`server_url`](Self::server_url) names; an
    /// unreachable server is an error (the attribute turns it into a skip).
    pub async fn create(backend: Backend, setup: &Setup) -> Result<TestDatabase> {
        TestDatabase::try_create(backend, setup, &TestDatabase::server_url())
            .await
            .map_err(CreateError::into_error)
    }

    /// [`create`](Self::create) on the PostgreSQL server `server`, telling
    /// an unavailable backend apart.
    pub(crate) async fn try_create(
        backend: Backend,
        setup: &Setup,
        server: &str,
    ) -> std::result::Result<TestDatabase, CreateError> {
        match backend {
            Backend::Sqlite => {
                let db = Database::connect("sqlite::memory:").await.map_err(|e| {
                    if cfg!(feature = "sqlite") {
                        CreateError::Failed(e)
                    } else {
                        CreateError::Unavailable(e)
                    }
                })?;
                let test_db = TestDatabase {
                    db,
                    backend,
                    pg: None,
                };
                setup
                    .apply(&test_db.db)
                    .await
                    .map_err(CreateError::Failed)?;
                Ok(test_db)
            }
            Backend::Postgres => {
                let (db, pg) = pg::create(server, setup).await?;
                Ok(TestDatabase {
                    db,
                    backend,
                    pg: Some(pg),
                })
            }
        }
    }

    /// The PostgreSQL server tests use: `SYLVAN_TEST_DATABASE_URL`, else
    /// `DATABASE_URL` when it names a PostgreSQL server, else
    /// `postgres://postgres@127.0.0.1:5432/postgres`. Its database is
    /// where templates are looked up and locked; test databases are
    /// created beside it.
    pub fn server_url() -> String {
        let postgres = |url: &String| !url.trim().is_empty() && !url.starts_with("sqlite:");
        std::env::var("SYLVAN_TEST_DATABASE_URL")
            .ok()
            .filter(postgres)
            .or_else(|| std::env::var("DATABASE_URL").ok().filter(postgres))
            .unwrap_or_else(|| "postgres://postgres@127.0.0.1:5432/postgres".to_owned())
    }

    /// The test's database.
    pub fn database(&self) -> &Database {
        &self.db
    }

    /// The backend.
    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// The PostgreSQL database's name (`sylvan_t_<pid>_<n>`); `None` on
    /// SQLite.
    pub fn name(&self) -> Option<&str> {
        self.pg.as_ref().map(PgDatabase::name)
    }

    /// Closes the pool (clones of the [`Database`] too) and drops the
    /// database: on PostgreSQL `DROP DATABASE … WITH (FORCE)`, which ends
    /// sessions still connected; on SQLite the memory goes with the pool.
    pub async fn drop_database(mut self) -> Result<()> {
        self.db.close();
        match self.pg.take() {
            Some(pg) => pg.drop_database().await,
            None => Ok(()),
        }
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        self.db.close();
        // A PostgreSQL database still here drops itself (blocking).
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Migration;

    #[test]
    fn fingerprints_follow_the_setup() {
        let one = |sql: &'static str| {
            Setup::migrations(Migrations::new([Migration::new(1, "a", sql, None)]).unwrap())
                .fingerprint()
                .unwrap()
                .unwrap()
        };
        assert_eq!(one("CREATE TABLE a (x INT)"), one("CREATE TABLE a (x INT)"));
        assert_ne!(
            one("CREATE TABLE a (x INT)"),
            one("CREATE TABLE a (x BIGINT)")
        );
        assert_eq!(one("x").len(), 16);
        assert_ne!(
            Setup::schema(Schema::new()).fingerprint().unwrap(),
            Setup::migrations(Migrations::new([]).unwrap())
                .fingerprint()
                .unwrap()
        );
    }

    #[test]
    fn parts_are_length_prefixed() {
        let of = |parts: &[&str]| {
            let mut h = Parts::new();
            parts.iter().for_each(|p| h.write(p));
            h.finish()
        };
        assert_ne!(of(&["ab", "c"]), of(&["a", "bc"]));
    }
}
