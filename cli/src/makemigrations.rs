//! `sylvan makemigrations`: runs the user's own `makemigrations` binary,
//! the one piece of code that can see their models.

use crate::{help, Failure};
use std::path::Path;
use std::process::{Command, ExitCode};

/// The binary run when `--bin` is not given.
const DEFAULT_BIN: &str = "makemigrations";

/// True when the crate in `dir` has a binary `bin`: `src/bin/<bin>.rs`,
/// `src/bin/<bin>/main.rs`, or a `name = "<bin>"` in its Cargo.toml (a
/// `[[bin]]` target).
fn has_binary(dir: &Path, bin: &str) -> bool {
    let src = dir.join("src").join("bin");
    if src.join(format!("{bin}.rs")).is_file() || src.join(bin).join("main.rs").is_file() {
        return true;
    }
    std::fs::read_to_string(dir.join("Cargo.toml")).is_ok_and(|manifest| {
        manifest.contains("[[bin]]")
            && manifest
                .lines()
                .any(|l| l.replace(' ', "") == format!("name=\"{bin}\""))
    })
}

/// Runs `cargo run --quiet --bin <bin> -- <args>` in the current
/// directory and exits with its code. With the default binary name and no
/// such binary in the crate here, prints the recipe and fails; an explicit
/// `--bin` is trusted (cargo finds it in a workspace member too).
pub(crate) fn run(bin: Option<&str>, args: &[String]) -> Result<ExitCode, Failure> {
    let name = bin.unwrap_or(DEFAULT_BIN);
    let here = std::env::current_dir()
        .map_err(|e| Failure::Failed(format!("no current directory: {e}")))?;
    if bin.is_none() && !has_binary(&here, name) {
        eprint!("{}", help::recipe(name));
        return Ok(ExitCode::FAILURE);
    }
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let status = Command::new(&cargo)
        .args(["run", "--quiet", "--bin", name, "--"])
        .args(args)
        .status()
        .map_err(|e| Failure::Failed(format!("cannot run cargo: {e}")))?;
    Ok(match status.code() {
        Some(0) => ExitCode::SUCCESS,
        Some(code) => ExitCode::from(u8::try_from(code).unwrap_or(1)),
        None => ExitCode::FAILURE,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn binaries_are_found_by_file_or_manifest() {
        let dir = tempfile::tempdir().unwrap();
        assert!(!has_binary(dir.path(), "makemigrations"));
        std::fs::write(
            dir.path().join("Cargo.toml"),
            "[package]\nname = \"makemigrations\"\n",
        )
        .unwrap();
        assert!(
            !has_binary(dir.path(), "makemigrations"),
            "a package name is not a binary"
        );
        std::fs::write(
            dir.path().join("Cargo.toml"),
            "[package]\nname = \"app\"\n[[bin]]\nname = \"mk\"\npath = \"tools/mk.rs\"\n",
        )
        .unwrap();
        assert!(has_binary(dir.path(), "mk"));
        std::fs::create_dir_all(dir.path().join("src/bin")).unwrap();
        std::fs::write(dir.path().join("src/bin/makemigrations.rs"), "fn main() {}").unwrap();
        assert!(has_binary(dir.path(), "makemigrations"));
    }
}
