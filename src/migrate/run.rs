//! Applying and reverting migrations, each in a transaction of its own that
//! holds the migration lock (no-transaction ones go to
//! [`no_transaction`](super::no_transaction)).

use super::applied::{from_rows, now_text, AppliedMigration, SELECT_APPLIED, TRACKING_TABLE};
use super::lock::locked_transaction;
use super::no_transaction::Direction;
use super::{Migration, Migrations};
use crate::database::Database;
use crate::error::{Error, Result};
use crate::executor::Executor;

/// Migrations hold a session-level advisory lock (and no-transaction ones
/// a session of their own), which a transaction pooler cannot give.
fn refuse_behind_pooler(db: &Database) -> Result<()> {
    db.needs_session(
        "migrating",
        "the migration lock is a session-level advisory lock: run migrations over a direct URL to PostgreSQL (without `pooler=transaction`, not through the pooler)",
    )
}

/// A migration that turns SQLite's foreign keys off runs on a connection of
/// its own (see [`no_transaction`](super::no_transaction)): the pragma
/// cannot change inside a transaction, and must not reach the pool.
fn needs_own_session(m: &Migration, dialect: crate::Dialect) -> bool {
    dialect == crate::Dialect::Sqlite && m.sqlite_foreign_keys_off()
}

impl Migrations {
    /// Applies every pending migration in order, each in its own
    /// transaction, and returns the versions this call applied.
    ///
    /// Behind a transaction pooler (`pooler=transaction`) it fails with
    /// [`Error::NeedsSession`] before anything runs: the migration lock is
    /// a session-level advisory lock. Migrate over a direct URL.
    pub async fn run(&self, db: &Database) -> Result<Vec<i64>> {
        refuse_behind_pooler(db)?;
        self.check()?;
        self.verify(&self.applied(db).await?)?;
        let dialect = db.dialect();
        let mut done = Vec::new();
        for m in &self.list {
            let version = m.version;
            if !m.is_transactional() || needs_own_session(m, dialect) {
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
                    tx.execute_script(&m.up_sql(dialect)).await?;
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
    /// Refused behind a transaction pooler, like [`Migrations::run`].
    pub async fn rollback(&self, db: &Database, n: usize) -> Result<Vec<i64>> {
        refuse_behind_pooler(db)?;
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
        let dialect = db.dialect();
        let mut done = Vec::new();
        for m in targets {
            let version = m.version;
            if !m.is_transactional() || needs_own_session(m, dialect) {
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
                        tx.execute_script(&m.down_sql(dialect).unwrap_or_default())
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
        let tx = locked_transaction(db).await?;
        tx.execute(TRACKING_TABLE, ()).await?;
        let applied = from_rows(tx.fetch_all(SELECT_APPLIED, ()).await?);
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
