//! Statement timeouts: the pool-wide default ([`PoolConfig::statement_timeout`])
//! and per-call overrides ([`Executor::with_timeout`], [`QuerySet::timeout`]).
//!
//! An override travels to the statement in a tokio task-local, set around
//! the executor call: the backends read it where they run a statement, so
//! one mechanism covers raw SQL, the query builder and transactions on both
//! backends. A query's own timeout wins over an executor's; of nested
//! executor adaptors, the inner one (nearest the connection) applies.
//!
//! [`PoolConfig::statement_timeout`]: crate::PoolConfig::statement_timeout
//! [`Executor::with_timeout`]: crate::Executor::with_timeout
//! [`QuerySet::timeout`]: crate::QuerySet::timeout

use crate::backend::{first_keyword_is, Dialect};
use crate::error::{Error, Result};
use crate::executor::private::{Origin, Run};
use crate::row::{Cardinality, FromRow};
use crate::value::Value;
use futures_util::future::Either;
use std::future::Future;
use std::time::Duration;
use tokio::task::futures::TaskLocalFuture;

tokio::task_local! {
    /// Set by [`WithTimeout`] around its executor's calls.
    static EXECUTOR_OVERRIDE: Duration;
    /// Set by a [`QuerySet`](crate::QuerySet) with a timeout; wins over
    /// [`EXECUTOR_OVERRIDE`].
    static QUERY_OVERRIDE: Duration;
}

/// The timeout for a statement starting now: a query's override, else an
/// executor's, else the connection's default.
pub(crate) fn effective(default: Option<Duration>) -> Option<Duration> {
    QUERY_OVERRIDE
        .try_with(|d| *d)
        .or_else(|_| EXECUTOR_OVERRIDE.try_with(|d| *d))
        .ok()
        .or(default)
}

/// `fut` with a query-level override when `timeout` is set (no wrapper, no
/// allocation: the future only grows by the task-local's slot).
fn query_scoped<F: Future>(
    timeout: Option<Duration>,
    fut: F,
) -> Either<TaskLocalFuture<Duration, F>, F> {
    match timeout {
        Some(d) => Either::Left(QUERY_OVERRIDE.scope(d, fut)),
        None => Either::Right(fut),
    }
}

/// Runs one statement's work under `timeout`. On expiry the work is
/// dropped (the backends treat that as an abandoned statement: cancelled,
/// connection discarded) and the error is [`Error::StatementTimeout`], or
/// [`Error::CommitOutcomeUnknown`] for a `COMMIT`, whose outcome is then
/// unknown.
/// `on_timeout` runs when the time is up, before the error is returned.
pub(crate) async fn bound<T, F>(
    timeout: Option<Duration>,
    sql: &str,
    work: F,
    on_timeout: impl FnOnce(),
) -> Result<T>
where
    F: Future<Output = Result<T>>,
{
    let Some(d) = timeout else {
        return work.await;
    };
    match tokio::time::timeout(d, work).await {
        Ok(result) => result,
        Err(_) => {
            on_timeout();
            Err(timed_out(d, sql))
        }
    }
}

/// The error of a statement that ran out of time.
pub(crate) fn timed_out(timeout: Duration, sql: &str) -> Error {
    let e = Error::StatementTimeout {
        timeout,
        sql: sql.to_owned(),
    };
    if first_keyword_is(sql, &["COMMIT", "END"]) {
        Error::CommitOutcomeUnknown { source: e.into() }
    } else {
        e
    }
}

/// An executor whose statements each get `timeout` as their statement
/// timeout, overriding the pool's
/// [`statement_timeout`](crate::PoolConfig::statement_timeout). Made by
/// [`Executor::with_timeout`](crate::Executor::with_timeout).
///
/// A statement that runs out of time fails with
/// [`Error::StatementTimeout`]; its server-side work is cancelled
/// (PostgreSQL: a cancel request, and the connection is discarded when it
/// goes back to the pool; SQLite: the statement is interrupted).
///
/// ```
/// use std::time::Duration;
/// use sylvan::prelude::*;
/// # tokio::runtime::Runtime::new().unwrap().block_on(async {
/// let db = Database::connect("sqlite::memory:").await?;
/// let quick = db.with_timeout(Duration::from_millis(50));
/// let one: i64 = quick.fetch_one("SELECT 1", ()).await?;
/// assert_eq!(one, 1);
/// let slow = quick
///     .fetch_one::<i64, _>(
///         "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) SELECT count(*) FROM c",
///         (),
///     )
///     .await;
/// assert!(matches!(slow, Err(sylvan::Error::StatementTimeout { .. })));
/// # Ok::<_, sylvan::Error>(()) }).unwrap();
/// ```
#[derive(Debug, Clone, Copy)]
pub struct WithTimeout<E> {
    inner: E,
    timeout: Duration,
}

