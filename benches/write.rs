//! Bulk insert of 10,000 rows `(name TEXT, email TEXT, age INTEGER)`:
//! Sylvan's ORM against the fastest way through Sylvan's raw API.
//!
//! Groups `write_insert_10k_{sqlite,postgres}`, side by side:
//! - `orm_insert_many`: `Model::insert_many(rows, &db)`, which returns the
//!   10,000 stored models (`RETURNING` every column).
//! - `raw_execute`: one multi-row `INSERT … VALUES ($1,$2,$3),($4,$5,$6),…`
//!   per chunk via `db.execute(sql, Vec<Value>)`, chunked like
//!   `insert_many` (at most 10,000 rows and under the bind limit, so one
//!   statement here), with the statement text built once up front.
//! - `raw_returning` (for attribution): the exact statement `insert_many`
//!   runs, `RETURNING` included, via `db.fetch_all` into tuples: the gap
//!   to `raw_execute` is the cost of returning the rows, the gap to
//!   `orm_insert_many` is the ORM's own.
//! - `raw_returning_id` (for attribution): the same with `RETURNING "id"`
//!   only, what an `insert_many` that returns just the generated keys
//!   would cost.
//!
//! Every iteration inserts into an emptied table: the `DELETE` (and on
//! PostgreSQL a `VACUUM`) and building the input rows happen outside the
//! timing (`iter_custom`). Each function starts from the same owned
//! `Vec<BenchUser>`; turning it into binds is timed.
//!
//! SQLite is a WAL file in a temp dir; PostgreSQL is a fresh schema at
//! `postgres://postgres@127.0.0.1:5432/test` (or `SYLVAN_BENCH_PG`), dropped
//! at the end, and skipped with a note when unreachable.
//!
//! Run with `cargo bench --bench write`.
#![allow(clippy::unwrap_used, missing_docs)]

mod common;
use common::runtime;
use criterion::measurement::WallTime;
use criterion::{criterion_group, criterion_main, BenchmarkGroup, Criterion};
use std::fmt::Write as _;
use std::future::Future;
use std::time::{Duration, Instant};
use sylvan::prelude::*;
use sylvan::{Dialect, Value};
use tokio::runtime::Runtime;

const ROWS: usize = 10_000;
const COLUMNS: usize = 3;
/// `insert_many`'s cap on rows per statement.
const MAX_ROWS_PER_STATEMENT: usize = 10_000;

#[derive(Debug, Clone, PartialEq, Model)]
#[model(table = "bench_users")]
struct BenchUser {
    #[model(primary_key, auto)]
    id: i64,
    name: String,
    email: String,
    age: i32,
}

type Tuple = (i64, String, String, i32);

fn input() -> Vec<BenchUser> {
    (0..ROWS)
        .map(|i| BenchUser {
            id: 0,
            name: format!("user {i}"),
            email: format!("user{i}@example.com"),
            age: (i % 90) as i32,
        })
        .collect()
}

fn configure(group: &mut BenchmarkGroup<'_, WallTime>) {
    common::configure(group, Duration::from_secs(5), 10);
}

/// Rows per statement, as `insert_many` chunks them.
fn rows_per_statement(dialect: Dialect) -> usize {
    (dialect.max_binds() / COLUMNS).clamp(1, MAX_ROWS_PER_STATEMENT)
}

/// `INSERT INTO bench_users (name, email, age) VALUES ($1,$2,$3),…` for
/// `rows` rows, with `tail` appended.
fn insert_sql(rows: usize, placeholder: char, quoted: bool, tail: &str) -> String {
    let q = |s: &str| {
        if quoted {
            format!("\"{s}\"")
        } else {
            s.to_owned()
        }
    };
    let mut sql = format!(
        "INSERT INTO {} ({}, {}, {}) VALUES ",
        q("bench_users"),
        q("name"),
        q("email"),
        q("age")
    );
    sql.reserve(rows * 24 + tail.len());
    for r in 0..rows {
        let n = r * COLUMNS;
        if r > 0 {
            sql.push_str(", ");
        }
        let _ = write!(
            sql,
            "({placeholder}{}, {placeholder}{}, {placeholder}{})",
            n + 1,
            n + 2,
            n + 3
        );
    }
    sql.push_str(tail);
    sql
}

