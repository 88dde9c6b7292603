//! Who holds the server's connection slots: each client address may hold a bounded number
//! of connections (beyond it a new connection is closed as soon as it is accepted, so it
//! never holds a slot), and while more than half the slots are taken a connection that
//! has not sent its request head, or its body, within a short deadline is cut off. One client opening connections
//! (slow heads, slow bodies, event streams) can so never take the slots of everyone else.

use actix_web::body::MessageBody;
use actix_web::dev::{Extensions, ServiceRequest, ServiceResponse};
use actix_web::middleware::Next;
use std::any::Any;
use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// The connection slots of one server (all its HTTP workers).
#[derive(Clone)]
pub struct Gate {
    inner: Arc<Inner>,
}

struct Inner {
    open: AtomicUsize,
    per_address: Mutex<HashMap<IpAddr, usize>>,
    /// Slots in all, and what one address may hold (0: no cap).
    slots: usize,
    address_cap: usize,
    pressure_deadline: Duration,
}

/// One open connection, kept in the connection's extensions: it gives its slot back when
/// the connection closes.
pub struct Held {
    inner: Arc<Inner>,
    ip: IpAddr,
    over_cap: bool,
    /// Set when the connection's first request head has arrived.
    started: Arc<AtomicBool>,
}

impl Drop for Held {
    fn drop(&mut self) {
        self.inner.open.fetch_sub(1, Ordering::Relaxed);
        let mut map = self
            .inner
            .per_address
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        if let Some(n) = map.get_mut(&self.ip) {
            *n -= 1;
            if *n == 0 {
                map.remove(&self.ip);
            }
        }
    }
}

impl Gate {
    pub fn new(config: &crate::config::Config) -> Self {
        Self {
            inner: Arc::new(Inner {
                open: AtomicUsize::new(0),
                per_address: Mutex::new(HashMap::new()),
                slots: config.max_connections * config.workers.max(1),
                address_cap: config.max_connections_per_address,
                pressure_deadline: Duration::from_millis(config.pressure_timeout_ms),
            }),
        }
    }

    /// Whether more than half the slots are taken.
    pub fn under_pressure(&self) -> bool {
        self.inner.open.load(Ordering::Relaxed) * 2 > self.inner.slots
    }

    /// The deadline for a request's body: `normal`, or the short one under pressure.
    pub fn body_deadline(&self, normal: Duration) -> Duration {
        if self.under_pressure() {
            normal.min(self.inner.pressure_deadline)
        } else {
            normal
        }
    }

    fn hold(&self, ip: IpAddr) -> Held {
        self.inner.open.fetch_add(1, Ordering::Relaxed);
        let mut map = self
            .inner
            .per_address
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        let n = map.entry(ip).or_insert(0);
        *n += 1;
        Held {
            inner: self.inner.clone(),
            ip,
            over_cap: self.inner.address_cap > 0 && *n > self.inner.address_cap,
            started: Arc::new(AtomicBool::new(false)),
        }
    }

    /// `HttpServer::on_connect`: counts the connection against its address and, under
    /// pressure or over the address's cap, cuts it off unless its head arrives in time.
    pub fn on_connect(&self, connection: &dyn Any, extensions: &mut Extensions) {
        let Some(socket) = connection.downcast_ref::<actix_web::rt::net::TcpStream>() else {
            return;
        };
        let Ok(peer) = socket.peer_addr() else {
            return;
        };
        let held = self.hold(peer.ip());
        if held.over_cap {
            // Closed at once: the client sees the connection end (reset) before any answer.
            let _ = socket2::SockRef::from(socket).shutdown(std::net::Shutdown::Both);
            extensions.insert(held);
            return;
        }
        if self.under_pressure() {
            // A duplicate of the socket's descriptor: shutting it down ends the
            // connection, and it can never name another connection's socket.
            if let Ok(socket) = socket2::SockRef::from(socket).try_clone() {
                let (started, deadline) = (held.started.clone(), self.inner.pressure_deadline);
                actix_web::rt::spawn(async move {
                    tokio::time::sleep(deadline).await;
                    if !started.load(Ordering::Relaxed) {
                        let _ = socket.shutdown(std::net::Shutdown::Both);
                    }
                });
            }
        }
        extensions.insert(held);
    }
}

/// Middleware: marks the connection's head as arrived (a connection under the pressure
/// deadline is then left alone).
pub async fn admit(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    if let Some(held) = req.conn_data::<Held>() {
        held.started.store(true, Ordering::Relaxed);
    }
    next.call(req).await
}
