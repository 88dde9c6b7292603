//! Who holds the server's connection slots: each client address may hold a bounded number
//! of connections (beyond it the next request is answered 429 and the connection closed),
//! and while more than half the slots are taken a connection that has not sent its request
//! head, or its body, within a short deadline is cut off. One client opening connections
//! (slow heads, slow bodies, event streams) can so never take the slots of everyone else.

use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::{Extensions, ServiceRequest, ServiceResponse};
use actix_web::http::{header, StatusCode};
use actix_web::middleware::Next;
use actix_web::HttpResponse;
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
        if held.over_cap || self.under_pressure() {
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

/// Middleware: marks the connection's head as arrived, and answers a connection over its
/// address's cap with 429 and `Connection: close`.
pub async fn admit(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<EitherBody<impl MessageBody>>, actix_web::Error> {
    let over_cap = req.conn_data::<Held>().is_some_and(|held| {
        held.started.store(true, Ordering::Relaxed);
        held.over_cap
    });
    if over_cap {
        let problem = crate::error::ApiError::new(
            StatusCode::TOO_MANY_REQUESTS,
            "too_many_connections",
            "This client address holds too many open connections; close some and retry.",
        )
        .retry_after(1);
        let mut res: HttpResponse = actix_web::ResponseError::error_response(&problem);
        res.head_mut()
            .set_connection_type(actix_web::http::ConnectionType::Close);
        res.headers_mut().insert(
            header::CONNECTION,
            header::HeaderValue::from_static("close"),
        );
        return Ok(req.into_response(res).map_into_right_body());
    }
    Ok(next.call(req).await?.map_into_left_body())
}
