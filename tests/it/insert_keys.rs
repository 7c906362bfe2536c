//! `insert_many` gives every object the generated key of its own row.

use crate::support::both;
use sylvan::prelude::*;
use sylvan::Schema;

#[derive(Debug, Clone, PartialEq, Model)]
#[model(table = "ikeys_rows")]
struct Row {
    #[model(primary_key, auto)]
    id: i64,
    tag: String,
    n: i64,
}

fn rows(prefix: &str, count: usize) -> Vec<Row> {
    // Distinct values, not in key order, so a shifted key shows.
    (0..count)
        .map(|i| Row {
            id: 0,
            tag: format!("{prefix}-{i}"),
            n: ((i * 7_919) % count) as i64,
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ten_thousand_keys_match_their_rows() {
    both("insert_keys", |t| async move {
        let db = &t.db;
        Schema::new().model::<Row>().create_all(db).await.unwrap();
        // Two inserts at once: on PostgreSQL their sequence values may
        // interleave; each object must still get its own row's key.
        let (a, b) = tokio::join!(
            Row::insert_many(rows("a", 10_000), db),
            Row::insert_many(rows("b", 10_000), db),
        );
        let (a, b) = (a.unwrap(), b.unwrap());
        assert_eq!((a.len(), b.len()), (10_000, 10_000));
        let stored: Vec<(i64, String, i64)> = db
            .fetch_all("SELECT id, tag, n FROM ikeys_rows", ())
            .await
            .unwrap();
        assert_eq!(stored.len(), 20_000);
        let by_id: std::collections::HashMap<i64, (String, i64)> = stored
            .into_iter()
            .map(|(id, tag, n)| (id, (tag, n)))
            .collect();
        for (expected, object) in rows("a", 10_000)
            .iter()
            .zip(&a)
            .chain(rows("b", 10_000).iter().zip(&b))
        {
            assert_eq!((&object.tag, object.n), (&expected.tag, expected.n));
            let row = by_id
                .get(&object.id)
                .unwrap_or_else(|| panic!("{object:?}: no such row"));
            assert_eq!(
                row,
                &(object.tag.clone(), object.n),
                "{:?}: key of another row",
                t.kind
            );
        }
        t
    })
    .await;
}

#[derive(Debug, Clone, PartialEq, Model)]
#[model(table = "ikeys_explicit")]
struct Explicit {
    #[model(primary_key)]
    code: String,
    n: i64,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bulk_insert_stores_every_row_without_reading_keys() {
    both("bulk_insert", |t| async move {
        let db = &t.db;
        Schema::new()
            .model::<Row>()
            .model::<Explicit>()
            .create_all(db)
            .await
            .unwrap();
        // More rows than one statement takes on either backend, so the
        // chunks are counted together; the objects' own ids are ignored.
        let input = rows("bulk", 25_000);
        assert_eq!(Row::bulk_insert(&input, db).await.unwrap(), 25_000);
        let stored: Vec<(i64, String, i64)> = db
            .fetch_all("SELECT id, tag, n FROM ikeys_rows ORDER BY id", ())
            .await
            .unwrap();
        assert_eq!(stored.len(), 25_000);
        let ids: std::collections::HashSet<i64> = stored.iter().map(|r| r.0).collect();
        assert_eq!(ids.len(), 25_000, "every row got its own generated key");
        assert!(!ids.contains(&0));
        let mut got: Vec<(String, i64)> = stored.into_iter().map(|(_, t, n)| (t, n)).collect();
        let mut want: Vec<(String, i64)> = input.into_iter().map(|r| (r.tag, r.n)).collect();
        got.sort();
        want.sort();
        assert_eq!(got, want);

        // A program-written key is stored as given; nothing at all is a no-op.
        let explicit = vec![
            Explicit {
                code: "a".into(),
                n: 1,
            },
            Explicit {
                code: "b".into(),
                n: 2,
            },
        ];
        assert_eq!(Explicit::bulk_insert(&explicit, db).await.unwrap(), 2);
        assert_eq!(Explicit::bulk_insert(&[], db).await.unwrap(), 0);
        let back = Explicit::objects()
            .order_by(Explicit::CODE.asc())
            .all(db)
            .await
            .unwrap();
        assert_eq!(back, explicit);
        // A failing chunk is an error, not a partial count.
        let err = Explicit::bulk_insert(&explicit[..1], db).await.unwrap_err();
        assert!(
            matches!(
                err,
                sylvan::Error::Constraint {
                    kind: sylvan::ConstraintKind::Unique,
                    ..
                }
            ),
            "{err:?}"
        );
        t
    })
    .await;
}
