//! The one trait every place that runs SQL implements.

use crate::backend::Dialect;
use crate::error::{Error, Result};
use crate::row::{Cardinality, FromRow};
use crate::timeout::WithTimeout;
use crate::value::Binds;
use std::future::Future;
use std::time::Duration;

pub(crate) mod private {
    use super::*;
    use crate::value::Value;

    /// Who wrote a statement.
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    pub enum Origin {
        /// Raw SQL from the user: it may change session state (see
        /// `backend::may_change_session`), so its connection may need a
        /// reset before reuse.
        Raw,
        /// Rendered by Sylvan (QuerySet, models, relations, transaction
        /// control): never changes session state.
        Rendered,
    }

    /// What an executor must provide; sealed so the set stays ours.
    ///
    /// `origin` says who wrote the statement: raw SQL may change session
    /// state (its connection is then reset before reuse); statements Sylvan
    /// rendered itself skip that check.
    pub trait Run: Send + Sync {
        fn run_execute(
            &self,
            sql: &str,
            binds: Result<Vec<Value>>,
            origin: Origin,
        ) -> impl Future<Output = Result<u64>> + Send;

        /// Rows of the query, at most `cardinality`'s limit, checked against
        /// it: [`Error::NotFound`] / [`Error::TooManyRows`].
        fn run_query<T: FromRow>(
            &self,
            sql: &str,
            binds: Result<Vec<Value>>,
            cardinality: Cardinality,
            origin: Origin,
        ) -> impl Future<Output = Result<Vec<T>>> + Send;

        fn run_dialect(&self) -> Dialect;
    }

    impl<E: Run> Run for &E {
        fn run_execute(
            &self,
            sql: &str,
            binds: Result<Vec<Value>>,
            origin: Origin,
        ) -> impl Future<Output = Result<u64>> + Send {
            (**self).run_execute(sql, binds, origin)
        }

        fn run_query<T: FromRow>(
            &self,
            sql: &str,
            binds: Result<Vec<Value>>,
            cardinality: Cardinality,
            origin: Origin,
        ) -> impl Future<Output = Result<Vec<T>>> + Send {
            (**self).run_query(sql, binds, cardinality, origin)
        }

        fn run_dialect(&self) -> Dialect {
            (**self).run_dialect()
        }
    }
}

/// Runs raw SQL with binds: implemented by [`Database`](crate::Database)
/// (each call checks a connection out of the pool) and by a checked-out
/// [`Connection`](crate::Connection).
///
/// **Placeholders**: write `$1`, `$2`, … on both backends. PostgreSQL reads
/// them natively; on SQLite Sylvan rewrites them to `?1`, `?2`, … (outside
/// string literals, quoted identifiers and comments). Every value is a bind;
/// nothing is ever spliced into the SQL text.
///
/// On PostgreSQL a parameter's type is inferred from the statement: cast
/// where the server cannot infer it (`SELECT $1::bigint`).
///
/// ```
/// use sylvan::prelude::*;
/// # tokio::runtime::Runtime::new().unwrap().block_on(async {
/// let db = Database::connect("sqlite::memory:").await?;
/// db.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, name TEXT NOT NULL)", ()).await?;
/// db.execute("INSERT INTO t (id, name) VALUES ($1, $2)", (1, "ada")).await?;
/// let rows: Vec<(i64, String)> = db.fetch_all("SELECT id, name FROM t", ()).await?;
/// assert_eq!(rows, vec![(1, "ada".to_string())]);
/// let missing: Option<String> = db.fetch_optional("SELECT name FROM t WHERE id = $1", (2,)).await?;
/// assert_eq!(missing, None);
/// # Ok::<_, sylvan::Error>(()) }).unwrap();
/// ```
pub trait Executor: private::Run {
    /// Runs a statement and returns the number of rows it changed.
    fn execute<B: Binds>(&self, sql: &str, binds: B) -> impl Future<Output = Result<u64>> + Send {
        self.run_execute(sql, binds.into_values(), private::Origin::Raw)
    }

    /// Runs a query and decodes every row.
    fn fetch_all<T: FromRow, B: Binds>(
        &self,
        sql: &str,
        binds: B,
    ) -> impl Future<Output = Result<Vec<T>>> + Send {
        self.run_query(
            sql,
            binds.into_values(),
            Cardinality::All,
            private::Origin::Raw,
        )
    }

    /// Runs a query that must return exactly one row: none is
    /// [`Error::NotFound`], more is [`Error::TooManyRows`].
    fn fetch_one<T: FromRow, B: Binds>(
        &self,
        sql: &str,
        binds: B,
    ) -> impl Future<Output = Result<T>> + Send {
        let binds = binds.into_values();
        async move {
            let rows = self
                .run_query(sql, binds, Cardinality::One, private::Origin::Raw)
                .await?;
            single(rows, Cardinality::One)?.ok_or(Error::NotFound)
        }
    }

    /// Runs a query that returns zero or one row; more is
    /// [`Error::TooManyRows`].
    fn fetch_optional<T: FromRow, B: Binds>(
        &self,
        sql: &str,
        binds: B,
    ) -> impl Future<Output = Result<Option<T>>> + Send {
        let binds = binds.into_values();
        async move {
            let rows = self
                .run_query(sql, binds, Cardinality::Optional, private::Origin::Raw)
                .await?;
            single(rows, Cardinality::Optional)
        }
    }

    /// The SQL dialect statements must be written in.
    fn dialect(&self) -> Dialect {
        self.run_dialect()
    }

    /// This executor with `timeout` as the statement timeout of each of its
    /// statements, overriding the pool's
    /// [`statement_timeout`](crate::PoolConfig::statement_timeout). Works on
    /// a [`Database`](crate::Database), a [`Connection`](crate::Connection)
    /// and a [`Transaction`](crate::Transaction); see [`WithTimeout`].
    ///
    /// ```
    /// use std::time::Duration;
    /// use sylvan::prelude::*;
    /// # tokio::runtime::Runtime::new().unwrap().block_on(async {
    /// let db = Database::connect("sqlite::memory:").await?;
    /// let n: i64 = db.with_timeout(Duration::from_secs(1)).fetch_one("SELECT 41 + 1", ()).await?;
    /// assert_eq!(n, 42);
    /// # Ok::<_, sylvan::Error>(()) }).unwrap();
    /// ```
    fn with_timeout(&self, timeout: Duration) -> WithTimeout<&Self>
    where
        Self: Sized,
    {
        WithTimeout::new(self, timeout)
    }
}

impl<E: private::Run> Executor for E {}

fn single<T>(mut rows: Vec<T>, cardinality: Cardinality) -> Result<Option<T>> {
    cardinality.check(&rows)?;
    Ok(rows.pop())
}
