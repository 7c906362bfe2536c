//! Row locking: [`RowLock`] and the `FOR UPDATE` clause it renders on
//! PostgreSQL (SQLite takes none).

use super::QuerySet;
use crate::backend::Dialect;
use crate::model::Model;
use crate::query::render::SqlWriter;

/// Row locking of [`QuerySet::select_for_update`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum RowLock {
    /// `FOR UPDATE`: wait for rows locked by others.
    Wait,
    /// `FOR UPDATE SKIP LOCKED`: leave out rows locked by others.
    SkipLocked,
    /// `FOR UPDATE NOWAIT`: fail at once if a row is locked by others.
    NoWait,
}

impl<M: Model> QuerySet<M> {
    /// `FOR UPDATE …` on PostgreSQL (see [`QuerySet::select_for_update`]).
    pub(crate) fn push_lock(&self, w: &mut SqlWriter) {
        self.push_lock_of(w, None);
    }

    /// `FOR UPDATE [OF "table"] …` on PostgreSQL: `of` limits the lock to
    /// one table of a join (the rows of a nullable side cannot be locked).
    pub(crate) fn push_lock_of(&self, w: &mut SqlWriter, of: Option<&str>) {
        if let (Some(lock), Dialect::Postgres) = (self.lock, w.dialect()) {
            w.push_sql(" FOR UPDATE");
            if let Some(table) = of {
                w.push_sql(" OF ");
                w.push_identifier(table);
            }
            w.push_sql(match lock {
                RowLock::Wait => "",
                RowLock::SkipLocked => " SKIP LOCKED",
                RowLock::NoWait => " NOWAIT",
            });
        }
    }
}
