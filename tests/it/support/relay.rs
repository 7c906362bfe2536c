//! A TCP fault relay in front of the test PostgreSQL: tokio, loopback only,
//! controllable while tests run.
//!
//! The relay listens on `127.0.0.1:<random port>` and forwards to the host
//! and port of [`pg_base_url`](super::pg_base_url). Faults apply separately
//! to the connections already open ([`Relay::set_existing`]) and to those
//! accepted from now on ([`Relay::set_new`]):
//!
//! | [`Fault`] | existing connections | new connections |
//! |---|---|---|
//! | `Pass` | forward | accept, connect upstream, forward |
//! | `Delay(d)` | sleep `d` before forwarding each chunk, both directions | same |
//! | `Blackhole` | stop forwarding (stop reading: data stays in the kernel buffers and flows again on `Pass`); sockets stay open, never a FIN or RST | accept, never forward, never connect upstream |
//! | `Stall` | — | same as `Blackhole` (accept-then-stall) |
//! | `Reset` | RST both sides (`SO_LINGER` 0, then close) | accept, then RST |
//! | `Refuse` | — | the listener is closed: connecting fails with `ECONNREFUSED`; the port is bound again when the mode changes |
//! | `CutAfter(n)` | forward `n` more bytes (both directions together), then RST | same, counted from the accept |
//!
//! Every task selects on the relay's shutdown signal, so all of them end
//! when the [`Relay`] is dropped (open sockets then close with a FIN); every
//! loop ends at that signal or at end of stream.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::{TcpListener, TcpSocket, TcpStream};
use tokio::sync::watch;

/// What the relay does to a connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// Forward everything.
    Pass,
    /// Wait this long before forwarding each chunk read, in each direction.
    Delay(Duration),
    /// Keep the sockets open and forward nothing.
    Blackhole,
    /// New connections only: accept and never forward.
    Stall,
    /// Send an RST to both sides.
    Reset,
    /// New connections only: refuse them (the listener is closed).
    Refuse,
    /// Forward this many more bytes (both directions together), then reset.
    CutAfter(u64),
}

impl Fault {
    fn forwards(self) -> bool {
        !matches!(self, Fault::Blackhole | Fault::Stall | Fault::Refuse)
    }
}

/// Control block of one relayed connection.
struct Link {
    mode: watch::Sender<Fault>,
    /// Bytes still allowed under `CutAfter`.
    budget: AtomicU64,
}

impl Link {
    fn set(&self, fault: Fault) {
        if let Fault::CutAfter(n) = fault {
            self.budget.store(n, Ordering::SeqCst);
        }
        self.mode.send_replace(fault);
    }
}

struct Shared {
    upstream: String,
    new_mode: watch::Sender<Fault>,
    links: Mutex<Vec<Weak<Link>>>,
    accepted: AtomicUsize,
}

/// A running relay; its tasks end when it is dropped.
pub struct Relay {
    addr: SocketAddr,
    shared: Arc<Shared>,
    _shutdown: watch::Sender<()>,
}

impl std::fmt::Debug for Relay {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Relay")
            .field("addr", &self.addr)
            .field("upstream", &self.shared.upstream)
            .finish_non_exhaustive()
    }
}

/// `host:port` of a `postgres://` URL (port 5432 when absent).
pub fn host_port(url: &str) -> String {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    let authority = &rest[..rest.find(['/', '?']).unwrap_or(rest.len())];
    let host = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    if host
        .rsplit_once(':')
        .is_some_and(|(_, p)| p.parse::<u16>().is_ok())
    {
        host.to_owned()
    } else {
        format!("{host}:5432")
    }
}

/// `url` with its `host:port` replaced by `addr`, path and parameters kept.
pub fn with_host_port(url: &str, addr: &str) -> String {
    let (scheme, rest) = url.split_once("://").unwrap_or(("postgres", url));
    let end = rest.find(['/', '?']).unwrap_or(rest.len());
    let authority = &rest[..end];
    let user = authority
        .rsplit_once('@')
        .map(|(u, _)| format!("{u}@"))
        .unwrap_or_default();
    format!("{scheme}://{user}{addr}{}", &rest[end..])
}

fn bind(addr: SocketAddr) -> std::io::Result<TcpListener> {
    let socket = TcpSocket::new_v4()?;
    socket.set_reuseaddr(true)?;
    socket.bind(addr)?;
    socket.listen(128)
}

