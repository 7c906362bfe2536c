//! Versioned SQL migrations: files `NNNN_name.sql` with an optional down
//! section after a line `-- down`, embedded at compile time by
//! [`embed_migrations!`](crate::embed_migrations) (or read at run time with
//! [`Migrations::from_dir`]), applied in order, each in its own transaction,
//! and recorded in `sylvan_migrations` with a checksum.
//!
//! Two processes migrating one database at once apply each migration once:
//! every migration's transaction first takes a lock — a transaction-scoped
//! advisory lock on PostgreSQL, the database write lock (`BEGIN IMMEDIATE`)
//! on SQLite — and re-reads what is applied under it. An applied migration
//! whose file changed is an [`Error::Migration`] naming it.
//!
//! A migration whose first line is `-- sylvan:no-transaction` runs outside
//! any transaction, statement by statement (for `CREATE INDEX
//! CONCURRENTLY`), on a connection of its own outside the pool that holds
//! the migration lock for the whole migration: a session-level advisory
//! lock on PostgreSQL (it conflicts with the transaction-level one), on
//! SQLite a process-wide mutex and an OS lock on the file
//! `<database>-sylvan-migrate.lock` beside the database. Its connection is
//! closed at the end, so no session state it set reaches the pool, and a
//! cancelled or crashed migrator's lock dies with its connection. It is
//! recorded only once every statement succeeded.
//!
//! Statements that control the transaction (`BEGIN`, `START TRANSACTION`,
//! `COMMIT`, `END`, `ROLLBACK`, `ABORT`, `SAVEPOINT`, `RELEASE`,
//! `PREPARE TRANSACTION`) are refused in every migration, before anything
//! runs: in a transactional one they would end Sylvan's transaction (and
//! with it the migration lock) early. Text in strings, dollar-quoted bodies
//! (`DO $$ BEGIN … END $$`), quoted identifiers and comments does not count.

use crate::backend::postgres::PgConn;
use crate::backend::sqlite::{Mode, SqliteConn};
use crate::database::{Database, Dedicated};
use crate::error::{Error, Result};
use crate::executor::Executor;
use crate::row::Cardinality;
use crate::value::Value;
use std::borrow::Cow;
use std::path::Path;

/// The reading of migration files, shared with `embed_migrations!` (the
/// proc-macro crate cannot depend on this one, so both include one file).
#[allow(dead_code)]
mod text {
    include!("../../derive/src/migration_text.rs");
}

/// The advisory lock key migrators take on PostgreSQL ("sylvanmg").
const ADVISORY_LOCK_KEY: i64 = 0x7379_6c76_616e_6d67;

const TRACKING_TABLE: &str = "CREATE TABLE IF NOT EXISTS sylvan_migrations (\
     version BIGINT PRIMARY KEY, name TEXT NOT NULL, checksum TEXT NOT NULL, applied_at TEXT NOT NULL)";

/// One migration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Migration {
    version: i64,
    name: Cow<'static, str>,
    up: Cow<'static, str>,
    down: Option<Cow<'static, str>>,
}

impl Migration {
    /// A migration (used by [`embed_migrations!`](crate::embed_migrations)).
    pub const fn new(
        version: i64,
        name: &'static str,
        up: &'static str,
        down: Option<&'static str>,
    ) -> Self {
        Migration {
            version,
            name: Cow::Borrowed(name),
            up: Cow::Borrowed(up),
            down: match down {
                Some(d) => Some(Cow::Borrowed(d)),
                None => None,
            },
        }
    }

    /// Parses the text of a file named `NNNN_name.sql`.
    pub fn parse(file_name: &str, text: &str) -> Result<Self> {
        let bad = |why: &str| Error::Migration {
            version: None,
            message: format!("{file_name}: {why}"),
        };
        let stem = file_name
            .strip_suffix(".sql")
            .ok_or_else(|| bad("not a .sql file"))?;
        let (number, name) = stem
            .split_once('_')
            .ok_or_else(|| bad("expected a name like 0001_create_users.sql"))?;
        let version: i64 = number
            .parse()
            .map_err(|_| bad("the name must start with a version number"))?;
        let (up, down) = text::split_down(text);
        text::check_migration_text(up, down).map_err(|why| Error::Migration {
            version: Some(version),
            message: format!("{file_name}: {why}"),
        })?;
        Ok(Migration {
            version,
            name: Cow::Owned(name.to_owned()),
            up: Cow::Owned(up.to_owned()),
            down: down.map(|d| Cow::Owned(d.to_owned())),
        })
    }

