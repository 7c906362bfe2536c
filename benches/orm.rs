//! Sylvan's ORM layer against Sylvan's own raw API (DESIGN.md target: the
//! ORM costs at most 1.10× the raw API on both backends).
//!
//! Groups (each compares its functions side by side in one run, every one
//! timed inside a spawned task on a 2-worker multi-thread runtime):
//! - `orm_point_lookup_{sqlite,postgres}`: `raw` (`db.fetch_one` of
//!   `SELECT id, name, email FROM users WHERE id = $1`), `raw_orm_sql` (the
//!   raw API given the exact statement and binds the ORM renders, so the
//!   query builder's own cost shows apart from the SQL difference),
//!   `orm_get` (`User::get`) and `orm_filter_get`
//!   (`User::objects().filter(User::ID.eq(id)).get`).
//! - `orm_load_1000_{sqlite,postgres}`: `raw` (`db.fetch_all` with
//!   `WHERE id <= $1`), `raw_orm_sql`, and `orm_all`
//!   (`User::objects().filter(User::ID.le(1000)).all`).
//!
//! SQLite is a WAL file in a temp dir; PostgreSQL is a fresh schema at
//! `postgres://postgres@127.0.0.1:5432/test` (or `SYLVAN_BENCH_PG`), dropped
//! at the end, and skipped with a note when unreachable.
//!
//! Run with `cargo bench --bench orm`.
#![allow(clippy::unwrap_used, missing_docs)]

mod common;
use common::{runtime, spawned};
use criterion::measurement::WallTime;
use criterion::{criterion_group, criterion_main, BenchmarkGroup, Criterion};
use std::hint::black_box;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;
use std::time::Duration;
use sylvan::prelude::*;
use sylvan::Model;
use tokio::runtime::Runtime;

const ROWS: i64 = 10_000;
const LOAD: i64 = 1_000;

const POINT_SQL: &str = "SELECT id, name, email FROM users WHERE id = $1";
const LOAD_SQL: &str = "SELECT id, name, email FROM users WHERE id <= $1";

type Tuple = (i64, String, String);

#[derive(Debug, Clone, PartialEq, Model)]
#[model(table = "users")]
struct User {
    #[model(primary_key)]
    id: i64,
    name: String,
    email: String,
}

/// A key that walks the whole table.
fn next_id(counter: &AtomicI64) -> i64 {
    counter.fetch_add(7919, Ordering::Relaxed) % ROWS + 1
}

fn configure(group: &mut BenchmarkGroup<'_, WallTime>) {
    common::configure(group, Duration::from_secs(3), 30);
}

/// The statement `User::objects().filter(User::ID.eq(id)).get(…)` runs
/// (`get` adds `LIMIT 2` to tell "more than one" apart, as a literal), as
/// raw SQL with one bind.
fn orm_point_sql(db: &Database) -> String {
    let (sql, binds) = User::objects()
        .filter(User::ID.eq(1))
        .limit(2)
        .to_sql(db.dialect());
    assert_eq!(binds, 1);
    sql
}

/// The statement `User::objects().filter(User::ID.le(n)).all(…)` runs.
fn orm_load_sql(db: &Database) -> String {
    let (sql, binds) = User::objects()
        .filter(User::ID.le(LOAD))
        .to_sql(db.dialect());
    assert_eq!(binds, 1);
    sql
}

