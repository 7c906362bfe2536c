//! The stall meter: does waiting on the database stall the other tasks of
//! the runtime?
//!
//! A cell runs `tasks` copies of a query loop on the tour's 2-worker
//! multi-thread runtime for [`CELL`] (after [`WARMUP`]), while a ticker task
//! on the same runtime asks to be woken every millisecond
//! (`tokio::time::interval`, missed ticks delivered in a burst) and records
//! how late each tick is against its scheduled time. The workload is point
//! lookups by key with one slow query (~5 ms) in every [`SLOW_EVERY`].
//!
//! The same ticker on an idle runtime of the same kind is the floor
//! ([`idle_floor`]); tokio's timer itself has a 1 ms resolution, so the
//! floor is already around 1 ms.

use std::future::Future;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};
use sylvan::rusqlite;
use tokio::runtime::Runtime;
use tokio::time::MissedTickBehavior;

/// Load before the measured window (fills pools, warms caches).
pub const WARMUP: Duration = Duration::from_millis(250);
/// The measured window of one cell.
pub const CELL: Duration = Duration::from_millis(1500);
/// One query in this many is the slow one.
pub const SLOW_EVERY: u64 = 50;
/// How long the slow query should take.
pub const SLOW_TARGET: Duration = Duration::from_millis(5);
/// The ticker's period.
const TICK: Duration = Duration::from_millis(1);
/// Thread name of the runtime under test.
const WORKER: &str = "tour-worker";
/// Thread name of the idle runtime.
const IDLE_WORKER: &str = "tour-idle";
/// Worker threads of both runtimes.
pub const WORKERS: usize = 2;

/// One query of the workload.
#[derive(Debug, Clone, Copy)]
pub enum Job {
    /// `SELECT id, name FROM … WHERE id = $1`.
    Point(i64),
    /// The ~5 ms query.
    Slow,
}

/// The job sequence every variant follows: a key walk over `keys`, with
/// every [`SLOW_EVERY`]-th job slow.
#[derive(Debug)]
pub struct Jobs {
    keys: Arc<Vec<i64>>,
    next: AtomicU64,
}

impl Jobs {
    /// A sequence over these primary keys.
    pub fn new(keys: Arc<Vec<i64>>) -> Self {
        Jobs {
            keys,
            next: AtomicU64::new(0),
        }
    }

    /// The next job.
    pub fn next(&self) -> Job {
        let n = self.next.fetch_add(1, Ordering::Relaxed);
        if n % SLOW_EVERY == SLOW_EVERY - 1 {
            Job::Slow
        } else {
            let i = n.wrapping_mul(7919) % self.keys.len() as u64;
            Job::Point(self.keys[i as usize])
        }
    }
}

/// p50 / p99 / max of the ticker's lateness, in milliseconds.
#[derive(Debug, Clone, Copy, serde::Serialize)]
pub struct Lateness {
    /// Median lateness.
    pub p50_ms: f64,
    /// 99th percentile.
    pub p99_ms: f64,
    /// Worst tick.
    pub max_ms: f64,
    /// Ticks measured.
    pub ticks: usize,
}

impl Lateness {
    fn of(mut late: Vec<Duration>) -> Self {
        late.sort_unstable();
        let ms = |d: Duration| d.as_secs_f64() * 1e3;
        let at = |q: usize| {
            late.get((late.len() * q / 100).min(late.len().saturating_sub(1)))
                .copied()
                .map_or(f64::NAN, ms)
        };
        Lateness {
            p50_ms: at(50),
            p99_ms: at(99),
            max_ms: late.last().copied().map_or(f64::NAN, ms),
            ticks: late.len(),
        }
    }
}

/// What one cell measured.
#[derive(Debug, Clone, Copy)]
pub struct Measured {
    /// Completed queries per second over the window.
    pub qps: f64,
    /// The ticker on the same runtime meanwhile.
    pub ticker: Lateness,
    /// Share of the window the runtime's worker threads were ready to run
    /// but waiting for a CPU (Linux only).
    pub cpu_wait: Option<f64>,
}

