//! The `sylvan` binary end to end, as a process: help and usage errors,
//! the makemigrations recipe, and the migration workflow (new, run,
//! status, revert, edits and missing files) on a SQLite file and on a
//! PostgreSQL database of its own.

#![allow(missing_docs, clippy::unwrap_used)]

use std::path::Path;
use std::process::{Command, Output};
use std::sync::atomic::{AtomicUsize, Ordering};

/// Runs `sylvan ARGS` in `cwd` with `DATABASE_URL` set to `url` (or unset).
fn sylvan(cwd: &Path, url: Option<&str>, args: &[&str]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_sylvan"));
    cmd.args(args).current_dir(cwd).env_remove("DATABASE_URL");
    if let Some(url) = url {
        cmd.env("DATABASE_URL", url);
    }
    cmd.output().unwrap()
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Asserts the exit code, showing both streams when it differs.
#[track_caller]
fn expect(o: &Output, code: i32) {
    assert_eq!(
        o.status.code(),
        Some(code),
        "stdout:\n{}\nstderr:\n{}",
        stdout(o),
        stderr(o)
    );
}

#[test]
fn help_and_usage_errors() {
    let dir = tempfile::tempdir().unwrap();
    let o = sylvan(dir.path(), None, &["--help"]);
    expect(&o, 0);
    for needle in [
        "migrate run",
        "migrate status",
        "makemigrations",
        "DATABASE_URL",
    ] {
        assert!(stdout(&o).contains(needle), "{needle}: {}", stdout(&o));
    }
    let o = sylvan(dir.path(), None, &["help", "migrate"]);
    expect(&o, 0);
    assert!(stdout(&o).contains("--steps N"), "{}", stdout(&o));

    let o = sylvan(dir.path(), None, &["frobnicate"]);
    expect(&o, 2);
    assert!(
        stderr(&o).contains("unknown command `frobnicate`"),
        "{}",
        stderr(&o)
    );
    let o = sylvan(dir.path(), None, &[]);
    expect(&o, 2);
    let o = sylvan(dir.path(), None, &["migrate", "status"]);
    expect(&o, 2);
    assert!(stderr(&o).contains("DATABASE_URL"), "{}", stderr(&o));
    let o = sylvan(dir.path(), None, &["migrate", "new", "Bad-Name"]);
    expect(&o, 2);
    assert!(stderr(&o).contains("bad migration name"), "{}", stderr(&o));
    assert!(!dir.path().join("migrations").exists());
}

#[test]
fn errors_of_the_library_exit_1_with_its_message() {
    let dir = tempfile::tempdir().unwrap();
    // No migrations directory.
    let o = sylvan(dir.path(), Some("sqlite::memory:"), &["migrate", "run"]);
    expect(&o, 1);
    assert!(
        stderr(&o).contains("cannot read migrations"),
        "{}",
        stderr(&o)
    );
    // A file that controls the transaction.
    std::fs::create_dir(dir.path().join("migrations")).unwrap();
    std::fs::write(
        dir.path().join("migrations/0001_a.sql"),
        "SELECT 1;\nCOMMIT;\n",
    )
    .unwrap();
    let o = sylvan(dir.path(), Some("sqlite::memory:"), &["migrate", "run"]);
    expect(&o, 1);
    assert!(stderr(&o).contains("0001_a.sql: line 2"), "{}", stderr(&o));
}

#[test]
fn makemigrations_without_a_binary_prints_the_recipe() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("Cargo.toml"), "[package]\nname = \"app\"\n").unwrap();
    let o = sylvan(dir.path(), None, &["makemigrations", "--", "--name", "x"]);
    expect(&o, 1);
    for needle in [
        "src/bin/makemigrations.rs",
        "sylvan::MakeMigrations::new(schema).ask_on_terminal().plan_dir(\"migrations\")",
        "fn main()",
    ] {
        assert!(stderr(&o).contains(needle), "{needle}: {}", stderr(&o));
    }
    // Nothing was built or run: no target directory appeared.
    assert!(!dir.path().join("target").exists());
}

fn write(dir: &Path, file: &str, text: &str) {
    std::fs::write(dir.join("migrations").join(file), text).unwrap();
}

