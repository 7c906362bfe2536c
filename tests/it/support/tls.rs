//! TLS test support: certificates made with the `openssl` command in a
//! temporary directory, and a TLS-terminating relay in front of the test
//! PostgreSQL that shows its own certificate (and may demand a client
//! certificate), so tests control what the client sees.
//!
//! The relay speaks PostgreSQL's TLS opening: it answers an 8-byte
//! SSLRequest with `S`, completes the TLS handshake, and forwards the
//! decrypted bytes to PostgreSQL in plaintext. A client that starts in
//! plaintext gets a FATAL ErrorResponse (as from a `hostssl`-only
//! pg_hba.conf). Its tasks run on the test's runtime and end with it.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio_rustls::rustls;
use tokio_rustls::rustls::pki_types::pem::PemObject;
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer};

/// Certificates in a temporary directory: a CA, a server certificate for
/// `localhost` it signed, and client certificates it signed (keys in
/// PKCS#8, PKCS#1 and SEC1 PEM).
pub struct Certs {
    pub dir: tempfile::TempDir,
}

const SCRIPT: &str = r#"set -e
ec="-newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes"
openssl req -x509 $ec -keyout ca.key -out ca.pem -days 2 -subj /CN=sylvan-test-ca \
  -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign
sign() { # name key-options subject extension
  openssl req -new $2 -keyout $1.key -out $1.csr -subj "$3" 2>/dev/null
  printf "$4\n" > $1.ext
  openssl x509 -req -in $1.csr -CA ca.pem -CAkey ca.key -CAcreateserial -out $1.pem -days 2 -extfile $1.ext 2>/dev/null
}
sign server "$ec" /CN=localhost "subjectAltName=DNS:localhost\nextendedKeyUsage=serverAuth"
sign client "$ec" /CN=postgres "extendedKeyUsage=clientAuth"
openssl genrsa -traditional -out client-rsa.key 2048 2>/dev/null
openssl req -new -key client-rsa.key -out client-rsa.csr -subj /CN=postgres
printf "extendedKeyUsage=clientAuth\n" > client-rsa.ext
openssl x509 -req -in client-rsa.csr -CA ca.pem -CAkey ca.key -CAcreateserial -out client-rsa.pem -days 2 -extfile client-rsa.ext 2>/dev/null
openssl ecparam -name prime256v1 -genkey -noout -out client-sec1.key
openssl req -new -key client-sec1.key -out client-sec1.csr -subj /CN=postgres
openssl x509 -req -in client-sec1.csr -CA ca.pem -CAkey ca.key -CAcreateserial -out client-sec1.pem -days 2 -extfile client-rsa.ext 2>/dev/null
"#;

impl Certs {
    /// Makes the certificates, or `None` (with a message) when `openssl`
    /// is missing and PostgreSQL is not required.
    pub fn make() -> Option<Certs> {
        let dir = tempfile::tempdir().expect("tempdir");
        match Command::new("sh")
            .arg("-c")
            .arg(SCRIPT)
            .current_dir(dir.path())
            .output()
        {
            Ok(out) if out.status.success() => Some(Certs { dir }),
            outcome => {
                let why = format!("cannot make test certificates with openssl: {outcome:?}");
                assert!(!super::require_pg(), "{why}");
                eprintln!("SKIP postgres: {why}");
                None
            }
        }
    }

    pub fn path(&self, file: &str) -> PathBuf {
        self.dir.path().join(file)
    }

    /// The first line of a PEM file (to check the key formats are the
    /// ones a test means).
    pub fn pem_label(&self, file: &str) -> String {
        let text = std::fs::read_to_string(self.path(file)).expect("read pem");
        text.lines().next().unwrap_or_default().to_owned()
    }
}

fn certs(path: &Path) -> Vec<CertificateDer<'static>> {
    CertificateDer::pem_file_iter(path)
        .expect("pem")
        .collect::<Result<_, _>>()
        .expect("pem certs")
}

