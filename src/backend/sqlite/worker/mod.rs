//! A SQLite connection living on its own OS thread.
//!
//! rusqlite calls block, so no statement may run on a tokio runtime thread.
//! Each connection gets a dedicated worker thread that owns it; callers send
//! jobs over a channel and await the reply. Rows are decoded into the
//! caller's type on the worker, so only the decoded value crosses threads. A
//! dedicated thread beat `spawn_blocking` with a mutex-guarded connection in
//! our measurements (see the crate README), and keeps the prepared-statement
//! cache on the thread that uses it.
//!
//! Two kinds of job:
//! - *session* jobs, sent through a checked-out [`Connection`](crate::Connection):
//!   they may leave session state (an open transaction) behind, so the pool
//!   treats the connection as possibly dirty until they finish;
//! - *detached* jobs, one self-contained statement sent by a
//!   [`Database`](crate::Database) call: the caller queues the job and hands
//!   the connection straight back to the pool before awaiting the reply, so
//!   many callers' statements queue on one worker and run back to back
//!   instead of each waking a sleeping thread. A detached job never leaves a
//!   transaction open: it rolls back whatever its statement began.
//!
//! Each job lives in one shared allocation, its *slot*: the closure while it
//! is queued, then the reply, the caller's waker and the job's cancel flag.
//! The channel carries a handle to the slot and the caller's [`Reply`]
//! holds another.
//!
//! Invariants:
//! - **Bounded queue.** At most [`QUEUE_DEPTH`] jobs sent by callers are
//!   queued (sent and not yet started) on one worker; a caller waits for
//!   room, and gives up with [`Error::PoolTimeout`] (phase `Wait`) at its
//!   deadline: for a detached job, one wait timeout after the caller started
//!   waiting for the pool, so checkout and room together stay within it.
//!   Only the pool's own rollback of an abandoned transaction skips the
//!   bound (at most one per return of a connection).
//! - **Cancellation frees at once and is never missed.** If the awaiting
//!   future is dropped, a job not yet started has its closure (and with it
//!   its binds) taken out of the slot and dropped right there, and is
//!   skipped when the worker reaches it. A job already taken by the worker
//!   gets its own cancel flag set, under the lock the worker takes to start
//!   and end a job (`switch`): so the worker either sees the flag before it
//!   starts the job, or the canceller sees the job running and interrupts
//!   it (`sqlite3_interrupt`) — and an interrupt can never reach another
//!   job. A progress handler checks every few hundred VM steps whether the
//!   running job was cancelled (for a cancellation landing between two
//!   statements of one job, when an interrupt is a no-op).
//! - **A panic poisons.** A job that panics marks the connection broken (the
//!   pool discards it when it comes back), and if the connection is inside
//!   a transaction the worker rolls it back at once, before any later job
//!   runs; statements of that transaction then find the connection in
//!   autocommit mode and are refused (`Mode::InTransaction`). If that
//!   rollback fails, the worker stops and closes the connection (SQLite
//!   rolls back on close), failing every later job.
//! - **Bookkeeping before the reply.** A job's effect on the connection's
//!   state (`in_transaction`, `session_pending`, `broken`) is recorded
//!   before its reply is stored, so a caller who got its reply sees it.

mod queue;
mod reply;
mod shared;
mod slot;
mod spin;

pub(crate) use queue::QueueConfig;
pub(crate) use reply::Reply;

use crate::error::{Error, Result};
use shared::Shared;
use slot::{Job, Slot, Ticket};
use spin::{poll_for, IdleSpin, SpinToken};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{mpsc, Arc, Mutex};
use std::time::Instant;

/// Jobs a worker's queue holds (sent by callers, not yet started).
///
/// Deep enough that a busy worker always has the next statements at hand
/// (the point of the detached hand-off: 64 tasks on a pool of 4 keep about
/// 16 queued per connection), shallow enough that a flood of callers costs
/// at most this many jobs' binds per connection; the rest wait for the pool
/// or for room, within the pool's wait timeout, holding only their own
/// future.
pub(crate) const QUEUE_DEPTH: usize = 32;

/// VM steps between two checks for cancellation.
const PROGRESS_STEPS: i32 = 500;

/// Handle to one worker thread and its connection.
pub(crate) struct Worker {
    sender: mpsc::Sender<Ticket>,
    shared: Arc<Shared>,
    queue: QueueConfig,
}

impl std::fmt::Debug for Worker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Worker")
            .field("shared", &self.shared)
            .finish_non_exhaustive()
    }
}

