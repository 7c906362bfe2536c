//! The two backends and what tells them apart.
//!
//! Only the modules below this one know a driver. Everything the query
//! builder needs to know about a backend is data in its [`Dialect`]; the
//! backend itself is chosen at run time, by URL, so the seam between the
//! backends is the `Database`/`Connection` enums over the two pools and
//! connections, not a type parameter.

mod dialect;
#[cfg(feature = "postgres")]
pub(crate) mod postgres;
mod sql_text;
#[cfg(feature = "sqlite")]
pub(crate) mod sqlite;

pub use dialect::Dialect;
#[cfg(feature = "sqlite")]
pub(crate) use sql_text::rewrite_placeholders_for_sqlite;
#[cfg(feature = "postgres")]
pub(crate) use sql_text::{first_keyword, max_placeholder};
pub(crate) use sql_text::{first_keyword_is, may_change_session};
