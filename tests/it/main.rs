//! Integration tests: one binary, one module per concern, each case run on
//! SQLite and PostgreSQL.

#![allow(missing_docs, clippy::unwrap_used)]

#[allow(dead_code)]
mod support;
mod smoke;
mod statements;
