//! One PostgreSQL connection: a tokio-postgres client whose driver task runs
//! on the runtime, and a per-connection prepared-statement cache that heals
//! itself after schema changes (or, behind a transaction pooler, unnamed
//! statements only: see `pooler.rs`).

use super::error::{
    breaks_connection, is_stale_statement, map_error, pooler_detected, ServerFatal,
};
use super::tls::Tls;
use super::types::PgBind;
use crate::backend::first_keyword_is;
use crate::error::{Error, Result};
use crate::observe::{self, Kind, Rows};
use crate::options::PgTarget;
use crate::row::{Cardinality, FromRow, Row, RowDecoder};
use crate::value::Value;
use futures_util::TryStreamExt;
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio_postgres::Statement;

/// Most statements kept per connection before the cache is emptied.
const STATEMENT_CACHE_CAPACITY: usize = 512;

/// Cancel requests sent for an abandoned query before giving up on the
/// connection.
pub(super) const CANCEL_ATTEMPTS: u32 = 5;

/// How long to wait for the session to go idle after the first cancel
/// request (longer after each further one).
pub(super) const CANCEL_WAIT: Duration = Duration::from_millis(200);

/// Statements after which the session may be inside a transaction.
const TRANSACTION_KEYWORDS: &[&str] = &["BEGIN", "START", "SAVEPOINT", "CALL", "PREPARE"];

/// Undoes every kind of session state a raw statement can leave behind
/// (after a `ROLLBACK` sent just before it): settings including the role
/// and custom settings used by row-level security, the session
/// authorization, cursors, `LISTEN`, session advisory locks, temporary
/// tables, sequence state, and statements made with SQL `PREPARE`. Unlike
/// `DISCARD ALL` it keeps the protocol-level statements Sylvan's cache and
/// the driver's type lookups hold, so nothing has to be prepared again.
/// Settings given at connect time (`options=-c …`) are the session's
/// defaults and survive `RESET ALL`.
const RESET_SESSION: &str = "RESET ALL; SET SESSION AUTHORIZATION DEFAULT; CLOSE ALL; \
     UNLISTEN *; SELECT pg_advisory_unlock_all(); DISCARD TEMP; DISCARD SEQUENCES; \
     DO $sylvan$ DECLARE s record; BEGIN \
     FOR s IN SELECT name FROM pg_prepared_statements WHERE from_sql LOOP \
     EXECUTE format('DEALLOCATE %I', s.name); END LOOP; END $sylvan$";

/// Commits, first making sure the transaction is not aborted: PostgreSQL
/// answers `COMMIT` of an aborted transaction with the tag `ROLLBACK` and no
/// error (which the driver does not expose), while `SELECT 1` in an aborted
/// transaction fails with 25P02 and stops the rest of the message. One
/// message, one round trip.
const CHECKED_COMMIT: &str = "SELECT 1; COMMIT";

/// One pooled PostgreSQL connection.
pub(crate) struct PgConn {
    pub(super) client: tokio_postgres::Client,
    /// `pooler=transaction`: unnamed statements only, no session reset.
    transaction_pooler: bool,
    /// Behind a transaction pooler over TCP: where cancel requests go, sent
    /// so that the pooler closes their connection (see `pooler.rs`).
    pub(super) cancel_via: Option<Box<(String, u16)>>,
    statements: Mutex<HashMap<String, Statement>>,
    /// A query future was dropped before it finished.
    abandoned: AtomicBool,
    /// A statement that may open a transaction ran on this connection.
    maybe_in_transaction: AtomicBool,
    /// A transaction was dropped unfinished on a connection still in use:
    /// roll it back before the next statement.
    rollback_first: AtomicBool,
    /// The connection failed at the connection level.
    broken: AtomicBool,
    /// A raw statement may have changed session state: reset it before
    /// anyone else borrows the connection.
    session_dirty: AtomicBool,
    /// The FATAL/PANIC message with which the server ended the session,
    /// recorded by the driver task.
    fatal: Arc<Mutex<Option<ServerFatal>>>,
    pub(crate) last_used: Instant,
    /// The pool's default statement timeout (see `crate::timeout`).
    pub(crate) statement_timeout: Option<Duration>,
    /// A statement ran out of time: its reply may never come, so later
    /// statements would queue behind it. They fail at once instead, and the
    /// connection is discarded on return.
    gave_up: AtomicBool,
    /// The pool's TLS connector: cancel requests travel as the session did.
    pub(super) tls: Arc<Tls>,
}

