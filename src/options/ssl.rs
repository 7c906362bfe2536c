//! The TLS parameters of a PostgreSQL URL, read as libpq reads them:
//! `sslmode`, `sslrootcert`, `sslcert` and `sslkey`. tokio-postgres knows
//! only `disable`, `prefer` and `require`, so Sylvan takes these keys itself
//! and tells the driver what to do (see `backend::postgres::tls`).

use std::path::PathBuf;

/// libpq's `sslmode`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SslMode {
    /// Plaintext only.
    Disable,
    /// Plaintext first; TLS (unverified) if the server refuses plaintext.
    Allow,
    /// TLS when the server offers it, unverified; plaintext otherwise.
    Prefer,
    /// TLS or fail; unverified unless `sslrootcert` is given.
    Require,
    /// TLS with the chain verified; the host name is not checked.
    VerifyCa,
    /// TLS with the chain and the host name verified.
    VerifyFull,
}

impl SslMode {
    fn parse(value: &str) -> Result<Self, String> {
        Ok(match value {
            "disable" => SslMode::Disable,
            "allow" => SslMode::Allow,
            "prefer" => SslMode::Prefer,
            "require" => SslMode::Require,
            "verify-ca" => SslMode::VerifyCa,
            "verify-full" => SslMode::VerifyFull,
            other => {
                return Err(format!(
                    "sslmode must be disable, allow, prefer, require, verify-ca or verify-full, not `{other}`"
                ))
            }
        })
    }

    /// The name as written in a URL.
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            SslMode::Disable => "disable",
            SslMode::Allow => "allow",
            SslMode::Prefer => "prefer",
            SslMode::Require => "require",
            SslMode::VerifyCa => "verify-ca",
            SslMode::VerifyFull => "verify-full",
        }
    }

    /// True when the connection must use TLS.
    pub(crate) fn demands_tls(self) -> bool {
        matches!(
            self,
            SslMode::Require | SslMode::VerifyCa | SslMode::VerifyFull
        )
    }
}

impl std::fmt::Display for SslMode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Where the trusted root certificates come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum RootCerts {
    /// `sslrootcert=PATH`: a PEM file of one or more certificates.
    File(PathBuf),
    /// `sslrootcert=system`: the operating system's roots.
    System,
}

/// The `ssl*` parameters of one URL, as given.
#[derive(Debug, Default)]
pub(crate) struct SslParams {
    mode: Option<SslMode>,
    root: Option<RootCerts>,
    cert: Option<PathBuf>,
    key: Option<PathBuf>,
}

/// The TLS settings of a PostgreSQL target, checked for consistency.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SslSettings {
    pub(crate) mode: SslMode,
    /// Given roots; `None` under verify-* means the system's.
    pub(crate) root: Option<RootCerts>,
    /// `sslcert` and `sslkey`.
    pub(crate) client: Option<(PathBuf, PathBuf)>,
}

fn path(key: &str, value: &str) -> Result<PathBuf, String> {
    if value.is_empty() {
        return Err(format!("{key} is empty: give the path of a PEM file"));
    }
    Ok(PathBuf::from(value))
}

impl SslParams {
    /// Takes `key` if it is a TLS parameter Sylvan reads: `Ok(false)`
    /// leaves it to the driver.
    pub(crate) fn take(&mut self, key: &str, value: &str) -> Result<bool, String> {
        match key {
            "sslmode" => self.mode = Some(SslMode::parse(value)?),
            "sslrootcert" if value == "system" => self.root = Some(RootCerts::System),
            "sslrootcert" => self.root = Some(RootCerts::File(path(key, value)?)),
            "sslcert" => self.cert = Some(path(key, value)?),
            "sslkey" => self.key = Some(path(key, value)?),
            "sslcrl" | "sslcrldir" => {
                return Err(format!(
                    "{key} is not supported: Sylvan does not check certificate revocation lists"
                ))
            }
            "sslpassword" => {
                return Err(
                    "sslpassword is not supported: give sslkey an unencrypted key".to_owned(),
                )
            }
            _ => return Ok(false),
        }
        Ok(true)
    }

    /// The settings, checked: `sslrootcert=system` only with verify-full
    /// (which it makes the default, as in libpq), `sslcert` and `sslkey`
    /// together, and without the `tls` feature no mode that demands TLS.
    pub(crate) fn settle(self) -> Result<SslSettings, String> {
        let mode = match (self.mode, &self.root) {
            (None, Some(RootCerts::System)) => SslMode::VerifyFull,
            (None, _) => SslMode::Prefer,
            (Some(mode), _) => mode,
        };
        if self.root == Some(RootCerts::System) && mode != SslMode::VerifyFull {
            return Err(format!(
                "sslrootcert=system needs sslmode=verify-full (a weaker sslmode={mode} with the system's roots would trust any certificate they sign for any host)"
            ));
        }
        let client = match (self.cert, self.key) {
            (Some(cert), Some(key)) => Some((cert, key)),
            (None, None) => None,
            (Some(_), None) => {
                return Err(
                    "sslcert needs sslkey (the client certificate's private key)".to_owned(),
                )
            }
            (None, Some(_)) => {
                return Err("sslkey needs sslcert (the client certificate)".to_owned())
            }
        };
        if !cfg!(feature = "tls") && mode.demands_tls() {
            return Err(format!(
                "sslmode={mode} needs TLS, but Sylvan was built without its `tls` feature (enable it, or use sslmode=disable or prefer)"
            ));
        }
        Ok(SslSettings {
            mode,
            root: self.root,
            client,
        })
    }
}

