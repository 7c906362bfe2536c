//! What TLS costs a point-lookup-sized query (one bind, one row back): the
//! same statement through Sylvan over `sslmode=disable` and
//! `sslmode=require`, in the same run, alternating blocks so that drift on
//! the machine hits both alike.
//!
//! ```text
//! cargo run --release --example tls_cost
//! ```
//!
//! The server is `postgres://postgres@127.0.0.1:5432/test` unless
//! `SYLVAN_BENCH_PG` says otherwise; it needs `ssl = on`.

use std::time::{Duration, Instant};
use sylvan::prelude::*;
use sylvan::PoolConfig;
use sylvan::Result;

const ROUNDS: usize = 10;
const PER_ROUND: usize = 500;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<()> {
    let base = std::env::var("SYLVAN_BENCH_PG")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".to_owned());
    let sep = if base.contains('?') { '&' } else { '?' };
    let open = |mode: &str| {
        Database::builder(&format!("{base}{sep}sslmode={mode}"))
            .pool(PoolConfig::default().max_size(1))
            .connect()
    };
    let (plain, tls) = (open("disable").await?, open("require").await?);
    let mut times = [Duration::ZERO, Duration::ZERO];
    for round in 0..=ROUNDS {
        for (i, db) in [&plain, &tls].into_iter().enumerate() {
            let start = Instant::now();
            for n in 0..PER_ROUND {
                let v: i64 = db
                    .fetch_one("SELECT CAST($1 AS BIGINT)", (n as i64,))
                    .await?;
                assert_eq!(v, n as i64);
            }
            // Round 0 warms up (statement cache, connection).
            if round > 0 {
                times[i] += start.elapsed();
            }
        }
    }
    let per = |d: Duration| d.as_secs_f64() * 1e6 / (ROUNDS * PER_ROUND) as f64;
    let (p, t) = (per(times[0]), per(times[1]));
    println!(
        "point-lookup-sized query, {} each: sslmode=disable {p:.1} µs, sslmode=require {t:.1} µs ({:+.1} µs, {:.2}x)",
        ROUNDS * PER_ROUND,
        t - p,
        t / p
    );
    plain.close();
    tls.close();
    Ok(())
}