    /// The version number.
    pub fn version(&self) -> i64 {
        self.version
    }

    /// The name (after the version in the file name).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// False for a migration whose first line is `-- sylvan:no-transaction`:
    /// it runs outside any transaction, statement by statement, for what
    /// cannot run in one (PostgreSQL's `CREATE INDEX CONCURRENTLY`,
    /// `VACUUM`; SQLite's `PRAGMA foreign_keys`). It still holds the
    /// migration lock, and is recorded only after every statement
    /// succeeded; but a statement that fails leaves the ones before it
    /// applied (and `CREATE INDEX CONCURRENTLY` an invalid index): fix the
    /// database by hand before running it again. Its down section runs the
    /// same way. Keep such migrations to one statement where possible.
    pub fn is_transactional(&self) -> bool {
        !text::is_no_transaction(&self.up)
    }

    /// Refuses transaction control statements and unknown directives (see
    /// the [module docs](crate::Migrations)).
    fn check(&self) -> Result<()> {
        text::check_migration_text(&self.up, self.down.as_deref()).map_err(|why| Error::Migration {
            version: Some(self.version),
            message: format!("migration {} ({}): {why}", self.version, self.name),
        })
    }

    /// True when the file has a down section.
    pub fn is_reversible(&self) -> bool {
        self.down.is_some()
    }

    /// A checksum of the up section (FNV-1a 64, hex): changes whenever the
    /// migration's SQL does.
    pub fn checksum(&self) -> String {
        let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
        for byte in self.up.as_bytes() {
            hash ^= u64::from(*byte);
            hash = hash.wrapping_mul(0x0100_0000_01b3);
        }
        format!("{hash:016x}")
    }
}

/// A migration that has been applied.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct AppliedMigration {
    /// Its version.
    pub version: i64,
    /// Its name.
    pub name: String,
    /// The checksum recorded when it was applied.
    pub checksum: String,
}

/// An ordered set of migrations.
#[derive(Debug, Clone)]
pub struct Migrations {
    list: Vec<Migration>,
}

impl Migrations {
    /// Migrations from a list; they are applied in version order, and two
    /// with one version are an error.
    pub fn new(list: impl IntoIterator<Item = Migration>) -> Result<Self> {
        let mut list: Vec<Migration> = list.into_iter().collect();
        for m in &list {
            m.check()?;
        }
        list.sort_by_key(|m| m.version);
        if let Some(w) = list.windows(2).find(|w| w[0].version == w[1].version) {
            return Err(Error::Migration {
                version: Some(w[0].version),
                message: format!("two migrations have version {}", w[0].version),
            });
        }
        Ok(Migrations { list })
    }

    /// Migrations embedded by [`embed_migrations!`](crate::embed_migrations),
    /// which checked them at compile time.
    #[doc(hidden)]
    pub fn embedded(list: Vec<Migration>) -> Self {
        Migrations { list }
    }

    /// Reads every `NNNN_name.sql` file of a directory at run time.
    pub fn from_dir(dir: impl AsRef<Path>) -> Result<Self> {
        let dir = dir.as_ref();
        let io = |e: std::io::Error| Error::Migration {
            version: None,
            message: format!("cannot read {}: {e}", dir.display()),
        };
        let mut list = Vec::new();
        for entry in std::fs::read_dir(dir).map_err(io)? {
            let path = entry.map_err(io)?.path();
            let Some(file) = path.file_name().and_then(|f| f.to_str()) else {
                continue;
            };
            if file.ends_with(".sql") {
                let text = std::fs::read_to_string(&path).map_err(io)?;
                list.push(Migration::parse(file, &text)?);
            }
        }
        Migrations::new(list)
    }

    /// The migrations, in order.
    pub fn list(&self) -> &[Migration] {
        &self.list
    }

    /// What is recorded as applied, in order.
    pub async fn applied(&self, db: &Database) -> Result<Vec<AppliedMigration>> {
        // Created under the lock: two PostgreSQL sessions running
        // CREATE TABLE IF NOT EXISTS at once can both try to create it.
        let tx = db.begin().await?;
        lock(&tx, db).await?;
        tx.execute(TRACKING_TABLE, ()).await?;
        tx.commit().await?;
        let rows: Vec<(i64, String, String)> = db
            .fetch_all(
                "SELECT version, name, checksum FROM sylvan_migrations ORDER BY version",
                (),
            )
            .await?;
        Ok(rows
            .into_iter()
            .map(|(version, name, checksum)| AppliedMigration {
                version,
                name,
                checksum,
            })
            .collect())
    }

