//! `db.transaction(async |tx| { … })`: the body borrows the caller's data
//! (no `Box::pin`, no owned clones), commits on `Ok`, rolls back on `Err`,
//! on both backends; `transaction_retry` takes an async closure too.

use sylvan::prelude::*;
use sylvan::{Schema, Transaction, TransactionOptions};

#[derive(Debug, Clone, PartialEq, Model)]
#[model(table = "txc_item")]
struct Item {
    #[model(primary_key, auto)]
    id: i64,
    name: String,
}

fn items() -> Schema {
    Schema::new().model::<Item>()
}

/// A helper over a transaction, as users write them: `Transaction<'_>`.
async fn add(tx: &Transaction<'_>, name: &str) -> sylvan::Result<Item> {
    Item {
        id: 0,
        name: name.to_owned(),
    }
    .insert(tx)
    .await
}

#[sylvan::test(schema = items)]
async fn transaction_bodies_borrow_from_the_caller(db: Database) {
    let names: Vec<String> = vec!["a".into(), "b".into()];
    let suffix: &str = "-x";
    let ids = db
        .transaction(async |tx| {
            let mut ids = Vec::new();
            for n in &names {
                ids.push(add(tx, &format!("{n}{suffix}")).await?.id);
            }
            Ok::<_, Error>(ids)
        })
        .await
        .unwrap();
    assert_eq!(ids.len(), 2);
    // Still usable: the closure only borrowed them.
    assert_eq!(names.len(), 2);
    let failed: Result<(), Error> = db
        .transaction(async |tx| {
            add(tx, suffix).await?;
            Err(Error::NotFound)
        })
        .await;
    assert!(failed.unwrap_err().is_not_found());
    let stored: Vec<String> = db
        .fetch_all("SELECT name FROM txc_item ORDER BY id", ())
        .await
        .unwrap();
    assert_eq!(stored, ["a-x", "b-x"], "{:?}", db.dialect());

    let mut runs = 0;
    let n = db
        .transaction_retry(TransactionOptions::new(), 3, async |tx| {
            add(tx, names[0].as_str()).await?;
            Item::objects().count(tx).await
        })
        .await
        .unwrap();
    runs += 1;
    assert_eq!((n, runs), (3, 1));
}

/// Spawned tasks (which need `Send` futures) can run such bodies too.
#[sylvan::test(schema = items)]
async fn transaction_futures_are_send(db: Database) {
    let task = tokio::spawn(async move {
        let label = String::from("spawned");
        db.transaction(async |tx| add(tx, &label).await).await
    });
    let item = task.await.unwrap().unwrap();
    assert_eq!(item.name, "spawned");
}
