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
//! skipped, and a running one is stopped: `sqlite3_interrupt` when it is
//! running at that moment, and a progress handler that checks every few
//! hundred VM steps whether the running job was cancelled (which also covers
//! a cancellation landing just as the job starts). Jobs carry ids, so a
//! cancellation never stops a different job.

use crate::error::{Error, Result};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
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
    /// Id of the next job.
    next_job: AtomicU64,
    /// Id of the job running now (0: none).
    running: AtomicU64,
    /// Id of the last job whose caller gave up.
    cancelled: AtomicU64,
}

impl Shared {
    fn is_cancelled(&self, job: u64) -> bool {
        self.cancelled.load(Ordering::Acquire) == job
    }

    /// Bookkeeping at the end of every job, done before a reply is sent so
    /// that a caller who got its reply sees the connection's state.
    fn finish(&self, conn: &rusqlite::Connection) {
        self.in_transaction
            .store(!conn.is_autocommit(), Ordering::Release);
        self.pending.fetch_sub(1, Ordering::AcqRel);
    }
}

/// VM steps between two checks for cancellation.
const PROGRESS_STEPS: i32 = 500;

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
                let progress_shared = Arc::clone(&thread_shared);
                let opened = open().and_then(|mut conn| {
                    conn.progress_handler(
                        PROGRESS_STEPS,
                        Some(move || {
                            let running = progress_shared.running.load(Ordering::Acquire);
                            running != 0 && progress_shared.is_cancelled(running)
                        }),
                    )
                    .map_err(|e| Error::Connect { source: e.into() })?;
                    Ok(conn)
                });
                let mut conn = match opened {
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
        let id = self.shared.next_job.fetch_add(1, Ordering::Relaxed) + 1;
        let (reply_tx, reply_rx) = oneshot::channel();
        let shared = Arc::clone(&self.shared);
        self.send(Box::new(move |conn| {
            // The caller gave up before we started: skip the work.
            if reply_tx.is_closed() || shared.is_cancelled(id) {
                shared.finish(conn);
                return;
            }
            shared.running.store(id, Ordering::Release);
            let result = f(conn);
            shared.running.store(0, Ordering::Release);
            shared.finish(conn);
            let _ = reply_tx.send(result);
        }))?;
        let mut guard = CancelOnDrop {
            worker: self,
            job: id,
            armed: true,
        };
        let reply = reply_rx.await;
        guard.armed = false;
        reply.map_err(|_| {
            self.shared.broken.store(true, Ordering::Release);
            Error::WorkerPanicked
        })
    }

    /// Queues `f` without waiting for it: jobs run in order, so whatever is
    /// sent after it runs after it.
    pub(crate) fn post<F>(&self, f: F) -> Result<()>
    where
        F: FnOnce(&mut rusqlite::Connection) + Send + 'static,
    {
        let shared = Arc::clone(&self.shared);
        self.send(Box::new(move |conn| {
            f(conn);
            shared.finish(conn);
        }))
    }

    fn send(&self, job: Job) -> Result<()> {
        self.shared.pending.fetch_add(1, Ordering::AcqRel);
        if self.sender.send(job).is_err() {
            self.shared.pending.fetch_sub(1, Ordering::AcqRel);
            self.shared.broken.store(true, Ordering::Release);
            return Err(Error::ConnectionLost {
                sql: None,
                source: "the SQLite worker thread has stopped".into(),
            });
        }
        Ok(())
    }

    /// Rolls back, in the background, a transaction the last user may have
    /// left open; later jobs queue behind it.
    pub(crate) fn rollback_if_dirty(&self) {
        if self.may_be_dirty() && self.post(rollback_open_transaction).is_err() {
            self.shared.broken.store(true, Ordering::Release);
        }
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
        if catch_unwind(AssertUnwindSafe(|| job(conn))).is_err() {
            // A user closure panicked mid-way (before its job finished): the
            // connection's state is unknown.
            shared.running.store(0, Ordering::Release);
            shared.finish(conn);
            shared.broken.store(true, Ordering::Release);
        }
    }
}

/// Rolls back an open transaction; a failure marks nothing, since the next
/// recycle checks `is_autocommit` again.
pub(crate) fn rollback_open_transaction(conn: &mut rusqlite::Connection) {
    if !conn.is_autocommit() {
        if let Err(e) = conn.execute_batch("ROLLBACK") {
            tracing::warn!(target: "sylvan::pool", error = %e, "rollback of an abandoned SQLite transaction failed");
        }
    }
}

/// Cancels the job if the awaiting future is dropped.
struct CancelOnDrop<'a> {
    worker: &'a Worker,
    job: u64,
    armed: bool,
}

impl Drop for CancelOnDrop<'_> {
    fn drop(&mut self) {
        if self.armed {
            let shared = &self.worker.shared;
            shared.cancelled.store(self.job, Ordering::Release);
            if shared.running.load(Ordering::Acquire) == self.job {
                self.worker.interrupt.interrupt();
            }
        }
    }
}
