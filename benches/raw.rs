//! Sylvan's raw API against the sync drivers used directly.
//!
//! Groups (each compares its functions side by side in one run):
//! - `sqlite_point_lookup`: rusqlite direct, Sylvan awaited in `block_on`
//!   (criterion's `to_async`), Sylvan from a spawned task, and a
//!   `spawn_blocking` + `Mutex<rusqlite::Connection>` design (spawned task
//!   and `block_on`).
//! - `sqlite_load_1000`: 1,000 rows, rusqlite direct vs Sylvan.
//! - `postgres_point_lookup`, `postgres_load_1000`: the sync `postgres`
//!   crate vs Sylvan (`to_async` and spawned task). Skipped with a note when
//!   the server is unreachable (`SYLVAN_BENCH_PG` overrides the URL).
//!
//! Run with `cargo bench --bench raw`.
#![allow(clippy::unwrap_used, missing_docs)]

mod common;
use common::{open_wal, runtime, spawned};
use criterion::measurement::WallTime;
use criterion::{criterion_group, criterion_main, BenchmarkGroup, Criterion};
use std::hint::black_box;
use std::path::Path;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use sylvan::prelude::*;
use sylvan::rusqlite;
use tokio::runtime::Runtime;

const ROWS: i64 = 10_000;

const POINT_SQL: &str = "SELECT id, name FROM users WHERE id = $1";
const POINT_SQL_SQLITE: &str = "SELECT id, name FROM users WHERE id = ?1";
const LOAD_SQL: &str = "SELECT id, name, email FROM users WHERE id BETWEEN $1 AND $2 ORDER BY id";
const LOAD_SQL_SQLITE: &str =
    "SELECT id, name, email FROM users WHERE id BETWEEN ?1 AND ?2 ORDER BY id";

type User = (i64, String, String);

/// A key that walks the whole table.
fn next_id(counter: &AtomicI64) -> i64 {
    counter.fetch_add(7919, Ordering::Relaxed) % ROWS + 1
}

fn configure(group: &mut BenchmarkGroup<'_, WallTime>) {
    common::configure(group, Duration::from_secs(3), 30);
}

fn sqlite_fixture(path: &Path) {
    let mut conn = open_wal(path);
    conn.execute_batch(
        "CREATE TABLE users (id INTEGER PRIMARY KEY, name TEXT NOT NULL, email TEXT NOT NULL)",
    )
    .unwrap();
    let tx = conn.transaction().unwrap();
    {
        let mut stmt = tx
            .prepare("INSERT INTO users (id, name, email) VALUES (?1, ?2, ?3)")
            .unwrap();
        for i in 1..=ROWS {
            stmt.execute((i, format!("user {i}"), format!("user{i}@example.com")))
                .unwrap();
        }
    }
    tx.commit().unwrap();
}

