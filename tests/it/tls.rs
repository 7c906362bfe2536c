//! TLS to PostgreSQL: each `sslmode` against the machine's server (`ssl =
//! on`, its certificate read with `SHOW ssl_cert_file`), and against a
//! TLS-terminating relay with certificates made for the test (see
//! `support::tls`), for what the real server cannot show: a certificate no
//! system root holds, a demanded client certificate, a server that
//! refuses plaintext or offers no TLS.

use crate::support::relay::with_host_port;
use crate::support::tls::{no_tls_server, Certs, TlsRelay};
use crate::support::{eventually, pg_base_url, require_pg, with_params};
use std::time::Duration;
use sylvan::prelude::*;
use sylvan::Result;
use sylvan::{PoolConfig, TlsErrorKind};

fn pool() -> PoolConfig {
    PoolConfig::default()
        .max_size(1)
        .create_timeout(Duration::from_secs(5))
}

async fn connect(url: &str) -> Result<Database> {
    Database::builder(url).pool(pool()).connect().await
}

/// The server's certificate file (from `SHOW ssl_cert_file`), or `None`
/// when PostgreSQL is unreachable and not required.
async fn server_cert() -> Option<String> {
    let admin = match connect(&with_params(&pg_base_url(), "sslmode=disable")).await {
        Ok(db) => db,
        Err(e) if !require_pg() => {
            eprintln!("SKIP postgres: {e} (set SYLVAN_REQUIRE_PG=1 to fail instead)");
            return None;
        }
        Err(e) => panic!("PostgreSQL is required (SYLVAN_REQUIRE_PG=1) but unreachable: {e}"),
    };
    let on: String = admin.fetch_one("SHOW ssl", ()).await.unwrap();
    assert_eq!(on, "on", "these tests need a server with ssl = on");
    let file: String = admin.fetch_one("SHOW ssl_cert_file", ()).await.unwrap();
    admin.close();
    Some(file)
}

/// The test server's URL with this host name (same port, database, user).
fn at_host(host: &str, params: &str) -> String {
    let base = pg_base_url();
    let port = crate::support::relay::host_port(&base);
    let port = port.rsplit_once(':').map_or("5432", |(_, p)| p);
    with_params(&with_host_port(&base, &format!("{host}:{port}")), params)
}

async fn session_uses_tls(db: &Database) -> bool {
    db.fetch_one(
        "SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()",
        (),
    )
    .await
    .unwrap()
}

#[tokio::test]
async fn require_and_prefer_use_tls_and_disable_does_not() {
    if server_cert().await.is_none() {
        return;
    }
    for (mode, tls) in [("require", true), ("prefer", true), ("disable", false)] {
        let db = connect(&at_host("127.0.0.1", &format!("sslmode={mode}")))
            .await
            .unwrap_or_else(|e| panic!("sslmode={mode}: {e}"));
        assert_eq!(session_uses_tls(&db).await, tls, "sslmode={mode}");
        db.close();
    }
    // No sslmode at all is prefer.
    let db = connect(&pg_base_url()).await.unwrap();
    assert!(session_uses_tls(&db).await, "the default sslmode is prefer");
    db.close();
}

#[tokio::test]
async fn verify_full_checks_the_host_name_and_verify_ca_does_not() {
    let Some(cert) = server_cert().await else {
        return;
    };
    let root = format!("sslrootcert={cert}");
    let db = connect(&at_host(
        "localhost",
        &format!("sslmode=verify-full&{root}"),
    ))
    .await
    .expect("verify-full for the name on the certificate");
    assert!(session_uses_tls(&db).await);
    db.close();

    let e = connect(&at_host(
        "127.0.0.1",
        &format!("sslmode=verify-full&{root}"),
    ))
    .await
    .unwrap_err();
    assert_eq!(e.tls_kind(), Some(TlsErrorKind::NameMismatch), "{e}");
    let text = e.to_string();
    assert!(
        text.contains("verify-full") && text.contains(&cert),
        "{text}"
    );

    for mode in ["verify-ca", "require"] {
        // require with a root verifies the chain, as in libpq.
        let db = connect(&at_host("127.0.0.1", &format!("sslmode={mode}&{root}")))
            .await
            .unwrap_or_else(|e| panic!("{mode} ignores the host name: {e}"));
        assert!(session_uses_tls(&db).await, "{mode}");
        db.close();
    }
}

