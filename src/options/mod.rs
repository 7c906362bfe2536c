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
///
/// Errs on the side of hiding too much: in a URL everything from the first
/// `:` of the user part to the *last* `@` is hidden (a password may hold an
/// unencoded `/`, `?` or `@`), and so is any `password=` parameter; in a
/// libpq `key=value` string every `password` value is hidden, and whatever
/// follows a part that does not parse is left out.
fn redact(url: &str) -> String {
    let shown = if let Some((scheme, rest)) = url.split_once("://").filter(|_| is_url(url)) {
        match rest.rfind('@') {
            Some(at) => {
                let userinfo = &rest[..at];
                match userinfo.split_once(':') {
                    Some((user, _)) => format!("{scheme}://{user}:***{}", &rest[at..]),
                    None => url.to_owned(),
                }
            }
            None => url.to_owned(),
        }
    } else if looks_like_key_value(url) {
        redact_key_value(url)
    } else {
        url.to_owned()
    };
    redact_password_params(&shown)
}

/// Hides the value of every `password=` URL parameter.
fn redact_password_params(url: &str) -> String {
    let mut out = String::with_capacity(url.len());
    let mut rest = url;
    while let Some(i) = rest.find(['?', '&']) {
        out.push_str(&rest[..=i]);
        rest = &rest[i + 1..];
        let key_end = rest.find(['=', '&']).unwrap_or(rest.len());
        if rest[..key_end].eq_ignore_ascii_case("password") && rest[key_end..].starts_with('=') {
            out.push_str(&rest[..=key_end]);
            out.push_str("***");
            rest = &rest[key_end + 1..];
            rest = &rest[rest.find('&').unwrap_or(rest.len())..];
        }
    }
    out.push_str(rest);
    out
}

/// A libpq `key=value` string with every `password` value hidden; the text
/// after a part that does not parse is left out.
fn redact_key_value(s: &str) -> String {
    let (pairs, failed_at) = match key_value_pairs(s) {
        Ok(pairs) => (pairs, None),
        Err(e) => (e.parsed, Some(e.at)),
    };
    let mut out = String::with_capacity(s.len());
    let mut shown = 0;
    for pair in pairs
        .iter()
        .filter(|p| p.key.eq_ignore_ascii_case("password"))
    {
        out.push_str(&s[shown..pair.raw.start]);
        out.push_str("***");
        shown = pair.raw.end;
    }
    match failed_at {
        None => out.push_str(&s[shown..]),
        Some(at) => {
            out.push_str(&s[shown..at.max(shown)]);
            out.push('…');
        }
    }
    out
}

/// True when `s` starts with `scheme://` (a scheme as RFC 3986 spells it),
/// unlike a `key=value` string that merely holds a `://` in a value.
fn is_url(s: &str) -> bool {
    s.split_once("://").is_some_and(|(scheme, _)| {
        scheme.starts_with(|c: char| c.is_ascii_alphabetic())
            && scheme
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'))
    })
}

/// True for a libpq connection string such as `host=localhost dbname=app`
/// (a first word followed by `=`).
fn looks_like_key_value(s: &str) -> bool {
    let s = s.trim_start();
    let key_end = s
        .find(|c: char| c.is_whitespace() || c == '=')
        .unwrap_or(s.len());
    key_end > 0
        && s[..key_end]
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_')
        && s[key_end..].trim_start().starts_with('=')
}

/// One `key=value` of a libpq connection string.
#[derive(Debug)]
struct KeyValue<'a> {
    key: &'a str,
    value: String,
    /// Where the value is written (quotes included).
    raw: std::ops::Range<usize>,
}

/// Why a libpq connection string does not parse, and what did.
#[derive(Debug)]
struct KeyValueError<'a> {
    why: String,
    /// The pairs before the bad part.
    parsed: Vec<KeyValue<'a>>,
    /// Where the bad part starts.
    at: usize,
}

