//! One migration: [`Migration`], parsed from a `NNNN_name.sql` file or
//! built by `embed_migrations!`, and its checksum.

use super::text;
use crate::backend::Dialect;
use crate::error::{Error, Result};
use std::borrow::Cow;

/// One migration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Migration {
    pub(super) version: i64,
    pub(super) name: Cow<'static, str>,
    pub(super) up: Cow<'static, str>,
    pub(super) down: Option<Cow<'static, str>>,
}

impl Migration {
    /// A migration (used by [`embed_migrations!`](crate::embed_migrations)).
    pub const fn new(
        version: i64,
        name: &'static str,
        up: &'static str,
        down: Option<&'static str>,
    ) -> Self {
        Migration {
            version,
            name: Cow::Borrowed(name),
            up: Cow::Borrowed(up),
            down: match down {
                Some(d) => Some(Cow::Borrowed(d)),
                None => None,
            },
        }
    }

    /// Parses the text of a file named `NNNN_name.sql`.
    pub fn parse(file_name: &str, text: &str) -> Result<Self> {
        let bad = |why: &str| Error::Migration {
            version: None,
            message: format!("{file_name}: {why}"),
        };
        let stem = file_name
            .strip_suffix(".sql")
            .ok_or_else(|| bad("not a .sql file"))?;
        let (number, name) = stem
            .split_once('_')
            .ok_or_else(|| bad("expected a name like 0001_create_users.sql"))?;
        let version: i64 = number
            .parse()
            .map_err(|_| bad("the name must start with a version number"))?;
        let (up, down) = text::split_down(text);
        text::check_migration_text(up, down).map_err(|why| Error::Migration {
            version: Some(version),
            message: format!("{file_name}: {why}"),
        })?;
        Ok(Migration {
            version,
            name: Cow::Owned(name.to_owned()),
            up: Cow::Owned(up.to_owned()),
            down: down.map(|d| Cow::Owned(d.to_owned())),
        })
    }

    /// The version number.
    pub fn version(&self) -> i64 {
        self.version
    }

    /// The name (after the version in the file name).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// False for a migration whose first line is `-- sylvan:no-transaction`:
    /// it runs outside any transaction, statement by statement, for what
    /// cannot run in one (PostgreSQL's `CREATE INDEX CONCURRENTLY`,
    /// `VACUUM`; SQLite's `PRAGMA foreign_keys`). It still holds the
    /// migration lock, and is recorded only after every statement
    /// succeeded; but a statement that fails leaves the ones before it
    /// applied (and `CREATE INDEX CONCURRENTLY` an invalid index): fix the
    /// database by hand before running it again. Its down section runs the
    /// same way. Keep such migrations to one statement where possible.
    pub fn is_transactional(&self) -> bool {
        !text::is_no_transaction(&self.up)
    }

    /// Refuses transaction control statements and unknown directives (see
    /// the [module docs](crate::Migrations)).
    pub(super) fn check(&self) -> Result<()> {
        text::check_migration_text(&self.up, self.down.as_deref()).map_err(|why| Error::Migration {
            version: Some(self.version),
            message: format!("migration {} ({}): {why}", self.version, self.name),
        })
    }

    /// True for a file written by [`MakeMigrations`](crate::MakeMigrations)
    /// (its header holds `-- sylvan:generated`).
    pub fn is_generated(&self) -> bool {
        text::has_header_directive(&self.up, text::GENERATED)
    }

