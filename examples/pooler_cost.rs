//! What `pooler=transaction` costs: unnamed statements (parsed and planned
//! by the server every time) against Sylvan's cached prepared statements.
//!
//! Two workloads, each timed in interleaved rounds (a warm-up round, then 7
//! timed ones) on one connection: a point lookup (`SELECT … WHERE id = $1`)
//! and a 1,000-row load. Variants: a direct connection with prepared
//! statements (the reference), the same with `pooler=transaction`, and, when
//! `SYLVAN_BENCH_PGBOUNCER` names a PgBouncer in front of the same database
//! (e.g. `postgres://postgres@127.0.0.1:6432/test`), through it with the
//! setting on. The table shows the median per operation, the fastest and
//! slowest round, and the ratio to the reference.
//!
//! Run with `cargo run --release --example pooler_cost`. PostgreSQL is at
//! `postgres://postgres@127.0.0.1:5432/test` unless `SYLVAN_BENCH_PG` says
//! otherwise.
#![allow(clippy::unwrap_used)]

use std::time::{Duration, Instant};
use sylvan::prelude::*;
use sylvan::PoolConfig;

const ROWS: i64 = 10_000;
const ROUNDS: usize = 7;
const POINT_PER_ROUND: u64 = 2_000;
const LOAD_PER_ROUND: u64 = 40;

async fn connect(url: &str) -> Database {
    Database::builder(url)
        .pool(PoolConfig::default().max_size(1))
        .connect()
        .await
        .unwrap_or_else(|e| panic!("{url}: {e}"))
}

fn with(url: &str, params: &str) -> String {
    let sep = if url.contains('?') { '&' } else { '?' };
    format!("{url}{sep}{params}")
}

async fn point(db: &Database, table: &str, n: u64) -> Duration {
    let sql = format!("SELECT id, name FROM {table} WHERE id = $1");
    let start = Instant::now();
    for i in 0..n {
        let id = (i as i64 * 7919) % ROWS + 1;
        let (got, _): (i64, String) = db.fetch_one(&sql, (id,)).await.unwrap();
        assert_eq!(got, id);
    }
    start.elapsed()
}

async fn load(db: &Database, table: &str, n: u64) -> Duration {
    let sql =
        format!("SELECT id, name, qty, price FROM {table} WHERE id > $1 ORDER BY id LIMIT 1000");
    let start = Instant::now();
    for i in 0..n {
        let from = (i as i64 * 997) % (ROWS - 1000);
        let rows: Vec<(i64, String, i32, f64)> = db.fetch_all(&sql, (from,)).await.unwrap();
        assert_eq!(rows.len(), 1000);
    }
    start.elapsed()
}

/// Medians (µs per op), fastest and slowest round, per variant.
fn table(title: &str, names: &[&str], per_op: &mut [Vec<f64>]) {
    println!("\n{title}");
    println!(
        "{:<28} {:>10} {:>9} {:>9} {:>7}",
        "variant", "median µs", "min", "max", "ratio"
    );
    let mut reference = 0.0;
    for (i, v) in per_op.iter_mut().enumerate() {
        v.sort_by(f64::total_cmp);
        let median = v[v.len() / 2];
        if i == 0 {
            reference = median;
        }
        println!(
            "{:<28} {:>10.1} {:>9.1} {:>9.1} {:>6.2}x",
            names[i],
            median,
            v[0],
            v[v.len() - 1],
            median / reference
        );
    }
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let pg = std::env::var("SYLVAN_BENCH_PG")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into());
    let table = format!("pooler_cost_{}", std::process::id());
    let mut names = vec!["direct, prepared", "direct, pooler=transaction"];
    let mut dbs = vec![
        connect(&pg).await,
        connect(&with(&pg, "pooler=transaction")).await,
    ];
    match std::env::var("SYLVAN_BENCH_PGBOUNCER") {
        Ok(url) => {
            names.push("pgbouncer, pooler=transaction");
            dbs.push(connect(&with(&url, "pooler=transaction")).await);
        }
        Err(_) => println!("(set SYLVAN_BENCH_PGBOUNCER to a PgBouncer URL for the third variant)"),
    }
    let setup = &dbs[0];
    setup
        .execute(
            &format!("CREATE TABLE {table} (id BIGINT PRIMARY KEY, name TEXT NOT NULL, qty INTEGER NOT NULL, price DOUBLE PRECISION NOT NULL)"),
            (),
        )
        .await
        .unwrap();
    setup
        .execute(
            &format!("INSERT INTO {table} SELECT g, 'name ' || g, g % 100, g * 0.5 FROM generate_series(1, $1::bigint) g"),
            (ROWS,),
        )
        .await
        .unwrap();
    setup
        .execute(&format!("ANALYZE {table}"), ())
        .await
        .unwrap();

    let mut point_us = vec![Vec::new(); dbs.len()];
    let mut load_us = vec![Vec::new(); dbs.len()];
    for round in 0..=ROUNDS {
        let (p, l) = if round == 0 {
            (POINT_PER_ROUND / 4, LOAD_PER_ROUND / 4)
        } else {
            (POINT_PER_ROUND, LOAD_PER_ROUND)
        };
        for (i, db) in dbs.iter().enumerate() {
            let tp = point(db, &table, p).await;
            let tl = load(db, &table, l).await;
            if round > 0 {
                point_us[i].push(tp.as_secs_f64() * 1e6 / p as f64);
                load_us[i].push(tl.as_secs_f64() * 1e6 / l as f64);
            }
        }
    }
    table_out(&names, &mut point_us, &mut load_us);
    setup
        .execute(&format!("DROP TABLE {table}"), ())
        .await
        .unwrap();
}

fn table_out(names: &[&str], point_us: &mut [Vec<f64>], load_us: &mut [Vec<f64>]) {
    table(
        &format!("point lookup ({ROUNDS} rounds x {POINT_PER_ROUND}, interleaved)"),
        names,
        point_us,
    );
    table(
        &format!("1,000-row load ({ROUNDS} rounds x {LOAD_PER_ROUND}, interleaved)"),
        names,
        load_us,
    );
}
