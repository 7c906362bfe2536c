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

use crate::database::Database;
use crate::error::{Error, Result};
use crate::executor::Executor;
use std::borrow::Cow;
use std::path::Path;

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
        let (up, down) = split_down(text);
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

/// Splits a migration file at its `-- down` line.
fn split_down(text: &str) -> (&str, Option<&str>) {
    let mut offset = 0;
    for line in text.split_inclusive('\n') {
        if line.trim().eq_ignore_ascii_case("-- down") {
            return (&text[..offset], Some(&text[offset + line.len()..]));
        }
        offset += line.len();
    }
    (text, None)
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
        self.verify(&self.applied(db).await?)?;
        let mut done = Vec::new();
        for m in &self.list {
            let version = m.version;
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

    #[test]
    fn dates() {
        let t = now_text();
        assert_eq!(t.len(), 19, "{t}");
        assert!(t.starts_with("20"), "{t}");
    }
}