#[tokio::test]
async fn verification_fails_closed_on_an_untrusted_certificate() {
    if server_cert().await.is_none() {
        return;
    }
    let Some(certs) = Certs::make() else {
        return;
    };
    // The real server's certificate against a root that did not sign it.
    let other_root = certs.path("ca.pem");
    for mode in ["verify-full", "verify-ca", "require"] {
        let url = at_host(
            "localhost",
            &format!("sslmode={mode}&sslrootcert={}", other_root.display()),
        );
        let e = connect(&url).await.unwrap_err();
        assert_eq!(
            e.tls_kind(),
            Some(TlsErrorKind::UntrustedCertificate),
            "{mode}: {e}"
        );
    }
    // A certificate no system root holds, under verify-full without a
    // root (the system's roots apply).
    let relay = TlsRelay::start(&certs, false).await;
    let url = format!(
        "postgres://postgres@localhost:{}/test?sslmode=verify-full",
        relay.port
    );
    let e = connect(&url).await.unwrap_err();
    assert_eq!(
        e.tls_kind(),
        Some(TlsErrorKind::UntrustedCertificate),
        "{e}"
    );
    assert!(e.to_string().contains("system's roots"), "{e}");
    // The same relay, trusted through its CA: the failure above was the
    // certificate's, not the relay's.
    let db = connect(&format!("{url}&sslrootcert={}", other_root.display()))
        .await
        .expect("the relay's certificate verifies against its CA");
    let one: i32 = db.fetch_one("SELECT 1", ()).await.unwrap();
    assert_eq!(one, 1);
    db.close();
}

#[tokio::test]
async fn a_server_without_tls_is_a_clear_error_when_tls_is_required() {
    let (port, server) = no_tls_server().await;
    for mode in ["require", "verify-full"] {
        let url = format!("postgres://postgres@127.0.0.1:{port}/test?sslmode={mode}");
        let e = connect(&url).await.unwrap_err();
        assert_eq!(
            e.tls_kind(),
            Some(TlsErrorKind::NotSupportedByServer),
            "{mode}: {e:?}"
        );
        let text = e.to_string();
        assert!(
            text.contains("the server does not support TLS")
                && text.contains(&format!("sslmode={mode} asks for it")),
            "{text}"
        );
    }
    server.abort();
}

#[tokio::test]
async fn allow_retries_over_tls_when_the_server_refuses_plaintext() {
    if server_cert().await.is_none() {
        return;
    }
    let Some(certs) = Certs::make() else {
        return;
    };
    let relay = TlsRelay::start(&certs, false).await;
    let db = connect(&format!(
        "postgres://postgres@127.0.0.1:{}/test?sslmode=allow",
        relay.port
    ))
    .await
    .expect("allow falls back to TLS");
    let one: i32 = db.fetch_one("SELECT 1", ()).await.unwrap();
    assert_eq!(one, 1);
    db.close();
    assert_eq!(
        relay
            .plaintext_refused
            .load(std::sync::atomic::Ordering::SeqCst),
        1
    );
    assert_eq!(
        relay.tls_sessions.load(std::sync::atomic::Ordering::SeqCst),
        1
    );
    // A server that takes plaintext gets plaintext.
    let db = connect(&at_host("127.0.0.1", "sslmode=allow"))
        .await
        .unwrap();
    assert!(!session_uses_tls(&db).await);
    db.close();
}

