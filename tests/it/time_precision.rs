//! One model, the same result on both backends: chrono values are stored
//! with microsecond precision, truncated toward the past, so a model built
//! with `Utc::now()` inserts, filters and reads back identically on SQLite
//! and PostgreSQL.
#![cfg(feature = "chrono")]

use crate::support::{both, TestDb};
use chrono::{DateTime, Duration, NaiveDate, NaiveDateTime, NaiveTime, Timelike, Utc};
use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};
use sylvan::prelude::*;
use sylvan::{Condition, PoolConfig, Schema};

#[derive(Debug, Clone, PartialEq, Model)]
#[model(table = "tp_loan")]
struct Loan {
    #[model(primary_key, auto)]
    id: i64,
    created_at: DateTime<Utc>,
    due: NaiveDateTime,
    at: NaiveTime,
}

/// `t` floored to the microsecond, computed independently of Sylvan:
/// through the count of nanoseconds since the epoch, with Euclidean
/// division so that pre-1970 values also move toward the past.
fn floor_us(t: NaiveDateTime) -> NaiveDateTime {
    let epoch = NaiveDate::from_ymd_opt(1970, 1, 1)
        .unwrap()
        .and_time(NaiveTime::MIN);
    let ns = (t - epoch).num_nanoseconds().unwrap();
    epoch + Duration::microseconds(ns.div_euclid(1_000))
}

fn floor_time_us(t: NaiveTime) -> NaiveTime {
    floor_us(NaiveDate::from_ymd_opt(2000, 1, 1).unwrap().and_time(t)).time()
}

fn loan(created_at: DateTime<Utc>) -> Loan {
    Loan {
        id: 0,
        created_at,
        due: created_at.naive_utc() + Duration::nanoseconds(1_999),
        at: created_at.time(),
    }
}

/// `Utc::now()` (which carries nanoseconds on Linux) inserts, reads back
/// truncated, and filters with `lt(Utc::now())`, on both backends.
#[tokio::test]
async fn utc_now_inserts_and_filters_on_both_backends() {
    both("tp_now", |t: TestDb| async move {
        Schema::new()
            .model::<Loan>()
            .create_all(&t.db)
            .await
            .unwrap();
        let now = NaiveDate::from_ymd_opt(2026, 12, 2)
            .unwrap()
            .and_hms_nano_opt(15, 4, 5, 123_456_789)
            .unwrap()
            .and_utc();
        let stored = loan(now).insert(&t.db).await.unwrap();
        let back = Loan::get(&t.db, stored.id).await.unwrap();
        let micros = floor_us(now.naive_utc());
        assert_eq!(back.created_at, micros.and_utc(), "{:?}", t.kind);
        assert_eq!(
            back.due,
            floor_us(now.naive_utc() + Duration::nanoseconds(1_999))
        );
        assert_eq!(back.at, micros.time());
        assert_eq!(back.created_at.nanosecond() % 1_000, 0);

        let real_now = loan(Utc::now()).insert(&t.db).await.unwrap();
        let older = Loan::objects()
            .filter(Loan::CREATED_AT.lt(Utc::now()))
            .count(&t.db)
            .await
            .unwrap();
        assert_eq!(older, 2, "{:?}", t.kind);
        // Equality with the untruncated value finds the stored row: the
        // bind is truncated the same way.
        let same = Loan::objects()
            .filter(Loan::CREATED_AT.eq(now))
            .count(&t.db)
            .await
            .unwrap();
        assert_eq!(same, 1, "{:?}", t.kind);
        assert!(Loan::get(&t.db, real_now.id).await.is_ok());
        t
    })
    .await;
}

fn nanos_timestamp() -> impl Strategy<Value = NaiveDateTime> {
    // 1900..2100, before and after the epoch, with any nanoseconds.
    (-2_208_988_800_i64..4_102_444_800, 0..1_000_000_000_u32)
        .prop_map(|(s, n)| DateTime::from_timestamp(s, n).unwrap().naive_utc())
}

/// Over random nanosecond timestamps: what each backend reads back is the
/// floored value, and `lt` / `le` / `gt` / `eq` filters with untruncated
/// binds select the same rows as the comparison done in Rust on floored
/// values.
#[test]
fn nanosecond_values_round_trip_truncated_and_compare_alike() {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let pool = PoolConfig::default().max_size(2);
    let mut dbs = vec![rt.block_on(TestDb::sqlite_file("tp_prop", pool.clone()))];
    if let Some(t) = rt.block_on(TestDb::postgres("tp_prop", pool)) {
        dbs.push(t);
    }
    for t in &dbs {
        rt.block_on(Schema::new().model::<Loan>().create_all(&t.db))
            .unwrap();
    }
    let mut runner = TestRunner::new(Config {
        failure_persistence: None,
        ..Config::with_cases(24)
    });
    let strategy = (
        prop::collection::vec(nanos_timestamp(), 1..8),
        nanos_timestamp(),
    );
    runner
        .run(&strategy, |(values, pivot)| {
            for t in &dbs {
                rt.block_on(async {
                    t.db.execute("DELETE FROM tp_loan", ()).await.unwrap();
                    for v in &values {
                        loan(v.and_utc()).insert(&t.db).await.unwrap();
                    }
                });
                let mut rows: Vec<Loan> = rt
                    .block_on(Loan::objects().order_by(Loan::ID.asc()).all(&t.db))
                    .unwrap();
                prop_assert_eq!(rows.len(), values.len());
                for (row, v) in rows.iter().zip(&values) {
                    prop_assert_eq!(row.created_at, floor_us(*v).and_utc(), "{:?}", t.kind);
                    prop_assert_eq!(row.at, floor_time_us(v.time()));
                }
                let p = floor_us(pivot);
                let count = |c: Condition<Loan>| {
                    rt.block_on(Loan::objects().filter(c).count(&t.db)).unwrap() as usize
                };
                let expect = |f: &dyn Fn(NaiveDateTime) -> bool| {
                    values.iter().filter(|v| f(floor_us(**v))).count()
                };
                let pz = pivot.and_utc();
                prop_assert_eq!(
                    count(Loan::CREATED_AT.lt(pz)),
                    expect(&|v| v < p),
                    "{:?}",
                    t.kind
                );
                prop_assert_eq!(count(Loan::CREATED_AT.le(pz)), expect(&|v| v <= p));
                prop_assert_eq!(count(Loan::CREATED_AT.gt(pz)), expect(&|v| v > p));
                // Each stored value equals its own untruncated bind.
                for v in &values {
                    prop_assert!(count(Loan::CREATED_AT.eq(v.and_utc())) >= 1);
                }
                rows.sort_by_key(|r| r.created_at);
                let ordered: Vec<DateTime<Utc>> = rt
                    .block_on(
                        Loan::objects()
                            .order_by(Loan::CREATED_AT.asc())
                            .values(Loan::CREATED_AT)
                            .all(&t.db),
                    )
                    .unwrap();
                let expected: Vec<DateTime<Utc>> = rows.iter().map(|r| r.created_at).collect();
                prop_assert_eq!(ordered, expected, "{:?}", t.kind);
            }
            Ok(())
        })
        .unwrap();
    for t in dbs {
        rt.block_on(t.cleanup());
    }
}
