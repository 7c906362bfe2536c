//! The Sylvan tour: the API in five short steps, then the concurrency
//! comparison that is the point of an async ORM.
//!
//! ```sh
//! cargo run --release --example tour                  # embedded SQLite, no server needed
//! DATABASE_URL=postgres://postgres@127.0.0.1:5432/test \
//!     cargo run --release --example tour              # the same on PostgreSQL
//! ```
//!
//! SQLite runs on a file in a temporary directory. On PostgreSQL the tour
//! creates a schema of its own (`sylvan_tour_<pid>`), points every
//! connection at it with `options=-csearch_path=…`, and drops it at the end.
//!
//! The concurrency comparison (see `stall.rs`) runs point lookups by key,
//! with one slow query (~5 ms) in every 50, on a 2-worker multi-thread
//! tokio runtime, and measures throughput and how late a 1 ms ticker task
//! on the same runtime wakes up, for:
//! - Sylvan, async and pooled: 1, 8, 64 and 256 tasks on pools of 1, 4, 16;
//! - the naive pattern: the sync driver called from async tasks (4
//!   connections), which blocks runtime threads;
//! - the sync baseline: one thread, one connection, one query at a time;
//! - the ticker alone on an idle runtime (the floor).
//!
//! It prints a table, and writes `target/tour-results.json` and
//! `target/tour-chart.svg` (or under `$CARGO_TARGET_DIR`).
#![allow(clippy::unwrap_used)]

mod report;
mod stall;
mod walk;

use indicatif::{ProgressBar, ProgressStyle};
use report::{Results, Row, SlowQuery};
use stall::{Job, Naive, PgSync, SqliteSync, SyncDriver};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};
use sylvan::prelude::*;
use sylvan::{BoxError, PoolConfig};
use tokio::runtime::Runtime;

/// Generated users the load looks up.
const LOAD_USERS: usize = 10_000;
/// Concurrent tasks per row.
const TASKS: [usize; 4] = [1, 8, 64, 256];
/// Pool sizes for Sylvan.
const POOLS: [usize; 3] = [1, 4, 16];
/// Sync connections of the naive pattern.
const NAIVE_CONNS: usize = 4;
/// The ticker alone on an idle runtime, this long at the start and again
/// at the end.
const FLOOR_WINDOW: Duration = Duration::from_secs(1);
/// The point lookup, as Sylvan runs it on both backends.
const POINT_SQL: &str = "SELECT id, name FROM tour_user WHERE id = $1";

/// Where the tour runs.
enum Target {
    /// A file in a temporary directory.
    Sqlite { path: PathBuf },
    /// A fresh schema on a server.
    Postgres { base: String, schema: String },
}

impl Target {
    fn url(&self) -> String {
        match self {
            Target::Sqlite { path } => format!("sqlite://{}", path.display()),
            Target::Postgres { base, schema } => {
                let sep = if base.contains('?') { '&' } else { '?' };
                // Plaintext, like the sync driver it is compared with
                // (NoTls), unless the URL says otherwise.
                let tls = if base.contains("sslmode=") {
                    ""
                } else {
                    "&sslmode=disable"
                };
                format!("{base}{sep}options=-csearch_path%3D{schema}{tls}")
            }
        }
    }

    fn backend(&self) -> &'static str {
        match self {
            Target::Sqlite { .. } => "sqlite",
            Target::Postgres { .. } => "postgres",
        }
    }
}

/// `url` without its password.
fn redact(url: &str) -> String {
    match (url.find("://"), url.find('@')) {
        (Some(s), Some(at)) if at > s => match url[s + 3..at].find(':') {
            Some(colon) => format!("{}:***{}", &url[..s + 3 + colon], &url[at..]),
            None => url.to_owned(),
        },
        _ => url.to_owned(),
    }
}

/// Where results go: `$CARGO_TARGET_DIR` or this package's `target/`.
fn out_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("target"))
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort_unstable();
    v[v.len() / 2]
}

/// A recursive CTE counting to `n`: pure CPU inside SQLite.
fn sqlite_slow_sql(n: i64) -> String {
    format!(
        "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < {n}) \
         SELECT count(*) FROM c"
    )
}

/// Sizes the CTE to take about [`stall::SLOW_TARGET`] on this machine.
fn calibrate_sqlite(path: &Path) -> Result<(String, Duration), BoxError> {
    let conn = sylvan::rusqlite::Connection::open(path)?;
    let times = |n: i64, runs: usize| -> Result<Vec<Duration>, BoxError> {
        let sql = sqlite_slow_sql(n);
        let mut stmt = conn.prepare(&sql)?;
        let mut times = Vec::new();
        for _ in 0..runs {
            let start = Instant::now();
            let _: i64 = stmt.query_row([], |r| r.get(0))?;
            times.push(start.elapsed());
        }
        Ok(times)
    };
    // Sized on the median of a few runs: the machine is shared, so this is
    // what the query costs now, other programs included.
    let mut n: i64 = 20_000;
    for _ in 0..3 {
        let typical = median(times(n, 5)?);
        let scale = stall::SLOW_TARGET.as_secs_f64() / typical.as_secs_f64().max(1e-6);
        n = ((n as f64) * scale).clamp(1_000.0, 50_000_000.0) as i64;
    }
    Ok((sqlite_slow_sql(n), median(times(n, 7)?)))
}

