//! PostgreSQL test databases: one template per setup, cloned per test.
//!
//! Invariants, for whoever changes this file:
//!
//! - A template is named `sylvan_tpl_<fingerprint>` (see
//!   [`Setup::fingerprint`]) and exists only complete: it is built under
//!   the name `sylvan_tplb_<fingerprint>`, every session on it is gone,
//!   it is marked `IS_TEMPLATE true ALLOW_CONNECTIONS false` (so no one
//!   connecting to it can make a clone fail), and only then renamed. A
//!   builder that crashes leaves a `sylvan_tplb_…` database, which the
//!   next builder drops.
//! - Building is serialized by the session advisory lock [`TEMPLATE_LOCK`],
//!   taken on the server URL's database, on one session (a checked-out
//!   connection) and released on every path; existence is checked under
//!   it. Processes that use different server databases do not share the
//!   lock: they may both build, and the loser of the rename drops its copy.
//! - Templates found or built are remembered for the process, so later
//!   tests skip the lock.
//! - A test database is `sylvan_t_<pid>_<n>`, created `TEMPLATE` the
//!   template and dropped `WITH (FORCE)` (PostgreSQL 13 or later).

use super::database::CreateError;
use super::Setup;
use crate::{Database, Error, Executor, PoolConfig, Result};
use std::collections::HashSet;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, OnceLock};
use std::time::Duration;

/// The advisory lock key of template builds (`sylvan_tpl` in ASCII).
const TEMPLATE_LOCK: i64 = 0x7379_6c76_616e_7470;

/// A test's PostgreSQL database, to drop.
#[derive(Debug)]
pub(crate) struct PgDatabase {
    server: String,
    name: String,
}

/// Creates a test database cloned from the template of `setup` (built
/// first if missing), and opens a pool on it.
pub(crate) async fn create(
    server: &str,
    setup: &Setup,
) -> std::result::Result<(Database, PgDatabase), CreateError> {
    if !cfg!(feature = "postgres") {
        return Err(CreateError::Unavailable(Error::Config(
            "Sylvan was built without the `postgres` feature".to_owned(),
        )));
    }
    let admin = admin(server).await.map_err(CreateError::Unavailable)?;
    let made = create_on(&admin, server, setup).await;
    admin.close();
    made.map_err(CreateError::Failed)
}

async fn create_on(
    admin: &Database,
    server: &str,
    setup: &Setup,
) -> Result<(Database, PgDatabase)> {
    let template = match setup.fingerprint()? {
        Some(fingerprint) => Some(template(admin, server, setup, &fingerprint).await?),
        None => None,
    };
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let name = format!(
        "sylvan_t_{}_{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    );
    // A database of this name left by a crashed process with our pid.
    drop_database_named(admin, &name).await?;
    let mut sql = create_database_sql(&name);
    if let Some(template) = &template {
        sql.push_str(" TEMPLATE ");
        push_identifier(&mut sql, template);
    }
    admin.execute(&sql, ()).await?;
    let pg = PgDatabase {
        server: server.to_owned(),
        name,
    };
    // From here on, `pg` drops the database if anything fails.
    let db = Database::connect(&with_database(server, &pg.name)?).await?;
    Ok((db, pg))
}

impl PgDatabase {
    pub(crate) fn name(&self) -> &str {
        &self.name
    }

    /// Drops the database, ending sessions still on it.
    pub(crate) async fn drop_database(mut self) -> Result<()> {
        let name = std::mem::take(&mut self.name);
        drop_on_server(&self.server, &name).await
    }
}

impl Drop for PgDatabase {
    /// Not dropped through [`PgDatabase::drop_database`]: drops the
    /// database on a thread of its own with its own runtime (so this works
    /// inside and outside a runtime), and waits for it.
    fn drop(&mut self) {
        if self.name.is_empty() {
            return;
        }
        let server = self.server.clone();
        let name = std::mem::take(&mut self.name);
        let worker = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .map_err(|e| {
                    Error::Config(format!("no runtime to drop a test database with: {e}"))
                })?;
            runtime.block_on(drop_on_server(&server, &name))
        });
        if let Ok(Err(e)) = worker.join() {
            tracing::warn!(target: "sylvan::testing", "could not drop a test database: {e}");
        }
    }
}

async fn drop_on_server(server: &str, name: &str) -> Result<()> {
    let admin = admin(server).await?;
    let dropped = drop_database_named(&admin, name).await;
    admin.close();
    dropped
}

/// A small pool on the server URL's database: one connection may hold
/// the template lock while the other builds.
async fn admin(server: &str) -> Result<Database> {
    Database::builder(server)
        .pool(
            PoolConfig::default()
                .max_size(2)
                .create_timeout(Duration::from_secs(5)),
        )
        .connect()
        .await
}

/// The template's name, building it first if it does not exist.
async fn template(
    admin: &Database,
    server: &str,
    setup: &Setup,
    fingerprint: &str,
) -> Result<String> {
    static KNOWN: OnceLock<Mutex<HashSet<String>>> = OnceLock::new();
    let name = format!("sylvan_tpl_{fingerprint}");
    let key = format!("{server}\u{0}{name}");
    let known = KNOWN.get_or_init(Mutex::default);
    if known.lock().map(|k| k.contains(&key)).unwrap_or(false) {
        return Ok(name);
    }
    let session = admin.acquire().await?;
    session
        .execute("SELECT pg_advisory_lock($1)", (TEMPLATE_LOCK,))
        .await?;
    let built = build_template(admin, server, setup, &name, fingerprint).await;
    let unlocked = session
        .execute("SELECT pg_advisory_unlock($1)", (TEMPLATE_LOCK,))
        .await;
    built?;
    unlocked?;
    if let Ok(mut known) = known.lock() {
        known.insert(key);
    }
    Ok(name)
}

