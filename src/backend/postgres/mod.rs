//! PostgreSQL through tokio-postgres.

mod conn;
mod error;
mod pool;
mod pooler;
mod tls;
mod types;
#[cfg(feature = "tls")]
mod verify;

pub(crate) use conn::PgConn;
pub(crate) use error::is_idle_in_transaction_timeout;
pub(crate) use pool::{PgManager, PgPool};
pub(crate) use pooler::refuse_session_state;
pub(crate) use tls::Tls;
pub(crate) use types::value_ref;
