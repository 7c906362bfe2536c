//! `chrono` types (feature `chrono`).
//!
//! On SQLite they are stored as text in the formats SQLite's own date
//! functions read: `YYYY-MM-DD HH:MM:SS.fffffffff` for timestamps (with
//! `+00:00` appended for `DateTime<Utc>`), `YYYY-MM-DD` for dates and
//! `HH:MM:SS.fffffffff` for times, so that text order is time order.
//! PostgreSQL stores microseconds: a value with sub-microsecond digits is an
//! [`Error::InvalidValue`](crate::Error::InvalidValue) there rather than
//! being truncated.

use super::{Decode, ToValue, Value, ValueRef};
use crate::error::Result;
use chrono::{DateTime, NaiveDate, NaiveDateTime, NaiveTime, Utc};

use super::time_formats::{
    DATE as DATE_FORMAT, TIME as TIME_FORMAT, TIMESTAMP as TIMESTAMP_FORMAT,
    TIMESTAMPTZ as TIMESTAMPTZ_FORMAT,
};

impl ToValue for NaiveDateTime {
    fn to_value(&self) -> Result<Value> {
        Ok(Value::Timestamp(*self))
    }
}

impl ToValue for DateTime<Utc> {
    fn to_value(&self) -> Result<Value> {
        Ok(Value::TimestampTz(*self))
    }
}

impl ToValue for NaiveDate {
    fn to_value(&self) -> Result<Value> {
        Ok(Value::Date(*self))
    }
}

impl ToValue for NaiveTime {
    fn to_value(&self) -> Result<Value> {
        Ok(Value::Time(*self))
    }
}

fn text(value: ValueRef<'_>) -> Result<&str, String> {
    match value {
        ValueRef::Text(t) => std::str::from_utf8(t).map_err(|_| "text is not UTF-8".to_owned()),
        other => Err(format!("found {}", other.kind())),
    }
}

fn parse_naive(s: &str) -> Option<NaiveDateTime> {
    NaiveDateTime::parse_from_str(s, TIMESTAMP_FORMAT)
        .or_else(|_| NaiveDateTime::parse_from_str(s, "%Y-%m-%dT%H:%M:%S%.f"))
        .ok()
}

impl Decode for NaiveDateTime {
    const TYPE_NAME: &'static str = "NaiveDateTime";
    fn decode(value: ValueRef<'_>) -> Result<Self, String> {
        match value {
            ValueRef::Timestamp(t) => Ok(t),
            other => {
                let s = text(other)?;
                parse_naive(s).ok_or_else(|| "text is not a timestamp".to_owned())
            }
        }
    }
}

impl Decode for DateTime<Utc> {
    const TYPE_NAME: &'static str = "DateTime<Utc>";
    fn decode(value: ValueRef<'_>) -> Result<Self, String> {
        match value {
            ValueRef::TimestampTz(t) => Ok(t),
            other => {
                let s = text(other)?;
                DateTime::parse_from_str(s, TIMESTAMPTZ_FORMAT)
                    .or_else(|_| DateTime::parse_from_rfc3339(s))
                    .map(|t| t.with_timezone(&Utc))
                    .ok()
                    .or_else(|| parse_naive(s).map(|t| t.and_utc()))
                    .ok_or_else(|| "text is not a timestamp with time zone".to_owned())
            }
        }
    }
}

impl Decode for NaiveDate {
    const TYPE_NAME: &'static str = "NaiveDate";
    fn decode(value: ValueRef<'_>) -> Result<Self, String> {
        match value {
            ValueRef::Date(d) => Ok(d),
            other => NaiveDate::parse_from_str(text(other)?, DATE_FORMAT)
                .map_err(|_| "text is not a date".to_owned()),
        }
    }
}

impl Decode for NaiveTime {
    const TYPE_NAME: &'static str = "NaiveTime";
    fn decode(value: ValueRef<'_>) -> Result<Self, String> {
        match value {
            ValueRef::Time(t) => Ok(t),
            other => NaiveTime::parse_from_str(text(other)?, TIME_FORMAT)
                .map_err(|_| "text is not a time".to_owned()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sqlite_text_round_trip() {
        let t = NaiveDate::from_ymd_opt(2024, 2, 29)
            .unwrap()
            .and_hms_nano_opt(23, 59, 58, 123_456_789)
            .unwrap();
        let s = t.format(TIMESTAMP_FORMAT).to_string();
        assert_eq!(NaiveDateTime::decode(ValueRef::Text(s.as_bytes())), Ok(t));
        let u = t.and_utc();
        let s = u.format(TIMESTAMPTZ_FORMAT).to_string();
        assert_eq!(DateTime::<Utc>::decode(ValueRef::Text(s.as_bytes())), Ok(u));
    }
}