fn slow_time(conn: &mut dyn SyncDriver) -> Duration {
    median(
        (0..7)
            .map(|_| {
                let start = Instant::now();
                conn.run(Job::Slow);
                start.elapsed()
            })
            .collect(),
    )
}

/// A sync connection of the backend, for the naive pattern and the baseline.
fn sync_conn(target: &Target, slow_sql: &str) -> Result<Box<dyn SyncDriver>, BoxError> {
    Ok(match target {
        Target::Sqlite { path } => Box::new(SqliteSync::open(path, slow_sql)?),
        Target::Postgres { .. } => Box::new(PgSync::connect(&target.url(), slow_sql)?),
    })
}

/// Sylvan's side of the workload: each job is one `fetch_one`.
fn sylvan_query(
    db: &Database,
    slow_sql: &str,
) -> impl Fn(Job) -> std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send>>
       + Clone
       + Send
       + Sync
       + 'static {
    let (db, slow): (Database, Arc<str>) = (db.clone(), slow_sql.into());
    move |job| {
        let (db, slow) = (db.clone(), Arc::clone(&slow));
        Box::pin(async move {
            match job {
                Job::Point(id) => {
                    let row: (i64, String) = db.fetch_one(POINT_SQL, (id,)).await.unwrap();
                    std::hint::black_box(row);
                }
                Job::Slow => {
                    let n: i64 = db.fetch_one(&slow, ()).await.unwrap();
                    std::hint::black_box(n);
                }
            }
        })
    }
}

/// Runs the concurrency comparison and returns its results.
fn compare(
    rt: &Runtime,
    target: &Target,
    keys: &Arc<Vec<i64>>,
    slow_sql: &str,
    slow_ms: f64,
) -> Result<Results, BoxError> {
    let url = target.url();
    let steps = 2 + POOLS.len() * TASKS.len() + TASKS.len() + 1;
    let bar = ProgressBar::new(steps as u64).with_style(ProgressStyle::with_template(
        "{spinner} [{elapsed_precise}] {bar:30} {pos}/{len} {msg}",
    )?);
    bar.enable_steady_tick(Duration::from_millis(200));

    bar.set_message("the ticker alone on an idle runtime (the floor)");
    let mut floor = stall::Floor::new();
    floor.sample(FLOOR_WINDOW)?;
    bar.inc(1);

    let mut rows = Vec::new();
    for pool in POOLS {
        let db = rt.block_on(
            Database::builder(&url)
                .pool(PoolConfig::default().max_size(pool))
                .connect(),
        )?;
        for tasks in TASKS {
            bar.set_message(format!("Sylvan async: {tasks} tasks, pool {pool}"));
            let m = stall::measure(rt, tasks, keys, sylvan_query(&db, slow_sql));
            rows.push(Row {
                variant: "sylvan",
                tasks,
                pool,
                qps: m.qps,
                vs_sync: f64::NAN,
                ticker: Some(m.ticker),
                cpu_wait: m.cpu_wait,
            });
            bar.inc(1);
        }
        db.close();
    }

    let conns = (0..NAIVE_CONNS)
        .map(|_| sync_conn(target, slow_sql))
        .collect::<Result<Vec<_>, _>>()?;
    let naive = Arc::new(match target {
        Target::Sqlite { .. } => Naive::in_task(conns),
        Target::Postgres { .. } => Naive::on_threads(conns),
    });
    for tasks in TASKS {
        bar.set_message(format!(
            "naive pattern: {tasks} tasks, {NAIVE_CONNS} sync connections"
        ));
        let naive = Arc::clone(&naive);
        let m = stall::measure(rt, tasks, keys, move |job| {
            let naive = Arc::clone(&naive);
            async move {
                naive.call(job); // blocks this runtime worker thread
                tokio::task::yield_now().await; // the rest of the request
            }
        });
        rows.push(Row {
            variant: "naive",
            tasks,
            pool: NAIVE_CONNS,
            qps: m.qps,
            vs_sync: f64::NAN,
            ticker: Some(m.ticker),
            cpu_wait: m.cpu_wait,
        });
        bar.inc(1);
    }
    drop(naive);

    bar.set_message("sync baseline: one thread, one connection");
    let mut conn = sync_conn(target, slow_sql)?;
    let qps = stall::sync_baseline(conn.as_mut(), keys);
    rows.push(Row {
        variant: "sync",
        tasks: 1,
        pool: 1,
        qps,
        vs_sync: 1.0,
        ticker: None,
        cpu_wait: None,
    });
    bar.inc(1);
    bar.set_message("the floor again");
    floor.sample(FLOOR_WINDOW)?;
    bar.inc(1);
    bar.finish_and_clear();

    let mut results = Results {
        backend: target.backend(),
        database: redact(&url),
        cpus: std::thread::available_parallelism().map_or(0, |n| n.get()),
        runtime_workers: stall::WORKERS,
        warmup_seconds: stall::WARMUP.as_secs_f64(),
        window_seconds: stall::CELL.as_secs_f64(),
        table_rows: keys.len(),
        slow_query: SlowQuery {
            sql: slow_sql.to_owned(),
            every: stall::SLOW_EVERY,
            median_ms: slow_ms,
        },
        floor: floor.lateness(),
        rows,
        headline: None,
        total_seconds: 0.0,
    };
    results.summarise(NAIVE_CONNS);
    Ok(results)
}

