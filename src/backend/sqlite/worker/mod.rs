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

use crate::error::{Error, Result, TimeoutPhase};
use std::future::Future;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU8, AtomicUsize, Ordering};
use std::sync::{mpsc, Arc, Mutex, MutexGuard};
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

/// Jobs a worker's queue holds (sent by callers, not yet started).
///
/// Deep enough that a busy worker always has the next statements at hand
/// (the point of the detached hand-off: 64 tasks on a pool of 4 keep about
/// 16 queued per connection), shallow enough that a flood of callers costs
/// at most this many jobs' binds per connection; the rest wait for the pool
/// or for room, within the pool's wait timeout, holding only their own
/// future.
pub(crate) const QUEUE_DEPTH: usize = 32;

/// How one worker bounds waiting for room in its queue.
#[derive(Debug, Clone)]
pub(crate) struct QueueConfig {
    /// The pool's wait timeout: the longest a caller waits for room.
    pub(crate) wait_timeout: Duration,
    /// The most jobs ever queued on one worker of the pool (for tests and
    /// diagnostics).
    pub(crate) high_water: Arc<AtomicUsize>,
}

/// State the worker shares with the pool and with waiting callers.
struct Shared {
    interrupt: rusqlite::InterruptHandle,
    /// The connection was inside a transaction after its last job.
    in_transaction: AtomicBool,
    /// A job panicked or the thread is gone: never reuse.
    broken: AtomicBool,
    /// The worker thread has ended: nothing queued will run.
    stopped: AtomicBool,
    /// Session jobs sent and not yet finished.
    session_pending: AtomicUsize,
    /// Jobs sent and not yet started.
    queued: AtomicUsize,
    /// Callers waiting for room in the queue.
    waiting: AtomicUsize,
    /// Signalled when a job leaves the queue while someone waits for room.
    room: tokio::sync::Notify,
    /// The running job was cancelled; changed only under `switch`.
    running_cancelled: AtomicBool,
    /// Held while the worker starts or ends a job and while a canceller
    /// decides to interrupt, so an interrupt only reaches the job it is
    /// meant for.
    switch: Mutex<()>,
}

impl std::fmt::Debug for Shared {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Shared")
            .field("in_transaction", &self.in_transaction)
            .field("broken", &self.broken)
            .field("session_pending", &self.session_pending)
            .field("queued", &self.queued)
            .finish_non_exhaustive()
    }
}

impl Shared {
    fn lock_switch(&self) -> MutexGuard<'_, ()> {
        lock(&self.switch)
    }

    /// Bookkeeping at the end of every job, done before its reply is stored
    /// so that a caller who got its reply sees the connection's state.
    fn finish(&self, conn: &rusqlite::Connection, session: bool) {
        self.in_transaction
            .store(!conn.is_autocommit(), Ordering::Release);
        if session {
            self.session_pending.fetch_sub(1, Ordering::AcqRel);
        }
    }

    /// A job left the queue: wake a caller waiting for room, if any.
    fn dequeued(&self) {
        // SeqCst on both sides (here and in `Worker::wait_for_room`): either
        // the waiter sees the room or we see the waiter.
        self.queued.fetch_sub(1, Ordering::SeqCst);
        if self.waiting.load(Ordering::SeqCst) > 0 {
            self.room.notify_one();
        }
    }
}

/// Locks a mutex whose data stays consistent even if a holder panicked
/// (every critical section here only moves values in or out).
fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// VM steps between two checks for cancellation.
const PROGRESS_STEPS: i32 = 500;

/// How long a caller whose job runs at once waits for the reply before
/// parking its task.
const CALLER_SPIN: Duration = Duration::from_micros(10);

/// How long an idle worker polls for the next job before sleeping.
const WORKER_SPIN: Duration = Duration::from_micros(50);

/// Slot flag: the caller gave up (set under `switch`).
const CANCELLED: u8 = 1;
/// Slot flag: the worker is running the job (set and cleared under `switch`).
const RUNNING: u8 = 2;