#[tokio::test]
async fn client_certificates_load_in_every_key_format_and_are_sent() {
    if server_cert().await.is_none() {
        return;
    }
    let Some(certs) = Certs::make() else {
        return;
    };
    assert_eq!(certs.pem_label("client.key"), "-----BEGIN PRIVATE KEY-----");
    assert_eq!(
        certs.pem_label("client-rsa.key"),
        "-----BEGIN RSA PRIVATE KEY-----"
    );
    assert_eq!(
        certs.pem_label("client-sec1.key"),
        "-----BEGIN EC PRIVATE KEY-----"
    );
    let relay = TlsRelay::start(&certs, true).await;
    let base = format!(
        "postgres://postgres@localhost:{}/test?sslmode=verify-full&sslrootcert={}",
        relay.port,
        certs.path("ca.pem").display()
    );
    for name in ["client", "client-rsa", "client-sec1"] {
        let url = format!(
            "{base}&sslcert={}&sslkey={}",
            certs.path(&format!("{name}.pem")).display(),
            certs.path(&format!("{name}.key")).display()
        );
        let db = connect(&url)
            .await
            .unwrap_or_else(|e| panic!("{name}: the relay demands a client certificate: {e}"));
        let one: i32 = db.fetch_one("SELECT 1", ()).await.unwrap();
        assert_eq!(one, 1);
        db.close();
    }
    // Without one, the relay ends the handshake.
    let e = connect(&base).await.unwrap_err();
    assert_eq!(e.tls_kind(), Some(TlsErrorKind::Handshake), "{e}");

    // Bad files are configuration errors naming the parameter and path.
    let garbage = certs.path("garbage.key");
    std::fs::write(&garbage, "not a key\n").unwrap();
    for (cert, key, needle) in [
        ("client.pem", "garbage.key", "sslkey `"),
        (
            "client.pem",
            "client-rsa.key",
            "do not make a usable client certificate",
        ),
        ("garbage.key", "client.key", "sslcert `"),
    ] {
        let url = format!(
            "{base}&sslcert={}&sslkey={}",
            certs.path(cert).display(),
            certs.path(key).display()
        );
        let e = connect(&url).await.unwrap_err();
        assert!(matches!(e, Error::Config(_)), "{cert}/{key}: {e:?}");
        let text = e.to_string();
        assert!(
            text.contains(needle) && text.contains(&*certs.dir.path().to_string_lossy()),
            "{text}"
        );
    }
}

#[tokio::test]
async fn an_abandoned_query_over_tls_is_cancelled_over_tls() {
    if server_cert().await.is_none() {
        return;
    }
    let Some(certs) = Certs::make() else {
        return;
    };
    // Through the relay, which refuses plaintext: a cancel request sent in
    // plaintext would be refused and pg_sleep(30) would run on.
    let relay = TlsRelay::start(&certs, false).await;
    let name = format!("t_tls_cancel_{}", std::process::id());
    let db = connect(&format!(
        "postgres://postgres@127.0.0.1:{}/test?sslmode=require&application_name={name}",
        relay.port
    ))
    .await
    .unwrap();
    let admin = connect(&at_host("127.0.0.1", "sslmode=disable"))
        .await
        .unwrap();
    let running = || async {
        admin
            .fetch_one::<i64, _>(
                "SELECT count(*) FROM pg_stat_activity \
                 WHERE application_name = $1 AND state = 'active' AND query LIKE '%pg_sleep(30)%'",
                (name.as_str(),),
            )
            .await
            .unwrap()
    };
    let query = db.fetch_one::<i64, _>("SELECT CAST(1 AS BIGINT) FROM pg_sleep(30)", ());
    let started = async {
        assert!(
            eventually(Duration::from_secs(5), || async { running().await == 1 }).await,
            "pg_sleep(30) never showed up as active"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    tokio::select! {
        r = query => panic!("pg_sleep(30) ended early: {r:?}"),
        () = started => {}
    }
    // The query future is dropped: the connection cancels it on return.
    assert!(
        eventually(Duration::from_secs(5), || async { running().await == 0 }).await,
        "pg_sleep(30) still runs 5 s after it was abandoned"
    );
    use std::sync::atomic::Ordering::SeqCst;
    assert!(
        relay.tls_sessions.load(SeqCst) >= 2,
        "the session and its cancel request both over TLS"
    );
    assert_eq!(relay.plaintext_refused.load(SeqCst), 0);
    admin.close();
    db.close();
}
