//! Helpers every bench shares: the runtime, timing from a spawned task, a
//! WAL-mode rusqlite connection (the sync reference) and criterion settings.

#![allow(dead_code)]

use criterion::measurement::WallTime;
use criterion::BenchmarkGroup;
use std::future::Future;
use std::path::Path;
use std::time::{Duration, Instant};
use tokio::runtime::Runtime;

/// A 2-worker multi-thread runtime, as on the 2-core machines we target.
pub fn runtime() -> Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("tokio runtime")
}

/// Runs `iters` awaits of `f` in one spawned task and returns its elapsed
/// time (a task, not `block_on`: how services call the database).
pub fn spawned<F, Fut>(rt: &Runtime, iters: u64, f: F) -> Duration
where
    F: Fn() -> Fut + Send + 'static,
    Fut: Future<Output = ()> + Send,
{
    rt.block_on(async move {
        tokio::spawn(async move {
            let start = Instant::now();
            for _ in 0..iters {
                f().await;
            }
            start.elapsed()
        })
        .await
        .expect("bench task")
    })
}

/// A rusqlite connection on `path` in WAL mode with `synchronous = NORMAL`
/// and foreign keys on, as Sylvan opens its own.
pub fn open_wal(path: &Path) -> rusqlite::Connection {
    let conn = rusqlite::Connection::open(path).expect("open sqlite");
    let mode: String = conn
        .query_row("PRAGMA journal_mode=WAL", [], |r| r.get(0))
        .expect("WAL");
    assert_eq!(mode.to_lowercase(), "wal");
    conn.execute_batch("PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON;")
        .expect("pragmas");
    conn
}

/// Small criterion settings, so a bench finishes in minutes on 2 cores.
pub fn configure(group: &mut BenchmarkGroup<'_, WallTime>, measure: Duration, samples: usize) {
    group
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(measure)
        .sample_size(samples);
}