static NEXT_WORKER: AtomicUsize = AtomicUsize::new(1);

impl Worker {
    /// Starts a thread, opens the connection there with `open`, and returns
    /// once it is ready.
    pub(crate) async fn spawn<F>(open: F, queue: QueueConfig) -> Result<Worker>
    where
        F: FnOnce() -> Result<rusqlite::Connection> + Send + 'static,
    {
        let (ready_tx, ready_rx) = tokio::sync::oneshot::channel::<Result<Arc<Shared>>>();
        let (sender, receiver) = mpsc::channel::<Ticket>();
        let n = NEXT_WORKER.fetch_add(1, Ordering::Relaxed);
        std::thread::Builder::new()
            .name(format!("sylvan-sqlite-{n}"))
            .spawn(move || {
                let mut conn = match open() {
                    Ok(conn) => conn,
                    Err(e) => {
                        let _ = ready_tx.send(Err(e));
                        return;
                    }
                };
                let shared = Arc::new(Shared {
                    interrupt: conn.get_interrupt_handle(),
                    in_transaction: AtomicBool::new(false),
                    broken: AtomicBool::new(false),
                    stopped: AtomicBool::new(false),
                    session_pending: AtomicUsize::new(0),
                    queued: AtomicUsize::new(0),
                    waiting: AtomicUsize::new(0),
                    room: tokio::sync::Notify::new(),
                    running_cancelled: AtomicBool::new(false),
                    switch: Mutex::new(()),
                    service: Default::default(),
                });
                let progress = Arc::clone(&shared);
                let handler = conn
                    .progress_handler(
                        PROGRESS_STEPS,
                        Some(move || progress.running_cancelled.load(Ordering::Acquire)),
                    )
                    .registered();
                if let Err(e) = handler {
                    let _ = ready_tx.send(Err(Error::Connect { source: e.into() }));
                    return;
                }
                if ready_tx.send(Ok(Arc::clone(&shared))).is_err() {
                    return;
                }
                run(&mut conn, &receiver, &shared);
                shared.broken.store(true, Ordering::Release);
                shared.stopped.store(true, Ordering::SeqCst);
                // Whatever is still queued will never run: tell its callers,
                // and those waiting for room.
                drop(receiver);
                shared.room.notify_waiters();
                drop(conn);
            })
            .map_err(|e| Error::Connect { source: e.into() })?;
        let shared = ready_rx.await.map_err(|_| Error::WorkerPanicked)??;
        Ok(Worker {
            sender,
            shared,
            queue,
        })
    }

    /// Queues `f`, waiting for room in the queue if it is full, and returns
    /// the future of its reply. `session` jobs count as possibly leaving
    /// state behind until they finish. The wait for room ends one wait
    /// timeout after `since` (default: when the wait begins) with
    /// [`Error::PoolTimeout`].
    pub(crate) async fn submit<R, F>(
        &self,
        f: F,
        session: bool,
        since: Option<Instant>,
    ) -> Result<Reply<R>>
    where
        F: FnOnce(&mut rusqlite::Connection) -> R + Send + 'static,
        R: Send + 'static,
    {
        let ahead = match self.try_reserve() {
            Some(ahead) => ahead,
            None => self.wait_for_room(since).await?,
        };
        let slot = Arc::new(Slot::queued(f, session));
        self.send(Arc::clone(&slot) as Arc<dyn Job>, session)?;
        Ok(Reply::new(slot, Arc::clone(&self.shared), ahead == 0))
    }

    /// Sends a job that already has its place in the queue.
    fn send(&self, job: Arc<dyn Job>, session: bool) -> Result<()> {
        if session {
            self.shared.session_pending.fetch_add(1, Ordering::AcqRel);
        }
        let ticket = Ticket::new(job);
        if let Err(mpsc::SendError(ticket)) = self.sender.send(ticket) {
            self.shared.queued.fetch_sub(1, Ordering::SeqCst);
            if session {
                self.shared.session_pending.fetch_sub(1, Ordering::AcqRel);
            }
            self.shared.broken.store(true, Ordering::Release);
            drop(ticket);
            return Err(stopped());
        }
        Ok(())
    }

    /// Runs `f` as a session job and waits for it.
    pub(crate) async fn call<R, F>(&self, f: F) -> Result<R>
    where
        F: FnOnce(&mut rusqlite::Connection) -> R + Send + 'static,
        R: Send + 'static,
    {
        self.submit(f, true, None).await?.await
    }