/// Total time the threads named `name` have spent runnable but waiting
/// for a CPU, from `/proc/self/task/*/schedstat` (Linux; `None` elsewhere).
fn run_delay(name: &str) -> Option<Duration> {
    let mut total = 0u64;
    let mut found = false;
    for entry in std::fs::read_dir("/proc/self/task").ok()? {
        let dir = entry.ok()?.path();
        let comm = std::fs::read_to_string(dir.join("comm")).unwrap_or_default();
        if comm.trim_end() != name {
            continue;
        }
        let stat = std::fs::read_to_string(dir.join("schedstat")).ok()?;
        total += stat.split_whitespace().nth(1)?.parse::<u64>().ok()?;
        found = true;
    }
    found.then(|| Duration::from_nanos(total))
}

/// Run delay of `name`'s threads over `window` as a share of their time.
fn cpu_wait(name: &str, before: Option<Duration>, window: Duration) -> Option<f64> {
    let delta = run_delay(name)?.checked_sub(before?)?;
    Some(delta.as_secs_f64() / (window.as_secs_f64() * WORKERS as f64))
}

/// The 1 ms ticker: lateness of every tick until `stop`.
async fn ticker(stop: Arc<AtomicBool>) -> Vec<Duration> {
    let mut interval = tokio::time::interval(TICK);
    interval.set_missed_tick_behavior(MissedTickBehavior::Burst);
    interval.tick().await; // the first tick is immediate
    let mut late = Vec::with_capacity(4096);
    loop {
        let scheduled = interval.tick().await;
        let now = tokio::time::Instant::now();
        if stop.load(Ordering::Relaxed) {
            return late;
        }
        late.push(now.saturating_duration_since(scheduled));
    }
}

fn build(name: &str) -> std::io::Result<Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(WORKERS)
        .thread_name(name)
        .enable_all()
        .build()
}

/// A 2-worker multi-thread runtime, the kind every cell runs on.
pub fn runtime() -> std::io::Result<Runtime> {
    build(WORKER)
}

/// The ticker alone on a fresh idle runtime of the same kind.
#[derive(Debug)]
pub struct Floor {
    late: Vec<Duration>,
}

impl Floor {
    /// No samples yet.
    pub fn new() -> Self {
        Floor { late: Vec::new() }
    }

    /// Adds `window` of ticks (call it at the start and the end of a run,
    /// so the floor sees the machine's background noise of both).
    pub fn sample(&mut self, window: Duration) -> std::io::Result<()> {
        let rt = build(IDLE_WORKER)?;
        let stop = Arc::new(AtomicBool::new(false));
        let handle = rt.spawn(ticker(Arc::clone(&stop)));
        std::thread::sleep(window);
        stop.store(true, Ordering::Relaxed);
        self.late.extend(rt.block_on(handle).unwrap());
        Ok(())
    }

    /// The lateness of every sample so far.
    pub fn lateness(&self) -> Lateness {
        Lateness::of(self.late.clone())
    }
}