impl Relay {
    /// Starts a relay to the test PostgreSQL, every mode `Pass`.
    pub async fn start() -> Relay {
        Relay::start_to(host_port(&super::pg_base_url())).await
    }

    /// Starts a relay to `upstream` (`host:port`).
    pub async fn start_to(upstream: String) -> Relay {
        let listener = bind(SocketAddr::from(([127, 0, 0, 1], 0))).expect("relay bind");
        let addr = listener.local_addr().expect("relay addr");
        let (shutdown, shutdown_rx) = watch::channel(());
        let shared = Arc::new(Shared {
            upstream,
            new_mode: watch::channel(Fault::Pass).0,
            links: Mutex::new(Vec::new()),
            accepted: AtomicUsize::new(0),
        });
        tokio::spawn(accept_loop(
            listener,
            addr,
            Arc::clone(&shared),
            shutdown_rx,
        ));
        Relay {
            addr,
            shared,
            _shutdown: shutdown,
        }
    }

    /// The relay's port on 127.0.0.1.
    pub fn port(&self) -> u16 {
        self.addr.port()
    }

    /// `url` (say a [`TestDb`](super::TestDb)'s, with its `options` and
    /// `application_name`) pointed at the relay instead of the server.
    pub fn url(&self, url: &str) -> String {
        with_host_port(url, &self.addr.to_string())
    }

    /// Applies `fault` to every connection open now. `Refuse` and `Stall`
    /// concern new connections only.
    pub fn set_existing(&self, fault: Fault) {
        assert!(
            !matches!(fault, Fault::Refuse | Fault::Stall),
            "{fault:?} applies to new connections only"
        );
        let mut links = self.shared.links.lock().unwrap();
        links.retain(|l| l.strong_count() > 0);
        for link in links.iter().filter_map(Weak::upgrade) {
            link.set(fault);
        }
    }

    /// Applies `fault` to connections accepted from now on.
    pub fn set_new(&self, fault: Fault) {
        self.shared.new_mode.send_replace(fault);
    }

    /// Both [`Relay::set_existing`] and [`Relay::set_new`] (`Refuse` and
    /// `Stall` only to new ones; existing ones are then blackholed).
    pub fn set_all(&self, fault: Fault) {
        self.set_new(fault);
        self.set_existing(match fault {
            Fault::Refuse | Fault::Stall => Fault::Blackhole,
            other => other,
        });
    }

    /// Connections accepted so far.
    pub fn accepted(&self) -> usize {
        self.shared.accepted.load(Ordering::SeqCst)
    }

    /// Connections still open.
    pub fn open(&self) -> usize {
        let mut links = self.shared.links.lock().unwrap();
        links.retain(|l| l.strong_count() > 0);
        links.len()
    }
}

async fn accept_loop(
    listener: TcpListener,
    addr: SocketAddr,
    shared: Arc<Shared>,
    mut shutdown: watch::Receiver<()>,
) {
    let mut listener = Some(listener);
    let mut new_mode = shared.new_mode.subscribe();
    loop {
        let mode = *new_mode.borrow_and_update();
        if mode == Fault::Refuse {
            listener = None;
        } else if listener.is_none() {
            match bind(addr) {
                Ok(l) => listener = Some(l),
                Err(e) => {
                    eprintln!("relay: cannot bind {addr} again: {e}");
                    // Try again shortly (or at shutdown).
                    tokio::select! {
                        _ = tokio::time::sleep(Duration::from_millis(20)) => continue,
                        _ = shutdown.changed() => return,
                    }
                }
            }
        }
        let Some(l) = &listener else {
            tokio::select! {
                _ = new_mode.changed() => continue,
                _ = shutdown.changed() => return,
            }
        };
        tokio::select! {
            accepted = l.accept() => {
                let Ok((client, _)) = accepted else { continue };
                let _ = client.set_nodelay(true);
                shared.accepted.fetch_add(1, Ordering::SeqCst);
                let mode = *shared.new_mode.borrow();
                let link = Arc::new(Link {
                    mode: watch::channel(mode).0,
                    budget: AtomicU64::new(0),
                });
                link.set(mode);
                shared.links.lock().unwrap().push(Arc::downgrade(&link));
                tokio::spawn(serve(client, link, shared.upstream.clone(), shutdown.clone()));
            }
            _ = new_mode.changed() => {}
            _ = shutdown.changed() => return,
        }
    }
}

