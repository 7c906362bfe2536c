//! Forcing the primary: per handle ([`Database::primary`](crate::Database::primary)),
//! per scope ([`on_primary`]), per query ([`QuerySet::primary`](crate::QuerySet::primary)),
//! and a user's [`RoutingPolicy`].

use super::statement::Statement;
use std::future::Future;

tokio::task_local! {
    /// Set by [`on_primary`] (and by `QuerySet::primary`) around a future.
    static ON_PRIMARY: ();
}

/// Runs `fut` with every statement it sends through a [`Database`](crate::Database)
/// going to the primary: read-your-writes for a block of code, however
/// deep the calls go. Only the current task is affected (a task spawned
/// inside does not inherit it).
///
/// ```no_run
/// use sylvan::prelude::*;
/// # async fn demo() -> sylvan::Result<()> {
/// let db = Database::builder("postgres://app@primary/app")
///     .replica("postgres://app@replica/app")
///     .connect()
///     .await?;
/// let seen: i64 = sylvan::on_primary(async {
///     db.execute("INSERT INTO note (body) VALUES ($1)", ("hi",)).await?;
///     db.fetch_one("SELECT count(*) FROM note", ()).await
/// })
/// .await?;
/// # Ok(()) }
/// ```
pub fn on_primary<F: Future>(fut: F) -> impl Future<Output = F::Output> {
    ON_PRIMARY.scope((), fut)
}

/// True inside [`on_primary`].
#[cfg_attr(not(feature = "postgres"), allow(dead_code))]
pub(crate) fn primary_forced() -> bool {
    ON_PRIMARY.try_with(|()| ()).is_ok()
}

/// `fut`, forced to the primary when `primary` (no wrapper otherwise; an
/// enclosing [`on_primary`] still applies).
pub(crate) fn scoped<F: Future>(
    primary: bool,
    fut: F,
) -> futures_util::future::Either<tokio::task::futures::TaskLocalFuture<(), F>, F> {
    if primary {
        futures_util::future::Either::Left(ON_PRIMARY.scope((), fut))
    } else {
        futures_util::future::Either::Right(fut)
    }
}

/// Where a [`RoutingPolicy`] sends a statement.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Route {
    /// The primary.
    Primary,
    /// A usable replica (the primary when none is usable). A write sent
    /// there is refused by the server and re-run on the primary.
    Replica,
    /// Sylvan's choice: plain reads to a replica, the rest to the primary.
    Default,
}

/// A user's routing rule, asked for every statement a [`Database`](crate::Database)
/// with replicas runs outside a transaction (after [`on_primary`],
/// [`Database::primary`](crate::Database::primary) and
/// [`QuerySet::primary`](crate::QuerySet::primary), which always win).
/// Any `Fn(&Statement) -> Route` closure is one. It runs on the calling
/// task for each statement: keep it quick, and never block in it.
///
/// ```no_run
/// use sylvan::{Route, Statement};
/// # async fn demo() -> sylvan::Result<()> {
/// // Balances must never be stale: read them on the primary.
/// let db = sylvan::Database::builder("postgres://app@primary/app")
///     .replica("postgres://app@replica/app")
///     .routing_policy(|s: &Statement<'_>| match s.table().as_deref() {
///         Some("balance") => Route::Primary,
///         _ => Route::Default,
///     })
///     .connect()
///     .await?;
/// # Ok(()) }
/// ```
pub trait RoutingPolicy: Send + Sync + 'static {
    /// Where `statement` goes.
    fn route(&self, statement: &Statement<'_>) -> Route;
}

impl<F> RoutingPolicy for F
where
    F: Fn(&Statement<'_>) -> Route + Send + Sync + 'static,
{
    fn route(&self, statement: &Statement<'_>) -> Route {
        self(statement)
    }
}
