//! How a transaction begins: [`TransactionOptions`], [`IsolationLevel`]
//! and the `BEGIN` statement they make for each dialect.

use crate::backend::Dialect;

/// PostgreSQL isolation levels.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum IsolationLevel {
    /// `READ COMMITTED` (PostgreSQL's default).
    ReadCommitted,
    /// `REPEATABLE READ`.
    RepeatableRead,
    /// `SERIALIZABLE`: concurrent transactions may fail with
    /// [`Error::SerializationFailure`](crate::Error::SerializationFailure);
    /// retry them with
    /// [`Database::transaction_retry`](crate::Database::transaction_retry).
    Serializable,
}

/// How to begin a transaction.
///
/// ```
/// use sylvan::{IsolationLevel, TransactionOptions};
/// let opts = TransactionOptions::new().isolation(IsolationLevel::Serializable).read_only(true);
/// # let _ = opts;
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct TransactionOptions {
    isolation: Option<IsolationLevel>,
    read_only: bool,
}

impl TransactionOptions {
    /// Default options: a read-write transaction at the server's default
    /// isolation level.
    pub fn new() -> Self {
        TransactionOptions::default()
    }

    /// The isolation level (PostgreSQL; SQLite is always serializable).
    pub fn isolation(mut self, level: IsolationLevel) -> Self {
        self.isolation = Some(level);
        self
    }

    /// A read-only transaction: `READ ONLY` on PostgreSQL; on SQLite it runs
    /// on a reader connection instead of the writer.
    pub fn read_only(mut self, read_only: bool) -> Self {
        self.read_only = read_only;
        self
    }

    #[cfg_attr(not(feature = "sqlite"), allow(dead_code))]
    pub(crate) fn is_read_only(&self) -> bool {
        self.read_only
    }

    /// The statement that begins the transaction.
    pub(crate) fn begin_sql(&self, dialect: Dialect) -> String {
        match dialect {
            Dialect::Sqlite if self.read_only => "BEGIN DEFERRED".to_owned(),
            Dialect::Sqlite => "BEGIN IMMEDIATE".to_owned(),
            Dialect::Postgres => {
                let mut sql = String::from("BEGIN");
                if let Some(level) = self.isolation {
                    sql.push_str(match level {
                        IsolationLevel::ReadCommitted => " ISOLATION LEVEL READ COMMITTED",
                        IsolationLevel::RepeatableRead => " ISOLATION LEVEL REPEATABLE READ",
                        IsolationLevel::Serializable => " ISOLATION LEVEL SERIALIZABLE",
                    });
                }
                if self.read_only {
                    sql.push_str(" READ ONLY");
                }
                sql
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn begin_statements() {
        let o = TransactionOptions::new();
        assert_eq!(o.begin_sql(Dialect::Sqlite), "BEGIN IMMEDIATE");
        assert_eq!(
            o.read_only(true).begin_sql(Dialect::Sqlite),
            "BEGIN DEFERRED"
        );
        let o = TransactionOptions::new()
            .isolation(IsolationLevel::Serializable)
            .read_only(true);
        assert_eq!(
            o.begin_sql(Dialect::Postgres),
            "BEGIN ISOLATION LEVEL SERIALIZABLE READ ONLY"
        );
    }
}
