//! The closed set of values Sylvan moves between Rust and SQL.
//!
//! Users' documentation (the type table per backend, precision and range
//! rules) is `docs/guide/types.md`, rendered as `sylvan::docs::types`.

mod allowed;
mod decode;
mod encode;
#[cfg(feature = "chrono")]
pub(crate) mod time;

/// Text formats of the `chrono` types on SQLite.
#[cfg(feature = "chrono")]
pub(crate) mod time_formats {
    pub(crate) const TIMESTAMP: &str = "%Y-%m-%d %H:%M:%S%.f";
    pub(crate) const TIMESTAMPTZ: &str = "%Y-%m-%d %H:%M:%S%.f%:z";
    pub(crate) const DATE: &str = "%Y-%m-%d";
    pub(crate) const TIME: &str = "%H:%M:%S%.f";
}

pub use allowed::Allowed;
pub use decode::{Decode, ValueRef};
pub use encode::{Binds, ToValue};

/// An owned SQL value, as bound into a statement.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum Value {
    /// SQL `NULL`.
    Null,
    /// A boolean.
    Bool(bool),
    /// A 16-bit integer.
    I16(i16),
    /// A 32-bit integer.
    I32(i32),
    /// A 64-bit integer.
    I64(i64),
    /// A 32-bit float.
    F32(f32),
    /// A 64-bit float.
    F64(f64),
    /// UTF-8 text.
    Text(String),
    /// Bytes.
    Blob(Vec<u8>),
    /// A date and time without time zone.
    #[cfg(feature = "chrono")]
    Timestamp(chrono::NaiveDateTime),
    /// An instant in UTC.
    #[cfg(feature = "chrono")]
    TimestampTz(chrono::DateTime<chrono::Utc>),
    /// A calendar date.
    #[cfg(feature = "chrono")]
    Date(chrono::NaiveDate),
    /// A time of day.
    #[cfg(feature = "chrono")]
    Time(chrono::NaiveTime),
    /// A UUID.
    #[cfg(feature = "uuid")]
    Uuid(uuid::Uuid),
    /// A JSON document.
    #[cfg(feature = "json")]
    Json(serde_json::Value),
}

impl Value {
    /// True for [`Value::Null`].
    pub fn is_null(&self) -> bool {
        matches!(self, Value::Null)
    }

    /// A short name of the value's type, for error messages.
    pub fn type_name(&self) -> &'static str {
        match self {
            Value::Null => "NULL",
            Value::Bool(_) => "bool",
            Value::I16(_) => "i16",
            Value::I32(_) => "i32",
            Value::I64(_) => "i64",
            Value::F32(_) => "f32",
            Value::F64(_) => "f64",
            Value::Text(_) => "text",
            Value::Blob(_) => "bytes",
            #[cfg(feature = "chrono")]
            Value::Timestamp(_) => "timestamp",
            #[cfg(feature = "chrono")]
            Value::TimestampTz(_) => "timestamptz",
            #[cfg(feature = "chrono")]
            Value::Date(_) => "date",
            #[cfg(feature = "chrono")]
            Value::Time(_) => "time",
            #[cfg(feature = "uuid")]
            Value::Uuid(_) => "uuid",
            #[cfg(feature = "json")]
            Value::Json(_) => "json",
        }
    }
}

/// The SQL types Sylvan maps, used by dialects to name column types.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum SqlType {
    /// `bool`
    Bool,
    /// `i16`
    I16,
    /// `i32`
    I32,
    /// `i64`
    I64,
    /// `f32`
    F32,
    /// `f64`
    F64,
    /// `String`
    Text,
    /// `Vec<u8>`
    Blob,
    /// `chrono::NaiveDateTime`
    Timestamp,
    /// `chrono::DateTime<Utc>`
    TimestampTz,
    /// `chrono::NaiveDate`
    Date,
    /// `chrono::NaiveTime`
    Time,
    /// `uuid::Uuid`
    Uuid,
    /// `serde_json::Value`
    Json,
}
