//! Property round-trips of every supported type through a real column on
//! SQLite and PostgreSQL: what is bound is exactly what is read back, `None`
//! is SQL `NULL` (and nothing else is), and the database compares the stored
//! value equal to a freshly bound copy.
//!
//! Each test builds one runtime and one database per backend, then runs its
//! proptest cases against them with `block_on`.

#![allow(clippy::unwrap_used)]

use crate::support::{Kind, TestDb};
use proptest::prelude::*;
use proptest::test_runner::{Config, TestCaseError, TestRunner};
use std::cell::Cell;
use std::fmt::Debug;
use sylvan::prelude::*;
use sylvan::{Decode, PoolConfig, ToValue};
use tokio::runtime::Runtime;

const CASES: u32 = 64;

fn config() -> Config {
    Config {
        failure_persistence: None,
        ..Config::with_cases(CASES)
    }
}

/// Runs `f` on a fresh SQLite file, then on a fresh PostgreSQL schema, then
/// on a fresh PostgreSQL database through PgBouncer in transaction mode with
/// `pooler=transaction` (unnamed statements typed by their values), on one
/// runtime.
fn on_both(name: &str, f: impl Fn(&Runtime, &TestDb)) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let pool = PoolConfig::default().max_size(2);
    let t = rt.block_on(TestDb::sqlite_file(name, pool.clone()));
    f(&rt, &t);
    rt.block_on(t.cleanup());
    if let Some(t) = rt.block_on(TestDb::postgres(name, pool.clone())) {
        f(&rt, &t);
        rt.block_on(t.cleanup());
    }
    if let Some(t) = rt.block_on(TestDb::postgres_via_bouncer(name, pool)) {
        f(&rt, &t);
        rt.block_on(t.cleanup());
    }
}

/// `Debug` of a value, cut short for huge strings and blobs.
fn short(v: &impl Debug) -> String {
    let s = format!("{v:?}");
    if s.len() <= 300 {
        return s;
    }
    let cut = (0..=300)
        .rev()
        .find(|&i| s.is_char_boundary(i))
        .unwrap_or(0);
    format!("{}… ({} chars of Debug)", &s[..cut], s.len())
}

/// A table `(id BIGINT PRIMARY KEY, v <type>)`; each stored value gets a new id.
struct Column<'a> {
    rt: &'a Runtime,
    t: &'a TestDb,
    table: String,
    /// SQLite's `typeof(v)` for a non-NULL value.
    sqlite_typeof: &'static str,
    next: Cell<i64>,
}

impl<'a> Column<'a> {
    fn new(
        rt: &'a Runtime,
        t: &'a TestDb,
        table: &str,
        sqlite: (&str, &'static str),
        postgres: &str,
    ) -> Self {
        let ty = match t.kind {
            Kind::Sqlite => sqlite.0,
            Kind::Postgres => postgres,
        };
        rt.block_on(t.db.execute(
            &format!("CREATE TABLE {table} (id BIGINT PRIMARY KEY, v {ty})"),
            (),
        ))
        .unwrap();
        Column {
            rt,
            t,
            table: table.to_owned(),
            sqlite_typeof: sqlite.1,
            next: Cell::new(1),
        }
    }

    fn kind(&self) -> Kind {
        self.t.kind
    }

    /// Stores `v` under a new id.
    fn store<T: ToValue>(&self, v: T) -> sylvan::Result<i64> {
        let id = self.next.get();
        self.next.set(id + 1);
        let sql = format!("INSERT INTO {} (id, v) VALUES ($1, $2)", self.table);
        self.rt.block_on(self.t.db.execute(&sql, (id, v)))?;
        Ok(id)
    }

    fn load<T: Decode + Send + 'static>(&self, id: i64) -> sylvan::Result<T> {
        let sql = format!("SELECT v FROM {} WHERE id = $1", self.table);
        self.rt.block_on(self.t.db.fetch_one(&sql, (id,)))
    }

