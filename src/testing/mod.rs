//! Test support: a fresh database per test, on SQLite and PostgreSQL, and
//! the runtime behind [`#[sylvan::test]`](crate::test); counting the
//! statements a piece of code runs, and finding N+1 queries (guide:
//! [`docs::n_plus_one`](crate::docs::n_plus_one)).
//!
//! [`TestDatabase`] is a database private to one test, set up from a
//! [`Setup`] (a [`Schema`](crate::Schema), [`Migrations`](crate::Migrations)
//! or nothing) and dropped afterwards: on SQLite an in-memory database, on
//! PostgreSQL a database cloned from a template that was migrated once.
//! [`TestRun`] runs one test body on one backend, the way the attribute
//! does. The guide, with the template's life cycle and the environment
//! variables: [`docs::testing`](crate::docs::testing).
//!
//! ```
//! use sylvan::prelude::*;
//! use sylvan::testing::{Backend, Setup, TestDatabase};
//!
//! #[derive(Model)]
//! struct Note { id: i64, body: String }
//!
//! # tokio::runtime::Runtime::new().unwrap().block_on(async {
//! let setup = Setup::schema(sylvan::Schema::new().model::<Note>());
//! let test_db = TestDatabase::create(Backend::Sqlite, &setup).await?;
//! Note { id: 0, body: "hi".into() }.insert(test_db.database()).await?;
//! assert_eq!(Note::objects().count(test_db.database()).await?, 1);
//! test_db.drop_database().await?;
//! # Ok::<_, sylvan::Error>(()) }).unwrap();
//! ```

mod database;
mod n_plus_one;
mod postgres;
mod queries;
mod run;

pub use database::{Backend, Setup, TestDatabase};
pub use n_plus_one::{
    allow_n_plus_one, assert_no_n_plus_one, detect_n_plus_one, run_checked, NPlusOne,
};
pub use queries::{assert_num_queries, count_queries, QueryLog};
pub use run::{TestOutcome, TestRun};
