//! Integration tests: one binary, one module per concern, each case run on
//! SQLite and PostgreSQL.

#![allow(missing_docs, clippy::unwrap_used)]

mod aggregate;
mod cancel;
mod errors;
mod filter_prop;
mod migrate;
mod model;
mod pool;
mod queryset;
mod raw;
mod relation;
mod roundtrip;
mod schema;
mod smoke;
mod sqlite;
mod sqlite_faults;
mod statements;
mod stream;
#[allow(dead_code)]
mod support;
mod transaction;
mod write;