    /// Checks the applied migrations against the files: each must still
    /// exist with the same checksum.
    fn verify(&self, applied: &[AppliedMigration]) -> Result<()> {
        for a in applied {
            match self.list.iter().find(|m| m.version == a.version) {
                None => {
                    return Err(Error::Migration {
                        version: Some(a.version),
                        message: format!(
                            "applied migration {} ({}) has no file",
                            a.version, a.name
                        ),
                    })
                }
                Some(m) if m.checksum() != a.checksum => {
                    return Err(Error::Migration {
                        version: Some(a.version),
                        message: format!(
                            "migration {} ({}) was changed after it was applied",
                            a.version, m.name
                        ),
                    })
                }
                Some(_) => {}
            }
        }
        Ok(())
    }

    /// Applies every pending migration in order, each in its own
    /// transaction, and returns the versions this call applied.
    pub async fn run(&self, db: &Database) -> Result<Vec<i64>> {
        self.check()?;
        self.verify(&self.applied(db).await?)?;
        let mut done = Vec::new();
        for m in &self.list {
            let version = m.version;
            if !m.is_transactional() {
                if self.without_transaction(db, m, Direction::Up).await? {
                    done.push(version);
                }
                continue;
            }
            let m = m.clone();
            let applied = self.in_lock(db, version, move |tx, applied| {
                Box::pin(async move {
                    if applied.iter().any(|a| a.version == m.version) {
                        return Ok(false);
                    }
                    tx.execute_script(&m.up).await?;
                    tx.execute(
                        "INSERT INTO sylvan_migrations (version, name, checksum, applied_at) VALUES ($1, $2, $3, $4)",
                        (m.version, m.name.as_ref(), m.checksum(), now_text()),
                    )
                    .await?;
                    Ok(true)
                })
            })
            .await?;
            if applied {
                done.push(version);
            }
        }
        Ok(done)
    }

    /// Reverts the last `n` applied migrations, newest first, with their
    /// down sections; returns the versions reverted. A migration without a
    /// down section stops it with an error before anything is reverted.
    pub async fn rollback(&self, db: &Database, n: usize) -> Result<Vec<i64>> {
        self.check()?;
        let applied = self.applied(db).await?;
        self.verify(&applied)?;
        let targets: Vec<&Migration> = applied
            .iter()
            .rev()
            .take(n)
            .filter_map(|a| self.list.iter().find(|m| m.version == a.version))
            .collect();
        if let Some(m) = targets.iter().find(|m| m.down.is_none()) {
            return Err(Error::Migration {
                version: Some(m.version),
                message: format!("migration {} ({}) has no down section", m.version, m.name),
            });
        }
        let mut done = Vec::new();
        for m in targets {
            let version = m.version;
            if !m.is_transactional() {
                if self.without_transaction(db, m, Direction::Down).await? {
                    done.push(version);
                }
                continue;
            }
            let m = m.clone();
            let reverted = self
                .in_lock(db, version, move |tx, applied| {
                    Box::pin(async move {
                        if !applied.iter().any(|a| a.version == m.version) {
                            return Ok(false);
                        }
                        tx.execute_script(m.down.as_deref().unwrap_or_default())
                            .await?;
                        tx.execute(
                            "DELETE FROM sylvan_migrations WHERE version = $1",
                            (m.version,),
                        )
                        .await?;
                        Ok(true)
                    })
                })
                .await?;
            if reverted {
                done.push(version);
            }
        }
        Ok(done)
    }

    /// Every migration's text is checked before anything runs (embedded
    /// ones were checked at compile time; `Migration::new` builds unchecked).
    fn check(&self) -> Result<()> {
        self.list.iter().try_for_each(Migration::check)
    }

