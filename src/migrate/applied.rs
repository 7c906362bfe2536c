//! What is applied: the `sylvan_migrations` tracking table, its records
//! ([`AppliedMigration`]), and their check against the files.

use super::checksum;
use super::lock::locked_transaction;
use super::Migrations;
use crate::database::Database;
use crate::error::{Error, Result};
use crate::executor::Executor;

pub(super) const TRACKING_TABLE: &str = "CREATE TABLE IF NOT EXISTS sylvan_migrations (\
     version BIGINT PRIMARY KEY, name TEXT NOT NULL, checksum TEXT NOT NULL, applied_at TEXT NOT NULL)";

/// A migration that has been applied.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct AppliedMigration {
    /// Its version.
    pub version: i64,
    /// Its name.
    pub name: String,
    /// The checksum recorded when it was applied.
    pub checksum: String,
}

/// What is recorded as applied, oldest first.
pub(super) const SELECT_APPLIED: &str =
    "SELECT version, name, checksum FROM sylvan_migrations ORDER BY version";

/// The rows of [`SELECT_APPLIED`] as [`AppliedMigration`]s.
pub(super) fn from_rows(rows: Vec<(i64, String, String)>) -> Vec<AppliedMigration> {
    rows.into_iter()
        .map(|(version, name, checksum)| AppliedMigration {
            version,
            name,
            checksum,
        })
        .collect()
}

/// Creates the tracking table if it is missing, under the lock: two
/// PostgreSQL sessions running CREATE TABLE IF NOT EXISTS at once can both
/// try to create it.
pub(super) async fn create_tracking_table(db: &Database) -> Result<()> {
    let tx = locked_transaction(db).await?;
    tx.execute(TRACKING_TABLE, ()).await?;
    tx.commit().await
}

impl Migrations {
    /// What is recorded as applied, in order.
    pub async fn applied(&self, db: &Database) -> Result<Vec<AppliedMigration>> {
        create_tracking_table(db).await?;
        // On the primary: a replica may not show the table yet.
        Ok(from_rows(db.primary().fetch_all(SELECT_APPLIED, ()).await?))
    }

    /// Checks the applied migrations against the files: each must still
    /// exist with the same checksum (a legacy FNV checksum recorded by an
    /// earlier version counts when it matches; it is not rewritten).
    pub(super) fn verify(&self, applied: &[AppliedMigration]) -> Result<()> {
        for a in applied {
            match self.list.iter().find(|m| m.version == a.version) {
                None => {
                    return Err(Error::Migration {
                        version: Some(a.version),
                        message: format!(
                            "applied migration {} ({}) has no file",
                            a.version, a.name
                        ),
                    })
                }
                Some(m) if !checksum::matches(&a.checksum, &m.up) => {
                    return Err(Error::Migration {
                        version: Some(a.version),
                        message: format!(
                            "migration {} ({}) was changed after it was applied",
                            a.version, m.name
                        ),
                    })
                }
                Some(_) => {}
            }
        }
        Ok(())
    }
}

/// Now, as ISO 8601 text in UTC, without a date library.
pub(super) fn now_text() -> String {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let days = secs / 86_400;
    let rem = secs % 86_400;
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02} {:02}:{:02}:{:02}",
        rem / 3_600,
        rem % 3_600 / 60,
        rem % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates() {
        let t = now_text();
        assert_eq!(t.len(), 19, "{t}");
        assert!(t.starts_with("20"), "{t}");
    }
}
