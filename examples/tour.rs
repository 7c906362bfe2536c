//! A short tour of Sylvan on embedded SQLite (no server needed).
//!
//! ```sh
//! cargo run --release --example tour
//! DATABASE_URL=postgres://postgres@127.0.0.1:5432/test cargo run --release --example tour
//! ```

use std::time::{Duration, Instant};
use sylvan::prelude::*;
use sylvan::{Model, OptionalExt, PoolConfig};

#[derive(Debug, Model)]
#[model(table = "tour_users")]
struct User {
    id: i64,
    name: String,
    email: String,
    age: Option<i32>,
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let dir = tempfile::tempdir()?;
    let url = std::env::var("DATABASE_URL")
        .unwrap_or_else(|_| format!("sqlite://{}", dir.path().join("tour.db").display()));
    println!("Sylvan tour on {url}\n");

    let db = Database::builder(&url)
        .pool(PoolConfig::default().max_size(4))
        .connect()
        .await?;
    println!(
        "1. Connected: {} backend, pool {:?}",
        db.dialect().name(),
        db.status()
    );

    db.execute("DROP TABLE IF EXISTS tour_users", ()).await?;
    db.execute(
        "CREATE TABLE tour_users (id BIGINT PRIMARY KEY, name TEXT NOT NULL, \
         email TEXT NOT NULL UNIQUE, age INTEGER)",
        (),
    )
    .await?;

    // Many inserts on one checked-out connection, inside one transaction.
    let start = Instant::now();
    let conn = db.acquire().await?;
    conn.execute("BEGIN", ()).await?;
    for id in 1..=1_000_i64 {
        let age = (id % 7 != 0).then_some(18 + (id % 50) as i32);
        conn.execute(
            "INSERT INTO tour_users (id, name, email, age) VALUES ($1, $2, $3, $4)",
            (
                id,
                format!("user {id}"),
                format!("user{id}@example.com"),
                age,
            ),
        )
        .await?;
    }
    conn.execute("COMMIT", ()).await?;
    drop(conn);
    println!(
        "2. Inserted 1,000 users with bind parameters in {:?}",
        start.elapsed()
    );

    let adults: i64 = db
        .fetch_one("SELECT count(*) FROM tour_users WHERE age >= $1", (30,))
        .await?;
    println!("3. {adults} users are 30 or older");

    let sql = format!(
        "SELECT {} FROM tour_users WHERE id = $1",
        User::COLUMNS.join(", ")
    );
    let user: User = db.fetch_one(&sql, (42_i64,)).await?;
    println!("4. Decoded into a #[derive(Model)] struct: {user:?}");

    let missing: Option<User> = db.fetch_one(&sql, (5_000_i64,)).await.optional()?;
    println!("5. A missing row is Error::NotFound, or None with .optional(): {missing:?}");

    let dup = db
        .execute(
            "INSERT INTO tour_users (id, name, email) VALUES ($1, $2, $3)",
            (2_000_i64, "again", "user1@example.com"),
        )
        .await
        .expect_err("duplicate email");
    println!(
        "6. Typed errors: unique violation? {} — {dup}",
        dup.is_unique_violation()
    );

    let too_big = db
        .execute(
            "INSERT INTO tour_users (id, name, email) VALUES ($1, $2, $3)",
            (u64::MAX, "x", "y"),
        )
        .await
        .expect_err("u64::MAX does not fit");
    println!("7. Values are never silently changed: {too_big}");

    // 64 tasks share a pool of 4; waiting on the database never blocks a
    // runtime thread, so a ticker keeps ticking.
    let ticker = tokio::spawn(async {
        let mut late = Duration::ZERO;
        let mut interval = tokio::time::interval(Duration::from_millis(1));
        let mut last = Instant::now();
        for _ in 0..500 {
            interval.tick().await;
            late = late.max(last.elapsed().saturating_sub(Duration::from_millis(1)));
            last = Instant::now();
        }
        late
    });
    let start = Instant::now();
    let mut tasks = Vec::new();
    for t in 0..64_i64 {
        let db = db.clone();
        tasks.push(tokio::spawn(async move {
            for i in 0..200_i64 {
                let id = (t * 200 + i) % 1_000 + 1;
                let _: String = db
                    .fetch_one("SELECT name FROM tour_users WHERE id = $1", (id,))
                    .await?;
            }
            Ok::<_, sylvan::Error>(())
        }));
    }
    for task in tasks {
        task.await??;
    }
    let elapsed = start.elapsed();
    let worst_tick = ticker.await?;
    println!(
        "8. 64 tasks x 200 point lookups on a pool of 4: {:.0} queries/s; worst ticker delay {:?}",
        12_800.0 / elapsed.as_secs_f64(),
        worst_tick
    );
    println!("   pool after the run: {:?}", db.status());

    db.execute("DROP TABLE tour_users", ()).await?;
    db.close();
    println!("\nDone.");
    Ok(())
}
