//! The `sqlite:` URL: the database file (or private in-memory database)
//! and the SQLite parameters.

use super::bad;
use super::duration::parse_duration;
use super::url::percent_decode;
use crate::backend::sqlite::{Location, SqliteOptions};
use crate::error::Result;
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

static NEXT_MEMORY_DB: AtomicUsize = AtomicUsize::new(1);

/// The options of a `sqlite:` URL: `rest` follows the scheme, `params` are
/// its parameters other than the pool's.
pub(super) fn sqlite_options(
    url: &str,
    rest: &str,
    params: Vec<(String, String)>,
) -> Result<SqliteOptions> {
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

#[cfg(test)]
#[cfg(all(feature = "sqlite", feature = "postgres"))]
mod tests {
    use super::super::{ConnectOptions, Target};
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
}