/// Splits a libpq connection string into its pairs, as libpq does: values
/// are bare words or `'quoted'`, and `\` escapes the next character.
fn key_value_pairs(s: &str) -> std::result::Result<Vec<KeyValue<'_>>, KeyValueError<'_>> {
    // Byte offsets always sit on char boundaries: they only advance past
    // whole chars.
    let mut pairs = Vec::new();
    let bytes = s.as_bytes();
    let skip_ws = |mut i: usize| {
        while i < s.len() && s[i..].starts_with(char::is_whitespace) {
            i += s[i..].chars().next().map_or(1, char::len_utf8);
        }
        i
    };
    let mut i = skip_ws(0);
    while i < s.len() {
        let start = i;
        let key_end = s[i..]
            .find(|c: char| c.is_whitespace() || c == '=')
            .map_or(s.len(), |n| i + n);
        let key = &s[i..key_end];
        i = skip_ws(key_end);
        if key.is_empty() || bytes.get(i) != Some(&b'=') {
            return Err(KeyValueError {
                why: format!("expected `key=value` at byte {start} of the connection string"),
                parsed: pairs,
                at: start,
            });
        }
        i = skip_ws(i + 1);
        let value_start = i;
        let mut value = String::new();
        let quoted = bytes.get(i) == Some(&b'\'');
        if quoted {
            i += 1;
        }
        let mut closed = false;
        let mut chars = s[i..].char_indices();
        let mut end = s.len();
        while let Some((n, c)) = chars.next() {
            if quoted && c == '\'' {
                closed = true;
                end = i + n + 1;
                break;
            }
            if !quoted && c.is_whitespace() {
                end = i + n;
                break;
            }
            if c == '\\' {
                if let Some((_, next)) = chars.next() {
                    value.push(next);
                }
            } else {
                value.push(c);
            }
        }
        if quoted && !closed {
            return Err(KeyValueError {
                why: format!("the value of `{key}` has no closing quote"),
                parsed: pairs,
                at: start,
            });
        }
        if !quoted && value.is_empty() {
            return Err(KeyValueError {
                why: format!("`{key}` has no value (write {key}='' for an empty one)"),
                parsed: pairs,
                at: start,
            });
        }
        pairs.push(KeyValue {
            key,
            value,
            raw: value_start..end,
        });
        i = skip_ws(end);
    }
    Ok(pairs)
}

