//! The command line, parsed by hand: [`parse`] turns the arguments into an
//! [`Invocation`] or a [`Failure::Usage`].
//!
//! Hand-written rather than with `clap`: six commands and five options fit
//! in this file, and `clap` with its derive would add more to a clean build
//! of the tool than the ORM's own crate takes.

use crate::Failure;
use std::path::PathBuf;

/// Options that every command accepts, anywhere on the line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Options {
    /// `--database-url`; `DATABASE_URL` is read when it is absent.
    pub database_url: Option<String>,
    /// `--source DIR`, default `migrations`.
    pub source: PathBuf,
}

/// What to show for `--help` and `help`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Topic {
    /// Every command.
    General,
    /// `sylvan migrate …`.
    Migrate,
    /// `sylvan makemigrations`.
    MakeMigrations,
}

/// A command to run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Command {
    /// Print help on a topic.
    Help(Topic),
    /// Print the version.
    Version,
    /// `migrate run`.
    Run,
    /// `migrate revert [--steps N]`.
    Revert {
        /// How many migrations to revert, newest first.
        steps: usize,
    },
    /// `migrate status`.
    Status,
    /// `migrate new NAME [--reversible]`.
    New {
        /// The name after the number.
        name: String,
        /// Write a `-- down` section.
        reversible: bool,
    },
    /// `makemigrations [--bin NAME] [args…]`.
    MakeMigrations {
        /// `--bin NAME`, when given.
        bin: Option<String>,
        /// What follows, passed to that binary.
        args: Vec<String>,
    },
}

/// A parsed command line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Invocation {
    /// The options.
    pub options: Options,
    /// The command.
    pub command: Command,
}

fn usage(message: impl Into<String>) -> Failure {
    Failure::Usage(message.into())
}

/// Parses the arguments (without the program name).
pub(crate) fn parse(args: Vec<String>) -> Result<Invocation, Failure> {
    let mut options = Options {
        database_url: None,
        source: PathBuf::from("migrations"),
    };
    let mut words: Vec<String> = Vec::new();
    let (mut help, mut version, mut reversible) = (false, false, false);
    let mut steps: Option<String> = None;
    let mut passed: Option<(Option<String>, Vec<String>)> = None;
    let mut args = args.into_iter();
    while let Some(arg) = args.next() {
        let (flag, inline) = match arg.split_once('=') {
            Some((f, v)) if f.starts_with("--") => (f.to_owned(), Some(v.to_owned())),
            _ => (arg.clone(), None),
        };
        let mut value = |name: &str| match inline.clone() {
            Some(v) => Ok(v),
            None => args
                .next()
                .ok_or_else(|| usage(format!("{name} needs a value"))),
        };
        match flag.as_str() {
            "-h" | "--help" => help = true,
            "-V" | "--version" => version = true,
            "--reversible" => reversible = true,
            "--database-url" => options.database_url = Some(value("--database-url")?),
            "--source" => options.source = PathBuf::from(value("--source")?),
            "--steps" => steps = Some(value("--steps")?),
            _ if flag.starts_with('-') && flag.len() > 1 => {
                return Err(usage(format!("unknown option `{arg}`")))
            }
            _ if words.is_empty() && arg == "makemigrations" => {
                passed = Some(pass_through(&mut args)?);
                words.push(arg);
                break;
            }
            _ => words.push(arg),
        }
        if inline.is_some() && !matches!(flag.as_str(), "--database-url" | "--source" | "--steps") {
            return Err(usage(format!("`{flag}` takes no value")));
        }
    }
    let words: Vec<&str> = words.iter().map(String::as_str).collect();
    let topic = |w: Option<&&str>| match w {
        Some(&"migrate") => Ok(Topic::Migrate),
        Some(&"makemigrations") => Ok(Topic::MakeMigrations),
        None => Ok(Topic::General),
        Some(other) => Err(usage(format!("no help on `{other}`: try `sylvan --help`"))),
    };
    if version {
        return Ok(Invocation {
            options,
            command: Command::Version,
        });
    }
    if help {
        let topic = topic(words.first())?;
        return Ok(Invocation {
            options,
            command: Command::Help(topic),
        });
    }
    let command =
        match words.as_slice() {
            [] => return Err(usage("no command given")),
            ["help", rest @ ..] if rest.len() <= 1 => Command::Help(topic(rest.first())?),
            ["migrate"] => {
                return Err(usage(
                    "`sylvan migrate` needs a subcommand: run, revert, status or new",
                ))
            }
            ["migrate", "run"] => Command::Run,
            ["migrate", "status"] => Command::Status,
            ["migrate", "revert"] => Command::Revert {
                steps: match &steps {
                    None => 1,
                    Some(n) => n.parse().ok().filter(|n| *n > 0).ok_or_else(|| {
                        usage(format!("--steps wants a positive number, not `{n}`"))
                    })?,
                },
            },
            ["migrate", "new", name] => Command::New {
                name: (*name).to_owned(),
                reversible,
            },
            ["migrate", "new"] => return Err(usage("`sylvan migrate new` needs a NAME")),
            ["migrate", other, ..] if !["run", "status", "revert", "new"].contains(other) => {
                return Err(usage(format!(
                    "unknown migrate subcommand `{other}`: run, revert, status or new"
                )))
            }
            ["makemigrations"] => {
                let (bin, args) = passed.unwrap_or_default();
                Command::MakeMigrations { bin, args }
            }
            [first, ..] if !["migrate", "help"].contains(first) => {
                return Err(usage(format!("unknown command `{first}`")))
            }
            [..] => {
                return Err(usage(format!(
                    "unexpected argument `{}`",
                    words.last().copied().unwrap_or_default()
                )))
            }
        };
    if steps.is_some() && !matches!(command, Command::Revert { .. }) {
        return Err(usage("--steps is an option of `sylvan migrate revert`"));
    }
    if reversible && !matches!(command, Command::New { .. }) {
        return Err(usage("--reversible is an option of `sylvan migrate new`"));
    }
    Ok(Invocation { options, command })
}

