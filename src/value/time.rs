//! `chrono` types (feature `chrono`).
//!
//! On SQLite they are stored as text in the formats SQLite's own date
//! functions read: `YYYY-MM-DD HH:MM:SS.ffffff` for timestamps (with
//! `+00:00` appended for `DateTime<Utc>`), `YYYY-MM-DD` for dates and
//! `HH:MM:SS.ffffff` for times, so that text order is time order.
//!
//! Precision is microseconds on both backends (PostgreSQL's own): every
//! value is floored to the microsecond when it becomes a [`Value`], when a
//! backend encodes a [`Value`] built by hand, and when SQLite text written
//! by another program is read back with more digits. The user-facing rule is in
//! `docs/guide/types.md` (rendered as `sylvan::docs::types`).

use super::{Decode, ToValue, Value, ValueRef};
use crate::error::Result;
use chrono::{DateTime, NaiveDate, NaiveDateTime, NaiveTime, Timelike, Utc};

use super::time_formats::{
    DATE as DATE_FORMAT, TIME as TIME_FORMAT, TIMESTAMP as TIMESTAMP_FORMAT,
    TIMESTAMPTZ as TIMESTAMPTZ_FORMAT,
};

/// `nanos` floored to a whole number of microseconds.
///
/// chrono keeps the fraction of a second as a non-negative count of
/// nanoseconds after the whole second (also before 1970: 1969-12-31
/// 23:59:59.9999995 is second 59 plus 999_999_500 ns), so dropping the
/// sub-microsecond digits moves every value toward the past. A leap second
/// (`nanos` of 1e9 or more) stays a leap second.
const fn floor_nanos(nanos: u32) -> u32 {
    nanos - nanos % 1_000
}

/// The time of day floored to the microsecond.
pub(crate) fn floor_time(t: NaiveTime) -> NaiveTime {
    let nanos = t.nanosecond();
    if nanos.is_multiple_of(1_000) {
        return t;
    }
    // Same second, smaller fraction: always a valid time.
    NaiveTime::from_num_seconds_from_midnight_opt(t.num_seconds_from_midnight(), floor_nanos(nanos))
        .unwrap_or(t)
}

/// The timestamp floored to the microsecond.
pub(crate) fn floor_timestamp(t: NaiveDateTime) -> NaiveDateTime {
    t.date().and_time(floor_time(t.time()))
}

/// The instant floored to the microsecond.
pub(crate) fn floor_timestamptz(t: DateTime<Utc>) -> DateTime<Utc> {
    floor_timestamp(t.naive_utc()).and_utc()
}

impl ToValue for NaiveDateTime {
    fn to_value(&self) -> Result<Value> {
        Ok(Value::Timestamp(floor_timestamp(*self)))
    }
}

impl ToValue for DateTime<Utc> {
    fn to_value(&self) -> Result<Value> {
        Ok(Value::TimestampTz(floor_timestamptz(*self)))
    }
}

impl ToValue for NaiveDate {
    fn to_value(&self) -> Result<Value> {
        Ok(Value::Date(*self))
    }
}

impl ToValue for NaiveTime {
    fn to_value(&self) -> Result<Value> {
        Ok(Value::Time(floor_time(*self)))
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
            ValueRef::Timestamp(t) => Ok(floor_timestamp(t)),
            other => {
                let s = text(other)?;
                parse_naive(s)
                    .map(floor_timestamp)
                    .ok_or_else(|| "text is not a timestamp".to_owned())
            }
        }
    }
}

impl Decode for DateTime<Utc> {
    const TYPE_NAME: &'static str = "DateTime<Utc>";
    fn decode(value: ValueRef<'_>) -> Result<Self, String> {
        match value {
            ValueRef::TimestampTz(t) => Ok(floor_timestamptz(t)),
            other => {
                let s = text(other)?;
                DateTime::parse_from_str(s, TIMESTAMPTZ_FORMAT)
                    .or_else(|_| DateTime::parse_from_rfc3339(s))
                    .map(|t| t.with_timezone(&Utc))
                    .ok()
                    .or_else(|| parse_naive(s).map(|t| t.and_utc()))
                    .map(floor_timestamptz)
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
            ValueRef::Time(t) => Ok(floor_time(t)),
            other => NaiveTime::parse_from_str(text(other)?, TIME_FORMAT)
                .map(floor_time)
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
            .and_hms_micro_opt(23, 59, 58, 123_456)
            .unwrap();
        let s = t.format(TIMESTAMP_FORMAT).to_string();
        assert_eq!(NaiveDateTime::decode(ValueRef::Text(s.as_bytes())), Ok(t));
        let u = t.and_utc();
        let s = u.format(TIMESTAMPTZ_FORMAT).to_string();
        assert_eq!(DateTime::<Utc>::decode(ValueRef::Text(s.as_bytes())), Ok(u));
    }

    #[test]
    fn floors_to_microseconds_toward_the_past() {
        let d = NaiveDate::from_ymd_opt(1969, 12, 31).unwrap();
        let t = d.and_hms_nano_opt(23, 59, 59, 999_999_999).unwrap();
        assert_eq!(
            floor_timestamp(t),
            d.and_hms_micro_opt(23, 59, 59, 999_999).unwrap()
        );
        assert!(floor_timestamp(t) <= t);
        let exact = d.and_hms_micro_opt(1, 2, 3, 4).unwrap();
        assert_eq!(floor_timestamp(exact), exact);
        let u = t.and_utc();
        assert_eq!(floor_timestamptz(u), floor_timestamp(t).and_utc());
        let tm = NaiveTime::from_hms_nano_opt(0, 0, 0, 999).unwrap();
        assert_eq!(floor_time(tm), NaiveTime::MIN);
        assert_eq!(
            t.to_value().unwrap(),
            Value::Timestamp(d.and_hms_micro_opt(23, 59, 59, 999_999).unwrap())
        );
        let text = b"2024-01-02 03:04:05.123456789";
        assert_eq!(
            NaiveDateTime::decode(ValueRef::Text(text)),
            Ok(NaiveDate::from_ymd_opt(2024, 1, 2)
                .unwrap()
                .and_hms_micro_opt(3, 4, 5, 123_456)
                .unwrap())
        );
    }
}