/// Quotes a value for a libpq connection string.
fn quote_key_value(value: &str) -> String {
    let mut out = String::with_capacity(value.len() + 2);
    out.push('\'');
    for c in value.chars() {
        if c == '\'' || c == '\\' {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('\'');
    out
}

/// A tokio-postgres error with its causes ("invalid connection string:
/// unknown option `x`"): the driver's own message names no parameter.
fn driver_message(e: &tokio_postgres::Error) -> String {
    let mut message = e.to_string();
    let mut cause = std::error::Error::source(e);
    while let Some(c) = cause {
        message.push_str(": ");
        message.push_str(&c.to_string());
        cause = c.source();
    }
    message
}

/// Splits a URL at the `?` that starts its parameters. In a PostgreSQL URL
/// that is the first `?` after the first `@` (tokio-postgres reads the user
/// and password up to the first `@`, so a password may hold a `?`).
fn split_query(url: &str) -> (&str, Option<&str>) {
    let search_from = if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        url.find('@').map_or(0, |at| at + 1)
    } else {
        0
    };
    match url[search_from..].find('?') {
        Some(q) => (&url[..search_from + q], Some(&url[search_from + q + 1..])),
        None => (url, None),
    }
}

/// Settings PostgreSQL gets whatever the URL's form.
fn postgres_defaults(
    config: &mut tokio_postgres::Config,
    pool: &PoolConfig,
    params: &[(String, String)],
) {
    if config.get_application_name().is_none() {
        config.application_name("sylvan");
    }
    if config.get_connect_timeout().is_none() {
        config.connect_timeout(pool.create_timeout_value());
    }
    apply_keepalive_defaults(config, params);
}

/// A libpq `key=value` connection string: `pool_*` keys for the pool, the
/// rest for tokio-postgres.
fn parse_key_value(url: &str) -> Result<ConnectOptions> {
    let pairs = key_value_pairs(url).map_err(|e| bad(url, e.why))?;
    let mut pool = PoolConfig::default();
    let mut kept = String::new();
    let mut params = Vec::new();
    for pair in pairs {
        if !apply_pool_param(&mut pool, pair.key, &pair.value).map_err(|why| bad(url, why))? {
            if !kept.is_empty() {
                kept.push(' ');
            }
            kept.push_str(pair.key);
            kept.push('=');
            kept.push_str(&quote_key_value(&pair.value));
            params.push((pair.key.to_owned(), pair.value.clone()));
        }
    }
    let mut config =
        tokio_postgres::Config::from_str(&kept).map_err(|e| bad(url, driver_message(&e)))?;
    postgres_defaults(&mut config, &pool, &params);
    Ok(ConnectOptions {
        target: Target::Postgres(Box::new(config)),
        pool,
    })
}

impl ConnectOptions {
    /// Parses a connection URL.
    pub(crate) fn parse(url: &str) -> Result<Self> {
        if !is_url(url) && !url.starts_with("sqlite:") && looks_like_key_value(url) {
            return parse_key_value(url);
        }
        let (base, query) = split_query(url);
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
            let authority = base.split_once("://").map_or("", |(_, rest)| rest);
            let host = authority.split_once('@').map_or("", |(_, host)| host);
            if host
                .split(['/', '?'])
                .next()
                .is_some_and(|h| h.contains('@'))
            {
                return Err(bad(
                    url,
                    "the user name or password holds an `@`: write it percent-encoded (%40)",
                ));
            }
            let mut kept = base.to_owned();
            for (i, (k, v)) in params.iter().enumerate() {
                kept.push(if i == 0 { '?' } else { '&' });
                kept.push_str(k);
                kept.push('=');
                kept.push_str(v);
            }
            let mut config = tokio_postgres::Config::from_str(&kept)
                .map_err(|e| bad(url, driver_message(&e)))?;
            postgres_defaults(&mut config, &pool, &params);
            Target::Postgres(Box::new(config))
        } else {
            return Err(bad(
                url,
                "unknown scheme; expected sqlite::memory:, sqlite://path, sqlite:///abs/path, postgres://… or host=… dbname=…",
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
            // SQLite (built with SQLITE_USE_URI) reads a file name starting
            // with `file:` as a URI, whose `?mode=ro`, `&vfs=…` and the like
            // would slip past the parameter list above: such a relative
            // path is opened as `./file:…`, a plain file name.
            let path = if path
                .get(..5)
                .is_some_and(|p| p.eq_ignore_ascii_case("file:"))
            {
                format!("./{path}")
            } else {
                path
            };
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
    fn bad_parameters_are_named() {
        for url in [
            "postgres://u@h/db?nonsense=1",
            "postgres://u:secret@h/db?application_name=x&nonsense=1",
            "host=h user=u nonsense=1",
        ] {
            let e = ConnectOptions::parse(url).unwrap_err();
            assert!(matches!(e, Error::Config(_)), "{e:?}");
            let e = e.to_string();
            assert!(e.contains("unknown option `nonsense`"), "{url}: {e}");
        }
        let e = ConnectOptions::parse("postgres://u@h:port/db")
            .unwrap_err()
            .to_string();
        assert!(e.contains("`port`"), "{e}");
    }

    #[test]
    fn key_value_strings_are_postgres() {
        let o = ConnectOptions::parse(
            "host=127.0.0.1 user=postgres dbname=test password='se cr\\'et' pool_max_size=3",
        )
        .unwrap();
        assert_eq!(o.pool.max_size_value(), 3);
        match o.target {
            Target::Postgres(c) => {
                assert_eq!(c.get_user(), Some("postgres"));
                assert_eq!(c.get_dbname(), Some("test"));
                assert_eq!(c.get_password(), Some(&b"se cr'et"[..]));
                assert_eq!(c.get_application_name(), Some("sylvan"));
            }
            Target::Sqlite(_) => panic!("not postgres"),
        }
        let o = ConnectOptions::parse("  dbname = 'a b'  application_name=x\\ y ").unwrap();
        match o.target {
            Target::Postgres(c) => {
                assert_eq!(c.get_dbname(), Some("a b"));
                assert_eq!(c.get_application_name(), Some("x y"));
            }
            Target::Sqlite(_) => panic!("not postgres"),
        }
        for bad_string in ["host=h user", "host=h user=", "host=h password='open"] {
            let e = ConnectOptions::parse(bad_string).unwrap_err();
            assert!(matches!(e, Error::Config(_)), "{bad_string}: {e:?}");
        }
    }

    #[test]
    fn postgres_passwords_may_hold_slash_and_question_mark() {
        let o = ConnectOptions::parse("postgres://u:pa/ss?w@h/db?pool_max_size=2").unwrap();
        assert_eq!(o.pool.max_size_value(), 2);
        match o.target {
            Target::Postgres(c) => {
                assert_eq!(c.get_password(), Some(&b"pa/ss?w"[..]));
                assert_eq!(c.get_dbname(), Some("db"));
            }
            Target::Sqlite(_) => panic!("not postgres"),
        }
        let e = ConnectOptions::parse("postgres://u:p@ss@h/db").unwrap_err();
        assert!(e.to_string().contains("%40"), "{e}");
    }

    #[test]
    fn passwords_never_show() {
        for (url, password) in [
            ("postgres://u:secret@h/db", "secret"),
            ("postgres://u:pa/ss?w@h/db", "pa/ss?w"),
            ("postgres://u:pa/ss?w@h/db", "ss?w"),
            ("postgres://u:p@ss@h/db", "p@ss"),
            ("postgres://u:p@ss@h/db", "ss@"),
            ("postgresql://u:pa?ss@h:5432/db?nonsense=1", "pa?ss"),
            ("postgres://u:s%40cret@h/db?x=1", "s%40cret"),
            ("postgres://u@h/db?password=secret&nonsense=1", "secret"),
            ("postgres://u@h/db?nonsense=1&PASSWORD=secret", "secret"),
            ("host=h password=secret nonsense=1", "secret"),
            ("host=h password='se cret' nonsense=1", "se cret"),
            ("host=h password='se cret' nonsense=1", "cret"),
            ("host=h password = 'it\\'s' bogus", "it\\'s"),
            ("host=h password='se cret", "se cret"),
            ("host=h password=secret user", "secret"),
            ("host=h password=", "password=\u{2026}"),
            ("host=h password=secret application_name=a://b@c", "secret"),
            ("password=secret host=h://x nonsense=1", "secret"),
        ] {
            let shown = redact(url);
            assert!(!shown.contains(password), "{url} shows {password}: {shown}");
            if let Err(e) = ConnectOptions::parse(url) {
                for text in [e.to_string(), format!("{e:?}")] {
                    assert!(!text.contains(password), "{url}: {text}");
                }
            }
        }
        // What is not a password stays readable.
        assert_eq!(
            redact("postgres://u:pw@h:5432/db?application_name=a"),
            "postgres://u:***@h:5432/db?application_name=a"
        );
        assert_eq!(
            redact("host=h password='se cret' dbname=d"),
            "host=h password=*** dbname=d"
        );
        assert_eq!(
            redact("postgres://u@h/db?password=x&sslmode=disable"),
            "postgres://u@h/db?password=***&sslmode=disable"
        );
        assert_eq!(redact("sqlite://a.db?x=1"), "sqlite://a.db?x=1");
        let o = ConnectOptions::parse("host=h application_name=http://x").unwrap();
        assert!(matches!(o.target, Target::Postgres(_)));
    }

    #[test]
    fn sqlite_paths_are_never_uris() {
        assert_eq!(
            sqlite("sqlite://file:x.db%3Fmode=ro").location,
            Location::File("./file:x.db?mode=ro".into())
        );
        assert_eq!(
            sqlite("sqlite:FILE:x.db").location,
            Location::File("./FILE:x.db".into())
        );
        assert_eq!(
            sqlite("sqlite:///tmp/file:x.db").location,
            Location::File("/tmp/file:x.db".into())
        );
        assert!(ConnectOptions::parse("sqlite://file:x.db?mode=ro").is_err());
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
