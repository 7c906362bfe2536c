//! What PostgreSQL gets from a URL or `key=value` string: the
//! tokio-postgres config, the defaults Sylvan adds to it (application name,
//! connect timeout, TCP keepalives), and driver errors spelt out.

use super::ssl::SslParams;
use super::url::percent_decode;
use super::{bad, Target};
use crate::backend::postgres::Tls;
use crate::error::Result;
use crate::pool::PoolConfig;
use std::str::FromStr;
use std::time::Duration;

/// A `postgres://` or `postgresql://` URL, its `?` parameters (`pool_*`
/// already taken out) passed on to tokio-postgres.
pub(super) fn postgres_target(
    url: &str,
    base: &str,
    pool: &PoolConfig,
    params: &[(String, String)],
) -> Result<Target> {
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
    let mut extras = PgExtras::default();
    let mut driver_params = Vec::new();
    for (k, v) in params {
        // Sylvan's own values are percent-decoded as the driver decodes its
        // own (a path may hold a space: `%20`).
        let decoded = percent_decode(v).unwrap_or_else(|_| v.clone());
        if !extras.take(k, &decoded).map_err(|why| bad(url, why))? {
            driver_params.push((k.clone(), v.clone()));
        }
    }
    let mut kept = base.to_owned();
    for (i, (k, v)) in driver_params.iter().enumerate() {
        kept.push(if i == 0 { '?' } else { '&' });
        kept.push_str(k);
        kept.push('=');
        kept.push_str(v);
    }
    let mut config =
        tokio_postgres::Config::from_str(&kept).map_err(|e| bad(url, driver_message(&e)))?;
    postgres_defaults(&mut config, pool, params);
    let target = PgTarget::new(config, extras).map_err(|why| bad(url, why))?;
    Ok(Target::Postgres(Box::new(target)))
}

/// Everything needed to open connections to one PostgreSQL server: the
/// tokio-postgres config and the settings Sylvan reads itself.
#[derive(Debug, Clone)]
pub(crate) struct PgTarget {
    pub(crate) config: tokio_postgres::Config,
    /// How connections use TLS: the `sslmode` and the connector, built once
    /// here and shared by every connection and cancel request.
    pub(crate) tls: std::sync::Arc<Tls>,
    /// `pooler=transaction`: a transaction-mode pooler (PgBouncer, …) sits
    /// in front of the server, so each transaction may run on a different
    /// server session: unnamed statements only, no session state (see
    /// `DatabaseBuilder::transaction_pooler`).
    pub(crate) transaction_pooler: bool,
}

impl PgTarget {
    /// Checks the extras and builds what they describe (the TLS connector
    /// reads its certificate files now): the error names the parameter.
    pub(crate) fn new(
        mut config: tokio_postgres::Config,
        extras: PgExtras,
    ) -> std::result::Result<Self, String> {
        let PgExtras {
            ssl,
            transaction_pooler,
        } = extras;
        let tls = Tls::new(ssl.settle()?)?;
        config.ssl_mode(tls.first_driver_mode());
        Ok(PgTarget {
            config,
            tls: std::sync::Arc::new(tls),
            transaction_pooler: transaction_pooler.unwrap_or(false),
        })
    }
}

/// URL parameters Sylvan reads itself rather than tokio-postgres (which
/// would refuse them as unknown options, or know only some of their
/// values, as with `sslmode`).
#[derive(Debug, Default)]
pub(crate) struct PgExtras {
    ssl: SslParams,
    transaction_pooler: Option<bool>,
}

impl PgExtras {
    /// Takes `key` if it is Sylvan's: `Ok(false)` leaves it to the driver.
    pub(crate) fn take(&mut self, key: &str, value: &str) -> std::result::Result<bool, String> {
        match key {
            "pooler" => {
                self.transaction_pooler = Some(match value {
                    "transaction" => true,
                    "none" | "session" => false,
                    other => {
                        return Err(format!(
                            "pooler: `{other}` is not one of `transaction` (a transaction-mode pooler such as PgBouncer's pool_mode=transaction), `session` or `none`"
                        ))
                    }
                });
                Ok(true)
            }
            _ => self.ssl.take(key, value),
        }
    }
}

/// A tokio-postgres error with its causes ("invalid connection string:
/// unknown option `x`"): the driver's own message names no parameter.
pub(super) fn driver_message(e: &tokio_postgres::Error) -> String {
    let mut message = e.to_string();
    let mut cause = std::error::Error::source(e);
    while let Some(c) = cause {
        message.push_str(": ");
        message.push_str(&c.to_string());
        cause = c.source();
    }
    message
}

/// Settings PostgreSQL gets whatever the URL's form.
pub(super) fn postgres_defaults(
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

#[cfg(test)]
#[cfg(all(feature = "sqlite", feature = "postgres"))]
mod tests {
    use super::super::ConnectOptions;
    use super::*;

    #[test]
    fn postgres_url_keeps_driver_params() {
        let o = ConnectOptions::parse(
            "postgres://postgres@127.0.0.1:5432/test?application_name=x&pool_max_size=2",
        )
        .unwrap();
        assert_eq!(o.pool.max_size_value(), 2);
        match o.target {
            Target::Postgres(t) => {
                let c = t.config;
                assert_eq!(c.get_application_name(), Some("x"));
                assert_eq!(c.get_dbname(), Some("test"));
            }
            Target::Sqlite(_) => panic!("not postgres"),
        }
    }

    #[test]
    fn keepalive_defaults_unless_the_url_sets_them() {
        let pg = |url: &str| match ConnectOptions::parse(url).unwrap().target {
            Target::Postgres(t) => t.config,
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
    fn pooler_parameter_in_both_forms() {
        let pooler = |url: &str| match ConnectOptions::parse(url).unwrap().target {
            Target::Postgres(t) => t.transaction_pooler,
            Target::Sqlite(_) => panic!("not postgres"),
        };
        assert!(!pooler("postgres://u@h/db"));
        assert!(pooler(
            "postgres://u@h/db?pooler=transaction&application_name=x"
        ));
        assert!(!pooler("postgres://u@h/db?pooler=session"));
        assert!(pooler("host=h user=u pooler=transaction"));
        assert!(!pooler("host=h user=u pooler=none"));
        let e = ConnectOptions::parse("postgres://u:secret@h/db?pooler=statement")
            .unwrap_err()
            .to_string();
        assert!(e.contains("pooler") && e.contains("transaction"), "{e}");
        assert!(!e.contains("secret"), "{e}");
    }
}
