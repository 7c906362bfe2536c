//! [`Value`] to and from PostgreSQL's binary format.

use crate::error::{Error, Result};
use crate::value::{Value, ValueRef};
use bytes::{BufMut, BytesMut};
use tokio_postgres::types::{Format, FromSql, IsNull, ToSql, Type};

#[cfg(feature = "chrono")]
use crate::value::time::{floor_time, floor_timestamp, floor_timestamptz};

/// Why a bind could not be encoded; travels through tokio-postgres as the
/// source of its serialization error.
#[derive(Debug)]
pub(crate) struct BindError {
    pub(crate) index: usize,
    pub(crate) reason: String,
}

impl std::fmt::Display for BindError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "bind parameter {}: {}", self.index, self.reason)
    }
}

impl std::error::Error for BindError {}

/// A bind value with its position, encoded to whatever type PostgreSQL
/// inferred for the parameter, with range checks instead of truncation.
#[derive(Debug)]
pub(crate) struct PgBind<'a> {
    pub(crate) value: &'a Value,
    pub(crate) index: usize,
}

type BoxedError = Box<dyn std::error::Error + Sync + Send>;

impl ToSql for PgBind<'_> {
    fn to_sql(&self, ty: &Type, out: &mut BytesMut) -> Result<IsNull, BoxedError> {
        encode(self.value, ty, out).map_err(|reason| {
            Box::new(BindError {
                index: self.index,
                reason,
            }) as BoxedError
        })
    }

    fn accepts(_: &Type) -> bool {
        true
    }

    /// Text for a parameter of type `unknown` (text and NULL sent as
    /// unnamed statements, see `unnamed.rs`): the server then reads it with
    /// the input function of whatever type it infers, exactly as for a
    /// prepared statement whose parameter it typed itself.
    fn encode_format(&self, ty: &Type) -> Format {
        if *ty == Type::UNKNOWN {
            Format::Text
        } else {
            Format::Binary
        }
    }

    tokio_postgres::types::to_sql_checked!();
}

/// The parameter type a value is sent with as an unnamed statement (see
/// `unnamed.rs`): its natural PostgreSQL type, or `unknown` for text and
/// NULL, which the server then types from the statement.
pub(crate) fn natural_type(value: &Value) -> Type {
    match value {
        Value::Null | Value::Text(_) => Type::UNKNOWN,
        Value::Bool(_) => Type::BOOL,
        Value::I16(_) => Type::INT2,
        Value::I32(_) => Type::INT4,
        Value::I64(_) => Type::INT8,
        Value::F32(_) => Type::FLOAT4,
        Value::F64(_) => Type::FLOAT8,
        Value::Blob(_) => Type::BYTEA,
        #[cfg(feature = "chrono")]
        Value::Timestamp(_) => Type::TIMESTAMP,
        #[cfg(feature = "chrono")]
        Value::TimestampTz(_) => Type::TIMESTAMPTZ,
        #[cfg(feature = "chrono")]
        Value::Date(_) => Type::DATE,
        #[cfg(feature = "chrono")]
        Value::Time(_) => Type::TIME,
        #[cfg(feature = "uuid")]
        Value::Uuid(_) => Type::UUID,
        #[cfg(feature = "json")]
        Value::Json(_) => Type::JSONB,
        #[allow(unreachable_patterns)]
        _ => Type::UNKNOWN,
    }
}

fn cannot(what: &str, ty: &Type) -> String {
    format!("{what} cannot be bound to a parameter of type {ty}")
}

fn put<T: ToSql>(v: T, ty: &Type, out: &mut BytesMut) -> Result<IsNull, String> {
    v.to_sql(ty, out).map_err(|e| e.to_string())
}

fn encode(value: &Value, ty: &Type, out: &mut BytesMut) -> Result<IsNull, String> {
    match value {
        Value::Null => Ok(IsNull::Yes),
        Value::Bool(b) if *ty == Type::BOOL => put(*b, ty, out),
        Value::Bool(_) => Err(cannot("a bool", ty)),
        Value::I16(i) => encode_int(i64::from(*i), ty, out),
        Value::I32(i) => encode_int(i64::from(*i), ty, out),
        Value::I64(i) => encode_int(*i, ty, out),
        Value::F32(f) => encode_float(f64::from(*f), ty, out),
        Value::F64(f) => encode_float(*f, ty, out),
        Value::Text(s) => {
            if s.as_bytes().contains(&0) {
                return Err("text contains a NUL character, which PostgreSQL cannot store".into());
            }
            match *ty {
                Type::TEXT
                | Type::VARCHAR
                | Type::BPCHAR
                | Type::NAME
                | Type::UNKNOWN
                | Type::JSON => out.put_slice(s.as_bytes()),
                Type::JSONB => {
                    out.put_u8(1);
                    out.put_slice(s.as_bytes());
                }
                _ => return Err(cannot("text", ty)),
            }
            Ok(IsNull::No)
        }
        Value::Blob(b) if *ty == Type::BYTEA => {
            out.put_slice(b);
            Ok(IsNull::No)
        }
        Value::Blob(_) => Err(cannot("bytes", ty)),
        #[cfg(feature = "chrono")]
        Value::Timestamp(t) if *ty == Type::TIMESTAMP => put(floor_timestamp(*t), ty, out),
        #[cfg(feature = "chrono")]
        Value::TimestampTz(t) if *ty == Type::TIMESTAMPTZ => put(floor_timestamptz(*t), ty, out),
        #[cfg(feature = "chrono")]
        Value::Date(d) if *ty == Type::DATE => put(*d, ty, out),
        #[cfg(feature = "chrono")]
        Value::Time(t) if *ty == Type::TIME => put(floor_time(*t), ty, out),
        #[cfg(feature = "uuid")]
        Value::Uuid(u) if *ty == Type::UUID => put(*u, ty, out),
        #[cfg(feature = "json")]
        Value::Json(j) if *ty == Type::JSON || *ty == Type::JSONB => {
            if *ty == Type::JSONB {
                out.put_u8(1);
            }
            serde_json::to_writer(out.writer(), j).map_err(|e| e.to_string())?;
            Ok(IsNull::No)
        }
        #[allow(unreachable_patterns)]
        other => Err(cannot(other.type_name(), ty)),
    }
}

