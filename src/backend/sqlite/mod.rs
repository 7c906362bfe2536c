//! SQLite through rusqlite, each connection on a worker thread.

mod conn;
mod error;
mod pool;
mod types;
mod worker;

pub(crate) use conn::{Location, OnConnect, SqliteConn, SqliteOptions};
pub(crate) use pool::{SqliteManager, SqlitePool};
pub(crate) use types::value_ref;
