//! Connection strings: the libpq `key=value` form, bad parameters named,
//! passwords never shown, SQLite paths never read as URIs.

use crate::support::{pg_base_url, require_pg};
use std::time::Duration;
use sylvan::prelude::*;
use sylvan::PoolConfig;
use sylvan::Result;

/// Display, Debug and every cause of `e`.
fn all_text(e: &Error) -> String {
    let mut text = format!("{e}\n{e:?}");
    let mut cause = std::error::Error::source(e);
    while let Some(c) = cause {
        text.push_str(&format!("\n{c}\n{c:?}"));
        cause = c.source();
    }
    text
}

async fn connect(url: &str) -> Result<Database> {
    Database::builder(url)
        .pool(
            PoolConfig::default()
                .max_size(1)
                .create_timeout(Duration::from_secs(3))
                .wait_timeout(Duration::from_secs(3)),
        )
        .connect()
        .await
}

#[tokio::test]
async fn connect_errors_never_show_the_password() {
    let cases = [
        // Nothing listens on port 1: refused.
        ("postgres://u:pa/ss?w@127.0.0.1:1/db", "pa/ss?w"),
        ("postgres://u:pa/ss?w@127.0.0.1:1/db", "ss?w"),
        ("postgresql://u:s3cr%3Ft@127.0.0.1:1/db", "s3cr"),
        ("postgres://u@127.0.0.1:1/db?password=hunter2", "hunter2"),
        ("host=127.0.0.1 port=1 user=u password=hunter2", "hunter2"),
        ("host=127.0.0.1 port=1 user=u password='se cret'", "se cret"),
        ("host=127.0.0.1 port=1 user=u password='se cret'", "cret"),
        // Bad parameters, bad ports, unparsable strings.
        ("postgres://u:pa/ss?w@h/db?nonsense=1", "pa/ss?w"),
        ("postgres://u:p@ss@127.0.0.1:1/db", "p@ss"),
        ("postgres://u:p@ss@127.0.0.1:1/db", "ss@127"),
        ("postgres://u:hunter2@h:notaport/db", "hunter2"),
        ("host=h password=hunter2 nonsense=1", "hunter2"),
        ("host=h password='se cret' nonsense=1", "se cret"),
        ("host=h password='se cret", "se cret"),
        ("host=h port=x password=hunter2", "hunter2"),
    ];
    for (url, password) in cases {
        let e = connect(url).await.expect_err(url);
        let text = all_text(&e);
        assert!(!text.contains(password), "{url}: `{password}` in\n{text}");
    }
}

#[tokio::test]
async fn bad_parameter_is_named() {
    for url in [
        "postgres://postgres@127.0.0.1:5432/test?nonsense=1",
        "host=127.0.0.1 user=postgres dbname=test nonsense=1",
    ] {
        let e = connect(url).await.expect_err(url);
        assert!(matches!(e, Error::Config(_)), "{url}: {e:?}");
        assert!(
            e.to_string().contains("unknown option `nonsense`"),
            "{url}: {e}"
        );
    }
}

#[tokio::test]
async fn key_value_connection_strings_reach_postgres() {
    // The same server as the other tests, written as key=value.
    match connect(&pg_base_url()).await {
        Ok(db) => db.close(),
        Err(e) => {
            assert!(!require_pg(), "PostgreSQL is required but unreachable: {e}");
            eprintln!("SKIP key_value_connection_strings_reach_postgres: {e}");
            return;
        }
    }
    let db =
        connect("host=127.0.0.1 port=5432 user=postgres dbname=test application_name='sylvan kv'")
            .await
            .unwrap();
    let (name, user): (String, String) = db
        .fetch_one(
            "SELECT current_setting('application_name'), current_user::text",
            (),
        )
        .await
        .unwrap();
    assert_eq!((name.as_str(), user.as_str()), ("sylvan kv", "postgres"));
    db.close();
}

/// Removes the files of a relative SQLite path on drop.
struct Cleanup(Vec<String>);

impl Drop for Cleanup {
    fn drop(&mut self) {
        for f in &self.0 {
            for suffix in ["", "-wal", "-shm", "-journal"] {
                let _ = std::fs::remove_file(format!("{f}{suffix}"));
            }
        }
    }
}

#[tokio::test]
async fn sqlite_paths_are_never_uris() {
    // A relative path starting with `file:` is a SQLite URI unless Sylvan
    // says otherwise; `mode=ro` would make the pool read-only. It has to
    // be relative, so these files go to the working directory.
    let plain = format!("sylvan_uri_test_{}.db", std::process::id());
    let stem = format!("file:{plain}");
    let literal = format!("{stem}?mode=ro");
    let _cleanup = Cleanup(vec![plain.clone(), stem.clone(), literal.clone()]);
    // The file a URI would name exists: read as a URI, the pool would
    // open it read-only.
    let db = connect(&format!("sqlite://{plain}")).await.unwrap();
    db.execute("CREATE TABLE other (x INTEGER)", ())
        .await
        .unwrap();
    db.close();
    let db = connect(&format!("sqlite://{stem}%3Fmode=ro"))
        .await
        .unwrap();
    db.execute("CREATE TABLE t (x INTEGER)", ()).await.unwrap();
    db.execute("INSERT INTO t VALUES (1)", ()).await.unwrap();
    let tables: Vec<String> = db
        .fetch_all("SELECT name FROM sqlite_master WHERE type = 'table'", ())
        .await
        .unwrap();
    assert_eq!(tables, ["t"], "`{stem}` was opened as a URI");
    db.close();
    assert!(
        std::path::Path::new(&literal).is_file(),
        "no file named `{literal}`"
    );
    // An unencoded `?` starts Sylvan's own parameters: `mode` other than
    // rwc is refused.
    let e = connect(&format!("sqlite://{stem}?mode=ro"))
        .await
        .expect_err("mode=ro");
    assert!(matches!(e, Error::Config(_)), "{e:?}");
    // `vfs=` or `immutable=` through a URI are refused or literal too.
    let e = connect(&format!("sqlite://{stem}?immutable=1"))
        .await
        .expect_err("immutable");
    assert!(e.to_string().contains("immutable"), "{e}");
}
