//! `sylvan migrate new NAME`: the next `NNNN_name.sql` file.

use crate::Failure;
use std::path::{Path, PathBuf};

/// Refuses a name that is not lowercase ASCII letters, digits and
/// underscores starting with a letter (it becomes part of a file name and
/// of what `status` prints).
pub(crate) fn check_name(name: &str) -> Result<(), Failure> {
    let fine = name.len() <= 100
        && name.starts_with(|c: char| c.is_ascii_lowercase())
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
    if fine {
        Ok(())
    } else {
        Err(Failure::Usage(format!(
            "bad migration name `{name}`: use lowercase letters, digits and underscores, \
             starting with a letter (for example add_user_email)"
        )))
    }
}

/// One more than the highest version among the directory's `NNNN_*.sql`
/// files (1 when there are none, or no directory).
pub(crate) fn next_version(dir: &Path) -> Result<i64, Failure> {
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(1),
        Err(e) => {
            return Err(Failure::Failed(format!(
                "cannot read {}: {e}",
                dir.display()
            )))
        }
    };
    let mut highest = 0_i64;
    for entry in entries {
        let entry =
            entry.map_err(|e| Failure::Failed(format!("cannot read {}: {e}", dir.display())))?;
        let name = entry.file_name();
        let Some(version) = name
            .to_str()
            .and_then(|n| n.strip_suffix(".sql"))
            .and_then(|stem| stem.split_once('_'))
            .and_then(|(number, _)| number.parse::<i64>().ok())
        else {
            continue;
        };
        highest = highest.max(version);
    }
    highest
        .checked_add(1)
        .ok_or_else(|| Failure::Failed("the highest migration version is the largest i64".into()))
}

/// The file's first text.
pub(crate) fn template(version: i64, name: &str, reversible: bool) -> String {
    let mut text = format!("-- Migration {version:04} ({name}): the SQL that applies it.\n\n");
    if reversible {
        text.push_str("-- down\n-- The SQL that reverts it.\n\n");
    }
    text
}

/// Writes the next migration file into `dir` (created when missing) and
/// returns its path. Never overwrites a file.
pub(crate) fn create(dir: &Path, name: &str, reversible: bool) -> Result<PathBuf, Failure> {
    check_name(name)?;
    let version = next_version(dir)?;
    let io = |path: &Path, e: std::io::Error| {
        Failure::Failed(format!("cannot write {}: {e}", path.display()))
    };
    std::fs::create_dir_all(dir).map_err(|e| io(dir, e))?;
    let path = dir.join(format!("{version:04}_{name}.sql"));
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&path)
        .map_err(|e| io(&path, e))?;
    std::io::Write::write_all(&mut file, template(version, name, reversible).as_bytes())
        .map_err(|e| io(&path, e))?;
    Ok(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        for good in ["a", "add_email", "v2_users"] {
            assert!(check_name(good).is_ok(), "{good}");
        }
        for bad in ["", "Add", "1_a", "_a", "a-b", "a b", "a/b", "é", "../x"] {
            assert!(check_name(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn numbers_follow_the_highest_file() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(next_version(&dir.path().join("absent")).unwrap(), 1);
        assert_eq!(next_version(dir.path()).unwrap(), 1);
        for f in [
            "0002_a.sql",
            "0010_b.sql",
            "0099_notes.txt",
            "x_c.sql",
            "readme",
        ] {
            std::fs::write(dir.path().join(f), "").unwrap();
        }
        assert_eq!(next_version(dir.path()).unwrap(), 11);
        let path = create(dir.path(), "add_x", true).unwrap();
        assert!(path.ends_with("0011_add_x.sql"), "{}", path.display());
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(text.contains("\n-- down\n"), "{text}");
        assert!(!template(3, "y", false).contains("-- down"));
        assert!(create(dir.path(), "Bad", false).is_err());
    }
}
