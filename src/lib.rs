#![doc = include_str!("../README.md")]
//!
//! # Connection URLs
//!
//! | URL | database |
//! |---|---|
//! | `sqlite::memory:` (or `sqlite://:memory:`) | a private in-memory database, shared by all the pool's connections, alive while the pool lives |
//! | `sqlite://relative/path.db` | a file relative to the working directory, created if missing, in WAL mode |
//! | `sqlite:///absolute/path.db` | an absolute file path |
//! | `postgres://user:pass@host:port/db?…` (or `postgresql://`) | a PostgreSQL server; libpq-style parameters such as `application_name`, `connect_timeout` and `options` pass through to tokio-postgres |
//! | `host=localhost user=app password='s e' dbname=app …` | a PostgreSQL server, as a libpq `key=value` string (values bare or `'quoted'`, `\` escapes); `pool_*` keys work here too |
//!
//! Pool parameters, on either backend: `pool_max_size`, `pool_wait_timeout`,
//! `pool_create_timeout`, `pool_recycle_timeout`, `pool_max_lifetime`,
//! `pool_idle_timeout`, `pool_liveness_check_after`, and `statement_timeout`
//! (see [`PoolConfig`] for defaults; `statement_timeout` is Sylvan's own
//! client-side bound, never sent to the server). Durations are
//! `250ms`, `5s`, `2m`, or a bare number of seconds; `off` disables a
//! lifetime, idle timeout, liveness check or statement timeout.
//!
//! PostgreSQL TLS parameters, in either form, read as libpq reads them (the
//! `tls` cargo feature, on by default; rustls with ring):
//!
//! | parameter | meaning |
//! |---|---|
//! | `sslmode=disable` | plaintext |
//! | `sslmode=allow` | plaintext; if the server refuses it, once more over TLS without verification |
//! | `sslmode=prefer` (the default) | TLS when the server offers it, plaintext otherwise; no certificate verification (if the TLS handshake fails, once more in plaintext) |
//! | `sslmode=require` | TLS or [`Error::Tls`]; no verification, except that a given `sslrootcert` verifies the chain (as in libpq) |
//! | `sslmode=verify-ca` | TLS, the chain verified against the roots; the host name is not checked |
//! | `sslmode=verify-full` | TLS, the chain and the host name verified (an IP host must match an IP address in the certificate) |
//! | `sslrootcert=PATH` | trusted roots: a PEM file of one or more certificates. Without it, verify-ca and verify-full use the system's roots (unlike libpq, which reads `~/.postgresql/root.crt`) |
//! | `sslrootcert=system` | the system's roots; implies `sslmode=verify-full`, and a weaker mode is refused |
//! | `sslcert=PATH`, `sslkey=PATH` | a client certificate (PEM chain) and its unencrypted key (PEM: PKCS#8, PKCS#1 or SEC1), sent when the server asks; both or neither |
//!
//! Certificate files are read when the URL is parsed, once per pool: a file
//! that cannot be read or used is an [`Error::Config`] naming the parameter
//! and path. A TLS failure while connecting is an [`Error::Tls`] whose
//! [`Error::tls_kind`] tells a server without TLS, an untrusted certificate,
//! a host-name mismatch and other handshake failures apart. Cancel requests
//! travel like their session. Without the `tls` feature, `allow` and
//! `prefer` are plaintext and the modes that demand TLS are refused with an
//! [`Error::Config`]. `sslcrl`, `sslcrldir` and `sslpassword` are refused.
//!
//! PostgreSQL connections use TCP keepalives so that a vanished peer host
//! is noticed in about a minute: probes after 30 s of silence, every 10 s,
//! dropped after 3 unanswered (`keepalives_idle=30`, `keepalives_interval=10`,
//! `keepalives_retries=3`), and `tcp_user_timeout=60` (seconds; Linux: unacknowledged
//! data). Set any of these parameters, or `keepalives=0`, in the URL to
//! change them. SQLite also takes `busy_timeout` (default 5s),
//! `synchronous` (`off`, `normal` — the default, durable across application
//! crashes in WAL mode but not across power loss —, `full`, `extra`) and
//! `statement_cache` (prepared statements kept per connection, default 128).
//! PostgreSQL also takes `pooler=transaction` (Sylvan's own, not sent to
//! the server) when the URL names a transaction-mode pooler such as
//! PgBouncer with `pool_mode = transaction`: unnamed statements only, no
//! session state, migrations refused (see
//! [`DatabaseBuilder::transaction_pooler`] for what changes and what it
//! costs); `pooler=none` (the default) or `pooler=session` for a direct
//! connection or a session-mode pooler.
//! A bad URL or value is an [`Error::Config`] naming it (passwords redacted).
//! In a PostgreSQL URL, a password may hold `/` or `?` as they are, but an
//! `@` must be written `%40`. A SQLite path is always a file name, never a
//! SQLite URI: a relative `sqlite://file:x.db` opens `./file:x.db`.
//!
//! # Cargo features
//!
//! | feature | default | what it adds |
//! |---|---|---|
//! | `sqlite` | on | the SQLite backend (rusqlite, SQLite bundled), [`Connection::interact`], [`DatabaseBuilder::sqlite_on_connect`] |
//! | `postgres` | on | the PostgreSQL backend (tokio-postgres), read replicas ([`DatabaseBuilder::replica`]), transaction poolers |
//! | `tls` | on | TLS for PostgreSQL (rustls with ring); implies `postgres` |
//! | `chrono`, `uuid`, `json` | off | column types from those crates (see [`docs::types`]) |
//!
//! Either backend can be left out (`default-features = false, features =
//! ["sqlite"]`) so that its driver is not compiled; at least one is needed.
//! A URL for a backend left out is an [`Error::Config`] saying which
//! feature is missing. Sylvan accepts rusqlite 0.32 to 0.43
//! (libsqlite3-sys 0.30 to 0.40), so it can share the one linked
//! libsqlite3-sys with sqlx 0.8/0.9 or Diesel 2.3 in a SQLite project.
//!
//! # Guides and references
//!
//! The [`docs`] module holds the pages that belong to no single item:
//!
//! - [`docs::model_attributes`]: every `#[model(...)]` attribute of
//!   [`#[derive(Model)]`](derive@Model), with its syntax, meaning and default;
//! - [`docs::derive_output`]: what the derive generates (column constants,
//!   relation constants, accessors, the [`Model`](trait@Model) and
//!   [`FromRow`] impls, DDL);
//! - [`docs::types`]: the type table per backend (Rust → PostgreSQL →
//!   SQLite) with its precision and range rules, your own enums and
//!   newtypes as columns ([`#[derive(FieldType)]`](derive@FieldType)), and
//!   JSON lookups;
//! - [`docs::annotations`]: aggregates over related rows (`annotate`),
//!   HAVING, ordering by aggregates, subqueries and CASE WHEN;
//! - [`docs::relations`]: foreign keys, relation filters, `select_related`
//!   and prefetching;
//! - [`docs::transactions`]: commit, drop, cancellation and poisoning, per
//!   backend;
//! - [`docs::migrations`]: migration files, locking, no-transaction
//!   migrations;
//! - [`docs::n_plus_one`]: counting the statements a piece of code runs,
//!   and finding N+1 queries ([`testing`]).
//! - [`docs::testing`]: `#[sylvan::test]`, a fresh database per test on
//!   both backends.

