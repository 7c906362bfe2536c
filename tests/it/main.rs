//! Integration tests: one binary, one module per concern, each case run on
//! SQLite and PostgreSQL.

#![allow(missing_docs, clippy::unwrap_used)]

mod aggregate;
mod cancel;
mod errors;
mod migrate;
mod model;
mod pool;
mod queryset;
mod raw;
mod roundtrip;
mod schema;
mod smoke;
mod sqlite;
mod statements;
mod stream;
#[allow(dead_code)]
mod support;
