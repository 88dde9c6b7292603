//! Caps on event streams (SSE): in total on this instance (below the connection slots, so
//! streams always leave room for the API), per client address, and per subject (a link or
//! a wallet). A stream holds a [`Pass`] while it is open; dropping it frees the place.

use crate::error::ApiError;
use actix_web::http::StatusCode;
use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};

#[derive(Clone)]
pub struct StreamGate {
    inner: Arc<Mutex<Counts>>,
    limits: Limits,
}

#[derive(Clone, Copy)]
struct Limits {
    total: usize,
    per_address: usize,
    per_subject: usize,
}

#[derive(Default)]
struct Counts {
    total: usize,
    by_address: HashMap<IpAddr, usize>,
    by_subject: HashMap<String, usize>,
}

/// One open stream's place.
pub struct Pass {
    gate: StreamGate,
    address: Option<IpAddr>,
    subject: String,
}

fn take<K: std::hash::Hash + Eq>(map: &mut HashMap<K, usize>, key: &K) {
    if let Some(n) = map.get_mut(key) {
        *n -= 1;
        if *n == 0 {
            map.remove(key);
        }
    }
}

impl Drop for Pass {
    fn drop(&mut self) {
        let mut c = self.gate.lock();
        c.total -= 1;
        if let Some(a) = self.address {
            take(&mut c.by_address, &a);
        }
        take(&mut c.by_subject, &self.subject);
    }
}

/// A client waits this long before it tries a refused stream again.
const RETRY_SECS: u64 = 5;

impl StreamGate {
    pub fn new(config: &crate::config::Config) -> Self {
        Self {
            inner: Arc::default(),
            limits: Limits {
                total: config.stream_cap(),
                per_address: config.max_streams_per_address,
                per_subject: config.max_streams_per_subject,
            },
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Counts> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// A place for a stream of `subject` from `address`: 503 `streams_busy` when the
    /// instance is full, 429 `too_many_streams` when the address or the subject is.
    pub fn enter(&self, address: Option<IpAddr>, subject: String) -> Result<Pass, ApiError> {
        let mut c = self.lock();
        if c.total >= self.limits.total {
            return Err(ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "streams_busy",
                "This instance holds as many event streams as it allows; retry later.",
            )
            .retry_after(RETRY_SECS));
        }
        let by_address = address.map_or(0, |a| c.by_address.get(&a).copied().unwrap_or(0));
        let by_subject = c.by_subject.get(&subject).copied().unwrap_or(0);
        if by_address >= self.limits.per_address || by_subject >= self.limits.per_subject {
            return Err(ApiError::new(
                StatusCode::TOO_MANY_REQUESTS,
                "too_many_streams",
                "Too many event streams are open for this client or subject; close one.",
            )
            .retry_after(RETRY_SECS));
        }
        c.total += 1;
        if let Some(a) = address {
            *c.by_address.entry(a).or_insert(0) += 1;
        }
        *c.by_subject.entry(subject.clone()).or_insert(0) += 1;
        drop(c);
        Ok(Pass {
            gate: self.clone(),
            address,
            subject,
        })
    }
}