/// new → edit → run → status → new → status → run → revert → status →
/// edits and a missing file reported, and `run` refusing them.
fn workflow(url: &str) {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let env = Some(url);

    let o = sylvan(d, None, &["migrate", "new", "create_notes", "--reversible"]);
    expect(&o, 0);
    assert!(
        stdout(&o).contains("0001_create_notes.sql"),
        "{}",
        stdout(&o)
    );
    let template = std::fs::read_to_string(d.join("migrations/0001_create_notes.sql")).unwrap();
    assert!(template.contains("\n-- down\n"), "{template}");
    let create = "CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT NOT NULL);\n";
    write(
        d,
        "0001_create_notes.sql",
        &format!("{create}-- down\nDROP TABLE notes;\n"),
    );

    let o = sylvan(d, None, &["--database-url", url, "migrate", "run"]);
    expect(&o, 0);
    assert_eq!(stdout(&o), "applied 0001 create_notes\n");
    let o = sylvan(d, env, &["migrate", "status"]);
    expect(&o, 0);
    assert!(
        stdout(&o).starts_with("0001  applied  create_notes  (applied 20"),
        "{}",
        stdout(&o)
    );

    let o = sylvan(d, None, &["migrate", "new", "add_tag", "--reversible"]);
    expect(&o, 0);
    assert!(stdout(&o).contains("0002_add_tag.sql"), "{}", stdout(&o));
    write(
        d,
        "0002_add_tag.sql",
        "ALTER TABLE notes ADD COLUMN tag TEXT;\n-- down\nALTER TABLE notes DROP COLUMN tag;\n",
    );
    let o = sylvan(d, env, &["migrate", "status"]);
    expect(&o, 0);
    let lines: Vec<String> = stdout(&o).lines().map(str::to_owned).collect();
    assert_eq!(lines.len(), 2, "{lines:?}");
    assert!(
        lines[0].starts_with("0001  applied  create_notes"),
        "{lines:?}"
    );
    assert_eq!(lines[1], "0002  pending  add_tag");

    let o = sylvan(d, env, &["migrate", "run"]);
    expect(&o, 0);
    assert_eq!(stdout(&o), "applied 0002 add_tag\n");
    let o = sylvan(d, env, &["migrate", "run"]);
    expect(&o, 0);
    assert_eq!(stdout(&o), "nothing to apply\n");

    let o = sylvan(d, env, &["migrate", "revert"]);
    expect(&o, 0);
    assert_eq!(stdout(&o), "reverted 0002 add_tag\n");
    let o = sylvan(d, env, &["migrate", "status"]);
    expect(&o, 0);
    assert!(
        stdout(&o).ends_with("0002  pending  add_tag\n"),
        "{}",
        stdout(&o)
    );
    // The down section ran: adding the column again works.
    let o = sylvan(d, env, &["migrate", "run"]);
    expect(&o, 0);
    assert_eq!(stdout(&o), "applied 0002 add_tag\n");
    let o = sylvan(d, env, &["migrate", "revert", "--steps", "2"]);
    expect(&o, 0);
    assert_eq!(
        stdout(&o),
        "reverted 0002 add_tag\nreverted 0001 create_notes\n"
    );
    let o = sylvan(d, env, &["migrate", "run"]);
    expect(&o, 0);
    assert_eq!(
        stdout(&o),
        "applied 0001 create_notes\napplied 0002 add_tag\n"
    );

    // The same file with Windows line endings is not an edit.
    write(
        d,
        "0001_create_notes.sql",
        &format!("{create}-- down\nDROP TABLE notes;\n").replace('\n', "\r\n"),
    );
    let o = sylvan(d, env, &["migrate", "status"]);
    expect(&o, 0);

    // An edited applied migration: reported by status (exit 1), refused by run.
    write(
        d,
        "0001_create_notes.sql",
        &format!("{create}CREATE INDEX notes_body ON notes (body);\n-- down\nDROP TABLE notes;\n"),
    );
    let o = sylvan(d, env, &["migrate", "status"]);
    expect(&o, 1);
    assert!(
        stdout(&o).starts_with("0001  edited   create_notes"),
        "{}",
        stdout(&o)
    );
    assert!(
        stdout(&o).contains("0002  applied  add_tag"),
        "{}",
        stdout(&o)
    );
    assert!(stderr(&o).contains("edited or missing"), "{}", stderr(&o));
    let o = sylvan(d, env, &["migrate", "run"]);
    expect(&o, 1);
    assert!(
        stderr(&o).contains("migration 1 (create_notes) was changed after it was applied"),
        "{}",
        stderr(&o)
    );

    // A missing one.
    std::fs::remove_file(d.join("migrations/0002_add_tag.sql")).unwrap();
    let o = sylvan(d, env, &["migrate", "status"]);
    expect(&o, 1);
    assert!(
        stdout(&o).contains("0002  missing  add_tag"),
        "{}",
        stdout(&o)
    );
}

#[test]
fn the_workflow_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("app.db").display());
    workflow(&url);
}

/// A PostgreSQL database of its own, dropped at the end (panics included).
struct PgDatabase {
    admin_url: String,
    name: String,
    url: String,
}

impl PgDatabase {
    fn create() -> Option<PgDatabase> {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let admin_url = std::env::var("SYLVAN_TEST_PG_URL")
            .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".to_owned());
        let mut admin = match postgres::Client::connect(&admin_url, postgres::NoTls) {
            Ok(c) => c,
            Err(e) if std::env::var("SYLVAN_REQUIRE_PG").is_ok_and(|v| v == "1") => {
                panic!("PostgreSQL is required (SYLVAN_REQUIRE_PG=1) but unreachable: {e}")
            }
            Err(e) => {
                eprintln!("SKIP postgres: {e} (set SYLVAN_REQUIRE_PG=1 to fail instead)");
                return None;
            }
        };
        let name = format!(
            "cli_{}_{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        );
        admin
            .batch_execute(&format!("CREATE DATABASE \"{name}\""))
            .unwrap();
        let (base, query) = match admin_url.split_once('?') {
            Some((b, q)) => (b, format!("?{q}")),
            None => (admin_url.as_str(), String::new()),
        };
        let server = base.rsplit_once('/').map_or(base, |(server, _)| server);
        let url = format!("{server}/{name}{query}");
        Some(PgDatabase {
            admin_url,
            name,
            url,
        })
    }
}

impl Drop for PgDatabase {
    fn drop(&mut self) {
        if let Ok(mut admin) = postgres::Client::connect(&self.admin_url, postgres::NoTls) {
            let _ = admin.batch_execute(&format!(
                "DROP DATABASE IF EXISTS \"{}\" WITH (FORCE)",
                self.name
            ));
        }
    }
}

#[test]
fn the_workflow_on_postgres() {
    let Some(db) = PgDatabase::create() else {
        return;
    };
    workflow(&db.url);
}