/// A TLS-terminating relay to the test PostgreSQL (see the module doc).
pub struct TlsRelay {
    pub port: u16,
    /// TLS sessions completed.
    pub tls_sessions: Arc<AtomicUsize>,
    /// Plaintext startups refused.
    pub plaintext_refused: Arc<AtomicUsize>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for TlsRelay {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl TlsRelay {
    /// Starts a relay showing `server.pem`; with `client_ca`, it demands a
    /// client certificate signed by that CA.
    pub async fn start(certs: &Certs, client_ca: bool) -> TlsRelay {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let builder = rustls::ServerConfig::builder_with_provider(Arc::clone(&provider))
            .with_safe_default_protocol_versions()
            .unwrap();
        let builder = if client_ca {
            let mut roots = rustls::RootCertStore::empty();
            for c in self::certs(&certs.path("ca.pem")) {
                roots.add(c).unwrap();
            }
            let verifier =
                rustls::server::WebPkiClientVerifier::builder_with_provider(roots.into(), provider)
                    .build()
                    .unwrap();
            builder.with_client_cert_verifier(verifier)
        } else {
            builder.with_no_client_auth()
        };
        let key = PrivateKeyDer::from_pem_file(certs.path("server.key")).unwrap();
        let config = builder
            .with_single_cert(self::certs(&certs.path("server.pem")), key)
            .unwrap();
        let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let upstream = super::relay::host_port(&super::pg_base_url());
        let tls_sessions = Arc::new(AtomicUsize::new(0));
        let plaintext_refused = Arc::new(AtomicUsize::new(0));
        let (sessions, refused) = (Arc::clone(&tls_sessions), Arc::clone(&plaintext_refused));
        let task = tokio::spawn(async move {
            while let Ok((socket, _)) = listener.accept().await {
                let (acceptor, upstream) = (acceptor.clone(), upstream.clone());
                let (sessions, refused) = (Arc::clone(&sessions), Arc::clone(&refused));
                tokio::spawn(async move {
                    let _ = serve(socket, acceptor, &upstream, &sessions, &refused).await;
                });
            }
        });
        TlsRelay {
            port,
            tls_sessions,
            plaintext_refused,
            task,
        }
    }
}

/// PostgreSQL's SSLRequest: length 8, code 80877103.
const SSL_REQUEST: [u8; 8] = [0, 0, 0, 8, 4, 210, 22, 47];

async fn serve(
    mut socket: TcpStream,
    acceptor: tokio_rustls::TlsAcceptor,
    upstream: &str,
    sessions: &AtomicUsize,
    refused: &AtomicUsize,
) -> std::io::Result<()> {
    let mut first = [0u8; 8];
    socket.read_exact(&mut first).await?;
    if first != SSL_REQUEST {
        refused.fetch_add(1, Ordering::SeqCst);
        let fields: &[u8] =
            b"SFATAL\0VFATAL\0C28000\0Mno pg_hba.conf entry: this test server accepts TLS only\0\0";
        let mut reply = vec![b'E'];
        reply.extend_from_slice(&(fields.len() as u32 + 4).to_be_bytes());
        reply.extend_from_slice(fields);
        socket.write_all(&reply).await?;
        return Ok(());
    }
    socket.write_all(b"S").await?;
    let mut tls = acceptor.accept(socket).await?;
    sessions.fetch_add(1, Ordering::SeqCst);
    let mut pg = TcpStream::connect(upstream).await?;
    tokio::io::copy_bidirectional(&mut tls, &mut pg).await?;
    Ok(())
}

/// A loopback listener that answers every SSLRequest with `N`, as a server
/// without TLS does, then closes. Returns its port.
pub async fn no_tls_server() -> (u16, tokio::task::JoinHandle<()>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let task = tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            tokio::spawn(async move {
                let mut first = [0u8; 8];
                if socket.read_exact(&mut first).await.is_ok() && first == SSL_REQUEST {
                    let _ = socket.write_all(b"N").await;
                }
            });
        }
    });
    (port, task)
}
