//! The no-transaction path: a migration run statement by statement on a
//! connection of its own outside the pool ([`Session`]), which holds the
//! migration lock for the whole migration.

use super::applied::{from_rows, now_text, AppliedMigration, SELECT_APPLIED, TRACKING_TABLE};
#[cfg(feature = "sqlite")]
use super::lock::{lock_file, SQLITE_MIGRATOR};
#[cfg(feature = "postgres")]
use super::lock::{poll, ADVISORY_LOCK_KEY};
#[cfg(feature = "postgres")]
use super::text;
use super::{Migration, Migrations};
#[cfg(feature = "postgres")]
use crate::backend::postgres::PgConn;
#[cfg(feature = "sqlite")]
use crate::backend::sqlite::{Mode, SqliteConn};
use crate::database::{Database, Dedicated};
use crate::error::{Error, Result};
use crate::row::Cardinality;
use crate::value::Value;

impl Migrations {
    /// Applies or reverts a no-transaction migration (see
    /// [`Migration::is_transactional`]) on a connection of its own holding
    /// the migration lock; false when there was nothing to do.
    ///
    /// Dropped at any await, the connection is closed, which releases the
    /// PostgreSQL lock; the SQLite locks are released by their guards.
    pub(super) async fn without_transaction(
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
        let dialect = db.dialect();
        let (sql, record, binds) = match direction {
            Direction::Up if is_applied => return Ok(false),
            Direction::Down if !is_applied => return Ok(false),
            Direction::Up => (
                m.up_sql(dialect),
                "INSERT INTO sylvan_migrations (version, name, checksum, applied_at) VALUES ($1, $2, $3, $4)",
                vec![
                    Value::I64(m.version),
                    Value::Text(m.name.to_string()),
                    Value::Text(m.checksum()),
                    Value::Text(now_text()),
                ],
            ),
            Direction::Down => (
                m.down_sql(dialect).unwrap_or_default(),
                "DELETE FROM sylvan_migrations WHERE version = $1",
                vec![Value::I64(m.version)],
            ),
        };
        if m.is_transactional() {
            // Here only for `-- sylvan:sqlite-foreign-keys-off` on SQLite.
            let wrap_tx = |e: Error| match e {
                Error::Migration { .. } => e,
                other => Error::Migration {
                    version: Some(m.version),
                    message: format!("migration {} ({}) failed: {other}", m.version, m.name),
                },
            };
            session
                .without_foreign_keys(m.version, &sql, record, binds)
                .await
                .map_err(wrap_tx)?;
        } else {
            session.script(&sql).await.map_err(wrap)?;
            session.execute(record, binds).await?;
        }
        session.close().await;
        Ok(true)
    }
}

/// Which section of a migration runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Direction {
    Up,
    Down,
}

/// A connection outside the pool, holding the migration lock outside any
/// transaction.
enum Session {
    /// Holds the session-level advisory lock until it is closed.
    #[cfg(feature = "postgres")]
    Postgres(PgConn),
    /// Holds the process's mutex and the lock file until dropped.
    #[cfg(feature = "sqlite")]
    Sqlite {
        conn: SqliteConn,
        _file_lock: Option<std::fs::File>,
        _mutex: tokio::sync::MutexGuard<'static, ()>,
    },
}