    /// Stores `v`, reads it back every way, and checks it with `eq`.
    fn check<T>(&self, v: Option<T>, eq: &dyn Fn(&T, &T) -> bool) -> Result<(), String>
    where
        T: ToValue + Decode + Clone + Debug + Send + 'static,
    {
        let err = |what: &str, e: Error| format!("{:?}: {what} {}: {e}", self.kind(), short(&v));
        let id = self.store(v.clone()).map_err(|e| err("storing", e))?;
        let sql = format!("SELECT v, v IS NULL FROM {} WHERE id = $1", self.table);
        let (got, is_null): (Option<T>, bool) = self
            .rt
            .block_on(self.t.db.fetch_one(&sql, (id,)))
            .map_err(|e| err("loading", e))?;
        let Some(value) = &v else {
            return match (got, is_null) {
                (None, true) => Ok(()),
                (got, is_null) => Err(format!(
                    "{:?}: stored None, read back {} (IS NULL: {is_null})",
                    self.kind(),
                    short(&got)
                )),
            };
        };
        match &got {
            Some(back) if eq(value, back) && !is_null => {}
            _ => {
                return Err(format!(
                    "{:?}: stored {}, read back {} (IS NULL: {is_null})",
                    self.kind(),
                    short(&v),
                    short(&got)
                ))
            }
        }
        // Read without the Option too.
        let plain: T = self.load(id).map_err(|e| err("loading as plain T", e))?;
        if !eq(value, &plain) {
            return Err(format!(
                "{:?}: stored {}, read back {} as T",
                self.kind(),
                short(&v),
                short(&plain)
            ));
        }
        // The database sees the stored value as equal to a freshly bound one.
        let sql = format!(
            "SELECT COUNT(*) FROM {} WHERE id = $1 AND v = $2",
            self.table
        );
        let n: i64 = self
            .rt
            .block_on(self.t.db.fetch_one(&sql, (id, value.clone())))
            .map_err(|e| err("comparing", e))?;
        if n != 1 {
            return Err(format!(
                "{:?}: stored {} does not compare equal in SQL",
                self.kind(),
                short(&v)
            ));
        }
        if self.kind() == Kind::Sqlite {
            let sql = format!("SELECT typeof(v) FROM {} WHERE id = $1", self.table);
            let ty: String = self
                .rt
                .block_on(self.t.db.fetch_one(&sql, (id,)))
                .map_err(|e| err("typeof", e))?;
            if ty != self.sqlite_typeof {
                return Err(format!(
                    "SQLite stored {} as {ty}, not {}",
                    short(&v),
                    self.sqlite_typeof
                ));
            }
        }
        Ok(())
    }

    /// Fixed cases (plus `None`), then `CASES` generated ones (10% `None`).
    fn run<T, S>(&self, fixed: Vec<T>, strategy: S, eq: impl Fn(&T, &T) -> bool)
    where
        T: ToValue + Decode + Clone + Debug + Send + 'static,
        S: Strategy<Value = T>,
    {
        for v in fixed.into_iter().map(Some).chain([None]) {
            self.check(v, &eq)
                .unwrap_or_else(|e| panic!("{}: {e}", self.table));
        }
        let mut runner = TestRunner::new(config());
        runner
            .run(&proptest::option::weighted(0.9, strategy), |v| {
                self.check(v, &eq).map_err(TestCaseError::fail)
            })
            .unwrap_or_else(|e| panic!("{} on {:?}: {e}", self.table, self.kind()));
    }
}

fn exact<T: PartialEq>(a: &T, b: &T) -> bool {
    a == b
}

#[test]
fn bool_round_trips() {
    on_both("rt_bool", |rt, t| {
        Column::new(rt, t, "b", ("INTEGER", "integer"), "BOOLEAN").run(
            vec![true, false],
            any::<bool>(),
            exact,
        );
    });
}

#[test]
fn integers_round_trip_over_their_full_ranges() {
    on_both("rt_ints", |rt, t| {
        Column::new(rt, t, "i16s", ("INTEGER", "integer"), "SMALLINT").run(
            vec![i16::MIN, i16::MAX, 0, -1, 1, i16::MIN + 1, i16::MAX - 1],
            any::<i16>(),
            exact,
        );
        Column::new(rt, t, "i32s", ("INTEGER", "integer"), "INTEGER").run(
            vec![i32::MIN, i32::MAX, 0, -1, 1, i32::MIN + 1, i32::MAX - 1],
            any::<i32>(),
            exact,
        );
        Column::new(rt, t, "i64s", ("INTEGER", "integer"), "BIGINT").run(
            vec![
                i64::MIN,
                i64::MAX,
                0,
                -1,
                1,
                i64::MIN + 1,
                i64::MAX - 1,
                1 << 53,
                (1 << 53) + 1,
            ],
            any::<i64>(),
            exact,
        );
        // u64 up to i64::MAX goes into BIGINT.
        Column::new(rt, t, "u64s", ("INTEGER", "integer"), "BIGINT").run(
            vec![0_u64, i64::MAX as u64],
            0..=i64::MAX as u64,
            exact,
        );
    });
}

