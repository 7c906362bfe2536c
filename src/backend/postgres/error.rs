//! tokio-postgres errors into [`Error`].

use super::types::BindError;
use crate::error::{ConstraintKind, Error};
use tokio_postgres::error::SqlState;

/// Maps an error raised while running `sql`.
pub(crate) fn map_error(e: tokio_postgres::Error, sql: &str) -> Error {
    if let Some(bind) = std::error::Error::source(&e).and_then(|s| s.downcast_ref::<BindError>()) {
        return Error::InvalidValue {
            index: bind.index,
            reason: bind.reason.clone(),
        };
    }
    if let Some(db) = e.as_db_error() {
        let code = db.code();
        let kind = match *code {
            SqlState::UNIQUE_VIOLATION => Some(ConstraintKind::Unique),
            SqlState::FOREIGN_KEY_VIOLATION => Some(ConstraintKind::ForeignKey),
            SqlState::NOT_NULL_VIOLATION => Some(ConstraintKind::NotNull),
            SqlState::CHECK_VIOLATION => Some(ConstraintKind::Check),
            _ => None,
        };
        if let Some(kind) = kind {
            return Error::Constraint {
                kind,
                constraint: db.constraint().map(str::to_owned),
                table: db.table().map(str::to_owned),
                message: db.message().to_owned(),
                sql: sql.to_owned(),
            };
        }
        if *code == SqlState::T_R_SERIALIZATION_FAILURE || *code == SqlState::T_R_DEADLOCK_DETECTED
        {
            return Error::SerializationFailure {
                message: db.message().to_owned(),
                sql: sql.to_owned(),
            };
        }
        // FATAL and PANIC end the session, whatever the code (25P03
        // idle-in-transaction timeout, 57P01 admin shutdown, …).
        if is_connection_code(code.code()) || matches!(db.severity(), "FATAL" | "PANIC") {
            return Error::ConnectionLost {
                sql: Some(sql.to_owned()),
                source: e.into(),
            };
        }
        return Error::Database {
            code: Some(code.code().to_owned()),
            message: db.message().to_owned(),
            sql: sql.to_owned(),
        };
    }
    if e.is_closed() || is_io(&e) {
        return Error::ConnectionLost {
            sql: Some(sql.to_owned()),
            source: e.into(),
        };
    }
    Error::Database {
        code: None,
        message: e.to_string(),
        sql: sql.to_owned(),
    }
}

/// The message with which the server ended a session (FATAL or PANIC),
/// kept by the connection's driver task so that a later "connection
/// closed" can say why: it becomes the source of
/// [`Error::ConnectionLost`].
#[derive(Debug, Clone)]
pub(crate) struct ServerFatal {
    /// The SQLSTATE, e.g. `25P03` (idle-in-transaction timeout).
    pub(crate) code: String,
    message: String,
}

impl ServerFatal {
    /// The server's FATAL/PANIC message inside `e`, if it is one.
    pub(crate) fn of(e: &tokio_postgres::Error) -> Option<ServerFatal> {
        let db = e.as_db_error()?;
        matches!(db.severity(), "FATAL" | "PANIC").then(|| ServerFatal {
            code: db.code().code().to_owned(),
            message: format!("{}: {}", db.severity(), db.message()),
        })
    }
}

impl std::fmt::Display for ServerFatal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "the server ended the session: {} (SQLSTATE {})",
            self.message, self.code
        )
    }
}

impl std::error::Error for ServerFatal {}

/// True when the server ended the session because it sat idle inside a
/// transaction (SQLSTATE 25P03): the transaction was rolled back.
pub(crate) fn is_idle_in_transaction_timeout(e: &Error) -> bool {
    let mut source: Option<&(dyn std::error::Error + 'static)> = match e {
        Error::ConnectionLost { source, .. } => Some(source.as_ref()),
        Error::Database { code, .. } => return code.as_deref() == Some("25P03"),
        _ => None,
    };
    while let Some(s) = source {
        if let Some(f) = s.downcast_ref::<ServerFatal>() {
            return f.code == "25P03";
        }
        if let Some(db) = s.downcast_ref::<tokio_postgres::error::DbError>() {
            return db.code().code() == "25P03";
        }
        if let Some(pg) = s.downcast_ref::<tokio_postgres::Error>() {
            if let Some(db) = pg.as_db_error() {
                return db.code().code() == "25P03";
            }
        }
        source = s.source();
    }
    false
}

/// SQLSTATE class 08 (connection exception) and 57P01–57P03 (admin
/// shutdown, crash shutdown, cannot connect now).
fn is_connection_code(code: &str) -> bool {
    code.starts_with("08") || matches!(code, "57P01" | "57P02" | "57P03")
}

fn is_io(e: &tokio_postgres::Error) -> bool {
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        if s.is::<std::io::Error>() {
            return true;
        }
        source = s.source();
    }
    false
}

/// True for the errors a stale cached statement raises after a schema
/// change; re-preparing the statement heals them.
pub(crate) fn is_stale_statement(e: &tokio_postgres::Error) -> bool {
    match e.as_db_error() {
        Some(db) => {
            (*db.code() == SqlState::FEATURE_NOT_SUPPORTED
                && db
                    .message()
                    .contains("cached plan must not change result type"))
                || *db.code() == SqlState::INVALID_SQL_STATEMENT_NAME
        }
        None => false,
    }
}

/// The error a transaction pooler causes under named statements, if `e`
/// is one: a statement prepared just now (`fresh`) that has vanished
/// (26000), or a statement name already taken on the session (42P05).
/// Neither happens on a direct connection, where each client has its own
/// session and names its statements itself (a cached statement can vanish
/// after a user's `DEALLOCATE`, which the cache heals).
pub(crate) fn pooler_detected(e: &tokio_postgres::Error, fresh: bool, sql: &str) -> Option<Error> {
    let code = e.as_db_error()?.code();
    let detected = *code == SqlState::DUPLICATE_PSTATEMENT
        || (fresh && *code == SqlState::INVALID_SQL_STATEMENT_NAME);
    detected.then(|| Error::TransactionPoolerDetected {
        code: code.code().to_owned(),
        sql: sql.to_owned(),
    })
}

/// True when the error means the connection itself is gone or unusable.
pub(crate) fn breaks_connection(e: &Error) -> bool {
    matches!(e, Error::ConnectionLost { .. })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn connection_codes() {
        assert!(is_connection_code("08006"));
        assert!(is_connection_code("57P01"));
        assert!(!is_connection_code("57014"));
        assert!(!is_connection_code("23505"));
    }
}
