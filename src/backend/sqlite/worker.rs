//! A SQLite connection living on its own OS thread.
//!
//! rusqlite calls block, so no statement may run on a tokio runtime thread.
//! Each connection gets a dedicated worker thread that owns it; callers send
//! closures over a channel and await a oneshot reply. Rows are decoded into
//! the caller's type on the worker, so only the decoded value crosses
//! threads. A dedicated thread beat `spawn_blocking` with a mutex-guarded
//! connection in our measurements (see the crate README), and keeps the
//! prepared-statement cache on the thread that uses it.
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
//! Cancellation: if the awaiting future is dropped, a job not yet started is
//! skipped, and a running one is stopped: `sqlite3_interrupt` when it is
//! running at that moment (decided under a lock the worker takes to switch
//! jobs, so it can never hit another job), and a progress handler that
//! checks every few hundred VM steps whether the running job was cancelled
//! (which also covers a cancellation landing just as the job starts).

use crate::error::{Error, Result};
use std::future::Future;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{mpsc, Arc, Mutex};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};
use tokio::sync::oneshot;

type Job = Box<dyn FnOnce(&mut rusqlite::Connection) + Send + 'static>;

/// State the worker shares with the pool and with waiting callers.
struct Shared {
    interrupt: rusqlite::InterruptHandle,
    /// The connection was inside a transaction after its last job.
    in_transaction: AtomicBool,
    /// A job panicked or the thread is gone: never reuse.
    broken: AtomicBool,
    /// Session jobs sent and not yet finished.
    session_pending: AtomicUsize,
    /// Jobs sent and not yet started.
    queued: AtomicUsize,
    /// Id of the next job.
    next_job: AtomicU64,
    /// Id of the job running now (0: none); changed only under `switch`.
    running: AtomicU64,
    /// Id of the last job whose caller gave up.
    cancelled: AtomicU64,
    /// Held while the running job changes and while a canceller decides to
    /// interrupt, so an interrupt only ever reaches the job it is meant for.
    switch: Mutex<()>,
}

impl std::fmt::Debug for Shared {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Shared")
            .field("in_transaction", &self.in_transaction)
            .field("broken", &self.broken)
            .field("session_pending", &self.session_pending)
            .finish_non_exhaustive()
    }
}

impl Shared {
    fn is_cancelled(&self, job: u64) -> bool {
        self.cancelled.load(Ordering::Acquire) == job
    }

    fn lock_switch(&self) -> std::sync::MutexGuard<'_, ()> {
        // The guarded data is `()`: a poisoned lock holds nothing broken.
        self.switch
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn set_running(&self, job: u64) {
        let _switch = self.lock_switch();
        self.running.store(job, Ordering::Release);
    }

    /// Bookkeeping at the end of every job, done before a reply is sent so
    /// that a caller who got its reply sees the connection's state.
    fn finish(&self, conn: &rusqlite::Connection, session: bool) {
        self.in_transaction
            .store(!conn.is_autocommit(), Ordering::Release);
        if session {
            self.session_pending.fetch_sub(1, Ordering::AcqRel);
        }
    }

    fn cancel(&self, job: u64) {
        let _switch = self.lock_switch();
        self.cancelled.store(job, Ordering::Release);
        if self.running.load(Ordering::Acquire) == job {
            self.interrupt.interrupt();
        }
    }
}

/// VM steps between two checks for cancellation.
const PROGRESS_STEPS: i32 = 500;

/// How long a caller whose job runs at once waits for the reply before
/// parking its task.
const CALLER_SPIN: Duration = Duration::from_micros(10);

/// How long an idle worker polls for the next job before sleeping.
const WORKER_SPIN: Duration = Duration::from_micros(50);

/// Handle to one worker thread and its connection.
pub(crate) struct Worker {
    sender: mpsc::Sender<Job>,
    shared: Arc<Shared>,
}

