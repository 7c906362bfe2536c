//! The caller's side of a job: the [`Reply`] future.
//!
//! Upholds **Cancellation frees at once and is never missed** from the
//! caller's side: dropping a `Reply` before it yields cancels its job
//! (see [`Pending::cancel`]); and a job that will never finish is reported
//! as [`Error::WorkerPanicked`], marking the connection broken.

use super::shared::Shared;
use super::slot::Pending;
use super::spin::{caller_budget, poll_for, SpinToken};
use crate::error::{Error, Result};
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::task::{Context, Poll};

/// The reply to one job: a future that cancels the job if dropped first.
pub(crate) struct Reply<R> {
    slot: Arc<dyn Pending<R>>,
    shared: Arc<Shared>,
    done: bool,
    /// Nothing was queued ahead of the job: if the worker's jobs are short,
    /// its reply is likely a few microseconds away, so the first poll waits
    /// for it briefly before parking the task (a park and wake-up costs
    /// more than that; see `spin`).
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
        if std::mem::take(&mut this.spin) && !this.slot.is_ready() {
            let budget = caller_budget(this.shared.service.expected());
            if !budget.is_zero() {
                if let Some(_token) = SpinToken::caller() {
                    poll_for(budget, true, || this.slot.is_ready());
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