/// Where a job is.
enum Stage<F, R> {
    /// Queued, with its closure.
    Queued(F),
    /// Taken by the worker (running, or skipped as cancelled).
    Taken,
    /// Finished; the reply waits for the caller.
    Done(R),
    /// Will never finish: it panicked, or the worker stopped first.
    Abandoned,
    /// The reply was collected, or the caller gave up before the job
    /// started.
    Over,
}

struct SlotState<F, R> {
    stage: Stage<F, R>,
    waker: Option<Waker>,
}

/// One job, shared by the queue and the caller's [`Reply`].
struct Slot<F, R> {
    session: bool,
    /// `CANCELLED` | `RUNNING`, changed only under `Shared::switch`.
    flags: AtomicU8,
    /// The stage is `Done` or `Abandoned`: read without locking while the
    /// caller spins.
    ready: AtomicBool,
    state: Mutex<SlotState<F, R>>,
}

/// The worker's side of a slot.
trait Job: Send + Sync {
    /// Runs (or skips) the job; false when the worker must stop.
    fn run(&self, conn: &mut rusqlite::Connection, shared: &Shared) -> bool;
    /// The job will never run: tell its caller.
    fn abandon(&self);
}

/// The caller's side of a slot.
trait Pending<R>: Send + Sync {
    fn is_ready(&self) -> bool;
    /// `None` while the job is not finished (the waker is kept);
    /// `Some(None)` when it never will be.
    fn take_reply(&self, waker: Option<&Waker>) -> Option<Option<R>>;
    /// The caller gave up.
    fn cancel(&self, shared: &Shared);
}

impl<F, R> Slot<F, R> {
    fn lock(&self) -> MutexGuard<'_, SlotState<F, R>> {
        lock(&self.state)
    }

    /// Stores the outcome and wakes the caller.
    fn complete(&self, stage: Stage<F, R>) {
        let waker = {
            let mut state = self.lock();
            state.stage = stage;
            self.ready.store(true, Ordering::Release);
            state.waker.take()
        };
        if let Some(waker) = waker {
            waker.wake();
        }
    }
}

impl<F, R> Job for Slot<F, R>
where
    F: FnOnce(&mut rusqlite::Connection) -> R + Send,
    R: Send,
{
    fn run(&self, conn: &mut rusqlite::Connection, shared: &Shared) -> bool {
        shared.dequeued();
        let f = {
            let mut state = self.lock();
            match std::mem::replace(&mut state.stage, Stage::Taken) {
                Stage::Queued(f) => Some(f),
                other => {
                    state.stage = other;
                    None
                }
            }
        };
        let Some(f) = f else {
            // The caller gave up while it was queued (its closure is gone).
            shared.finish(conn, self.session);
            return true;
        };
        let cancelled = {
            let _switch = shared.lock_switch();
            let cancelled = self.flags.load(Ordering::Acquire) & CANCELLED != 0;
            if !cancelled {
                self.flags.fetch_or(RUNNING, Ordering::AcqRel);
                shared.running_cancelled.store(false, Ordering::Release);
            }
            cancelled
        };
        if cancelled {
            drop(f);
            shared.finish(conn, self.session);
            return true;
        }
        let outcome = catch_unwind(AssertUnwindSafe(|| f(conn)));
        {
            let _switch = shared.lock_switch();
            self.flags.fetch_and(!RUNNING, Ordering::AcqRel);
            shared.running_cancelled.store(false, Ordering::Release);
        }
        let panicked = outcome.is_err();
        if panicked {
            // Half done: its transaction (the caller's, or one it began)
            // must never commit, and nothing else may run inside it.
            shared.broken.store(true, Ordering::Release);
            rollback_open_transaction(conn);
        } else if !self.session {
            // A detached statement has no connection to continue on.
            rollback_open_transaction(conn);
        }
        shared.finish(conn, self.session);
        self.complete(match outcome {
            Ok(reply) => Stage::Done(reply),
            Err(_) => Stage::Abandoned,
        });
        // Still inside a transaction after a panic: stop, so the connection
        // closes (and SQLite rolls back) before anything else runs.
        !panicked || conn.is_autocommit()
    }

    fn abandon(&self) {
        let closure = {
            let mut state = self.lock();
            match std::mem::replace(&mut state.stage, Stage::Abandoned) {
                Stage::Queued(f) => Some(f),
                Stage::Taken => None,
                other => {
                    state.stage = other;
                    return;
                }
            }
        };
        drop(closure);
        self.complete(Stage::Abandoned);
    }
}

