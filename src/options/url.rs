//! The URL form: `sqlite:…` and `postgres://…`, with `?key=value&…`
//! parameters (`pool_*` for the pool, the rest for the backend).

use super::params::apply_pool_param;
#[cfg(feature = "postgres")]
use super::postgres::postgres_target;
#[cfg(feature = "sqlite")]
use super::sqlite::sqlite_options;
#[cfg(feature = "sqlite")]
use super::Target;
use super::{bad, ConnectOptions};
use crate::error::Result;
use crate::pool::PoolConfig;

/// True when `s` starts with `scheme://` (a scheme as RFC 3986 spells it),
/// unlike a `key=value` string that merely holds a `://` in a value.
pub(super) fn is_url(s: &str) -> bool {
    s.split_once("://").is_some_and(|(scheme, _)| {
        scheme.starts_with(|c: char| c.is_ascii_alphabetic())
            && scheme
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'))
    })
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

/// Parses a URL (anything but a libpq `key=value` string).
pub(super) fn parse_url(url: &str) -> Result<ConnectOptions> {
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
        #[cfg(feature = "sqlite")]
        {
            Target::Sqlite(sqlite_options(url, rest, params)?)
        }
        #[cfg(not(feature = "sqlite"))]
        {
            let _ = rest;
            return Err(super::compiled_out(url, "sqlite"));
        }
    } else if base.starts_with("postgres://") || base.starts_with("postgresql://") {
        #[cfg(feature = "postgres")]
        {
            postgres_target(url, base, &pool, &params)?
        }
        #[cfg(not(feature = "postgres"))]
        {
            return Err(super::compiled_out(url, "postgres"));
        }
    } else {
        return Err(bad(
            url,
            "unknown scheme; expected sqlite::memory:, sqlite://path, sqlite:///abs/path, postgres://… or host=… dbname=…",
        ));
    };
    Ok(ConnectOptions { target, pool })
}

/// Decodes `%XX` escapes.
pub(super) fn percent_decode(s: &str) -> std::result::Result<String, String> {
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
#[cfg(all(feature = "sqlite", feature = "postgres"))]
mod tests {
    use super::*;

    #[test]
    fn postgres_passwords_may_hold_slash_and_question_mark() {
        let o = ConnectOptions::parse("postgres://u:pa/ss?w@h/db?pool_max_size=2").unwrap();
        assert_eq!(o.pool.max_size_value(), 2);
        match o.target {
            Target::Postgres(t) => {
                let c = t.config;
                assert_eq!(c.get_password(), Some(&b"pa/ss?w"[..]));
                assert_eq!(c.get_dbname(), Some("db"));
            }
            Target::Sqlite(_) => panic!("not postgres"),
        }
        let e = ConnectOptions::parse("postgres://u:p@ss@h/db").unwrap_err();
        assert!(e.to_string().contains("%40"), "{e}");
    }
}