impl std::fmt::Debug for Worker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Worker")
            .field("shared", &self.shared)
            .finish_non_exhaustive()
    }
}

static NEXT_WORKER: AtomicUsize = AtomicUsize::new(1);

/// The reply to one job: a future that cancels the job if dropped first.
pub(crate) struct Reply<R> {
    receiver: oneshot::Receiver<R>,
    shared: Arc<Shared>,
    job: u64,
    done: bool,
    /// Nothing was queued ahead of the job: its reply is likely a few
    /// microseconds away, so the first poll waits for it briefly before
    /// parking the task (a park and wake-up costs more than that).
    spin: bool,
}

impl<R> Future for Reply<R> {
    type Output = Result<R>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<R>> {
        let this = &mut *self;
        if std::mem::take(&mut this.spin) {
            let start = std::time::Instant::now();
            let mut spins = 0_u32;
            loop {
                match this.receiver.try_recv() {
                    Err(oneshot::error::TryRecvError::Empty) => {}
                    Ok(reply) => {
                        this.done = true;
                        return Poll::Ready(Ok(reply));
                    }
                    Err(oneshot::error::TryRecvError::Closed) => break,
                }
                std::hint::spin_loop();
                spins += 1;
                if spins.is_multiple_of(32) && start.elapsed() >= CALLER_SPIN {
                    break;
                }
            }
        }
        match Pin::new(&mut this.receiver).poll(cx) {
            Poll::Pending => Poll::Pending,
            Poll::Ready(reply) => {
                this.done = true;
                Poll::Ready(reply.map_err(|_| {
                    this.shared.broken.store(true, Ordering::Release);
                    Error::WorkerPanicked
                }))
            }
        }
    }
}

impl<R> Drop for Reply<R> {
    fn drop(&mut self) {
        if !self.done {
            self.shared.cancel(self.job);
        }
    }
}