fn encode_int(i: i64, ty: &Type, out: &mut BytesMut) -> Result<IsNull, String> {
    let range = |t: &str| format!("an integer out of range for a {t} parameter");
    match *ty {
        Type::INT2 => put(i16::try_from(i).map_err(|_| range("SMALLINT"))?, ty, out),
        Type::INT4 => put(i32::try_from(i).map_err(|_| range("INTEGER"))?, ty, out),
        Type::INT8 => put(i, ty, out),
        Type::FLOAT4 => {
            let f = i as f32;
            if f as i64 == i && f.is_finite() {
                put(f, ty, out)
            } else {
                Err("an integer not exactly representable as REAL".to_owned())
            }
        }
        Type::FLOAT8 => {
            let f = i as f64;
            if f as i64 == i && (i64::MIN as f64..i64::MAX as f64).contains(&f) {
                put(f, ty, out)
            } else {
                Err("an integer not exactly representable as DOUBLE PRECISION".to_owned())
            }
        }
        _ => Err(cannot("an integer", ty)),
    }
}

fn encode_float(f: f64, ty: &Type, out: &mut BytesMut) -> Result<IsNull, String> {
    match *ty {
        Type::FLOAT8 => put(f, ty, out),
        Type::FLOAT4 => {
            let narrow = f as f32;
            if f64::from(narrow) == f || f.is_nan() {
                put(narrow, ty, out)
            } else {
                Err("a float not exactly representable as REAL".to_owned())
            }
        }
        _ => Err(cannot("a float", ty)),
    }
}

/// A column value's raw bytes as PostgreSQL sent them (`None` for NULL).
struct Raw<'a>(Option<&'a [u8]>);

impl<'a> FromSql<'a> for Raw<'a> {
    fn from_sql(_: &Type, raw: &'a [u8]) -> Result<Self, BoxedError> {
        Ok(Raw(Some(raw)))
    }

    fn from_sql_null(_: &Type) -> Result<Self, BoxedError> {
        Ok(Raw(None))
    }

    fn accepts(_: &Type) -> bool {
        true
    }
}

/// The raw value of column `index` of a PostgreSQL row.
pub(crate) fn value_ref(row: &tokio_postgres::Row, index: usize) -> Result<ValueRef<'_>> {
    let column = row
        .columns()
        .get(index)
        .ok_or_else(|| Error::decode(index, "a column", "the row has no such column"))?;
    let ty = column.type_();
    let Raw(raw) = row
        .try_get(index)
        .map_err(|e| Error::decode(index, "a column", e.to_string()))?;
    let Some(bytes) = raw else {
        return Ok(ValueRef::Null);
    };
    let bad = |e: BoxedError| Error::decode(index, "a value", format!("malformed {ty}: {e}"));
    Ok(match *ty {
        Type::BOOL => ValueRef::Bool(bool::from_sql(ty, bytes).map_err(bad)?),
        Type::INT2 => ValueRef::Int(i64::from(i16::from_sql(ty, bytes).map_err(bad)?)),
        Type::INT4 => ValueRef::Int(i64::from(i32::from_sql(ty, bytes).map_err(bad)?)),
        Type::INT8 => ValueRef::Int(i64::from_sql(ty, bytes).map_err(bad)?),
        Type::OID => ValueRef::Int(i64::from(u32::from_sql(ty, bytes).map_err(bad)?)),
        Type::FLOAT4 => ValueRef::Float4(f32::from_sql(ty, bytes).map_err(bad)?),
        Type::FLOAT8 => ValueRef::Float(f64::from_sql(ty, bytes).map_err(bad)?),
        Type::TEXT | Type::VARCHAR | Type::BPCHAR | Type::NAME | Type::UNKNOWN => {
            ValueRef::Text(bytes)
        }
        Type::BYTEA => ValueRef::Blob(bytes),
        #[cfg(feature = "chrono")]
        Type::TIMESTAMP => ValueRef::Timestamp(FromSql::from_sql(ty, bytes).map_err(bad)?),
        #[cfg(feature = "chrono")]
        Type::TIMESTAMPTZ => ValueRef::TimestampTz(FromSql::from_sql(ty, bytes).map_err(bad)?),
        #[cfg(feature = "chrono")]
        Type::DATE => ValueRef::Date(FromSql::from_sql(ty, bytes).map_err(bad)?),
        #[cfg(feature = "chrono")]
        Type::TIME => ValueRef::Time(FromSql::from_sql(ty, bytes).map_err(bad)?),
        #[cfg(feature = "uuid")]
        Type::UUID => ValueRef::Uuid(FromSql::from_sql(ty, bytes).map_err(bad)?),
        #[cfg(feature = "json")]
        Type::JSON => ValueRef::Json(bytes),
        #[cfg(feature = "json")]
        Type::JSONB => match bytes.split_first() {
            Some((1, rest)) => ValueRef::Json(rest),
            _ => return Err(Error::decode(index, "json", "unsupported JSONB version")),
        },
        _ => {
            return Err(Error::decode(
                index,
                "a supported type",
                format!("PostgreSQL type {ty} is not supported; cast it in SQL (e.g. ::text)"),
            ))
        }
    })
}
