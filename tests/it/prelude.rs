//! `use sylvan::prelude::*` beside another glob that exports a `Result`
//! (as `anyhow::*` does) compiles: the prelude has no `Result`.

mod anyhow_like {
    pub type Result<T, E = String> = std::result::Result<T, E>;
}

use anyhow_like::*;
use sylvan::prelude::*;

fn parse(s: &str) -> Result<i64> {
    s.parse::<i64>().map_err(|e| e.to_string())
}

#[tokio::test]
async fn prelude_does_not_clash_with_another_result() {
    assert_eq!(parse("7"), Ok(7));
    assert!(parse("x").is_err());
    // The crate root still has `sylvan::Result`.
    let db: sylvan::Result<Database> = Database::connect("sqlite::memory:").await;
    let n: i64 = db.unwrap().fetch_one("SELECT 1", ()).await.unwrap();
    assert_eq!(n, 1);
}