#[cfg(not(any(feature = "sqlite", feature = "postgres")))]
compile_error!("Sylvan needs a backend: enable the `sqlite` or `postgres` cargo feature (both are on by default)");

mod backend;
mod connection;
mod database;
pub mod docs;
mod error;
mod executor;
mod migrate;
mod model;
mod observe;
mod options;
mod pool;
mod query;
mod relation;
mod router;
mod row;
mod schema;
mod stream;
pub mod testing;
mod timeout;
mod transaction;
mod value;

pub use backend::Dialect;
pub use connection::Connection;
pub use database::{Database, DatabaseBuilder};
pub use error::{BoxError, ConstraintKind, Error, OptionalExt, Result, TimeoutPhase, TlsErrorKind};
pub use executor::Executor;
pub use migrate::{
    Ambiguity, Answer, AppliedMigration, MakeMigrations, Migration, Migrations, Operation, Plan,
    SchemaState,
};
pub use migrate::{MigrationState, MigrationStatus};
pub use model::{FieldInfo, Model};
pub use pool::{PoolConfig, PoolStatus, DEFAULT_LIVENESS_CHECK_AFTER};
pub use query::{
    Aggregate, Annotated, Annotation, Assignment, AutoKey, Case, CaseWhen, Column, ColumnList,
    Condition, ConflictTarget, Expr, FieldType, Grouped, GroupedQuerySet, Having, IntoCondition,
    IntoGroupBy, IntoHaving, IntoOperand, IntoOrders, Newtype, NonNull, Nullable, Numeric,
    OnConflict, Order, Ordered, PatternText, Projection, QuerySet, RowLock, Selectable, Subquery,
    Text, Values,
};
#[cfg(feature = "json")]
pub use query::{JsonKey, JsonScalar};
pub use relation::{
    AppendRelated, ChildRelation, FifthPath, ForeignKeyType, JoinChildren, ManyToMany, OnDelete,
    References, RelatedList, RelatedPath, Relation, Reverse, SelectRelated, Then,
};
pub use router::{on_primary, Route, RoutingPolicy, Statement};
#[cfg(feature = "postgres")]
pub use router::{
    MemberRole, MemberStatus, DEFAULT_MAX_REPLICA_LAG, DEFAULT_REPLICA_CHECK_INTERVAL,
    DEFAULT_REPLICA_CHECK_TIMEOUT,
};
pub use row::{FromRow, Row};
pub use schema::{create_table_sql, drop_table_sql, Schema};
pub use stream::StreamSource;
pub use timeout::WithTimeout;
pub use transaction::{IsolationLevel, Transaction, TransactionOptions, TxFuture};
pub use value::{Allowed, Binds, Decode, SqlType, ToValue, Value, ValueRef};

