//! Versioned SQL migrations. Users' documentation (file format, locking,
//! no-transaction migrations, refused statements): `docs/guide/migrations.md`,
//! rendered as `sylvan::docs::migrations`.
//!
//! The pieces: [`Migration`] (one file), [`Migrations`] (the ordered set),
//! what is applied ([`AppliedMigration`], the tracking table), the
//! migration lock, running and rolling back in transactions, and the
//! no-transaction path with its own locking session.

// In this order, rustdoc lists `Migrations`' methods as they read: built,
// then what is applied, then run and rolled back.
mod migration;
mod migrations;

mod applied;
mod checksum;
mod run;
mod status;

mod lock;
mod no_transaction;

pub(crate) mod auto;

/// The reading of migration files, shared with `embed_migrations!` (the
/// proc-macro crate cannot depend on this one, so both include one file).
#[allow(dead_code)]
mod text;

pub use applied::AppliedMigration;
pub use auto::{Ambiguity, Answer, MakeMigrations, Operation, Plan, SchemaState};
pub use status::{MigrationState, MigrationStatus};

/// The statements of a PostgreSQL script, split as the server reads it.
#[cfg_attr(not(feature = "postgres"), allow(dead_code))]
pub(crate) fn split_postgres_statements(sql: &str) -> Vec<&str> {
    text::split_statements(sql, text::POSTGRES_LEXING)
}
pub use migration::Migration;
pub use migrations::Migrations;
