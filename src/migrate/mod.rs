//! Versioned SQL migrations: files `NNNN_name.sql` with an optional down
//! section after a line `-- down`, embedded at compile time by
//! [`embed_migrations!`](crate::embed_migrations) (or read at run time with
//! [`Migrations::from_dir`]), applied in order, each in its own transaction,
//! and recorded in `sylvan_migrations` with a checksum.
//!
//! Two processes migrating one database at once apply each migration once:
//! every migration's transaction first takes a lock — a transaction-scoped
//! advisory lock on PostgreSQL, the database write lock (`BEGIN IMMEDIATE`)
//! on SQLite — and re-reads what is applied under it. An applied migration
//! whose file changed is an [`Error::Migration`](crate::Error::Migration)
//! naming it.
//!
//! A migration whose first line is `-- sylvan:no-transaction` runs outside
//! any transaction, statement by statement (for `CREATE INDEX
//! CONCURRENTLY`), on a connection of its own outside the pool that holds
//! the migration lock for the whole migration: a session-level advisory
//! lock on PostgreSQL (it conflicts with the transaction-level one), on
//! SQLite a process-wide mutex and an OS lock on the file
//! `<database>-sylvan-migrate.lock` beside the database. Its connection is
//! closed at the end, so no session state it set reaches the pool, and a
//! cancelled or crashed migrator's lock dies with its connection. It is
//! recorded only once every statement succeeded.
//!
//! Statements that control the transaction (`BEGIN`, `START TRANSACTION`,
//! `COMMIT`, `END`, `ROLLBACK`, `ABORT`, `SAVEPOINT`, `RELEASE`,
//! `PREPARE TRANSACTION`) are refused in every migration, before anything
//! runs: in a transactional one they would end Sylvan's transaction (and
//! with it the migration lock) early. Text in strings, dollar-quoted bodies
//! (`DO $$ BEGIN … END $$`), quoted identifiers and comments does not count.
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
mod run;

mod lock;
mod no_transaction;

/// The reading of migration files, shared with `embed_migrations!` (the
/// proc-macro crate cannot depend on this one, so both include one file).
#[allow(dead_code)]
mod text;

pub use applied::AppliedMigration;

/// The statements of a PostgreSQL script, split as the server reads it.
pub(crate) fn split_postgres_statements(sql: &str) -> Vec<&str> {
    text::split_statements(sql, text::POSTGRES_LEXING)
}
pub use migration::Migration;
pub use migrations::Migrations;
