//! The migration lock: the PostgreSQL advisory lock key, the lock each
//! migration's transaction takes, and on SQLite the process-wide mutex and
//! the lock file that no-transaction migrations hold.

use crate::database::Database;
use crate::error::{Error, Result};
use crate::executor::Executor;
use std::path::Path;

/// The advisory lock key migrators take on PostgreSQL ("sylvanmg").
pub(super) const ADVISORY_LOCK_KEY: i64 = 0x7379_6c76_616e_6d67;

/// Takes the migration lock for the rest of the transaction: the advisory
/// lock on PostgreSQL; on SQLite the transaction's `BEGIN IMMEDIATE`
/// already holds the database write lock.
pub(super) async fn lock(tx: &crate::Transaction<'static>, db: &Database) -> Result<()> {
    if db.dialect() == crate::Dialect::Postgres {
        tx.execute("SELECT pg_advisory_xact_lock($1)", (ADVISORY_LOCK_KEY,))
            .await?;
    }
    Ok(())
}

/// Serialises this process's no-transaction migrations on SQLite (the file
/// lock does it between processes; an in-memory database has no file).
pub(super) static SQLITE_MIGRATOR: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// Takes an OS lock on `<database>-sylvan-migrate.lock`, waiting while
/// another process holds it (it is released when that process's file
/// handle closes, crash included).
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
