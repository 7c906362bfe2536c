//! Transaction-pooler mode (`pooler=transaction`): statements and session
//! state when a transaction-mode pooler (PgBouncer's `pool_mode =
//! transaction`, …) sits between Sylvan and PostgreSQL.
//!
//! The invariant the pooler gives: everything up to a `Sync` outside a
//! transaction, and everything from `BEGIN` to `COMMIT`/`ROLLBACK`, runs on
//! one server session; the next such unit may run on another, which other
//! clients used in between. So in this mode:
//!
//! - nothing is prepared by name: every statement is one unnamed `Parse` +
//!   `Bind` + `Describe` + `Execute` + `Sync` (tokio-postgres's
//!   `query_typed_raw` / `execute_typed`), one round trip, with each
//!   parameter's type taken from its value ([`natural_type`]): text and
//!   NULL go as `unknown` in text format, so the server types them from the
//!   statement exactly as when it prepares one. Rows carry the portal's
//!   `RowDescription` and decode as usual;
//! - the bind count is checked against the highest `$N` of the text
//!   ([`max_placeholder`]), since no prepared statement says it;
//! - the session reset on return (`RESET ALL`, `DISCARD TEMP`, advisory
//!   unlock, …) is never sent: it would reach another client's session. A
//!   connection that may be inside a transaction is still rolled back
//!   (that `ROLLBACK` reaches the session holding the transaction, or, when
//!   none is open, any session, where it is a no-op);
//! - raw statements that would leave session state behind are refused
//!   before they run ([`refuse_session_state`]): it would leak to whichever
//!   clients use that server session next, and be missing from the next
//!   statement of this one.
//!
//! Cancel requests wait for the pooler to close their connection: PgBouncer
//! before 1.20 crashes (`bad client state: 0`, pgbouncer#801) when the
//! client closes a cancel connection before the pooler has passed the
//! request on, which tokio-postgres's `cancel_query` does at once.
//!
//! What stays with the driver: for a result column whose type it does not
//! know (an enum, a composite, an extension type such as `citext`, arrays
//! of them) tokio-postgres looks the type up with named statements of its
//! own, prepared once per connection and kept. The first lookup runs while
//! the pooler still holds the session of the statement being answered
//! (tested: it works); a later one reuses the kept statement in a new unit
//! of work, which may land on another session (SQLSTATE 26000), and
//! statement names come from a per-process counter, so another process's
//! lookups may collide with them on a shared session (42P05). Either is
//! reported as [`Error::NeedsSession`] naming the fix: Sylvan decodes none
//! of these types anyway, so cast such columns in SQL (`mood::text`).

use super::conn::{check_bind_count, Failure, PgConn, CANCEL_ATTEMPTS, CANCEL_WAIT};
use super::types::{natural_type, PgBind};
use crate::backend::{first_keyword, max_placeholder};
use crate::error::{Error, Result};
use crate::value::Value;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, ReadBuf};
use tokio_postgres::types::{ToSql, Type};
use tokio_postgres::{CancelToken, NoTls};

/// Sends a cancel request through the pooler at `host:port` and keeps the
/// connection open until the pooler closes it, having passed the request
/// on (see the module doc). Callers bound it with a timeout.
pub(super) async fn cancel_and_wait(token: &CancelToken, host: &str, port: u16) {
    let Ok(mut tcp) = tokio::net::TcpStream::connect((host, port)).await else {
        return;
    };
    if token
        .cancel_query_raw(KeepOpen(&mut tcp), NoTls)
        .await
        .is_err()
    {
        return;
    }
    let mut buf = [0_u8; 64];
    while matches!(tcp.read(&mut buf).await, Ok(n) if n > 0) {}
}

/// A stream whose shutdown leaves the connection open.
struct KeepOpen<'a>(&'a mut tokio::net::TcpStream);

impl AsyncRead for KeepOpen<'_> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        Pin::new(&mut *self.get_mut().0).poll_read(cx, buf)
    }
}