impl Session {
    async fn open(db: &Database) -> Result<Session> {
        match db.dedicated().await? {
            #[cfg(feature = "postgres")]
            Dedicated::Postgres(conn) => {
                poll(|| async {
                    let took: Vec<bool> = conn
                        .query(
                            "SELECT pg_try_advisory_lock($1)",
                            &[Value::I64(ADVISORY_LOCK_KEY)],
                            Cardinality::One,
                        )
                        .await?;
                    Ok(took.first().copied().unwrap_or(false))
                })
                .await?;
                Ok(Session::Postgres(conn))
            }
            #[cfg(feature = "sqlite")]
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
        let rows: Vec<(i64, String, String)> = match self {
            #[cfg(feature = "postgres")]
            Session::Postgres(conn) => {
                conn.execute_script(TRACKING_TABLE).await?;
                conn.query(SELECT_APPLIED, &[], Cardinality::All).await?
            }
            #[cfg(feature = "sqlite")]
            Session::Sqlite { conn, .. } => {
                conn.execute_script(TRACKING_TABLE, Mode::Session).await?;
                conn.query(SELECT_APPLIED, Vec::new(), Cardinality::All, Mode::Session)
                    .await?
            }
        };
        Ok(from_rows(rows))
    }

    /// A migration's statements, each on its own: PostgreSQL would run a
    /// multi-statement script as one implicit transaction.
    async fn script(&self, sql: &str) -> Result<()> {
        match self {
            #[cfg(feature = "postgres")]
            Session::Postgres(conn) => {
                for statement in text::split_statements(sql, text::POSTGRES_LEXING) {
                    conn.execute_script(statement).await?;
                }
                Ok(())
            }
            // execute_batch runs each statement on its own already.
            #[cfg(feature = "sqlite")]
            Session::Sqlite { conn, .. } => conn.execute_script(sql, Mode::Session).await,
        }
    }

    /// SQLite: runs `sql` and the tracking statement in one transaction
    /// with `PRAGMA foreign_keys = OFF`, which cannot change inside a
    /// transaction and so is set before `BEGIN`: a table rebuild drops the
    /// old table, which would otherwise delete (`ON DELETE CASCADE`) or
    /// refuse to delete the rows that reference it. Before `COMMIT`,
    /// `PRAGMA foreign_key_check` must find no violation (else everything
    /// is rolled back); the pragma is turned back on afterwards, on error
    /// too (the connection is closed after the migration anyway).
    #[cfg_attr(not(feature = "sqlite"), allow(unused_variables))]
    async fn without_foreign_keys(
        &self,
        version: i64,
        sql: &str,
        record: &str,
        binds: Vec<Value>,
    ) -> Result<()> {
        match self {
            #[cfg(feature = "sqlite")]
            Session::Sqlite { conn, .. } => {
                conn.execute_script("PRAGMA foreign_keys = OFF; BEGIN IMMEDIATE", Mode::Session)
                    .await?;
                let result = async {
                    conn.execute_script(sql, Mode::Session).await?;
                    let broken: Vec<(String, Option<i64>, String, i64)> = conn
                        .query(
                            "PRAGMA foreign_key_check",
                            Vec::new(),
                            Cardinality::All,
                            Mode::Session,
                        )
                        .await?;
                    if let Some((table, rowid, parent, _)) = broken.first() {
                        return Err(Error::Migration {
                            version: Some(version),
                            message: format!(
                                "migration {version} left {} row(s) breaking a foreign key \
                                 (first: table \"{table}\" rowid {} references a missing \
                                 row of \"{parent}\"); rolled back",
                                broken.len(),
                                rowid.map_or("?".to_owned(), |r| r.to_string()),
                            ),
                        });
                    }
                    conn.execute(record, binds, Mode::Session).await?;
                    conn.execute_script("COMMIT", Mode::Session).await
                }
                .await;
                if result.is_err() {
                    let _ = conn.execute_script("ROLLBACK", Mode::Session).await;
                }
                let restored = conn
                    .execute_script("PRAGMA foreign_keys = ON", Mode::Session)
                    .await;
                result.and(restored)
            }
            #[cfg(feature = "postgres")]
            Session::Postgres(_) => Err(Error::Migration {
                version: Some(version),
                message: "`-- sylvan:sqlite-foreign-keys-off` runs this way on SQLite only"
                    .to_owned(),
            }),
        }
    }

    async fn execute(&self, sql: &str, binds: Vec<Value>) -> Result<u64> {
        match self {
            #[cfg(feature = "postgres")]
            Session::Postgres(conn) => conn.execute(sql, &binds).await,
            #[cfg(feature = "sqlite")]
            Session::Sqlite { conn, .. } => conn.execute(sql, binds, Mode::Session).await,
        }
    }

    /// Releases the lock and closes the connection. (Dropping does both
    /// too; on PostgreSQL this releases the lock without waiting for the
    /// server to notice the closed connection.)
    async fn close(self) {
        #[cfg(feature = "postgres")]
        #[cfg_attr(not(feature = "sqlite"), allow(irrefutable_let_patterns))]
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
            #[cfg(feature = "postgres")]
            Session::Postgres(_) => "Session::Postgres",
            #[cfg(feature = "sqlite")]
            Session::Sqlite { .. } => "Session::Sqlite",
        })
    }
}
