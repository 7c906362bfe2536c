//! SQL values into Rust values.

use super::Value;

/// A borrowed column value as a backend delivered it, before decoding.
///
/// SQLite delivers `Null`, `Int`, `Float`, `Text` and `Blob`; PostgreSQL
/// delivers the variant of the column's declared type.
#[derive(Debug, Clone, Copy, PartialEq)]
#[non_exhaustive]
pub enum ValueRef<'a> {
    /// SQL `NULL`.
    Null,
    /// A boolean (PostgreSQL `BOOLEAN`).
    Bool(bool),
    /// An integer of any width.
    Int(i64),
    /// A PostgreSQL `REAL`.
    Float4(f32),
    /// A float (SQLite `REAL`, PostgreSQL `DOUBLE PRECISION`).
    Float(f64),
    /// Text, as bytes: SQLite does not guarantee UTF-8.
    Text(&'a [u8]),
    /// Bytes.
    Blob(&'a [u8]),
    /// PostgreSQL `TIMESTAMP`.
    #[cfg(feature = "chrono")]
    Timestamp(chrono::NaiveDateTime),
    /// PostgreSQL `TIMESTAMPTZ`.
    #[cfg(feature = "chrono")]
    TimestampTz(chrono::DateTime<chrono::Utc>),
    /// PostgreSQL `DATE`.
    #[cfg(feature = "chrono")]
    Date(chrono::NaiveDate),
    /// PostgreSQL `TIME`.
    #[cfg(feature = "chrono")]
    Time(chrono::NaiveTime),
    /// PostgreSQL `UUID`.
    #[cfg(feature = "uuid")]
    Uuid(uuid::Uuid),
    /// PostgreSQL `JSON` / `JSONB` text.
    #[cfg(feature = "json")]
    Json(&'a [u8]),
}

impl ValueRef<'_> {
    /// A short description for error messages (never the value itself).
    pub fn kind(&self) -> &'static str {
        match self {
            ValueRef::Null => "NULL",
            ValueRef::Bool(_) => "a boolean",
            ValueRef::Int(_) => "an integer",
            ValueRef::Float4(_) | ValueRef::Float(_) => "a float",
            ValueRef::Text(_) => "text",
            ValueRef::Blob(_) => "bytes",
            #[cfg(feature = "chrono")]
            ValueRef::Timestamp(_) => "a timestamp",
            #[cfg(feature = "chrono")]
            ValueRef::TimestampTz(_) => "a timestamptz",
            #[cfg(feature = "chrono")]
            ValueRef::Date(_) => "a date",
            #[cfg(feature = "chrono")]
            ValueRef::Time(_) => "a time",
            #[cfg(feature = "uuid")]
            ValueRef::Uuid(_) => "a uuid",
            #[cfg(feature = "json")]
            ValueRef::Json(_) => "json",
        }
    }
}

/// A Rust type a column can be decoded into.
///
/// The error is a short description of what was found instead; the row
/// decoder wraps it into [`Error::Decode`](crate::Error::Decode) with the
/// column.
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot be read from a SQL column",
    label = "Sylvan does not know how to decode this type",
    note = "decodable types: bool, i16, i32, i64, u64, f32, f64, String, Vec<u8>, Option<T>, Value, and the chrono / uuid / json types behind features"
)]
pub trait Decode: Sized {
    /// The Rust type's name, for error messages.
    const TYPE_NAME: &'static str;

