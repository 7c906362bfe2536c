//! What it costs to hand a point lookup to another thread and back.
//!
//! Measures one-row `SELECT … WHERE id = $1` lookups with its own timing
//! loop: the variants run interleaved in rounds (a warm-up round, then 7
//! rounds of 2,000 lookups each) and the table shows the median per-op time
//! per variant, with the fastest and slowest round, and the ratio to the sync
//! driver used directly. Then 64 concurrent tasks on a pool of 4 for ~2 s,
//! next to a single-thread sync loop. Every line also shows the process CPU
//! time per lookup (all threads: callers, runtime, SQLite workers), as a
//! ratio to the sync driver's: the price of the hand-off in CPU.
//!
//! Run with `cargo run --release --example hop`. An argument keeps only
//! the variants whose name contains it (plus the reference) and skips the
//! throughput runs: `… --example hop -- "worker, spawned"` isolates one
//! variant for a profiler. PostgreSQL is at
//! `postgres://postgres@127.0.0.1:5432/test` unless `SYLVAN_BENCH_PG` says
//! otherwise; if unreachable its part is skipped with a note.
#![allow(clippy::unwrap_used)]

use std::future::Future;
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use sylvan::prelude::*;
use sylvan::rusqlite;
use table::Sample;
use tokio::runtime::Runtime;

#[path = "../benches/common/table.rs"]
mod table;

type BoxError = Box<dyn std::error::Error + Send + Sync>;

const ROWS: i64 = 10_000;
const ROUNDS: usize = 7;
const PER_ROUND: u64 = 2_000;
const TASKS: usize = 64;
const POOL: usize = 4;
const LOAD_FOR: Duration = Duration::from_secs(2);
const SYNC_FOR: Duration = Duration::from_secs(1);
const PG_BASE: &str = "postgres://postgres@127.0.0.1:5432/test";
const POINT_SQL: &str = "SELECT id, name FROM users WHERE id = $1";
const POINT_SQL_SQLITE: &str = "SELECT id, name FROM users WHERE id = ?1";

/// The ORM's view of the `users` table (its `email` column is not loaded).
#[derive(Debug, sylvan::Model)]
#[model(table = "users")]
struct User {
    id: i64,
    name: String,
}

/// A key that walks the whole table.
fn next_id(counter: &AtomicI64) -> i64 {
    counter.fetch_add(7919, Ordering::Relaxed) % ROWS + 1
}

/// One way of doing `n` lookups; returns the elapsed time.
type Variant<'a> = (&'static str, Box<dyn FnMut(u64) -> Sample + 'a>);

/// Runs `n` lookups made by `f` in one spawned task, timed inside the task
/// (the process's CPU time is taken around it all).
fn in_spawned_task<F, Fut>(rt: &Runtime, n: u64, f: F) -> Sample
where
    F: Fn() -> Fut + Send + 'static,
    Fut: Future<Output = ()> + Send,
{
    with_cpu(|| {
        rt.block_on(async move {
            tokio::spawn(async move {
                let start = Instant::now();
                for _ in 0..n {
                    f().await;
                }
                start.elapsed()
            })
            .await
            .unwrap()
        })
    })
}

/// Runs `n` lookups made by `f` awaited directly inside `block_on`.
fn in_block_on<F, Fut>(rt: &Runtime, n: u64, f: F) -> Sample
where
    F: Fn() -> Fut,
    Fut: Future<Output = ()>,
{
    with_cpu(|| {
        rt.block_on(async move {
            let start = Instant::now();
            for _ in 0..n {
                f().await;
            }
            start.elapsed()
        })
    })
}

/// The wall time `f` measured itself, with the process CPU time around it.
fn with_cpu(f: impl FnOnce() -> Duration) -> Sample {
    let cpu = table::process_cpu();
    let wall = f();
    Sample {
        wall,
        cpu: table::process_cpu().saturating_sub(cpu),
    }
}

/// Runs the variants interleaved and prints the table; the first variant is
/// the reference.
fn measure(title: &str, variants: Vec<Variant<'_>>) {
    let mut variants: Vec<table::Variant<'_>> = variants
        .into_iter()
        .enumerate()
        .filter(|(i, (name, _))| *i == 0 || filter().is_none_or(|f| name.contains(f.as_str())))
        .map(|(_, (name, run))| (name.to_owned(), run))
        .collect();
    let lines = table::interleave(&mut variants, ROUNDS, PER_ROUND);
    table::print(
        &format!("{title} ({ROUNDS} rounds x {PER_ROUND} lookups, interleaved)"),
        &lines,
    );
}

