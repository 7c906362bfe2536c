//! The state a worker shares with the pool and with waiting callers.
//!
//! Upholds the lock discipline of **Cancellation frees at once and is never
//! missed** (`switch` is held while the worker starts or ends a job and
//! while a canceller decides to interrupt) and **Bookkeeping before the
//! reply** ([`Shared::finish`] runs before a job's reply is stored).

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Mutex, MutexGuard};

/// State the worker shares with the pool and with waiting callers.
pub(super) struct Shared {
    pub(super) interrupt: rusqlite::InterruptHandle,
    /// The connection was inside a transaction after its last job.
    pub(super) in_transaction: AtomicBool,
    /// A job panicked or the thread is gone: never reuse.
    pub(super) broken: AtomicBool,
    /// The worker thread has ended: nothing queued will run.
    pub(super) stopped: AtomicBool,
    /// Session jobs sent and not yet finished.
    pub(super) session_pending: AtomicUsize,
    /// Jobs sent and not yet started.
    pub(super) queued: AtomicUsize,
    /// Callers waiting for room in the queue.
    pub(super) waiting: AtomicUsize,
    /// Signalled when a job leaves the queue while someone waits for room.
    pub(super) room: tokio::sync::Notify,
    /// The running job was cancelled; changed only under `switch`.
    pub(super) running_cancelled: AtomicBool,
    /// Held while the worker starts or ends a job and while a canceller
    /// decides to interrupt, so an interrupt only reaches the job it is
    /// meant for.
    pub(super) switch: Mutex<()>,
    /// How long this worker's jobs took lately: callers poll for a reply
    /// only when it is short (see `spin`).
    pub(super) service: super::spin::ServiceTime,
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
    pub(super) fn lock_switch(&self) -> MutexGuard<'_, ()> {
        lock(&self.switch)
    }

    /// Bookkeeping at the end of every job, done before its reply is stored
    /// so that a caller who got its reply sees the connection's state.
    pub(super) fn finish(&self, conn: &rusqlite::Connection, session: bool) {
        self.in_transaction
            .store(!conn.is_autocommit(), Ordering::Release);
        if session {
            self.session_pending.fetch_sub(1, Ordering::AcqRel);
        }
    }

    /// A job left the queue: wake a caller waiting for room, if any.
    pub(super) fn dequeued(&self) {
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
pub(super) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}
