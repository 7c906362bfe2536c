//! rusqlite errors into [`Error`].

use crate::error::{ConstraintKind, Error};
use rusqlite::ffi;

/// Maps a rusqlite error raised while running `sql`.
pub(crate) fn map_error(e: rusqlite::Error, sql: &str) -> Error {
    match e {
        rusqlite::Error::SqliteFailure(err, message) => {
            let message = message.unwrap_or_else(|| err.to_string());
            let kind = match err.extended_code {
                ffi::SQLITE_CONSTRAINT_UNIQUE | ffi::SQLITE_CONSTRAINT_PRIMARYKEY => {
                    Some(ConstraintKind::Unique)
                }
                ffi::SQLITE_CONSTRAINT_FOREIGNKEY => Some(ConstraintKind::ForeignKey),
                ffi::SQLITE_CONSTRAINT_NOTNULL => Some(ConstraintKind::NotNull),
                ffi::SQLITE_CONSTRAINT_CHECK => Some(ConstraintKind::Check),
                // ON DELETE RESTRICT fires as a trigger constraint.
                _ if err.code == ffi::ErrorCode::ConstraintViolation
                    && message.starts_with("FOREIGN KEY constraint failed") =>
                {
                    Some(ConstraintKind::ForeignKey)
                }
                _ => None,
            };
            if let Some(kind) = kind {
                return Error::Constraint {
                    kind,
                    constraint: None,
                    table: match kind {
                        ConstraintKind::Unique | ConstraintKind::NotNull => {
                            constraint_table(&message)
                        }
                        _ => None,
                    },
                    message,
                    sql: sql.to_owned(),
                };
            }
            match err.code {
                ffi::ErrorCode::CannotOpen | ffi::ErrorCode::NotADatabase => Error::Connect {
                    source: format!("{message} (in `{sql}`)").into(),
                },
                code => Error::Database {
                    code: Some(code_name(code, err.extended_code)),
                    message,
                    sql: sql.to_owned(),
                },
            }
        }
        rusqlite::Error::InvalidParameterCount(given, expected) => Error::BindCount {
            expected,
            given,
            sql: sql.to_owned(),
        },
        rusqlite::Error::SqlInputError { error, msg, .. } => Error::Database {
            code: Some(code_name(error.code, error.extended_code)),
            message: msg,
            sql: sql.to_owned(),
        },
        other => Error::Database {
            code: None,
            message: other.to_string(),
            sql: sql.to_owned(),
        },
    }
}

/// `SQLITE_BUSY`, `SQLITE_ERROR`, … with the extended code in parentheses
/// when it adds something.
fn code_name(code: ffi::ErrorCode, extended: i32) -> String {
    let base = match code {
        ffi::ErrorCode::DatabaseBusy => "SQLITE_BUSY",
        ffi::ErrorCode::DatabaseLocked => "SQLITE_LOCKED",
        ffi::ErrorCode::OperationInterrupted => "SQLITE_INTERRUPT",
        ffi::ErrorCode::ReadOnly => "SQLITE_READONLY",
        ffi::ErrorCode::ConstraintViolation => "SQLITE_CONSTRAINT",
        ffi::ErrorCode::TypeMismatch => "SQLITE_MISMATCH",
        ffi::ErrorCode::TooBig => "SQLITE_TOOBIG",
        ffi::ErrorCode::SystemIoFailure => "SQLITE_IOERR",
        ffi::ErrorCode::DiskFull => "SQLITE_FULL",
        ffi::ErrorCode::DatabaseCorrupt => "SQLITE_CORRUPT",
        ffi::ErrorCode::ParameterOutOfRange => "SQLITE_RANGE",
        _ => "SQLITE_ERROR",
    };
    if extended & 0xff == extended {
        base.to_owned()
    } else {
        format!("{base} ({extended})")
    }
}

/// SQLite reports `UNIQUE constraint failed: users.email` (and the same
/// for NOT NULL): take `users`. CHECK messages carry the expression instead,
/// so they are not parsed.
fn constraint_table(message: &str) -> Option<String> {
    let (_, cols) = message.split_once(": ")?;
    let first = cols.split(',').next()?.trim();
    let (table, _) = first.split_once('.')?;
    Some(table.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_from_message() {
        assert_eq!(
            constraint_table("UNIQUE constraint failed: users.email, users.org").as_deref(),
            Some("users")
        );
        assert_eq!(constraint_table("FOREIGN KEY constraint failed"), None);
    }
}
