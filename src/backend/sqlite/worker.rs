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
//! Cancellation: if the awaiting future is dropped, a job not yet started is
//! skipped, and a running one is interrupted (`sqlite3_interrupt`), so a
//! cancelled slow query stops holding the connection.

use crate::error::{Error, Result};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{mpsc, Arc};
use tokio::sync::oneshot;

type Job = Box<dyn FnOnce(&mut rusqlite::Connection) + Send + 'static>;

/// Flags the worker shares with the pool.
#[derive(Debug, Default)]
struct Shared {
    /// The connection was inside a transaction after its last job.
    in_transaction: AtomicBool,
    /// A job panicked or the thread is gone: never reuse.
    broken: AtomicBool,
    /// Jobs sent and not yet finished.
    pending: AtomicUsize,
}

/// Handle to one worker thread and its connection.
pub(crate) struct Worker {
    sender: mpsc::Sender<Job>,
    interrupt: rusqlite::InterruptHandle,
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

impl Worker {
    /// Starts a thread, opens the connection there with `open`, and returns
    /// once it is ready.
    pub(crate) async fn spawn<F>(open: F) -> Result<Worker>
    where
        F: FnOnce() -> Result<rusqlite::Connection> + Send + 'static,
    {
        let (ready_tx, ready_rx) = oneshot::channel();
        let (sender, receiver) = mpsc::channel::<Job>();
        let shared = Arc::new(Shared::default());
        let thread_shared = Arc::clone(&shared);
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
                if ready_tx.send(Ok(conn.get_interrupt_handle())).is_err() {
                    return;
                }
                run(&mut conn, &receiver, &thread_shared);
                thread_shared.broken.store(true, Ordering::Release);
            })
            .map_err(|e| Error::Connect { source: e.into() })?;
        let interrupt = ready_rx.await.map_err(|_| Error::WorkerPanicked)??;
        Ok(Worker {
            sender,
            interrupt,
            shared,
        })
    }

    /// Runs `f` against the connection on the worker thread.
    pub(crate) async fn call<R, F>(&self, f: F) -> Result<R>
    where
        F: FnOnce(&mut rusqlite::Connection) -> R + Send + 'static,
        R: Send + 'static,
    {
        let (reply_tx, reply_rx) = oneshot::channel();
        let job: Job = Box::new(move |conn| {
            // The caller gave up before we started: skip the work.
            if reply_tx.is_closed() {
                return;
            }
            let _ = reply_tx.send(f(conn));
        });
        self.shared.pending.fetch_add(1, Ordering::AcqRel);
        if self.sender.send(job).is_err() {
            self.shared.pending.fetch_sub(1, Ordering::AcqRel);
            self.shared.broken.store(true, Ordering::Release);
            return Err(Error::ConnectionLost {
                sql: None,
                source: "the SQLite worker thread has stopped".into(),
            });
        }
        let guard = InterruptOnDrop {
            interrupt: &self.interrupt,
            armed: true,
        };
        let reply = reply_rx.await;
        let mut guard = guard;
        guard.armed = false;
        reply.map_err(|_| {
            self.shared.broken.store(true, Ordering::Release);
            Error::WorkerPanicked
        })
    }

    /// True when the connection must not be reused.
    pub(crate) fn is_broken(&self) -> bool {
        self.shared.broken.load(Ordering::Acquire)
    }

    /// True when the connection may be inside a transaction or still
    /// running a job a dropped caller left behind.
    pub(crate) fn may_be_dirty(&self) -> bool {
        self.shared.pending.load(Ordering::Acquire) > 0
            || self.shared.in_transaction.load(Ordering::Acquire)
    }
}

fn run(conn: &mut rusqlite::Connection, receiver: &mpsc::Receiver<Job>, shared: &Shared) {
    while let Ok(job) = receiver.recv() {
        let outcome = catch_unwind(AssertUnwindSafe(|| job(conn)));
        shared
            .in_transaction
            .store(!conn.is_autocommit(), Ordering::Release);
        shared.pending.fetch_sub(1, Ordering::AcqRel);
        if outcome.is_err() {
            // A user closure panicked mid-way: the connection's state is unknown.
            shared.broken.store(true, Ordering::Release);
        }
    }
}

/// Interrupts the running statement if the awaiting future is dropped.
struct InterruptOnDrop<'a> {
    interrupt: &'a rusqlite::InterruptHandle,
    armed: bool,
}

impl Drop for InterruptOnDrop<'_> {
    fn drop(&mut self) {
        if self.armed {
            self.interrupt.interrupt();
        }
    }
}