/// Runs `tasks` tasks on `rt`, each looping `query(job).await` over the
/// shared job sequence, and the ticker beside them (see the module docs).
pub fn measure<Q, F>(rt: &Runtime, tasks: usize, keys: &Arc<Vec<i64>>, query: Q) -> Measured
where
    Q: Fn(Job) -> F + Clone + Send + Sync + 'static,
    F: Future<Output = ()> + Send + 'static,
{
    let jobs = Arc::new(Jobs::new(Arc::clone(keys)));
    let done = Arc::new(AtomicU64::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let handles: Vec<_> = (0..tasks)
        .map(|_| {
            let (jobs, done, stop, query) = (
                Arc::clone(&jobs),
                Arc::clone(&done),
                Arc::clone(&stop),
                query.clone(),
            );
            rt.spawn(async move {
                while !stop.load(Ordering::Relaxed) {
                    query(jobs.next()).await;
                    done.fetch_add(1, Ordering::Relaxed);
                }
            })
        })
        .collect();
    std::thread::sleep(WARMUP);
    let tick_stop = Arc::new(AtomicBool::new(false));
    let ticks = rt.spawn(ticker(Arc::clone(&tick_stop)));
    let (n0, t0, d0) = (
        done.load(Ordering::Relaxed),
        Instant::now(),
        run_delay(WORKER),
    );
    std::thread::sleep(CELL);
    let (n1, elapsed) = (done.load(Ordering::Relaxed), t0.elapsed());
    let cpu_wait = cpu_wait(WORKER, d0, elapsed);
    tick_stop.store(true, Ordering::Relaxed);
    stop.store(true, Ordering::Relaxed);
    let late = rt.block_on(ticks).unwrap();
    rt.block_on(async {
        for h in handles {
            h.await.unwrap();
        }
    });
    Measured {
        qps: (n1 - n0) as f64 / elapsed.as_secs_f64(),
        ticker: Lateness::of(late),
        cpu_wait,
    }
}

/// The sync baseline: this thread, one connection, one query at a time, for
/// [`CELL`] after [`WARMUP`]; returns queries/s.
pub fn sync_baseline(conn: &mut dyn SyncDriver, keys: &Arc<Vec<i64>>) -> f64 {
    let jobs = Jobs::new(Arc::clone(keys));
    let warm = Instant::now();
    while warm.elapsed() < WARMUP {
        conn.run(jobs.next());
    }
    let start = Instant::now();
    let mut n = 0u64;
    while start.elapsed() < CELL {
        for _ in 0..16 {
            conn.run(jobs.next());
        }
        n += 16;
    }
    n as f64 / start.elapsed().as_secs_f64()
}

/// A sync driver connection that can run the workload's queries.
pub trait SyncDriver: Send {
    /// Runs one job, blocking the calling thread until it is done.
    fn run(&mut self, job: Job);
}

/// rusqlite with cached statements.
#[derive(Debug)]
pub struct SqliteSync {
    conn: rusqlite::Connection,
    slow_sql: String,
}

impl SqliteSync {
    /// Opens the file (already in WAL mode) read-only-ish for lookups.
    pub fn open(path: &std::path::Path, slow_sql: &str) -> rusqlite::Result<Self> {
        let conn = rusqlite::Connection::open(path)?;
        conn.busy_timeout(Duration::from_secs(5))?;
        Ok(SqliteSync {
            conn,
            slow_sql: slow_sql.to_owned(),
        })
    }
}

impl SyncDriver for SqliteSync {
    fn run(&mut self, job: Job) {
        match job {
            Job::Point(id) => {
                let mut stmt = self
                    .conn
                    .prepare_cached("SELECT id, name FROM tour_user WHERE id = ?1")
                    .unwrap();
                let row: (i64, String) = stmt
                    .query_row([id], |r| Ok((r.get(0)?, r.get(1)?)))
                    .unwrap();
                std::hint::black_box(row);
            }
            Job::Slow => {
                let mut stmt = self.conn.prepare_cached(&self.slow_sql).unwrap();
                let n: i64 = stmt.query_row([], |r| r.get(0)).unwrap();
                std::hint::black_box(n);
            }
        }
    }
}

/// The `postgres` crate with prepared statements.
pub struct PgSync {
    client: postgres::Client,
    point: postgres::Statement,
    slow: postgres::Statement,
}

impl std::fmt::Debug for PgSync {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PgSync").finish_non_exhaustive()
    }
}

