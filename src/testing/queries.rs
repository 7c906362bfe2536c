//! Counting the statements a scope runs.

use crate::observe;
use std::future::Future;

/// The statements a scope ran, in the order they were sent: see
/// [`count_queries`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct QueryLog {
    statements: Vec<String>,
}

impl QueryLog {
    pub(crate) fn new(statements: Vec<String>) -> Self {
        QueryLog { statements }
    }

    /// How many statements ran.
    pub fn len(&self) -> usize {
        self.statements.len()
    }

    /// True when none ran.
    pub fn is_empty(&self) -> bool {
        self.statements.is_empty()
    }

    /// The SQL of each statement, in order (as written, `$N` placeholders,
    /// no bind values).
    pub fn statements(&self) -> &[String] {
        &self.statements
    }

    /// How many statements contain `text` (say a table name).
    pub fn count_containing(&self, text: &str) -> usize {
        self.statements.iter().filter(|s| s.contains(text)).count()
    }
}

impl std::fmt::Display for QueryLog {
    /// One numbered line per statement.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        for (i, sql) in self.statements.iter().enumerate() {
            writeln!(f, "{}. {sql}", i + 1)?;
        }
        Ok(())
    }
}

impl<'a> IntoIterator for &'a QueryLog {
    type Item = &'a String;
    type IntoIter = std::slice::Iter<'a, String>;

    fn into_iter(self) -> Self::IntoIter {
        self.statements.iter()
    }
}

/// Runs `fut` and returns its output with the statements it ran, on any
/// executor ([`Database`](crate::Database), [`Connection`](crate::Connection),
/// [`Transaction`](crate::Transaction), replicas) and either backend.
///
/// What counts: every statement Sylvan sends for the code in `fut` — each
/// `execute`/`fetch_*`, each QuerySet or model operation, each row stream
/// (once, when it starts), each script (once, whatever its number of
/// statements), and transaction control (`BEGIN`, `COMMIT`, `ROLLBACK`,
/// savepoints), as Django's `assertNumQueries` counts them. A read that a
/// SQLite reader refused and the writer ran counts once; a statement a
/// replica refused and the primary ran counts twice (it was sent twice).
/// What does not: what Sylvan runs on its own to look after connections
/// (connect-time settings, session resets, the rollback of a dropped
/// transaction, liveness checks) and [`Connection::interact`](crate::Connection::interact)
/// closures.
///
/// The scope belongs to the task that awaits `fut`: statements of other
/// tasks, including tasks spawned inside `fut`, are not counted, so tests
/// running in parallel never see each other's statements. Scopes nest: a
/// statement counts in the inner scope and in every scope around it.
///
/// ```
/// use sylvan::prelude::*;
/// use sylvan::testing::count_queries;
/// # tokio::runtime::Runtime::new().unwrap().block_on(async {
/// let db = Database::connect("sqlite::memory:").await?;
/// db.execute("CREATE TABLE t (x INTEGER)", ()).await?;
/// let (n, log) = count_queries(async {
///     db.execute("INSERT INTO t (x) VALUES ($1)", (1,)).await?;
///     db.fetch_one::<i64, _>("SELECT count(*) FROM t", ()).await
/// })
/// .await;
/// assert_eq!(n?, 1);
/// assert_eq!(log.len(), 2);
/// assert_eq!(log.statements()[1], "SELECT count(*) FROM t");
/// # Ok::<_, sylvan::Error>(()) }).unwrap();
/// ```
pub fn count_queries<F: Future>(fut: F) -> impl Future<Output = (F::Output, QueryLog)> {
    let scope = observe::observe(observe::Purpose::Count, Box::pin(fut));
    async move {
        let (output, entries) = scope.await;
        let statements = entries.iter().map(|e| e.sql.to_string()).collect();
        (output, QueryLog::new(statements))
    }
}

/// Runs `fut` and panics unless it ran exactly `expected` statements
/// (counted as [`count_queries`] counts them); the message lists them,
/// as Django's `assertNumQueries` does. A test assertion: it panics by
/// design.
///
/// ```
/// use sylvan::prelude::*;
/// use sylvan::testing::assert_num_queries;
/// # tokio::runtime::Runtime::new().unwrap().block_on(async {
/// let db = Database::connect("sqlite::memory:").await?;
/// db.execute("CREATE TABLE t (x INTEGER)", ()).await?;
/// // BEGIN IMMEDIATE, INSERT, COMMIT.
/// assert_num_queries(3, async {
///     let tx = db.begin().await?;
///     tx.execute("INSERT INTO t (x) VALUES (1)", ()).await?;
///     tx.commit().await
/// })
/// .await?;
/// # Ok::<_, sylvan::Error>(()) }).unwrap();
/// ```
pub fn assert_num_queries<F: Future>(expected: usize, fut: F) -> impl Future<Output = F::Output> {
    let count = count_queries(fut);
    async move {
        let (output, log) = count.await;
        if log.len() != expected {
            panic!("{}", mismatch(expected, &log));
        }
        output
    }
}

fn mismatch(expected: usize, log: &QueryLog) -> String {
    let ran = log.len();
    let plural = if ran == 1 { "query" } else { "queries" };
    format!("{ran} != {expected} : {ran} {plural} executed, {expected} expected\nCaptured queries were:\n{log}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_mismatch_message_lists_the_statements() {
        let log = QueryLog::new(vec!["SELECT 1".into(), "SELECT 2".into()]);
        assert_eq!(
            mismatch(1, &log),
            "2 != 1 : 2 queries executed, 1 expected\nCaptured queries were:\n1. SELECT 1\n2. SELECT 2\n"
        );
    }
}