impl AsyncWrite for KeepOpen<'_> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut *self.get_mut().0).poll_write(cx, buf)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut *self.get_mut().0).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}

impl PgConn {
    /// Runs `sql` as an unnamed statement, returning the rows it changed.
    pub(super) async fn execute_unnamed(
        &self,
        sql: &str,
        binds: &[Value],
    ) -> std::result::Result<u64, Failure> {
        check_bind_count(max_placeholder(sql), binds, sql)?;
        let typed = typed_binds(binds);
        let params: Vec<(&(dyn ToSql + Sync), Type)> = typed
            .iter()
            .map(|(bind, ty)| (bind as &(dyn ToSql + Sync), ty.clone()))
            .collect();
        self.client
            .execute_typed(sql, &params)
            .await
            .map_err(|e| lookup_failure(e, sql))
    }

    /// Starts `sql` as an unnamed statement; its rows follow.
    pub(super) async fn query_unnamed(
        &self,
        sql: &str,
        binds: &[Value],
    ) -> std::result::Result<tokio_postgres::RowStream, Failure> {
        check_bind_count(max_placeholder(sql), binds, sql)?;
        self.client
            .query_typed_raw(sql, typed_binds(binds))
            .await
            .map_err(|e| lookup_failure(e, sql))
    }
}

/// The most a cancel request through a transaction pooler may take, in
/// the background: it is never cut short (see `cancel_bound`).
const POOLER_CANCEL_BOUND: Duration = Duration::from_secs(10);

impl PgConn {
    /// How long a cancel request may take in all. Behind a pooler it is
    /// never cut short by the caller's wait (see `pooler.rs`: closing the
    /// cancel connection early crashes PgBouncer before 1.20).
    pub(super) fn cancel_bound(&self) -> Duration {
        if self.cancel_via.is_some() {
            POOLER_CANCEL_BOUND
        } else {
            CANCEL_WAIT * CANCEL_ATTEMPTS
        }
    }

    /// Sends a cancel request and waits for it at most `wait`; behind a
    /// pooler the request goes on in the background after that (within
    /// `POOLER_CANCEL_BOUND`).
    pub(super) async fn cancel_within(&self, wait: Duration) {
        if self.cancel_via.is_none() {
            let _ = tokio::time::timeout(wait, self.cancel()).await;
            return;
        }
        let cancel = self.cancel();
        let task = tokio::spawn(async move {
            let _ = tokio::time::timeout(POOLER_CANCEL_BOUND, cancel).await;
        });
        let _ = tokio::time::timeout(wait, task).await;
    }

    /// A cancel request for the statement running on this connection (not
    /// bounded: callers add the bound).
    pub(super) fn cancel(&self) -> impl std::future::Future<Output = ()> + Send + 'static {
        let token = self.client.cancel_token();
        let via = self.cancel_via.clone();
        let tls = std::sync::Arc::clone(&self.tls);
        async move {
            match via {
                Some(to) => cancel_and_wait(&token, &to.0, to.1).await,
                None => {
                    let _ = tls.cancel(&token).await;
                }
            }
        }
    }
}

/// Sylvan prepares nothing by name in this mode: a vanished (26000) or
/// colliding (42P05) statement is the driver's type lookup (see the module
/// doc), reported as what to do about it.
fn lookup_failure(e: tokio_postgres::Error, sql: &str) -> Failure {
    use tokio_postgres::error::SqlState;
    let lookup = e.as_db_error().is_some_and(|db| {
        *db.code() == SqlState::INVALID_SQL_STATEMENT_NAME
            || *db.code() == SqlState::DUPLICATE_PSTATEMENT
    });
    if !lookup {
        return Failure::Pg(e);
    }
    Failure::Sylvan(Error::NeedsSession {
        what: "looking up the type of a result column that is not built in (an enum, a composite, an extension type), which the driver does with a prepared statement of its own,".into(),
        fix: "cast the column to a supported type in SQL (`mood::text`); Sylvan decodes none of these types anyway".into(),
        sql: Some(sql.to_owned()),
    })
}

