//! The database circuit breaker: when a new connection cannot be established the circuit
//! opens, every request answers 503 at once instead of waiting for the pool, and one
//! background probe reconnects every [`PROBE_EVERY`] until the database is back.

use super::Manager;
use diesel::r2d2::{self, HandleError, ManageConnection};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

pub const PROBE_EVERY: Duration = Duration::from_millis(250);

pub struct Breaker {
    open: AtomicBool,
    probing: AtomicBool,
    manager: Manager,
}

impl Breaker {
    pub fn new(manager: Manager) -> Arc<Self> {
        Arc::new(Self {
            open: AtomicBool::new(false),
            probing: AtomicBool::new(false),
            manager,
        })
    }

    pub fn is_open(&self) -> bool {
        self.open.load(Ordering::Acquire)
    }

    /// Opens the circuit and starts the probe (one per process).
    pub fn trip(self: &Arc<Self>, cause: &str) {
        if !self.open.swap(true, Ordering::AcqRel) {
            tracing::error!(%cause, "database unreachable: answering 503 until it is back");
        }
        if self.probing.swap(true, Ordering::AcqRel) {
            return;
        }
        let breaker = self.clone();
        std::thread::spawn(move || loop {
            std::thread::sleep(PROBE_EVERY);
            if breaker.manager.connect().is_ok() {
                breaker.open.store(false, Ordering::Release);
                breaker.probing.store(false, Ordering::Release);
                tracing::info!("database reachable again");
                return;
            }
        });
    }
}

/// The pool's error handler: a failed connect trips the breaker; a pooled connection that
/// fails its check is only dropped (the pool then connects anew, which tells).
#[derive(Clone)]
pub struct TripOnConnectError(pub Arc<Breaker>);

impl std::fmt::Debug for TripOnConnectError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TripOnConnectError")
    }
}

impl HandleError<r2d2::Error> for TripOnConnectError {
    fn handle_error(&self, error: r2d2::Error) {
        match error {
            r2d2::Error::ConnectionError(e) => self.0.trip(&e.to_string()),
            other => crate::error::log_bounded("pooled connection failed its check", &other),
        }
    }
}