impl std::fmt::Debug for PgConn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PgConn")
            .field("closed", &self.client.is_closed())
            .field("abandoned", &self.abandoned)
            .field("maybe_in_transaction", &self.maybe_in_transaction)
            .finish_non_exhaustive()
    }
}

/// Marks the connection abandoned if dropped before [`InFlight::done`].
struct InFlight<'a> {
    conn: &'a PgConn,
    finished: bool,
}

impl InFlight<'_> {
    fn done(mut self) {
        self.finished = true;
    }
}

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        if !self.finished {
            self.conn.abandoned.store(true, Ordering::Release);
        }
    }
}

pub(super) enum Failure {
    Pg(tokio_postgres::Error),
    Sylvan(Error),
}

impl Failure {
    /// An error from running a statement: a statement Sylvan prepared in
    /// the same attempt (`fresh`) that is already gone is a transaction
    /// pooler's doing.
    fn after(e: tokio_postgres::Error, fresh: bool, sql: &str) -> Failure {
        match pooler_detected(&e, fresh, sql) {
            Some(detected) => Failure::Sylvan(detected),
            None => Failure::Pg(e),
        }
    }
}

impl From<tokio_postgres::Error> for Failure {
    fn from(e: tokio_postgres::Error) -> Self {
        Failure::Pg(e)
    }
}

impl PgConn {
    /// Opens a connection and spawns its driver task on the runtime.
    pub(crate) async fn connect(target: &PgTarget) -> Result<Self> {
        let (client, connection) = target.tls.connect(&target.config).await?;
        let fatal = Arc::new(Mutex::new(None));
        let record = Arc::clone(&fatal);
        tokio::spawn(async move {
            // Pinned here so that the connection (and with it the channels
            // of requests still waiting) is dropped only after its error is
            // recorded: a caller told "connection closed" finds the cause.
            let mut connection = connection;
            if let Err(e) = connection.as_mut().await {
                tracing::debug!(target: "sylvan::pool", error = %e, "postgres connection ended");
                if let Some(f) = ServerFatal::of(&e) {
                    *lock(&record) = Some(f);
                }
            }
        });
        let cancel_via = match (target.config.get_hosts().first(), target.transaction_pooler) {
            (Some(tokio_postgres::config::Host::Tcp(host)), true) => Some(Box::new((
                host.clone(),
                target.config.get_ports().first().copied().unwrap_or(5432),
            ))),
            _ => None,
        };
        Ok(PgConn {
            client,
            transaction_pooler: target.transaction_pooler,
            cancel_via,
            statements: Mutex::new(HashMap::new()),
            abandoned: AtomicBool::new(false),
            maybe_in_transaction: AtomicBool::new(false),
            rollback_first: AtomicBool::new(false),
            broken: AtomicBool::new(false),
            session_dirty: AtomicBool::new(false),
            fatal,
            last_used: Instant::now(),
            statement_timeout: None,
            gave_up: AtomicBool::new(false),
            tls: Arc::clone(&target.tls),
        })
    }

    /// True when the connection goes through a transaction-mode pooler
    /// (`pooler=transaction`).
    pub(crate) fn is_behind_transaction_pooler(&self) -> bool {
        self.transaction_pooler
    }

    /// True when the connection is closed or failed: never reuse it.
    pub(crate) fn is_broken(&self) -> bool {
        self.client.is_closed() || self.broken.load(Ordering::Acquire)
    }

    /// A transaction ended cleanly: no rollback needed on return.
    pub(crate) fn transaction_closed(&self) {
        self.maybe_in_transaction.store(false, Ordering::Release);
    }