    /// Rolls back, in the background, a transaction the last user may have
    /// left open; later jobs queue behind it. It skips the queue's bound
    /// (it cannot wait: it is called from `drop`), which adds at most one
    /// job per return of the connection.
    pub(crate) fn rollback_if_dirty(&self) {
        if self.may_be_dirty() {
            self.shared.queued.fetch_add(1, Ordering::SeqCst);
            // No reply and no cancellation: this job always runs. A stopped
            // worker is marked broken by `send`, so the pool drops it.
            let job = Arc::new(Slot::queued(rollback_open_transaction, true));
            let _ = self.send(job, true);
        }
    }

    /// Closes the connection when it next goes back to the pool instead of
    /// reusing it (its session state may have changed); statements already
    /// queued still run.
    pub(crate) fn retire(&self) {
        self.shared.broken.store(true, Ordering::Release);
    }

    /// True when the connection must not be reused.
    pub(crate) fn is_broken(&self) -> bool {
        self.shared.broken.load(Ordering::Acquire)
    }

    /// True when the connection may be inside a transaction or still
    /// running a session job a dropped caller left behind.
    pub(crate) fn may_be_dirty(&self) -> bool {
        self.shared.session_pending.load(Ordering::Acquire) > 0
            || self.shared.in_transaction.load(Ordering::Acquire)
    }
}

/// What `Connection::progress_handler` returns: `()` up to rusqlite 0.37,
/// a `Result` from 0.38 on. Both read as a `Result`, so the worker builds
/// against the whole supported range without `cfg`.
trait Registered {
    fn registered(self) -> rusqlite::Result<()>;
}

impl Registered for () {
    fn registered(self) -> rusqlite::Result<()> {
        Ok(())
    }
}

impl Registered for rusqlite::Result<()> {
    fn registered(self) -> rusqlite::Result<()> {
        self
    }
}

fn stopped() -> Error {
    Error::ConnectionLost {
        sql: None,
        source: "the SQLite worker thread has stopped".into(),
    }
}

fn run(conn: &mut rusqlite::Connection, receiver: &mpsc::Receiver<Ticket>, shared: &Shared) {
    let mut idle = IdleSpin::default();
    let mut ended = Instant::now();
    while let Some(mut ticket) = next_job(receiver, &mut idle, ended) {
        let start = Instant::now();
        // User closures are caught inside `Slot::run`; a panic here is ours
        // and leaves the connection in an unknown state: stop (dropping the
        // ticket tells its caller).
        match catch_unwind(AssertUnwindSafe(|| ticket.run(conn, shared))) {
            Ok(true) => {}
            Ok(false) | Err(_) => return,
        }
        ended = Instant::now();
        shared.service.record(ended - start);
    }
}

/// The next job: taken at once if one is queued; else polled for while
/// `idle` says polling pays and no other worker polls (see `spin`); else
/// waited for.
fn next_job(
    receiver: &mpsc::Receiver<Ticket>,
    idle: &mut IdleSpin,
    ended: Instant,
) -> Option<Ticket> {
    match receiver.try_recv() {
        Ok(job) => return Some(job),
        Err(mpsc::TryRecvError::Disconnected) => return None,
        Err(mpsc::TryRecvError::Empty) => {}
    }
    let budget = idle.budget();
    if !budget.is_zero() {
        if let Some(_token) = SpinToken::worker() {
            let mut next = None;
            poll_for(budget, true, || match receiver.try_recv() {
                Ok(job) => {
                    next = Some(Some(job));
                    true
                }
                Err(mpsc::TryRecvError::Disconnected) => {
                    next = Some(None);
                    true
                }
                Err(mpsc::TryRecvError::Empty) => false,
            });
            match next {
                Some(Some(job)) => {
                    idle.arrived_after(ended.elapsed());
                    return Some(job);
                }
                Some(None) => return None,
                None => idle.missed(),
            }
        }
    }
    let job = receiver.recv().ok()?;
    idle.arrived_after(ended.elapsed());
    Some(job)
}

/// Rolls back an open transaction; a failure is logged, and the next
/// recycle checks `is_autocommit` again.
pub(crate) fn rollback_open_transaction(conn: &mut rusqlite::Connection) {
    if !conn.is_autocommit() {
        if let Err(e) = conn.execute_batch("ROLLBACK") {
            tracing::warn!(target: "sylvan::pool", error = %e, "rollback of an abandoned SQLite transaction failed");
        }
    }
}
