//! The closed set of values Sylvan moves between Rust and SQL.
//!
//! | Rust | PostgreSQL | SQLite |
//! |---|---|---|
//! | `bool` | `BOOLEAN` | `INTEGER` 0/1 |
//! | `i16` / `i32` / `i64` | `SMALLINT` / `INTEGER` / `BIGINT` | `INTEGER` |
//! | `f32` / `f64` | `REAL` / `DOUBLE PRECISION` | `REAL` |
//! | `String`, `&str` | `TEXT` | `TEXT` |
//! | `Vec<u8>`, `&[u8]` | `BYTEA` | `BLOB` |
//! | `Option<T>` | `NULL` when `None` | `NULL` when `None` |
//! | `chrono::NaiveDateTime` (feature `chrono`) | `TIMESTAMP` | `TEXT`, ISO 8601, microseconds |
//! | `chrono::DateTime<Utc>` (feature `chrono`) | `TIMESTAMPTZ` | `TEXT`, RFC 3339, microseconds |
//! | `chrono::NaiveDate` / `NaiveTime` (feature `chrono`) | `DATE` / `TIME` | `TEXT` (times: microseconds) |
//! | `uuid::Uuid` (feature `uuid`) | `UUID` | `BLOB` of 16 bytes |
//! | `serde_json::Value` (feature `json`) | `JSONB` / `JSON` | `TEXT` |
//!
//! **Time precision is microseconds on both backends**, as in sqlx, Diesel,
//! SeaORM and Django: `NaiveDateTime`, `DateTime<Utc>` and `NaiveTime`
//! values are truncated to the microsecond when they are bound (inserted,
//! updated, or compared in a filter), always toward the past (floor), also
//! before 1970. So `Utc::now()` can be stored and filtered on on both
//! backends, and the value read back is the same on both: the truncated one.
//! Text written into a SQLite column by another program with more digits is
//! floored the same way when it is read. (`DateTime<FixedOffset>` is not a
//! supported type; convert it with `.with_timezone(&Utc)`.)
//!
//! ```
//! # #[cfg(feature = "chrono")] {
//! use chrono::{NaiveDate, NaiveDateTime};
//! use sylvan::{ToValue, Value};
//! let t: NaiveDateTime = NaiveDate::from_ymd_opt(1969, 12, 31).unwrap()
//!     .and_hms_nano_opt(23, 59, 59, 999_999_999).unwrap();
//! let stored = NaiveDate::from_ymd_opt(1969, 12, 31).unwrap()
//!     .and_hms_micro_opt(23, 59, 59, 999_999).unwrap();
//! assert_eq!(t.to_value().unwrap(), Value::Timestamp(stored));
//! # }
//! ```
//!
//! Apart from that, nothing is silently changed on the way:
//! - unsigned integers above `i64::MAX` are an [`Error::Encode`](crate::Error::Encode);
//! - an integer read into a narrower type that cannot hold it is an [`Error::Decode`](crate::Error::Decode);
//! - text read from SQLite that is not valid UTF-8 is a decode error when read as `String`
//!   (read it as `Vec<u8>` instead);
//! - text containing a NUL character is an [`Error::InvalidValue`](crate::Error::InvalidValue)
//!   on PostgreSQL, which cannot store it (SQLite stores it faithfully);
//! - binding an integer into a PostgreSQL parameter of a narrower type (say an `i64` into
//!   an `INTEGER` column) is checked and fails with [`Error::InvalidValue`](crate::Error::InvalidValue)
//!   when out of range; binding a float into a `REAL` parameter fails when the value is not
//!   exactly representable in 32 bits.
//!
//! **NaN**: PostgreSQL stores `NaN` faithfully in `REAL` and `DOUBLE PRECISION` columns and
//! Sylvan round-trips it. SQLite has no NaN: it would silently store `NULL`, so binding a
//! NaN on SQLite is an [`Error::InvalidValue`](crate::Error::InvalidValue). Likewise
//! `-0.0`: PostgreSQL keeps its sign, SQLite stores integral reals as integers in `REAL`
//! columns and would hand back `0.0`, so binding `-0.0` on SQLite is an error too.
//! Infinities and subnormals round-trip on both backends.

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