    /// Rolls back before the next statement (see `rollback_first`).
    pub(crate) fn roll_back_before_next_statement(&self) {
        self.rollback_first.store(true, Ordering::Release);
    }

    async fn rollback_if_asked(&self) -> Result<()> {
        if self.rollback_first.swap(false, Ordering::AcqRel) {
            self.client.batch_execute("ROLLBACK").await.map_err(|e| {
                self.broken.store(true, Ordering::Release);
                map_error(e, "ROLLBACK")
            })?;
            self.maybe_in_transaction.store(false, Ordering::Release);
        }
        Ok(())
    }

    /// Marks work left running (a row stream dropped early).
    pub(crate) fn mark_abandoned(&self) {
        self.abandoned.store(true, Ordering::Release);
    }

    /// A statement ran out of time: it is abandoned (the connection is
    /// discarded on return) and a cancel request goes out now, so that the
    /// server stops the work even while the caller keeps the connection
    /// (say, to roll back its transaction).
    fn timed_out(&self) {
        self.mark_abandoned();
        self.gave_up.store(true, Ordering::Release);
        let cancel = self.cancel();
        let bound = self.cancel_bound();
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            runtime.spawn(async move {
                let _ = tokio::time::timeout(bound, cancel).await;
            });
        }
    }

    /// Fails when an earlier statement timed out on this connection (see
    /// `gave_up`).
    fn refuse_if_given_up(&self, sql: &str) -> Result<()> {
        if self.gave_up.load(Ordering::Acquire) {
            return Err(Error::ConnectionLost {
                sql: Some(sql.to_owned()),
                source: "an earlier statement on this connection timed out; the connection cannot be proven clean and is discarded when it returns to the pool".into(),
            });
        }
        Ok(())
    }

    /// True when a query future was dropped before it finished.
    pub(crate) fn is_abandoned(&self) -> bool {
        self.abandoned.load(Ordering::Acquire)
    }

    /// A raw statement that may change session state is about to run.
    pub(crate) fn mark_session_dirty(&self) {
        self.session_dirty.store(true, Ordering::Release);
    }

    /// True when the last user may have left work running, a transaction
    /// open, or session state behind.
    pub(crate) fn needs_cleaning(&self) -> bool {
        self.is_abandoned()
            || self.may_be_in_transaction()
            || self.rollback_first.load(Ordering::Acquire)
            || self.session_dirty.load(Ordering::Acquire)
    }

    /// Makes the connection fit for the next user, or says it is not: an
    /// abandoned query is cancelled and waited for until the session is idle
    /// (re-sending the cancel, which the server ignores if it overtakes the
    /// query), and the connection is then discarded (false); otherwise an
    /// open transaction is rolled back. False: discard the connection.
    pub(crate) async fn clean(&self) -> bool {
        if self.is_abandoned() {
            for attempt in 1..=CANCEL_ATTEMPTS {
                let wait = CANCEL_WAIT * attempt;
                // Bounded: the server (or the network to it) may be stalled.
                self.cancel_within(wait).await;
                // Answered (by the server, or with an error): the session is idle.
                if tokio::time::timeout(wait, self.client.simple_query(""))
                    .await
                    .is_ok()
                {
                    break;
                }
            }
            // Never hand out a session a cancel was sent to, even once it
            // is idle: the server may apply a cancel late, to the next
            // user's statement. Waiting for idle only makes sure the
            // abandoned work has stopped before the session closes.
            return false;
        }
        // Bounded too: a session that does not answer its rollback or
        // reset in time is discarded rather than holding its pool slot.
        let budget = CANCEL_WAIT * CANCEL_ATTEMPTS * CANCEL_ATTEMPTS;
        matches!(tokio::time::timeout(budget, self.reset()).await, Ok(Ok(())))
    }

    /// Checks the connection alive with an empty query (one round trip),
    /// within `budget`. False (and the connection marked broken) when the
    /// server did not answer in time or the connection failed.
    pub(crate) async fn ping(&self, budget: Duration) -> bool {
        let alive = matches!(
            tokio::time::timeout(budget, self.client.simple_query("")).await,
            Ok(Ok(_))
        );
        if !alive {
            self.broken.store(true, Ordering::Release);
        }
        alive
    }

    /// True when a statement that may open a transaction ran since the
    /// last reset.
    pub(crate) fn may_be_in_transaction(&self) -> bool {
        self.maybe_in_transaction.load(Ordering::Acquire)
    }

    /// Rolls back a transaction the last user may have left open, and
    /// resets the session if a raw statement may have changed it. A failure
    /// marks the connection broken, so it is discarded.
    pub(crate) async fn reset(&self) -> Result<()> {
        self.rollback_first.store(false, Ordering::Release);
        if self.transaction_pooler && self.session_dirty.swap(false, Ordering::AcqRel) {
            // Behind a transaction pooler the session reset would reach
            // whichever server session the pooler picks: only a transaction
            // a script may have left open is rolled back.
            self.maybe_in_transaction.store(true, Ordering::Release);
        }
        if self.session_dirty.load(Ordering::Acquire) {
            // Pipelined: one round trip. Separate messages, since a script
            // holding ROLLBACK would run as one implicit transaction.
            let (rollback, reset) = tokio::join!(
                self.client.batch_execute("ROLLBACK"),
                self.client.batch_execute(RESET_SESSION)
            );
            if let Err(e) = rollback.and(reset) {
                self.broken.store(true, Ordering::Release);
                return Err(map_error(e, RESET_SESSION));
            }
            self.maybe_in_transaction.store(false, Ordering::Release);
            self.session_dirty.store(false, Ordering::Release);
            return Ok(());
        }
        if self.may_be_in_transaction() {
            if let Err(e) = self.client.batch_execute("ROLLBACK").await {
                self.broken.store(true, Ordering::Release);
                return Err(map_error(e, "ROLLBACK"));
            }
            self.maybe_in_transaction.store(false, Ordering::Release);
        }
        Ok(())
    }

    fn enter(&self, sql: &str) -> InFlight<'_> {
        if first_keyword_is(sql, TRANSACTION_KEYWORDS) {
            self.maybe_in_transaction.store(true, Ordering::Release);
        }
        InFlight {
            conn: self,
            finished: false,
        }
    }

    /// The prepared statement for `sql`, and whether it was prepared just
    /// now (not taken from the cache).
    async fn statement(&self, sql: &str) -> std::result::Result<(Statement, bool), Failure> {
        if let Some(stmt) = self.cache().get(sql) {
            return Ok((stmt.clone(), false));
        }
        let stmt = self
            .client
            .prepare(sql)
            .await
            .map_err(|e| Failure::after(e, true, sql))?;
        let mut cache = self.cache();
        if cache.len() >= STATEMENT_CACHE_CAPACITY {
            cache.clear();
        }
        cache.insert(sql.to_owned(), stmt.clone());
        Ok((stmt, true))
    }

    fn cache(&self) -> std::sync::MutexGuard<'_, HashMap<String, Statement>> {
        lock(&self.statements)
    }

    fn forget(&self, sql: &str) {
        self.cache().remove(sql);
    }

    fn fail(&self, failure: Failure, sql: &str) -> Error {
        let e = match failure {
            Failure::Pg(e) => map_error(e, sql),
            Failure::Sylvan(e) => e,
        };
        if breaks_connection(&e) {
            self.broken.store(true, Ordering::Release);
            // "connection closed" after the server ended the session: the
            // server's message is the cause.
            if let Some(fatal) = lock(&self.fatal).clone() {
                return Error::ConnectionLost {
                    sql: Some(sql.to_owned()),
                    source: Box::new(fatal),
                };
            }
        }
        e
    }

    /// Runs a statement, returning the number of rows it changed.
    /// Runs `attempt` (which prepares `sql` through the cache) once more if
    /// the cached statement went stale after a schema change; tracks the
    /// statement in flight, maps errors, and traces `count(result)` rows.
    /// Bounded by the statement timeout (see `crate::timeout`): on expiry
    /// the statement is abandoned (cancelled, connection discarded on
    /// return).
    async fn run<R, F, Fut>(&self, sql: &str, attempt: F, count: impl Fn(&R) -> u64) -> Result<R>
    where
        F: FnMut() -> Fut,
        Fut: std::future::Future<Output = std::result::Result<R, Failure>>,
    {
        let timeout = crate::timeout::effective(self.statement_timeout);
        let work = self.run_unbounded(sql, attempt, count);
        crate::timeout::bound(timeout, sql, work, || self.timed_out()).await
    }

    async fn run_unbounded<R, F, Fut>(
        &self,
        sql: &str,
        mut attempt: F,
        count: impl Fn(&R) -> u64,
    ) -> Result<R>
    where
        F: FnMut() -> Fut,
        Fut: std::future::Future<Output = std::result::Result<R, Failure>>,
    {
        self.refuse_if_given_up(sql)?;
        self.rollback_if_asked().await?;
        let flight = self.enter(sql);
        let start = Instant::now();
        let mut healed = false;
        let result = loop {
            match attempt().await {
                Err(Failure::Pg(e)) if !healed && is_stale_statement(&e) => {
                    self.forget(sql);
                    if self.may_be_in_transaction() {
                        // The error aborted the transaction: a retry could
                        // only fail with 25P02. Report the real cause; the
                        // statement is prepared afresh next time.
                        break Err(self.fail(Failure::Pg(e), sql));
                    }
                    healed = true;
                }
                Ok(value) => {
                    trace(sql, count(&value), start);
                    break Ok(value);
                }
                Err(f) => break Err(self.fail(f, sql)),
            }
        };
        flight.done();
        result
    }

    /// Runs a statement, returning the number of rows it changed.
    pub(crate) async fn execute(&self, sql: &str, binds: &[Value]) -> Result<u64> {
        observe::statement(sql, binds, Kind::Execute);
        if self.transaction_pooler {
            let attempt = || self.execute_unnamed(sql, binds);
            return self.run(sql, attempt, |n| *n).await;
        }
        let attempt = || async {
            let (stmt, fresh) = self.statement(sql).await?;
            check_bind_count(stmt.params().len(), binds, sql)?;
            self.client
                .execute_raw(&stmt, bind_iter(binds))
                .await
                .map_err(|e| Failure::after(e, fresh, sql))
        };
        self.run(sql, attempt, |n| *n).await
    }

    /// Runs a query and decodes up to `cardinality`'s limit of rows as they
    /// stream in.
    pub(crate) async fn query<T: FromRow>(
        &self,
        sql: &str,
        binds: &[Value],
        cardinality: Cardinality,
    ) -> Result<Vec<T>> {
        let observed = observe::statement(sql, binds, Kind::Query);
        let attempt = || self.query_once::<T>(sql, binds, cardinality, observed.clone());
        self.run(sql, attempt, |rows| rows.len() as u64).await
    }

    async fn query_once<T: FromRow>(
        &self,
        sql: &str,
        binds: &[Value],
        cardinality: Cardinality,
        observed: Rows,
    ) -> std::result::Result<Vec<T>, Failure> {
        let stream = self.start_query(sql, binds).await?;
        let mut stream = std::pin::pin!(stream);
        let limit = cardinality.read_limit();
        let mut out = Vec::new();
        let mut decoder = RowDecoder::<T>::new(observed);
        while let Some(row) = stream.try_next().await? {
            out.push(
                decoder
                    .decode(&Row::postgres(&row))
                    .map_err(Failure::Sylvan)?,
            );
            if out.len() >= limit {
                break;
            }
        }
        Ok(out)
    }
}

