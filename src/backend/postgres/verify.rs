//! How the server's certificate is checked under each `sslmode`, and the
//! `ClientConfig` built from the URL's `ssl*` files (once per pool).
//!
//! - verify-full: rustls' WebPki verifier, chain and host name (an IP host
//!   must match an IP address SAN).
//! - verify-ca, and require/prefer/allow with `sslrootcert` (libpq verifies
//!   the chain whenever a root is given): [`ChainOnly`], the WebPki
//!   verifier with only its name-mismatch error forgiven.
//! - require/prefer/allow without a root: [`AnyCertificate`], which trusts
//!   any certificate but still checks the handshake signatures, so the
//!   session is bound to the key of the certificate shown (as libpq does).

use crate::options::{RootCerts, SslMode, SslSettings};
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::WebPkiServerVerifier;
use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use rustls::{
    CertificateError, ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme,
};
use std::path::Path;
use std::sync::Arc;

/// The rustls client config for `settings`, or an error naming the
/// parameter and path of a file that cannot be used.
pub(super) fn client_config(settings: &SslSettings) -> Result<ClientConfig, String> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let verifier: Arc<dyn ServerCertVerifier> = match (settings.mode, &settings.root) {
        (SslMode::VerifyFull, root) => webpki(root.as_ref(), &provider)?,
        (SslMode::VerifyCa, root) => Arc::new(ChainOnly(webpki(root.as_ref(), &provider)?)),
        (_, Some(root)) => Arc::new(ChainOnly(webpki(Some(root), &provider)?)),
        (_, None) => Arc::new(AnyCertificate(Arc::clone(&provider))),
    };
    let builder = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("TLS cannot be set up: {e}"))?
        .dangerous()
        .with_custom_certificate_verifier(verifier);
    match &settings.client {
        None => Ok(builder.with_no_client_auth()),
        Some((cert, key)) => {
            let chain = read_certs("sslcert", cert)?;
            let private = PrivateKeyDer::from_pem_file(key).map_err(|e| {
                format!(
                    "sslkey `{}` holds no usable private key (PEM: PKCS#8, PKCS#1 or SEC1): {e}",
                    key.display()
                )
            })?;
            builder.with_client_auth_cert(chain, private).map_err(|e| {
                format!(
                    "sslcert `{}` and sslkey `{}` do not make a usable client certificate: {e}",
                    cert.display(),
                    key.display()
                )
            })
        }
    }
}

/// Every certificate of a PEM file, at least one.
fn read_certs(param: &str, path: &Path) -> Result<Vec<CertificateDer<'static>>, String> {
    let unusable = |why: String| format!("{param} `{}` {why}", path.display());
    let certs = CertificateDer::pem_file_iter(path)
        .map_err(|e| unusable(format!("cannot be read: {e}")))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| unusable(format!("is not valid PEM: {e}")))?;
    if certs.is_empty() {
        return Err(unusable("holds no PEM certificate".to_owned()));
    }
    Ok(certs)
}

/// The WebPki verifier over the given roots (the system's when none).
fn webpki(
    root: Option<&RootCerts>,
    provider: &Arc<CryptoProvider>,
) -> Result<Arc<WebPkiServerVerifier>, String> {
    let mut roots = RootCertStore::empty();
    let from = match root {
        Some(RootCerts::File(path)) => {
            for cert in read_certs("sslrootcert", path)? {
                roots.add(cert).map_err(|e| {
                    format!(
                        "sslrootcert `{}` holds a certificate that cannot be a root: {e}",
                        path.display()
                    )
                })?;
            }
            format!("sslrootcert `{}`", path.display())
        }
        Some(RootCerts::System) | None => {
            let found = rustls_native_certs::load_native_certs();
            let (added, _) = roots.add_parsable_certificates(found.certs);
            if added == 0 {
                let errors: Vec<String> = found.errors.iter().map(|e| e.to_string()).collect();
                return Err(format!(
                    "no system root certificates were found for sslmode verification (give sslrootcert=PATH){}",
                    if errors.is_empty() { String::new() } else { format!(": {}", errors.join("; ")) }
                ));
            }
            "the system's roots".to_owned()
        }
    };
    WebPkiServerVerifier::builder_with_provider(Arc::new(roots), Arc::clone(provider))
        .build()
        .map_err(|e| format!("the roots of {from} cannot verify certificates: {e}"))
}

/// verify-ca: the chain must lead to a trusted root; the name is not
/// checked. The WebPki verifier checks the chain first and the name last,
/// so a name mismatch means the chain was already found good.
#[derive(Debug)]
struct ChainOnly(Arc<WebPkiServerVerifier>);

impl ServerCertVerifier for ChainOnly {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        match self
            .0
            .verify_server_cert(end_entity, intermediates, server_name, ocsp_response, now)
        {
            Err(rustls::Error::InvalidCertificate(
                CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. },
            )) => Ok(ServerCertVerified::assertion()),
            other => other,
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.supported_verify_schemes()
    }
}

/// require/prefer/allow without a root: any certificate, but the
/// handshake's signatures are checked with the provider's algorithms.
#[derive(Debug)]
struct AnyCertificate(Arc<CryptoProvider>);

impl ServerCertVerifier for AnyCertificate {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}
