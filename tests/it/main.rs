//! Integration tests: one binary, one module per concern, each case run on
//! SQLite and PostgreSQL.

#![allow(missing_docs, clippy::unwrap_used)]

mod aggregate;
mod annotate;
mod cancel;
mod commit_truth;
mod enum_column;
mod errors;
mod fault;
mod filter_prop;
mod fresh_database;
mod handoff;
mod implicit_id;
mod insert_keys;
#[cfg(feature = "json")]
mod json_contains_prop;
#[cfg(feature = "json")]
mod json_lookup;
mod like_escape;
#[cfg(all(feature = "chrono", feature = "uuid", feature = "json"))]
mod loans;
mod makemigrations;
mod migrate;
mod migrate_status;
mod migrate_transactions;
mod model;
mod n_plus_one;
mod newtype_column;
mod pattern_text;
mod pool;
mod pooler;
mod pooler_types;
mod prelude;
mod query_count;
mod queryset;
mod raw;
mod raw_model;
mod relation;
mod relation_many;
mod relation_reverse;
#[cfg(feature = "postgres")]
mod replica;
#[cfg(feature = "postgres")]
mod replica_faults;
mod roundtrip;
mod schema;
mod select_related_clauses;
mod select_related_nested;
mod smoke;
mod sqlite;
mod sqlite_faults;
mod statements;
mod stream;
mod stream_any;
mod subquery;
#[allow(dead_code)]
mod support;
mod time_precision;
#[cfg(feature = "tls")]
mod tls;
mod transaction;
mod tx_closure;
mod url_secrets;
mod write;