fn typed_binds(binds: &[Value]) -> Vec<(PgBind<'_>, Type)> {
    binds
        .iter()
        .enumerate()
        .map(|(i, value)| {
            (
                PgBind {
                    value,
                    index: i + 1,
                },
                natural_type(value),
            )
        })
        .collect()
}

/// The first few words of a statement, upper-cased (identifier-like words
/// only; anything else ends the list).
fn leading_words(sql: &str, n: usize) -> Vec<String> {
    let mut words = Vec::with_capacity(n);
    let mut rest = sql;
    while words.len() < n {
        let word = first_keyword(rest);
        if word.is_empty() {
            break;
        }
        words.push(word.to_ascii_uppercase());
        // `word` is a slice of `rest`: continue right after it.
        let at = word.as_ptr() as usize - rest.as_ptr() as usize + word.len();
        rest = &rest[at..];
    }
    words
}

fn refused(what: &str, fix: &str, sql: &str) -> Error {
    Error::NeedsSession {
        what: what.to_owned(),
        fix: fix.to_owned(),
        sql: Some(sql.to_owned()),
    }
}

const DIRECT: &str = "or run it over a direct connection to PostgreSQL (a URL without `pooler=transaction`, not through the pooler)";

/// Refuses a raw statement (or, with `script`, any statement of a script)
/// that would leave session state behind a transaction pooler: `SET` other
/// than `SET LOCAL`/`SET TRANSACTION`/`SET CONSTRAINTS`, `RESET`, `LISTEN`,
/// SQL `PREPARE` and `DEALLOCATE`, `DISCARD`, `DECLARE … WITH HOLD`,
/// `CREATE TEMP …` without `ON COMMIT DROP`, and session advisory locks
/// (`pg_advisory_lock`, `pg_try_advisory_lock`, `pg_advisory_unlock`, their
/// `_shared` forms). What a text check cannot see is left to the user:
/// `set_config(…, false)`, `LOAD`, and functions that change session state
/// inside their bodies.
pub(crate) fn refuse_session_state(sql: &str, script: bool) -> Result<()> {
    if script {
        for statement in crate::migrate::split_postgres_statements(sql) {
            refuse_session_state(statement, false)?;
        }
        return Ok(());
    }
    let words = leading_words(sql, 5);
    let word = |i: usize| words.get(i).map_or("", String::as_str);
    match word(0) {
        "SET" if !matches!(word(1), "LOCAL" | "TRANSACTION" | "CONSTRAINTS") => {
            return Err(refused(
                "`SET` (for the session)",
                &format!("use `SET LOCAL` inside a transaction, which ends with it, {DIRECT}"),
                sql,
            ))
        }
        "RESET" => {
            return Err(refused(
                "`RESET`",
                &format!("settings made with `SET LOCAL` inside a transaction end with it and need no reset; {DIRECT}"),
                sql,
            ))
        }
        "LISTEN" => return Err(refused("`LISTEN`", DIRECT.trim_start_matches("or "), sql)),
        "PREPARE" if word(1) != "TRANSACTION" => {
            return Err(refused(
                "SQL `PREPARE`",
                &format!("run the statement itself with binds, {DIRECT}"),
                sql,
            ))
        }
        "DEALLOCATE" | "DISCARD" => {
            return Err(refused(
                &format!("`{}`", word(0)),
                &format!("it would act on whichever session the pooler picks; {DIRECT}"),
                sql,
            ))
        }
        "DECLARE" if contains_words(sql, &["WITH", "HOLD"]) => {
            return Err(refused(
                "a cursor `WITH HOLD`",
                &format!("declare it without `WITH HOLD` inside a transaction, {DIRECT}"),
                sql,
            ))
        }
        "CREATE"
            if words[1..]
                .iter()
                .find(|w| !matches!(w.as_str(), "OR" | "REPLACE" | "GLOBAL" | "LOCAL"))
                .is_some_and(|w| w == "TEMP" || w == "TEMPORARY")
                && !contains_words(sql, &["ON", "COMMIT", "DROP"]) =>
        {
            return Err(refused(
                "a temporary object that outlives its transaction",
                &format!("create it inside a transaction with `ON COMMIT DROP`, {DIRECT}"),
                sql,
            ))
        }
        _ => {}
    }
    let lower = sql.to_ascii_lowercase();
    if [
        "pg_advisory_lock",
        "pg_try_advisory_lock",
        "pg_advisory_unlock",
    ]
    .iter()
    .any(|f| lower.contains(f))
    {
        return Err(refused(
            "a session advisory lock",
            &format!("take a transaction-level lock (`pg_advisory_xact_lock`, `pg_try_advisory_xact_lock`) inside a transaction, {DIRECT}"),
            sql,
        ));
    }
    Ok(())
}