#[cfg(test)]
#[cfg(all(feature = "sqlite", feature = "postgres"))]
mod tests {
    use super::super::{ConnectOptions, Target};
    use super::*;

    fn ssl(url: &str) -> SslSettings {
        match ConnectOptions::parse(url).unwrap().target {
            Target::Postgres(t) => t.tls.settings().clone(),
            Target::Sqlite(_) => panic!("not postgres"),
        }
    }

    fn refusal(url: &str) -> String {
        let e = ConnectOptions::parse(url).unwrap_err();
        assert!(matches!(e, crate::Error::Config(_)), "{url}: {e:?}");
        e.to_string()
    }

    #[test]
    fn sslmode_defaults_to_prefer_in_both_forms() {
        assert_eq!(ssl("postgres://u@h/db").mode, SslMode::Prefer);
        assert_eq!(ssl("host=h user=u").mode, SslMode::Prefer);
    }

    #[test]
    fn every_sslmode_parses_in_both_forms() {
        for (name, mode) in [
            ("disable", SslMode::Disable),
            ("allow", SslMode::Allow),
            ("prefer", SslMode::Prefer),
        ] {
            assert_eq!(ssl(&format!("postgres://u@h/db?sslmode={name}")).mode, mode);
            assert_eq!(ssl(&format!("host=h sslmode={name}")).mode, mode);
            assert_eq!(mode.as_str(), name);
        }
        for (name, mode) in [
            ("require", SslMode::Require),
            ("verify-ca", SslMode::VerifyCa),
            ("verify-full", SslMode::VerifyFull),
        ] {
            let url = format!("postgres://u@h/db?sslmode={name}");
            let kv = format!("host=h user=u sslmode='{name}'");
            if cfg!(feature = "tls") {
                assert_eq!(ssl(&url).mode, mode);
                assert_eq!(ssl(&kv).mode, mode);
            } else {
                for url in [url, kv] {
                    let e = refusal(&url);
                    assert!(e.contains("`tls` feature"), "{e}");
                }
            }
        }
        let e = refusal("postgres://u:secret@h/db?sslmode=verify_full");
        assert!(
            e.contains("sslmode must be") && !e.contains("secret"),
            "{e}"
        );
        assert!(refusal("host=h sslmode=on").contains("sslmode must be"));
    }

    #[test]
    fn sslrootcert_system_means_verify_full() {
        if !cfg!(feature = "tls") {
            assert!(refusal("postgres://u@h/db?sslrootcert=system").contains("`tls` feature"));
            return;
        }
        let s = ssl("postgres://u@h/db?sslrootcert=system");
        assert_eq!(
            (s.mode, s.root),
            (SslMode::VerifyFull, Some(RootCerts::System))
        );
        let s = ssl("host=h sslrootcert=system sslmode=verify-full");
        assert_eq!(s.root, Some(RootCerts::System));
        for url in [
            "postgres://u@h/db?sslrootcert=system&sslmode=require",
            "host=h sslrootcert=system sslmode=verify-ca",
        ] {
            assert!(refusal(url).contains("verify-full"), "{url}");
        }
    }

    #[test]
    fn ssl_files_are_named_and_checked_in_both_forms() {
        for url in [
            "postgres://u@h/db?sslmode=disable&sslcert=/c.pem",
            "host=h sslmode=disable sslcert=/c.pem",
        ] {
            assert!(refusal(url).contains("sslcert needs sslkey"), "{url}");
        }
        assert!(refusal("host=h sslkey=/k.pem").contains("sslkey needs sslcert"));
        assert!(refusal("host=h sslrootcert=''").contains("sslrootcert is empty"));
        assert!(refusal("postgres://u@h/db?sslcrl=/x").contains("revocation"));
        assert!(refusal("host=h sslpassword=x").contains("unencrypted"));
        // Not read under disable, as in libpq: a file that does not exist
        // is no error.
        let s = ssl("postgres://u@h/db?sslmode=disable&sslcert=/no/c.pem&sslkey=/no/k.pem&sslrootcert=/no/r%20.pem");
        assert_eq!(
            s.client,
            Some((PathBuf::from("/no/c.pem"), PathBuf::from("/no/k.pem")))
        );
        // URL values are percent-decoded.
        assert_eq!(s.root, Some(RootCerts::File(PathBuf::from("/no/r .pem"))));
    }

    #[cfg(feature = "tls")]
    #[test]
    fn missing_ssl_files_are_config_errors_naming_parameter_and_path() {
        for (url, needle) in [
            (
                "postgres://u@h/db?sslmode=verify-full&sslrootcert=/no/such/root.pem",
                "sslrootcert `/no/such/root.pem`",
            ),
            (
                "host=h sslmode=require sslcert=/no/such/c.pem sslkey=/no/such/k.pem",
                "sslcert `/no/such/c.pem`",
            ),
        ] {
            let e = refusal(url);
            assert!(e.contains(needle), "{url}: {e}");
        }
    }
}
