//! The one error type of Sylvan.
//!
//! Callers tell failures apart by variant and by predicate
//! ([`Error::is_retryable`], [`Error::is_unique_violation`], …), never by
//! parsing messages. Query errors carry the SQL text; bind values never appear
//! in an error, since they may be secrets.

use std::fmt;
use std::time::Duration;

/// A boxed cause from a driver or the operating system.
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// `Result<T, sylvan::Error>`.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// The kind of integrity constraint a statement violated.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ConstraintKind {
    /// A UNIQUE or PRIMARY KEY constraint (SQLSTATE 23505, `SQLITE_CONSTRAINT_UNIQUE` / `_PRIMARYKEY`).
    Unique,
    /// A FOREIGN KEY constraint (SQLSTATE 23503, `SQLITE_CONSTRAINT_FOREIGNKEY`).
    ForeignKey,
    /// A NOT NULL constraint (SQLSTATE 23502, `SQLITE_CONSTRAINT_NOTNULL`).
    NotNull,
    /// A CHECK constraint (SQLSTATE 23514, `SQLITE_CONSTRAINT_CHECK`).
    Check,
}

impl fmt::Display for ConstraintKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ConstraintKind::Unique => "unique",
            ConstraintKind::ForeignKey => "foreign key",
            ConstraintKind::NotNull => "not null",
            ConstraintKind::Check => "check",
        })
    }
}

/// Which phase of a pool checkout ran out of time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum TimeoutPhase {
    /// Waiting for a free slot in the pool.
    Wait,
    /// Opening a new connection.
    Create,
    /// Checking an idle connection before handing it out.
    Recycle,
}

impl fmt::Display for TimeoutPhase {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            TimeoutPhase::Wait => "waiting for a free connection",
            TimeoutPhase::Create => "opening a new connection",
            TimeoutPhase::Recycle => "checking an idle connection",
        })
    }
}

/// Why a TLS connection to PostgreSQL could not be set up (see
/// [`Error::Tls`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum TlsErrorKind {
    /// The server does not offer TLS (it answered the TLS request with
    /// `N`), and the `sslmode` demands it.
    NotSupportedByServer,
    /// The server's certificate chain is not trusted by the roots in use
    /// (`sslrootcert`, or the system's): unknown issuer, expired, bad
    /// signature, or not a certificate.
    UntrustedCertificate,
    /// The certificate is trusted but not issued for the host name (or IP
    /// address) connected to; `sslmode=verify-full` checks it.
    NameMismatch,
    /// Any other TLS failure: no common protocol version or cipher, an
    /// alert from the server (say, it wanted a client certificate), a
    /// malformed message.
    Handshake,
}

impl fmt::Display for TlsErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            TlsErrorKind::NotSupportedByServer => "the server does not support TLS",
            TlsErrorKind::UntrustedCertificate => "the server's certificate is not trusted",
            TlsErrorKind::NameMismatch => "the server's certificate does not match the host name",
            TlsErrorKind::Handshake => "the TLS handshake failed",
        })
    }
}