impl<F, R> Pending<R> for Slot<F, R>
where
    F: Send,
    R: Send,
{
    fn is_ready(&self) -> bool {
        self.ready.load(Ordering::Acquire)
    }

    fn take_reply(&self, waker: Option<&Waker>) -> Option<Option<R>> {
        let mut state = self.lock();
        match std::mem::replace(&mut state.stage, Stage::Over) {
            Stage::Done(reply) => Some(Some(reply)),
            Stage::Abandoned | Stage::Over => Some(None),
            other => {
                state.stage = other;
                if let Some(waker) = waker {
                    match &mut state.waker {
                        Some(kept) if kept.will_wake(waker) => {}
                        kept => *kept = Some(waker.clone()),
                    }
                }
                None
            }
        }
    }

    fn cancel(&self, shared: &Shared) {
        let closure = {
            let mut state = self.lock();
            state.waker = None;
            match std::mem::replace(&mut state.stage, Stage::Over) {
                Stage::Queued(f) => Some(f),
                Stage::Taken => {
                    state.stage = Stage::Taken;
                    None
                }
                // Finished or abandoned: nothing to stop; the reply goes
                // with the slot.
                other => {
                    state.stage = other;
                    return;
                }
            }
        };
        if let Some(f) = closure {
            // Never started and never will: its binds are freed now.
            drop(f);
            return;
        }
        let _switch = shared.lock_switch();
        let flags = self.flags.fetch_or(CANCELLED, Ordering::AcqRel);
        if flags & RUNNING != 0 {
            shared.running_cancelled.store(true, Ordering::Release);
            shared.interrupt.interrupt();
        }
    }
}

/// A queued job as the channel carries it: if dropped without running (the
/// worker stopped), its caller is told.
struct Ticket {
    job: Arc<dyn Job>,
    ran: bool,
}

impl Ticket {
    fn run(&mut self, conn: &mut rusqlite::Connection, shared: &Shared) -> bool {
        let keep_going = self.job.run(conn, shared);
        self.ran = true;
        keep_going
    }
}

impl Drop for Ticket {
    fn drop(&mut self) {
        if !self.ran {
            self.job.abandon();
        }
    }
}

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

/// The reply to one job: a future that cancels the job if dropped first.
pub(crate) struct Reply<R> {
    slot: Arc<dyn Pending<R>>,
    shared: Arc<Shared>,
    done: bool,
    /// Nothing was queued ahead of the job: its reply is likely a few
    /// microseconds away, so the first poll waits for it briefly before
    /// parking the task (a park and wake-up costs more than that).
    spin: bool,
}

impl<R> Reply<R> {
    fn outcome(&mut self, reply: Option<R>) -> Result<R> {
        self.done = true;
        reply.ok_or_else(|| {
            self.shared.broken.store(true, Ordering::Release);
            Error::WorkerPanicked
        })
    }
}

impl<R> Future for Reply<R> {
    type Output = Result<R>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<R>> {
        let this = &mut *self;
        if std::mem::take(&mut this.spin) {
            let start = Instant::now();
            let mut spins = 0_u32;
            while !this.slot.is_ready() {
                std::hint::spin_loop();
                spins += 1;
                if spins.is_multiple_of(32) && start.elapsed() >= CALLER_SPIN {
                    break;
                }
            }
        }
        match this.slot.take_reply(Some(cx.waker())) {
            None => Poll::Pending,
            Some(reply) => Poll::Ready(this.outcome(reply)),
        }
    }
}

impl<R> Drop for Reply<R> {
    fn drop(&mut self) {
        if !self.done {
            self.slot.cancel(&self.shared);
        }
    }
}

/// Decrements the count of callers waiting for room, even if the wait is
/// cancelled.
struct WaitingForRoom<'a>(&'a AtomicUsize);

