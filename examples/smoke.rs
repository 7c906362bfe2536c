use sylvan::prelude::*;
#[tokio::main]
async fn main() -> Result<()> {
    for url in ["sqlite::memory:", "postgres://postgres@127.0.0.1:5432/test"] {
        let db = Database::connect(url).await?;
        db.execute("DROP TABLE IF EXISTS smoke", ()).await?;
        db.execute("CREATE TABLE smoke (id BIGINT PRIMARY KEY, name TEXT NOT NULL, score DOUBLE PRECISION)", ()).await?;
        db.execute("INSERT INTO smoke (id, name, score) VALUES ($1, $2, $3)", (1_i64, "ada", 1.5_f64)).await?;
        db.execute("INSERT INTO smoke (id, name, score) VALUES ($1, $2, $3)", (2_i64, "bob", None::<f64>)).await?;
        let rows: Vec<(i64, String, Option<f64>)> = db.fetch_all("SELECT id, name, score FROM smoke ORDER BY id", ()).await?;
        println!("{url}: {rows:?}");
        let e = db.execute("INSERT INTO smoke (id, name) VALUES ($1, $2)", (1_i64, "dup")).await.unwrap_err();
        println!("  dup: {e} unique={}", e.is_unique_violation());
        let e = db.fetch_one::<i64, _>("SELECT name FROM smoke WHERE id = $1", (1_i64,)).await.unwrap_err();
        println!("  decode: {e}");
        let e = db.execute("INSERT INTO smoke (id, name) VALUES ($1, $2)", (5_i64,)).await.unwrap_err();
        println!("  binds: {e}");
        let e = db.execute("SELEC 1", ()).await.unwrap_err();
        println!("  syntax: {e}");
        let e = db.execute("INSERT INTO smoke (id, name) VALUES ($1, $2)", (u64::MAX, "x")).await.unwrap_err();
        println!("  u64: {e}");
        let r = db.execute("INSERT INTO smoke (id, name) VALUES ($1, $2)", (9_i64, "nul\0x")).await;
        println!("  nul: {r:?}");
        println!("  status: {:?}", db.status());
        db.execute("DROP TABLE smoke", ()).await?;
    }
    Ok(())
}
