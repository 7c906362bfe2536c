//! The libpq `key=value` form (`host=localhost dbname=app …`): telling it
//! from a URL, splitting it into pairs as libpq does, and parsing it.

#[cfg(feature = "postgres")]
use super::params::apply_pool_param;
#[cfg(feature = "postgres")]
use super::postgres::{driver_message, postgres_defaults, PgExtras, PgTarget};
#[cfg(feature = "postgres")]
use super::Target;
use super::{bad, ConnectOptions};
use crate::error::Result;
#[cfg(feature = "postgres")]
use crate::pool::PoolConfig;
#[cfg(feature = "postgres")]
use std::str::FromStr;

/// True for a libpq connection string such as `host=localhost dbname=app`
/// (a first word followed by `=`).
pub(super) fn looks_like_key_value(s: &str) -> bool {
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
pub(super) struct KeyValue<'a> {
    pub(super) key: &'a str,
    #[cfg_attr(not(feature = "postgres"), allow(dead_code))]
    value: String,
    /// Where the value is written (quotes included).
    pub(super) raw: std::ops::Range<usize>,
}

/// Why a libpq connection string does not parse, and what did.
#[derive(Debug)]
pub(super) struct KeyValueError<'a> {
    why: String,
    /// The pairs before the bad part.
    pub(super) parsed: Vec<KeyValue<'a>>,
    /// Where the bad part starts.
    pub(super) at: usize,
}

/// Splits a libpq connection string into its pairs, as libpq does: values
/// are bare words or `'quoted'`, and `\` escapes the next character.
pub(super) fn key_value_pairs(
    s: &str,
) -> std::result::Result<Vec<KeyValue<'_>>, KeyValueError<'_>> {
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

#[cfg(feature = "postgres")]
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

/// A libpq `key=value` connection string: `pool_*` keys for the pool, the
/// rest for tokio-postgres.
#[cfg(feature = "postgres")]
pub(super) fn parse_key_value(url: &str) -> Result<ConnectOptions> {
    let pairs = key_value_pairs(url).map_err(|e| bad(url, e.why))?;
    let mut pool = PoolConfig::default();
    let mut kept = String::new();
    let mut params = Vec::new();
    let mut extras = PgExtras::default();
    for pair in pairs {
        if !apply_pool_param(&mut pool, pair.key, &pair.value).map_err(|why| bad(url, why))?
            && !extras
                .take(pair.key, &pair.value)
                .map_err(|why| bad(url, why))?
        {
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
    let target = PgTarget::new(config, extras).map_err(|why| bad(url, why))?;
    Ok(ConnectOptions {
        target: Target::Postgres(Box::new(target)),
        pool,
    })
}

/// A libpq `key=value` string names a PostgreSQL server, which this build
/// left out (after checking the string is well formed).
#[cfg(not(feature = "postgres"))]
pub(super) fn parse_key_value(url: &str) -> Result<ConnectOptions> {
    key_value_pairs(url).map_err(|e| bad(url, e.why))?;
    Err(super::compiled_out(url, "postgres"))
}

#[cfg(test)]
#[cfg(all(feature = "sqlite", feature = "postgres"))]
mod tests {
    use super::*;
    use crate::error::Error;

    #[test]
    fn key_value_strings_are_postgres() {
        let o = ConnectOptions::parse(
            "host=127.0.0.1 user=postgres dbname=test password='se cr\\'et' pool_max_size=3",
        )
        .unwrap();
        assert_eq!(o.pool.max_size_value(), 3);
        match o.target {
            Target::Postgres(t) => {
                let c = t.config;
                assert_eq!(c.get_user(), Some("postgres"));
                assert_eq!(c.get_dbname(), Some("test"));
                assert_eq!(c.get_password(), Some(&b"se cr'et"[..]));
                assert_eq!(c.get_application_name(), Some("sylvan"));
            }
            Target::Sqlite(_) => panic!("not postgres"),
        }
        let o = ConnectOptions::parse("  dbname = 'a b'  application_name=x\\ y ").unwrap();
        match o.target {
            Target::Postgres(t) => {
                let c = t.config;
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
}