fn rusqlite_point(conn: &rusqlite::Connection, id: i64) -> (i64, String) {
    let mut stmt = conn.prepare_cached(POINT_SQL_SQLITE).unwrap();
    stmt.query_row([id], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap()
}

fn rusqlite_load(conn: &rusqlite::Connection) -> Vec<User> {
    let mut stmt = conn.prepare_cached(LOAD_SQL_SQLITE).unwrap();
    stmt.query_map([1_i64, 1000], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
        .unwrap()
        .collect::<rusqlite::Result<Vec<User>>>()
        .unwrap()
}

fn bench_sqlite(c: &mut Criterion, rt: &Runtime) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bench.db");
    sqlite_fixture(&path);
    let url = format!("sqlite://{}", path.display());
    let db = rt.block_on(Database::connect(&url)).unwrap();
    let direct = open_wal(&path);
    let shared = Arc::new(Mutex::new(open_wal(&path)));
    let counter = Arc::new(AtomicI64::new(0));

    let mut group = c.benchmark_group("sqlite_point_lookup");
    configure(&mut group);
    group.bench_function("rusqlite_direct", |b| {
        b.iter(|| black_box(rusqlite_point(&direct, next_id(&counter))))
    });
    group.bench_function("sylvan_block_on", |b| {
        b.to_async(rt).iter(|| async {
            let row: (i64, String) = db.fetch_one(POINT_SQL, (next_id(&counter),)).await.unwrap();
            black_box(row);
        })
    });
    group.bench_function("sylvan_spawned", |b| {
        b.iter_custom(|iters| {
            let (db, counter) = (db.clone(), Arc::clone(&counter));
            spawned(rt, iters, move || {
                let db = db.clone();
                let id = next_id(&counter);
                async move {
                    let row: (i64, String) = db.fetch_one(POINT_SQL, (id,)).await.unwrap();
                    black_box(row);
                }
            })
        })
    });
    group.bench_function("spawn_blocking_spawned", |b| {
        b.iter_custom(|iters| {
            let (shared, counter) = (Arc::clone(&shared), Arc::clone(&counter));
            spawned(rt, iters, move || {
                let shared = Arc::clone(&shared);
                let id = next_id(&counter);
                async move {
                    let row = tokio::task::spawn_blocking(move || {
                        rusqlite_point(&shared.lock().unwrap(), id)
                    })
                    .await
                    .unwrap();
                    black_box(row);
                }
            })
        })
    });
    group.bench_function("spawn_blocking_block_on", |b| {
        b.to_async(rt).iter(|| async {
            let shared = Arc::clone(&shared);
            let id = next_id(&counter);
            let row =
                tokio::task::spawn_blocking(move || rusqlite_point(&shared.lock().unwrap(), id))
                    .await
                    .unwrap();
            black_box(row);
        })
    });
    group.finish();

    let mut group = c.benchmark_group("sqlite_load_1000");
    configure(&mut group);
    group.bench_function("rusqlite_direct", |b| {
        b.iter(|| {
            let rows = rusqlite_load(&direct);
            assert_eq!(rows.len(), 1000);
            black_box(rows);
        })
    });
    group.bench_function("sylvan_spawned", |b| {
        b.iter_custom(|iters| {
            let db = db.clone();
            spawned(rt, iters, move || {
                let db = db.clone();
                async move {
                    let rows: Vec<User> = db.fetch_all(LOAD_SQL, (1_i64, 1000_i64)).await.unwrap();
                    assert_eq!(rows.len(), 1000);
                    black_box(rows);
                }
            })
        })
    });
    group.finish();
    rt.block_on(async { db.close() });
}

fn bench_postgres(c: &mut Criterion, rt: &Runtime) {
    let Some(mut pg) = common::PgSchema::create("bench_raw") else {
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

    let mut sync = postgres::Client::connect(&url, postgres::NoTls).unwrap();
    let point = sync.prepare(POINT_SQL).unwrap();
    let load = sync.prepare(LOAD_SQL).unwrap();
    let db = rt.block_on(Database::connect(&url)).unwrap();
    let counter = Arc::new(AtomicI64::new(0));

    let mut group = c.benchmark_group("postgres_point_lookup");
    configure(&mut group);
    group.bench_function("postgres_sync", |b| {
        b.iter(|| {
            let row = sync.query_one(&point, &[&next_id(&counter)]).unwrap();
            black_box((row.get::<_, i64>(0), row.get::<_, String>(1)));
        })
    });
    group.bench_function("sylvan_block_on", |b| {
        b.to_async(rt).iter(|| async {
            let row: (i64, String) = db.fetch_one(POINT_SQL, (next_id(&counter),)).await.unwrap();
            black_box(row);
        })
    });
    group.bench_function("sylvan_spawned", |b| {
        b.iter_custom(|iters| {
            let (db, counter) = (db.clone(), Arc::clone(&counter));
            spawned(rt, iters, move || {
                let db = db.clone();
                let id = next_id(&counter);
                async move {
                    let row: (i64, String) = db.fetch_one(POINT_SQL, (id,)).await.unwrap();
                    black_box(row);
                }
            })
        })
    });
    group.finish();

    let mut group = c.benchmark_group("postgres_load_1000");
    configure(&mut group);
    group.bench_function("postgres_sync", |b| {
        b.iter(|| {
            let rows: Vec<User> = sync
                .query(&load, &[&1_i64, &1000_i64])
                .unwrap()
                .iter()
                .map(|r| (r.get(0), r.get(1), r.get(2)))
                .collect();
            assert_eq!(rows.len(), 1000);
            black_box(rows);
        })
    });
    group.bench_function("sylvan_block_on", |b| {
        b.to_async(rt).iter(|| async {
            let rows: Vec<User> = db.fetch_all(LOAD_SQL, (1_i64, 1000_i64)).await.unwrap();
            assert_eq!(rows.len(), 1000);
            black_box(rows);
        })
    });
    group.bench_function("sylvan_spawned", |b| {
        b.iter_custom(|iters| {
            let db = db.clone();
            spawned(rt, iters, move || {
                let db = db.clone();
                async move {
                    let rows: Vec<User> = db.fetch_all(LOAD_SQL, (1_i64, 1000_i64)).await.unwrap();
                    assert_eq!(rows.len(), 1000);
                    black_box(rows);
                }
            })
        })
    });
    group.finish();

    rt.block_on(async { db.close() });
    drop(db);
    drop(sync);
    drop(pg);
}

fn benches(c: &mut Criterion) {
    let rt = runtime();
    bench_sqlite(c, &rt);
    bench_postgres(c, &rt);
}

criterion_group!(raw, benches);
criterion_main!(raw);