fn f32_same(a: &f32, b: &f32) -> bool {
    if a.is_nan() {
        b.is_nan()
    } else {
        a.to_bits() == b.to_bits()
    }
}

fn f64_same(a: &f64, b: &f64) -> bool {
    if a.is_nan() {
        b.is_nan()
    } else {
        a.to_bits() == b.to_bits()
    }
}

/// Special values common to both backends; `-0.0` is in
/// [`negative_zero_round_trips`], NaN only on PostgreSQL (SQLite refuses it,
/// see `errors.rs`).
fn f64_specials(kind: Kind) -> Vec<f64> {
    let mut v = vec![
        0.0,
        1.0,
        -1.0,
        0.1,
        1.0 / 3.0,
        f64::INFINITY,
        f64::NEG_INFINITY,
        f64::MAX,
        f64::MIN,
        f64::MIN_POSITIVE,
        -f64::MIN_POSITIVE,
        f64::MIN_POSITIVE / 2.0,
        -f64::MIN_POSITIVE / 2.0,
        f64::from_bits(1),
        -f64::from_bits(1),
        f64::from_bits(0x000f_ffff_ffff_ffff),
        f64::EPSILON,
        2_f64.powi(53),
        2_f64.powi(63),
        -(2_f64.powi(63)),
        2_f64.powi(53) + 2.0,
        1e300,
        -1e-300,
        std::f64::consts::PI,
    ];
    if kind == Kind::Postgres {
        v.extend([f64::NAN, -f64::NAN, -0.0]);
    }
    v
}

fn f32_specials(kind: Kind) -> Vec<f32> {
    let mut v = vec![
        0.0,
        1.0,
        -1.0,
        0.1,
        1.0 / 3.0,
        f32::INFINITY,
        f32::NEG_INFINITY,
        f32::MAX,
        f32::MIN,
        f32::MIN_POSITIVE,
        -f32::MIN_POSITIVE,
        f32::MIN_POSITIVE / 2.0,
        f32::from_bits(1),
        -f32::from_bits(1),
        f32::from_bits(0x007f_ffff),
        f32::EPSILON,
        16_777_217.0,
        std::f32::consts::PI,
    ];
    if kind == Kind::Postgres {
        v.extend([f32::NAN, -f32::NAN, -0.0]);
    }
    v
}

/// Any float, minus what a backend is documented (NaN on SQLite) or known
/// (-0.0 on SQLite, see [`negative_zero_round_trips`]) not to store.
fn f64_strategy(kind: Kind) -> impl Strategy<Value = f64> {
    any::<f64>().prop_filter("SQLite stores neither NaN nor -0.0", move |f| {
        kind == Kind::Postgres || !(f.is_nan() || (*f == 0.0 && f.is_sign_negative()))
    })
}

fn f32_strategy(kind: Kind) -> impl Strategy<Value = f32> {
    any::<f32>().prop_filter("SQLite stores neither NaN nor -0.0", move |f| {
        kind == Kind::Postgres || !(f.is_nan() || (*f == 0.0 && f.is_sign_negative()))
    })
}

#[test]
fn floats_round_trip_bit_for_bit() {
    on_both("rt_floats", |rt, t| {
        Column::new(rt, t, "f64s", ("REAL", "real"), "DOUBLE PRECISION").run(
            f64_specials(t.kind),
            f64_strategy(t.kind),
            f64_same,
        );
        Column::new(rt, t, "f32s", ("REAL", "real"), "REAL").run(
            f32_specials(t.kind),
            f32_strategy(t.kind),
            f32_same,
        );
        // An f32 in a double column.
        Column::new(rt, t, "f32_in_f64", ("REAL", "real"), "DOUBLE PRECISION").run(
            f32_specials(t.kind),
            f32_strategy(t.kind),
            f32_same,
        );
    });
}

