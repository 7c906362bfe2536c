//! The ordered set of migrations: [`Migrations`], from a list, embedded,
//! or read from a directory, and checked before anything runs.

use super::Migration;
use crate::error::{Error, Result};
use std::collections::BTreeSet;
use std::path::Path;

/// An ordered set of migrations.
#[derive(Debug, Clone)]
pub struct Migrations {
    pub(super) list: Vec<Migration>,
    /// For an embedded set, the directory it was read from at compile time
    /// and the `*.sql` file names seen there.
    embedded_from: Option<EmbeddedDir>,
}

/// Where `embed_migrations!` read its files, and which.
#[derive(Debug, Clone)]
struct EmbeddedDir {
    dir: &'static str,
    names: &'static [&'static str],
}

impl Migrations {
    /// Migrations from a list; they are applied in version order, and two
    /// with one version are an error.
    pub fn new(list: impl IntoIterator<Item = Migration>) -> Result<Self> {
        let mut list: Vec<Migration> = list.into_iter().collect();
        for m in &list {
            m.check()?;
        }
        list.sort_by_key(|m| m.version);
        if let Some(w) = list.windows(2).find(|w| w[0].version == w[1].version) {
            return Err(Error::Migration {
                version: Some(w[0].version),
                message: format!("two migrations have version {}", w[0].version),
            });
        }
        Ok(Migrations {
            list,
            embedded_from: None,
        })
    }

    /// Migrations embedded by [`embed_migrations!`](crate::embed_migrations),
    /// which checked them at compile time.
    #[doc(hidden)]
    pub fn embedded(list: Vec<Migration>) -> Self {
        Migrations {
            list,
            embedded_from: None,
        }
    }

    /// Migrations embedded by [`embed_migrations!`](crate::embed_migrations)
    /// from the directory `dir` (absolute), where it saw the `*.sql` files
    /// `names`. Before anything runs, when `dir` exists on this machine and
    /// its `*.sql` files are not `names`, the set is stale (a file was added
    /// or removed after the crate was compiled) and [`Migrations::run`],
    /// [`Migrations::rollback`] and [`Migrations::status`] refuse it.
    #[doc(hidden)]
    pub fn embedded_from(
        dir: &'static str,
        names: &'static [&'static str],
        list: Vec<Migration>,
    ) -> Self {
        Migrations {
            list,
            embedded_from: Some(EmbeddedDir { dir, names }),
        }
    }

    /// Reads every `NNNN_name.sql` file of a directory at run time.
    pub fn from_dir(dir: impl AsRef<Path>) -> Result<Self> {
        let dir = dir.as_ref();
        let io = |e: std::io::Error| Error::Migration {
            version: None,
            message: format!("cannot read {}: {e}", dir.display()),
        };
        let mut list = Vec::new();
        for entry in std::fs::read_dir(dir).map_err(io)? {
            let path = entry.map_err(io)?.path();
            let Some(file) = path.file_name().and_then(|f| f.to_str()) else {
                continue;
            };
            if file.ends_with(".sql") {
                let text = std::fs::read_to_string(&path).map_err(io)?;
                list.push(Migration::parse(file, &text)?);
            }
        }
        Migrations::new(list)
    }

    /// The migrations, in order.
    pub fn list(&self) -> &[Migration] {
        &self.list
    }

    /// Every migration's text is checked before anything runs (embedded
    /// ones were checked at compile time; `Migration::new` builds unchecked),
    /// and an embedded set against its directory, when that still exists.
    pub(super) fn check(&self) -> Result<()> {
        self.list.iter().try_for_each(Migration::check)?;
        match &self.embedded_from {
            Some(embedded) => embedded.check(),
            None => Ok(()),
        }
    }
}

impl EmbeddedDir {
    /// Refuses when the directory's `*.sql` files differ from the ones
    /// compiled in. A directory that is gone (a deployed binary) or
    /// unreadable is not checked.
    fn check(&self) -> Result<()> {
        let Ok(entries) = std::fs::read_dir(self.dir) else {
            return Ok(());
        };
        let now: BTreeSet<String> = entries
            .filter_map(|e| e.ok()?.file_name().into_string().ok())
            .filter(|name| name.ends_with(".sql"))
            .collect();
        let then: BTreeSet<String> = self.names.iter().map(|n| (*n).to_owned()).collect();
        let added: Vec<&str> = now.difference(&then).map(String::as_str).collect();
        let removed: Vec<&str> = then.difference(&now).map(String::as_str).collect();
        if added.is_empty() && removed.is_empty() {
            return Ok(());
        }
        let mut changes = Vec::new();
        if !added.is_empty() {
            changes.push(format!("added {}", added.join(", ")));
        }
        if !removed.is_empty() {
            changes.push(format!("removed {}", removed.join(", ")));
        }
        Err(Error::Migration {
            version: None,
            message: format!(
                "the migrations embedded from {} are stale, files were {} since the crate was \
                 compiled: rebuild it, and add `println!(\"cargo:rerun-if-changed=<dir>\");` \
                 (<dir> relative to Cargo.toml) to its build.rs so that cargo rebuilds it when \
                 migration files are added or removed",
                self.dir,
                changes.join(" and ")
            ),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn duplicate_versions_are_refused() {
        let e = Migrations::new([
            Migration::new(1, "a", "", None),
            Migration::new(1, "b", "", None),
        ]);
        assert!(e.is_err());
    }

    #[test]
    fn a_stale_embedded_set_names_the_added_and_removed_files() {
        let dir = tempfile::tempdir().unwrap();
        for f in ["0001_a.sql", "0003_c.sql", "notes.txt"] {
            std::fs::write(dir.path().join(f), "SELECT 1;\n").unwrap();
        }
        let path: &'static str = Box::leak(dir.path().display().to_string().into_boxed_str());
        let list = || vec![Migration::new(1, "a", "SELECT 1;\n", None)];
        let stale = Migrations::embedded_from(path, &["0001_a.sql", "0002_b.sql"], list());
        let e = stale.check().unwrap_err().to_string();
        for needle in [
            "added 0003_c.sql",
            "removed 0002_b.sql",
            "cargo:rerun-if-changed",
        ] {
            assert!(e.contains(needle), "{needle} not in {e}");
        }
        assert!(!e.contains("notes.txt"), "{e}");
        let fresh = Migrations::embedded_from(path, &["0001_a.sql", "0003_c.sql"], list());
        fresh.check().unwrap();
        // A directory that is not there (a deployed binary) is not checked.
        drop(dir);
        stale.check().unwrap();
    }
}