/// The raw statements: one per chunk size that occurs (a full chunk, and
/// the remainder if any).
struct RawSql {
    per_statement: usize,
    full: String,
    rest: Option<String>,
}

impl RawSql {
    fn new(dialect: Dialect, placeholder: char, quoted: bool, tail: &str) -> RawSql {
        let per_statement = rows_per_statement(dialect);
        let full = insert_sql(per_statement.min(ROWS), placeholder, quoted, tail);
        let rest = (!ROWS.is_multiple_of(per_statement) && ROWS > per_statement)
            .then(|| insert_sql(ROWS % per_statement, placeholder, quoted, tail));
        RawSql {
            per_statement,
            full,
            rest,
        }
    }

    fn for_rows(&self, n: usize) -> &str {
        if n == self.per_statement || self.rest.is_none() {
            &self.full
        } else {
            self.rest.as_deref().unwrap()
        }
    }
}

/// Each chunk's binds, moving the strings out of the models.
fn chunks(rows: Vec<BenchUser>, per_statement: usize) -> Vec<(usize, Vec<Value>)> {
    let mut out = Vec::with_capacity(rows.len().div_ceil(per_statement));
    let mut rows = rows.into_iter().peekable();
    while rows.peek().is_some() {
        let mut binds = Vec::with_capacity(per_statement * COLUMNS);
        let mut n = 0;
        for u in rows.by_ref().take(per_statement) {
            binds.push(Value::Text(u.name));
            binds.push(Value::Text(u.email));
            binds.push(Value::I32(u.age));
            n += 1;
        }
        out.push((n, binds));
    }
    out
}

async fn raw_execute(db: &Database, sql: &RawSql, rows: Vec<BenchUser>) -> u64 {
    let mut total = 0;
    for (n, binds) in chunks(rows, sql.per_statement) {
        total += db.execute(sql.for_rows(n), binds).await.unwrap();
    }
    total
}

async fn raw_returning(db: &Database, sql: &RawSql, rows: Vec<BenchUser>) -> Vec<Tuple> {
    let mut out = Vec::with_capacity(rows.len());
    for (n, binds) in chunks(rows, sql.per_statement) {
        let got: Vec<Tuple> = db.fetch_all(sql.for_rows(n), binds).await.unwrap();
        out.extend(got);
    }
    out
}

async fn raw_returning_id(db: &Database, sql: &RawSql, rows: Vec<BenchUser>) -> Vec<i64> {
    let mut out = Vec::with_capacity(rows.len());
    for (n, binds) in chunks(rows, sql.per_statement) {
        let got: Vec<i64> = db.fetch_all(sql.for_rows(n), binds).await.unwrap();
        out.extend(got);
    }
    out
}

async fn reset(db: &Database) {
    db.execute("DELETE FROM bench_users", ()).await.unwrap();
    if db.dialect() == Dialect::Postgres {
        db.execute("VACUUM bench_users", ()).await.unwrap();
    }
}

/// `iters` inserts, each into an emptied table; only the insert is timed.
fn timed<F, Fut, T>(rt: &Runtime, db: &Database, iters: u64, f: F) -> Duration
where
    F: Fn(Vec<BenchUser>) -> Fut,
    Fut: Future<Output = T>,
{
    let mut total = Duration::ZERO;
    for _ in 0..iters {
        rt.block_on(reset(db));
        let rows = input();
        let start = Instant::now();
        let out = rt.block_on(f(rows));
        total += start.elapsed();
        drop(out);
    }
    total
}