    /// Applies or reverts a no-transaction migration (see
    /// [`Migration::is_transactional`]) on a connection of its own holding
    /// the migration lock; false when there was nothing to do.
    ///
    /// Dropped at any await, the connection is closed, which releases the
    /// PostgreSQL lock; the SQLite locks are released by their guards.
    async fn without_transaction(
        &self,
        db: &Database,
        m: &Migration,
        direction: Direction,
    ) -> Result<bool> {
        let session = Session::open(db).await?;
        let applied = session.applied().await?;
        self.verify(&applied)?;
        let is_applied = applied.iter().any(|a| a.version == m.version);
        let wrap = |e: Error| match e {
            Error::Migration { .. } => e,
            other => Error::Migration {
                version: Some(m.version),
                message: format!(
                    "migration {} ({}) failed outside a transaction: the statements before the \
                     failing one stay applied; {other}",
                    m.version, m.name
                ),
            },
        };
        match direction {
            Direction::Up if is_applied => return Ok(false),
            Direction::Down if !is_applied => return Ok(false),
            Direction::Up => {
                session.script(&m.up).await.map_err(wrap)?;
                session
                    .execute(
                        "INSERT INTO sylvan_migrations (version, name, checksum, applied_at) VALUES ($1, $2, $3, $4)",
                        vec![
                            Value::I64(m.version),
                            Value::Text(m.name.to_string()),
                            Value::Text(m.checksum()),
                            Value::Text(now_text()),
                        ],
                    )
                    .await?;
            }
            Direction::Down => {
                session
                    .script(m.down.as_deref().unwrap_or_default())
                    .await
                    .map_err(wrap)?;
                session
                    .execute(
                        "DELETE FROM sylvan_migrations WHERE version = $1",
                        vec![Value::I64(m.version)],
                    )
                    .await?;
            }
        }
        session.close().await;
        Ok(true)
    }

    /// Runs `f` in a transaction holding the migration lock, with what is
    /// applied as read under that lock.
    async fn in_lock<F>(&self, db: &Database, version: i64, f: F) -> Result<bool>
    where
        F: for<'t> FnOnce(
            &'t crate::Transaction<'static>,
            Vec<AppliedMigration>,
        ) -> crate::TxFuture<'t, Result<bool>>,
    {
        let tx = db.begin().await?;
        lock(&tx, db).await?;
        tx.execute(TRACKING_TABLE, ()).await?;
        let rows: Vec<(i64, String, String)> = tx
            .fetch_all(
                "SELECT version, name, checksum FROM sylvan_migrations ORDER BY version",
                (),
            )
            .await?;
        let applied: Vec<AppliedMigration> = rows
            .into_iter()
            .map(|(version, name, checksum)| AppliedMigration {
                version,
                name,
                checksum,
            })
            .collect();
        self.verify(&applied)?;
        let changed = f(&tx, applied).await.map_err(|e| match e {
            Error::Migration { .. } => e,
            other => Error::Migration {
                version: Some(version),
                message: format!("migration {version} failed: {other}"),
            },
        })?;
        tx.commit().await?;
        Ok(changed)
    }
}

/// Takes the migration lock for the rest of the transaction: the advisory
/// lock on PostgreSQL; on SQLite the transaction's `BEGIN IMMEDIATE`
/// already holds the database write lock.
async fn lock(tx: &crate::Transaction<'static>, db: &Database) -> Result<()> {
    if db.dialect() == crate::Dialect::Postgres {
        tx.execute("SELECT pg_advisory_xact_lock($1)", (ADVISORY_LOCK_KEY,))
            .await?;
    }
    Ok(())
}

/// Which section of a migration runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Direction {
    Up,
    Down,
}

/// Serialises this process's no-transaction migrations on SQLite (the file
/// lock does it between processes; an in-memory database has no file).
static SQLITE_MIGRATOR: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// A connection outside the pool, holding the migration lock outside any
/// transaction.
enum Session {
    /// Holds the session-level advisory lock until it is closed.
    Postgres(PgConn),
    /// Holds the process's mutex and the lock file until dropped.
    Sqlite {
        conn: SqliteConn,
        _file_lock: Option<std::fs::File>,
        _mutex: tokio::sync::MutexGuard<'static, ()>,
    },
}

impl Session {
    async fn open(db: &Database) -> Result<Session> {
        match db.dedicated().await? {
            Dedicated::Postgres(conn) => {
                conn.execute(
                    "SELECT pg_advisory_lock($1)",
                    &[Value::I64(ADVISORY_LOCK_KEY)],
                )
                .await?;
                Ok(Session::Postgres(conn))
            }
            Dedicated::Sqlite(conn, file) => {
                let mutex = SQLITE_MIGRATOR.lock().await;
                let file_lock = match file {
                    Some(path) => Some(lock_file(&path).await?),
                    None => None,
                };
                Ok(Session::Sqlite {
                    conn,
                    _file_lock: file_lock,
                    _mutex: mutex,
                })
            }
        }
    }