/// The variant filter given on the command line, if any.
fn filter() -> Option<String> {
    std::env::args().nth(1)
}

/// Queries per second, and process CPU time per query in µs.
type Rate = (f64, f64);

/// 64 tasks doing point lookups on `db` for `LOAD_FOR`.
fn throughput(rt: &Runtime, db: &Database) -> Rate {
    let count = Arc::new(AtomicU64::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let counter = Arc::new(AtomicI64::new(0));
    let run = |d: Duration| {
        count.store(0, Ordering::Relaxed);
        stop.store(false, Ordering::Relaxed);
        rt.block_on(async {
            let tasks: Vec<_> = (0..TASKS)
                .map(|_| {
                    let (db, count, stop, counter) = (
                        db.clone(),
                        Arc::clone(&count),
                        Arc::clone(&stop),
                        Arc::clone(&counter),
                    );
                    tokio::spawn(async move {
                        while !stop.load(Ordering::Relaxed) {
                            let _: (i64, String) =
                                db.fetch_one(POINT_SQL, (next_id(&counter),)).await.unwrap();
                            count.fetch_add(1, Ordering::Relaxed);
                        }
                    })
                })
                .collect();
            let (start, cpu) = (Instant::now(), table::process_cpu());
            tokio::time::sleep(d).await;
            stop.store(true, Ordering::Relaxed);
            let n = count.load(Ordering::Relaxed);
            let (elapsed, cpu) = (start.elapsed(), table::process_cpu().saturating_sub(cpu));
            for t in tasks {
                t.await.unwrap();
            }
            (
                n as f64 / elapsed.as_secs_f64(),
                cpu.as_secs_f64() * 1e6 / n as f64,
            )
        })
    };
    run(Duration::from_millis(300)); // fill the pool, warm the caches
    run(LOAD_FOR)
}

/// A single-thread sync loop of lookups for `SYNC_FOR`.
fn sync_loop(mut lookup: impl FnMut(i64)) -> Rate {
    let counter = AtomicI64::new(0);
    let (start, cpu) = (Instant::now(), table::process_cpu());
    let mut n = 0u64;
    while start.elapsed() < SYNC_FOR {
        for _ in 0..100 {
            lookup(next_id(&counter));
        }
        n += 100;
    }
    let cpu = table::process_cpu().saturating_sub(cpu);
    (
        n as f64 / start.elapsed().as_secs_f64(),
        cpu.as_secs_f64() * 1e6 / n as f64,
    )
}

/// Prints the throughput line of one backend.
fn print_rate(backend: &str, sylvan: Rate, sync: Rate) {
    println!(
        "{backend} throughput: sylvan {TASKS} tasks / pool {POOL}: {:>9.0} q/s, {:.2} µs CPU/q; \
         single-thread sync loop: {:>9.0} q/s, {:.2} µs CPU/q ({:.2}x the q/s, {:.2}x the CPU/q)",
        sylvan.0,
        sylvan.1,
        sync.0,
        sync.1,
        sylvan.0 / sync.0,
        sylvan.1 / sync.1,
    );
}

fn open_wal(path: &Path) -> Result<rusqlite::Connection, BoxError> {
    let conn = rusqlite::Connection::open(path)?;
    let mode: String = conn.query_row("PRAGMA journal_mode=WAL", [], |r| r.get(0))?;
    if !mode.eq_ignore_ascii_case("wal") {
        return Err(format!("journal_mode is {mode}").into());
    }
    conn.execute_batch("PRAGMA synchronous = NORMAL;")?;
    Ok(conn)
}

fn rusqlite_point(conn: &rusqlite::Connection, id: i64) -> (i64, String) {
    let mut stmt = conn.prepare_cached(POINT_SQL_SQLITE).unwrap();
    stmt.query_row([id], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap()
}

fn sqlite(rt: &Runtime) -> Result<(), BoxError> {
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("hop.db");
    let mut conn = open_wal(&path)?;
    conn.execute_batch(
        "CREATE TABLE users (id INTEGER PRIMARY KEY, name TEXT NOT NULL, email TEXT NOT NULL)",
    )?;
    let tx = conn.transaction()?;
    {
        let mut stmt = tx.prepare("INSERT INTO users (id, name, email) VALUES (?1, ?2, ?3)")?;
        for i in 1..=ROWS {
            stmt.execute((i, format!("user {i}"), format!("user{i}@example.com")))?;
        }
    }
    tx.commit()?;
    let direct = conn;
    let shared = Arc::new(Mutex::new(open_wal(&path)?));
    let url = format!("sqlite://{}", path.display());
    let db = rt.block_on(Database::connect(&url))?;
    let counter = Arc::new(AtomicI64::new(0));

    let sylvan = |db: &Database, counter: &Arc<AtomicI64>| {
        let (db, counter) = (db.clone(), Arc::clone(counter));
        move || {
            let db = db.clone();
            let id = next_id(&counter);
            async move {
                let row: (i64, String) = db.fetch_one(POINT_SQL, (id,)).await.unwrap();
                std::hint::black_box(row);
            }
        }
    };
    let orm = |db: &Database, counter: &Arc<AtomicI64>| {
        let (db, counter) = (db.clone(), Arc::clone(counter));
        move || {
            let db = db.clone();
            let id = next_id(&counter);
            async move {
                use sylvan::Model;
                let user = User::get(&db, id).await.unwrap();
                std::hint::black_box(user);
            }
        }
    };
    let blocking = |shared: &Arc<Mutex<rusqlite::Connection>>, counter: &Arc<AtomicI64>| {
        let (shared, counter) = (Arc::clone(shared), Arc::clone(counter));
        move || {
            let shared = Arc::clone(&shared);
            let id = next_id(&counter);
            async move {
                let row = tokio::task::spawn_blocking(move || {
                    rusqlite_point(&shared.lock().unwrap(), id)
                })
                .await
                .unwrap();
                std::hint::black_box(row);
            }
        }
    };
    let in_place = |shared: &Arc<Mutex<rusqlite::Connection>>, counter: &Arc<AtomicI64>| {
        let (shared, counter) = (Arc::clone(shared), Arc::clone(counter));
        move || {
            let shared = Arc::clone(&shared);
            let id = next_id(&counter);
            async move {
                let row =
                    tokio::task::block_in_place(|| rusqlite_point(&shared.lock().unwrap(), id));
                std::hint::black_box(row);
            }
        }
    };
    let variants: Vec<Variant<'_>> = vec![
        (
            "rusqlite direct (sync)",
            Box::new(|n| {
                table::sample(|| {
                    for _ in 0..n {
                        std::hint::black_box(rusqlite_point(&direct, next_id(&counter)));
                    }
                })
            }),
        ),
        (
            "sylvan worker, block_on",
            Box::new(|n| in_block_on(rt, n, sylvan(&db, &counter))),
        ),
        (
            "sylvan worker, spawned task",
            Box::new(|n| in_spawned_task(rt, n, sylvan(&db, &counter))),
        ),
        (
            "sylvan ORM User::get, spawned task",
            Box::new(|n| in_spawned_task(rt, n, orm(&db, &counter))),
        ),
        (
            "spawn_blocking+mutex, block_on",
            Box::new(|n| in_block_on(rt, n, blocking(&shared, &counter))),
        ),
        (
            "spawn_blocking+mutex, spawned task",
            Box::new(|n| in_spawned_task(rt, n, blocking(&shared, &counter))),
        ),
        (
            "block_in_place+mutex, spawned task",
            Box::new(|n| in_spawned_task(rt, n, in_place(&shared, &counter))),
        ),
    ];
    measure("SQLite point lookup (WAL file, 10k rows)", variants);

    if filter().is_some() {
        return Ok(());
    }
    let pooled = rt.block_on(
        Database::builder(&url)
            .pool(sylvan::PoolConfig::default().max_size(POOL))
            .connect(),
    )?;
    let sync_qps = sync_loop(|id| {
        std::hint::black_box(rusqlite_point(&direct, id));
    });
    let async_qps = throughput(rt, &pooled);
    print_rate(
        &format!("SQLite (1 writer + {} readers)", POOL - 1),
        async_qps,
        sync_qps,
    );
    pooled.close();
    db.close();
    Ok(())
}

fn postgres(rt: &Runtime) -> Result<(), BoxError> {
    let base = std::env::var("SYLVAN_BENCH_PG").unwrap_or_else(|_| PG_BASE.to_owned());
    let mut admin = match postgres::Client::connect(&base, postgres::NoTls) {
        Ok(client) => client,
        Err(e) => {
            println!("\nnote: PostgreSQL unreachable at {base} ({e}); skipping its part");
            return Ok(());
        }
    };
    let schema = format!("bench_hop_{}", std::process::id());
    admin.batch_execute(&format!(
        "DROP SCHEMA IF EXISTS {schema} CASCADE; CREATE SCHEMA {schema};
         CREATE TABLE {schema}.users (id BIGINT PRIMARY KEY, name TEXT NOT NULL, email TEXT NOT NULL);
         INSERT INTO {schema}.users SELECT g, 'user ' || g, 'user' || g || '@example.com'
           FROM generate_series(1, {ROWS}) g;
         ANALYZE {schema}.users;"
    ))?;
    let result = postgres_in(rt, &base, &schema);
    admin.batch_execute(&format!("DROP SCHEMA {schema} CASCADE"))?;
    result
}

fn postgres_in(rt: &Runtime, base: &str, schema: &str) -> Result<(), BoxError> {
    let sep = if base.contains('?') { '&' } else { '?' };
    // Plaintext for all three (the drivers used directly run with NoTls),
    // so the comparison is like for like.
    let tls = if base.contains("sslmode=") {
        ""
    } else {
        "&sslmode=disable"
    };
    let url = format!("{base}{sep}options=-csearch_path%3D{schema}{tls}");
    let mut sync = postgres::Client::connect(&url, postgres::NoTls)?;
    let stmt = sync.prepare(POINT_SQL)?;
    let db = rt.block_on(Database::connect(&url))?;
    // The async driver under Sylvan, used directly: the floor for Sylvan.
    let raw = rt.block_on(async {
        let (client, connection) = tokio_postgres::connect(&url, tokio_postgres::NoTls).await?;
        tokio::spawn(connection);
        let stmt = client.prepare(POINT_SQL).await?;
        Ok::<_, tokio_postgres::Error>((Arc::new(client), stmt))
    })?;
    let counter = Arc::new(AtomicI64::new(0));

    let sylvan = |db: &Database, counter: &Arc<AtomicI64>| {
        let (db, counter) = (db.clone(), Arc::clone(counter));
        move || {
            let db = db.clone();
            let id = next_id(&counter);
            async move {
                let row: (i64, String) = db.fetch_one(POINT_SQL, (id,)).await.unwrap();
                std::hint::black_box(row);
            }
        }
    };
    let orm = |db: &Database, counter: &Arc<AtomicI64>| {
        let (db, counter) = (db.clone(), Arc::clone(counter));
        move || {
            let db = db.clone();
            let id = next_id(&counter);
            async move {
                use sylvan::Model;
                let user = User::get(&db, id).await.unwrap();
                std::hint::black_box(user);
            }
        }
    };
    let tokio_pg = |counter: &Arc<AtomicI64>| {
        let (client, stmt, counter) = (Arc::clone(&raw.0), raw.1.clone(), Arc::clone(counter));
        move || {
            let (client, stmt) = (Arc::clone(&client), stmt.clone());
            let id = next_id(&counter);
            async move {
                let row = client.query_one(&stmt, &[&id]).await.unwrap();
                std::hint::black_box((row.get::<_, i64>(0), row.get::<_, String>(1)));
            }
        }
    };
    let mut sync_lookup = |id: i64| {
        let row = sync.query_one(&stmt, &[&id]).unwrap();
        std::hint::black_box((row.get::<_, i64>(0), row.get::<_, String>(1)));
    };
    let variants: Vec<Variant<'_>> = vec![
        (
            "postgres sync",
            Box::new(|n| {
                table::sample(|| {
                    for _ in 0..n {
                        sync_lookup(next_id(&counter));
                    }
                })
            }),
        ),
        (
            "sylvan, block_on",
            Box::new(|n| in_block_on(rt, n, sylvan(&db, &counter))),
        ),
        (
            "sylvan, spawned task",
            Box::new(|n| in_spawned_task(rt, n, sylvan(&db, &counter))),
        ),
        (
            "sylvan ORM User::get, spawned task",
            Box::new(|n| in_spawned_task(rt, n, orm(&db, &counter))),
        ),
        (
            "tokio-postgres direct, spawned task",
            Box::new(|n| in_spawned_task(rt, n, tokio_pg(&counter))),
        ),
    ];
    measure("PostgreSQL point lookup (10k rows, local TCP)", variants);

    if filter().is_some() {
        return Ok(());
    }
    let pooled = rt.block_on(
        Database::builder(&url)
            .pool(sylvan::PoolConfig::default().max_size(POOL))
            .connect(),
    )?;
    let sync_qps = sync_loop(|id| {
        let row = sync.query_one(&stmt, &[&id]).unwrap();
        std::hint::black_box((row.get::<_, i64>(0), row.get::<_, String>(1)));
    });
    let async_qps = throughput(rt, &pooled);
    print_rate("PostgreSQL", async_qps, sync_qps);
    pooled.close();
    db.close();
    Ok(())
}

fn main() -> Result<(), BoxError> {
    let started = Instant::now();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    sqlite(&rt)?;
    postgres(&rt)?;
    println!("\ntotal {:.1} s", started.elapsed().as_secs_f64());
    Ok(())
}
