//! One job's slot: the closure while queued, then the reply, the caller's
//! waker and the job's cancel flags; and the [`Ticket`] the channel carries.
//!
//! Upholds **Cancellation frees at once and is never missed** (a queued
//! job's closure is dropped by the canceller; a running one is interrupted
//! only while its `RUNNING` flag is set, both decided under `switch`),
//! **A panic poisons** (a panicking job marks the connection broken and
//! its transaction is rolled back before the reply) and **Bookkeeping
//! before the reply**.

use super::rollback_open_transaction;
use super::shared::{lock, Shared};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, AtomicU8, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::Waker;

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

/// One job, shared by the queue and the caller's [`Reply`](super::Reply).
pub(super) struct Slot<F, R> {
    session: bool,
    /// `CANCELLED` | `RUNNING`, changed only under `Shared::switch`.
    flags: AtomicU8,
    /// The stage is `Done` or `Abandoned`: read without locking while the
    /// caller spins.
    ready: AtomicBool,
    state: Mutex<SlotState<F, R>>,
}

/// The worker's side of a slot.
pub(super) trait Job: Send + Sync {
    /// Runs (or skips) the job; false when the worker must stop.
    fn run(&self, conn: &mut rusqlite::Connection, shared: &Shared) -> bool;
    /// The job will never run: tell its caller.
    fn abandon(&self);
}

/// The caller's side of a slot.
pub(super) trait Pending<R>: Send + Sync {
    fn is_ready(&self) -> bool;
    /// `None` while the job is not finished (the waker is kept);
    /// `Some(None)` when it never will be.
    fn take_reply(&self, waker: Option<&Waker>) -> Option<Option<R>>;
    /// The caller gave up.
    fn cancel(&self, shared: &Shared);
}

impl<F, R> Slot<F, R> {
    /// A queued job: `f` and whether it is a session job.
    pub(super) fn queued(f: F, session: bool) -> Self {
        Slot {
            session,
            flags: AtomicU8::new(0),
            ready: AtomicBool::new(false),
            state: Mutex::new(SlotState {
                stage: Stage::Queued(f),
                waker: None,
            }),
        }
    }

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
pub(super) struct Ticket {
    job: Arc<dyn Job>,
    ran: bool,
}

impl Ticket {
    /// A ticket for a job that has its place in the queue.
    pub(super) fn new(job: Arc<dyn Job>) -> Self {
        Ticket { job, ran: false }
    }

    pub(super) fn run(&mut self, conn: &mut rusqlite::Connection, shared: &Shared) -> bool {
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