/// What follows `makemigrations`: an optional `--bin NAME` first, then the
/// arguments for that binary (a leading `--` dropped).
fn pass_through(
    args: &mut impl Iterator<Item = String>,
) -> Result<(Option<String>, Vec<String>), Failure> {
    let mut rest: Vec<String> = args.collect();
    let mut bin = None;
    if let Some(first) = rest.first() {
        if first == "--bin" {
            if rest.len() < 2 {
                return Err(usage("--bin needs a value"));
            }
            bin = Some(rest.remove(1));
            rest.remove(0);
        } else if let Some(name) = first.strip_prefix("--bin=") {
            bin = Some(name.to_owned());
            rest.remove(0);
        }
    }
    if rest.first().is_some_and(|a| a == "--") {
        rest.remove(0);
    }
    Ok((bin, rest))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_line(line: &str) -> Result<Invocation, Failure> {
        parse(line.split_whitespace().map(str::to_owned).collect())
    }

    fn command(line: &str) -> Command {
        parse_line(line).unwrap().command
    }

    fn usage_message(line: &str) -> String {
        match parse_line(line) {
            Err(Failure::Usage(m)) => m,
            other => panic!("{line}: expected a usage error, got {other:?}"),
        }
    }

    #[test]
    fn commands() {
        assert_eq!(command("migrate run"), Command::Run);
        assert_eq!(command("migrate status"), Command::Status);
        assert_eq!(command("migrate revert"), Command::Revert { steps: 1 });
        assert_eq!(
            command("migrate revert --steps 3"),
            Command::Revert { steps: 3 }
        );
        assert_eq!(
            command("migrate revert --steps=2"),
            Command::Revert { steps: 2 }
        );
        assert_eq!(
            command("migrate new add_email --reversible"),
            Command::New {
                name: "add_email".into(),
                reversible: true
            }
        );
        assert_eq!(command("--help"), Command::Help(Topic::General));
        assert_eq!(command("help migrate"), Command::Help(Topic::Migrate));
        assert_eq!(command("migrate --help"), Command::Help(Topic::Migrate));
        assert_eq!(command("-V"), Command::Version);
    }

    #[test]
    fn options_anywhere() {
        let i = parse_line("--source db/m migrate run --database-url=sqlite::memory:").unwrap();
        assert_eq!(i.options.source, PathBuf::from("db/m"));
        assert_eq!(i.options.database_url.as_deref(), Some("sqlite::memory:"));
        assert_eq!(i.command, Command::Run);
    }

    #[test]
    fn makemigrations_passes_the_rest_through() {
        assert_eq!(
            command("makemigrations --bin mk -- --name add_x"),
            Command::MakeMigrations {
                bin: Some("mk".into()),
                args: vec!["--name".into(), "add_x".into()]
            }
        );
        assert_eq!(
            command("--source x makemigrations --check"),
            Command::MakeMigrations {
                bin: None,
                args: vec!["--check".into()]
            }
        );
    }

    #[test]
    fn usage_errors() {
        assert!(usage_message("").contains("no command"));
        assert!(usage_message("migrate").contains("needs a subcommand"));
        assert!(usage_message("migrate frobnicate").contains("`frobnicate`"));
        assert!(usage_message("frobnicate").contains("unknown command `frobnicate`"));
        assert!(usage_message("migrate run --frob").contains("unknown option `--frob`"));
        assert!(usage_message("migrate revert --steps 0").contains("positive"));
        assert!(usage_message("migrate revert --steps x").contains("positive"));
        assert!(usage_message("migrate run --steps 2").contains("--steps"));
        assert!(usage_message("migrate status --reversible").contains("--reversible"));
        assert!(usage_message("migrate new").contains("NAME"));
        assert!(usage_message("migrate run extra").contains("`extra`"));
        assert!(usage_message("migrate run --source").contains("needs a value"));
        assert!(usage_message("help frob").contains("no help on `frob`"));
        assert!(usage_message("migrate run --reversible=yes").contains("takes no value"));
    }
}
