//! A throwaway PostgreSQL primary with two streaming replicas, started once
//! per test process.
//!
//! The `steady` replica is never stopped or paused, so any test may read
//! from it at any time. The `spare` replica is for tests that stop, pause
//! or restart a replica: they hold [`spare`]'s lock, which also puts it
//! back running and replaying first.
//!
//! Everything lives in one temporary directory owned by the `postgres` OS
//! user, with free loopback ports. A watchdog process (in its own session,
//! so a Ctrl-C of the test run does not kill it first) waits for the test
//! process to exit, then stops the three servers (`pg_ctl stop -m
//! immediate`) and removes the directory.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};
use sylvan::Executor;

const BIN: &str = "/usr/lib/postgresql/15/bin";

/// The servers.
#[derive(Debug)]
pub struct Cluster {
    pub dir: PathBuf,
    pub primary_port: u16,
    pub steady_port: u16,
    pub spare_port: u16,
}

static CLUSTER: OnceLock<Result<Cluster, String>> = OnceLock::new();
static SPARE: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// The cluster, or `None` (after printing why) when it cannot be started;
/// a failure under `SYLVAN_REQUIRE_PG=1`.
pub fn cluster() -> Option<&'static Cluster> {
    // On a thread of its own: the setup blocks, and the synchronous
    // `postgres` client refuses to run inside a tokio runtime.
    let started = CLUSTER.get_or_init(|| {
        std::thread::spawn(start)
            .join()
            .unwrap_or_else(|_| Err("the setup thread panicked".into()))
    });
    match started {
        Ok(c) => Some(c),
        Err(why) => {
            assert!(!super::require_pg(), "replica cluster: {why}");
            eprintln!("SKIP postgres: replica cluster: {why}");
            None
        }
    }
}

/// A URL for the server on `port`, with `application_name=app`.
pub fn url(port: u16, app: &str) -> String {
    format!("postgres://postgres@127.0.0.1:{port}/postgres?application_name={app}")
}

/// A free loopback port (bound, read, released).
pub fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    listener.local_addr().expect("addr").port()
}

/// Holding this, a test may stop, pause or restart the spare replica.
pub struct Spare {
    _lock: tokio::sync::MutexGuard<'static, ()>,
    pub port: u16,
}

/// The spare replica, running and replaying, for this test alone.
pub async fn spare(cluster: &'static Cluster) -> Spare {
    let lock = SPARE.lock().await;
    let spare = Spare {
        _lock: lock,
        port: cluster.spare_port,
    };
    // A previous test may have failed half-way.
    if !spare.is_running().await {
        spare.start().await;
    }
    spare
        .sql("ALTER SYSTEM RESET max_standby_streaming_delay")
        .await;
    spare.set_primary_port(cluster.primary_port).await; // and reloads
    spare.wait_streaming().await;
    spare.sql("SELECT pg_wal_replay_resume()").await;
    spare
}

impl Spare {
    fn dir(&self) -> PathBuf {
        cluster_dir().join("spare")
    }