impl PgConn {
    /// Starts a query whose rows are read one at a time (not observed here:
    /// the row stream runs the statement hook, see `crate::observe`).
    pub(crate) async fn query_stream(
        &self,
        sql: &str,
        binds: &[Value],
    ) -> Result<tokio_postgres::RowStream> {
        let attempt = || self.start_query(sql, binds);
        // Rows are counted as they are read, not here.
        self.run(sql, attempt, |_| 0).await
    }

    /// Sends a query; its rows follow in the stream.
    async fn start_query(
        &self,
        sql: &str,
        binds: &[Value],
    ) -> std::result::Result<tokio_postgres::RowStream, Failure> {
        if self.transaction_pooler {
            return self.query_unnamed(sql, binds).await;
        }
        let (stmt, fresh) = self.statement(sql).await?;
        check_bind_count(stmt.params().len(), binds, sql)?;
        self.client
            .query_raw(&stmt, bind_iter(binds))
            .await
            .map_err(|e| Failure::after(e, fresh, sql))
    }

    /// Runs several statements without binds (simple query protocol).
    pub(crate) async fn execute_script(&self, sql: &str) -> Result<()> {
        observe::statement(sql, &[], Kind::Script);
        let timeout = crate::timeout::effective(self.statement_timeout);
        let work = async {
            self.refuse_if_given_up(sql)?;
            self.rollback_if_asked().await?;
            let flight = self.enter(sql);
            let result = self.client.batch_execute(sql).await;
            flight.done();
            result.map_err(|e| self.fail(Failure::Pg(e), sql))
        };
        crate::timeout::bound(timeout, sql, work, || self.timed_out()).await
    }

