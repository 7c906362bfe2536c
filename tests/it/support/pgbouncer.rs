//! A PgBouncer in transaction mode in front of the test PostgreSQL server,
//! started once per test process and gone when the process exits.
//!
//! `/usr/sbin/pgbouncer` (Debian's package) listens on a free loopback
//! port with `pool_mode = transaction` and `default_pool_size = 4` (four
//! server connections per database), forwarding any database name to the
//! server as user `postgres` (`auth_type = any`). Its config and log live
//! in a temporary directory. Tests get a throwaway database of their own
//! process, `sylvan_pooler_<pid>`: PgBouncer 1.18 does not pass the
//! `options=-csearch_path=…` the other tests isolate themselves with, so
//! bouncer tests name their tables uniquely inside it instead.
//!
//! Teardown: a static is never dropped at exit, so a watchdog shell started
//! with the bouncer polls the test process's pid every second; once it is
//! gone it kills the bouncer, drops the database and removes the directory.
//! PgBouncer refuses to run as root: as root it is started with
//! `-u postgres`.

use super::{pg_base_url, require_pg, unique, Kind, TestDb};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};
use sylvan::prelude::*;
use sylvan::PoolConfig;

const PGBOUNCER: &str = "/usr/sbin/pgbouncer";

/// The running bouncer.
#[derive(Debug)]
pub struct Bouncer {
    pub port: u16,
    /// The throwaway database of this process.
    pub database: String,
    pub dir: PathBuf,
}

impl Bouncer {
    /// A URL to this process's database through the bouncer, with `params`.
    pub fn url(&self, params: &str) -> String {
        let mut url = format!(
            "postgres://postgres@127.0.0.1:{}/{}",
            self.port, self.database
        );
        if !params.is_empty() {
            url.push('?');
            url.push_str(params);
        }
        url
    }

    /// A direct URL (no bouncer) to the same database.
    pub fn direct_url(&self, params: &str) -> String {
        let base = pg_base_url();
        let (server, _) = base.rsplit_once('/').unwrap_or((&base, ""));
        let mut url = format!("{server}/{}", self.database);
        if !params.is_empty() {
            url.push('?');
            url.push_str(params);
        }
        url
    }
}

impl TestDb {
    /// A fresh database reached through the bouncer with
    /// `pooler=transaction`, or `None` (with a message) when PgBouncer or
    /// PostgreSQL is missing and not required. Its own database, since
    /// the bouncer does not pass the `search_path` option schemas need.
    pub async fn postgres_via_bouncer(name: &str, pool: PoolConfig) -> Option<TestDb> {
        let b = bouncer()?;
        let name = unique(name);
        let admin = Database::connect(&pg_base_url()).await.expect("admin");
        admin
            .execute(&format!("CREATE DATABASE \"{name}\""), ())
            .await
            .expect("create database");
        admin.close();
        let url = format!(
            "postgres://postgres@127.0.0.1:{}/{name}?pooler=transaction&application_name={name}",
            b.port
        );
        let db = Database::builder(&url)
            .pool(pool)
            .connect()
            .await
            .expect("open through pgbouncer");
        Some(TestDb {
            db,
            kind: Kind::Postgres,
            url,
            name,
            via_bouncer: true,
            _dir: None,
        })
    }
}

/// The bouncer, started on first use; `None` (after a `SKIP` message) when
/// PgBouncer or PostgreSQL is missing and `SYLVAN_REQUIRE_PG` is not `1`.
pub fn bouncer() -> Option<&'static Bouncer> {
    static BOUNCER: OnceLock<Result<Bouncer, String>> = OnceLock::new();
    // A thread of its own: the blocking `postgres` client must not run on
    // a test's tokio runtime.
    let started = BOUNCER.get_or_init(|| {
        std::thread::spawn(start)
            .join()
            .unwrap_or_else(|_| Err("starting pgbouncer panicked".into()))
    });
    match started {
        Ok(b) => Some(b),
        Err(why) if !require_pg() => {
            eprintln!("SKIP postgres: {why} (set SYLVAN_REQUIRE_PG=1 to fail instead)");
            None
        }
        Err(why) => panic!("PgBouncer is required (SYLVAN_REQUIRE_PG=1): {why}"),
    }
}

fn free_port() -> Result<u16, String> {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").map_err(|e| e.to_string())?;
    Ok(listener.local_addr().map_err(|e| e.to_string())?.port())
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| o.stdout.trim_ascii() == b"0")
}