    async fn pg_ctl(&self, args: &'static [&'static str]) -> Result<(), String> {
        let dir = self.dir();
        tokio::task::spawn_blocking(move || pg_ctl(&dir, args))
            .await
            .map_err(|e| e.to_string())?
    }

    pub async fn is_running(&self) -> bool {
        self.pg_ctl(&["status"]).await.is_ok()
    }

    /// `pg_ctl stop` (fast: sessions end with FATAL 57P01).
    pub async fn stop(&self) {
        self.pg_ctl(&["stop", "-w", "-t", "30", "-m", "fast"])
            .await
            .expect("stop spare");
    }

    pub async fn start(&self) {
        self.pg_ctl(&["start", "-w", "-t", "60"])
            .await
            .expect("start spare");
    }

    /// Points the spare's WAL receiver at `port` (the primary's, or one
    /// where nothing listens, to cut it off); it follows at once.
    pub async fn set_primary_port(&self, port: u16) {
        let set = format!(
            "ALTER SYSTEM SET primary_conninfo = 'host=127.0.0.1 port={port} user=postgres'"
        );
        self.sql(&set).await;
        self.sql("SELECT pg_reload_conf()").await;
    }

    /// Runs `sql` on the spare over a connection of its own.
    pub async fn sql(&self, sql: &str) {
        let db = sylvan::Database::connect(&url(self.port, "sylvan_test_spare_admin"))
            .await
            .expect("spare admin");
        db.acquire()
            .await
            .expect("spare admin")
            .execute_script(sql)
            .await
            .unwrap_or_else(|e| panic!("{sql}: {e}"));
        db.close();
    }

    /// The answer of the spare itself to `sql`.
    pub async fn fetch_bool(&self, sql: &'static str) -> bool {
        let db = sylvan::Database::connect(&url(self.port, "sylvan_test_spare_admin"))
            .await
            .expect("spare admin");
        let answer = db.fetch_one::<bool, _>(sql, ()).await.expect(sql);
        db.close();
        answer
    }

    /// Waits until the spare accepts connections and streams from the primary.
    pub async fn wait_streaming(&self) {
        let url = url(self.port, "sylvan_test_setup");
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let ready = match sylvan::Database::connect(&url).await {
                Ok(db) => {
                    let ready = db
                        .fetch_one::<bool, _>(STREAMING, ())
                        .await
                        .unwrap_or(false);
                    db.close();
                    ready
                }
                Err(_) => false,
            };
            if ready {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "the spare replica does not stream"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

fn cluster_dir() -> PathBuf {
    match CLUSTER.get() {
        Some(Ok(c)) => c.dir.clone(),
        _ => PathBuf::new(),
    }
}

fn as_postgres(program: &str) -> Command {
    let mut c = Command::new("runuser");
    c.args(["-u", "postgres", "--", &format!("{BIN}/{program}")]);
    c.stdin(Stdio::null());
    c
}

fn run(mut command: Command, what: &str) -> Result<(), String> {
    let out = command
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .output()
        .map_err(|e| format!("{what}: {e}"))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "{what} failed: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ))
    }
}

fn pg_ctl(data: &Path, args: &[&str]) -> Result<(), String> {
    let mut c = as_postgres("pg_ctl");
    c.arg("-D")
        .arg(data)
        .arg("-l")
        .arg(data.with_extension("log"));
    c.args(args);
    run(c, &format!("pg_ctl {args:?}"))
}

fn append(path: &Path, text: &str) -> Result<(), String> {
    use std::io::Write;
    let mut f = std::fs::OpenOptions::new()
        .append(true)
        .open(path)
        .map_err(|e| format!("{}: {e}", path.display()))?;
    f.write_all(text.as_bytes()).map_err(|e| e.to_string())
}

const STREAMING: &str = "SELECT pg_last_wal_receive_lsn() IS NOT NULL AND pg_is_in_recovery()";

/// Waits until the replica on `port` has connected to the primary and
/// replayed what it received (so its lag reads as known).
fn wait_streaming(port: u16) -> Result<(), String> {
    let deadline = Instant::now() + Duration::from_secs(30);
    let url = url(port, "sylvan_test_setup");
    loop {
        let ready = postgres::Client::connect(&url, postgres::NoTls)
            .and_then(|mut c| c.query_one(STREAMING, &[]))
            .map(|row| row.get::<_, bool>(0));
        if matches!(ready, Ok(true)) {
            return Ok(());
        }
        if Instant::now() > deadline {
            return Err(format!("replica on port {port} not streaming: {ready:?}"));
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn start() -> Result<Cluster, String> {
    for program in ["initdb", "pg_ctl", "pg_basebackup", "postgres"] {
        if !Path::new(BIN).join(program).exists() {
            return Err(format!("{BIN}/{program} is missing"));
        }
    }
    let began = Instant::now();
    let dir = tempfile::Builder::new()
        .prefix("sylvan-replica-")
        .tempdir()
        .map_err(|e| e.to_string())?
        .keep();
    // The watchdog first, so that a failed start is cleaned up as well.
    let script = format!(
        "while kill -0 {pid} 2>/dev/null; do sleep 1; done; \
         for d in spare steady primary; do runuser -u postgres -- {BIN}/pg_ctl -D '{dir}/'$d stop -m immediate >/dev/null 2>&1; done; \
         rm -rf '{dir}'",
        pid = std::process::id(),
        dir = dir.display()
    );
    Command::new("setsid")
        .args(["sh", "-c", &script])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| format!("watchdog: {e}"))?;
    let mut chown = Command::new("chown");
    chown.arg("postgres:postgres").arg(&dir);
    run(chown, "chown")?;

    let (primary_port, steady_port, spare_port) = (free_port(), free_port(), free_port());
    let primary = dir.join("primary");
    let mut initdb = as_postgres("initdb");
    initdb.arg("-D").arg(&primary).args([
        "-A",
        "trust",
        "-U",
        "postgres",
        "--no-sync",
        "-E",
        "UTF8",
        "--locale=C",
    ]);
    run(initdb, "initdb")?;
    append(
        &primary.join("postgresql.conf"),
        &format!(
            "\nport = {primary_port}\nlisten_addresses = '127.0.0.1'\nunix_socket_directories = '{}'\n\
             wal_level = replica\nhot_standby = on\nmax_wal_senders = 10\nfsync = off\n\
             synchronous_commit = off\nfull_page_writes = off\nshared_buffers = 16MB\n\
             max_connections = 60\nwal_receiver_status_interval = 1s\n",
            dir.display()
        ),
    )?;
    pg_ctl(&primary, &["start", "-w", "-t", "60"])?;
    for (name, port) in [("steady", steady_port), ("spare", spare_port)] {
        let data = dir.join(name);
        let mut backup = as_postgres("pg_basebackup");
        backup
            .args([
                "-h",
                "127.0.0.1",
                "-p",
                &primary_port.to_string(),
                "-U",
                "postgres",
            ])
            .arg("-D")
            .arg(&data)
            .args(["-R", "-X", "stream", "-c", "fast", "--no-sync"]);
        run(backup, "pg_basebackup")?;
        append(
            &data.join("postgresql.conf"),
            &format!("\nport = {port}\nwal_retrieve_retry_interval = 200ms\n"),
        )?;
        pg_ctl(&data, &["start", "-w", "-t", "60"])?;
    }
    wait_streaming(steady_port)?;
    wait_streaming(spare_port)?;
    eprintln!(
        "replica cluster up in {:?} (primary {primary_port}, replicas {steady_port} and {spare_port})",
        began.elapsed()
    );
    Ok(Cluster {
        dir,
        primary_port,
        steady_port,
        spare_port,
    })
}

/// The replicas' check interval in these tests.
pub const CHECK: Duration = Duration::from_millis(100);

/// A database on the cluster's primary with replicas on `ports`, checked
/// every 100 ms.
pub async fn routed(
    c: &Cluster,
    app: &str,
    ports: &[u16],
    tweak: impl FnOnce(sylvan::DatabaseBuilder) -> sylvan::DatabaseBuilder,
) -> sylvan::Database {
    let mut b = sylvan::Database::builder(&url(c.primary_port, app))
        .pool(
            sylvan::PoolConfig::default()
                .max_size(4)
                .create_timeout(Duration::from_secs(2))
                .wait_timeout(Duration::from_secs(5)),
        )
        .replica_check_interval(CHECK)
        .replica_check_timeout(Duration::from_secs(1));
    for port in ports {
        b = b.replica(&url(*port, app));
    }
    tweak(b).connect().await.expect("connect")
}

/// Whether a plain read ran on a standby.
pub async fn where_read(db: &sylvan::Database) -> bool {
    db.fetch_one("SELECT pg_is_in_recovery()", ())
        .await
        .expect("read")
}

/// Waits until the relation `name`, created on the primary, shows on the
/// replica `db` reads from.
pub async fn replicated(db: &sylvan::Database, name: &str) -> bool {
    super::eventually(Duration::from_secs(5), || async {
        db.fetch_one::<i64, _>("SELECT count(*) FROM pg_class WHERE relname = $1", (name,))
            .await
            .unwrap()
            == 1
    })
    .await
}

/// (primary, replica) statement counts.
pub fn counts(db: &sylvan::Database) -> (u64, u64) {
    let m = db.members();
    (m[0].statements, m[1].statements)
}