impl Worker {
    /// Starts a thread, opens the connection there with `open`, and returns
    /// once it is ready.
    pub(crate) async fn spawn<F>(open: F) -> Result<Worker>
    where
        F: FnOnce() -> Result<rusqlite::Connection> + Send + 'static,
    {
        let (ready_tx, ready_rx) = oneshot::channel::<Result<Arc<Shared>>>();
        let (sender, receiver) = mpsc::channel::<Job>();
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
                    session_pending: AtomicUsize::new(0),
                    queued: AtomicUsize::new(0),
                    next_job: AtomicU64::new(0),
                    running: AtomicU64::new(0),
                    cancelled: AtomicU64::new(0),
                    switch: Mutex::new(()),
                });
                let progress = Arc::clone(&shared);
                let handler = conn.progress_handler(
                    PROGRESS_STEPS,
                    Some(move || {
                        let running = progress.running.load(Ordering::Acquire);
                        running != 0 && progress.is_cancelled(running)
                    }),
                );
                if let Err(e) = handler {
                    let _ = ready_tx.send(Err(Error::Connect { source: e.into() }));
                    return;
                }
                if ready_tx.send(Ok(Arc::clone(&shared))).is_err() {
                    return;
                }
                run(&mut conn, &receiver, &shared);
                shared.broken.store(true, Ordering::Release);
            })
            .map_err(|e| Error::Connect { source: e.into() })?;
        let shared = ready_rx.await.map_err(|_| Error::WorkerPanicked)??;
        Ok(Worker { sender, shared })
    }

    /// Queues `f` and returns the future of its reply. `session` jobs count
    /// as possibly leaving state behind until they finish.
    pub(crate) fn submit<R, F>(&self, f: F, session: bool) -> Result<Reply<R>>
    where
        F: FnOnce(&mut rusqlite::Connection) -> R + Send + 'static,
        R: Send + 'static,
    {
        let id = self.shared.next_job.fetch_add(1, Ordering::Relaxed) + 1;
        let (reply_tx, receiver) = oneshot::channel();
        let shared = Arc::clone(&self.shared);
        let ahead = self.enqueue(session, move |conn| {
            // The caller gave up before we started: skip the work.
            if reply_tx.is_closed() || shared.is_cancelled(id) {
                shared.finish(conn, session);
                return;
            }
            shared.set_running(id);
            let result = f(conn);
            if !session && !conn.is_autocommit() {
                // A detached statement has no connection to continue on.
                rollback_open_transaction(conn);
            }
            shared.set_running(0);
            shared.finish(conn, session);
            let _ = reply_tx.send(result);
        })?;
        Ok(Reply {
            receiver,
            shared: Arc::clone(&self.shared),
            job: id,
            done: false,
            spin: ahead == 0,
        })
    }

    /// Sends `job` to the worker, counted as queued (and, for a session
    /// job, as pending until its `finish`); returns how many jobs were
    /// queued ahead of it. The job itself must call `Shared::finish`.
    fn enqueue<F>(&self, session: bool, job: F) -> Result<usize>
    where
        F: FnOnce(&mut rusqlite::Connection) + Send + 'static,
    {
        let shared = Arc::clone(&self.shared);
        if session {
            self.shared.session_pending.fetch_add(1, Ordering::AcqRel);
        }
        let ahead = self.shared.queued.fetch_add(1, Ordering::AcqRel);
        let job: Job = Box::new(move |conn| {
            shared.queued.fetch_sub(1, Ordering::AcqRel);
            job(conn);
        });
        if self.sender.send(job).is_err() {
            self.shared.queued.fetch_sub(1, Ordering::AcqRel);
            if session {
                self.shared.session_pending.fetch_sub(1, Ordering::AcqRel);
            }
            self.shared.broken.store(true, Ordering::Release);
            return Err(Error::ConnectionLost {
                sql: None,
                source: "the SQLite worker thread has stopped".into(),
            });
        }
        Ok(ahead)
    }

    /// Runs `f` as a session job and waits for it.
    pub(crate) async fn call<R, F>(&self, f: F) -> Result<R>
    where
        F: FnOnce(&mut rusqlite::Connection) -> R + Send + 'static,
        R: Send + 'static,
    {
        self.submit(f, true)?.await
    }

    /// Rolls back, in the background, a transaction the last user may have
    /// left open; later jobs queue behind it.
    pub(crate) fn rollback_if_dirty(&self) {
        if self.may_be_dirty() {
            let shared = Arc::clone(&self.shared);
            // No reply and no cancellation: this job always runs. A stopped
            // worker is marked broken by `enqueue`, so the pool drops it.
            let _ = self.enqueue(true, move |conn| {
                rollback_open_transaction(conn);
                shared.finish(conn, true);
            });
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

fn run(conn: &mut rusqlite::Connection, receiver: &mpsc::Receiver<Job>, shared: &Shared) {
    while let Some(job) = next_job(receiver) {
        if catch_unwind(AssertUnwindSafe(|| job(conn))).is_err() {
            // A user closure panicked mid-way (before its job finished): the
            // connection's state is unknown.
            shared.set_running(0);
            shared.broken.store(true, Ordering::Release);
        }
    }
}

/// The next job: polled for a short while (a caller issuing statements one
/// after another sends the next within microseconds), then waited for.
fn next_job(receiver: &mpsc::Receiver<Job>) -> Option<Job> {
    let start = Instant::now();
    let mut spins = 0_u32;
    loop {
        match receiver.try_recv() {
            Ok(job) => return Some(job),
            Err(mpsc::TryRecvError::Disconnected) => return None,
            Err(mpsc::TryRecvError::Empty) => {}
        }
        spins += 1;
        if spins.is_multiple_of(32) {
            if start.elapsed() >= WORKER_SPIN {
                return receiver.recv().ok();
            }
            // Give the core away now and then: on a busy machine the thread
            // that will send the next job may be waiting for it.
            std::thread::yield_now();
        } else {
            std::hint::spin_loop();
        }
    }
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
