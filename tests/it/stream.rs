//! Row streams on both backends: rows arrive one at a time, a dropped
//! stream gives its connection back, errors end the stream.

use crate::support::{both, both_with, Kind};
use sylvan::prelude::*;
use sylvan::{PoolConfig, StreamExt};

const COUNT_TO: &str =
    "WITH RECURSIVE n(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM n WHERE x < $1) SELECT x FROM n";

fn count_to(kind: Kind) -> String {
    match kind {
        Kind::Sqlite => COUNT_TO.to_owned(),
        Kind::Postgres => COUNT_TO.replace("$1", "CAST($1 AS BIGINT)"),
    }
}

#[tokio::test]
async fn a_stream_yields_every_row_in_order() {
    both("stream_all", |t| async move {
        let mut rows =
            t.db.fetch_stream::<i64, _>(&count_to(t.kind), (50_000_i64,));
        let mut expected = 1;
        while let Some(x) = rows.next().await {
            assert_eq!(x.unwrap(), expected);
            expected += 1;
        }
        assert_eq!(expected, 50_001);
        t
    })
    .await;
}

#[tokio::test]
async fn a_dropped_stream_returns_its_connection() {
    both_with(
        "stream_drop",
        PoolConfig::default().max_size(2),
        |t| async move {
            for _ in 0..20 {
                let mut rows =
                    t.db.fetch_stream::<i64, _>(&count_to(t.kind), (10_000_000_i64,));
                assert_eq!(rows.next().await.unwrap().unwrap(), 1);
                drop(rows);
            }
            // The pool still serves, quickly.
            let n: i64 = tokio::time::timeout(
                std::time::Duration::from_secs(10),
                t.db.fetch_one("SELECT CAST($1 AS BIGINT)", (7_i64,)),
            )
            .await
            .expect("pool healthy after dropped streams")
            .unwrap();
            assert_eq!(n, 7);
            t
        },
    )
    .await;
}

#[tokio::test]
async fn a_decode_error_ends_the_stream() {
    both("stream_err", |t| async move {
        t.db.execute("CREATE TABLE s (v TEXT)", ()).await.unwrap();
        t.db.execute("INSERT INTO s (v) VALUES ($1), ($2)", ("a", "b"))
            .await
            .unwrap();
        let items: Vec<sylvan::Result<i64>> =
            t.db.fetch_stream("SELECT v FROM s", ()).collect().await;
        assert_eq!(items.len(), 1, "{items:?}");
        assert!(matches!(items[0], Err(Error::Decode { .. })), "{items:?}");
        let bad: Vec<sylvan::Result<i64>> = t.db.fetch_stream("SELEC 1", ()).collect().await;
        assert!(
            matches!(bad.as_slice(), [Err(Error::Database { .. })]),
            "{bad:?}"
        );
        t
    })
    .await;
}

#[derive(Debug, PartialEq, sylvan::Model)]
#[model(table = "streamed")]
struct Streamed {
    id: i64,
    name: String,
}

#[tokio::test]
async fn a_queryset_streams_models() {
    both("stream_qs", |t| async move {
        t.db.execute(
            "CREATE TABLE streamed (id BIGINT PRIMARY KEY, name TEXT NOT NULL)",
            (),
        )
        .await
        .unwrap();
        for i in 1..=300_i64 {
            t.db.execute(
                "INSERT INTO streamed (id, name) VALUES ($1, $2)",
                (i, format!("n{i}")),
            )
            .await
            .unwrap();
        }
        let mut s = Streamed::objects()
            .filter(Streamed::ID.gt(100))
            .order_by(Streamed::ID.desc())
            .stream(&t.db);
        let first = s.next().await.unwrap().unwrap();
        assert_eq!(
            first,
            Streamed {
                id: 300,
                name: "n300".into()
            }
        );
        let rest: Vec<_> = s.collect().await;
        assert_eq!(rest.len(), 199);
        assert!(rest.iter().all(|r| r.is_ok()));
        t
    })
    .await;
}