    async fn applied(&self) -> Result<Vec<AppliedMigration>> {
        const SELECT: &str =
            "SELECT version, name, checksum FROM sylvan_migrations ORDER BY version";
        let rows: Vec<(i64, String, String)> = match self {
            Session::Postgres(conn) => {
                conn.execute_script(TRACKING_TABLE).await?;
                conn.query(SELECT, &[], Cardinality::All).await?
            }
            Session::Sqlite { conn, .. } => {
                conn.execute_script(TRACKING_TABLE, Mode::Session).await?;
                conn.query(SELECT, Vec::new(), Cardinality::All, Mode::Session)
                    .await?
            }
        };
        Ok(rows
            .into_iter()
            .map(|(version, name, checksum)| AppliedMigration {
                version,
                name,
                checksum,
            })
            .collect())
    }

    /// A migration's statements, each on its own: PostgreSQL would run a
    /// multi-statement script as one implicit transaction.
    async fn script(&self, sql: &str) -> Result<()> {
        match self {
            Session::Postgres(conn) => {
                for statement in text::split_statements(sql, text::POSTGRES_LEXING) {
                    conn.execute_script(statement).await?;
                }
                Ok(())
            }
            // execute_batch runs each statement on its own already.
            Session::Sqlite { conn, .. } => conn.execute_script(sql, Mode::Session).await,
        }
    }

    async fn execute(&self, sql: &str, binds: Vec<Value>) -> Result<u64> {
        match self {
            Session::Postgres(conn) => conn.execute(sql, &binds).await,
            Session::Sqlite { conn, .. } => conn.execute(sql, binds, Mode::Session).await,
        }
    }

    /// Releases the lock and closes the connection. (Dropping does both
    /// too; on PostgreSQL this releases the lock without waiting for the
    /// server to notice the closed connection.)
    async fn close(self) {
        if let Session::Postgres(conn) = &self {
            let _ = conn
                .execute(
                    "SELECT pg_advisory_unlock($1)",
                    &[Value::I64(ADVISORY_LOCK_KEY)],
                )
                .await;
        }
    }
}

impl std::fmt::Debug for Session {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Session::Postgres(_) => "Session::Postgres",
            Session::Sqlite { .. } => "Session::Sqlite",
        })
    }
}

/// Takes an OS lock on `<database>-sylvan-migrate.lock`, waiting while
/// another process holds it (it is released when that process's file
/// handle closes, crash included).
async fn lock_file(database: &Path) -> Result<std::fs::File> {
    let mut name = database.as_os_str().to_owned();
    name.push("-sylvan-migrate.lock");
    let path = std::path::PathBuf::from(name);
    let io = |e: std::io::Error| Error::Migration {
        version: None,
        message: format!("cannot lock {}: {e}", path.display()),
    };
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .map_err(io)?;
    loop {
        match file.try_lock() {
            Ok(()) => return Ok(file),
            Err(std::fs::TryLockError::WouldBlock) => {
                tokio::time::sleep(std::time::Duration::from_millis(50)).await;
            }
            Err(std::fs::TryLockError::Error(e)) => return Err(io(e)),
        }
    }
}

