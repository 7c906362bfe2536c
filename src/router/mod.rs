//! Read replicas: which server a statement goes to, and what happens when
//! it fails there. The rules users see are in the `Database` docs
//! ("Read replicas"); this module holds the [`Router`] that a PostgreSQL
//! `Database` with replicas carries.
//!
//! Invariants: only statements run by a `Database` outside a transaction
//! are routed; a connection checked out for a transaction always comes
//! from the primary's pool. A statement is sent again elsewhere only when
//! it is a read that left nothing behind: refused as a write by a
//! read-only server (25006), or failed to reach the server (the
//! statement either never ran or ran read-only on a server now gone).
//! Each statement is sent at most twice. The health task holds a `Weak`
//! only (see `health`).

#[cfg(feature = "postgres")]
mod builder;
mod handle;
#[cfg(feature = "postgres")]
mod health;
#[cfg(feature = "postgres")]
mod member;
mod policy;
mod statement;

#[cfg(feature = "postgres")]
pub(crate) use builder::{ReplicaSettings, Replicas};
#[cfg(feature = "postgres")]
pub use builder::{
    DEFAULT_MAX_REPLICA_LAG, DEFAULT_REPLICA_CHECK_INTERVAL, DEFAULT_REPLICA_CHECK_TIMEOUT,
};
#[cfg(feature = "postgres")]
pub use member::{MemberRole, MemberStatus};
#[cfg(feature = "postgres")]
pub(crate) use policy::primary_forced;
pub(crate) use policy::scoped;
pub use policy::{on_primary, Route, RoutingPolicy};
pub use statement::Statement;

#[cfg(feature = "postgres")]
use crate::backend::may_change_session;
#[cfg(feature = "postgres")]
use crate::backend::postgres::PgPool;
#[cfg(feature = "postgres")]
use crate::connection::Connection;
#[cfg(feature = "postgres")]
use crate::error::{Error, Result, TimeoutPhase};
#[cfg(feature = "postgres")]
use crate::executor::private::Origin;
#[cfg(feature = "postgres")]
use crate::row::{Cardinality, FromRow};
#[cfg(feature = "postgres")]
use crate::value::Value;
#[cfg(feature = "postgres")]
use member::{Counter, Member};
#[cfg(feature = "postgres")]
use std::future::Future;
#[cfg(feature = "postgres")]
use std::sync::atomic::{AtomicUsize, Ordering};
#[cfg(feature = "postgres")]
use std::sync::Arc;

/// The replicas of a `Database` and how to choose among them.
#[cfg(feature = "postgres")]
pub(crate) struct Router {
    members: Vec<Member>,
    settings: ReplicaSettings,
    policy: Option<Arc<dyn RoutingPolicy>>,
    next: AtomicUsize,
    primary_statements: Counter,
}

#[cfg(feature = "postgres")]
impl std::fmt::Debug for Router {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Router")
            .field("members", &self.members)
            .field("settings", &self.settings)
            .field("policy", &self.policy.as_ref().map(|_| "set"))
            .finish_non_exhaustive()
    }
}

/// `host:port` of the first host of `config` (several are joined by `,`).
#[cfg(feature = "postgres")]
pub(crate) fn address(config: &tokio_postgres::Config) -> String {
    let ports = config.get_ports();
    config
        .get_hosts()
        .iter()
        .enumerate()
        .map(|(i, host)| {
            let port = ports.get(i).or(ports.first()).copied().unwrap_or(5432);
            match host {
                tokio_postgres::config::Host::Tcp(h) => format!("{h}:{port}"),
                tokio_postgres::config::Host::Unix(p) => format!("{}:{port}", p.display()),
            }
        })
        .collect::<Vec<_>>()
        .join(",")
}

/// What a routed statement does on the connection it gets.
#[cfg(feature = "postgres")]
pub(crate) trait ReadOp: Sync {
    type Out: Send;
    fn run<'a>(
        &'a self,
        conn: &'a Connection,
    ) -> impl Future<Output = Result<Self::Out>> + Send + 'a;
}

