//! The caller's side of a job: the [`Reply`] future.
//!
//! Upholds **Cancellation frees at once and is never missed** from the
//! caller's side: dropping a `Reply` before it yields cancels its job
//! (see [`Pending::cancel`]); and a job that will never finish is reported
//! as [`Error::WorkerPanicked`], marking the connection broken.

use super::shared::Shared;
use super::slot::Pending;
use crate::error::{Error, Result};
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

/// How long a caller whose job runs at once waits for the reply before
/// parking its task.
const CALLER_SPIN: Duration = Duration::from_micros(10);

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
    /// The reply to the job in `slot`; `spin` when nothing was queued
    /// ahead of it.
    pub(super) fn new(slot: Arc<dyn Pending<R>>, shared: Arc<Shared>, spin: bool) -> Self {
        Reply {
            slot,
            shared,
            done: false,
            spin,
        }
    }

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