    /// Decodes one column value.
    fn decode(value: ValueRef<'_>) -> Result<Self, String>;
}

fn mismatch(found: ValueRef<'_>) -> String {
    format!("found {}", found.kind())
}

impl Decode for bool {
    const TYPE_NAME: &'static str = "bool";
    fn decode(value: ValueRef<'_>) -> Result<Self, String> {
        match value {
            ValueRef::Bool(b) => Ok(b),
            ValueRef::Int(0) => Ok(false),
            ValueRef::Int(1) => Ok(true),
            ValueRef::Int(_) => Err("an integer other than 0 or 1".to_owned()),
            other => Err(mismatch(other)),
        }
    }
}

macro_rules! int_decode {
    ($($t:ty),*) => {$(
        impl Decode for $t {
            const TYPE_NAME: &'static str = stringify!($t);
            fn decode(value: ValueRef<'_>) -> Result<Self, String> {
                match value {
                    ValueRef::Int(i) => <$t>::try_from(i)
                        .map_err(|_| concat!("an integer out of range for ", stringify!($t)).to_owned()),
                    other => Err(mismatch(other)),
                }
            }
        }
    )*};
}

int_decode!(i16, i32, i64, u64);

impl Decode for f64 {
    const TYPE_NAME: &'static str = "f64";
    fn decode(value: ValueRef<'_>) -> Result<Self, String> {
        match value {
            ValueRef::Float(f) => Ok(f),
            ValueRef::Float4(f) => Ok(f64::from(f)),
            other => Err(mismatch(other)),
        }
    }
}

impl Decode for f32 {
    const TYPE_NAME: &'static str = "f32";
    fn decode(value: ValueRef<'_>) -> Result<Self, String> {
        match value {
            ValueRef::Float4(f) => Ok(f),
            ValueRef::Float(f) => {
                let narrow = f as f32;
                if f64::from(narrow) == f || f.is_nan() {
                    Ok(narrow)
                } else {
                    Err("a float not exactly representable as f32".to_owned())
                }
            }
            other => Err(mismatch(other)),
        }
    }
}

impl Decode for String {
    const TYPE_NAME: &'static str = "String";
    fn decode(value: ValueRef<'_>) -> Result<Self, String> {
        match value {
            ValueRef::Text(bytes) => String::from_utf8(bytes.to_vec())
                .map_err(|e| format!("text is not valid UTF-8 ({})", e.utf8_error())),
            other => Err(mismatch(other)),
        }
    }
}

impl Decode for Vec<u8> {
    const TYPE_NAME: &'static str = "Vec<u8>";
    fn decode(value: ValueRef<'_>) -> Result<Self, String> {
        match value {
            ValueRef::Blob(bytes) | ValueRef::Text(bytes) => Ok(bytes.to_vec()),
            other => Err(mismatch(other)),
        }
    }
}

impl<T: Decode> Decode for Option<T> {
    const TYPE_NAME: &'static str = T::TYPE_NAME;
    fn decode(value: ValueRef<'_>) -> Result<Self, String> {
        match value {
            ValueRef::Null => Ok(None),
            other => T::decode(other).map(Some),
        }
    }
}

impl Decode for Value {
    const TYPE_NAME: &'static str = "Value";
    fn decode(value: ValueRef<'_>) -> Result<Self, String> {
        Ok(match value {
            ValueRef::Null => Value::Null,
            ValueRef::Bool(b) => Value::Bool(b),
            ValueRef::Int(i) => Value::I64(i),
            ValueRef::Float4(f) => Value::F32(f),
            ValueRef::Float(f) => Value::F64(f),
            ValueRef::Text(t) => match std::str::from_utf8(t) {
                Ok(s) => Value::Text(s.to_owned()),
                Err(_) => Value::Blob(t.to_vec()),
            },
            ValueRef::Blob(b) => Value::Blob(b.to_vec()),
            #[cfg(feature = "chrono")]
            ValueRef::Timestamp(t) => Value::Timestamp(t),
            #[cfg(feature = "chrono")]
            ValueRef::TimestampTz(t) => Value::TimestampTz(t),
            #[cfg(feature = "chrono")]
            ValueRef::Date(d) => Value::Date(d),
            #[cfg(feature = "chrono")]
            ValueRef::Time(t) => Value::Time(t),
            #[cfg(feature = "uuid")]
            ValueRef::Uuid(u) => Value::Uuid(u),
            #[cfg(feature = "json")]
            ValueRef::Json(j) => Value::Json(serde_json::Value::decode(ValueRef::Json(j))?),
        })
    }
}

#[cfg(feature = "uuid")]
impl Decode for uuid::Uuid {
    const TYPE_NAME: &'static str = "Uuid";
    fn decode(value: ValueRef<'_>) -> Result<Self, String> {
        match value {
            ValueRef::Uuid(u) => Ok(u),
            ValueRef::Blob(b) => {
                uuid::Uuid::from_slice(b).map_err(|_| format!("{} bytes are not a uuid", b.len()))
            }
            ValueRef::Text(t) => std::str::from_utf8(t)
                .ok()
                .and_then(|s| uuid::Uuid::parse_str(s).ok())
                .ok_or_else(|| "text is not a uuid".to_owned()),
            other => Err(mismatch(other)),
        }
    }
}

#[cfg(feature = "json")]
impl Decode for serde_json::Value {
    const TYPE_NAME: &'static str = "serde_json::Value";
    fn decode(value: ValueRef<'_>) -> Result<Self, String> {
        match value {
            ValueRef::Json(t) | ValueRef::Text(t) => {
                serde_json::from_slice(t).map_err(|e| format!("invalid JSON ({e})"))
            }
            other => Err(mismatch(other)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn narrowing_is_checked() {
        assert_eq!(i16::decode(ValueRef::Int(-32768)), Ok(i16::MIN));
        assert!(i16::decode(ValueRef::Int(40000)).is_err());
        assert!(i32::decode(ValueRef::Int(i64::MAX)).is_err());
        assert!(u64::decode(ValueRef::Int(-1)).is_err());
        assert!(f32::decode(ValueRef::Float(0.1)).is_err());
        assert_eq!(f32::decode(ValueRef::Float(0.5)), Ok(0.5));
    }

    #[test]
    fn null_needs_option() {
        assert!(i64::decode(ValueRef::Null).is_err());
        assert_eq!(Option::<i64>::decode(ValueRef::Null), Ok(None));
    }

    #[test]
    fn invalid_utf8_is_an_error_for_string_only() {
        let bad = [0xff_u8, 0xfe];
        assert!(String::decode(ValueRef::Text(&bad)).is_err());
        assert_eq!(Vec::<u8>::decode(ValueRef::Text(&bad)), Ok(bad.to_vec()));
    }

    #[test]
    fn text_is_not_an_integer() {
        let e = i64::decode(ValueRef::Text(b"12")).unwrap_err();
        assert!(e.contains("text"), "{e}");
    }
}