/// `-0.0` keeps its sign on PostgreSQL; SQLite would store it as `0.0`, so
/// binding it there is a typed error rather than a silent change.
#[test]
fn negative_zero_round_trips_or_is_refused() {
    let failures = std::cell::RefCell::new(Vec::new());
    on_both("rt_negative_zero", |rt, t| {
        let col = Column::new(rt, t, "negzero", ("REAL", "real"), "DOUBLE PRECISION");
        match (t.kind, col.store(-0.0_f64)) {
            (Kind::Postgres, Ok(id)) => {
                let back: f64 = col.load(id).unwrap();
                if !(back == 0.0 && back.is_sign_negative()) {
                    failures
                        .borrow_mut()
                        .push(format!("-0.0_f64 came back as {back:?}"));
                }
            }
            (Kind::Sqlite, Err(sylvan::Error::InvalidValue { .. })) => {}
            (kind, other) => failures
                .borrow_mut()
                .push(format!("{kind:?}: storing -0.0_f64 gave {other:?}")),
        }
        let col = Column::new(rt, t, "negzero32", ("REAL", "real"), "REAL");
        match (t.kind, col.store(-0.0_f32)) {
            (Kind::Postgres, Ok(id)) => {
                let back: f32 = col.load(id).unwrap();
                if !(back == 0.0 && back.is_sign_negative()) {
                    failures
                        .borrow_mut()
                        .push(format!("-0.0_f32 came back as {back:?}"));
                }
            }
            (Kind::Sqlite, Err(sylvan::Error::InvalidValue { .. })) => {}
            (kind, other) => failures
                .borrow_mut()
                .push(format!("{kind:?}: storing -0.0_f32 gave {other:?}")),
        }
        // +0.0 is fine everywhere.
        let col = Column::new(rt, t, "poszero", ("REAL", "real"), "DOUBLE PRECISION");
        let id = col.store(0.0_f64).unwrap();
        let back: f64 = col.load(id).unwrap();
        assert!(back == 0.0 && back.is_sign_positive());
    });
    let failures = failures.into_inner();
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// Any string the backend can store: PostgreSQL refuses NUL (see `errors.rs`).
fn text_strategy(kind: Kind) -> BoxedStrategy<String> {
    let any_text = any::<String>().prop_map(move |s| match kind {
        Kind::Sqlite => s,
        Kind::Postgres => s.replace('\0', ""),
    });
    let tricky = "[\\\\'\"`$?;:%_\\-/*\\[\\]\r\n\t ]{0,40}".prop_map(String::from);
    let long = prop::collection::vec(any::<char>(), 0..3000).prop_map(move |c| {
        c.into_iter()
            .filter(|&c| kind == Kind::Sqlite || c != '\0')
            .collect::<String>()
    });
    prop_oneof![4 => any_text, 2 => tricky, 1 => long].boxed()
}

fn text_specials(kind: Kind) -> Vec<String> {
    let mut v: Vec<String> = [
        "",
        " ",
        "a",
        "😀🎉🦀",
        "👨\u{200d}👩\u{200d}👧\u{200d}👦",
        "🏳️\u{200d}🌈",
        "e\u{301}",
        "\u{1e9b}\u{323}",
        "Ω≈ç√∫˜µ≤≥÷",
        "田中さんにあげて下さい",
        "مرحبا بالعالم",
        "\u{feff}bom",
        "\u{10ffff}\u{fffd}\u{fffe}",
        "'; DROP TABLE s; --",
        "it's \"quoted\" `twice`",
        "back\\slash\\\\",
        "$1 ?1 :name @name",
        "\r\n\t\u{b}\u{c}",
        "trailing space ",
        "NULL",
        "null",
    ]
    .map(String::from)
    .to_vec();
    v.push("x".repeat(1 << 20));
    v.push("ü😀".repeat((1 << 20) / 6));
    if kind == Kind::Sqlite {
        v.push("nul\0inside".into());
        v.push("\0".into());
    }
    v
}

#[test]
fn text_round_trips() {
    on_both("rt_text", |rt, t| {
        Column::new(rt, t, "s", ("TEXT", "text"), "TEXT").run(
            text_specials(t.kind),
            text_strategy(t.kind),
            exact,
        );
        // Borrowed &str binds too.
        let col = Column::new(rt, t, "s_ref", ("TEXT", "text"), "TEXT");
        let id = col.store("borrowed ✓").unwrap();
        assert_eq!(col.load::<String>(id).unwrap(), "borrowed ✓");
    });
}

#[test]
fn blobs_round_trip() {
    on_both("rt_blob", |rt, t| {
        let mut fixed = vec![
            Vec::new(),
            vec![0],
            vec![0xff, 0xfe],
            (0..=255).collect::<Vec<u8>>(),
            b"not \0 text".to_vec(),
        ];
        fixed.push(
            (0..4 << 20)
                .map(|i: u32| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
                .collect(),
        );
        let strategy = prop_oneof![
            prop::collection::vec(any::<u8>(), 0..64),
            prop::collection::vec(any::<u8>(), 0..4096),
        ];
        let ty = t.blob_type();
        Column::new(rt, t, "bl", ("BLOB", "blob"), ty).run(fixed, strategy, exact);
        // Arrays and slices bind as blobs too.
        let col = Column::new(rt, t, "bl_ref", ("BLOB", "blob"), ty);
        let id = col.store([1_u8, 2, 3]).unwrap();
        assert_eq!(col.load::<Vec<u8>>(id).unwrap(), vec![1, 2, 3]);
        let id = col.store(&b"slice"[..]).unwrap();
        assert_eq!(col.load::<Vec<u8>>(id).unwrap(), b"slice".to_vec());
    });
}

#[cfg(feature = "chrono")]
mod times {
    use super::*;
    use chrono::{DateTime, NaiveDate, NaiveDateTime, NaiveTime, Utc};

    const LAST_DAY: i32 = 3_652_059; // 9999-12-31 in days from CE

    /// Sub-second precision: microseconds on both backends (values with
    /// nanoseconds are truncated on the way in: see time_precision.rs).
    fn nanos(_kind: Kind) -> BoxedStrategy<u32> {
        (0..1_000_000_u32).prop_map(|us| us * 1_000).boxed()
    }

    fn date() -> impl Strategy<Value = NaiveDate> {
        (1..=LAST_DAY).prop_map(|d| NaiveDate::from_num_days_from_ce_opt(d).unwrap())
    }

    fn time(kind: Kind) -> impl Strategy<Value = NaiveTime> {
        (0..86_400_u32, nanos(kind))
            .prop_map(|(s, n)| NaiveTime::from_num_seconds_from_midnight_opt(s, n).unwrap())
    }

    fn timestamp(kind: Kind) -> impl Strategy<Value = NaiveDateTime> {
        (date(), time(kind)).prop_map(|(d, t)| d.and_time(t))
    }

    fn ymd(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).unwrap()
    }

    fn hms_micro(h: u32, m: u32, s: u32, us: u32) -> NaiveTime {
        NaiveTime::from_hms_micro_opt(h, m, s, us).unwrap()
    }

    fn timestamps() -> Vec<NaiveDateTime> {
        vec![
            ymd(1, 1, 1).and_time(hms_micro(0, 0, 0, 0)),
            ymd(9999, 12, 31).and_time(hms_micro(23, 59, 59, 999_999)),
            ymd(1970, 1, 1).and_time(hms_micro(0, 0, 0, 0)),
            ymd(2000, 1, 1).and_time(hms_micro(0, 0, 0, 0)),
            ymd(1999, 12, 31).and_time(hms_micro(23, 59, 59, 999_999)),
            ymd(2024, 2, 29).and_time(hms_micro(12, 34, 56, 1)),
            ymd(1900, 3, 1).and_time(hms_micro(0, 0, 0, 500_000)),
        ]
    }

    #[test]
    fn timestamps_round_trip() {
        on_both("rt_timestamp", |rt, t| {
            Column::new(rt, t, "ts", ("TEXT", "text"), "TIMESTAMP").run(
                timestamps(),
                timestamp(t.kind),
                exact,
            );
        });
    }

    #[test]
    fn timestamptz_round_trips() {
        on_both("rt_timestamptz", |rt, t| {
            let fixed: Vec<DateTime<Utc>> = timestamps().into_iter().map(|t| t.and_utc()).collect();
            let strategy = timestamp(t.kind).prop_map(|t| t.and_utc());
            Column::new(rt, t, "tstz", ("TEXT", "text"), "TIMESTAMPTZ").run(fixed, strategy, exact);
        });
    }

    #[test]
    fn dates_round_trip() {
        on_both("rt_date", |rt, t| {
            let fixed = vec![
                ymd(1, 1, 1),
                ymd(9999, 12, 31),
                ymd(2000, 1, 1),
                ymd(1999, 12, 31),
                ymd(2024, 2, 29),
            ];
            Column::new(rt, t, "d", ("TEXT", "text"), "DATE").run(fixed, date(), exact);
        });
    }

    #[test]
    fn times_round_trip() {
        on_both("rt_time", |rt, t| {
            let fixed = vec![
                hms_micro(0, 0, 0, 0),
                hms_micro(23, 59, 59, 999_999),
                hms_micro(12, 0, 0, 1),
            ];
            Column::new(rt, t, "tm", ("TEXT", "text"), "TIME").run(fixed, time(t.kind), exact);
        });
    }

    /// On SQLite the text forms sort in time order.
    #[test]
    fn sqlite_text_order_is_time_order() {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let t = rt.block_on(TestDb::sqlite_file(
            "rt_time_order",
            PoolConfig::default().max_size(2),
        ));
        rt.block_on(t.db.execute("CREATE TABLE o (ts TEXT, tz TEXT, tm TEXT, d TEXT)", ()))
            .unwrap();
        let mut runner = TestRunner::new(config());
        let strategy = prop::collection::vec(timestamp(Kind::Sqlite), 1..20);
        runner
            .run(&strategy, |mut values| {
                rt.block_on(async {
                    t.db.execute("DELETE FROM o", ()).await.unwrap();
                    for v in &values {
                        t.db.execute(
                            "INSERT INTO o (ts, tz, tm, d) VALUES ($1, $2, $3, $4)",
                            (*v, v.and_utc(), v.time(), v.date()),
                        )
                        .await
                        .unwrap();
                    }
                });
                values.sort();
                let by_ts: Vec<NaiveDateTime> = rt
                    .block_on(t.db.fetch_all("SELECT ts FROM o ORDER BY ts", ()))
                    .unwrap();
                prop_assert_eq!(&by_ts, &values);
                let by_tz: Vec<DateTime<Utc>> = rt
                    .block_on(t.db.fetch_all("SELECT tz FROM o ORDER BY tz", ()))
                    .unwrap();
                prop_assert_eq!(
                    by_tz,
                    values.iter().map(|v| v.and_utc()).collect::<Vec<_>>()
                );
                let mut times: Vec<NaiveTime> = values.iter().map(|v| v.time()).collect();
                times.sort();
                let by_tm: Vec<NaiveTime> = rt
                    .block_on(t.db.fetch_all("SELECT tm FROM o ORDER BY tm", ()))
                    .unwrap();
                prop_assert_eq!(by_tm, times);
                let dates: Vec<NaiveDate> = values.iter().map(|v| v.date()).collect();
                let by_d: Vec<NaiveDate> = rt
                    .block_on(t.db.fetch_all("SELECT d FROM o ORDER BY d", ()))
                    .unwrap();
                prop_assert_eq!(by_d, dates);
                Ok(())
            })
            .unwrap();
        rt.block_on(t.cleanup());
    }
}

#[cfg(feature = "uuid")]
#[test]
fn uuids_round_trip() {
    on_both("rt_uuid", |rt, t| {
        let fixed = vec![
            uuid::Uuid::nil(),
            uuid::Uuid::max(),
            uuid::Uuid::from_u128(0x0123_4567_89ab_cdef_0123_4567_89ab_cdef),
        ];
        let strategy = any::<u128>().prop_map(uuid::Uuid::from_u128);
        Column::new(rt, t, "u", ("BLOB", "blob"), "UUID").run(fixed, strategy, exact);
    });
}

#[cfg(feature = "json")]
mod json {
    use super::*;
    use serde_json::{json, Value};

    fn json_text(kind: Kind) -> impl Strategy<Value = String> {
        // PostgreSQL's jsonb refuses \u0000 in strings.
        any::<String>().prop_map(move |s| match kind {
            Kind::Sqlite => s,
            Kind::Postgres => s.replace('\0', ""),
        })
    }

    fn json_value(kind: Kind) -> impl Strategy<Value = Value> {
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::from),
            any::<i64>().prop_map(Value::from),
            any::<u64>().prop_map(Value::from),
            // Short decimals: arbitrary floats are `json_floats_round_trip_exactly`.
            (any::<i32>(), 0..6_i32).prop_map(|(m, e)| json!(f64::from(m) / 10_f64.powi(e))),
            json_text(kind).prop_map(Value::from),
        ];
        leaf.prop_recursive(3, 32, 6, move |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
                prop::collection::btree_map(json_text(kind), inner, 0..6)
                    .prop_map(|m| Value::Object(m.into_iter().collect())),
            ]
        })
    }

    /// jsonb stores numbers as `numeric`: `1e16` (a float) comes back as the
    /// integer `10000000000000000`, the same number. Compare numbers by value
    /// on PostgreSQL, exactly on SQLite.
    fn same_json(kind: Kind) -> impl Fn(&Value, &Value) -> bool {
        move |a, b| match kind {
            Kind::Sqlite => a == b,
            Kind::Postgres => same_json_numbers_by_value(a, b),
        }
    }

    fn same_json_numbers_by_value(a: &Value, b: &Value) -> bool {
        match (a, b) {
            (Value::Number(x), Value::Number(y)) => {
                if x.is_f64() || y.is_f64() {
                    x.as_f64() == y.as_f64()
                } else {
                    x == y
                }
            }
            (Value::Array(x), Value::Array(y)) => {
                x.len() == y.len()
                    && x.iter()
                        .zip(y)
                        .all(|(a, b)| same_json_numbers_by_value(a, b))
            }
            (Value::Object(x), Value::Object(y)) => {
                x.len() == y.len()
                    && x.iter()
                        .all(|(k, a)| y.get(k).is_some_and(|b| same_json_numbers_by_value(a, b)))
            }
            _ => a == b,
        }
    }

    #[test]
    fn json_round_trips() {
        on_both("rt_json", |rt, t| {
            let fixed = vec![
                Value::Null,
                json!(0),
                json!(""),
                json!([]),
                json!({}),
                json!({"a": [1, 2.5, "three", null, true], "b": {"c": {}}}),
                json!({"quote\"": "back\\slash", "emoji😀": "👨\u{200d}👩\u{200d}👧", "e\u{301}": "\u{10ffff}"}),
                json!(i64::MIN),
                json!(u64::MAX),
                json!(0.1),
                json!(-1.5e-7),
                json!("x".repeat(100_000)),
            ];
            Column::new(rt, t, "j", ("TEXT", "text"), "JSONB").run(
                fixed,
                json_value(t.kind),
                same_json(t.kind),
            );
            // A JSON null is a value, not SQL NULL.
            let col = Column::new(rt, t, "jnull", ("TEXT", "text"), "JSONB");
            let id = col.store(Value::Null).unwrap();
            assert_eq!(col.load::<Option<Value>>(id).unwrap(), Some(Value::Null));
            let id = col.store(None::<Value>).unwrap();
            assert_eq!(col.load::<Option<Value>>(id).unwrap(), None);
        });
    }

    /// Any finite f64 in a JSON document comes back as the same f64.
    #[test]
    fn json_floats_round_trip_exactly() {
        let failures = std::cell::RefCell::new(Vec::new());
        on_both("rt_json_floats", |rt, t| {
            let col = Column::new(rt, t, "jf", ("TEXT", "text"), "JSONB");
            let fixed = [
                -2.553_932_535_608_973e-195,
                1.234_567_890_123_456_7e-300,
                f64::MAX,
                f64::MIN_POSITIVE,
                5e-324,
            ];
            for f in fixed {
                if let Err(e) = col.check(Some(json!(f)), &same_json(t.kind)) {
                    failures.borrow_mut().push(e);
                }
            }
            let mut runner = TestRunner::new(config());
            let strategy = any::<f64>().prop_filter("JSON numbers are finite", |f| f.is_finite());
            let result = runner.run(&strategy, |f| {
                col.check(Some(json!(f)), &same_json(t.kind))
                    .map_err(TestCaseError::fail)
            });
            if let Err(e) = result {
                failures.borrow_mut().push(format!("{:?}: {e}", t.kind));
            }
        });
        let failures = failures.into_inner();
        assert!(failures.is_empty(), "{}", failures.join("\n"));
    }
}