/// Every failure Sylvan reports.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A query that must return a row returned none.
    #[error("no row found")]
    NotFound,

    /// A query that must return one row returned more.
    #[error("more than one row found where one was expected")]
    TooManyRows,

    /// A pool checkout did not finish in time.
    #[error("pool timed out {phase} after {timeout:?}{}", last_error.as_ref().map(|e| format!(" (last connection error: {e})")).unwrap_or_default())]
    PoolTimeout {
        /// The phase that timed out.
        phase: TimeoutPhase,
        /// The configured timeout of that phase.
        timeout: Duration,
        /// The last error seen while opening a connection, if any.
        last_error: Option<String>,
    },

    /// The pool was closed with [`crate::Database::close`].
    #[error("the pool is closed")]
    PoolClosed,

    /// The connection to the database broke (I/O error, server shutdown,
    /// terminated backend). Retrying on a new connection may succeed.
    #[error("connection lost{}", sql.as_ref().map(|s| format!(" while running `{s}`")).unwrap_or_default())]
    ConnectionLost {
        /// The statement that was running, if any.
        sql: Option<String>,
        /// The driver's error.
        #[source]
        source: BoxError,
    },

    /// Opening a connection failed. The message carries the whole cause
    /// (the server's message such as `database "x" does not exist`, the
    /// I/O error, a TLS failure), so a bare `{}` of it says why.
    #[error("could not connect to the database: {}", chain(source.as_ref()))]
    Connect {
        /// The driver's error.
        #[source]
        source: BoxError,
    },

    /// A TLS connection to the server could not be set up as the URL's
    /// `sslmode` asks: tell the causes apart with [`Error::tls_kind`]. The
    /// message says which `sslmode` and roots applied and what failed.
    #[error("could not connect to the database over TLS: {message}")]
    Tls {
        /// What failed.
        kind: TlsErrorKind,
        /// The failure in words (the TLS library's own error included).
        message: String,
    },

    /// A statement violated an integrity constraint.
    #[error("{kind} constraint violated{}{}: {message} (in `{sql}`)",
        constraint.as_ref().map(|c| format!(" ({c})")).unwrap_or_default(),
        table.as_ref().map(|t| format!(" on table {t}")).unwrap_or_default())]
    Constraint {
        /// Which kind of constraint.
        kind: ConstraintKind,
        /// The constraint's name, where the backend reports it (PostgreSQL does; SQLite does not).
        constraint: Option<String>,
        /// The table, where the backend reports it.
        table: Option<String>,
        /// The database's message.
        message: String,
        /// The statement.
        sql: String,
    },

    /// A transaction could not be serialized (SQLSTATE 40001) or was chosen as
    /// a deadlock victim (40P01); retrying the whole transaction may succeed.
    #[error("serialization failure or deadlock: {message} (in `{sql}`)")]
    SerializationFailure {
        /// The database's message.
        message: String,
        /// The statement.
        sql: String,
    },

    /// Any other error the database reported for a statement.
    #[error("database error{}: {message} (in `{sql}`)", code.as_ref().map(|c| format!(" {c}")).unwrap_or_default())]
    Database {
        /// SQLSTATE on PostgreSQL; the extended result code name on SQLite.
        code: Option<String>,
        /// The database's message.
        message: String,
        /// The statement.
        sql: String,
    },

    /// The transaction was already rolled back by the server (PostgreSQL
    /// aborts a transaction at its first failed statement outside a rolled
    /// back savepoint; SQLite rolls back on an interrupted write): its work
    /// is lost, and committing it is refused rather than reported as done.
    #[error("the transaction was rolled back: {reason}")]
    TransactionAborted {
        /// Why.
        reason: String,
    },

    /// The connection failed while `COMMIT` was in flight: the transaction
    /// may or may not have been committed. Check the data before retrying.
    #[error("the connection failed during COMMIT: the transaction may or may not have committed")]
    CommitOutcomeUnknown {
        /// The driver's error.
        #[source]
        source: BoxError,
    },

    /// A migration could not be applied or reverted, or the migrations on
    /// disk disagree with what the database recorded.
    #[error("migration error: {message}")]
    Migration {
        /// The migration's version, when one is concerned.
        version: Option<i64>,
        /// What went wrong.
        message: String,
    },

    /// The statement has a different number of placeholders than binds given.
    #[error("statement expects {expected} bind parameter(s) but {given} were given (in `{sql}`)")]
    BindCount {
        /// Placeholders in the statement.
        expected: usize,
        /// Values given.
        given: usize,
        /// The statement.
        sql: String,
    },

    /// A statement carries more binds than the backend accepts (65,535 on
    /// PostgreSQL, 32,766 on SQLite).
    #[error(
        "statement has {given} bind parameters, above the backend's limit of {limit} (in `{sql}`)"
    )]
    TooManyBinds {
        /// The backend's limit.
        limit: usize,
        /// Binds given.
        given: usize,
        /// The statement.
        sql: String,
    },

    /// A bind value cannot be stored faithfully by the backend.
    #[error("bind parameter {index} cannot be stored: {reason}")]
    InvalidValue {
        /// 1-based position of the bind.
        index: usize,
        /// Why.
        reason: String,
    },

    /// A Rust value cannot become a SQL value (e.g. a `u64` above `i64::MAX`).
    #[error("value cannot be represented in SQL: {reason}")]
    Encode {
        /// Why.
        reason: String,
    },

    /// A column's value cannot be decoded into the requested Rust type.
    #[error("cannot decode column {column} as {expected}: {actual}")]
    Decode {
        /// The column index (0-based) and, where known, its name.
        column: String,
        /// The Rust type requested.
        expected: &'static str,
        /// What was found instead.
        actual: String,
    },

    /// A connection URL or a configuration value is invalid.
    #[error("invalid configuration: {0}")]
    Config(String),

    /// The operation is not available on this backend.
    #[error("not supported by the {backend} backend: {what}")]
    Unsupported {
        /// The backend's name.
        backend: &'static str,
        /// What was asked.
        what: String,
    },

    /// A user closure given to `interact` panicked on the worker thread (or
    /// the worker stopped before the job could run). The connection is
    /// discarded when it goes back to the pool, and a transaction open on it
    /// was rolled back: its later statements and `commit()` fail with
    /// [`Error::TransactionAborted`].
    #[error("a closure panicked on the SQLite worker thread")]
    WorkerPanicked,

    /// A statement did not finish within its statement timeout
    /// ([`PoolConfig::statement_timeout`](crate::PoolConfig::statement_timeout),
    /// [`Executor::with_timeout`](crate::Executor::with_timeout),
    /// [`QuerySet::timeout`](crate::QuerySet::timeout)), whether the server
    /// was slow or its reply was lost in the network. This is the statement
    /// phase, not a pool checkout ([`Error::PoolTimeout`]). The statement
    /// was cancelled (PostgreSQL: cancel request, connection discarded;
    /// SQLite: interrupted); a write outside a transaction may still have
    /// taken effect, so it is not reported as retryable.
    #[error("statement timed out after {timeout:?} while running (the statement phase, not a pool checkout); it was cancelled (in `{sql}`)")]
    StatementTimeout {
        /// The timeout that applied.
        timeout: Duration,
        /// The statement.
        sql: String,
    },

    /// A prepared statement vanished (SQLSTATE 26000) or its name was
    /// already taken (42P05) right after Sylvan prepared it, which cannot
    /// happen on a direct connection: a transaction-mode connection pooler
    /// (PgBouncer's `pool_mode = transaction`, …) sits in front of the
    /// server and ran the statement's steps on different server sessions.
    /// Add `pooler=transaction` to the URL (or call
    /// [`DatabaseBuilder::transaction_pooler`](crate::DatabaseBuilder::transaction_pooler)).
    #[error("prepared statement {} (SQLSTATE {code}) right after it was prepared: a transaction-mode connection pooler (such as PgBouncer with pool_mode=transaction) seems to sit in front of PostgreSQL; add `pooler=transaction` to the database URL (in `{sql}`)",
        if code == "42P05" { "name already in use" } else { "vanished" })]
    TransactionPoolerDetected {
        /// The SQLSTATE: 26000 or 42P05.
        code: String,
        /// The statement.
        sql: String,
    },

    /// Behind a transaction-mode pooler (`pooler=transaction`) each
    /// transaction may run on a different server session, and session state
    /// set by one client reaches others: a statement that would leave
    /// session state behind (`SET` without `LOCAL`, `RESET`, `LISTEN`, SQL
    /// `PREPARE`, a temporary table that outlives its transaction, a session
    /// advisory lock, …) or an operation that needs a session (migrations)
    /// is refused before it runs.
    #[error("{what} needs a PostgreSQL session of its own, which a transaction-mode pooler (`pooler=transaction`) does not give: {fix}{}",
        sql.as_ref().map(|s| format!(" (in `{s}`)")).unwrap_or_default())]
    NeedsSession {
        /// What was refused.
        what: String,
        /// What to do instead.
        fix: String,
        /// The statement, when one was refused.
        sql: Option<String>,
    },
}

