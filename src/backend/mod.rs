//! The two backends and what tells them apart.
//!
//! Only the modules below this one know a driver. Everything the query
//! builder needs to know about a backend is data in its [`Dialect`].

mod dialect;
pub(crate) mod postgres;
mod sql_text;
pub(crate) mod sqlite;

pub use dialect::Dialect;
pub(crate) use sql_text::{
    first_keyword, first_keyword_is, max_placeholder, may_change_session,
    rewrite_placeholders_for_sqlite,
};

mod sealed {
    pub trait Sealed {}
    impl Sealed for super::Sqlite {}
    impl Sealed for super::Postgres {}
}

/// A database backend Sylvan supports. Sealed: the set is closed.
pub trait Backend: sealed::Sealed + Send + Sync + 'static {
    /// The backend's name, as in error messages.
    const NAME: &'static str;
    /// How SQL is written for it.
    const DIALECT: Dialect;
}

/// SQLite through rusqlite (bundled), each connection on its own worker thread.
#[derive(Debug, Clone, Copy)]
pub struct Sqlite;

/// PostgreSQL through tokio-postgres.
#[derive(Debug, Clone, Copy)]
pub struct Postgres;

impl Backend for Sqlite {
    const NAME: &'static str = "sqlite";
    const DIALECT: Dialect = Dialect::Sqlite;
}

impl Backend for Postgres {
    const NAME: &'static str = "postgres";
    const DIALECT: Dialect = Dialect::Postgres;
}