    /// The up section as it runs on `dialect`: the whole section, or only
    /// its `-- sylvan:postgres` / `-- sylvan:sqlite` part when it has
    /// dialect sections.
    pub fn up_sql(&self, dialect: Dialect) -> Cow<'_, str> {
        match text::dialect_text(&self.up, dialect.name()) {
            Some(sql) => Cow::Owned(sql),
            None => Cow::Borrowed(&self.up),
        }
    }

    /// The down section as it runs on `dialect` (see [`Migration::up_sql`]).
    pub fn down_sql(&self, dialect: Dialect) -> Option<Cow<'_, str>> {
        let down = self.down.as_deref()?;
        Some(match text::dialect_text(down, dialect.name()) {
            Some(sql) => Cow::Owned(sql),
            None => Cow::Borrowed(down),
        })
    }

    /// True when the header holds `-- sylvan:sqlite-foreign-keys-off`: on
    /// SQLite the migration runs with `PRAGMA foreign_keys = OFF` on its
    /// connection, checked with `PRAGMA foreign_key_check` before commit.
    pub(super) fn sqlite_foreign_keys_off(&self) -> bool {
        text::has_header_directive(&self.up, text::SQLITE_FOREIGN_KEYS_OFF)
    }

    /// The schema snapshot lines after `-- sylvan:state`, with the file
    /// line of the first.
    pub(crate) fn state_lines(&self) -> Option<(usize, Vec<String>)> {
        text::state_lines(&self.up, self.down.as_deref())
    }

    /// True when the file has a down section.
    pub fn is_reversible(&self) -> bool {
        self.down.is_some()
    }

    /// A checksum of the up section: SHA-256, 64 hex digits, of its text
    /// with line endings normalised (CRLF and lone CR read as LF), so a
    /// checkout with Windows line endings has the same checksum. It changes
    /// whenever the migration's SQL does.
    pub fn checksum(&self) -> String {
        super::checksum::checksum(&self.up)
    }
}

#[cfg(test)]
mod tests {
    use super::super::Migrations;
    use super::*;

    #[test]
    fn parses_file_names_and_down_sections() {
        let m = Migration::parse(
            "0002_add_index.sql",
            "CREATE INDEX i ON t (x);\n-- down\nDROP INDEX i;\n",
        )
        .unwrap();
        assert_eq!(m.version(), 2);
        assert_eq!(m.name(), "add_index");
        assert_eq!(m.up, "CREATE INDEX i ON t (x);\n");
        assert_eq!(m.down.as_deref(), Some("DROP INDEX i;\n"));
        assert!(Migration::parse("add.sql", "").is_err());
        assert!(Migration::parse("x_add.sql", "").is_err());
    }

    #[test]
    fn checksums_follow_the_up_sql() {
        let a = Migration::new(1, "a", "CREATE TABLE t (x INT)", None);
        let b = Migration::new(1, "a", "CREATE TABLE t (x BIGINT)", None);
        assert_ne!(a.checksum(), b.checksum());
        assert_eq!(a.checksum(), a.clone().checksum());
    }

    #[test]
    fn files_with_transaction_control_are_refused_naming_file_and_line() {
        let e = Migration::parse(
            "0007_backfill.sql",
            "UPDATE t SET x = 1;\nCOMMIT;\nUPDATE t SET y = 2;\n",
        )
        .unwrap_err();
        let text = e.to_string();
        assert!(
            matches!(
                e,
                Error::Migration {
                    version: Some(7),
                    ..
                }
            ),
            "{e:?}"
        );
        for needle in [
            "0007_backfill.sql",
            "line 2",
            "`COMMIT`",
            "-- sylvan:no-transaction",
        ] {
            assert!(text.contains(needle), "{needle} not in {text}");
        }
        // In the down section, lines count from the file's start.
        let e =
            Migration::parse("0001_a.sql", "SELECT 1;\n-- down\nSELECT 2;\nBEGIN;\n").unwrap_err();
        assert!(e.to_string().contains("line 4: `BEGIN`"), "{e}");
        // Built by hand: refused by Migrations::new.
        let e = Migrations::new([Migration::new(3, "x", "SELECT 1; END", None)]).unwrap_err();
        assert!(e.to_string().contains("migration 3 (x)"), "{e}");
    }

