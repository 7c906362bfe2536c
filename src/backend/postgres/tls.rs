//! How a PostgreSQL connection uses TLS: libpq's `sslmode` on top of
//! tokio-postgres, which knows only disable/prefer/require.
//!
//! The rustls connector is built once per pool (when the URL is parsed),
//! and every connection and every cancel request of the pool goes through
//! it; a cancel request travels the way its session did (the driver's
//! cancel token remembers the mode the session was opened with).
//!
//! - `disable`: plaintext.
//! - `allow`: plaintext; if the server refuses the session (an error
//!   response, as from a `hostssl`-only pg_hba.conf), once more over
//!   unverified TLS.
//! - `prefer` (the default): TLS when the server offers it, else
//!   plaintext; if the TLS handshake itself fails, once more in plaintext
//!   (as libpq does).
//! - `require`, `verify-ca`, `verify-full`: TLS or [`Error::Tls`].
//!
//! Without the `tls` feature, `allow` and `prefer` are plaintext (like a
//! libpq built without SSL) and the modes that demand TLS are refused when
//! the URL is parsed.

use crate::error::{Error, Result, TlsErrorKind};
#[cfg(feature = "tls")]
use crate::options::RootCerts;
use crate::options::{SslMode, SslSettings};
use std::future::Future;
use std::pin::Pin;
use tokio_postgres::config::SslMode as DriverMode;
use tokio_postgres::{CancelToken, Client, Config, NoTls};

/// A connection's driver task, whatever its stream.
pub(crate) type Driver =
    Pin<Box<dyn Future<Output = std::result::Result<(), tokio_postgres::Error>> + Send>>;

/// The TLS side of a PostgreSQL target: the settings and, with the `tls`
/// feature, the rustls connector built from them.
#[derive(Clone)]
pub(crate) struct Tls {
    settings: SslSettings,
    #[cfg(feature = "tls")]
    connector: Option<tokio_postgres_rustls::MakeRustlsConnect>,
}

impl std::fmt::Debug for Tls {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tls")
            .field("settings", &self.settings)
            .field("enabled", &self.enabled())
            .finish()
    }
}

impl Tls {
    /// Builds the connector for `settings` (reading the certificate files)
    /// unless the mode never uses TLS.
    pub(crate) fn new(settings: SslSettings) -> std::result::Result<Self, String> {
        #[cfg(feature = "tls")]
        {
            let connector = match settings.mode {
                SslMode::Disable => None,
                _ => Some(tokio_postgres_rustls::MakeRustlsConnect::new(
                    super::verify::client_config(&settings)?,
                )),
            };
            Ok(Tls {
                settings,
                connector,
            })
        }
        #[cfg(not(feature = "tls"))]
        Ok(Tls { settings })
    }

    /// The settings this was built from.
    #[cfg(test)]
    #[cfg(feature = "sqlite")]
    pub(crate) fn settings(&self) -> &SslSettings {
        &self.settings
    }

    /// True when connections may use TLS.
    fn enabled(&self) -> bool {
        #[cfg(feature = "tls")]
        return self.connector.is_some();
        #[cfg(not(feature = "tls"))]
        false
    }

    /// The driver's mode for the first connection attempt.
    pub(crate) fn first_driver_mode(&self) -> DriverMode {
        match self.settings.mode {
            _ if !self.enabled() => DriverMode::Disable,
            SslMode::Disable | SslMode::Allow => DriverMode::Disable,
            SslMode::Prefer => DriverMode::Prefer,
            SslMode::Require | SslMode::VerifyCa | SslMode::VerifyFull => DriverMode::Require,
        }
    }

    /// Opens a session with `config` (whose `ssl_mode` is
    /// [`Tls::first_driver_mode`]), trying once more as `allow` and
    /// `prefer` ask. Not bounded here: the caller bounds the whole.
    pub(crate) async fn connect(&self, config: &Config) -> Result<(Client, Driver)> {
        let first = self.attempt(config).await;
        let retry = match (&first, self.settings.mode) {
            (Err(e), SslMode::Allow) if self.enabled() && e.as_db_error().is_some() => {
                Some(DriverMode::Require)
            }
            (Err(e), SslMode::Prefer) if self.enabled() && handshake_failed(e) => {
                Some(DriverMode::Disable)
            }
            _ => None,
        };
        let result = match retry {
            Some(mode) => {
                tracing::debug!(target: "sylvan::pool", sslmode = %self.settings.mode, "connecting once more with the driver's ssl_mode {mode:?}");
                let mut config = config.clone();
                config.ssl_mode(mode);
                self.attempt(&config).await
            }
            None => first,
        };
        result.map_err(|e| self.error(e))
    }

