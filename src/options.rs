//! Parsing connection URLs; the accepted forms are documented at the crate root.

use crate::backend::sqlite::{Location, SqliteOptions};
use crate::error::{Error, Result};
use crate::pool::PoolConfig;
use std::path::PathBuf;
use std::str::FromStr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

/// What a URL names.
#[derive(Debug)]
pub(crate) enum Target {
    Sqlite(SqliteOptions),
    Postgres(Box<tokio_postgres::Config>),
}

/// A parsed URL: the database and the pool settings.
#[derive(Debug)]
pub(crate) struct ConnectOptions {
    pub(crate) target: Target,
    pub(crate) pool: PoolConfig,
}

static NEXT_MEMORY_DB: AtomicUsize = AtomicUsize::new(1);

fn bad(url: &str, why: impl std::fmt::Display) -> Error {
    Error::Config(format!("bad database URL `{}`: {why}", redact(url)))
}

/// The URL with any password replaced, for error messages.
fn redact(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    let authority_end = rest.find(['/', '?']).unwrap_or(rest.len());
    let authority = &rest[..authority_end];
    match authority.rsplit_once('@') {
        Some((userinfo, host)) => {
            let user = userinfo.split(':').next().unwrap_or("");
            let shown = if userinfo.contains(':') {
                format!("{user}:***")
            } else {
                user.to_owned()
            };
            format!("{scheme}://{shown}@{host}{}", &rest[authority_end..])
        }
        None => url.to_owned(),
    }
}

impl ConnectOptions {
    /// Parses a connection URL.
    pub(crate) fn parse(url: &str) -> Result<Self> {
        let (base, query) = match url.split_once('?') {
            Some((b, q)) => (b, Some(q)),
            None => (url, None),
        };
        let mut pool = PoolConfig::default();
        let mut params = Vec::new();
        for pair in query.unwrap_or("").split('&').filter(|p| !p.is_empty()) {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            if !apply_pool_param(&mut pool, k, v).map_err(|why| bad(url, why))? {
                params.push((k.to_owned(), v.to_owned()));
            }
        }

        let target = if let Some(rest) = base.strip_prefix("sqlite:") {
            Target::Sqlite(sqlite_options(url, rest, params)?)
        } else if base.starts_with("postgres://") || base.starts_with("postgresql://") {
            let mut kept = base.to_owned();
            for (i, (k, v)) in params.iter().enumerate() {
                kept.push(if i == 0 { '?' } else { '&' });
                kept.push_str(k);
                kept.push('=');
                kept.push_str(v);
            }
            let mut config = tokio_postgres::Config::from_str(&kept).map_err(|e| bad(url, e))?;
            if config.get_application_name().is_none() {
                config.application_name("sylvan");
            }
            if config.get_connect_timeout().is_none() {
                config.connect_timeout(pool.create_timeout_value());
            }
            apply_keepalive_defaults(&mut config, &params);
            Target::Postgres(Box::new(config))
        } else {
            return Err(bad(
                url,
                "unknown scheme; expected sqlite::memory:, sqlite://path, sqlite:///abs/path or postgres://…",
            ));
        };
        Ok(ConnectOptions { target, pool })
    }
}

/// TCP keepalive defaults for PostgreSQL: probe after 30 s of silence, then
/// every 10 s, and give up after 3 unanswered probes, so a vanished peer
/// host is noticed in about a minute (the kernel's default is two hours);
/// `tcp_user_timeout` (Linux) likewise drops a connection whose sent data
/// stays unacknowledged for 60 s. Each applies unless the URL sets it
/// (`keepalives=0`, `keepalives_idle`, `keepalives_interval`,
/// `keepalives_retries`, `tcp_user_timeout`, in seconds as in libpq).
pub(crate) const KEEPALIVE_IDLE: Duration = Duration::from_secs(30);
/// See [`KEEPALIVE_IDLE`].
pub(crate) const KEEPALIVE_INTERVAL: Duration = Duration::from_secs(10);
/// See [`KEEPALIVE_IDLE`].
pub(crate) const KEEPALIVE_RETRIES: u32 = 3;
/// See [`KEEPALIVE_IDLE`].
pub(crate) const TCP_USER_TIMEOUT: Duration = Duration::from_secs(60);

fn apply_keepalive_defaults(config: &mut tokio_postgres::Config, params: &[(String, String)]) {
    let given = |key: &str| params.iter().any(|(k, _)| k == key);
    if !given("keepalives") {
        config.keepalives(true);
    }
    if !given("keepalives_idle") {
        config.keepalives_idle(KEEPALIVE_IDLE);
    }
    if !given("keepalives_interval") {
        config.keepalives_interval(KEEPALIVE_INTERVAL);
    }
    if !given("keepalives_retries") {
        config.keepalives_retries(KEEPALIVE_RETRIES);
    }
    if !given("tcp_user_timeout") {
        config.tcp_user_timeout(TCP_USER_TIMEOUT);
    }
}

