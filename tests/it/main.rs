//! Integration tests: one binary, one module per concern, each case run on
//! SQLite and PostgreSQL.

mod support;
mod smoke;
