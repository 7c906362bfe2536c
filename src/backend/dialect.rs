//! How each backend spells placeholders, identifiers and types.

use crate::value::SqlType;
use std::fmt::Write;

/// The SQL dialect of a backend.
///
/// ```
/// use sylvan::Dialect;
/// let mut sql = String::from("SELECT ");
/// Dialect::Postgres.push_identifier(&mut sql, "we\"ird");
/// sql.push_str(" FROM t WHERE id = ");
/// Dialect::Postgres.push_placeholder(&mut sql, 1);
/// assert_eq!(sql, r#"SELECT "we""ird" FROM t WHERE id = $1"#);
///
/// let mut sql = String::new();
/// Dialect::Sqlite.push_placeholder(&mut sql, 3);
/// assert_eq!(sql, "?3");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Dialect {
    /// PostgreSQL: `$1` placeholders, 65,535 binds per statement.
    Postgres,
    /// SQLite: `?1` placeholders, 32,766 binds per statement.
    Sqlite,
}

impl Dialect {
    /// The backend's name.
    pub fn name(self) -> &'static str {
        match self {
            Dialect::Postgres => "postgres",
            Dialect::Sqlite => "sqlite",
        }
    }

    /// Appends the placeholder of the `n`-th bind (1-based).
    pub fn push_placeholder(self, out: &mut String, n: usize) {
        let sigil = match self {
            Dialect::Postgres => '$',
            Dialect::Sqlite => '?',
        };
        out.push(sigil);
        if n < 10 {
            out.push(char::from(b'0' + n as u8));
        } else {
            // Writing to a String cannot fail.
            let _ = write!(out, "{n}");
        }
    }

    /// Appends `name` as a quoted identifier, inner quotes doubled. Both
    /// backends use the SQL standard's double quotes.
    pub fn push_identifier(self, out: &mut String, name: &str) {
        out.reserve(name.len() + 2);
        out.push('"');
        if name.contains('"') {
            for c in name.chars() {
                if c == '"' {
                    out.push('"');
                }
                out.push(c);
            }
        } else {
            out.push_str(name);
        }
        out.push('"');
    }

    /// Appends `text` as a SQL string literal, for DDL (which takes no
    /// binds); quotes are doubled. On PostgreSQL, text with a backslash
    /// becomes an escape-string literal (`E'…'`, backslashes doubled), which
    /// reads the same whatever `standard_conforming_strings` says.
    pub(crate) fn push_string_literal(self, out: &mut String, text: &str) {
        let escaped = self == Dialect::Postgres && text.contains('\\');
        if escaped {
            out.push('E');
        }
        out.push('\'');
        for c in text.chars() {
            match c {
                '\'' => out.push_str("''"),
                '\\' if escaped => out.push_str("\\\\"),
                c => out.push(c),
            }
        }
        out.push('\'');
    }

    /// The `ESCAPE` clause of the LIKE helpers, naming the backslash as the
    /// escape character. PostgreSQL gets an escape-string literal (`E'\\'`),
    /// which reads the same whatever `standard_conforming_strings` says: the
    /// plain `'\'` is an unterminated literal when that setting is `off`.
    pub(crate) fn like_escape(self) -> &'static str {
        match self {
            Dialect::Postgres => " ESCAPE E'\\\\'",
            Dialect::Sqlite => " ESCAPE '\\'",
        }
    }

    /// The most bind parameters one statement may carry.
    pub fn max_binds(self) -> usize {
        match self {
            Dialect::Postgres => 65_535,
            Dialect::Sqlite => 32_766,
        }
    }

    /// The column type used for a Rust type in `CREATE TABLE`.
    pub fn type_name(self, ty: SqlType) -> &'static str {
        match (self, ty) {
            (Dialect::Postgres, SqlType::Bool) => "BOOLEAN",
            (Dialect::Postgres, SqlType::I16) => "SMALLINT",
            (Dialect::Postgres, SqlType::I32) => "INTEGER",
            (Dialect::Postgres, SqlType::I64) => "BIGINT",
            (Dialect::Postgres, SqlType::F32) => "REAL",
            (Dialect::Postgres, SqlType::F64) => "DOUBLE PRECISION",
            (Dialect::Postgres, SqlType::Text) => "TEXT",
            (Dialect::Postgres, SqlType::Blob) => "BYTEA",
            (Dialect::Postgres, SqlType::Timestamp) => "TIMESTAMP",
            (Dialect::Postgres, SqlType::TimestampTz) => "TIMESTAMPTZ",
            (Dialect::Postgres, SqlType::Date) => "DATE",
            (Dialect::Postgres, SqlType::Time) => "TIME",
            (Dialect::Postgres, SqlType::Uuid) => "UUID",
            (Dialect::Postgres, SqlType::Json) => "JSONB",
            (Dialect::Sqlite, SqlType::Bool) => "BOOLEAN",
            (Dialect::Sqlite, SqlType::I16 | SqlType::I32 | SqlType::I64) => "INTEGER",
            (Dialect::Sqlite, SqlType::F32 | SqlType::F64) => "REAL",
            (Dialect::Sqlite, SqlType::Blob | SqlType::Uuid) => "BLOB",
            (
                Dialect::Sqlite,
                SqlType::Text
                | SqlType::Timestamp
                | SqlType::TimestampTz
                | SqlType::Date
                | SqlType::Time
                | SqlType::Json,
            ) => "TEXT",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identifiers_are_quoted_and_escaped() {
        let mut s = String::new();
        Dialect::Sqlite.push_identifier(&mut s, r#"a"; DROP TABLE x; --"#);
        assert_eq!(s, r#""a""; DROP TABLE x; --""#);
    }

    #[test]
    fn like_escape_reads_the_same_whatever_standard_conforming_strings() {
        assert_eq!(Dialect::Postgres.like_escape(), r" ESCAPE E'\\'");
        assert_eq!(Dialect::Sqlite.like_escape(), r" ESCAPE '\'");
    }

    #[test]
    fn string_literals_double_quotes_and_escape_backslashes_on_postgres() {
        let lit = |d: Dialect, t: &str| {
            let mut s = String::new();
            d.push_string_literal(&mut s, t);
            s
        };
        assert_eq!(lit(Dialect::Postgres, "it's"), "'it''s'");
        assert_eq!(lit(Dialect::Sqlite, "it's"), "'it''s'");
        assert_eq!(lit(Dialect::Postgres, r"a\b'"), r"E'a\\b'''");
        assert_eq!(lit(Dialect::Sqlite, r"a\b"), r"'a\b'");
    }

    #[test]
    fn placeholders() {
        let mut s = String::new();
        Dialect::Postgres.push_placeholder(&mut s, 12);
        Dialect::Sqlite.push_placeholder(&mut s, 7);
        assert_eq!(s, "$12?7");
    }

    #[test]
    fn type_names() {
        assert_eq!(Dialect::Postgres.type_name(SqlType::Blob), "BYTEA");
        assert_eq!(Dialect::Sqlite.type_name(SqlType::I16), "INTEGER");
    }
}