    /// Commits the open transaction, checking first that it is not aborted
    /// (see [`CHECKED_COMMIT`]). An aborted one fails with 25P02 and stays
    /// open for the caller to roll back.
    /// Bounded by the statement timeout like every statement: one that
    /// runs out is [`Error::CommitOutcomeUnknown`].
    pub(crate) async fn commit(&self) -> Result<()> {
        observe::statement("COMMIT", &[], Kind::Execute);
        let timeout = crate::timeout::effective(self.statement_timeout);
        let work = async {
            self.refuse_if_given_up("COMMIT")?;
            let flight = self.enter("COMMIT");
            let result = self.client.batch_execute(CHECKED_COMMIT).await;
            flight.done();
            match result {
                Ok(()) => {
                    self.transaction_closed();
                    Ok(())
                }
                Err(e) => Err(self.fail(Failure::Pg(e), "COMMIT")),
            }
        };
        crate::timeout::bound(timeout, "COMMIT", work, || self.timed_out()).await
    }

    /// Maps an error raised while reading a row stream.
    pub(crate) fn stream_error(&self, e: tokio_postgres::Error, sql: &str) -> Error {
        self.fail(Failure::Pg(e), sql)
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // Every value kept under these locks is whole between statements: a
    // panic elsewhere cannot leave it half-changed.
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

fn bind_iter(binds: &[Value]) -> impl ExactSizeIterator<Item = PgBind<'_>> {
    binds.iter().enumerate().map(|(i, value)| PgBind {
        value,
        index: i + 1,
    })
}

/// Fails unless `binds` holds exactly `expected` values (the statement's
/// parameter count) and no more than PostgreSQL's bind limit.
pub(super) fn check_bind_count(
    expected: usize,
    binds: &[Value],
    sql: &str,
) -> std::result::Result<(), Failure> {
    let limit = crate::backend::Dialect::Postgres.max_binds();
    if binds.len() > limit {
        return Err(Failure::Sylvan(Error::TooManyBinds {
            limit,
            given: binds.len(),
            sql: sql.to_owned(),
        }));
    }
    if expected == binds.len() {
        Ok(())
    } else {
        Err(Failure::Sylvan(Error::BindCount {
            expected,
            given: binds.len(),
            sql: sql.to_owned(),
        }))
    }
}

fn trace(sql: &str, rows: u64, start: Instant) {
    tracing::debug!(
        target: "sylvan::query",
        backend = "postgres",
        sql,
        rows,
        elapsed_us = start.elapsed().as_micros() as u64,
    );
}