/// Both groups for one backend, over `db` holding the 10,000-row table.
fn bench_backend(c: &mut Criterion, rt: &Runtime, db: &Database, backend: &str) {
    let counter = Arc::new(AtomicI64::new(0));
    let point_sql: Arc<str> = orm_point_sql(db).into();
    let load_sql: Arc<str> = orm_load_sql(db).into();

    // Sanity: every variant returns the same thing.
    rt.block_on(async {
        let raw: Tuple = db.fetch_one(POINT_SQL, (42_i64,)).await.unwrap();
        let same: Tuple = db.fetch_one(&point_sql, (42_i64,)).await.unwrap();
        let orm = User::get(db, 42).await.unwrap();
        assert_eq!(raw, same);
        assert_eq!(raw, (orm.id, orm.name, orm.email));
        let raw: Vec<Tuple> = db.fetch_all(LOAD_SQL, (LOAD,)).await.unwrap();
        let orm = User::objects()
            .filter(User::ID.le(LOAD))
            .all(db)
            .await
            .unwrap();
        assert_eq!(raw.len() as i64, LOAD);
        assert_eq!(orm.len() as i64, LOAD);
    });

    let mut group = c.benchmark_group(format!("orm_point_lookup_{backend}"));
    configure(&mut group);
    group.bench_function("raw", |b| {
        b.iter_custom(|iters| {
            let (db, counter) = (db.clone(), Arc::clone(&counter));
            spawned(rt, iters, move || {
                let db = db.clone();
                let id = next_id(&counter);
                async move {
                    let row: Tuple = db.fetch_one(POINT_SQL, (id,)).await.unwrap();
                    black_box(row);
                }
            })
        })
    });
    group.bench_function("raw_orm_sql", |b| {
        b.iter_custom(|iters| {
            let (db, counter, sql) = (db.clone(), Arc::clone(&counter), Arc::clone(&point_sql));
            spawned(rt, iters, move || {
                let (db, sql) = (db.clone(), Arc::clone(&sql));
                let id = next_id(&counter);
                async move {
                    let row: Tuple = db.fetch_one(&sql, (id,)).await.unwrap();
                    black_box(row);
                }
            })
        })
    });
    group.bench_function("orm_get", |b| {
        b.iter_custom(|iters| {
            let (db, counter) = (db.clone(), Arc::clone(&counter));
            spawned(rt, iters, move || {
                let db = db.clone();
                let id = next_id(&counter);
                async move {
                    let user = User::get(&db, id).await.unwrap();
                    black_box(user);
                }
            })
        })
    });
    group.bench_function("orm_filter_get", |b| {
        b.iter_custom(|iters| {
            let (db, counter) = (db.clone(), Arc::clone(&counter));
            spawned(rt, iters, move || {
                let db = db.clone();
                let id = next_id(&counter);
                async move {
                    let user = User::objects()
                        .filter(User::ID.eq(id))
                        .get(&db)
                        .await
                        .unwrap();
                    black_box(user);
                }
            })
        })
    });
    group.finish();

    let mut group = c.benchmark_group(format!("orm_load_1000_{backend}"));
    configure(&mut group);
    group.bench_function("raw", |b| {
        b.iter_custom(|iters| {
            let db = db.clone();
            spawned(rt, iters, move || {
                let db = db.clone();
                async move {
                    let rows: Vec<Tuple> = db.fetch_all(LOAD_SQL, (LOAD,)).await.unwrap();
                    assert_eq!(rows.len() as i64, LOAD);
                    black_box(rows);
                }
            })
        })
    });
    group.bench_function("raw_orm_sql", |b| {
        b.iter_custom(|iters| {
            let (db, sql) = (db.clone(), Arc::clone(&load_sql));
            spawned(rt, iters, move || {
                let (db, sql) = (db.clone(), Arc::clone(&sql));
                async move {
                    let rows: Vec<Tuple> = db.fetch_all(&sql, (LOAD,)).await.unwrap();
                    assert_eq!(rows.len() as i64, LOAD);
                    black_box(rows);
                }
            })
        })
    });
    group.bench_function("orm_all", |b| {
        b.iter_custom(|iters| {
            let db = db.clone();
            spawned(rt, iters, move || {
                let db = db.clone();
                async move {
                    let rows = User::objects()
                        .filter(User::ID.le(LOAD))
                        .all(&db)
                        .await
                        .unwrap();
                    assert_eq!(rows.len() as i64, LOAD);
                    black_box(rows);
                }
            })
        })
    });
    group.finish();
}

fn bench_sqlite(c: &mut Criterion, rt: &Runtime) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("orm.db");
    let url = format!("sqlite://{}", path.display());
    let db = rt.block_on(async {
        let db = Database::connect(&url).await.unwrap();
        db.execute(
            "CREATE TABLE users (id INTEGER PRIMARY KEY, name TEXT NOT NULL, email TEXT NOT NULL)",
            (),
        )
        .await
        .unwrap();
        db.execute(
            "WITH RECURSIVE g(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM g WHERE i < $1)
             INSERT INTO users (id, name, email)
             SELECT i, 'user ' || i, 'user' || i || '@example.com' FROM g",
            (ROWS,),
        )
        .await
        .unwrap();
        let mode: String = db.fetch_one("PRAGMA journal_mode", ()).await.unwrap();
        assert_eq!(mode.to_lowercase(), "wal");
        db
    });
    bench_backend(c, rt, &db, "sqlite");
    rt.block_on(async { db.close() });
}

fn bench_postgres(c: &mut Criterion, rt: &Runtime) {
    let Some(mut pg) = common::PgSchema::create("bench_orm") else {
        return;
    };
    let schema = pg.name.clone();
    pg.setup(&format!(
        "CREATE TABLE {schema}.users (id BIGINT PRIMARY KEY, name TEXT NOT NULL, email TEXT NOT NULL);
         INSERT INTO {schema}.users SELECT g, 'user ' || g, 'user' || g || '@example.com'
           FROM generate_series(1, {ROWS}) g;
         ANALYZE {schema}.users;"
    ));
    let url = pg.url.clone();
    let db = rt.block_on(Database::connect(&url)).unwrap();

    bench_backend(c, rt, &db, "postgres");

    rt.block_on(async { db.close() });
    drop(db);
    drop(pg);
}

fn benches(c: &mut Criterion) {
    let rt = runtime();
    bench_sqlite(c, &rt);
    bench_postgres(c, &rt);
}

criterion_group!(orm, benches);
criterion_main!(orm);
