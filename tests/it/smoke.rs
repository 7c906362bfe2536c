use crate::support::both;
use sylvan::prelude::*;

#[tokio::test]
async fn insert_and_select_on_both_backends() {
    both("smoke", |t| async move {
        t.db.execute(
            "CREATE TABLE s (id BIGINT PRIMARY KEY, name TEXT NOT NULL)",
            (),
        )
        .await
        .unwrap();
        t.db.execute("INSERT INTO s (id, name) VALUES ($1, $2)", (1_i64, "ada"))
            .await
            .unwrap();
        let name: String =
            t.db.fetch_one("SELECT name FROM s WHERE id = $1", (1_i64,))
                .await
                .unwrap();
        assert_eq!(name, "ada");
        t
    })
    .await;
}