impl PgSync {
    /// Connects and prepares. Must not run inside the async runtime: the
    /// `postgres` crate blocks on a runtime of its own.
    pub fn connect(url: &str, slow_sql: &str) -> Result<Self, postgres::Error> {
        let mut client = postgres::Client::connect(url, postgres::NoTls)?;
        let point = client.prepare("SELECT id, name FROM tour_user WHERE id = $1")?;
        let slow = client.prepare(slow_sql)?;
        Ok(PgSync {
            client,
            point,
            slow,
        })
    }
}

impl SyncDriver for PgSync {
    fn run(&mut self, job: Job) {
        match job {
            Job::Point(id) => {
                let row = self.client.query_one(&self.point, &[&id]).unwrap();
                std::hint::black_box((row.get::<_, i64>(0), row.get::<_, String>(1)));
            }
            Job::Slow => {
                let row = self.client.query_one(&self.slow, &[]).unwrap();
                std::hint::black_box(row.get::<_, i64>(0));
            }
        }
    }
}

type Reply = mpsc::SyncSender<()>;

/// The naive pattern: a few sync connections used from async tasks, each
/// call blocking the runtime worker thread that makes it.
///
/// rusqlite is called right inside the task, the connection behind a
/// `std::sync::Mutex`. The `postgres` crate cannot be: it drives its own
/// runtime with `block_on`, which panics on a runtime thread ("Cannot start
/// a runtime from within a runtime"); so each sync client lives on a thread
/// of its own and the task blocks its worker on a std channel until the
/// reply comes — what a sync call does to the worker, plus a thread hop.
#[derive(Debug)]
pub enum Naive {
    /// Connections called in the task.
    InTask {
        /// One mutex per connection.
        conns: Vec<Mutex<Box<dyn SyncDriver>>>,
        /// Round-robin counter.
        next: AtomicUsize,
    },
    /// Connections on their own threads, waited for in the task.
    OnThreads {
        /// Job queue of each connection's thread.
        queues: Vec<mpsc::Sender<(Job, Reply)>>,
        /// Round-robin counter.
        next: AtomicUsize,
        /// The threads, joined on drop.
        threads: Vec<JoinHandle<()>>,
    },
}

impl std::fmt::Debug for dyn SyncDriver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SyncDriver")
    }
}

impl Naive {
    /// Connections called right inside the tasks.
    pub fn in_task(conns: Vec<Box<dyn SyncDriver>>) -> Self {
        Naive::InTask {
            conns: conns.into_iter().map(Mutex::new).collect(),
            next: AtomicUsize::new(0),
        }
    }

    /// Each connection on a thread of its own.
    pub fn on_threads(conns: Vec<Box<dyn SyncDriver>>) -> Self {
        let (queues, threads) = conns
            .into_iter()
            .map(|mut conn| {
                let (tx, rx) = mpsc::channel::<(Job, Reply)>();
                let thread = std::thread::spawn(move || {
                    for (job, reply) in rx {
                        conn.run(job);
                        let _ = reply.send(());
                    }
                });
                (tx, thread)
            })
            .unzip();
        Naive::OnThreads {
            queues,
            next: AtomicUsize::new(0),
            threads,
        }
    }

    /// Runs `job` on the next connection, blocking the calling thread.
    pub fn call(&self, job: Job) {
        match self {
            Naive::InTask { conns, next } => {
                let i = next.fetch_add(1, Ordering::Relaxed) % conns.len();
                conns[i].lock().unwrap().run(job);
            }
            Naive::OnThreads { queues, next, .. } => {
                let i = next.fetch_add(1, Ordering::Relaxed) % queues.len();
                let (tx, rx) = mpsc::sync_channel(1);
                queues[i].send((job, tx)).unwrap();
                rx.recv().unwrap();
            }
        }
    }
}

impl Drop for Naive {
    fn drop(&mut self) {
        if let Naive::OnThreads {
            queues, threads, ..
        } = self
        {
            queues.clear();
            for t in threads.drain(..) {
                let _ = t.join();
            }
        }
    }
}
