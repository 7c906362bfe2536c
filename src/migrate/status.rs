//! Where each migration stands: [`MigrationStatus`], from the files and
//! the tracking table, edits and missing files reported rather than
//! refused.

use super::applied::create_tracking_table;
use super::{checksum, Migrations};
use crate::database::Database;
use crate::error::Result;
use crate::executor::Executor;
use std::fmt;

/// The state of one migration, as [`Migrations::status`] found it.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum MigrationState {
    /// Applied, and its file is unchanged since.
    Applied {
        /// When it was applied (UTC, `YYYY-MM-DD HH:MM:SS`), as recorded.
        at: String,
    },
    /// Not applied yet.
    Pending,
    /// Applied, but its file's up section changed since (its checksum
    /// differs from the recorded one): [`Migrations::run`] refuses to run.
    Edited {
        /// When it was applied, as recorded.
        at: String,
    },
    /// Applied, but there is no file with its version any more:
    /// [`Migrations::run`] refuses to run.
    Missing {
        /// When it was applied, as recorded.
        at: String,
    },
}

impl MigrationState {
    /// True for [`Edited`](Self::Edited) and [`Missing`](Self::Missing):
    /// the files no longer match what the database recorded, and
    /// [`Migrations::run`] would fail.
    pub fn is_drift(&self) -> bool {
        matches!(self, Self::Edited { .. } | Self::Missing { .. })
    }

    /// A one-word label: `applied`, `pending`, `edited` or `missing`.
    pub fn label(&self) -> &'static str {
        match self {
            Self::Applied { .. } => "applied",
            Self::Pending => "pending",
            Self::Edited { .. } => "edited",
            Self::Missing { .. } => "missing",
        }
    }
}

/// One line of [`Migrations::status`]: a migration known from its file,
/// the tracking table, or both.
///
/// Its `Display` is a table line: version (4 digits), state, name, and
/// when it was applied.
///
/// ```
/// use sylvan::{MigrationState, MigrationStatus};
/// let s = MigrationStatus {
///     version: 2,
///     name: "add_email".into(),
///     state: MigrationState::Pending,
/// };
/// assert_eq!(s.to_string(), "0002  pending  add_email");
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MigrationStatus {
    /// The version.
    pub version: i64,
    /// The name: the file's, or the recorded one when the file is missing.
    pub name: String,
    /// Where it stands.
    pub state: MigrationState,
}

impl fmt::Display for MigrationStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{:04}  {:<7}  {}",
            self.version,
            self.state.label(),
            self.name
        )?;
        match &self.state {
            MigrationState::Applied { at } => write!(f, "  (applied {at})"),
            MigrationState::Pending => Ok(()),
            MigrationState::Edited { at } => {
                write!(f, "  (applied {at}; the file changed since)")
            }
            MigrationState::Missing { at } => write!(f, "  (applied {at}; no file)"),
        }
    }
}

/// What is recorded, with when.
const SELECT_RECORDS: &str =
    "SELECT version, name, checksum, applied_at FROM sylvan_migrations ORDER BY version";

impl Migrations {
    /// Where each migration stands, by version: applied, pending, edited
    /// (applied, its file changed since) or missing (applied, no file).
    ///
    /// Unlike [`Migrations::run`], an edited or missing migration is
    /// reported, not an error; an embedded set whose directory gained or
    /// lost files since it was compiled still is one (see
    /// [`embed_migrations!`](crate::embed_migrations)). Creates the
    /// tracking table when it is missing.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> sylvan::Result<()> {
    /// use sylvan::{Database, Migration, MigrationState, Migrations};
    /// let db = Database::connect("sqlite::memory:").await?;
    /// let first = Migrations::new([Migration::new(1, "a", "CREATE TABLE a (x INT)", None)])?;
    /// first.run(&db).await?;
    /// let both = Migrations::new([
    ///     Migration::new(1, "a", "CREATE TABLE a (x INT)", None),
    ///     Migration::new(2, "b", "CREATE TABLE b (x INT)", None),
    /// ])?;
    /// let status = both.status(&db).await?;
    /// assert!(matches!(status[0].state, MigrationState::Applied { .. }));
    /// assert_eq!(status[1].state, MigrationState::Pending);
    /// # Ok(()) }
    /// ```
    pub async fn status(&self, db: &Database) -> Result<Vec<MigrationStatus>> {
        self.check()?;
        create_tracking_table(db).await?;
        let records: Vec<(i64, String, String, String)> =
            db.primary().fetch_all(SELECT_RECORDS, ()).await?;
        let mut out: Vec<MigrationStatus> = self
            .list
            .iter()
            .map(|m| {
                let state = match records.iter().find(|r| r.0 == m.version) {
                    None => MigrationState::Pending,
                    Some((_, _, sum, at)) if checksum::matches(sum, &m.up) => {
                        MigrationState::Applied { at: at.clone() }
                    }
                    Some((_, _, _, at)) => MigrationState::Edited { at: at.clone() },
                };
                MigrationStatus {
                    version: m.version,
                    name: m.name.to_string(),
                    state,
                }
            })
            .collect();
        for (version, name, _, at) in records {
            if !self.list.iter().any(|m| m.version == version) {
                out.push(MigrationStatus {
                    version,
                    name,
                    state: MigrationState::Missing { at },
                });
            }
        }
        out.sort_by_key(|s| s.version);
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_lines() {
        let line = |state| {
            MigrationStatus {
                version: 12,
                name: "add_x".into(),
                state,
            }
            .to_string()
        };
        let at = || "2026-01-02 03:04:05".to_owned();
        assert_eq!(
            line(MigrationState::Applied { at: at() }),
            "0012  applied  add_x  (applied 2026-01-02 03:04:05)"
        );
        assert_eq!(line(MigrationState::Pending), "0012  pending  add_x");
        assert!(line(MigrationState::Edited { at: at() }).contains("edited   add_x"));
        assert!(line(MigrationState::Missing { at: at() }).ends_with("no file)"));
        assert!(MigrationState::Missing { at: at() }.is_drift());
        assert!(!MigrationState::Pending.is_drift());
    }
}
