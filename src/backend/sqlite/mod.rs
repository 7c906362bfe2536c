//! SQLite through rusqlite, each connection on a worker thread.

mod conn;
mod error;
mod pool;
mod types;
mod worker;

pub(crate) use conn::{stream_rows, Location, Mode, OnConnect, SqliteConn, SqliteOptions};

/// A running job's handle; dropping it cancels the job.
pub(crate) type ReplyHandle = worker::Reply<()>;
pub(crate) use pool::{SqliteManager, SqlitePool};
pub(crate) use types::value_ref;
