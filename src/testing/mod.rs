//! Helpers for tests: counting the statements a piece of code runs, and
//! finding N+1 queries (guide: [`docs::n_plus_one`](crate::docs::n_plus_one)).

mod n_plus_one;
mod queries;

pub use n_plus_one::{
    allow_n_plus_one, assert_no_n_plus_one, detect_n_plus_one, run_checked, NPlusOne,
};
pub use queries::{assert_num_queries, count_queries, QueryLog};
