//! The `sylvan` command: runs, reverts and lists Sylvan migrations, writes
//! new migration files, and runs the crate's own `makemigrations` binary.
//! `sylvan --help` lists the commands; `cli/README.md` says more.
//!
//! Exit codes: 0 success; 1 a failed command (its error printed) or a
//! `migrate status` that found edited or missing migrations; 2 a usage
//! error (unknown command or option, bad name, no database URL).

mod args;
mod help;
mod makemigrations;
mod migrate;
mod new_file;

use args::Command;
use std::process::ExitCode;

/// Why a command did not succeed.
#[derive(Debug)]
pub(crate) enum Failure {
    /// The command line is wrong: exit code 2.
    Usage(String),
    /// The command failed: exit code 1.
    Failed(String),
}

impl From<sylvan::Error> for Failure {
    fn from(e: sylvan::Error) -> Self {
        Failure::Failed(e.to_string())
    }
}

fn main() -> ExitCode {
    let outcome = std::env::args_os()
        .skip(1)
        .map(|a| {
            a.into_string()
                .map_err(|a| Failure::Usage(format!("argument {a:?} is not UTF-8")))
        })
        .collect::<Result<Vec<String>, Failure>>()
        .and_then(args::parse)
        .and_then(execute);
    match outcome {
        Ok(code) => code,
        Err(Failure::Usage(message)) => {
            eprintln!("sylvan: {message}\nRun `sylvan --help` for the commands.");
            ExitCode::from(2)
        }
        Err(Failure::Failed(message)) => {
            eprintln!("sylvan: error: {message}");
            ExitCode::FAILURE
        }
    }
}

/// Runs a parsed command line.
fn execute(invocation: args::Invocation) -> Result<ExitCode, Failure> {
    let options = &invocation.options;
    match &invocation.command {
        Command::Help(topic) => {
            print!("{}", help::text(*topic));
            Ok(ExitCode::SUCCESS)
        }
        Command::Version => {
            println!("sylvan {}", env!("CARGO_PKG_VERSION"));
            Ok(ExitCode::SUCCESS)
        }
        Command::New { name, reversible } => {
            let path = new_file::create(&options.source, name, *reversible)?;
            println!("created {}", path.display());
            Ok(ExitCode::SUCCESS)
        }
        Command::MakeMigrations { bin, args } => makemigrations::run(bin.as_deref(), args),
        Command::Run => block_on(migrate::run(options)),
        Command::Revert { steps } => block_on(migrate::revert(options, *steps)),
        Command::Status => block_on(migrate::status(options)),
    }
}

/// Runs a database command on a single-threaded runtime (SQLite work runs
/// on the library's own worker threads).
fn block_on<F: std::future::Future<Output = Result<ExitCode, Failure>>>(
    future: F,
) -> Result<ExitCode, Failure> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| Failure::Failed(format!("cannot start the async runtime: {e}")))?
        .block_on(future)
}