fn reset(stream: TcpStream) {
    let _ = stream.set_zero_linger();
    drop(stream);
}

/// How a pump ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum End {
    Eof,
    Reset,
    Shutdown,
}

async fn serve(
    client: TcpStream,
    link: Arc<Link>,
    upstream: String,
    mut shutdown: watch::Receiver<()>,
) {
    let mut mode = link.mode.subscribe();
    // Connect upstream only once the connection is to be forwarded.
    loop {
        let m = *mode.borrow_and_update();
        if m == Fault::Reset {
            return reset(client);
        }
        if m.forwards() {
            break;
        }
        tokio::select! {
            changed = mode.changed() => if changed.is_err() { return },
            _ = shutdown.changed() => return,
        }
    }
    let server = tokio::select! {
        s = TcpStream::connect(&upstream) => s,
        _ = shutdown.changed() => return,
    };
    let Ok(server) = server else {
        return reset(client);
    };
    let _ = server.set_nodelay(true);
    let (cr, cw) = client.into_split();
    let (sr, sw) = server.into_split();
    let up = pump(cr, sw, &link, shutdown.clone());
    let down = pump(sr, cw, &link, shutdown.clone());
    let ((cr, sw, e1), (sr, cw, e2)) = tokio::join!(up, down);
    if e1 == End::Reset || e2 == End::Reset {
        if let Ok(client) = cr.reunite(cw) {
            reset(client);
        }
        if let Ok(server) = sr.reunite(sw) {
            reset(server);
        }
    }
}

/// Forwards `from` to `to` under the link's mode until end of stream, a
/// reset, or the relay's shutdown.
async fn pump(
    mut from: OwnedReadHalf,
    mut to: OwnedWriteHalf,
    link: &Link,
    mut shutdown: watch::Receiver<()>,
) -> (OwnedReadHalf, OwnedWriteHalf, End) {
    let mut mode = link.mode.subscribe();
    let mut buf = vec![0_u8; 16 * 1024];
    let end = 'outer: loop {
        // Blackholed: read nothing until the mode changes.
        let m = *mode.borrow_and_update();
        if m == Fault::Reset {
            break End::Reset;
        }
        if !m.forwards() {
            tokio::select! {
                changed = mode.changed() => if changed.is_err() { break End::Shutdown },
                _ = shutdown.changed() => break End::Shutdown,
            }
            continue;
        }
        let n = tokio::select! {
            read = from.read(&mut buf) => match read {
                Ok(0) => {
                    let _ = to.shutdown().await;
                    break End::Eof;
                }
                Ok(n) => n,
                Err(_) => {
                    link.set(Fault::Reset);
                    break End::Reset;
                }
            },
            // `read` is cancel-safe: nothing read is lost.
            changed = mode.changed() => {
                if changed.is_err() { break End::Shutdown }
                continue;
            }
            _ = shutdown.changed() => break End::Shutdown,
        };
        // Apply the mode in force now to the chunk just read; a chunk read
        // just before a blackhole is held until the link forwards again.
        let mut allowed = n;
        loop {
            let m = *mode.borrow_and_update();
            match m {
                Fault::Reset => break 'outer End::Reset,
                Fault::Blackhole | Fault::Stall | Fault::Refuse => {
                    tokio::select! {
                        changed = mode.changed() => if changed.is_err() { break 'outer End::Shutdown },
                        _ = shutdown.changed() => break 'outer End::Shutdown,
                    }
                }
                Fault::Delay(d) => {
                    tokio::select! {
                        _ = tokio::time::sleep(d) => break,
                        _ = shutdown.changed() => break 'outer End::Shutdown,
                    }
                }
                Fault::CutAfter(_) => {
                    let before = link
                        .budget
                        .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |b| {
                            Some(b.saturating_sub(n as u64))
                        })
                        .unwrap_or(0);
                    allowed = n.min(before as usize);
                    break;
                }
                Fault::Pass => break,
            }
        }
        let written = tokio::select! {
            w = to.write_all(&buf[..allowed]) => w,
            _ = shutdown.changed() => break End::Shutdown,
        };
        if written.is_err() {
            link.set(Fault::Reset);
            break End::Reset;
        }
        if allowed < n
            || (matches!(*mode.borrow(), Fault::CutAfter(_))
                && link.budget.load(Ordering::SeqCst) == 0)
        {
            link.set(Fault::Reset);
            break End::Reset;
        }
    };
    (from, to, end)
}