/// `#[derive(Model)]`: implements the [`Model`](trait@Model) and [`FromRow`]
/// traits for a struct with named fields.
///
/// | on | attribute | |
/// |---|---|---|
/// | struct | `table = "name"` | table name (default: snake_case of the struct) |
/// | struct | `crate = "path"` | path to Sylvan (default: `::sylvan`) |
/// | field | `primary_key` | the primary key, written by the program (default: the field `id`, generated when an integer) |
/// | field | `auto` | key generated by the database on insert (implied for the implicit integer `id`) |
/// | field | `column = "name"` | column name (default: the field's) |
/// | field | `unique`, `index` | UNIQUE constraint, index |
/// | field | `default = "SQL"` | DDL default expression |
/// | field | `skip` | not stored; `Default::default()` when read |
/// | field | `foreign_key = Model` | reference, relation constant and accessor |
/// | field | `on_delete = "cascade" \| "set_null" \| "restrict"` | with `foreign_key` (default `"restrict"`) |
///
/// The full reference, with each attribute's rules and an example:
/// [`docs::model_attributes`]; what the derive generates:
/// [`docs::derive_output`].
///
/// ```
/// use sylvan::Model;
///
/// #[derive(Model)]
/// #[model(table = "people")]
/// struct Person {
///     #[model(primary_key, auto)]
///     id: i64,
///     #[model(column = "full_name", index)]
///     name: String,
///     age: Option<i32>,
/// }
///
/// assert_eq!(Person::TABLE, "people");
/// assert_eq!(Person::COLUMNS, &["id", "full_name", "age"]);
/// let _adults = Person::objects().filter(Person::AGE.ge(18));
/// ```
pub use sylvan_derive::Model;

/// `#[derive(FieldType)]`: makes an enum of unit variants, or a newtype, a
/// column type: usable as a model field (also as `Option`), key (a newtype
/// of an integer also `auto`), foreign key, filter value and `values()`
/// projection, like a built-in type.
///
/// | on | attribute | |
/// |---|---|---|
/// | enum | (none) | a `TEXT` column holding each variant's name as written, with a `CHECK (… IN (…))` constraint |
/// | enum | `#[repr(i32)]` (or `i8`, `u8`, `i16`, `u16`, `u32`, `i64`) | an integer column holding the discriminants instead |
/// | enum | `rename_all = "snake_case"` | text enums: `"lowercase"`, `"UPPERCASE"`, `"snake_case"`, `"SCREAMING_SNAKE_CASE"` or `"kebab-case"` |
/// | variant | `rename = "text"` | text enums: the text stored for this variant |
/// | newtype | (none) | `struct BookId(i64);`: stored exactly as its field, with its lookups |
/// | type | `crate = "path"` | path to Sylvan (default: `::sylvan`) |
///
/// Reading a value that is not a variant is an [`Error::Decode`] naming the
/// type and the value. The guide, with the rules of each form:
/// [`docs::types`].
///
/// ```
/// use sylvan::{FieldType, Model};
///
/// #[derive(Debug, Clone, Copy, PartialEq, FieldType)]
/// #[field_type(rename_all = "snake_case")]
/// enum Status {
///     Draft,
///     InReview,
///     #[field_type(rename = "live")]
///     Published,
/// }
///
/// #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, FieldType)]
/// struct PostId(i64);
///
/// #[derive(Model)]
/// struct Post {
///     #[model(primary_key, auto)]
///     id: PostId,
///     status: Status,
/// }
///
/// let _q = Post::objects().filter(Post::STATUS.in_([Status::Draft, Status::InReview]));
/// assert_eq!(
///     sylvan::create_table_sql::<Post>(sylvan::Dialect::Sqlite)[0],
///     r#"CREATE TABLE IF NOT EXISTS "post" ("id" INTEGER PRIMARY KEY AUTOINCREMENT, "status" TEXT NOT NULL CHECK ("status" IN ('draft', 'in_review', 'live')))"#,
/// );
/// ```
pub use sylvan_derive::FieldType;