fn sqlite_options(url: &str, rest: &str, params: Vec<(String, String)>) -> Result<SqliteOptions> {
    let location = match rest {
        ":memory:" | "//:memory:" => {
            let n = NEXT_MEMORY_DB.fetch_add(1, Ordering::Relaxed);
            Location::Memory(format!("sylvan-memory-{}-{n}", std::process::id()))
        }
        _ => {
            let path = rest.strip_prefix("//").unwrap_or(rest);
            let path = percent_decode(path).map_err(|why| bad(url, why))?;
            if path.is_empty() {
                return Err(bad(url, "the SQLite path is empty"));
            }
            Location::File(PathBuf::from(path))
        }
    };
    let mut options = SqliteOptions {
        location,
        busy_timeout: Duration::from_secs(5),
        synchronous: "NORMAL",
        statement_cache: 128,
        on_connect: None,
    };
    for (k, v) in params {
        match k.as_str() {
            "busy_timeout" => options.busy_timeout = parse_duration(&v).map_err(|why| bad(url, why))?,
            "synchronous" => {
                options.synchronous = match v.to_ascii_lowercase().as_str() {
                    "off" => "OFF",
                    "normal" => "NORMAL",
                    "full" => "FULL",
                    "extra" => "EXTRA",
                    _ => return Err(bad(url, format!("synchronous must be off, normal, full or extra, not `{v}`"))),
                }
            }
            "statement_cache" => {
                options.statement_cache = v
                    .parse()
                    .map_err(|_| bad(url, format!("statement_cache must be a number, not `{v}`")))?
            }
            "mode" if v == "rwc" => {}
            other => {
                return Err(bad(
                    url,
                    format!("unknown SQLite parameter `{other}` (known: busy_timeout, synchronous, statement_cache, pool_*)"),
                ))
            }
        }
    }
    Ok(options)
}

/// Applies one `pool_*` parameter; `Ok(false)` when `key` is not one.
fn apply_pool_param(
    pool: &mut PoolConfig,
    key: &str,
    value: &str,
) -> std::result::Result<bool, String> {
    let config = std::mem::take(pool);
    *pool = match key {
        "pool_max_size" => config.max_size(
            value
                .parse()
                .map_err(|_| format!("pool_max_size must be a number, not `{value}`"))?,
        ),
        "pool_wait_timeout" => config.wait_timeout(parse_duration(value)?),
        "pool_create_timeout" => config.create_timeout(parse_duration(value)?),
        "pool_recycle_timeout" => config.recycle_timeout(parse_duration(value)?),
        "pool_max_lifetime" => config.max_lifetime(parse_optional_duration(value)?),
        "pool_idle_timeout" => config.idle_timeout(parse_optional_duration(value)?),
        "pool_liveness_check_after" => config.liveness_check_after(parse_optional_duration(value)?),
        "statement_timeout" => config.statement_timeout(parse_optional_duration(value)?),
        _ => {
            *pool = config;
            return Ok(false);
        }
    };
    Ok(true)
}

fn parse_optional_duration(s: &str) -> std::result::Result<Option<Duration>, String> {
    if s.eq_ignore_ascii_case("off") || s.eq_ignore_ascii_case("none") {
        Ok(None)
    } else {
        parse_duration(s).map(Some)
    }
}

/// `250ms`, `5s`, `2m`, `1h`, or a bare number of seconds.
pub(crate) fn parse_duration(s: &str) -> std::result::Result<Duration, String> {
    let err = || format!("`{s}` is not a duration (try 250ms, 5s, 2m)");
    let split = s
        .find(|c: char| !c.is_ascii_digit() && c != '.')
        .unwrap_or(s.len());
    let (num, unit) = s.split_at(split);
    let n: f64 = num.parse().map_err(|_| err())?;
    let secs = match unit {
        "ms" => n / 1000.0,
        "" | "s" => n,
        "m" => n * 60.0,
        "h" => n * 3600.0,
        _ => return Err(err()),
    };
    Duration::try_from_secs_f64(secs).map_err(|_| err())
}