fn start() -> Result<Bouncer, String> {
    if !Path::new(PGBOUNCER).exists() {
        return Err(format!("{PGBOUNCER} is not installed"));
    }
    let base = pg_base_url();
    let config: postgres::Config = base.parse().map_err(|e| format!("{base}: {e}"))?;
    let host = match config.get_hosts().first() {
        Some(postgres::config::Host::Tcp(h)) => h.clone(),
        _ => "127.0.0.1".to_owned(),
    };
    let server_port = config.get_ports().first().copied().unwrap_or(5432);
    let user = config.get_user().unwrap_or("postgres").to_owned();
    let database = format!("sylvan_pooler_{}", std::process::id());
    let mut admin = config
        .connect(postgres::NoTls)
        .map_err(|e| format!("PostgreSQL unreachable at {base}: {e}"))?;
    // Databases left by test processes killed with their watchdog.
    let stale = admin
        .query(
            "SELECT datname FROM pg_database WHERE datname LIKE 'sylvan\\_pooler\\_%'",
            &[],
        )
        .map_err(|e| super::error_chain(&e))?;
    for row in stale {
        let name: String = row.get(0);
        let pid = name.trim_start_matches("sylvan_pooler_");
        if !Path::new("/proc").join(pid).exists() {
            let _ =
                admin.batch_execute(&format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"));
        }
    }
    // Two messages: CREATE DATABASE refuses to run in a multi-statement one.
    for sql in [
        format!("DROP DATABASE IF EXISTS \"{database}\" WITH (FORCE)"),
        format!("CREATE DATABASE \"{database}\""),
    ] {
        admin
            .batch_execute(&sql)
            .map_err(|e| format!("{sql}: {}", super::error_chain(&e)))?;
    }
    drop(admin);

    let dir = tempfile::Builder::new()
        .prefix("sylvan-pgbouncer-")
        .tempdir()
        .map_err(|e| e.to_string())?
        .keep();
    let port = free_port()?;
    let ini = dir.join("pgbouncer.ini");
    std::fs::write(
        &ini,
        format!(
            "[databases]\n\
             * = host={host} port={server_port} user={user}\n\
             [pgbouncer]\n\
             listen_addr = 127.0.0.1\n\
             listen_port = {port}\n\
             unix_socket_dir =\n\
             auth_type = any\n\
             pool_mode = transaction\n\
             default_pool_size = 4\n\
             max_client_conn = 1000\n\
             ignore_startup_parameters = extra_float_digits,options\n\
             server_reset_query =\n"
        ),
    )
    .map_err(|e| e.to_string())?;
    use std::os::unix::fs::PermissionsExt;
    let _ = std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755));
    let _ = std::fs::set_permissions(&ini, std::fs::Permissions::from_mode(0o644));
    let log = std::fs::File::create(dir.join("pgbouncer.log")).map_err(|e| e.to_string())?;
    let mut command = Command::new(PGBOUNCER);
    if is_root() {
        command.args(["-u", "postgres"]);
    }
    let child = command
        .arg(&ini)
        .stdin(Stdio::null())
        .stdout(log.try_clone().map_err(|e| e.to_string())?)
        .stderr(log)
        .spawn()
        .map_err(|e| format!("spawn {PGBOUNCER}: {e}"))?;
    spawn_watchdog(child.id(), &base, &database, &dir)?;

    // Ready when a client gets through to the server.
    let bouncer = Bouncer {
        port,
        database,
        dir,
    };
    let url = bouncer.url("");
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let config: postgres::Config = url.parse().map_err(|e| format!("{url}: {e}"))?;
        let ready = config
            .connect(postgres::NoTls)
            .and_then(|mut c| c.simple_query("SELECT 1"));
        match ready {
            Ok(_) => return Ok(bouncer),
            _ if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(50)),
            Err(_) => {
                let log =
                    std::fs::read_to_string(bouncer.dir.join("pgbouncer.log")).unwrap_or_default();
                return Err(format!("pgbouncer did not come up within 10 s: {log}"));
            }
        }
    }
}

/// Kills the bouncer, drops the database and removes `dir` once this
/// process is gone (polled every second).
fn spawn_watchdog(bouncer_pid: u32, base: &str, database: &str, dir: &Path) -> Result<(), String> {
    let script = format!(
        "while kill -0 {parent} 2>/dev/null; do sleep 1; done; \
         kill {bouncer_pid} 2>/dev/null; sleep 0.5; kill -9 {bouncer_pid} 2>/dev/null; \
         psql '{base}' -qAtc 'DROP DATABASE IF EXISTS \"{database}\" WITH (FORCE)' >/dev/null 2>&1; \
         for d in $(psql '{base}' -qAtc \"SELECT datname FROM pg_database WHERE datname LIKE 't\\_%\\_{parent}\\_%'\" 2>/dev/null); do \
           psql '{base}' -qAtc \"DROP DATABASE IF EXISTS \\\"$d\\\" WITH (FORCE)\" >/dev/null 2>&1; done; \
         {remove}",
        parent = std::process::id(),
        // Kept for a post-mortem with SYLVAN_TEST_KEEP_PGBOUNCER=1.
        remove = if std::env::var_os("SYLVAN_TEST_KEEP_PGBOUNCER").is_some() {
            String::new()
        } else {
            format!("rm -rf '{}'", dir.display())
        },
    );
    Command::new("sh")
        .args(["-c", &script])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .map(drop)
        .map_err(|e| format!("spawn the watchdog: {e}"))
}