/// Now, as ISO 8601 text in UTC, without a date library.
fn now_text() -> String {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let days = secs / 86_400;
    let rem = secs % 86_400;
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02} {:02}:{:02}:{:02}",
        rem / 3_600,
        rem % 3_600 / 60,
        rem % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_file_names_and_down_sections() {
        let m = Migration::parse(
            "0002_add_index.sql",
            "CREATE INDEX i ON t (x);\n-- down\nDROP INDEX i;\n",
        )
        .unwrap();
        assert_eq!(m.version(), 2);
        assert_eq!(m.name(), "add_index");
        assert_eq!(m.up, "CREATE INDEX i ON t (x);\n");
        assert_eq!(m.down.as_deref(), Some("DROP INDEX i;\n"));
        assert!(Migration::parse("add.sql", "").is_err());
        assert!(Migration::parse("x_add.sql", "").is_err());
    }

    #[test]
    fn checksums_follow_the_up_sql() {
        let a = Migration::new(1, "a", "CREATE TABLE t (x INT)", None);
        let b = Migration::new(1, "a", "CREATE TABLE t (x BIGINT)", None);
        assert_ne!(a.checksum(), b.checksum());
        assert_eq!(a.checksum(), a.clone().checksum());
    }

    #[test]
    fn duplicate_versions_are_refused() {
        let e = Migrations::new([
            Migration::new(1, "a", "", None),
            Migration::new(1, "b", "", None),
        ]);
        assert!(e.is_err());
    }

    fn control(sql: &str) -> Option<String> {
        text::transaction_control(sql).map(|(_, s)| s)
    }

    #[test]
    fn transaction_control_statements_are_found() {
        for (sql, found) in [
            ("COMMIT", "COMMIT"),
            (
                "CREATE TABLE a (x INT);\ncommit;\nCREATE TABLE b (x INT);",
                "commit",
            ),
            ("BEGIN; CREATE TABLE a (x INT); END;", "BEGIN"),
            ("CREATE TABLE a (x INT); END TRANSACTION", "END TRANSACTION"),
            (
                "start  transaction isolation level serializable",
                "start transaction isolation level serializable",
            ),
            ("SELECT 1; ROLLBACK", "ROLLBACK"),
            ("SELECT 1; ABORT;", "ABORT"),
            ("SAVEPOINT s; SELECT 1; RELEASE s", "SAVEPOINT s"),
            ("SELECT 1; RELEASE SAVEPOINT s", "RELEASE SAVEPOINT s"),
            ("ROLLBACK TO SAVEPOINT s", "ROLLBACK TO SAVEPOINT s"),
            ("PREPARE TRANSACTION 'x'", "PREPARE TRANSACTION 'x'"),
            ("COMMIT PREPARED 'x'", "COMMIT PREPARED 'x'"),
            (
                "/* c */ -- c\n  Commit /* trailing */ ;",
                "Commit /* trailing */",
            ),
            // After a string with '' and a quoted identifier with "".
            ("INSERT INTO t VALUES ('it''s; COMMIT'); COMMIT", "COMMIT"),
            ("SELECT \"a;\"\"b\"; COMMIT", "COMMIT"),
            // An E'' string's \' does not end it.
            (r"SELECT E'\'; COMMIT; --'; COMMIT", "COMMIT"),
            // With standard_conforming_strings off, '\'' is one string;
            // with it on, COMMIT runs: every reading is checked.
            (r"SELECT '\'; COMMIT; --'", "COMMIT"),
            // SQLite ends a comment at the first */; PostgreSQL nests.
            ("/* /* */ COMMIT; -- */", "COMMIT"),
            // A COMMIT inside a SQLite trigger body is still one.
            (
                "CREATE TRIGGER t AFTER INSERT ON a BEGIN COMMIT; END",
                "COMMIT",
            ),
            // Dollar quotes end at their own tag.
            ("DO $a$ SELECT $$x$$ $a$; COMMIT", "COMMIT"),
        ] {
            let got = control(sql).unwrap_or_else(|| panic!("not found in {sql:?}"));
            assert_eq!(got, found, "{sql:?}");
        }
    }

    #[test]
    fn transaction_words_in_bodies_strings_and_comments_are_not_statements() {
        for sql in [
            "DO $$ BEGIN PERFORM 1; COMMIT; END $$;",
            "DO $body$ BEGIN\n  RAISE NOTICE 'x';\nEND\n$body$ LANGUAGE plpgsql;",
            "CREATE FUNCTION f() RETURNS void AS $$ BEGIN ROLLBACK; END; $$ LANGUAGE plpgsql;",
            "CREATE FUNCTION f() RETURNS int LANGUAGE sql BEGIN ATOMIC SELECT 1; SELECT 2; END;",
            "CREATE TRIGGER t AFTER INSERT ON a BEGIN UPDATE b SET x = CASE WHEN 1 THEN 2 END; \
             SELECT RAISE(ROLLBACK, 'no'); END; CREATE TABLE z (x INT);",
            "CREATE TEMP TRIGGER t AFTER INSERT ON a FOR EACH ROW BEGIN INSERT INTO b VALUES (1); END",
            "CREATE TRIGGER t BEFORE UPDATE ON a FOR EACH ROW WHEN (OLD.begin <> NEW.begin) \
             EXECUTE FUNCTION f(); CREATE TABLE z (x INT); END_OF_NOTHING;",
            "INSERT INTO t VALUES ('; COMMIT'), ('BEGIN'), (E'\\'; END; ')",
            "-- COMMIT;\nSELECT 1; /* ROLLBACK; */ SELECT \"commit\"; SELECT `end`, [begin]",
            "CREATE TABLE \"BEGIN\" (\"END\" INT); CREATE INDEX i ON \"BEGIN\" (\"END\")",
            "CREATE RULE r AS ON INSERT TO t DO ALSO (INSERT INTO a VALUES (1); INSERT INTO b VALUES (2))",
            "SELECT $1; SELECT a$b FROM t",
            "UPDATE t SET state = 'commit' WHERE kind = 'begin'",
            "",
            "-- only a comment",
        ] {
            assert_eq!(control(sql), None, "{sql:?}");
        }
    }

    #[test]
    fn statements_split_as_postgres_reads_them() {
        let sql = "CREATE TABLE a (x TEXT DEFAULT ';');\n\
                   -- a comment; with a semicolon\n\
                   DO $$ BEGIN PERFORM 1; END $$;\n\
                   CREATE INDEX CONCURRENTLY i ON a (x)";
        assert_eq!(
            text::split_statements(sql, text::POSTGRES_LEXING),
            [
                "CREATE TABLE a (x TEXT DEFAULT ';')",
                "DO $$ BEGIN PERFORM 1; END $$",
                "CREATE INDEX CONCURRENTLY i ON a (x)",
            ]
        );
    }

    #[test]
    fn a_column_named_begin_opens_no_body() {
        let sql = "CREATE TRIGGER t BEFORE UPDATE ON a FOR EACH ROW WHEN (OLD.begin <> NEW.begin) \
                   EXECUTE FUNCTION f(); COMMIT;";
        assert_eq!(control(sql).as_deref(), Some("COMMIT"));
        assert_eq!(text::split_statements(sql, text::POSTGRES_LEXING).len(), 2);
    }

    #[test]
    fn files_with_transaction_control_are_refused_naming_file_and_line() {
        let e = Migration::parse(
            "0007_backfill.sql",
            "UPDATE t SET x = 1;\nCOMMIT;\nUPDATE t SET y = 2;\n",
        )
        .unwrap_err();
        let text = e.to_string();
        assert!(
            matches!(
                e,
                Error::Migration {
                    version: Some(7),
                    ..
                }
            ),
            "{e:?}"
        );
        for needle in [
            "0007_backfill.sql",
            "line 2",
            "`COMMIT`",
            "-- sylvan:no-transaction",
        ] {
            assert!(text.contains(needle), "{needle} not in {text}");
        }
        // In the down section, lines count from the file's start.
        let e =
            Migration::parse("0001_a.sql", "SELECT 1;\n-- down\nSELECT 2;\nBEGIN;\n").unwrap_err();
        assert!(e.to_string().contains("line 4: `BEGIN`"), "{e}");
        // Built by hand: refused by Migrations::new.
        let e = Migrations::new([Migration::new(3, "x", "SELECT 1; END", None)]).unwrap_err();
        assert!(e.to_string().contains("migration 3 (x)"), "{e}");
    }

    #[test]
    fn the_no_transaction_marker_is_the_first_line_only() {
        let m = Migration::parse(
            "0002_index.sql",
            "-- sylvan:no-transaction\nCREATE INDEX CONCURRENTLY i ON t (x);\n",
        )
        .unwrap();
        assert!(!m.is_transactional());
        assert!(Migration::new(1, "a", "SELECT 1", None).is_transactional());
        // Still no transaction control in it.
        assert!(Migration::parse("0002_a.sql", "-- sylvan:no-transaction\nBEGIN;\n").is_err());
        // Anywhere else, or misspelt, it is refused rather than ignored.
        for text in [
            "\n-- sylvan:no-transaction\nSELECT 1;",
            "SELECT 1;\n-- down\n-- sylvan:no-transaction\nSELECT 2;",
            "-- sylvan:no-transactions\nSELECT 1;",
        ] {
            let e = Migration::parse("0003_a.sql", text).unwrap_err();
            assert!(e.to_string().contains("not a directive"), "{text:?}: {e}");
        }
    }

    #[test]
    fn dates() {
        let t = now_text();
        assert_eq!(t.len(), 19, "{t}");
        assert!(t.starts_with("20"), "{t}");
    }
}
