//! Parsing connection URLs; the accepted forms are documented at the crate root.
//!
//! A URL ([`url`]) or a libpq `key=value` string ([`key_value`]) names a
//! backend ([`sqlite`], [`postgres`]) and may carry pool parameters
//! ([`params`], with [`duration`]s); errors show it with passwords hidden
//! ([`redact`]).

mod duration;
mod key_value;
mod params;
#[cfg(feature = "postgres")]
mod postgres;
mod redact;
#[cfg(feature = "sqlite")]
mod sqlite;
#[cfg(feature = "postgres")]
mod ssl;
mod url;

#[cfg(feature = "sqlite")]
use crate::backend::sqlite::SqliteOptions;
use crate::error::{Error, Result};
use crate::pool::PoolConfig;
#[cfg(feature = "postgres")]
pub(crate) use postgres::PgTarget;
#[cfg(feature = "tls")]
pub(crate) use ssl::RootCerts;
#[cfg(feature = "postgres")]
pub(crate) use ssl::{SslMode, SslSettings};

/// What a URL names.
#[derive(Debug)]
pub(crate) enum Target {
    #[cfg(feature = "sqlite")]
    Sqlite(SqliteOptions),
    #[cfg(feature = "postgres")]
    Postgres(Box<PgTarget>),
}

/// A parsed URL: the database and the pool settings.
#[derive(Debug)]
pub(crate) struct ConnectOptions {
    pub(crate) target: Target,
    pub(crate) pool: PoolConfig,
}

fn bad(url: &str, why: impl std::fmt::Display) -> Error {
    Error::Config(format!("bad database URL `{}`: {why}", redact::redact(url)))
}

/// A URL for a backend this build of Sylvan left out (its cargo feature,
/// `sqlite` or `postgres`, is off).
#[cfg(not(all(feature = "sqlite", feature = "postgres")))]
fn compiled_out(url: &str, feature: &str) -> Error {
    Error::Config(format!(
        "cannot open `{}`: Sylvan was built without the `{feature}` feature; enable it in Cargo.toml (`features = [\"{feature}\"]`)",
        redact::redact(url)
    ))
}

impl ConnectOptions {
    /// Parses a connection URL.
    pub(crate) fn parse(url: &str) -> Result<Self> {
        if !url::is_url(url) && !url.starts_with("sqlite:") && key_value::looks_like_key_value(url)
        {
            return key_value::parse_key_value(url);
        }
        url::parse_url(url)
    }
}

#[cfg(test)]
#[cfg(all(feature = "sqlite", feature = "postgres"))]
mod tests {
    use super::*;

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
}

#[cfg(test)]
#[cfg(not(all(feature = "sqlite", feature = "postgres")))]
mod compiled_out_tests {
    use super::*;

    #[test]
    fn a_url_for_a_left_out_backend_names_the_feature() {
        #[cfg(not(feature = "postgres"))]
        let urls = ["postgres://u:secret@h/db", "host=h user=u password=secret"];
        #[cfg(not(feature = "sqlite"))]
        let urls = ["sqlite::memory:", "sqlite://secret.db"];
        let feature = if cfg!(feature = "postgres") {
            "sqlite"
        } else {
            "postgres"
        };
        for url in urls {
            let e = ConnectOptions::parse(url).unwrap_err();
            assert!(matches!(e, Error::Config(_)), "{url}: {e:?}");
            let text = e.to_string();
            assert!(
                text.contains(&format!("built without the `{feature}` feature")),
                "{url}: {text}"
            );
            if url.contains("password") || url.contains("u:secret") {
                assert!(!text.contains("secret"), "password leaked: {text}");
            }
        }
    }
}