/// A query whose rows are decoded as `T`.
#[cfg(feature = "postgres")]
pub(crate) struct Query<'s, T> {
    pub(crate) sql: &'s str,
    pub(crate) binds: Vec<Value>,
    pub(crate) cardinality: Cardinality,
    pub(crate) origin: Origin,
    pub(crate) _rows: std::marker::PhantomData<fn() -> T>,
}

#[cfg(feature = "postgres")]
impl<T: FromRow> ReadOp for Query<'_, T> {
    type Out = Vec<T>;
    async fn run(&self, conn: &Connection) -> Result<Vec<T>> {
        conn.pg_query(self.sql, &self.binds, self.cardinality, self.origin)
            .await
    }
}

/// A statement whose changed-row count is wanted.
#[cfg(feature = "postgres")]
pub(crate) struct Execute<'s> {
    pub(crate) sql: &'s str,
    pub(crate) binds: Vec<Value>,
    pub(crate) origin: Origin,
}

#[cfg(feature = "postgres")]
impl ReadOp for Execute<'_> {
    type Out = u64;
    async fn run(&self, conn: &Connection) -> Result<u64> {
        conn.pg_execute(self.sql, &self.binds, self.origin).await
    }
}

/// The start of a row stream.
#[cfg(feature = "postgres")]
pub(crate) struct StreamStart<'s> {
    pub(crate) sql: &'s str,
    pub(crate) binds: &'s [Value],
}

#[cfg(feature = "postgres")]
impl ReadOp for StreamStart<'_> {
    type Out = tokio_postgres::RowStream;
    async fn run(&self, conn: &Connection) -> Result<tokio_postgres::RowStream> {
        // Streams serve raw SQL and QuerySets alike: checked as raw (safe).
        conn.pg_stream(self.sql, self.binds, Origin::Raw).await
    }
}

/// The outcome of one try on a replica.
#[cfg(feature = "postgres")]
enum Attempt<T> {
    Done(Result<T>),
    /// Refused as a write (25006), or cancelled by a conflict with the
    /// replica's recovery (40001): run it on the primary.
    ToPrimary,
    /// The replica is unreachable: mark it and try elsewhere.
    Down(Error),
}

/// True when `e` means the server could not be reached or the connection
/// broke, rather than that the statement failed.
#[cfg(feature = "postgres")]
fn is_unreachable(e: &Error) -> bool {
    matches!(
        e,
        Error::ConnectionLost { .. }
            | Error::Connect { .. }
            | Error::PoolTimeout {
                phase: TimeoutPhase::Create | TimeoutPhase::Recycle,
                ..
            }
    )
}

/// True when the replica, not the read, is the reason `e` happened, so
/// that the primary would run it: a write refused by the read-only server
/// (25006), or a read cancelled because the WAL it replays conflicts with
/// it ("canceling statement due to conflict with recovery", 40001; a
/// replica runs no serializable transactions, so no other cause).
#[cfg(feature = "postgres")]
fn is_replica_refusal(e: &Error) -> bool {
    matches!(e, Error::Database { code: Some(code), .. } if code == "25006")
        || matches!(e, Error::SerializationFailure { .. })
}

#[cfg(feature = "postgres")]
impl Router {
    pub(crate) fn new(
        members: Vec<PgPool>,
        settings: ReplicaSettings,
        policy: Option<Arc<dyn RoutingPolicy>>,
    ) -> Self {
        Router {
            members: members.into_iter().map(Member::new).collect(),
            settings,
            policy,
            next: AtomicUsize::new(0),
            primary_statements: Counter::default(),
        }
    }

    /// True when `sql` should go to a replica (before asking which).
    pub(crate) fn wants_replica(&self, sql: &str, origin: Origin) -> bool {
        if primary_forced() {
            return false;
        }
        let read = statement::is_plain_read(sql)
            && !(origin == Origin::Raw
                && !crate::backend::first_keyword_is(sql, &["SHOW"])
                && may_change_session(sql, true, false));
        match &self.policy {
            None => read,
            Some(policy) => match policy.route(&Statement::new(sql, read)) {
                Route::Primary => false,
                Route::Replica => true,
                Route::Default => read,
            },
        }
    }

