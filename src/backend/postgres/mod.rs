//! PostgreSQL through tokio-postgres.

mod conn;
mod error;
mod pool;
mod types;

pub(crate) use conn::PgConn;
pub(crate) use pool::{PgManager, PgPool};
pub(crate) use types::value_ref;
