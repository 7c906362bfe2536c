//! The bounded queue of one worker: taking a place, and waiting for room
//! until the caller's deadline.
//!
//! Upholds **Bounded queue**: a caller takes a place only while fewer than
//! [`QUEUE_DEPTH`] jobs are queued, and otherwise waits for room until one
//! wait timeout after `since`, then gives up with [`Error::PoolTimeout`]
//! (phase `Wait`). A waiter registers before it checks for room, and
//! [`Shared::dequeued`](super::shared::Shared::dequeued) checks for waiters
//! after it frees a place (both `SeqCst`), so a wake-up is never missed.

use super::{stopped, Worker, QUEUE_DEPTH};
use crate::error::{Error, Result, TimeoutPhase};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// How one worker bounds waiting for room in its queue.
#[derive(Debug, Clone)]
pub(crate) struct QueueConfig {
    /// The pool's wait timeout: the longest a caller waits for room.
    pub(crate) wait_timeout: Duration,
    /// The most jobs ever queued on one worker of the pool (for tests and
    /// diagnostics).
    pub(crate) high_water: Arc<AtomicUsize>,
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
    /// Takes a place in the queue if there is room; returns how many jobs
    /// are queued ahead.
    pub(super) fn try_reserve(&self) -> Option<usize> {
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
    pub(super) async fn wait_for_room(&self, since: Option<Instant>) -> Result<usize> {
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
}