fn percent_decode(s: &str) -> std::result::Result<String, String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = s.get(i + 1..i + 3).ok_or("truncated percent escape")?;
            out.push(
                u8::from_str_radix(hex, 16).map_err(|_| format!("bad percent escape %{hex}"))?,
            );
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).map_err(|_| "the path is not UTF-8 after percent-decoding".to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sqlite(url: &str) -> SqliteOptions {
        match ConnectOptions::parse(url).unwrap().target {
            Target::Sqlite(o) => o,
            Target::Postgres(_) => panic!("not sqlite"),
        }
    }

    #[test]
    fn sqlite_urls() {
        assert!(matches!(
            sqlite("sqlite::memory:").location,
            Location::Memory(_)
        ));
        assert!(matches!(
            sqlite("sqlite://:memory:").location,
            Location::Memory(_)
        ));
        assert_eq!(
            sqlite("sqlite://data/app.db").location,
            Location::File("data/app.db".into())
        );
        assert_eq!(
            sqlite("sqlite:///tmp/a%20b.db").location,
            Location::File("/tmp/a b.db".into())
        );
        let o = sqlite("sqlite://x.db?busy_timeout=250ms&synchronous=full");
        assert_eq!(o.busy_timeout, Duration::from_millis(250));
        assert_eq!(o.synchronous, "FULL");
    }

    #[test]
    fn two_memory_urls_are_two_databases() {
        assert_ne!(
            sqlite("sqlite::memory:").location,
            sqlite("sqlite::memory:").location
        );
    }

    #[test]
    fn pool_params() {
        let o = ConnectOptions::parse(
            "sqlite::memory:?pool_max_size=3&pool_wait_timeout=2s&pool_idle_timeout=off",
        )
        .unwrap();
        assert_eq!(o.pool.max_size_value(), 3);
        assert_eq!(o.pool.wait_timeout_value(), Duration::from_secs(2));
        assert_eq!(o.pool.idle_timeout_value(), None);
    }

    #[test]
    fn postgres_url_keeps_driver_params() {
        let o = ConnectOptions::parse(
            "postgres://postgres@127.0.0.1:5432/test?application_name=x&pool_max_size=2",
        )
        .unwrap();
        assert_eq!(o.pool.max_size_value(), 2);
        match o.target {
            Target::Postgres(c) => {
                assert_eq!(c.get_application_name(), Some("x"));
                assert_eq!(c.get_dbname(), Some("test"));
            }
            Target::Sqlite(_) => panic!("not postgres"),
        }
    }

    #[test]
    fn keepalive_defaults_unless_the_url_sets_them() {
        let pg = |url: &str| match ConnectOptions::parse(url).unwrap().target {
            Target::Postgres(c) => c,
            Target::Sqlite(_) => panic!("not postgres"),
        };
        let c = pg("postgres://u@h/db");
        assert!(c.get_keepalives());
        assert_eq!(c.get_keepalives_idle(), KEEPALIVE_IDLE);
        assert_eq!(c.get_keepalives_interval(), Some(KEEPALIVE_INTERVAL));
        assert_eq!(c.get_keepalives_retries(), Some(KEEPALIVE_RETRIES));
        assert_eq!(c.get_tcp_user_timeout(), Some(&TCP_USER_TIMEOUT));
        let c = pg("postgres://u@h/db?keepalives_idle=5&keepalives_interval=2&keepalives_retries=9&tcp_user_timeout=7&keepalives=0");
        assert!(!c.get_keepalives());
        assert_eq!(c.get_keepalives_idle(), Duration::from_secs(5));
        assert_eq!(c.get_keepalives_interval(), Some(Duration::from_secs(2)));
        assert_eq!(c.get_keepalives_retries(), Some(9));
        assert_eq!(c.get_tcp_user_timeout(), Some(&Duration::from_secs(7)));
    }

    #[test]
    fn statement_timeout_is_ours_not_the_drivers() {
        let o = ConnectOptions::parse(
            "postgres://u@h/db?statement_timeout=5s&pool_liveness_check_after=off",
        )
        .unwrap();
        assert_eq!(
            o.pool.statement_timeout_value(),
            Some(Duration::from_secs(5))
        );
        assert_eq!(o.pool.liveness_check_after_value(), None);
        let o = ConnectOptions::parse("sqlite::memory:?statement_timeout=250ms").unwrap();
        assert_eq!(
            o.pool.statement_timeout_value(),
            Some(Duration::from_millis(250))
        );
    }

    #[test]
    fn bad_urls_say_why() {
        for (url, needle) in [
            ("mysql://x", "unknown scheme"),
            ("sqlite://", "empty"),
            ("sqlite::memory:?pool_max_size=lots", "pool_max_size"),
            ("sqlite::memory:?bogus=1", "unknown SQLite parameter"),
            ("sqlite://a.db?pool_wait_timeout=soon", "not a duration"),
            ("postgres://u:secret@h/db?nonsense=1", "bad database URL"),
        ] {
            let e = ConnectOptions::parse(url).unwrap_err().to_string();
            assert!(e.contains(needle), "{url}: {e}");
            assert!(!e.contains("secret"), "password leaked: {e}");
        }
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("1.5s").unwrap(), Duration::from_millis(1500));
        assert_eq!(parse_duration("2m").unwrap(), Duration::from_secs(120));
        assert_eq!(parse_duration("7").unwrap(), Duration::from_secs(7));
        assert!(parse_duration("-1s").is_err());
        assert!(parse_duration("s").is_err());
    }
}