/// Under the lock: builds template `name` unless it exists.
async fn build_template(
    admin: &Database,
    server: &str,
    setup: &Setup,
    name: &str,
    fingerprint: &str,
) -> Result<()> {
    if exists(admin, name).await? {
        return Ok(());
    }
    let building = format!("sylvan_tplb_{fingerprint}");
    drop_database_named(admin, &building).await?;
    admin.execute(&create_database_sql(&building), ()).await?;
    let db = Database::connect(&with_database(server, &building)?).await?;
    let applied = setup.apply(&db).await;
    db.close();
    if let Err(e) = applied {
        drop_database_named(admin, &building).await?;
        return Err(e);
    }
    wait_until_unused(admin, &building).await?;
    let mut sql = String::from("ALTER DATABASE ");
    push_identifier(&mut sql, &building);
    sql.push_str(" IS_TEMPLATE true ALLOW_CONNECTIONS false");
    admin.execute(&sql, ()).await?;
    let mut sql = String::from("ALTER DATABASE ");
    push_identifier(&mut sql, &building);
    sql.push_str(" RENAME TO ");
    push_identifier(&mut sql, name);
    if let Err(e) = admin.execute(&sql, ()).await {
        // Someone on another lock database finished first.
        if exists(admin, name).await? {
            drop_template(admin, &building).await?;
            return Ok(());
        }
        return Err(e);
    }
    Ok(())
}

async fn exists(admin: &Database, name: &str) -> Result<bool> {
    let found: Option<i32> = admin
        .fetch_optional("SELECT 1 FROM pg_database WHERE datname = $1", (name,))
        .await?;
    Ok(found.is_some())
}

/// Waits (up to 5 s) for the sessions on `name` to end, then ends those
/// left: a closed pool's connections close in the background.
async fn wait_until_unused(admin: &Database, name: &str) -> Result<()> {
    let count = "SELECT count(*) FROM pg_stat_activity WHERE datname = $1";
    for _ in 0..250 {
        let sessions: i64 = admin.fetch_one(count, (name,)).await?;
        if sessions == 0 {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let _: Vec<bool> = admin
        .fetch_all(
            "SELECT pg_terminate_backend(pid, 5000) FROM pg_stat_activity WHERE datname = $1",
            (name,),
        )
        .await?;
    Ok(())
}

/// Drops a template (which must first stop being one).
async fn drop_template(admin: &Database, name: &str) -> Result<()> {
    let mut sql = String::from("ALTER DATABASE ");
    push_identifier(&mut sql, name);
    sql.push_str(" IS_TEMPLATE false");
    admin.execute(&sql, ()).await?;
    drop_database_named(admin, name).await
}

async fn drop_database_named(admin: &Database, name: &str) -> Result<()> {
    let mut sql = String::from("DROP DATABASE IF EXISTS ");
    push_identifier(&mut sql, name);
    sql.push_str(" WITH (FORCE)");
    admin.execute(&sql, ()).await.map(drop)
}

fn create_database_sql(name: &str) -> String {
    let mut sql = String::from("CREATE DATABASE ");
    push_identifier(&mut sql, name);
    sql
}

fn push_identifier(sql: &mut String, name: &str) {
    crate::Dialect::Postgres.push_identifier(sql, name);
}

/// `url` with its database replaced by `name`: the path of a
/// `postgres://` URL, or a `dbname=` appended to a `key=value` string
/// (the last one wins).
pub(crate) fn with_database(url: &str, name: &str) -> Result<String> {
    let scheme_end = ["postgres://", "postgresql://"]
        .iter()
        .find(|s| url.starts_with(*s))
        .map(|s| s.len());
    let Some(scheme_end) = scheme_end else {
        if url.contains('=') && !url.contains("://") {
            return Ok(format!("{url} dbname={name}"));
        }
        return Err(Error::Config(
            "the test server URL (SYLVAN_TEST_DATABASE_URL or DATABASE_URL) must name a PostgreSQL server".to_owned(),
        ));
    };
    // As Sylvan's URL parser: the user and password end at the first `@`.
    let host_start = url[scheme_end..]
        .find('@')
        .map_or(scheme_end, |at| scheme_end + at + 1);
    let rest = &url[host_start..];
    let host_end = host_start + rest.find(['/', '?']).unwrap_or(rest.len());
    let query_start = url[host_end..]
        .find('?')
        .map_or(url.len(), |q| host_end + q);
    Ok(format!(
        "{}/{name}{}",
        &url[..host_end],
        &url[query_start..]
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_database_of_a_url_is_replaced() {
        for (url, want) in [
            (
                "postgres://postgres@127.0.0.1:5432/postgres",
                "postgres://postgres@127.0.0.1:5432/t1",
            ),
            ("postgresql://h", "postgresql://h/t1"),
            (
                "postgres://h:5432?sslmode=disable",
                "postgres://h:5432/t1?sslmode=disable",
            ),
            (
                "postgres://u:p/?w@h/db?application_name=x",
                "postgres://u:p/?w@h/t1?application_name=x",
            ),
            ("host=h user=u dbname=x", "host=h user=u dbname=x dbname=t1"),
        ] {
            assert_eq!(with_database(url, "t1").unwrap(), want, "{url}");
        }
        assert!(with_database("sqlite::memory:", "t1").is_err());
    }
}