/// True when `words` (upper case) appear in order, separated by
/// whitespace only, in `sql` (ASCII case ignored).
fn contains_words(sql: &str, words: &[&str]) -> bool {
    let tokens: Vec<String> = sql
        .split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .filter(|t| !t.is_empty())
        .map(str::to_ascii_uppercase)
        .collect();
    tokens
        .windows(words.len())
        .any(|w| w.iter().zip(words).all(|(a, b)| a == b))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn session_state_is_refused_and_transaction_state_is_not() {
        for sql in [
            "SET search_path = x",
            "set session statement_timeout = 5",
            "SET ROLE app",
            "SET SESSION AUTHORIZATION app",
            "RESET ALL",
            "LISTEN chan",
            "PREPARE p AS SELECT 1",
            "DEALLOCATE ALL",
            "DISCARD ALL",
            "DECLARE c CURSOR WITH HOLD FOR SELECT 1",
            "CREATE TEMP TABLE t (x int)",
            "create temporary table t as select 1",
            "CREATE GLOBAL TEMPORARY TABLE t (x int)",
            "CREATE OR REPLACE TEMP VIEW v AS SELECT 1",
            "SELECT pg_advisory_lock(1)",
            "SELECT PG_TRY_ADVISORY_LOCK_SHARED(1)",
            "SELECT pg_advisory_unlock_all()",
        ] {
            let e = refuse_session_state(sql, false).expect_err(sql);
            assert!(matches!(e, Error::NeedsSession { .. }), "{e:?}");
            assert!(e.to_string().contains("direct connection"), "{e}");
        }
        for sql in [
            "SET LOCAL statement_timeout = 5",
            "SET TRANSACTION ISOLATION LEVEL SERIALIZABLE",
            "SET CONSTRAINTS ALL DEFERRED",
            "SELECT pg_advisory_xact_lock(1)",
            "SELECT pg_try_advisory_xact_lock(1)",
            "CREATE TEMP TABLE t (x int) ON COMMIT DROP",
            "CREATE TABLE temp (x int)",
            "DECLARE c CURSOR FOR SELECT 1",
            "PREPARE TRANSACTION 'x'",
            "SELECT 'SET x = 1'",
            "UPDATE settings SET v = 1",
            "UNLISTEN *",
        ] {
            assert!(refuse_session_state(sql, false).is_ok(), "{sql}");
        }
        assert!(refuse_session_state("CREATE TABLE a (x int); SET x = 1", true).is_err());
        assert!(refuse_session_state("CREATE TABLE a (x int); SELECT 'SET x'", true).is_ok());
    }

    #[test]
    fn leading_words_skip_comments() {
        assert_eq!(
            leading_words("/* c */ set  local x = 1", 3),
            ["SET", "LOCAL", "X"]
        );
    }
}