/// `embed_migrations!("dir")`: the `NNNN_name.sql` files of `dir` (relative
/// to the crate's `Cargo.toml`) as [`Migrations`], read at compile time; a
/// file that controls the transaction (`COMMIT`, `BEGIN`, …) is a compile
/// error (see [`Migrations`] and [`Migration::is_transactional`]).
///
/// Editing a file rebuilds the crate, but a proc macro cannot make cargo
/// watch a directory on stable Rust, so adding or removing a file does not.
/// Add a `build.rs` to the crate:
///
/// ```text
/// // build.rs
/// fn main() {
///     println!("cargo:rerun-if-changed=migrations");
/// }
/// ```
///
/// As a safety net, the set remembers the directory and the file names it
/// was compiled from: when that directory exists at run time and its
/// `*.sql` files differ, [`Migrations::run`], [`Migrations::rollback`] and
/// [`Migrations::status`] fail with [`Error::Migration`] naming the added
/// or removed files (a deployed binary without the directory is not
/// checked).
pub use sylvan_derive::embed_migrations;

/// `#[sylvan::test]`: an async test that gets a fresh database of its own,
/// set up from a [`Schema`] or [`Migrations`], and runs once per backend —
/// SQLite in memory, PostgreSQL in a database cloned from a migrated
/// template — each dropped afterwards, also when the test fails.
///
/// | form | the database holds |
/// |---|---|
/// | `#[sylvan::test]` | nothing |
/// | `#[sylvan::test(schema = my_schema)]` | the tables of `my_schema()`, a `fn() -> sylvan::Schema` |
/// | `#[sylvan::test(migrations = "migrations")]` | the migration files of the directory (relative to `Cargo.toml`), embedded at compile time as by [`embed_migrations!`] |
/// | `#[sylvan::test(migrations = my_migrations)]` | `my_migrations()`, a `fn() -> sylvan::Migrations` |
///
/// More options: `backends(sqlite)` or `backends(postgres)` for one
/// backend only (default: both), `n_plus_one = false`, `crate = "path"`
/// (the path to Sylvan, default `::sylvan`). `#[ignore]` and
/// `#[should_panic]` on the function apply to each generated test.
///
/// The function is `async`, takes the [`Database`] and returns `()` or
/// `Result<(), E>`. `#[sylvan::test] async fn adds_books(db: Database)`
/// becomes the tests `adds_books::sqlite` and `adds_books::postgres`:
/// `cargo test adds_books` runs both, each passes or fails alone. An
/// unreachable PostgreSQL skips the `postgres` half with a line starting
/// `SKIP postgres`, unless `SYLVAN_REQUIRE_PG=1`.
///
/// ```no_run
/// use sylvan::prelude::*;
/// use sylvan::Schema;
///
/// #[derive(Model)]
/// struct Book { id: i64, title: String }
///
/// fn books() -> Schema {
///     Schema::new().model::<Book>()
/// }
///
/// #[sylvan::test(schema = books)]
/// async fn adds_books(db: Database) -> sylvan::Result<()> {
///     Book { id: 0, title: "Dune".into() }.insert(&db).await?;
///     assert_eq!(Book::objects().count(&db).await?, 1);
///     Ok(())
/// }
/// ```
///
/// The guide: [`docs::testing`]; the pieces it runs on: [`testing`].
pub use sylvan_derive::test;

/// The async iterator trait of row streams, and its combinators (`next`, …).
pub use futures_util::stream::{Stream, StreamExt};

/// The rusqlite crate Sylvan is built on, for [`Connection::interact`] closures.
#[cfg(feature = "sqlite")]
pub use rusqlite;

/// What most programs need: `use sylvan::prelude::*;`.
pub mod prelude {
    pub use crate::{Database, Error, Executor, Model, OptionalExt};
}
