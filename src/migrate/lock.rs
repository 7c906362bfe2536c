//! The migration lock: the PostgreSQL advisory lock key, the lock each
//! migration's transaction takes, and on SQLite the process-wide mutex and
//! the lock file that no-transaction migrations hold.

use crate::database::Database;
#[cfg(feature = "sqlite")]
use crate::error::Error;
use crate::error::Result;
use crate::executor::Executor;
use crate::transaction::{Transaction, TransactionOptions};
#[cfg(feature = "sqlite")]
use std::path::Path;

/// The advisory lock key migrators take on PostgreSQL ("sylvanmg").
pub(super) const ADVISORY_LOCK_KEY: i64 = 0x7379_6c76_616e_6d67;

/// How long a migrator waits between two tries of the PostgreSQL lock.
const LOCK_POLL: std::time::Duration = std::time::Duration::from_millis(50);

/// Begins a transaction holding the migration lock: on PostgreSQL its
/// connection first takes the session-level advisory lock, polled outside
/// any transaction (see [`poll`]), and keeps it until the connection goes
/// back to the pool, whose session reset (`pg_advisory_unlock_all`) releases
/// it — after commit or rollback, on an error, and when the caller's future
/// is dropped alike. On SQLite the transaction's `BEGIN IMMEDIATE` holds
/// the database write lock.
pub(super) async fn locked_transaction(db: &Database) -> Result<Transaction<'static>> {
    let conn = db.acquire().await?;
    if db.dialect() == crate::Dialect::Postgres {
        // Raw SQL naming an advisory lock: the connection is reset, and
        // the lock released, when it returns to the pool.
        poll(|| conn.fetch_one("SELECT pg_try_advisory_lock($1)", (ADVISORY_LOCK_KEY,))).await?;
    }
    Transaction::begin_owned(conn, TransactionOptions::new()).await
}

/// Tries `take` (a `pg_try_advisory…lock`) until it returns true.
///
/// Never a blocking `pg_advisory_lock`, and never inside a transaction: a
/// `CREATE INDEX CONCURRENTLY` migration holding the lock waits for every
/// transaction that held a snapshot when it looked, to its end. A migrator
/// blocked on the lock in a statement would deadlock with it (PostgreSQL
/// aborts one with 40P01), and one polling inside an open transaction would
/// wait for it forever while it waits for that transaction. Each try here
/// is a transaction of its own, over in microseconds.
pub(super) async fn poll<F, Fut>(mut take: F) -> Result<()>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<bool>>,
{
    while !take().await? {
        tokio::time::sleep(LOCK_POLL).await;
    }
    Ok(())
}

/// Serialises this process's no-transaction migrations on SQLite (the file
/// lock does it between processes; an in-memory database has no file).
#[cfg(feature = "sqlite")]
pub(super) static SQLITE_MIGRATOR: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// Takes an OS lock on `<database>-sylvan-migrate.lock`, waiting while
/// another process holds it (it is released when that process's file
/// handle closes, crash included).
#[cfg(feature = "sqlite")]
pub(super) async fn lock_file(database: &Path) -> Result<std::fs::File> {
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
