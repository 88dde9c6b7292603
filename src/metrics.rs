//! Prometheus metrics of one instance (`GET /metrics`, operator token): HTTP requests by
//! route template and status with latency, money-request outcomes, approvals, PIN
//! lockouts, callback deliveries by outcome with latency, and, read at scrape time, the
//! callback queue, the database pool and the argon2 queue.

use prometheus::{
    Encoder, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, IntGauge, Opts, Registry,
    TextEncoder,
};
use std::collections::HashMap;

/// Latency buckets in seconds, from 1 ms to 30 s.
const BUCKETS: &[f64] = &[
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
];

pub struct Metrics {
    registry: Registry,
    http_requests: IntCounterVec,
    http_duration: HistogramVec,
    money_requests: IntCounterVec,
    approvals: IntCounter,
    pin_lockouts: IntCounter,
    deliveries: IntCounterVec,
    delivery_duration: HistogramVec,
    /// Read at scrape time (see `GAUGES`).
    gauges: HashMap<&'static str, IntGauge>,
}

/// The gauges read at scrape time: name and help.
const GAUGES: &[(&str, &str)] = &[
    (
        "db_pool_connections",
        "Database connections open in the pool",
    ),
    (
        "db_pool_idle_connections",
        "Open database connections not in use",
    ),
    (
        "db_pool_max_connections",
        "The pool's size (PINPAY_DB_POOL_SIZE)",
    ),
    ("argon2_running", "Password and PIN hashes running"),
    (
        "argon2_waiting",
        "Password and PIN hashes waiting for a slot",
    ),
    ("callback_queue_due", "Callback events due for delivery now"),
    (
        "callback_queue_retrying",
        "Callback events waiting for a later retry",
    ),
];

impl Metrics {
    pub fn new() -> Self {
        let registry = Registry::new_custom(Some("pinpay".into()), None).expect("registry");
        let counter = |name: &str, help: &str, labels: &[&str]| {
            let c = IntCounterVec::new(Opts::new(name, help), labels).expect("counter");
            registry.register(Box::new(c.clone())).expect("register");
            c
        };
        let histogram = |name: &str, help: &str, labels: &[&str]| {
            let h = HistogramVec::new(
                HistogramOpts::new(name, help).buckets(BUCKETS.to_vec()),
                labels,
            )
            .expect("histogram");
            registry.register(Box::new(h.clone())).expect("register");
            h
        };
        let single = |name: &str, help: &str| {
            let c = IntCounter::new(name, help).expect("counter");
            registry.register(Box::new(c.clone())).expect("register");
            c
        };
        let gauges = GAUGES
            .iter()
            .map(|(name, help)| {
                let g = IntGauge::new(*name, *help).expect("gauge");
                registry.register(Box::new(g.clone())).expect("register");
                (*name, g)
            })
            .collect();
        Self {
            http_requests: counter(
                "http_requests_total",
                "HTTP requests by route template, method and status",
                &["route", "method", "status"],
            ),
            http_duration: histogram(
                "http_request_duration_seconds",
                "HTTP request latency by route template and method",
                &["route", "method"],
            ),
            money_requests: counter(
                "money_requests_total",
                "Money requests created and settled, by outcome",
                &["outcome"],
            ),
            approvals: single("approvals_total", "Approvals that moved money"),
            pin_lockouts: single(
                "pin_lockouts_total",
                "Wallets blocked after too many wrong PINs",
            ),
            deliveries: counter(
                "callback_deliveries_total",
                "Callback attempts by outcome (delivered, or the error class)",
                &["outcome"],
            ),
            delivery_duration: histogram(
                "callback_delivery_duration_seconds",
                "Callback attempt latency by outcome",
                &["outcome"],
            ),
            gauges,
            registry,
        }
    }

    pub fn http(&self, route: &str, method: &str, status: u16, seconds: f64) {
        self.http_requests
            .with_label_values(&[route, method, &status.to_string()])
            .inc();
        self.http_duration
            .with_label_values(&[route, method])
            .observe(seconds);
    }

    /// `created`, `approved`, `declined`, `cancelled` or `expired`.
    pub fn money_request(&self, outcome: &str, n: u64) {
        self.money_requests.with_label_values(&[outcome]).inc_by(n);
        if outcome == "approved" {
            self.approvals.inc_by(n);
        }
    }

    pub fn pin_lockout(&self) {
        self.pin_lockouts.inc();
    }

    pub fn delivery(&self, outcome: &str, seconds: f64) {
        self.deliveries.with_label_values(&[outcome]).inc();
        self.delivery_duration
            .with_label_values(&[outcome])
            .observe(seconds);
    }

    /// The text exposition, with the gauges the caller read now (`name`, value).
    pub fn render(&self, readings: &[(&str, i64)]) -> String {
        for (name, value) in readings {
            if let Some(g) = self.gauges.get(*name) {
                g.set(*value)
            }
        }
        let mut out = Vec::new();
        if let Err(e) = TextEncoder::new().encode(&self.registry.gather(), &mut out) {
            tracing::error!(error = %e, "metrics: encoding failed");
        }
        String::from_utf8(out).unwrap_or_default()
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}
