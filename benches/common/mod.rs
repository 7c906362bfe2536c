//! Helpers every bench shares: the runtime, timing from a spawned task, a
//! WAL-mode rusqlite connection (the sync reference) and criterion settings.

#![allow(dead_code)]

pub mod table;

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

/// A fresh PostgreSQL schema for one bench, dropped when this is dropped
/// (even by a panic). The server is `SYLVAN_BENCH_PG`, or the local one.
pub struct PgSchema {
    admin: postgres::Client,
    /// The schema's name.
    pub name: String,
    /// The server URL with `search_path` set to the schema, and
    /// `sslmode=disable` unless the server URL sets it: the benches compare
    /// Sylvan with the sync driver over plaintext (`NoTls`).
    pub url: String,
}

impl PgSchema {
    /// Creates `<prefix>_<pid>`, or prints a note and returns `None` when
    /// the server is unreachable.
    pub fn create(prefix: &str) -> Option<PgSchema> {
        let base = std::env::var("SYLVAN_BENCH_PG")
            .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".to_owned());
        let mut admin = match postgres::Client::connect(&base, postgres::NoTls) {
            Ok(client) => client,
            Err(e) => {
                eprintln!(
                    "note: PostgreSQL unreachable at {base} ({e}); skipping the postgres groups"
                );
                return None;
            }
        };
        let name = format!("{prefix}_{}", std::process::id());
        admin
            .batch_execute(&format!(
                "DROP SCHEMA IF EXISTS {name} CASCADE; CREATE SCHEMA {name};"
            ))
            .expect("create schema");
        let sep = if base.contains('?') { '&' } else { '?' };
        // Plaintext, as the sync driver it is compared with (NoTls).
        let tls = if base.contains("sslmode=") {
            ""
        } else {
            "&sslmode=disable"
        };
        let url = format!("{base}{sep}options=-csearch_path%3D{name}{tls}");
        Some(PgSchema { admin, name, url })
    }

    /// Runs a setup script (tables, rows) as the admin connection.
    pub fn setup(&mut self, script: &str) {
        self.admin.batch_execute(script).expect("bench setup");
    }
}

impl Drop for PgSchema {
    fn drop(&mut self) {
        let sql = format!("DROP SCHEMA IF EXISTS {} CASCADE", self.name);
        if let Err(e) = self.admin.batch_execute(&sql) {
            eprintln!("note: could not drop schema {}: {e}", self.name);
        }
    }
}