fn bench_backend(c: &mut Criterion, rt: &Runtime, db: &Database, backend: &str) {
    let dialect = db.dialect();
    let raw = RawSql::new(dialect, '$', false, "");
    // The statement insert_many renders: quoted names, the dialect's own
    // placeholders, RETURNING every column.
    let placeholder = if dialect == Dialect::Sqlite { '?' } else { '$' };
    let returning = RawSql::new(
        dialect,
        placeholder,
        true,
        " RETURNING \"id\", \"name\", \"email\", \"age\"",
    );
    let returning_id = RawSql::new(dialect, placeholder, true, " RETURNING \"id\"");

    // Sanity: every variant stores the same 10,000 rows.
    rt.block_on(async {
        let count = || async {
            let n: i64 = db
                .fetch_one("SELECT COUNT(*) FROM bench_users", ())
                .await
                .unwrap();
            n as usize
        };
        reset(db).await;
        let stored = BenchUser::insert_many(input(), db).await.unwrap();
        assert_eq!(stored.len(), ROWS);
        assert_eq!(count().await, ROWS);
        reset(db).await;
        assert_eq!(raw_execute(db, &raw, input()).await as usize, ROWS);
        assert_eq!(count().await, ROWS);
        reset(db).await;
        let got = raw_returning(db, &returning, input()).await;
        assert_eq!(got.len(), ROWS);
        assert_eq!(count().await, ROWS);
        let last = stored.last().unwrap();
        assert_eq!(
            got.last().map(|t| (&t.1, &t.2, t.3)),
            Some((&last.name, &last.email, last.age))
        );
        reset(db).await;
        let ids = raw_returning_id(db, &returning_id, input()).await;
        assert_eq!(ids.len(), ROWS);
        assert_eq!(count().await, ROWS);
    });

    let mut group = c.benchmark_group(format!("write_insert_10k_{backend}"));
    configure(&mut group);
    group.bench_function("orm_insert_many", |b| {
        b.iter_custom(|iters| {
            timed(rt, db, iters, |rows| async move {
                BenchUser::insert_many(rows, db).await.unwrap()
            })
        })
    });
    group.bench_function("raw_execute", |b| {
        b.iter_custom(|iters| timed(rt, db, iters, |rows| raw_execute(db, &raw, rows)))
    });
    group.bench_function("raw_returning", |b| {
        b.iter_custom(|iters| timed(rt, db, iters, |rows| raw_returning(db, &returning, rows)))
    });
    group.bench_function("raw_returning_id", |b| {
        b.iter_custom(|iters| {
            timed(rt, db, iters, |rows| {
                raw_returning_id(db, &returning_id, rows)
            })
        })
    });
    group.finish();
}

fn bench_sqlite(c: &mut Criterion, rt: &Runtime) {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("write.db").display());
    let db = rt.block_on(async {
        let db = Database::connect(&url).await.unwrap();
        db.execute(
            "CREATE TABLE bench_users (id INTEGER PRIMARY KEY, name TEXT NOT NULL, \
             email TEXT NOT NULL, age INTEGER NOT NULL)",
            (),
        )
        .await
        .unwrap();
        let mode: String = db.fetch_one("PRAGMA journal_mode", ()).await.unwrap();
        assert_eq!(mode.to_lowercase(), "wal");
        db
    });
    bench_backend(c, rt, &db, "sqlite");
    db.close();
}

fn bench_postgres(c: &mut Criterion, rt: &Runtime) {
    let Some(mut pg) = common::PgSchema::create("bench_write") else {
        return;
    };
    let schema = pg.name.clone();
    pg.setup(&format!(
        "CREATE TABLE {schema}.bench_users (id BIGINT GENERATED BY DEFAULT AS \
         IDENTITY PRIMARY KEY, name TEXT NOT NULL, email TEXT NOT NULL, age INTEGER NOT NULL)"
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

criterion_group!(write, benches);
criterion_main!(write);