    /// One connection attempt. The driver's connect futures are boxed: the
    /// TLS one is several kilobytes, and it would otherwise sit inline in
    /// every future that opens a connection (a test's stack overflowed).
    async fn attempt(
        &self,
        config: &Config,
    ) -> std::result::Result<(Client, Driver), tokio_postgres::Error> {
        #[cfg(feature = "tls")]
        if let Some(connector) = &self.connector {
            let (client, connection) = Box::pin(config.connect(connector.clone())).await?;
            return Ok((client, Box::pin(connection)));
        }
        let (client, connection) = Box::pin(config.connect(NoTls)).await?;
        Ok((client, Box::pin(connection)))
    }

    /// Sends a cancel request for the session of `token`, over TLS if the
    /// session used it. Not bounded here.
    pub(crate) async fn cancel(
        &self,
        token: &CancelToken,
    ) -> std::result::Result<(), tokio_postgres::Error> {
        // Boxed, like the connect futures (see `attempt`).
        #[cfg(feature = "tls")]
        if let Some(connector) = &self.connector {
            return Box::pin(token.cancel_query(connector.clone())).await;
        }
        Box::pin(token.cancel_query(NoTls)).await
    }

    /// A connect failure as Sylvan's error: [`Error::Tls`] when TLS is
    /// the cause, [`Error::Connect`] otherwise.
    fn error(&self, e: tokio_postgres::Error) -> Error {
        let mode = self.settings.mode;
        if refused_tls(&e) {
            return Error::Tls {
                kind: TlsErrorKind::NotSupportedByServer,
                message: format!("the server does not support TLS, and sslmode={mode} asks for it"),
            };
        }
        #[cfg(feature = "tls")]
        if let Some(cause) = rustls_cause(&e) {
            let kind = classify(cause);
            let roots = match (&self.settings.root, mode) {
                (Some(RootCerts::File(path)), _) => {
                    format!("roots from sslrootcert `{}`", path.display())
                }
                (Some(RootCerts::System), _) | (None, SslMode::VerifyCa | SslMode::VerifyFull) => {
                    "the system's roots".to_owned()
                }
                (None, _) => "no certificate verification".to_owned(),
            };
            let hint = match kind {
                TlsErrorKind::NameMismatch => " (connect by a name the certificate holds, or check the chain only with sslmode=verify-ca)",
                _ => "",
            };
            return Error::Tls {
                kind,
                message: format!("{kind} (sslmode={mode}, {roots}): {cause}{hint}"),
            };
        }
        Error::Connect { source: e.into() }
    }
}

/// The driver's error when the server answered the TLS request with `N`
/// under its `require` (tokio-postgres has no other way to tell it).
fn refused_tls(e: &tokio_postgres::Error) -> bool {
    std::error::Error::source(e).is_some_and(|s| s.to_string() == "server does not support TLS")
}

/// True when the TLS handshake itself failed (not the network, not the
/// server's refusal of TLS).
fn handshake_failed(e: &tokio_postgres::Error) -> bool {
    #[cfg(feature = "tls")]
    return rustls_cause(e).is_some();
    #[cfg(not(feature = "tls"))]
    {
        let _ = e;
        false
    }
}

/// The rustls error under a driver error. tokio-rustls wraps it in an
/// `io::Error`, whose `source()` skips the wrapped error itself, so each
/// `io::Error` of the chain is opened by hand.
#[cfg(feature = "tls")]
fn rustls_cause(e: &tokio_postgres::Error) -> Option<&rustls::Error> {
    let mut next: Option<&(dyn std::error::Error + 'static)> = std::error::Error::source(e);
    while let Some(cause) = next {
        if let Some(r) = cause.downcast_ref::<rustls::Error>() {
            return Some(r);
        }
        if let Some(r) = cause
            .downcast_ref::<std::io::Error>()
            .and_then(|io| io.get_ref())
            .and_then(|inner| inner.downcast_ref::<rustls::Error>())
        {
            return Some(r);
        }
        next = cause.source();
    }
    None
}

#[cfg(feature = "tls")]
fn classify(e: &rustls::Error) -> TlsErrorKind {
    use rustls::CertificateError as C;
    match e {
        rustls::Error::InvalidCertificate(
            C::NotValidForName | C::NotValidForNameContext { .. },
        ) => TlsErrorKind::NameMismatch,
        rustls::Error::InvalidCertificate(_) => TlsErrorKind::UntrustedCertificate,
        _ => TlsErrorKind::Handshake,
    }
}