    #[test]
    fn the_no_transaction_marker_is_the_first_line_only() {
        let m = Migration::parse(
            "0002_index.sql",
            "-- sylvan:no-transaction\nCREATE INDEX CONCURRENTLY i ON t (x);\n",
        )
        .unwrap();
        assert!(!m.is_transactional());
        assert!(Migration::new(1, "a", "SELECT 1", None).is_transactional());
        // Still no transaction control in it.
        assert!(Migration::parse("0002_a.sql", "-- sylvan:no-transaction\nBEGIN;\n").is_err());
        // Anywhere else, or misspelt, it is refused rather than ignored.
        for text in [
            "\n-- sylvan:no-transaction\nSELECT 1;",
            "SELECT 1;\n-- down\n-- sylvan:no-transaction\nSELECT 2;",
            "-- sylvan:no-transactions\nSELECT 1;",
        ] {
            let e = Migration::parse("0003_a.sql", text).unwrap_err();
            assert!(e.to_string().contains("not a directive"), "{text:?}: {e}");
        }
    }

    const GENERATED: &str = "-- sylvan:generated\n-- sylvan:sqlite-foreign-keys-off\n\
        -- sylvan:postgres\nALTER TABLE t ADD COLUMN x BIGINT;\n\
        -- sylvan:sqlite\nALTER TABLE t ADD COLUMN x INTEGER;\n\
        -- down\n-- sylvan:postgres\nALTER TABLE t DROP COLUMN x;\n\
        -- sylvan:sqlite\nSELECT 1;\n\
        -- sylvan:state\n-- table \"t\"\n--   column \"x\" i64\n";

    #[test]
    fn dialect_sections_run_on_their_backend_only() {
        let m = Migration::parse("0003_auto.sql", GENERATED).unwrap();
        assert!(m.is_generated() && m.is_transactional() && m.sqlite_foreign_keys_off());
        let pg = m.up_sql(Dialect::Postgres);
        assert!(pg.contains("BIGINT") && !pg.contains("INTEGER"), "{pg}");
        // Lines keep their place, so errors point into the file.
        assert_eq!(
            pg.lines().nth(3),
            Some("ALTER TABLE t ADD COLUMN x BIGINT;")
        );
        let lite = m.down_sql(Dialect::Sqlite).unwrap();
        assert_eq!(lite.trim(), "SELECT 1;");
        let (line, state) = m.state_lines().unwrap();
        assert_eq!((line, state[0].as_str()), (13, "table \"t\""));
        // A file without dialect sections runs as written everywhere.
        let plain = Migration::new(1, "a", "SELECT 1;", None);
        assert_eq!(plain.up_sql(Dialect::Sqlite), "SELECT 1;");
        assert!(!plain.is_generated() && !plain.sqlite_foreign_keys_off());
    }

    #[test]
    fn directives_out_of_place_or_misspelt_are_refused() {
        for (text, needle) in [
            (
                "-- sylvan:postgres\nSELECT 1;\n-- sylvan:postgress\nSELECT 2;",
                "line 3",
            ),
            (
                "-- sylvan:postgres\nSELECT 1;\n-- sylvan:postgres\nSELECT 2;",
                "line 3",
            ),
            (
                "SELECT 1;\n-- sylvan:sqlite\nSELECT 2;",
                "line 1: SQL outside",
            ),
            (
                "-- sylvan:sqlite\nSELECT 1;\n-- sylvan:generated\n",
                "line 3",
            ),
            (
                "SELECT 1;\n-- down\n-- sylvan:sqlite-foreign-keys-off\nSELECT 2;",
                "line 3",
            ),
            ("-- sylvan:state\n-- x\n-- down\nSELECT 1;", "line 1"),
            ("SELECT 1;\n-- sylvan:state\nSELECT 2;", "line 3"),
            (
                "-- sylvan:no-transaction\n-- sylvan:sqlite-foreign-keys-off\nSELECT 1;",
                "line 2: `-- sylvan:sqlite-foreign-keys-off` needs a transaction",
            ),
        ] {
            let e = Migration::parse("0004_a.sql", text)
                .unwrap_err()
                .to_string();
            assert!(e.contains(needle), "{text:?}: {e}");
        }
    }
}
