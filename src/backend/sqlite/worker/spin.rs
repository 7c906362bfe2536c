//! When waiting by spinning pays, and for how long.
//!
//! A hand-off between a caller and a worker thread costs a futex wake-up
//! (tens of microseconds on a virtual machine) unless the waiting side is
//! polling when the other side's message lands. Polling buys that latency
//! with CPU time on a second core, so it is rationed three ways:
//!
//! - **Only where it is likely to pay.** A caller polls for its reply only
//!   when nothing was queued ahead of its job and the worker's recent jobs
//!   took little time ([`caller_budget`]): a short job's reply is caught,
//!   a long one parks the task at once instead of polling first and parking
//!   anyway. A worker polls for its next job for a budget that adapts to
//!   how soon jobs followed each other lately ([`IdleSpin`]): a caller
//!   issuing statements back to back keeps it alive, an idle connection
//!   stops polling after a few unanswered tries.
//! - **One at a time.** At most one caller and one worker in the process
//!   poll at any moment ([`SpinToken`]); everyone else parks. On a small
//!   machine, many worker threads polling at once would take the cores the
//!   runtime needs to run the tasks that send them work.
//! - **Bounded.** No poll lasts longer than [`CALLER_SPIN_MAX`] or
//!   [`WORKER_SPIN_MAX`].

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// The longest a caller polls for a reply. Past this a park and wake-up
/// (some tens of µs on a virtual machine) is a small part of the wait; up
/// to it, polling cut a 100-row read's hand-off overhead from about 2.5×
/// to 1.3× the sync driver's time at about the same CPU per query (the
/// worker no longer polls while the caller wakes up).
pub(super) const CALLER_SPIN_MAX: Duration = Duration::from_micros(150);

/// The longest a worker polls for its next job.
pub(super) const WORKER_SPIN_MAX: Duration = Duration::from_micros(50);

/// The shortest poll worth starting (below this, the worker sleeps at once).
const WORKER_SPIN_MIN: Duration = Duration::from_micros(2);

/// Callers and workers polling right now.
static CALLERS: AtomicUsize = AtomicUsize::new(0);
static WORKERS: AtomicUsize = AtomicUsize::new(0);

