//! [`Value`] to and from rusqlite's values.

use crate::error::{Error, Result};
use crate::value::{Value, ValueRef};
#[cfg(any(feature = "chrono", feature = "uuid", feature = "json"))]
use rusqlite::types::Value as SqliteValue;
use rusqlite::types::{ToSqlOutput, ValueRef as SqliteRef};

/// The raw value of column `index` of a SQLite row.
pub(crate) fn value_ref<'r>(row: &'r rusqlite::Row<'r>, index: usize) -> Result<ValueRef<'r>> {
    let v = row
        .get_ref(index)
        .map_err(|_| Error::decode(index, "a column", "the row has no such column"))?;
    Ok(match v {
        SqliteRef::Null => ValueRef::Null,
        SqliteRef::Integer(i) => ValueRef::Int(i),
        SqliteRef::Real(f) => ValueRef::Float(f),
        SqliteRef::Text(t) => ValueRef::Text(t),
        SqliteRef::Blob(b) => ValueRef::Blob(b),
    })
}

/// Binds every value, in order, refusing what SQLite would change.
pub(crate) fn bind_all(
    stmt: &mut rusqlite::Statement<'_>,
    binds: &[Value],
    sql: &str,
) -> Result<()> {
    let limit = crate::backend::Dialect::Sqlite.max_binds();
    if binds.len() > limit {
        return Err(Error::TooManyBinds {
            limit,
            given: binds.len(),
            sql: sql.to_owned(),
        });
    }
    let expected = stmt.parameter_count();
    if expected != binds.len() {
        return Err(Error::BindCount {
            expected,
            given: binds.len(),
            sql: sql.to_owned(),
        });
    }
    for (i, value) in binds.iter().enumerate() {
        let out = to_sqlite(value).map_err(|reason| Error::InvalidValue {
            index: i + 1,
            reason,
        })?;
        stmt.raw_bind_parameter(i + 1, out)
            .map_err(|e| super::error::map_error(e, sql))?;
    }
    Ok(())
}

fn to_sqlite(value: &Value) -> std::result::Result<ToSqlOutput<'_>, String> {
    let nan = || "NaN cannot be stored by SQLite (it would silently become NULL)".to_owned();
    let negative_zero =
        || "-0.0 cannot be stored faithfully by SQLite (a REAL column keeps it as 0.0)".to_owned();
    Ok(match value {
        Value::Null => ToSqlOutput::Borrowed(SqliteRef::Null),
        Value::Bool(b) => ToSqlOutput::Borrowed(SqliteRef::Integer(i64::from(*b))),
        Value::I16(i) => ToSqlOutput::Borrowed(SqliteRef::Integer(i64::from(*i))),
        Value::I32(i) => ToSqlOutput::Borrowed(SqliteRef::Integer(i64::from(*i))),
        Value::I64(i) => ToSqlOutput::Borrowed(SqliteRef::Integer(*i)),
        Value::F32(f) if f.is_nan() => return Err(nan()),
        Value::F64(f) if f.is_nan() => return Err(nan()),
        Value::F32(f) if *f == 0.0 && f.is_sign_negative() => return Err(negative_zero()),
        Value::F64(f) if *f == 0.0 && f.is_sign_negative() => return Err(negative_zero()),
        Value::F32(f) => ToSqlOutput::Borrowed(SqliteRef::Real(f64::from(*f))),
        Value::F64(f) => ToSqlOutput::Borrowed(SqliteRef::Real(*f)),
        Value::Text(s) => ToSqlOutput::Borrowed(SqliteRef::Text(s.as_bytes())),
        Value::Blob(b) => ToSqlOutput::Borrowed(SqliteRef::Blob(b)),
        #[cfg(feature = "chrono")]
        Value::Timestamp(t) => owned_text(
            crate::value::time::floor_timestamp(*t).format(crate::value::time_formats::TIMESTAMP),
        ),
        #[cfg(feature = "chrono")]
        Value::TimestampTz(t) => owned_text(
            crate::value::time::floor_timestamptz(*t)
                .format(crate::value::time_formats::TIMESTAMPTZ),
        ),
        #[cfg(feature = "chrono")]
        Value::Date(d) => owned_text(d.format(crate::value::time_formats::DATE)),
        #[cfg(feature = "chrono")]
        Value::Time(t) => {
            owned_text(crate::value::time::floor_time(*t).format(crate::value::time_formats::TIME))
        }
        #[cfg(feature = "uuid")]
        Value::Uuid(u) => ToSqlOutput::Owned(SqliteValue::Blob(u.as_bytes().to_vec())),
        #[cfg(feature = "json")]
        Value::Json(j) => ToSqlOutput::Owned(SqliteValue::Text(j.to_string())),
    })
}

#[cfg(feature = "chrono")]
fn owned_text(v: impl std::fmt::Display) -> ToSqlOutput<'static> {
    ToSqlOutput::Owned(SqliteValue::Text(v.to_string()))
}