impl<E> WithTimeout<E> {
    pub(crate) fn new(inner: E, timeout: Duration) -> Self {
        WithTimeout { inner, timeout }
    }

    /// The statement timeout this executor applies.
    pub fn timeout(&self) -> Duration {
        self.timeout
    }

    /// The wrapped executor.
    pub fn inner(&self) -> &E {
        &self.inner
    }
}

impl<E: Run> Run for WithTimeout<E> {
    fn run_execute(
        &self,
        sql: &str,
        binds: Result<Vec<Value>>,
        origin: Origin,
    ) -> impl Future<Output = Result<u64>> + Send {
        EXECUTOR_OVERRIDE.scope(self.timeout, self.inner.run_execute(sql, binds, origin))
    }

    fn run_query<T: FromRow>(
        &self,
        sql: &str,
        binds: Result<Vec<Value>>,
        cardinality: Cardinality,
        origin: Origin,
    ) -> impl Future<Output = Result<Vec<T>>> + Send {
        EXECUTOR_OVERRIDE.scope(
            self.timeout,
            self.inner.run_query(sql, binds, cardinality, origin),
        )
    }

    fn run_dialect(&self) -> Dialect {
        self.inner.run_dialect()
    }
}

/// An executor with an optional override: what a [`QuerySet`](crate::QuerySet)
/// with [`timeout`](crate::QuerySet::timeout) runs its statements on.
#[derive(Debug)]
pub(crate) struct MaybeTimeout<'e, E> {
    inner: &'e E,
    timeout: Option<Duration>,
    /// [`QuerySet::primary`](crate::QuerySet::primary): to the primary.
    primary: bool,
}

impl<'e, E> MaybeTimeout<'e, E> {
    pub(crate) fn new(inner: &'e E, timeout: Option<Duration>, primary: bool) -> Self {
        MaybeTimeout {
            inner,
            timeout,
            primary,
        }
    }
}

impl<E: Run> Run for MaybeTimeout<'_, E> {
    fn run_execute(
        &self,
        sql: &str,
        binds: Result<Vec<Value>>,
        origin: Origin,
    ) -> impl Future<Output = Result<u64>> + Send {
        query_scoped(
            self.timeout,
            crate::router::scoped(self.primary, self.inner.run_execute(sql, binds, origin)),
        )
    }

    fn run_query<T: FromRow>(
        &self,
        sql: &str,
        binds: Result<Vec<Value>>,
        cardinality: Cardinality,
        origin: Origin,
    ) -> impl Future<Output = Result<Vec<T>>> + Send {
        query_scoped(
            self.timeout,
            crate::router::scoped(
                self.primary,
                self.inner.run_query(sql, binds, cardinality, origin),
            ),
        )
    }

    fn run_dialect(&self) -> Dialect {
        self.inner.run_dialect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_query_override_wins_over_an_executor_override_and_the_default() {
        let (one, two, nine) = (
            Duration::from_secs(1),
            Duration::from_secs(2),
            Duration::from_secs(9),
        );
        assert_eq!(effective(Some(nine)), Some(nine));
        assert_eq!(effective(None), None);
        let got = EXECUTOR_OVERRIDE
            .scope(two, async { effective(Some(nine)) })
            .await;
        assert_eq!(got, Some(two));
        // The query's timeout wraps the executor's call, yet wins.
        let got = query_scoped(
            Some(one),
            EXECUTOR_OVERRIDE.scope(two, async { effective(Some(nine)) }),
        )
        .await;
        assert_eq!(got, Some(one));
        let got = query_scoped(
            None,
            EXECUTOR_OVERRIDE.scope(two, async { effective(None) }),
        )
        .await;
        assert_eq!(got, Some(two));
    }

    #[test]
    fn a_commit_that_times_out_has_an_unknown_outcome() {
        assert!(matches!(
            timed_out(Duration::from_millis(1), "COMMIT"),
            Error::CommitOutcomeUnknown { .. }
        ));
        assert!(matches!(
            timed_out(Duration::from_millis(1), "SELECT 1"),
            Error::StatementTimeout { .. }
        ));
    }
}