impl Error {
    /// True when retrying the operation (for a transaction: the whole
    /// transaction) may succeed: lost connections, serialization failures,
    /// deadlocks, pool timeouts, and SQLite's `SQLITE_BUSY` (another process
    /// held a lock past the busy timeout).
    pub fn is_retryable(&self) -> bool {
        match self {
            Error::ConnectionLost { .. }
            | Error::SerializationFailure { .. }
            | Error::PoolTimeout { .. } => true,
            Error::Database {
                code: Some(code), ..
            } => code.starts_with("SQLITE_BUSY"),
            _ => false,
        }
    }

    /// True when a transaction failed because it conflicted with another
    /// (serialization failure, deadlock, SQLite `SQLITE_BUSY`): running the
    /// whole transaction again may succeed.
    pub fn is_transaction_conflict(&self) -> bool {
        match self {
            Error::SerializationFailure { .. } => true,
            Error::Database {
                code: Some(code), ..
            } => code.starts_with("SQLITE_BUSY"),
            _ => false,
        }
    }

    /// True for [`Error::NotFound`].
    pub fn is_not_found(&self) -> bool {
        matches!(self, Error::NotFound)
    }

    /// The violated constraint's kind, if this is a constraint violation.
    pub fn constraint_kind(&self) -> Option<ConstraintKind> {
        match self {
            Error::Constraint { kind, .. } => Some(*kind),
            _ => None,
        }
    }

