//! `sylvan migrate run|revert|status`: the library's [`Migrations`] on the
//! files of `--source`, against the database of `--database-url`.

use crate::args::Options;
use crate::Failure;
use std::process::ExitCode;
use sylvan::{Database, Migrations};

/// The database URL: `--database-url`, else `DATABASE_URL`.
fn database_url(options: &Options) -> Result<String, Failure> {
    if let Some(url) = &options.database_url {
        return Ok(url.clone());
    }
    match std::env::var("DATABASE_URL") {
        Ok(url) if !url.is_empty() => Ok(url),
        _ => Err(Failure::Usage(
            "no database: set DATABASE_URL or pass --database-url URL".into(),
        )),
    }
}

/// The migrations of `--source` and a connected database, in this order:
/// a bad file is reported without touching the database.
async fn open(options: &Options) -> Result<(Migrations, Database), Failure> {
    let url = database_url(options)?;
    let migrations = Migrations::from_dir(&options.source)?;
    let db = Database::connect(&url).await?;
    Ok((migrations, db))
}

/// The name of a version in the set.
fn name_of(migrations: &Migrations, version: i64) -> &str {
    migrations
        .list()
        .iter()
        .find(|m| m.version() == version)
        .map_or("", |m| m.name())
}

/// `migrate run`: applies what is pending, one line per migration.
pub(crate) async fn run(options: &Options) -> Result<ExitCode, Failure> {
    let (migrations, db) = open(options).await?;
    let done = migrations.run(&db).await;
    db.close();
    let done = done?;
    if done.is_empty() {
        println!("nothing to apply");
    }
    for version in done {
        println!("applied {version:04} {}", name_of(&migrations, version));
    }
    Ok(ExitCode::SUCCESS)
}

/// `migrate revert`: reverts the newest `steps`, one line per migration.
pub(crate) async fn revert(options: &Options, steps: usize) -> Result<ExitCode, Failure> {
    let (migrations, db) = open(options).await?;
    let done = migrations.rollback(&db, steps).await;
    db.close();
    let done = done?;
    if done.is_empty() {
        println!("nothing to revert");
    }
    for version in done {
        println!("reverted {version:04} {}", name_of(&migrations, version));
    }
    Ok(ExitCode::SUCCESS)
}

/// `migrate status`: one line per migration; exit code 1 when one is
/// edited or missing (what `migrate run` would refuse).
pub(crate) async fn status(options: &Options) -> Result<ExitCode, Failure> {
    let (migrations, db) = open(options).await?;
    let status = migrations.status(&db).await;
    db.close();
    let status = status?;
    if status.is_empty() {
        println!("no migrations in {}", options.source.display());
    }
    for line in &status {
        println!("{line}");
    }
    let drift = status.iter().filter(|s| s.state.is_drift()).count();
    if drift == 0 {
        return Ok(ExitCode::SUCCESS);
    }
    eprintln!(
        "{drift} applied migration(s) edited or missing: `sylvan migrate run` refuses to run until \
         the files match what the database recorded"
    );
    Ok(ExitCode::FAILURE)
}