/// The tour on `target`, whose database is empty.
fn tour(rt: &Runtime, target: &Target, started: Instant) -> Result<(), BoxError> {
    let url = target.url();
    println!("Sylvan tour on {} ({})", target.backend(), redact(&url));
    let db = rt.block_on(
        Database::builder(&url)
            .pool(PoolConfig::default().max_size(4))
            .connect(),
    )?;
    rt.block_on(walk::walk(&db))?;

    println!("\n== 6. Concurrency: does waiting on the database stall the runtime?");
    let keys = Arc::new(rt.block_on(walk::seed_users(&db, LOAD_USERS))?);
    db.close();
    let (slow_sql, slow) = match target {
        Target::Sqlite { path } => calibrate_sqlite(path)?,
        Target::Postgres { .. } => {
            let sql = "SELECT count(*) FROM pg_sleep(0.005)".to_owned();
            let t = slow_time(sync_conn(target, &sql)?.as_mut());
            (sql, t)
        }
    };
    let slow_ms = slow.as_secs_f64() * 1e3;
    println!(
        "{} users to look up by key; the slow query takes {slow_ms:.1} ms alone:\n   {slow_sql}",
        keys.len()
    );
    println!("about {:.0} s to go...", steps_secs().ceil());
    let mut results = compare(rt, target, &keys, &slow_sql, slow_ms)?;
    results.total_seconds = started.elapsed().as_secs_f64();
    report::print_table(&results);

    let dir = out_dir();
    std::fs::create_dir_all(&dir)?;
    let (json, svg) = (dir.join("tour-results.json"), dir.join("tour-chart.svg"));
    report::write_json(&json, &results)?;
    report::write_chart(&svg, &results)?;
    println!("\nresults: {}\nchart:   {}", json.display(), svg.display());
    Ok(())
}

/// Rough length of the comparison, for the user.
fn steps_secs() -> f64 {
    let cells = (POOLS.len() * TASKS.len() + TASKS.len() + 1) as f64;
    cells * (stall::WARMUP + stall::CELL).as_secs_f64() + 2.0 * FLOOR_WINDOW.as_secs_f64()
}

fn main() -> Result<(), BoxError> {
    let started = Instant::now();
    let rt = stall::runtime()?;
    let dir = tempfile::tempdir()?;
    let target = match std::env::var("DATABASE_URL") {
        Ok(url) if url.starts_with("postgres://") || url.starts_with("postgresql://") => {
            Target::Postgres {
                base: url,
                schema: format!("sylvan_tour_{}", std::process::id()),
            }
        }
        Ok(url) if !url.is_empty() => {
            return Err(format!(
                "DATABASE_URL={} is not a postgres:// URL; unset it to tour embedded SQLite",
                redact(&url)
            )
            .into())
        }
        _ => Target::Sqlite {
            path: dir.path().join("tour.db"),
        },
    };
    // PostgreSQL: a schema of our own, dropped whatever happens.
    let admin = match &target {
        Target::Postgres { base, schema } => {
            let admin = rt.block_on(
                Database::builder(base)
                    .pool(PoolConfig::default().max_size(1))
                    .connect(),
            )?;
            rt.block_on(admin.execute(&format!("CREATE SCHEMA {schema}"), ()))?;
            Some((admin, schema.clone()))
        }
        Target::Sqlite { .. } => None,
    };
    let result = tour(&rt, &target, started);
    if let Some((admin, schema)) = admin {
        rt.block_on(admin.execute(&format!("DROP SCHEMA {schema} CASCADE"), ()))?;
        admin.close();
    }
    result?;
    println!("\ntotal {:.1} s", started.elapsed().as_secs_f64());
    Ok(())
}
