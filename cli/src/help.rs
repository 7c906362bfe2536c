//! The help texts, and the makemigrations recipe.

use crate::args::Topic;

const GENERAL: &str = "\
sylvan: Sylvan's migrations from the command line

USAGE:
    sylvan [OPTIONS] <COMMAND>

COMMANDS:
    migrate run                      apply every pending migration
    migrate revert [--steps N]       revert the last N applied migrations (default 1)
    migrate status                   list migrations: applied, pending, edited, missing
    migrate new NAME [--reversible]  write the next NNNN_NAME.sql file
    makemigrations [--bin NAME] [ARGS...]
                                     generate a migration from your models
    help [migrate|makemigrations]    print help

OPTIONS:
    --database-url URL   the database (default: the DATABASE_URL variable)
    --source DIR         the migrations directory (default: migrations)
    -h, --help           print help
    -V, --version        print the version

EXIT CODES:
    0  success
    1  the command failed (the error is printed), or `migrate status` found
       an edited or missing migration
    2  a usage error: unknown command or option, bad NAME, no database URL
";

const MIGRATE: &str = "\
sylvan migrate: run, revert and inspect the migrations of --source DIR
(default `migrations`: NNNN_name.sql files, an optional `-- down` section).

USAGE:
    sylvan migrate run                      apply pending migrations, printing each
    sylvan migrate revert [--steps N]       revert the newest N (default 1) with their
                                            down sections
    sylvan migrate status                   one line per migration: applied, pending,
                                            edited (changed after it was applied) or
                                            missing (applied, no file); exits 1 when
                                            any is edited or missing
    sylvan migrate new NAME [--reversible]  write NNNN_NAME.sql, numbered after the
                                            highest file; NAME is lowercase letters,
                                            digits and underscores

OPTIONS:
    --database-url URL   the database (default: the DATABASE_URL variable)
    --source DIR         the migrations directory (default: migrations)
";

const MAKEMIGRATIONS: &str = "\
sylvan makemigrations: generate the next migration from your models.

USAGE:
    sylvan makemigrations [--bin NAME] [-- ARGS...]

Only your crate knows its models, so this runs a small binary of yours:
`cargo run --quiet --bin makemigrations -- ARGS...` in the current
directory (`--bin NAME` for another name). Without one, it prints the
recipe for src/bin/makemigrations.rs and exits 1.
";

/// The binary `sylvan makemigrations` runs: the text a user copies.
pub(crate) fn recipe(bin: &str) -> String {
    format!(
        "\
sylvan makemigrations runs `cargo run --bin {bin}` in your crate, which only your
code can write since only it knows your models. Add src/bin/{bin}.rs:

    fn main() -> sylvan::Result<()> {{
        let schema = sylvan::Schema::new().model::<my_app::Author>().model::<my_app::Book>();
        match sylvan::MakeMigrations::new(schema).ask_on_terminal().plan_dir(\"migrations\")? {{
            Some(plan) => println!(\"wrote {{}}\", plan.write()?.display()),
            None => println!(\"no changes\"),
        }}
        Ok(())
    }}

then run `sylvan makemigrations` again from the crate's directory.
"
    )
}

/// The help text of a topic.
pub(crate) fn text(topic: Topic) -> &'static str {
    match topic {
        Topic::General => GENERAL,
        Topic::Migrate => MIGRATE,
        Topic::MakeMigrations => MAKEMIGRATIONS,
    }
}