    /// The next usable replica after the last one picked, other than `skip`.
    fn pick(&self, skip: Option<usize>) -> Option<usize> {
        let n = self.members.len();
        let start = self.next.fetch_add(1, Ordering::Relaxed);
        (0..n)
            .map(|k| (start + k) % n)
            .find(|&i| Some(i) != skip && self.members[i].is_usable())
    }

    async fn try_member<O: ReadOp>(&self, i: usize, op: &O) -> Attempt<(O::Out, Connection)> {
        let member = &self.members[i];
        member.count_statement();
        let conn = match member.pool.get().await {
            Ok(conn) => conn,
            Err(e) if is_unreachable(&e) => return Attempt::Down(e),
            Err(e) => return Attempt::Done(Err(e)),
        };
        match op.run(&conn).await {
            Ok(out) => Attempt::Done(Ok((out, conn))),
            Err(e) if is_replica_refusal(&e) => Attempt::ToPrimary,
            Err(e) if is_unreachable(&e) => Attempt::Down(e),
            Err(e) => Attempt::Done(Err(e)),
        }
    }

    fn mark_down(&self, i: usize, e: &Error) {
        self.members[i].set_down(format!("a read failed: {}", crate::error::chain(e)));
    }

    /// Runs `op` on a usable replica when `to_replica` (with the fallbacks
    /// of the module doc), else on the primary. Returns the connection it
    /// ran on with the result.
    pub(crate) async fn run<O: ReadOp>(
        &self,
        primary: &PgPool,
        op: &O,
        to_replica: bool,
    ) -> Result<(O::Out, Connection)> {
        if let Some(i) = to_replica.then(|| self.pick(None)).flatten() {
            match self.try_member(i, op).await {
                Attempt::Done(result) => return result,
                Attempt::ToPrimary => {}
                Attempt::Down(e) => {
                    self.mark_down(i, &e);
                    if let Some(j) = self.pick(Some(i)) {
                        match self.try_member(j, op).await {
                            Attempt::Done(result) => return result,
                            Attempt::ToPrimary => {}
                            Attempt::Down(e) => {
                                self.mark_down(j, &e);
                                return Err(e);
                            }
                        }
                    }
                }
            }
        }
        self.primary_statements.add();
        let conn = primary.get().await?;
        let out = op.run(&conn).await?;
        Ok((out, conn))
    }

    /// A connection for reading: a usable replica's, else the primary's.
    pub(crate) async fn reader(&self, primary: &PgPool) -> Result<Connection> {
        if !primary_forced() {
            let mut skip = None;
            for _ in 0..2 {
                let Some(i) = self.pick(skip) else { break };
                let member = &self.members[i];
                member.count_statement();
                match member.pool.get().await {
                    Ok(conn) => return Ok(conn),
                    Err(e) if is_unreachable(&e) => {
                        self.mark_down(i, &e);
                        skip = Some(i);
                    }
                    Err(e) => return Err(e),
                }
            }
        }
        self.primary_statements.add();
        primary.get().await
    }

    pub(crate) fn close(&self) {
        for member in &self.members {
            member.pool.close();
        }
    }

    pub(crate) fn is_closed(&self) -> bool {
        self.members.iter().all(|m| m.pool.is_closed())
    }

    /// The status of the primary (from its pool) and of every replica.
    pub(crate) fn members(&self, primary: &PgPool) -> Vec<MemberStatus> {
        let closed = primary.is_closed();
        let mut out = vec![MemberStatus {
            role: MemberRole::Primary,
            address: address(&primary.target().config),
            usable: !closed,
            reason: closed.then(|| "closed".to_owned()),
            lag: None,
            statements: self.primary_statements.get(),
            pool: primary.status(),
        }];
        out.extend(self.members.iter().map(Member::status));
        out
    }
}