/// The right to poll, held by at most one caller and one worker.
#[derive(Debug)]
pub(super) struct SpinToken(&'static AtomicUsize);

impl SpinToken {
    fn try_take(counter: &'static AtomicUsize) -> Option<SpinToken> {
        counter
            .compare_exchange(0, 1, Ordering::Acquire, Ordering::Relaxed)
            .ok()
            .map(|_| SpinToken(counter))
    }

    /// The callers' token, if no other caller holds it.
    pub(super) fn caller() -> Option<SpinToken> {
        Self::try_take(&CALLERS)
    }

    /// The workers' token, if no other worker holds it.
    pub(super) fn worker() -> Option<SpinToken> {
        Self::try_take(&WORKERS)
    }
}

impl Drop for SpinToken {
    fn drop(&mut self) {
        self.0.store(0, Ordering::Release);
    }
}

/// A moving average of how long one worker's jobs take to run, in
/// nanoseconds (each new job weighs 1/4).
#[derive(Debug, Default)]
pub(super) struct ServiceTime(AtomicU64);

impl ServiceTime {
    /// Records one job's running time (called by the worker only).
    pub(super) fn record(&self, took: Duration) {
        let took = u64::try_from(took.as_nanos()).unwrap_or(u64::MAX);
        let old = self.0.load(Ordering::Relaxed);
        let new = if old == 0 {
            took
        } else {
            old - old / 4 + took / 4
        };
        self.0.store(new, Ordering::Relaxed);
    }

    /// The expected running time of the next job.
    pub(super) fn expected(&self) -> Duration {
        Duration::from_nanos(self.0.load(Ordering::Relaxed))
    }
}

/// How long a caller whose job runs at once should poll for its reply:
/// one and a half times the expected running time plus the hand-off, or
/// nothing when that exceeds [`CALLER_SPIN_MAX`] (the task parks at once;
/// its wake-up is then small next to the job).
pub(super) fn caller_budget(expected: Duration) -> Duration {
    let budget = expected * 3 / 2 + Duration::from_micros(10);
    if budget > CALLER_SPIN_MAX {
        Duration::ZERO
    } else {
        budget
    }
}

/// Polls `ready` until it returns true or `budget` runs out; true when it
/// did. With `yielding`, gives the core away now and then (a worker: on a
/// busy machine the thread that will send the next job may be waiting for
/// a core).
pub(super) fn poll_for(budget: Duration, yielding: bool, mut ready: impl FnMut() -> bool) -> bool {
    let start = Instant::now();
    let mut spins = 0_u32;
    loop {
        if ready() {
            return true;
        }
        spins += 1;
        if spins.is_multiple_of(32) {
            if start.elapsed() >= budget {
                return false;
            }
            if yielding {
                std::thread::yield_now();
            }
        } else {
            std::hint::spin_loop();
        }
    }
}

/// A worker's adaptive budget for polling its queue after a job.
///
/// It starts at [`WORKER_SPIN_MAX`]; a poll that ends with no job halves
/// it (after a few, the worker sleeps at once: an idle connection costs no
/// CPU), and a job that arrives `gap` after the previous one ended raises
/// it to twice that gap (within the bounds) if it was lower: the time a
/// caller takes to send its next statement, with room to spare. A catch
/// never lowers it: a budget cut to just above the last gap would miss the
/// next slightly longer one, and each miss costs a wake-up (some tens of
/// µs) that makes the following gap look long again.
#[derive(Debug)]
pub(super) struct IdleSpin {
    budget: Duration,
}

impl Default for IdleSpin {
    fn default() -> Self {
        IdleSpin {
            budget: WORKER_SPIN_MAX,
        }
    }
}

impl IdleSpin {
    /// The current budget; zero means sleep at once.
    pub(super) fn budget(&self) -> Duration {
        if self.budget < WORKER_SPIN_MIN {
            Duration::ZERO
        } else {
            self.budget
        }
    }

    /// A poll ran out with no job.
    pub(super) fn missed(&mut self) {
        self.budget /= 2;
    }

    /// The next job came `gap` after the previous one ended (caught by a
    /// poll, or after sleeping).
    pub(super) fn arrived_after(&mut self, gap: Duration) {
        if gap <= WORKER_SPIN_MAX {
            let wanted = (gap * 2).clamp(WORKER_SPIN_MIN, WORKER_SPIN_MAX);
            self.budget = self.budget.max(wanted);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_thread_holds_a_token_at_a_time() {
        // A counter of its own: the process-wide ones are in use by every
        // other test that runs SQLite statements.
        static COUNTER: AtomicUsize = AtomicUsize::new(0);
        let first = SpinToken::try_take(&COUNTER).expect("free");
        assert!(SpinToken::try_take(&COUNTER).is_none());
        drop(first);
        let again = SpinToken::try_take(&COUNTER);
        assert!(again.is_some());
    }

    #[test]
    fn callers_spin_only_for_short_jobs() {
        assert_eq!(caller_budget(Duration::ZERO), Duration::from_micros(10));
        assert_eq!(
            caller_budget(Duration::from_micros(40)),
            Duration::from_micros(70)
        );
        assert_eq!(caller_budget(Duration::from_micros(100)), Duration::ZERO);
    }

    #[test]
    fn service_time_follows_recent_jobs() {
        let t = ServiceTime::default();
        assert_eq!(t.expected(), Duration::ZERO);
        t.record(Duration::from_micros(100));
        assert_eq!(t.expected(), Duration::from_micros(100));
        for _ in 0..40 {
            t.record(Duration::from_micros(4));
        }
        assert!(
            t.expected() < Duration::from_micros(5),
            "{:?}",
            t.expected()
        );
    }

    #[test]
    fn idle_spin_shrinks_when_idle_and_follows_the_gap() {
        let mut s = IdleSpin::default();
        assert_eq!(s.budget(), WORKER_SPIN_MAX);
        for _ in 0..6 {
            s.missed();
        }
        assert_eq!(s.budget(), Duration::ZERO, "an idle worker sleeps at once");
        s.arrived_after(Duration::from_micros(3));
        assert_eq!(s.budget(), Duration::from_micros(6));
        s.arrived_after(Duration::from_secs(1));
        assert_eq!(
            s.budget(),
            Duration::from_micros(6),
            "a long gap says nothing"
        );
        s.arrived_after(Duration::from_micros(1));
        assert_eq!(
            s.budget(),
            Duration::from_micros(6),
            "a quick job never lowers it"
        );
        s.arrived_after(Duration::from_micros(40));
        assert_eq!(s.budget(), WORKER_SPIN_MAX);
    }

    #[test]
    fn poll_for_stops_at_the_budget_or_when_ready() {
        assert!(poll_for(Duration::ZERO, false, || true));
        assert!(!poll_for(Duration::from_micros(20), true, || false));
        let mut n = 0;
        assert!(poll_for(Duration::from_secs(5), false, || {
            n += 1;
            n == 100
        }));
    }
}