impl Drop for WaitingForRoom<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

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
                });
                let progress = Arc::clone(&shared);
                let handler = conn.progress_handler(
                    PROGRESS_STEPS,
                    Some(move || progress.running_cancelled.load(Ordering::Acquire)),
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
        let slot = Arc::new(Slot {
            session,
            flags: AtomicU8::new(0),
            ready: AtomicBool::new(false),
            state: Mutex::new(SlotState {
                stage: Stage::Queued(f),
                waker: None,
            }),
        });
        self.send(Arc::clone(&slot) as Arc<dyn Job>, session)?;
        Ok(Reply {
            slot,
            shared: Arc::clone(&self.shared),
            done: false,
            spin: ahead == 0,
        })
    }

    /// Takes a place in the queue if there is room; returns how many jobs
    /// are queued ahead.
    fn try_reserve(&self) -> Option<usize> {
        let queued = &self.shared.queued;
        // SeqCst: a waiter must see a place freed before it registered (see
        // `Shared::dequeued`).
        let mut n = queued.load(Ordering::SeqCst);
        loop {
            if n >= QUEUE_DEPTH {
                return None;
            }
            match queued.compare_exchange_weak(n, n + 1, Ordering::SeqCst, Ordering::SeqCst) {
                Ok(_) => break,
                Err(now) => n = now,
            }
        }
        let high_water = &self.queue.high_water;
        if n + 1 > high_water.load(Ordering::Relaxed) {
            high_water.fetch_max(n + 1, Ordering::Relaxed);
        }
        Some(n)
    }

    /// Waits until the queue has room (then takes a place) or the deadline.
    async fn wait_for_room(&self, since: Option<Instant>) -> Result<usize> {
        let timeout = self.queue.wait_timeout;
        let deadline = since.unwrap_or_else(Instant::now) + timeout;
        self.shared.waiting.fetch_add(1, Ordering::SeqCst);
        let _waiting = WaitingForRoom(&self.shared.waiting);
        loop {
            let notified = self.shared.room.notified();
            let mut notified = std::pin::pin!(notified);
            notified.as_mut().enable();
            if self.shared.stopped.load(Ordering::SeqCst) {
                return Err(stopped());
            }
            if let Some(ahead) = self.try_reserve() {
                return Ok(ahead);
            }
            let deadline = tokio::time::Instant::from_std(deadline);
            if tokio::time::timeout_at(deadline, notified).await.is_err() {
                return Err(Error::PoolTimeout {
                    phase: TimeoutPhase::Wait,
                    timeout,
                    last_error: None,
                });
            }
        }
    }

    /// Sends a job that already has its place in the queue.
    fn send(&self, job: Arc<dyn Job>, session: bool) -> Result<()> {
        if session {
            self.shared.session_pending.fetch_add(1, Ordering::AcqRel);
        }
        let ticket = Ticket { job, ran: false };
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
            let job = Arc::new(Slot {
                session: true,
                flags: AtomicU8::new(0),
                ready: AtomicBool::new(false),
                state: Mutex::new(SlotState {
                    stage: Stage::Queued(rollback_open_transaction),
                    waker: None,
                }),
            });
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

fn stopped() -> Error {
    Error::ConnectionLost {
        sql: None,
        source: "the SQLite worker thread has stopped".into(),
    }
}

fn run(conn: &mut rusqlite::Connection, receiver: &mpsc::Receiver<Ticket>, shared: &Shared) {
    while let Some(mut ticket) = next_job(receiver) {
        // User closures are caught inside `Slot::run`; a panic here is ours
        // and leaves the connection in an unknown state: stop (dropping the
        // ticket tells its caller).
        match catch_unwind(AssertUnwindSafe(|| ticket.run(conn, shared))) {
            Ok(true) => {}
            Ok(false) | Err(_) => return,
        }
    }
}

/// The next job: polled for a short while (a caller issuing statements one
/// after another sends the next within microseconds), then waited for.
fn next_job(receiver: &mpsc::Receiver<Ticket>) -> Option<Ticket> {
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
