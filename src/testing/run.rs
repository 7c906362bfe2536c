//! [`TestRun`]: one half of a `#[sylvan::test]` — a runtime, a fresh
//! database, the body, the teardown.
//!
//! The body's future is awaited in one place, [`run_body`], inside
//! `catch_unwind`: whatever the body does (returns, returns `Err`,
//! panics), the database is dropped before the test's verdict is given
//! (the panic resumed, the error turned into a panic).

use super::database::CreateError;
use super::{Backend, Setup, TestDatabase};
use crate::Database;
use futures_util::FutureExt;
use std::future::Future;
use std::panic::AssertUnwindSafe;

/// What a test body returns: `()` or `Result<(), E>`; an `Err` fails the
/// test with the error's `Debug` text, as `#[test]` does.
#[diagnostic::on_unimplemented(
    message = "a #[sylvan::test] function returns `()` or `Result<(), E>`, not `{Self}`",
    label = "returns `{Self}`"
)]
pub trait TestOutcome {
    /// `None` for success, else what failed.
    fn failure(self) -> Option<String>;
}

impl TestOutcome for () {
    fn failure(self) -> Option<String> {
        None
    }
}

impl<E: std::fmt::Debug> TestOutcome for std::result::Result<(), E> {
    fn failure(self) -> Option<String> {
        self.err().map(|e| format!("{e:?}"))
    }
}

/// One test body on one backend, as [`#[sylvan::test]`](crate::test)
/// expands to (usable by hand too): a current-thread tokio runtime with
/// time and I/O, a fresh [`TestDatabase`] set up by the [`Setup`], the
/// body, and the database dropped afterwards — also when the body
/// panics or returns `Err`.
///
/// If PostgreSQL cannot be reached (or Sylvan was built without the
/// backend), the run prints ``SKIP postgres half of `<name>`: <error> (set
/// SYLVAN_REQUIRE_PG=1 to fail instead)`` and passes, unless the
/// environment variable `SYLVAN_REQUIRE_PG` is `1`: then it panics.
///
/// ```
/// use sylvan::prelude::*;
/// use sylvan::testing::{Backend, Setup, TestRun};
///
/// TestRun::new("doc::select_one", Backend::Sqlite)
///     .setup(Setup::empty())
///     .run(|db: Database| async move {
///         let one: i64 = db.fetch_one("SELECT 1", ()).await?;
///         assert_eq!(one, 1);
///         Ok::<_, sylvan::Error>(())
///     });
/// ```
#[derive(Debug)]
#[must_use = "a TestRun does nothing until `run`"]
pub struct TestRun {
    name: String,
    backend: Backend,
    setup: Setup,
    n_plus_one: bool,
    /// The PostgreSQL server, when not [`TestDatabase::server_url`].
    server: Option<String>,
}

impl TestRun {
    /// A run of the test called `name` (in messages) on `backend`, on an
    /// empty database.
    pub fn new(name: &str, backend: Backend) -> TestRun {
        TestRun {
            name: name.to_owned(),
            backend,
            setup: Setup::Empty,
            n_plus_one: true,
            server: None,
        }
    }

    /// What the database holds before the body runs.
    pub fn setup(mut self, setup: Setup) -> TestRun {
        self.setup = setup;
        self
    }

    /// Whether N+1 query detection watches the body (on by default;
    /// `#[sylvan::test(n_plus_one = false)]` turns it off). The flag is
    /// handed to the place the body is awaited.
    pub fn n_plus_one(mut self, on: bool) -> TestRun {
        self.n_plus_one = on;
        self
    }

    /// Runs `body` with the test's database, and panics (fails the test)
    /// if the body panics or returns `Err`, or if the database cannot be
    /// made or dropped.
    pub fn run<F, Fut>(self, body: F)
    where
        F: FnOnce(Database) -> Fut,
        Fut: Future,
        Fut::Output: TestOutcome,
    {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build();
        match runtime {
            Ok(runtime) => runtime.block_on(self.run_async(body)),
            Err(e) => panic!("`{}`: cannot start a tokio runtime: {e}", self.name),
        }
    }

    async fn run_async<F, Fut>(self, body: F)
    where
        F: FnOnce(Database) -> Fut,
        Fut: Future,
        Fut::Output: TestOutcome,
    {
        let (name, backend) = (&self.name, self.backend);
        let server = self.server.clone().unwrap_or_else(TestDatabase::server_url);
        let test_db = match TestDatabase::try_create(backend, &self.setup, &server).await {
            Ok(test_db) => test_db,
            Err(CreateError::Unavailable(e)) => {
                if backend == Backend::Postgres && require_pg() {
                    panic!("PostgreSQL is required (SYLVAN_REQUIRE_PG=1) but unavailable for `{name}`: {e}");
                }
                eprintln!(
                    "SKIP {backend} half of `{name}`: {e} (set SYLVAN_REQUIRE_PG=1 to fail instead)"
                );
                return;
            }
            Err(CreateError::Failed(e)) => {
                panic!("`{name}` on {backend}: cannot make the test database: {e}")
            }
        };
        let db = test_db.database().clone();
        let n_plus_one = self.n_plus_one;
        let outcome = AssertUnwindSafe(async move { run_body(body(db), n_plus_one).await })
            .catch_unwind()
            .await;
        let dropped = test_db.drop_database().await;
        match outcome {
            Err(panic) => std::panic::resume_unwind(panic),
            Ok(outcome) => {
                if let Some(failure) = outcome.failure() {
                    panic!("`{name}` on {backend} returned an error: {failure}");
                }
            }
        }
        if let Err(e) = dropped {
            panic!("`{name}` on {backend}: cannot drop the test database: {e}");
        }
    }
}

/// The one place a test body's future is awaited. `n_plus_one` is the
/// macro's `n_plus_one` option (default `true`): with it the body runs
/// under [`run_checked`](super::run_checked), which fails the test with
/// the reports when it ran an N+1 query.
async fn run_body<Fut: Future>(body: Fut, n_plus_one: bool) -> Fut::Output {
    if n_plus_one {
        super::run_checked(body).await
    } else {
        body.await
    }
}

/// `SYLVAN_REQUIRE_PG=1`: an unreachable PostgreSQL fails the test.
fn require_pg() -> bool {
    std::env::var("SYLVAN_REQUIRE_PG").is_ok_and(|v| v == "1")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// PostgreSQL unreachable: the body does not run, and the run either
    /// passes (printing SKIP) or, with `SYLVAN_REQUIRE_PG=1`, fails.
    #[test]
    fn an_unreachable_server_skips_or_fails_as_required() {
        let ran = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let flag = std::sync::Arc::clone(&ran);
        let mut run = TestRun::new("testing::unreachable", Backend::Postgres);
        run.server = Some("postgres://postgres@127.0.0.1:1/postgres?connect_timeout=2".to_owned());
        let outcome = std::panic::catch_unwind(AssertUnwindSafe(move || {
            run.run(move |_db: Database| async move {
                flag.store(true, std::sync::atomic::Ordering::SeqCst);
            })
        }));
        assert!(
            !ran.load(std::sync::atomic::Ordering::SeqCst),
            "the body ran"
        );
        let message = outcome
            .err()
            .map(|p| p.downcast_ref::<String>().cloned().unwrap_or_default());
        if require_pg() {
            let message = message.expect("SYLVAN_REQUIRE_PG=1: the run must fail");
            assert!(message.starts_with("PostgreSQL is required"), "{message}");
        } else {
            assert_eq!(message, None, "the run must pass (skip)");
        }
    }
}