    /// True for a UNIQUE or PRIMARY KEY violation.
    pub fn is_unique_violation(&self) -> bool {
        self.constraint_kind() == Some(ConstraintKind::Unique)
    }

    /// True for a FOREIGN KEY violation.
    pub fn is_foreign_key_violation(&self) -> bool {
        self.constraint_kind() == Some(ConstraintKind::ForeignKey)
    }

    /// True for a NOT NULL violation.
    pub fn is_not_null_violation(&self) -> bool {
        self.constraint_kind() == Some(ConstraintKind::NotNull)
    }

    /// True for a CHECK violation.
    pub fn is_check_violation(&self) -> bool {
        self.constraint_kind() == Some(ConstraintKind::Check)
    }

    /// True for [`Error::StatementTimeout`].
    pub fn is_statement_timeout(&self) -> bool {
        matches!(self, Error::StatementTimeout { .. })
    }

    /// What failed when this is [`Error::Tls`].
    ///
    /// ```
    /// use sylvan::{Error, TlsErrorKind};
    /// # fn is_untrusted(e: &Error) -> bool {
    /// e.tls_kind() == Some(TlsErrorKind::UntrustedCertificate)
    /// # }
    /// ```
    pub fn tls_kind(&self) -> Option<TlsErrorKind> {
        match self {
            Error::Tls { kind, .. } => Some(*kind),
            _ => None,
        }
    }

    /// True when the connection broke.
    pub fn is_connection_lost(&self) -> bool {
        matches!(self, Error::ConnectionLost { .. })
    }

    /// The SQL text of the statement that failed, where there is one.
    pub fn sql(&self) -> Option<&str> {
        match self {
            Error::Constraint { sql, .. }
            | Error::SerializationFailure { sql, .. }
            | Error::Database { sql, .. }
            | Error::BindCount { sql, .. }
            | Error::TooManyBinds { sql, .. }
            | Error::StatementTimeout { sql, .. }
            | Error::TransactionPoolerDetected { sql, .. } => Some(sql),
            Error::ConnectionLost { sql, .. } | Error::NeedsSession { sql, .. } => sql.as_deref(),
            _ => None,
        }
    }

    pub(crate) fn decode(column: usize, expected: &'static str, actual: impl Into<String>) -> Self {
        Error::Decode {
            column: column.to_string(),
            expected,
            actual: actual.into(),
        }
    }
}

/// An error and its causes as one line: `a: b: c`, leaving out a cause
/// whose text is already shown (drivers often repeat their cause).
pub(crate) fn chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(cause) = source {
        let part = cause.to_string();
        if !text.contains(&part) {
            text.push_str(": ");
            text.push_str(&part);
        }
        source = cause.source();
    }
    text
}

/// Turns a not-found error into `Ok(None)`.
///
/// ```
/// use sylvan::{Error, OptionalExt};
/// let r: Result<i32, Error> = Err(Error::NotFound);
/// assert_eq!(r.optional().unwrap(), None);
/// ```
pub trait OptionalExt<T> {
    /// `Err(Error::NotFound)` becomes `Ok(None)`; `Ok(v)` becomes `Ok(Some(v))`;
    /// other errors stay errors.
    fn optional(self) -> Result<Option<T>>;
}

impl<T> OptionalExt<T> for Result<T> {
    fn optional(self) -> Result<Option<T>> {
        match self {
            Ok(v) => Ok(Some(v)),
            Err(Error::NotFound) => Ok(None),
            Err(e) => Err(e),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn predicates() {
        let e = Error::Constraint {
            kind: ConstraintKind::Unique,
            constraint: Some("users_email_key".into()),
            table: Some("users".into()),
            message: "duplicate".into(),
            sql: "INSERT".into(),
        };
        assert!(e.is_unique_violation());
        assert!(!e.is_retryable());
        assert_eq!(e.sql(), Some("INSERT"));
        let msg = e.to_string();
        assert!(
            msg.contains("users_email_key") && msg.contains("users"),
            "{msg}"
        );
        assert!(Error::SerializationFailure {
            message: String::new(),
            sql: String::new()
        }
        .is_retryable());
    }

    #[test]
    fn pool_timeout_message_names_phase_and_cause() {
        let e = Error::PoolTimeout {
            phase: TimeoutPhase::Create,
            timeout: Duration::from_secs(1),
            last_error: Some("connection refused".into()),
        };
        let msg = e.to_string();
        assert!(msg.contains("opening a new connection"), "{msg}");
        assert!(msg.contains("connection refused"), "{msg}");
    }
}
