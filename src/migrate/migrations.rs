//! The ordered set of migrations: [`Migrations`], from a list, embedded,
//! or read from a directory, and checked before anything runs.

use super::Migration;
use crate::error::{Error, Result};
use std::path::Path;

/// An ordered set of migrations.
#[derive(Debug, Clone)]
pub struct Migrations {
    pub(super) list: Vec<Migration>,
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
        Ok(Migrations { list })
    }

    /// Migrations embedded by [`embed_migrations!`](crate::embed_migrations),
    /// which checked them at compile time.
    #[doc(hidden)]
    pub fn embedded(list: Vec<Migration>) -> Self {
        Migrations { list }
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
    /// ones were checked at compile time; `Migration::new` builds unchecked).
    pub(super) fn check(&self) -> Result<()> {
        self.list.iter().try_for_each(Migration::check)
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
}
